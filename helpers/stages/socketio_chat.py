# Exported from notebooks/09-delivery-guarantees.ipynb by `make export`: the cells marked
# `#| export stages.socketio_chat`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 09, "Delivery guarantees", as the workbook runs it."""

import asyncio

import socketio
from aiohttp import web

from helpers import until_sent
from helpers.delivery import Message, MessageStore
from helpers.stages.socketio_basic import SIO
from helpers.stages.socketio_features import (
    MAX_TEXT,
    NICKS,
    SERVER_ROOMS,
    features_app,
    problem_with,
    welcome,
)

STORE = web.AppKey("store", MessageStore)
CHAT = "chat"  # the room of the clients that get chat messages live


def wire(message: Message) -> tuple[str, int, str | None]:
    """A ``chat message`` event's arguments: the line, its server offset, its client offset."""
    return message.line, message.id, message.client_offset


def replay_from(auth: object, last_id: int) -> int | None:
    """The server offset to replay from, for a client's ``auth``; ``None``: no replay.

    Only a whole number is an offset (``type``, not ``isinstance``: ``True`` is an int too).
    One beyond the newest id comes from before a restart, which emptied the store, and one
    below 0 is no id at all: both replay everything.
    """
    offset = auth.get("serverOffset") if isinstance(auth, dict) else None
    if type(offset) is not int:
        return None
    return offset if 0 <= offset <= last_id else 0


async def replay(app: web.Application, sid: str, messages: list[Message]) -> None:
    """Send ``messages`` to client ``sid`` alone, oldest first."""
    for message in messages:
        await app[SIO].emit("chat message", wire(message), to=sid)
        await asyncio.sleep(0)  # let another client's message in between two of these


def make_app(cors_allowed_origins: list[str] | None = None, db: str = ":memory:") -> web.Application:
    """Notebook 8's chat, with every message kept in ``db`` and replayed to who missed it."""
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        cors_allowed_origins=cors_allowed_origins,
        always_connect=True,  # connected before connect() runs: it can replay at once
    )
    return stored_chat_app(sio, db)


def stored_chat_app(sio: socketio.AsyncServer, db: str) -> web.Application:
    """Notebook 8's app on ``sio``, with a store in ``db`` and ``add_delivery``'s handlers."""
    app = features_app(sio)
    app[STORE], app[SERVER_ROOMS] = MessageStore(db), frozenset({CHAT})
    app.on_startup.append(open_store)
    app.on_cleanup.append(close_store)
    add_delivery(app)
    return app


async def open_store(app: web.Application) -> None:
    app[STORE].open()  # open while the server runs; the same app started again opens it again


async def close_store(app: web.Application) -> None:
    app[STORE].close()


REPLAY_BATCH = 50  # messages replayed at a time; between two batches, the others chat on


async def catch_up(app: web.Application, sid: str, offset: int | None, turns: asyncio.Lock) -> None:
    """Replay what came after ``offset`` a batch at a time, then put the client in the live chat."""
    if offset is not None:
        while True:
            batch = app[STORE].since(offset, limit=REPLAY_BATCH)
            if not batch:
                break
            await replay(app, sid, batch)
            await until_sent(app, sid, below=REPLAY_BATCH)  # it took them: its queue stays short
            offset = batch[-1].id
    async with turns:  # the few that came meanwhile, then live: no message in between
        if offset is not None:
            await replay(app, sid, app[STORE].since(offset))
        await app[SIO].enter_room(sid, CHAT)


def add_delivery(app: web.Application) -> None:
    """Notebook 8's ``connect`` and ``chat message``, with every message stored and replayed."""
    sio, store, nicks = app[SIO], app[STORE], app[NICKS]
    turns = asyncio.Lock()  # a replay's last step and a new message take turns

    @sio.event
    async def connect(sid, environ, auth):
        await welcome(app, sid, auth)
        await catch_up(app, sid, replay_from(auth, store.last_id), turns)

    @sio.on("chat message")
    async def chat_message(sid, text=None, client_offset=None):
        problem = problem_with(text, "text", MAX_TEXT)
        if problem:
            return {"error": problem}
        offset = client_offset if isinstance(client_offset, str) else None
        async with turns:
            message, is_new = store.add(nicks.get(sid, "?"), text.strip(), offset)
            if is_new:  # a resend of a stored message is acknowledged again, not sent again
                print(f"message: {message.line}")
                await sio.emit("chat message", wire(message), room=CHAT, skip_sid=sid)
        return {"id": message.id}
