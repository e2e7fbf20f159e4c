"""The server stages, one module each, in the order the notebooks teach them.

``STAGES`` maps a stage name (``python -m helpers.serve --stage NAME``) to the ``make_app``
that builds its aiohttp app: the very function the notebooks write in their cells (the
modules are exported from them, see ``tools/export.py``) and the tests drive. Every
parameter of a ``make_app`` is an option of the command line.
"""

from collections.abc import Callable

from aiohttp import web

from helpers.stages import (
    broadcast,
    broadcast_bus,
    chat_cluster,
    echo,
    json_chat,
    receive,
    socketio_basic,
    socketio_features,
    static,
)

STAGES: dict[str, Callable[..., web.Application]] = {
    "static": static.make_app,
    "receive": receive.make_app,
    "echo": echo.make_app,
    "broadcast": broadcast_bus.make_broadcast_app,
    "broadcast-readable": broadcast.make_app,
    "json": json_chat.make_app,
    "socketio": socketio_basic.make_app,
    "socketio-features": socketio_features.make_app,
    "socketio-chat": chat_cluster.make_app,
}

DESCRIPTIONS = {
    "static": "serve public/ (notebook 01)",
    "receive": "log each websocket message (notebook 03)",
    "echo": "send each message back (notebook 04)",
    "broadcast": "send each message to every client, on the fast path (notebooks 05 and 11), "
    "across processes with --message-queue (notebook 12)",
    "broadcast-readable": "the same, with the readable broadcast of notebook 05",
    "json": "a chat with nicknames over a JSON protocol (notebook 06)",
    "socketio": "the official Socket.IO tutorial's chat (notebook 07)",
    "socketio-features": "its homework: nicknames, typing, who, private messages, rooms (notebook 08)",
    "socketio-chat": "all of that, with messages stored and replayed (notebook 09), "
    "across processes with --message-queue and a shared --db (notebook 12)",
}
"""What each stage is, for ``--help``."""
