# Exported from notebooks/05-broadcast-server.ipynb by `make export`: the cells marked
# `#| export stages.broadcast`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 05, "The broadcast server", as the workbook runs it."""

import asyncio
from collections.abc import Iterable

from aiohttp import WSMsgType, web

from helpers.app import LOG, SOCKETS, chat_app, drop, text_messages, websocket_session

SLOW_CLIENT_TIMEOUT = 1.0  # seconds a broadcast waits for a client that stopped reading, then drops it


async def broadcast(
    clients: Iterable[web.WebSocketResponse], text: str, *, exclude: web.WebSocketResponse | None = None
) -> int:
    """Send ``text`` to every open client but ``exclude``; return how many it reached."""
    payload = text.encode()  # once, not once per client
    targets = [ws for ws in clients if ws is not exclude and not ws.closed]  # a copy: the set may change
    delivered = await asyncio.gather(*(send_or_drop(ws, payload) for ws in targets))
    return sum(delivered)


async def send_or_drop(ws: web.WebSocketResponse, payload: bytes) -> bool:
    """Send ``payload`` to one client, or drop that client if it can't take it in time."""
    try:
        async with asyncio.timeout(SLOW_CLIENT_TIMEOUT):
            await ws.send_frame(payload, WSMsgType.TEXT)
    except TimeoutError:  # its buffers stayed full: it stopped reading
        drop(ws)  # helpers.app: cut its connection, it could not even take a close frame
        return False
    except Exception:  # it vanished (reset, closing): the others still get the text
        return False
    return True


EXCEPT_SELF = web.AppKey("except_self", bool)


async def broadcast_chat(request: web.Request) -> web.WebSocketResponse:
    """Send each message to every open client (with ``except_self``: all but the sender)."""
    app = request.app
    log, clients = app[LOG], app[SOCKETS]
    async with websocket_session(request) as ws:
        async for data in text_messages(ws, log):
            log(f"ws got: {data}")
            sent = await broadcast(clients, data, exclude=ws if app[EXCEPT_SELF] else None)
            log(f"Broadcasted data to {sent} ({len(clients)}) clients.")
    return ws


def make_app(except_self: bool = False) -> web.Application:
    """The pages of notebook 1, and ``broadcast_chat`` for websocket upgrades at ``/``."""
    app = chat_app(websocket=broadcast_chat)
    app[EXCEPT_SELF] = except_self
    return app
