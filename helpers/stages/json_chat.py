# Exported from notebooks/06-json-protocol.ipynb by `make export`: the cells marked
# `#| export stages.json_chat`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 06, "A JSON protocol", as the workbook runs it."""

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from helpers import PUBLIC, RATE_LIMIT
from helpers.protocol import Message, ProtocolError, error_message, parse_message
from helpers.stages.broadcast import CLIENTS, broadcast
from helpers.stages.receive import HEARTBEAT, MAX_MESSAGE, index

NICKS = web.AppKey("nicks", dict[web.WebSocketResponse, str])


async def tell_everyone(app: web.Application, message: Message) -> None:
    """Send ``message`` to every client, as JSON, and log how many got it."""
    clients = app[CLIENTS]
    sent = await broadcast(clients, json.dumps(message))
    print(f"Broadcasted {message['type']} to {sent} ({len(clients)}) clients.")


async def on_nick(app: web.Application, ws: web.WebSocketResponse, message: Message) -> None:
    """Choose or change a nickname; everyone hears ``join`` or ``rename``."""
    nicks, nick = app[NICKS], message["nick"].strip()
    if not nick.isprintable():  # a newline, an escape, a right-to-left mark...
        raise ProtocolError("a nickname can't hold control characters")
    old = nicks.get(ws)
    if nick == old:
        return  # the name it has already: nothing to tell anyone
    if nick in nicks.values():
        raise ProtocolError(f"nickname {nick!r} is taken")
    nicks[ws] = nick
    if old is None:
        await tell_everyone(app, {"type": "join", "nick": nick})
    else:
        await tell_everyone(app, {"type": "rename", "old": old, "nick": nick})


async def on_chat(app: web.Application, ws: web.WebSocketResponse, message: Message) -> None:
    """Say ``text`` to everyone, under the sender's nickname."""
    if ws not in app[NICKS]:
        raise ProtocolError('choose a nickname first: {"type": "nick", "nick": "..."}')
    await tell_everyone(app, {"type": "chat", "nick": app[NICKS][ws], "text": message["text"]})


async def on_users(app: web.Application, ws: web.WebSocketResponse, message: Message) -> None:
    """Tell the asker, and only the asker, who is online (``send_json``: JSON text, one call)."""
    await ws.send_json({"type": "users", "users": sorted(app[NICKS].values())})


Action = Callable[[web.Application, web.WebSocketResponse, Message], Awaitable[None]]
ACTIONS = web.AppKey("actions", dict[str, Action])


async def json_chat(request: web.Request) -> web.StreamResponse:
    """Handle each message in turn; when the client leaves, everyone hears it."""
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_MESSAGE)
    if not ws.can_prepare(request):
        return await index(request)
    await ws.prepare(request)
    app = request.app
    app[CLIENTS].add(ws)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await handle(app, ws, msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_json(error_message("binary frames are not supported; send JSON text"))
    finally:
        app[CLIENTS].discard(ws)
        if ws in app[NICKS]:
            await tell_everyone(app, {"type": "leave", "nick": app[NICKS].pop(ws)})
    return ws


async def handle(app: web.Application, ws: web.WebSocketResponse, data: str) -> None:
    """Parse one message and do its action; a broken one gets an ``error``, to its sender only."""
    try:
        if not app[RATE_LIMIT].allow(ws):  # a flood is refused, message by message
            raise ProtocolError(app[RATE_LIMIT].describe())
        message = parse_message(data)
        await app[ACTIONS][message["type"]](app, ws, message)
    except ProtocolError as error:
        await ws.send_json(error_message(str(error)))
    except Exception:  # a bug in an action: recorded, the sender told, the chat goes on
        logging.exception(f"handling {data[:40]!r}")
        await ws.send_json(error_message("internal server error"))


def make_app() -> web.Application:
    """Notebook 1's pages, and ``json_chat`` for the websocket at ``/``."""
    app = web.Application()
    app[CLIENTS], app[NICKS] = set(), {}
    app[ACTIONS] = {"nick": on_nick, "chat": on_chat, "users": on_users}
    app.router.add_get("/", json_chat)
    app.router.add_static("/", PUBLIC)
    return app
