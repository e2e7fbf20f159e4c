"""Stage ``broadcast``: send each message to every open client (``except_self``: all but the sender)."""

from functools import partial

from aiohttp import web

from helpers.app import LOG, SOCKETS, broadcast, chat_app, text_messages, websocket_session


async def broadcast_chat(request: web.Request, *, except_self: bool = False) -> web.StreamResponse:
    log, clients = request.app[LOG], request.app[SOCKETS]
    async with websocket_session(request) as ws:
        async for data in text_messages(ws, log):
            log(f"ws got: {data}")
            sent = await broadcast(clients, data, exclude=ws if except_self else None)
            log(f"Broadcasted data to {sent} ({len(clients)}) clients.")
    return ws


def make_app(except_self: bool = False) -> web.Application:
    return chat_app(websocket=partial(broadcast_chat, except_self=except_self))
