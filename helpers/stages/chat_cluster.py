# Exported from notebooks/12-scaling-out.ipynb by `make export`: the cells marked
# `#| export stages.chat_cluster`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 12, "Scaling out", as the workbook runs it."""

import asyncio
import json
import sqlite3
import time
import uuid
from dataclasses import dataclass, field

import socketio
from aiohttp import web
from redis.exceptions import RedisError

from helpers import registered_handlers, until_sent
from helpers.stages import socketio_chat, socketio_features
from helpers.stages.broadcast_bus import BUS, use_bus
from helpers.stages.socketio_basic import SIO
from helpers.stages.socketio_chat import CHAT, REPLAY_BATCH, STORE, replay_from, wire
from helpers.stages.socketio_features import NICKS


@dataclass
class Node:
    """This process's share of the chat: its clients, and how far it sent them the stored chat."""

    host: str = field(default_factory=lambda: uuid.uuid4().hex)
    cursor: int = 0  # the last stored message this process sent its clients live
    ahead: dict[str, int] = field(default_factory=dict)  # sid -> its offset, when beyond the cursor
    local: dict[str, str | None] = field(default_factory=dict)  # sid -> resume key, of our clients
    shared_at: float = 0.0  # when this process last said who is online here


NODE = web.AppKey("node", Node)
TURNS = web.AppKey("turns", asyncio.Lock)  # delivering from the store and a replay take turns


async def deliver(app: web.Application) -> None:
    """Send this process's clients the stored messages after the cursor, oldest first.

    Every process does this, from the one shared store: all clients see one order.
    """
    node = app[NODE]
    async with app[TURNS]:
        for message in app[STORE].since(node.cursor):
            skip = [sid for sid, upto in node.ahead.items() if upto >= message.id]
            await app[SIO].emit("chat message", wire(message), room=CHAT, skip_sid=skip, ignore_queue=True)
            node.cursor = message.id
        node.ahead = {sid: upto for sid, upto in node.ahead.items() if upto > node.cursor}


async def replay_here(app: web.Application, sid: str, messages: list) -> None:
    """Notebook 9's ``replay``, to a client of this process without going through Redis."""
    for message in messages:
        await app[SIO].emit("chat message", wire(message), to=sid, ignore_queue=True)
        await asyncio.sleep(0)  # let another client's message in between two of these


async def store_and_ring(app: web.Application, sid: str, text: str, client_offset: object) -> dict:
    """Store the message once; ring the bell: every process delivers it from the store."""
    offset = client_offset if isinstance(client_offset, str) else None
    message, is_new = app[STORE].add(app[NICKS].get(sid, "?"), text, offset)
    if is_new:
        await app[BUS].publish("message")  # Redis down: the others find it at their next tick
    await deliver(app)
    return {"id": message.id}


ONLINE = """
CREATE TABLE IF NOT EXISTS online (
    sid TEXT PRIMARY KEY, nick TEXT UNIQUE, host TEXT, client TEXT, rooms TEXT
);
CREATE TABLE IF NOT EXISTS hosts (host TEXT PRIMARY KEY, seen REAL);
"""
HOST_TIMEOUT = 3.0  # seconds: a process not seen for this long is gone, with its clients
SHARE_EVERY = 1.0  # seconds between two heartbeats of a process, however busy
SOCKETIO_CHANNEL = "socketio"  # the Redis channel python-socketio's emits go through


def claim(app: web.Application, sid: str) -> bool:
    """Write our client ``sid`` as online; ``False`` if its nickname is another process's client's."""
    node = app[NODE]
    row = (sid, app[NICKS][sid], node.host, node.local[sid], json.dumps(app[SIO].rooms(sid)))
    try:
        app[STORE].db.execute("INSERT INTO online VALUES (?, ?, ?, ?, ?)", row)
    except sqlite3.IntegrityError:  # UNIQUE(nick): taken a moment ago, elsewhere
        return False
    return True


async def share_who(app: web.Application) -> None:
    """Write who is online here to the shared store; read who is online elsewhere into NICKS."""
    node, db, now = app[NODE], app[STORE].db, time.time()
    node.shared_at = now
    with db:  # one transaction: no other process writes in between
        db.execute("INSERT OR REPLACE INTO hosts VALUES (?, ?)", (node.host, now))
        db.execute("DELETE FROM hosts WHERE seen < ?", (now - HOST_TIMEOUT,))
        db.execute("DELETE FROM online WHERE host = ? OR host NOT IN (SELECT host FROM hosts)", (node.host,))
        mine = {sid: app[NICKS][sid] for sid in node.local if sid in app[NICKS]}  # named yet
        clashes = [sid for sid in mine if not claim(app, sid)]
    others = db.execute("SELECT sid, nick FROM online WHERE host != ?", (node.host,)).fetchall()
    app[NICKS].clear()  # the same dict: notebook 8's handlers read it
    app[NICKS].update({**dict(others), **mine})
    for sid in clashes:  # the other process wrote this nickname first: ours takes another
        old = app[NICKS][sid]
        app[NICKS][sid] = socketio_features.free_nick(app, old)
        with db:
            claim(app, sid)
        await app[SIO].emit("nick changed", (old, app[NICKS][sid]))


async def until_online(app: web.Application, nick: str, timeout: float = 5.0) -> None:
    """Wait until the shared store lists ``nick``: every process has been told it arrived."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while app[STORE].db.execute("SELECT 1 FROM online WHERE nick = ?", (nick,)).fetchone() is None:
        if loop.time() > deadline:
            raise TimeoutError(f"{nick} is not online after {timeout} s")
        await asyncio.sleep(0.02)


BELLS = (None, b"message", b"who")  # a quiet tick, and what store_and_ring and told_everyone publish


async def on_bell(app: web.Application, data: bytes | None) -> None:
    """The bell (or a quiet tick): deliver what is new, and say and learn who is online."""
    if data not in BELLS:  # no server of this chat rings that: dropped, logged once
        app[BUS].log.once("bell", f"Dropped a message from Redis that no server here sent: {data[:40]!r}")
        return
    if app[STORE].db is not None:  # the server runs
        if data != b"message" or time.time() - app[NODE].shared_at >= SHARE_EVERY:
            await share_who(app)
        await deliver(app)


async def told_everyone(app: web.Application) -> None:
    await share_who(app)
    await app[BUS].publish("who")


async def arrive(app: web.Application, sid: str, auth: object) -> None:
    """Notebook 9's connect, for many processes: the replay stops at this process's cursor."""
    key = auth.get("resumeKey") if isinstance(auth, dict) else None
    node = app[NODE]
    node.local[sid] = key if isinstance(key, str) and len(key) >= 16 else None
    if node.local[sid] is not None:  # this client, connected elsewhere: on a server that died?
        await take_over(app, node.local[sid])
    await socketio_features.welcome(app, sid, auth)
    await told_everyone(app)
    offset = replay_from(auth, app[STORE].last_id)
    if offset is not None:
        while batch := [m for m in app[STORE].since(offset, limit=REPLAY_BATCH) if m.id <= node.cursor]:
            await replay_here(app, sid, batch)
            await until_sent(app, sid, below=REPLAY_BATCH)
            offset = batch[-1].id
    async with app[TURNS]:  # up to the cursor now; after it, deliver() sends the rest
        if offset is not None:
            await replay_here(app, sid, [m for m in app[STORE].since(offset) if m.id <= node.cursor])
            if offset > node.cursor:
                node.ahead[sid] = offset
        await app[SIO].enter_room(sid, CHAT)


async def take_over(app: web.Application, key: str) -> None:
    """This client's earlier connection, on another process, is over: its nickname is free again.

    ``key`` is a secret of the client's (``resumeKey`` in ``auth``), which it sends to no one else.
    """
    with app[STORE].db as db:
        query = "DELETE FROM online WHERE client = ? AND host != ? RETURNING sid"
        earlier = db.execute(query, (key, app[NODE].host)).fetchall()
    await share_who(app)
    for (sid,) in earlier:  # if that process still runs, it lets the client go
        await app[SIO].disconnect(sid)


def members(app: web.Application, room: str) -> list[str]:
    """Who is in ``room``, on every process."""
    rows = app[STORE].db.execute("SELECT nick, rooms FROM online").fetchall()
    return sorted(nick for nick, rooms in rows if room in json.loads(rooms))


async def everyone_listens(app: web.Application) -> bool:
    """Whether an emit now reaches every process: those subscribed to python-socketio's channel.

    After Redis restarts, python-socketio waits 1, 2, 4... s to subscribe again: what it would
    miss meanwhile is refused instead.
    """
    alive = time.time() - HOST_TIMEOUT
    processes = app[STORE].db.execute("SELECT COUNT(*) FROM hosts WHERE seen >= ?", (alive,)).fetchone()[0]
    try:
        ((_, listening),) = await app[BUS].redis.pubsub_numsub(SOCKETIO_CHANNEL)
    except (RedisError, OSError):
        listening = 0
    return listening >= processes


def add_presence(app: web.Application) -> None:
    """Who is online, on every process: notebook 9's handlers, each wrapped to share it."""
    sio = app[SIO]
    earlier = registered_handlers(sio)  # notebook 9's, registered by its make_app

    @sio.event
    async def connect(sid, environ, auth):
        await arrive(app, sid, auth)

    @sio.event
    async def disconnect(sid, reason):
        app[NODE].local.pop(sid, None)
        app[NODE].ahead.pop(sid, None)
        await earlier["disconnect"](sid, reason)
        await told_everyone(app)

    @sio.event
    async def who(sid):
        await share_who(app)  # the shared store is the truth; the bell may still be on its way
        return await earlier["who"](sid)

    @sio.event
    async def nick(sid, new=None):
        await share_who(app)
        answer = await earlier["nick"](sid, new)
        await told_everyone(app)
        return answer

    @sio.event
    async def join(sid, room=None):
        answer = await earlier["join"](sid, room)
        await told_everyone(app)
        return answer if "error" in answer else {**answer, "members": members(app, answer["room"])}

    @sio.event
    async def leave(sid, room=None):
        answer = await earlier["leave"](sid, room)
        await told_everyone(app)
        return answer if "error" in answer else {**answer, "members": members(app, answer["room"])}


def add_messages(app: web.Application) -> None:
    """Chat messages through the shared store; private and room messages only when all can hear."""
    sio = app[SIO]
    earlier = registered_handlers(sio)

    @sio.on("chat message")
    async def chat_message(sid, text=None, client_offset=None):
        problem = socketio_features.problem_with(text, "text", socketio_features.MAX_TEXT)
        if problem:
            return {"error": problem}
        return await store_and_ring(app, sid, text.strip(), client_offset)

    @sio.on("private message")
    async def private_message(sid, to=None, text=None):
        await share_who(app)
        if not await everyone_listens(app):
            return {"error": "a private message can't reach every server now: try again"}
        return await earlier["private message"](sid, to, text)

    @sio.on("room message")
    async def room_message(sid, room=None, text=None):
        if not await everyone_listens(app):
            return {"error": "a room message can't reach every server now: try again"}
        return await earlier["room message"](sid, room, text)


def make_app(
    cors_allowed_origins: list[str] | None = None, db: str = ":memory:", message_queue: str | None = None
) -> web.Application:
    """Notebook 9's chat; with ``message_queue``, one chat across every process on that Redis.

    The processes share ``db`` too (a file): its ids give every message one place in one order.
    """
    if message_queue is None:
        return socketio_chat.make_app(cors_allowed_origins, db)
    if db == ":memory:":
        raise ValueError("processes sharing a message queue share their messages too: give db a file")
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        cors_allowed_origins=cors_allowed_origins,
        always_connect=True,
        # every emit through Redis, on a channel of ours
        client_manager=socketio.AsyncRedisManager(message_queue, channel=SOCKETIO_CHANNEL),
    )
    app = socketio_chat.stored_chat_app(sio, db)
    app[NODE], app[TURNS] = Node(), asyncio.Lock()
    app.on_startup.append(open_shared)  # after notebook 9's open_store
    app.on_cleanup.insert(0, close_shared)  # before notebook 9's close_store
    use_bus(app, message_queue, "chat", on_bell)
    add_presence(app)
    add_messages(app)
    return app


async def open_shared(app: web.Application) -> None:
    """The store is open (notebook 9's ``open_store``): let processes share it, and start live."""
    db = app[STORE].db
    db.execute("PRAGMA journal_mode=WAL")  # readers and a writer, in many processes, at once
    db.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a power cut may lose the last few
    db.executescript(ONLINE)
    app[NODE].cursor = app[STORE].last_id  # clients get older messages by replay, not live


async def close_shared(app: web.Application) -> None:
    with app[STORE].db as db:  # our clients are not online any more
        db.execute("DELETE FROM online WHERE host = ?", (app[NODE].host,))
        db.execute("DELETE FROM hosts WHERE host = ?", (app[NODE].host,))
