# Exported from notebooks/09-delivery-guarantees.ipynb by `make export`: the cells marked
# `#| export stages.socketio_chat`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 09, "Delivery guarantees", as the workbook runs it."""

import asyncio
from collections.abc import AsyncIterator
from itertools import count
from typing import Any

from aiohttp import web

from helpers.app import LOG
from helpers.delivery import Message, MessageStore
from helpers.sio import SIO, Origins, on_events, socketio_app, until_sent
from helpers.stages.socketio_features import EVENTS as FEATURES
from helpers.stages.socketio_features import GUESTS, MAX_TEXT, NICKS, SERVER_ROOMS, clean, nick_of
from helpers.stages.socketio_features import connect as welcome

STORE = web.AppKey("store", MessageStore)
TURNS = web.AppKey("turns", asyncio.Lock)  # a replay and a new message take turns
CHAT = "chat"  # the room of the clients that get chat messages live: entered once caught up


def wire(message: Message) -> tuple[str, int, str | None]:
    """A ``chat message`` event's arguments: the line, its server offset, its client offset."""
    return message.line, message.id, message.client_offset


EVENTS = dict(FEATURES)  # notebook 8's handlers; the cells below replace two of them


REPLAY_BATCH = 50
"""Messages replayed at a time; between two batches, the chat goes on for everyone else."""


def replay_from(auth: Any, last_id: int) -> int | None:
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


async def connect(app: web.Application, sid: str, environ: dict, auth: Any) -> None:
    """Notebook 8's welcome, then a replay of what the client missed, then the live chat."""
    await welcome(app, sid, environ, auth)
    offset = replay_from(auth, app[STORE].last_id)
    if offset is not None:  # a batch at a time, sent before the next: others chat meanwhile
        while batch := app[STORE].since(offset, limit=REPLAY_BATCH):
            await replay(app, sid, batch)
            await until_sent(app, sid, below=REPLAY_BATCH)
            offset = batch[-1].id
    async with app[TURNS]:  # the few that came meanwhile, then live: no message in between
        if offset is not None:
            await replay(app, sid, app[STORE].since(offset))
        await app[SIO].enter_room(sid, CHAT)  # from now on it gets new messages live


EVENTS["connect"] = connect


async def chat_message(
    app: web.Application, sid: str, text: Any = None, client_offset: Any = None
) -> dict:
    """Store the message once (by its client offset), send it once, answer with its id."""
    text = clean(text, "text", MAX_TEXT)
    offset = client_offset if isinstance(client_offset, str) else None
    async with app[TURNS]:
        message, is_new = app[STORE].add(nick_of(app, sid), text, offset)
        if is_new:  # a resend of a stored message is acknowledged again, not sent again
            app[LOG](f"message: {message.line}")
            await app[SIO].emit("chat message", wire(message), room=CHAT, skip_sid=sid)
    return {"id": message.id}


EVENTS["chat message"] = chat_message


def make_app(
    cors_allowed_origins: Origins = None, db: str = ":memory:", message_queue: str | None = None
) -> web.Application:
    """Notebook 8's chat, with every message kept in ``db`` and replayed to who missed it.

    ``message_queue`` (a Redis URL) shares its emits with other processes: notebook 12.
    """
    app, _ = socketio_app(
        cors_allowed_origins=cors_allowed_origins, always_connect=True, message_queue=message_queue
    )
    app[NICKS], app[GUESTS], app[SERVER_ROOMS] = {}, count(1), frozenset({CHAT})
    app[STORE], app[TURNS] = MessageStore(db), asyncio.Lock()
    app.cleanup_ctx.append(open_store)
    on_events(app, EVENTS)
    return app


async def open_store(app: web.Application) -> AsyncIterator[None]:
    with app[STORE]:  # open while the server runs; the same app started again opens it again
        yield
