# Exported from notebooks/05-broadcast-server.ipynb by `make export`: the cells marked
# `#| export stages.broadcast`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 05, "The broadcast server", as the workbook runs it."""

import asyncio

from aiohttp import WSMsgType, web

from helpers import PUBLIC, drop  # drop: step 2 below
from helpers.stages.echo import BINARY_REFUSED
from helpers.stages.receive import HEARTBEAT, MAX_MESSAGE, index

CLIENTS = web.AppKey("clients", set[web.WebSocketResponse])  # the tutorial's wsServer.clients
EXCEPT_SELF = web.AppKey("except_self", bool)  # leave the sender out?


async def broadcast_chat(request: web.Request) -> web.StreamResponse:
    """Send each message to every client (with ``except_self``: to all but the sender)."""
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_MESSAGE)
    if not ws.can_prepare(request):
        return await index(request)
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)  # the tutorial's clientTracking
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                print(f"ws got: {msg.data}")
                sender = ws if request.app[EXCEPT_SELF] else None
                sent = await broadcast(clients, msg.data, exclude=sender)
                print(f"Broadcasted data to {sent} ({len(clients)}) clients.")
            elif msg.type == WSMsgType.BINARY:
                await ws.send_str(BINARY_REFUSED)
    finally:  # however the loop ends: the client is gone
        clients.discard(ws)
    return ws


def make_app(except_self: bool = False) -> web.Application:
    """Notebook 1's pages, and ``broadcast_chat`` for the websocket at ``/``."""
    app = web.Application()
    app[CLIENTS] = set()
    app[EXCEPT_SELF] = except_self
    app.router.add_get("/", broadcast_chat)
    app.router.add_static("/", PUBLIC)
    return app


SLOW_CLIENT_TIMEOUT = 1.0  # seconds a broadcast waits for a client that stopped reading


async def broadcast(
    clients: set[web.WebSocketResponse], text: str, exclude: web.WebSocketResponse | None = None
) -> int:
    """Send ``text`` to every client but ``exclude``, all at once; return how many it reached."""
    targets = [client for client in clients if client is not exclude]  # a copy: clients may come and go
    delivered = await asyncio.gather(*(send_or_drop(clients, client, text) for client in targets))
    return sum(delivered)


async def send_or_drop(clients: set[web.WebSocketResponse], client: web.WebSocketResponse, text: str) -> bool:
    """Send ``text`` to ``client``; a client that can't take it within a second leaves the chat."""
    try:
        async with asyncio.timeout(SLOW_CLIENT_TIMEOUT):
            await client.send_str(text)
    except TimeoutError:  # its buffers stayed full: it stopped reading
        clients.discard(client)
        drop(client)  # its connection cut at once: it can't even take a close frame
        return False
    except ConnectionResetError:  # it vanished while the others were being sent to
        return False
    return True
