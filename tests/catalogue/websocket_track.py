"""Answers to the exercises of notebooks 03 to 06, as students write them: right ones, wrong ones.

Each answer is the source of the cell a student runs, executed in the namespace the notebook
has at that point (its stage module's names), then checked by the exercise's checker.
"""

from __future__ import annotations

from tests.catalogue.answers import Answer, right, wrong

# --- 03.1: ws got: hi (length 2) ------------------------------------------------------------

LENGTH_LOG = [
    right("the notebook's solution", """
async def receive_with_length(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            print(f"ws got: {msg.data} (length {len(msg.data)})")
    return ws
"""),
    right("aiohttp's receive() loop, and logging.warning instead of print", """
import logging

async def receive_with_length(request):
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_MESSAGE)
    if not ws.can_prepare(request):
        return await index(request)
    await ws.prepare(request)
    while True:
        msg = await ws.receive()
        if msg.type != WSMsgType.TEXT:
            break
        text = msg.data
        logging.warning("ws got: %s (length %d)", text, len(text))
    return ws
"""),
    right("msg.json-free, str.format", """
async def receive_with_length(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            print("ws got: {} (length {})".format(msg.data, len(msg.data)))
    return ws
"""),
    wrong("the length in bytes, not characters", "the server log got:      'ws got: héllo wörld (length 13)'", """
async def receive_with_length(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            print(f"ws got: {msg.data} (length {len(msg.data.encode())})")
    return ws
"""),
    wrong("the length of the WSMessage (a tuple of 3)", "(length 3)", """
async def receive_with_length(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            print(f"ws got: {msg.data} (length {len(msg)})")
    return ws
"""),
    wrong("only the first message", "alice sent '👋'", """
async def receive_with_length(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    msg = await ws.receive()
    print(f"ws got: {msg.data} (length {len(msg.data)})")
    await ws.receive()
    await ws.receive()
    return ws
"""),
    wrong("prints the message object", "ws got: WSMessage", """
async def receive_with_length(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        print(f"ws got: {msg} (length {len(msg.data)})")
    return ws
"""),
    wrong("forgets prepare: no websocket at all", "alice could not connect", """
async def receive_with_length(request):
    ws = web.WebSocketResponse()
    async for msg in ws:
        print(f"ws got: {msg.data} (length {len(msg.data)})")
    return ws
"""),
    wrong("the words of the tutorial, not the exercise's", "expected: 'ws got: hi (length 2)'", """
async def receive_with_length(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            print(f"ws got: {msg.data}, length {len(msg.data)}")
    return ws
"""),
    wrong("a plain def", "must be an aiohttp handler", """
def receive_with_length(request):
    return web.WebSocketResponse()
"""),
    wrong("logs right, then raises on the way out", "the server raised NameError", """
async def receive_with_length(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            print(f"ws got: {msg.data} (length {len(msg.data)})")
    print(f"bye {nmae}")
    return ws
"""),
]

# --- 03.2: Client sent N messages. -----------------------------------------------------------

MESSAGE_COUNT = [
    right("the notebook's solution", """
async def receive_and_count(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    count = 0
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            print(f"ws got: {msg.data}")
            count += 1
    print(f"Client sent {count} messages.")
    return ws
"""),
    right("a list of what it got, and try/finally", """
async def receive_and_count(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    got = []
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                got.append(msg.data)
                print("ws got: " + msg.data)
    finally:
        print(f"Client sent {len(got)} messages.")
    return ws
"""),
    wrong("one count for every client (a global)", "alice left, after sending 3", """
count = 0

async def receive_and_count(request):
    global count
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            print(f"ws got: {msg.data}")
            count += 1
    print(f"Client sent {count} messages.")
    return ws
"""),
    wrong("counts in the app's state, for everyone", "alice left, after sending 3", """
async def receive_and_count(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    request.app.setdefault("count", [0])
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            print(f"ws got: {msg.data}")
            request.app["count"][0] += 1
    print(f"Client sent {request.app['count'][0]} messages.")
    return ws
"""),
    wrong("prints the count inside the loop", "alice left, after sending 3", """
async def receive_and_count(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    count = 0
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            count += 1
            print(f"Client sent {count} messages.")
            print(f"ws got: {msg.data}")
    return ws
"""),
    wrong("counts from 1", "'Client sent 3 messages.'", """
async def receive_and_count(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    count = 1
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            print(f"ws got: {msg.data}")
            count += 1
    print(f"Client sent {count} messages.")
    return ws
"""),
    wrong("never logs the messages", "expected: 'ws got: one'", """
async def receive_and_count(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    count = 0
    async for msg in ws:
        count += 1
    print(f"Client sent {count} messages.")
    return ws
"""),
    wrong("counts every frame, the close too (receive() until CLOSED)", "Client sent", """
async def receive_and_count(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    count = 0
    while not ws.closed:
        msg = await ws.receive()
        count += 1
        if msg.type == WSMsgType.TEXT:
            print(f"ws got: {msg.data}")
    print(f"Client sent {count} messages.")
    return ws
"""),
]

# --- 04.1: upper case, to the sender ----------------------------------------------------------

UPPER_ECHO = [
    right("the notebook's solution", """
async def upper_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(msg.data.upper())
    return ws
"""),
    right("echo's whole handler, with the page and the binary branch", """
async def upper_echo(request):
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_MESSAGE)
    if not ws.can_prepare(request):
        return await index(request)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            print(f"ws got: {msg.data}")
            shout = msg.data.upper()
            await ws.send_str(shout)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_str(BINARY_REFUSED)
    return ws
"""),
    wrong("echoes as it came", "alice expected: 'HI THERE'", """
async def upper_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_str(msg.data)
    return ws
"""),
    wrong("capitalize, not upper", "alice got:      'Hi there'", """
async def upper_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_str(msg.data.capitalize())
    return ws
"""),
    wrong("a character at a time with ord/chr (ASCII only)", "'GRÜSSE'", """
async def upper_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        text = "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in msg.data)
        await ws.send_str(text)
    return ws
"""),
    wrong("to everyone: a broadcast, not an echo", "bob expected: nothing", """
sockets = set()

async def upper_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    sockets.add(ws)
    try:
        async for msg in ws:
            for client in list(sockets):
                await client.send_str(msg.data.upper())
    finally:
        sockets.discard(ws)
    return ws
"""),
    wrong("only the first answer in upper case", "alice sent 'Grüße'", """
async def upper_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    first = True
    async for msg in ws:
        await ws.send_str(msg.data.upper() if first else msg.data)
        first = False
    return ws
"""),
    wrong("upper without its parentheses", "alice got:      '<built-in method upper", """
async def upper_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(str(msg.data.upper))
    return ws
"""),
]

# --- 04.2: numbered, per client -----------------------------------------------------------------

NUMBERED_ECHO = [
    right("the notebook's solution", """
async def numbered_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    number = 0
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            number += 1
            await ws.send_str(f"{number}: {msg.data}")
    return ws
"""),
    right("enumerate from 1", """
async def numbered_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for number, msg in aiter_enumerate(ws):
        await ws.send_str(str(number) + ": " + msg.data)
    return ws


async def aiter_enumerate(messages, start=1):
    number = start
    async for msg in messages:
        yield number, msg
        number += 1
"""),
    wrong("one count for every client", "bob expected: '1: ho'", """
number = 0

async def numbered_echo(request):
    global number
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        number += 1
        await ws.send_str(f"{number}: {msg.data}")
    return ws
"""),
    wrong("from 0", "alice expected: '1: hi'", """
async def numbered_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    number = 0
    async for msg in ws:
        await ws.send_str(f"{number}: {msg.data}")
        number += 1
    return ws
"""),
    wrong("counter reset at each message", "alice expected: '2: there'", """
async def numbered_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        number = 0
        number += 1
        await ws.send_str(f"{number}: {msg.data}")
    return ws
"""),
    wrong("no colon", "alice got:      '1 hi'", """
async def numbered_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    number = 0
    async for msg in ws:
        number += 1
        await ws.send_str(f"{number} {msg.data}")
    return ws
"""),
    wrong("the message object, not its text", "alice got:      \"1: WSMessage", """
async def numbered_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    number = 0
    async for msg in ws:
        number += 1
        await ws.send_str(f"{number}: {msg}")
    return ws
"""),
]

# --- 05.1: clients online, held back by no one ------------------------------------------------

ONLINE_COUNT = [
    right("the notebook's solution", """
async def counting_chat(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    try:
        await broadcast(clients, f"clients online: {len(clients)}")
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await broadcast(clients, msg.data)
    finally:
        clients.discard(ws)
        await broadcast(clients, f"clients online: {len(clients)}")
    return ws
"""),
    right("broadcast_chat's shape, with a helper to tell the count", """
async def tell_count(clients):
    await broadcast(clients, "clients online: " + str(len(clients)))


async def counting_chat(request):
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_MESSAGE)
    if not ws.can_prepare(request):
        return await index(request)
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    await tell_count(clients)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                print(f"ws got: {msg.data}")
                await broadcast(clients, msg.data, exclude=None)
    finally:
        clients.discard(ws)
    await tell_count(clients)
    return ws
"""),
    wrong("the one-by-one await loop that notebook 5 measured", "dave connected, then read nothing", """
async def counting_chat(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    try:
        for client in list(clients):
            await client.send_str(f"clients online: {len(clients)}")
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                for client in list(clients):
                    await client.send_str(msg.data)
    finally:
        clients.discard(ws)
        for client in list(clients):
            await client.send_str(f"clients online: {len(clients)}")
    return ws
"""),
    wrong("gather, but no timeout", "carol got:", """
async def counting_chat(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)

    async def everyone(text):
        await asyncio.gather(*(client.send_str(text) for client in list(clients)))

    try:
        await everyone(f"clients online: {len(clients)}")
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await everyone(msg.data)
    finally:
        clients.discard(ws)
        await everyone(f"clients online: {len(clients)}")
    return ws
"""),
    wrong("the count never goes down", "alice expected: 'clients online: 2'", """
async def counting_chat(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    await broadcast(clients, f"clients online: {len(clients)}")
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await broadcast(clients, msg.data)
    await broadcast(clients, f"clients online: {len(clients)}", exclude=ws)
    clients.discard(ws)
    return ws
"""),
    wrong("the newcomer is not told", "alice expected: 'clients online: 1'", """
async def counting_chat(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    await broadcast(clients, f"clients online: {len(clients) + 1}")
    clients.add(ws)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await broadcast(clients, msg.data)
    finally:
        clients.discard(ws)
        await broadcast(clients, f"clients online: {len(clients)}")
    return ws
"""),
    wrong("messages to all but the sender (the earlier server's except_self)", "alice expected: 'hi'", """
async def counting_chat(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    try:
        await broadcast(clients, f"clients online: {len(clients)}")
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await broadcast(clients, msg.data, exclude=ws)
    finally:
        clients.discard(ws)
        await broadcast(clients, f"clients online: {len(clients)}")
    return ws
"""),
    wrong("never leaves the set", "alice got:      'clients online: 4'", """
async def counting_chat(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    await broadcast(clients, f"clients online: {len(clients)}")
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await broadcast(clients, msg.data)
    await broadcast(clients, f"clients online: {len([c for c in clients if not c.closed])}")
    return ws
"""),
]

# --- 05.2: names --------------------------------------------------------------------------------

NAMED_CHAT = [
    right("the notebook's solution", """
async def named_chat(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    name = None
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            if name is None:
                name = msg.data
                await broadcast(clients, f"* {name} joined")
            else:
                await broadcast(clients, f"{name}: {msg.data}")
    finally:
        clients.discard(ws)
        if name is not None:
            await broadcast(clients, f"* {name} left")
    return ws
"""),
    right("a dict of names, cleaned up on the way out", """
names = {}

async def named_chat(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and ws in names:
                await broadcast(clients, f"{names[ws]}: {msg.data}")
            elif msg.type == WSMsgType.TEXT:
                names[ws] = msg.data
                await broadcast(clients, f"* {msg.data} joined")
    finally:
        clients.discard(ws)
        name = names.pop(ws, None)
        if name:
            await broadcast(clients, f"* {name} left")
    return ws
"""),
    wrong("relays only each client's first chat line", "alice sent 'how are you?'", """
async def named_chat(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    name = None
    said = False
    try:
        async for msg in ws:
            if name is None:
                name = msg.data
                await broadcast(clients, f"* {name} joined")
            elif not said:
                said = True
                await broadcast(clients, f"{name}: {msg.data}")
    finally:
        clients.discard(ws)
        if name is not None:
            await broadcast(clients, f"* {name} left")
    return ws
"""),
    wrong("a names dict never cleaned up", "still keeps", """
names = {}

async def named_chat(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    try:
        async for msg in ws:
            if ws not in names:
                names[ws] = msg.data
                await broadcast(clients, f"* {names[ws]} joined")
            else:
                await broadcast(clients, f"{names[ws]}: {msg.data}")
    finally:
        clients.discard(ws)
        if ws in names:
            await broadcast(clients, f"* {names[ws]} left")
    return ws
"""),
    wrong("pops the name of a client that never gave one", "the server raised KeyError", """
names = {}

async def named_chat(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    try:
        async for msg in ws:
            if ws not in names:
                names[ws] = msg.data
                await broadcast(clients, f"* {names[ws]} joined")
            else:
                await broadcast(clients, f"{names[ws]}: {msg.data}")
    finally:
        clients.discard(ws)
        await broadcast(clients, f"* {names.pop(ws)} left")
    return ws
"""),
    wrong("one name for everyone (a global)", "bob", """
name = None

async def named_chat(request):
    global name
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    try:
        async for msg in ws:
            if name is None:
                name = msg.data
                await broadcast(clients, f"* {name} joined")
            else:
                await broadcast(clients, f"{name}: {msg.data}")
    finally:
        clients.discard(ws)
    return ws
"""),
    wrong("the join only to the newcomer", "alice expected: '* bob joined'", """
async def named_chat(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    name = None
    try:
        async for msg in ws:
            if name is None:
                name = msg.data
                await ws.send_str(f"* {name} joined")
            else:
                await broadcast(clients, f"{name}: {msg.data}")
    finally:
        clients.discard(ws)
        if name is not None:
            await broadcast(clients, f"* {name} left")
    return ws
"""),
    wrong("no word when a client leaves", "alice expected: '* bob left'", """
async def named_chat(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    name = None
    try:
        async for msg in ws:
            if name is None:
                name = msg.data
                await broadcast(clients, f"* {name} joined")
            else:
                await broadcast(clients, f"{name}: {msg.data}")
    finally:
        clients.discard(ws)
    return ws
"""),
]

# --- 06.1: /me ------------------------------------------------------------------------------------

_ME_START = '''
async def on_chat_with_me(app, ws, message):
    if ws not in app[NICKS]:
        raise ProtocolError('choose a nickname first: {"type": "nick", "nick": "..."}')
    nick, text = app[NICKS][ws], message["text"]
'''

ME_ACTION = [
    right("the notebook's solution", _ME_START + """
    if text.startswith("/me "):
        await tell_everyone(app, {"type": "me", "nick": nick, "text": text.removeprefix("/me ")})
    else:
        await tell_everyone(app, {"type": "chat", "nick": nick, "text": text})
"""),
    right("slicing, and on_chat for the rest", _ME_START + """
    if text[:4] == "/me ":
        await tell_everyone(app, {"nick": nick, "type": "me", "text": text[4:]})
        return
    await on_chat(app, ws, message)
"""),
    wrong('"/me " anywhere in the text', "bob sent {'type': 'chat', 'text': 'hi /me there'}", _ME_START + """
    if "/me " in text:
        await tell_everyone(app, {"type": "me", "nick": nick, "text": text.replace("/me ", "")})
    else:
        await tell_everyone(app, {"type": "chat", "nick": nick, "text": text})
"""),
    wrong('startswith("/me") without the space', "alice sent {'type': 'chat', 'text': '/meow'}", _ME_START + """
    if text.startswith("/me"):
        await tell_everyone(app, {"type": "me", "nick": nick, "text": text[3:].strip()})
    else:
        await tell_everyone(app, {"type": "chat", "nick": nick, "text": text})
"""),
    wrong("the whole text, /me included", "'text': 'waves'", _ME_START + """
    kind = "me" if text.startswith("/me ") else "chat"
    await tell_everyone(app, {"type": kind, "nick": nick, "text": text})
"""),
    wrong("to the sender only", "bob expected: {'type': 'me'", _ME_START + """
    if text.startswith("/me "):
        await ws.send_json({"type": "me", "nick": nick, "text": text.removeprefix("/me ")})
    else:
        await tell_everyone(app, {"type": "chat", "nick": nick, "text": text})
"""),
    wrong("lstrip('/me '), which strips letters", "got:      {'type': 'me', 'nick': 'bob', 'text': 'ats'}", _ME_START + """
    if text.startswith("/me "):
        await tell_everyone(app, {"type": "me", "nick": nick, "text": text.lstrip("/me ")})
    else:
        await tell_everyone(app, {"type": "chat", "nick": nick, "text": text})
"""),
    wrong("a type the page doesn't know", "'type': 'action'", _ME_START + """
    if text.startswith("/me "):
        await tell_everyone(app, {"type": "action", "nick": nick, "text": text.removeprefix("/me ")})
    else:
        await tell_everyone(app, {"type": "chat", "nick": nick, "text": text})
"""),
]

# --- 06.2: nickname rules -----------------------------------------------------------------------

_NICK_START = '''
import re

async def on_nick_with_rules(app, ws, message):
    nick = message["nick"].strip()
'''

NICKNAME_RULES = [
    right("the notebook's solution", _NICK_START + """
    if not re.fullmatch(r"[\\w-]+", nick):
        raise ProtocolError("a nickname is letters, digits, _ and - only")
    await on_nick(app, ws, message)
"""),
    right("character by character", _NICK_START + """
    if not all(c.isalnum() or c in "_-" for c in nick):
        raise ProtocolError("a nickname is letters, digits, _ and - only")
    await on_nick(app, ws, message)
"""),
    wrong("isalnum(): no _ nor -", "bob sent {'type': 'nick', 'nick': 'bob_smith'}", _NICK_START + """
    if not nick.isalnum():
        raise ProtocolError("a nickname is letters, digits, _ and - only")
    await on_nick(app, ws, message)
"""),
    wrong("re.match: only the start must match", "bob sent {'type': 'nick', 'nick': 'bob smith'}", _NICK_START + """
    if not re.match(r"[\\w-]+", nick):
        raise ProtocolError("a nickname is letters, digits, _ and - only")
    await on_nick(app, ws, message)
"""),
    wrong("ASCII letters only", "'Zoë'", _NICK_START + """
    if not re.fullmatch(r"[A-Za-z0-9_-]+", nick):
        raise ProtocolError("a nickname is letters, digits, _ and - only")
    await on_nick(app, ws, message)
"""),
    wrong("refuses only spaces", "'<b>'", _NICK_START + """
    if " " in nick:
        raise ProtocolError("a nickname is letters, digits, _ and - only")
    await on_nick(app, ws, message)
"""),
    wrong("tells everyone", "alice expected: nothing", _NICK_START + """
    if not re.fullmatch(r"[\\w-]+", nick):
        await tell_everyone(app, error_message("a nickname is letters, digits, _ and - only"))
        return
    await on_nick(app, ws, message)
"""),
    wrong("checks, and forgets to let on_nick do the rest", "alice expected: {'type': 'join', 'nick': 'alice'}", _NICK_START + """
    if not re.fullmatch(r"[\\w-]+", nick):
        raise ProtocolError("a nickname is letters, digits, _ and - only")
"""),
]

EXERCISES: dict[str, list[Answer]] = {
    "03.1 length log": LENGTH_LOG,
    "03.2 message count": MESSAGE_COUNT,
    "04.1 upper echo": UPPER_ECHO,
    "04.2 numbered echo": NUMBERED_ECHO,
    "05.1 online count": ONLINE_COUNT,
    "05.2 named chat": NAMED_CHAT,
    "06.1 /me action": ME_ACTION,
    "06.2 nickname rules": NICKNAME_RULES,
}
