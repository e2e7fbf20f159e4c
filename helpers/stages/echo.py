# Exported from notebooks/04-echo-server.ipynb by `make export`: the cells marked
# `#| export stages.echo`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 04, "The echo server", as the workbook runs it."""

from aiohttp import web

from helpers.app import LOG, chat_app, text_messages, websocket_session


async def echo(request: web.Request) -> web.WebSocketResponse:
    """Send each message back to the client that sent it."""
    log = request.app[LOG]
    async with websocket_session(request) as ws:
        async for data in text_messages(ws, log):
            log(f"ws got: {data}")
            await ws.send_str(data)  # the tutorial's ws.send(data)
    return ws


def make_app() -> web.Application:
    """The pages of notebook 1, and ``echo`` for websocket upgrades at ``/``."""
    return chat_app(websocket=echo)
