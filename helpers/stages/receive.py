"""Stage ``receive``: accept websockets at ``/`` and log each message the server gets."""

from aiohttp import web

from helpers.app import LOG, chat_app, text_messages, websocket_session


async def receive(request: web.Request) -> web.StreamResponse:
    log = request.app[LOG]
    async with websocket_session(request) as ws:
        async for data in text_messages(ws, log):
            log(f"ws got: {data}")
    return ws


def make_app() -> web.Application:
    return chat_app(websocket=receive)
