# Exported from notebooks/08-socketio-chat-features.ipynb by `make export`: the cells marked
# `#| export stages.socketio_features`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 08, "Socket.IO: the chat features", as the workbook runs it."""

from itertools import count
from typing import Any

from aiohttp import web

from helpers.app import LOG
from helpers.sio import SIO, EventHandler, Origins, Refused, on_events, socketio_app

NICKS = web.AppKey("nicks", dict[str, str])  # sid -> nickname: who is online
GUESTS = web.AppKey("guests", count)  # numbers for clients without a nickname: guest1, ...
MAX_TEXT = 500
EVENTS: dict[str, EventHandler] = {}  # event -> handler: each handler cell adds its own


def nick_of(app: web.Application, sid: str) -> str:
    return app[NICKS].get(sid, "?")


def clean(value: Any, field: str, limit: int = 32) -> str:
    """``value`` as a trimmed, non-empty string of at most ``limit`` characters, or ``Refused``."""
    if not isinstance(value, str) or not value.strip():
        raise Refused(f"{field} must be non-empty text")
    if len(value) > limit:
        raise Refused(f"{field} is longer than {limit} characters")
    return value.strip()


def free_nick(app: web.Application, wanted: Any) -> str:
    """``wanted``, or ``wanted2``, ``wanted3``... if taken; ``guestN`` if it is no nickname."""
    try:
        nick = clean(wanted, "nickname")
    except Refused:
        nick = f"guest{next(app[GUESTS])}"
    taken, candidate, suffix = set(app[NICKS].values()), nick, 2
    while candidate in taken:
        candidate, suffix = f"{nick}{suffix}", suffix + 1
    return candidate


async def connect(app: web.Application, sid: str, environ: dict, auth: Any) -> None:
    """A newcomer gets its nickname from ``auth`` (or a free one); the others are told."""
    nick = app[NICKS][sid] = free_nick(app, auth.get("nick") if isinstance(auth, dict) else None)
    app[LOG](f"{nick} connected")
    await app[SIO].emit("user connected", nick, skip_sid=sid)


async def disconnect(app: web.Application, sid: str, reason: str) -> None:
    nick = app[NICKS].pop(sid, "?")
    app[LOG](f"{nick} disconnected")
    await app[SIO].emit("user disconnected", nick)


EVENTS.update({"connect": connect, "disconnect": disconnect})


def make_app(cors_allowed_origins: Origins = None) -> web.Application:
    """The pages of notebook 1, and the Socket.IO chat with every handler of ``EVENTS``."""
    app, _ = socketio_app(cors_allowed_origins=cors_allowed_origins)
    app[NICKS], app[GUESTS] = {}, count(1)
    on_events(app, EVENTS)
    return app


async def chat_message(
    app: web.Application, sid: str, text: Any = None, client_offset: Any = None
) -> dict:
    """Everyone but the sender gets ``nick: text``; the sender's page shows its line already."""
    line = f"{nick_of(app, sid)}: {clean(text, 'text', MAX_TEXT)}"
    app[LOG](f"message: {line}")
    await app[SIO].emit("chat message", line, skip_sid=sid)
    return {}


EVENTS["chat message"] = chat_message


async def typing(app: web.Application, sid: str, is_typing: Any = False) -> None:
    await app[SIO].emit("typing", (nick_of(app, sid), bool(is_typing)), skip_sid=sid)


EVENTS["typing"] = typing


async def who(app: web.Application, sid: str) -> dict:
    return {"users": sorted(app[NICKS].values())}


async def nick(app: web.Application, sid: str, new: Any = None) -> dict:
    new, old = clean(new, "nickname"), nick_of(app, sid)
    if new != old:
        if new in app[NICKS].values():
            raise Refused(f"nickname {new!r} is taken")
        app[NICKS][sid] = new
        await app[SIO].emit("nick changed", (old, new))
    return {"nick": new}


EVENTS.update({"who": who, "nick": nick})


async def private_message(app: web.Application, sid: str, to: Any = None, text: Any = None) -> dict:
    to, text = clean(to, "nickname"), clean(text, "text", MAX_TEXT)
    target = next((other for other, name in app[NICKS].items() if name == to), None)
    if target is None:
        raise Refused(f"{to!r} is not online")
    await app[SIO].emit("private message", (nick_of(app, sid), text), to=target)
    return {"to": to}


EVENTS["private message"] = private_message


SERVER_ROOMS = web.AppKey("server_rooms", frozenset)  # rooms only the server puts clients in


def room_name(app: web.Application, value: Any) -> str:
    """A room a client may name: not a client's own room, nor one in ``app[SERVER_ROOMS]``."""
    room = clean(value, "room")
    if room in app[NICKS] or room in app.get(SERVER_ROOMS, ()):
        raise Refused(f"{room!r} is a room of the server's")
    return room


async def join(app: web.Application, sid: str, room: Any = None) -> dict:
    room = room_name(app, room)
    await app[SIO].enter_room(sid, room)
    return {"room": room, "members": members(app, room)}


async def leave(app: web.Application, sid: str, room: Any = None) -> dict:
    room = room_name(app, room)
    await app[SIO].leave_room(sid, room)
    return {"room": room, "members": members(app, room)}


def members(app: web.Application, room: str) -> list[str]:
    return sorted(nick_of(app, sid) for sid, _ in app[SIO].manager.get_participants("/", room))


EVENTS.update({"join": join, "leave": leave})


async def room_message(app: web.Application, sid: str, room: Any = None, text: Any = None) -> dict:
    room, text = room_name(app, room), clean(text, "text", MAX_TEXT)
    if room not in app[SIO].rooms(sid):
        raise Refused(f"join {room!r} first")
    await app[SIO].emit("room message", (room, nick_of(app, sid), text), room=room, skip_sid=sid)
    return {"room": room}


EVENTS["room message"] = room_message
