"""The server stages, one module each, in the order the notebooks teach them.

``STAGES`` maps a stage name (``python -m helpers.serve --stage NAME``) to the ``make_app``
that builds its aiohttp app: the very function the notebooks write in their cells (the
modules are exported from them, see ``tools/export.py``) and the tests drive. A name says
whose code runs: ``broadcast`` is notebook 05's, ``broadcast-bus`` the fast path and Redis bus
of notebooks 11 and 12 (``broadcast_bus``), ``socketio-chat`` notebook 09's, ``chat-cluster``
notebook 12's (``chat_cluster``). Every parameter of a ``make_app`` is an option of the
command line.
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
    socketio_chat,
    socketio_features,
    static,
)

STAGES: dict[str, Callable[..., web.Application]] = {
    "static": static.make_app,
    "receive": receive.make_app,
    "echo": echo.make_app,
    "broadcast": broadcast.make_app,
    "broadcast-bus": broadcast_bus.make_broadcast_app,
    "json": json_chat.make_app,
    "socketio": socketio_basic.make_app,
    "socketio-features": socketio_features.make_app,
    "socketio-chat": socketio_chat.make_app,
    "chat-cluster": chat_cluster.make_app,
}

DESCRIPTIONS = {
    "static": "serve public/ (notebook 01)",
    "receive": "log each websocket message (notebook 03)",
    "echo": "send each message back (notebook 04)",
    "broadcast": "send each message to every client (notebook 05)",
    "broadcast-bus": "the same on the fast path (notebook 11), across processes with --message-queue "
    "(notebook 12)",
    "json": "a chat with nicknames over a JSON protocol (notebook 06)",
    "socketio": "the official Socket.IO tutorial's chat (notebook 07)",
    "socketio-features": "its homework: nicknames, typing, who, private messages, rooms (notebook 08)",
    "socketio-chat": "all of that, with messages stored and replayed (notebook 09)",
    "chat-cluster": "the same chat across processes with --message-queue and a shared --db (notebook 12)",
}
"""What each stage is, for ``--help``."""
