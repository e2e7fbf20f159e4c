"""The server stages, one small module each, in the order the notebooks teach them.

``STAGES`` maps a stage name (``python -m helpers.serve --stage NAME``) to the function
that builds its aiohttp app: the very function the notebooks call and the tests drive.
"""

from collections.abc import Callable

from aiohttp import web

from helpers.stages import broadcast, echo, json_chat, receive, socketio_basic, socketio_chat, static

STAGES: dict[str, Callable[..., web.Application]] = {
    "static": static.make_app,
    "receive": receive.make_app,
    "echo": echo.make_app,
    "broadcast": broadcast.make_app,
    "json": json_chat.make_app,
    "socketio": socketio_basic.make_app,
    "socketio-chat": socketio_chat.make_app,
}
