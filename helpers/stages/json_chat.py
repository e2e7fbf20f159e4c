"""Stage ``json``: a chat with nicknames over the JSON protocol of ``helpers.protocol``.

Every message is validated; a bad one gets an ``error`` to its sender only, and the chat
goes on for everyone.
"""

import json
from typing import Any

from aiohttp import web

from helpers.app import LOG, SOCKETS, broadcast, chat_app, text_messages, websocket_session
from helpers.protocol import ProtocolError, error_message, parse_message

NICKS = web.AppKey("nicks", dict[web.WebSocketResponse, str])


async def json_chat(request: web.Request) -> web.StreamResponse:
    log, nicks = request.app[LOG], request.app[NICKS]
    refuse_binary = json.dumps(error_message("binary frames are not supported; send JSON text"))
    async with websocket_session(request) as ws:
        try:
            async for data in text_messages(ws, log, binary_reply=refuse_binary):
                try:
                    message = parse_message(data)
                    await handle(request.app, ws, message)
                except ProtocolError as error:
                    log(f"Refused: {error}")
                    await ws.send_json(error_message(str(error)))
        finally:
            if ws in nicks:
                await tell_everyone(request.app, {"type": "leave", "nick": nicks.pop(ws)})
    return ws


async def handle(app: web.Application, ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
    """Act on one valid message; raise ``ProtocolError`` for a message that can't be done."""
    nicks = app[NICKS]
    if message["type"] == "nick":
        nick, old = message["nick"].strip(), nicks.get(ws)
        if nick != old and nick in nicks.values():
            raise ProtocolError(f"nickname {nick!r} is taken")
        nicks[ws] = nick
        if old is None:
            await tell_everyone(app, {"type": "join", "nick": nick})
        else:
            await tell_everyone(app, {"type": "rename", "old": old, "nick": nick})
    elif message["type"] == "chat":
        if ws not in nicks:
            raise ProtocolError('choose a nickname first: {"type": "nick", "nick": "..."}')
        await tell_everyone(app, {"type": "chat", "nick": nicks[ws], "text": message["text"]})
    elif message["type"] == "users":
        await ws.send_json({"type": "users", "users": sorted(nicks.values())})


async def tell_everyone(app: web.Application, message: dict[str, Any]) -> None:
    clients = app[SOCKETS]
    sent = await broadcast(clients, json.dumps(message))
    app[LOG](f"Broadcasted {message['type']} to {sent} ({len(clients)}) clients.")


def make_app() -> web.Application:
    app = chat_app(websocket=json_chat)
    app[NICKS] = {}
    return app
