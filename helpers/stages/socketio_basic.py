"""Stage ``socketio``: the chat of the official Socket.IO get-started tutorial, in python-socketio.

The event ``chat message`` goes to everyone, the sender included (``except_self``: all but
the sender, with ``skip_sid``), so the tutorial's browser client and Node's
``socket.io-client`` work against it unchanged.
"""

from aiohttp import web

from helpers.app import LOG
from helpers.sio import guard, socketio_app


def make_app(except_self: bool = False) -> web.Application:
    app, sio = socketio_app()
    log = app[LOG]
    guarded = guard(log)  # wrong arguments are refused and logged, never a crash

    @sio.event
    async def connect(sid: str, environ: dict, auth: dict | None) -> None:
        log("a user connected")

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        log("user disconnected")

    @sio.on("chat message")
    @guarded
    async def chat_message(sid: str, msg: str, *later_steps: object) -> None:  # ignores a client offset
        log(f"message: {msg}")
        await sio.emit("chat message", msg, skip_sid=sid if except_self else None)

    return app
