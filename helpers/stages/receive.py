# Exported from notebooks/03-websocket-server.ipynb by `make export`: the cells marked
# `#| export stages.receive`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 03, "The websocket server", as the workbook runs it."""

from aiohttp import web

from helpers.app import LOG, chat_app, text_messages, websocket_session


async def receive(request: web.Request) -> web.WebSocketResponse:
    """Log each message a client sends: the tutorial's ``console.log(`ws got: ${data}`)``."""
    log = request.app[LOG]
    async with websocket_session(request) as ws:  # accept the upgrade, track the socket
        async for data in text_messages(ws, log):  # once per message, until the client leaves
            log(f"ws got: {data}")
    return ws


def make_app() -> web.Application:
    """The pages of notebook 1, and ``receive`` for websocket upgrades at ``/``."""
    return chat_app(websocket=receive)
