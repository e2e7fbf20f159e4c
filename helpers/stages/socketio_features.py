# Exported from notebooks/08-socketio-chat-features.ipynb by `make export`: the cells marked
# `#| export stages.socketio_features`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 08, "Socket.IO: the chat features", as the workbook runs it."""

from collections.abc import Callable
from itertools import count

import socketio
from aiohttp import web

from helpers import PUBLIC
from helpers.stages.receive import index
from helpers.stages.socketio_basic import SIO

NICKS = web.AppKey("nicks", dict[str, str])  # sid -> nickname: who is online
GUESTS = web.AppKey("guests", count)  # numbers for clients without a nickname: guest1, ...
MAX_TEXT = 500
FEATURES: dict[str, Callable[[web.Application], None]] = {}  # each feature cell adds its own


def problem_with(value: object, field: str, limit: int = 32) -> str | None:
    """What is wrong with a client's ``field`` (``value``); ``None``: non-empty text, short enough."""
    if not isinstance(value, str) or not value.strip():
        return f"{field} must be non-empty text"
    if len(value) > limit:
        return f"{field} is longer than {limit} characters"
    if field != "text" and not value.isprintable():  # a name with a newline, an escape...
        return f"{field} can't hold control characters"
    return None


def make_app(cors_allowed_origins: list[str] | None = None) -> web.Application:
    """Notebook 7's server, with the chat's state and every feature of ``FEATURES``."""
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=cors_allowed_origins)
    return features_app(sio)


def features_app(sio: socketio.AsyncServer) -> web.Application:
    """Notebook 1's pages, ``sio`` at ``/socket.io/``, and every feature of ``FEATURES`` on it."""
    app = web.Application()
    sio.attach(app)
    app[SIO], app[NICKS], app[GUESTS] = sio, {}, count(1)
    app.router.add_get("/", index)
    app.router.add_static("/", PUBLIC)
    for add_feature in FEATURES.values():
        add_feature(app)
    return app


def free_nick(app: web.Application, wanted: object) -> str:
    """``wanted``, or ``wanted2``, ``wanted3``... if taken; ``guestN`` if it is no nickname."""
    nick = f"guest{next(app[GUESTS])}" if problem_with(wanted, "nickname") else wanted.strip()
    taken, candidate, suffix = set(app[NICKS].values()), nick, 2
    while candidate in taken:
        candidate, suffix = f"{nick}{suffix}", suffix + 1
    return candidate


async def welcome(app: web.Application, sid: str, auth: object) -> None:
    """Name a newcomer (``auth={"nick": ...}``, or a free variant), and tell the others."""
    wanted = auth.get("nick") if isinstance(auth, dict) else None
    nick = app[NICKS][sid] = free_nick(app, wanted)
    print(f"{nick} connected")
    await app[SIO].emit("user connected", nick, skip_sid=sid)


def add_notices(app: web.Application) -> None:
    """Connect and disconnect notices: the others hear who came, everyone who left."""
    sio, nicks = app[SIO], app[NICKS]

    @sio.event
    async def connect(sid, environ, auth):
        await welcome(app, sid, auth)

    @sio.event
    async def disconnect(sid, reason):
        nick = nicks.pop(sid, "?")
        print(f"{nick} disconnected")
        await sio.emit("user disconnected", nick)


FEATURES["notices"] = add_notices


def add_chat(app: web.Application) -> None:
    """``chat message``: the others get ``nick: text``; the sender's page shows its line already."""
    sio, nicks = app[SIO], app[NICKS]

    @sio.on("chat message")
    async def chat_message(sid, text=None, client_offset=None):
        problem = problem_with(text, "text", MAX_TEXT)
        if problem:
            return {"error": problem}
        line = f"{nicks.get(sid, '?')}: {text.strip()}"
        print(f"message: {line}")
        await sio.emit("chat message", line, skip_sid=sid)
        return {}


FEATURES["chat"] = add_chat


def add_typing(app: web.Application) -> None:
    """``typing``: the others hear who is typing, and who stopped."""
    sio, nicks = app[SIO], app[NICKS]

    @sio.event
    async def typing(sid, is_typing=False):
        await sio.emit("typing", (nicks.get(sid, "?"), bool(is_typing)), skip_sid=sid)


FEATURES["typing"] = add_typing


def add_nicknames(app: web.Application) -> None:
    """``who`` and ``nick``: requests, answered in their acknowledgement."""
    sio, nicks = app[SIO], app[NICKS]

    @sio.event
    async def who(sid):
        return {"users": sorted(nicks.values())}

    @sio.event
    async def nick(sid, new=None):
        problem = problem_with(new, "nickname")
        if problem:
            return {"error": problem}
        new, old = new.strip(), nicks.get(sid, "?")
        if new != old:
            if new in nicks.values():
                return {"error": f"nickname {new!r} is taken"}
            nicks[sid] = new
            await sio.emit("nick changed", (old, new))
        return {"nick": new}


FEATURES["nicknames"] = add_nicknames


def add_private_messages(app: web.Application) -> None:
    """``private message``: to one client, found by its nickname."""
    sio, nicks = app[SIO], app[NICKS]

    @sio.on("private message")
    async def private_message(sid, to=None, text=None):
        problem = problem_with(to, "nickname") or problem_with(text, "text", MAX_TEXT)
        if problem:
            return {"error": problem}
        to = to.strip()
        target = next((other for other, name in nicks.items() if name == to), None)
        if target is None:
            return {"error": f"{to!r} is not online"}
        await sio.emit("private message", (nicks.get(sid, "?"), text.strip()), to=target)
        return {"to": to}


FEATURES["private messages"] = add_private_messages


SERVER_ROOMS = web.AppKey("server_rooms", frozenset)  # rooms only the server puts clients in


def room_problem(app: web.Application, room: object) -> str | None:
    """What is wrong with a room a client names: not text, or a room of the server's."""
    problem = problem_with(room, "room")
    if problem is None and (room.strip() in app[NICKS] or room.strip() in app.get(SERVER_ROOMS, ())):
        problem = f"{room.strip()!r} is a room of the server's"
    return problem


def members(app: web.Application, room: str) -> list[str]:
    """The nicknames of ``room``'s members."""
    nicks = app[NICKS]
    return sorted(nicks.get(sid, "?") for sid, _ in app[SIO].manager.get_participants("/", room))


def add_rooms(app: web.Application) -> None:
    """``join`` and ``leave`` a room: a named group of clients."""
    sio = app[SIO]

    @sio.event
    async def join(sid, room=None):
        problem = room_problem(app, room)
        if problem:
            return {"error": problem}
        await sio.enter_room(sid, room.strip())
        return {"room": room.strip(), "members": members(app, room.strip())}

    @sio.event
    async def leave(sid, room=None):
        problem = room_problem(app, room)
        if problem:
            return {"error": problem}
        await sio.leave_room(sid, room.strip())
        return {"room": room.strip(), "members": members(app, room.strip())}


FEATURES["rooms"] = add_rooms


def add_room_messages(app: web.Application) -> None:
    """``room message``: to the members of a room the sender is in, but the sender."""
    sio, nicks = app[SIO], app[NICKS]

    @sio.on("room message")
    async def room_message(sid, room=None, text=None):
        problem = room_problem(app, room) or problem_with(text, "text", MAX_TEXT)
        if problem:
            return {"error": problem}
        room = room.strip()
        if room not in sio.rooms(sid):
            return {"error": f"join {room!r} first"}
        await sio.emit("room message", (room, nicks.get(sid, "?"), text.strip()), room=room, skip_sid=sid)
        return {"room": room}


FEATURES["room messages"] = add_room_messages
