"""Stage ``echo``: send each message back to the client that sent it."""

from aiohttp import web

from helpers.app import LOG, chat_app, text_messages, websocket_session


async def echo(request: web.Request) -> web.StreamResponse:
    log = request.app[LOG]
    async with websocket_session(request) as ws:
        async for data in text_messages(ws, log):
            log(f"ws got: {data}")
            await ws.send_str(data)
    return ws


def make_app() -> web.Application:
    return chat_app(websocket=echo)
