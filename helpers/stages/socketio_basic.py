# Exported from notebooks/07-socketio-server.ipynb by `make export`: the cells marked
# `#| export stages.socketio_basic`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 07, "Socket.IO: the server", as the workbook runs it."""

import socketio
from aiohttp import web

from helpers import PUBLIC
from helpers.stages.receive import index

SIO = web.AppKey("sio", socketio.AsyncServer)


def make_app(except_self: bool = False) -> web.Application:
    """Notebook 1's pages and, at ``/socket.io/``, the official tutorial's chat server."""
    sio = socketio.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    sio.attach(app)
    app[SIO] = sio  # where a cell, or a checker, finds this app's server
    app.router.add_get("/", index)
    app.router.add_static("/", PUBLIC)

    @sio.event
    async def connect(sid, environ, auth):
        print("a user connected")

    @sio.event
    async def disconnect(sid, reason):
        print("user disconnected")

    @sio.on("chat message")
    async def chat_message(sid, msg, client_offset=None):
        print(f"message: {msg}")
        await sio.emit("chat message", msg, skip_sid=sid if except_self else None)

    return app
