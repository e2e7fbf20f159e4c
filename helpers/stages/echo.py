# Exported from notebooks/04-echo-server.ipynb by `make export`: the cells marked
# `#| export stages.echo`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 04, "The echo server", as the workbook runs it."""

from aiohttp import WSMsgType, web

from helpers import PUBLIC
from helpers.stages.receive import HEARTBEAT, MAX_MESSAGE, index

BINARY_REFUSED = "error: binary frames are not supported here; send text"


async def echo(request: web.Request) -> web.StreamResponse:
    """Send each message back to the client that sent it."""
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_MESSAGE)
    if not ws.can_prepare(request):
        return await index(request)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            print(f"ws got: {msg.data}")
            await ws.send_str(msg.data)  # the tutorial's ws.send(data)
        elif msg.type == WSMsgType.BINARY:  # a text chat: say so, and the connection goes on
            print(f"Refused a binary frame of {len(msg.data)} bytes.")
            await ws.send_str(BINARY_REFUSED)
    return ws


def make_app() -> web.Application:
    """Notebook 1's pages, and ``echo`` for the websocket at ``/``."""
    app = web.Application()
    app.router.add_get("/", echo)
    app.router.add_static("/", PUBLIC)
    return app
