"""Stage ``socketio-chat``: the official tutorial's homework, with its delivery guarantees.

Client to server (what the acknowledgement returns):

=====================  ======================  ==========================================
event                  arguments               acknowledgement
=====================  ======================  ==========================================
``chat message``       text, client offset     ``{"id": n}``: the message's server offset
``nick``               new nickname            ``{"nick": ...}``
``typing``             true or false           (none)
``who``                (none)                  ``{"users": [...]}``, sorted
``private message``    nickname, text          ``{"to": ...}``
``join`` / ``leave``   room                    ``{"room": ..., "members": [...]}``
``room message``       room, text              ``{"room": ...}``
=====================  ======================  ==========================================

A refused request is acknowledged with ``{"error": "..."}``. Server to client:
``chat message`` (line, server offset, client offset), ``user connected`` / ``user
disconnected`` (nick), ``nick changed`` (old, new), ``typing`` (nick, bool), ``private
message`` (from, text), ``room message`` (room, from, text).

Connect with ``auth={"nick": ..., "serverOffset": n}``: the server replays the chat messages
after ``n`` (see ``helpers.delivery``), or all of them when ``n`` is beyond the last one (an
offset from before a restart: a ``":memory:"`` store starts over at each start).
"""

import asyncio
from collections.abc import AsyncIterator
from itertools import count
from typing import Any

from aiohttp import web

from helpers.app import LOG
from helpers.delivery import Message, MessageStore
from helpers.sio import Origins, Refused, guard, socketio_app

STORE = web.AppKey("store", MessageStore)
CHAT = "chat"
"""The room of clients that receive chat messages: entered only once a client is caught up."""

MAX_TEXT = 500


def make_app(cors_allowed_origins: Origins = None, db: str = ":memory:") -> web.Application:
    # always_connect: accept first, so the connect handler may already send the replay
    app, sio = socketio_app(cors_allowed_origins=cors_allowed_origins, always_connect=True)
    log, store = app[LOG], MessageStore(db)
    guarded = guard(log)  # on every event: bad input is refused ({"error": ...}), never a crash
    app[STORE] = store

    async def open_store(app: web.Application) -> AsyncIterator[None]:
        with store:  # open while the server runs: a restart of this same app opens it again
            yield

    app.cleanup_ctx.append(open_store)
    nicks: dict[str, str] = {}  # sid -> nickname: who is online
    guests = count(1)
    turns = asyncio.Lock()  # a replay and a new message take turns: nothing lost, nothing doubled

    def nick_of(sid: str) -> str:
        return nicks.get(sid, "?")

    @sio.event
    async def connect(sid: str, environ: dict, auth: Any) -> None:
        auth = auth if isinstance(auth, dict) else {}
        nick = free_nick(auth.get("nick"))
        nicks[sid] = nick
        log(f"{nick} connected")
        await sio.emit("user connected", nick, skip_sid=sid)
        offset = auth.get("serverOffset")
        async with turns:  # no new message is stored or sent while we catch this client up
            if type(offset) is int:  # not isinstance: True and False are ints too
                if offset > store.last_id:  # from before a restart, which emptied the store
                    offset = 0
                for message in store.since(offset):
                    await sio.emit("chat message", wire(message), to=sid)
            await sio.enter_room(sid, CHAT)  # from now on it gets new messages live

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        nick = nicks.pop(sid, "?")
        log(f"{nick} disconnected")
        await sio.emit("user disconnected", nick)

    @sio.on("chat message")
    @guarded
    async def chat_message(sid: str, text: Any = None, client_offset: Any = None) -> dict:
        text = clean(text, "text", MAX_TEXT)
        offset = client_offset if isinstance(client_offset, str) else None
        async with turns:
            message, is_new = store.add(nick_of(sid), text, offset)
            if is_new:  # a retry of a stored message is acknowledged again, not sent again
                log(f"message: {message.line}")
                await sio.emit("chat message", wire(message), room=CHAT, skip_sid=sid)
        return {"id": message.id}

    @sio.event
    @guarded
    async def nick(sid: str, new: Any = None) -> dict:
        new, old = clean(new, "nickname", 32), nick_of(sid)
        if new != old:
            if new in nicks.values():
                raise Refused(f"nickname {new!r} is taken")
            nicks[sid] = new
            await sio.emit("nick changed", (old, new))
        return {"nick": new}

    @sio.event
    @guarded
    async def typing(sid: str, is_typing: Any = False) -> None:
        await sio.emit("typing", (nick_of(sid), bool(is_typing)), skip_sid=sid)

    @sio.event
    @guarded
    async def who(sid: str) -> dict:
        return {"users": sorted(nicks.values())}

    @sio.on("private message")
    @guarded
    async def private_message(sid: str, to: Any = None, text: Any = None) -> dict:
        to, text = clean(to, "nickname", 32), clean(text, "text", MAX_TEXT)
        target = next((other for other, name in nicks.items() if name == to), None)
        if target is None:
            raise Refused(f"{to!r} is not online")
        await sio.emit("private message", (nick_of(sid), text), to=target)
        return {"to": to}

    @sio.event
    @guarded
    async def join(sid: str, room: Any = None) -> dict:
        room = clean(room, "room", 32)
        await sio.enter_room(sid, room)
        return {"room": room, "members": members(room)}

    @sio.event
    @guarded
    async def leave(sid: str, room: Any = None) -> dict:
        room = clean(room, "room", 32)
        await sio.leave_room(sid, room)
        return {"room": room, "members": members(room)}

    @sio.on("room message")
    @guarded
    async def room_message(sid: str, room: Any = None, text: Any = None) -> dict:
        room, text = clean(room, "room", 32), clean(text, "text", MAX_TEXT)
        if room not in sio.rooms(sid):
            raise Refused(f"join {room!r} first")
        await sio.emit("room message", (room, nick_of(sid), text), room=room, skip_sid=sid)
        return {"room": room}

    def members(room: str) -> list[str]:
        return sorted(nick_of(sid) for sid, _ in sio.manager.get_participants("/", room))

    def free_nick(wanted: Any) -> str:
        """``wanted``, or ``wanted2``, ``wanted3``... if taken; ``guestN`` if not a nickname."""
        try:
            nick = clean(wanted, "nickname", 32)
        except Refused:
            nick = f"guest{next(guests)}"
        candidate, suffix = nick, 2
        while candidate in nicks.values():
            candidate, suffix = f"{nick}{suffix}", suffix + 1
        return candidate

    return app


def wire(message: Message) -> tuple[str, int, str | None]:
    """A ``chat message`` event's arguments: the line, its server offset, its client offset."""
    return message.line, message.id, message.client_offset


def clean(value: Any, field: str, limit: int) -> str:
    """``value`` as a trimmed, non-empty string of at most ``limit`` characters, or ``Refused``."""
    if not isinstance(value, str) or not value.strip():
        raise Refused(f"{field} must be non-empty text")
    if len(value) > limit:
        raise Refused(f"{field} is longer than {limit} characters")
    return value.strip()

