"""Stage ``static``: serve ``public/`` and nothing else (Express's ``express.static``)."""

from aiohttp import web

from helpers import chat_app


def make_app() -> web.Application:
    return chat_app()
