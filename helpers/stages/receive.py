# Exported from notebooks/03-websocket-server.ipynb by `make export`: the cells marked
# `#| export stages.receive`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 03, "The websocket server", as the workbook runs it."""

from aiohttp import WSMsgType, web

from helpers import PUBLIC

HEARTBEAT = 15.0  # seconds between pings; a client that doesn't answer one within half that is dropped
MAX_MESSAGE = 64 * 1024  # bytes: a message this long or longer closes its connection (1009)


async def index(request: web.Request) -> web.FileResponse:
    """Notebook 1's index page, for a browser that asks for ``/``."""
    return web.FileResponse(PUBLIC / "index.html")


async def receive(request: web.Request) -> web.StreamResponse:
    """Log each message a client sends: the tutorial's ``console.log(`ws got: ${data}`)``."""
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_MESSAGE)
    if not ws.can_prepare(request):  # no Upgrade header: a browser asking for the page
        return await index(request)
    await ws.prepare(request)  # the handshake: 101 Switching Protocols
    async for msg in ws:  # once per message, until the client goes away
        if msg.type == WSMsgType.TEXT:
            print(f"ws got: {msg.data}")
    return ws


def make_app() -> web.Application:
    """Notebook 1's pages, and ``receive`` for the websocket at ``/``."""
    app = web.Application()
    app.router.add_get("/", receive)
    app.router.add_static("/", PUBLIC)
    return app
