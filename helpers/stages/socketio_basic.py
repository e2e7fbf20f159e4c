# Exported from notebooks/07-socketio-server.ipynb by `make export`: the cells marked
# `#| export stages.socketio_basic`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 07, "Socket.IO: the server", as the workbook runs it."""

from typing import Any

import socketio
from aiohttp import web

from helpers.app import LOG, chat_app
from helpers.sio import SIO, add_socketio_plumbing, on_events
from helpers.sio_fanout import FanoutManager

EXCEPT_SELF = web.AppKey("except_self", bool)


async def connect(app: web.Application, sid: str, environ: dict, auth: Any) -> None:
    app[LOG]("a user connected")


async def disconnect(app: web.Application, sid: str, reason: str) -> None:
    app[LOG]("user disconnected")


async def chat_message(app: web.Application, sid: str, msg: Any, client_offset: Any = None) -> None:
    """Send ``msg`` to everyone: the sender too, unless the app was made ``except_self``.

    The page also names each message (``client_offset``), for notebook 9; this server
    ignores that name, as the tutorial's server ignores an argument it doesn't use.
    """
    app[LOG](f"message: {msg}")
    await app[SIO].emit("chat message", msg, skip_sid=sid if app[EXCEPT_SELF] else None)


def make_app(except_self: bool = False) -> web.Application:
    """The pages of notebook 1 and, at ``/socket.io/``, the official tutorial's chat server."""
    app = chat_app()
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        logger=app[LOG].logger("socket.io"),  # its log lines go to the server log, not stderr
        engineio_logger=app[LOG].logger("engine.io"),
        client_manager=FanoutManager(),  # one emit to everyone: no task per client (notebook 11)
    )
    sio.attach(app)  # Node: new Server(httpServer)
    add_socketio_plumbing(app, sio)
    app[EXCEPT_SELF] = except_self
    on_events(app, {"connect": connect, "disconnect": disconnect, "chat message": chat_message})
    return app
