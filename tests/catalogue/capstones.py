"""Answers to the two capstones: whole programs, as students write them."""

from __future__ import annotations

from tests.catalogue.answers import Answer, right, wrong

MISSING = "# (no file)"
"""An answer that writes no file at all."""

_WS_HEAD = '''
import asyncio
import sys
from pathlib import Path

from aiohttp import WSCloseCode, WSMsgType, web

PUBLIC = Path(__file__).resolve().parent.parent / "public"
'''

_WS_BROADCAST = '''
CLIENTS = web.AppKey("clients", set[web.WebSocketResponse])
EXCEPT_SELF = web.AppKey("except_self", bool)


async def index(request):
    return web.FileResponse(PUBLIC / "index.html")


async def send_or_drop(clients, client, text):
    try:
        async with asyncio.timeout(1):
            await client.send_str(text)
    except TimeoutError:
        clients.discard(client)
        return False
    except ConnectionResetError:
        return False
    return True


async def broadcast(clients, text, exclude=None):
    targets = [client for client in clients if client is not exclude]
    return sum(await asyncio.gather(*(send_or_drop(clients, client, text) for client in targets)))
'''

_WS_HANDLER = '''
async def chat(request):
    ws = web.WebSocketResponse(heartbeat=15, max_msg_size=64 * 1024)
    if not ws.can_prepare(request):
        return await index(request)
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                print(f"ws got: {msg.data}")
                sent = await broadcast(clients, msg.data, exclude=ws if request.app[EXCEPT_SELF] else None)
                print(f"Broadcasted data to {sent} ({len(clients)}) clients.")
    finally:
        clients.discard(ws)
    return ws
'''

_WS_MAIN = '''

async def goodbye(app):
    for ws in set(app[CLIENTS]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"Server shutdown")


def make_app(except_self=False):
    app = web.Application()
    app[CLIENTS], app[EXCEPT_SELF] = set(), except_self
    app.router.add_get("/", chat)
    app.router.add_static("/", PUBLIC)
    app.on_shutdown.append(goodbye)
    return app


if __name__ == "__main__":
    arguments = [argument for argument in sys.argv[1:] if argument != "--except-self"]
    port = int(arguments[0]) if arguments else 3000
    web.run_app(make_app(except_self="--except-self" in sys.argv), host="127.0.0.1", port=port)
'''

WEBSOCKET_SERVER = [
    right("the notebook's solution", _WS_HEAD + _WS_BROADCAST + _WS_HANDLER + _WS_MAIN),
    right("with aiohttp's access log on stderr (logging at INFO)", _WS_HEAD + "import logging\n\nlogging.basicConfig(level=logging.INFO)\n" + _WS_BROADCAST + _WS_HANDLER + _WS_MAIN),
    right("argparse, and the websocket at / beside a static index route", '''
import argparse
import asyncio
from pathlib import Path

from aiohttp import WSMsgType, web

PUBLIC = Path(__file__).resolve().parent.parent / "public"
clients = set()


async def send(client, text):
    try:
        async with asyncio.timeout(1):
            await client.send_str(text)
        return 1
    except (TimeoutError, ConnectionResetError):
        clients.discard(client)
        return 0


async def root(request):
    ws = web.WebSocketResponse(max_msg_size=65536, heartbeat=20)
    if not ws.can_prepare(request).ok:
        return web.FileResponse(PUBLIC / "index.html")
    await ws.prepare(request)
    clients.add(ws)
    try:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                print("ws got: " + msg.data)
                targets = [c for c in clients if not (ARGS.except_self and c is ws)]
                sent = sum(await asyncio.gather(*(send(c, msg.data) for c in targets)))
                print(f"Broadcasted data to {sent} ({len(clients)}) clients.")
    finally:
        clients.discard(ws)
    return ws


async def close_all(app):
    await asyncio.gather(*(ws.close(code=1001) for ws in list(clients)))


parser = argparse.ArgumentParser()
parser.add_argument("port", type=int, nargs="?", default=3000)
parser.add_argument("--except-self", action="store_true")
ARGS = parser.parse_args()
app = web.Application()
app.router.add_get("/", root)
app.router.add_static("/", PUBLIC)
app.on_shutdown.append(close_all)
web.run_app(app, host="127.0.0.1", port=ARGS.port)
'''),
    wrong("imports the workbook's helpers", "imports helpers (line", _WS_HEAD + "from helpers.stages.broadcast import broadcast\n" + _WS_MAIN),
    wrong("no file written", "there is no websocket_server.py here yet", MISSING),
    wrong("the student edition's stub", "stopped before it listened (exit status 1): NotImplementedError", _WS_HEAD + '''
# YOUR CODE HERE
raise NotImplementedError()
''' + _WS_MAIN),
    wrong("always port 3000", "did not listen on port", _WS_HEAD + _WS_BROADCAST + _WS_HANDLER + _WS_MAIN.replace(
        "port = int(arguments[0]) if arguments else 3000", "port = 3000 + 0 * len(arguments) + 60000 - 60000 + 1")),
    wrong("aiohttp's default size: a 64 KiB message is taken", "mallory expected: the connection closed with 1009",
          _WS_HEAD + _WS_BROADCAST + _WS_HANDLER.replace("heartbeat=15, max_msg_size=64 * 1024", "heartbeat=15") + _WS_MAIN),
    wrong("the tutorial's loop, one client after the other", "carol got:", _WS_HEAD + _WS_BROADCAST.replace(
        "    return sum(await asyncio.gather(*(send_or_drop(clients, client, text) for client in targets)))",
        "    for client in targets:\n        await client.send_str(text)\n    return len(targets)") + _WS_HANDLER + _WS_MAIN),
    wrong("--except-self ignored", "alice expected: nothing", _WS_HEAD + _WS_BROADCAST + _WS_HANDLER + _WS_MAIN.replace(
        'make_app(except_self="--except-self" in sys.argv)', "make_app()")),
    wrong("no pages: websockets only", "GET /chat.html answered 404", _WS_HEAD + _WS_BROADCAST + _WS_HANDLER + _WS_MAIN.replace(
        '    app.router.add_static("/", PUBLIC)\n', "")),
    wrong("prints nothing", "what websocket_server.py printed expected: 'ws got: hi'", _WS_HEAD + _WS_BROADCAST + _WS_HANDLER.replace(
        '                print(f"ws got: {msg.data}")\n', "").replace(
        '                print(f"Broadcasted data to {sent} ({len(clients)}) clients.")\n', "") + _WS_MAIN),
    wrong("not Python", "is not valid Python", "def make_app(:\n    pass\n"),
    wrong("no heartbeat", "has no heartbeat", _WS_HEAD + _WS_BROADCAST + _WS_HANDLER.replace("heartbeat=15, ", "") + _WS_MAIN),
    wrong("no goodbye: Ctrl-C leaves the clients waiting", "the server was stopped with Ctrl-C",
          _WS_HEAD + _WS_BROADCAST + _WS_HANDLER + _WS_MAIN.replace("    app.on_shutdown.append(goodbye)\n", "")),
]

_SIO_HEAD = '''
import sys
from pathlib import Path

import socketio
from aiohttp import web

PUBLIC = Path(__file__).resolve().parent.parent / "public"
sio = socketio.AsyncServer(async_mode="aiohttp")
nicks = {}
'''

_SIO_CONNECT = '''

@sio.event
async def connect(sid, environ, auth):
    nick = auth.get("nick") if isinstance(auth, dict) else None
    nicks[sid] = nick.strip() if isinstance(nick, str) and nick.strip() else "guest"
    print("a user connected")
    await sio.emit("user connected", nicks[sid], skip_sid=sid)
'''

_SIO_DISCONNECT = '''

@sio.event
async def disconnect(sid, reason):
    print("user disconnected")
    await sio.emit("user disconnected", nicks.pop(sid, "guest"))
'''

_SIO_CHAT = '''

@sio.on("chat message")
async def chat_message(sid, msg, client_offset=None):
    print(f"message: {msg}")
    await sio.emit("chat message", msg)
'''

_SIO_MAIN = '''

async def index(request):
    return web.FileResponse(PUBLIC / "index.html")


app = web.Application()
sio.attach(app)
app.router.add_get("/", index)
app.router.add_static("/", PUBLIC)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
'''

SOCKETIO_SERVER = [
    right("python-socketio's documentation, module-level sio", _SIO_HEAD + _SIO_CONNECT + _SIO_DISCONNECT + _SIO_CHAT + _SIO_MAIN),
    right("a nickname in the client's session, sio.on(...) calls", '''
import sys
from pathlib import Path

import socketio
from aiohttp import web

PUBLIC = Path(__file__).resolve().parent.parent / "public"
sio = socketio.AsyncServer(async_mode="aiohttp")


async def connect(sid, environ, auth=None):
    nick = (auth or {}).get("nick") or "guest"
    await sio.save_session(sid, {"nick": nick})
    print("a user connected")
    await sio.emit("user connected", nick, skip_sid=sid)


async def disconnect(sid, reason):
    session = await sio.get_session(sid)
    print("user disconnected")
    await sio.emit("user disconnected", session["nick"], skip_sid=sid)


async def chat_message(sid, msg, *_):
    print("message: " + str(msg))
    await sio.emit("chat message", msg)


sio.on("connect", connect)
sio.on("disconnect", disconnect)
sio.on("chat message", chat_message)
app = web.Application()
sio.attach(app)
app.add_routes([web.static("/", PUBLIC)])
app.router.add_get("/", lambda request: web.FileResponse(PUBLIC / "index.html"))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]))
'''),
    wrong("imports the workbook's helpers", "imports helpers (line", "from helpers import start_server\n" + _SIO_HEAD + _SIO_MAIN),
    wrong("the arrival told to the newcomer alone (to=, not skip_sid=)", "alice expected: 'bob'",
          _SIO_HEAD + _SIO_CONNECT.replace(", skip_sid=sid", ", to=sid") + _SIO_DISCONNECT + _SIO_CHAT + _SIO_MAIN),
    wrong("no word when a client leaves", "expected: 'user disconnected'", _SIO_HEAD + _SIO_CONNECT + _SIO_CHAT + _SIO_MAIN),
    wrong("chat messages to the others only", "alice expected: 'hi'",
          _SIO_HEAD + _SIO_CONNECT + _SIO_DISCONNECT + _SIO_CHAT.replace('emit("chat message", msg)', 'emit("chat message", msg, skip_sid=sid)') + _SIO_MAIN),
    wrong("chat message takes one argument: the page sends two", "no 'chat message' event",
          _SIO_HEAD + _SIO_CONNECT + _SIO_DISCONNECT + _SIO_CHAT.replace(", client_offset=None", "") + _SIO_MAIN),
    wrong("no nickname: the sid", "alice expected: 'bob'", _SIO_HEAD + _SIO_CONNECT.replace(
        'await sio.emit("user connected", nicks[sid], skip_sid=sid)', 'await sio.emit("user connected", sid, skip_sid=sid)') + _SIO_DISCONNECT + _SIO_CHAT + _SIO_MAIN),
    wrong("no page", "GET /socketio.html answered 404", _SIO_HEAD + _SIO_CONNECT + _SIO_DISCONNECT + _SIO_CHAT + _SIO_MAIN.replace(
        'app.router.add_static("/", PUBLIC)\n', "")),
    wrong("crashes when a client comes without a nickname", "socketio_server.py raised: TypeError", _SIO_HEAD + _SIO_CONNECT.replace(
        'nick = auth.get("nick") if isinstance(auth, dict) else None\n    nicks[sid] = nick.strip() if isinstance(nick, str) and nick.strip() else "guest"',
        'nicks[sid] = auth["nick"]') + _SIO_DISCONNECT + _SIO_CHAT + _SIO_MAIN),
]

EXERCISES: dict[str, list[Answer]] = {"websocket": WEBSOCKET_SERVER, "socketio": SOCKETIO_SERVER}
