# Exported from notebooks/12-scaling-out.ipynb by `make export`: the cells marked
# `#| export stages.broadcast_bus`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 12, "Scaling out", as the workbook runs it."""

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import WSMsgType, web
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from helpers import LOG, PUBLIC, RATE_LIMIT, ServerLog
from helpers.stages import fast_broadcast
from helpers.stages.broadcast import CLIENTS, EXCEPT_SELF
from helpers.stages.echo import BINARY_REFUSED
from helpers.stages.fast_broadcast import OUTBOX, Outbox, room
from helpers.stages.receive import HEARTBEAT, MAX_MESSAGE, index

TICK = 1.0  # seconds: a listener that heard nothing for this long is called with None
RETRY = 0.5  # seconds between two tries to subscribe again, while Redis is gone
SUBSCRIBE_TIMEOUT = 3.0  # seconds a server waits at start for its subscription


class Bus:
    """One Redis channel: ``publish`` to every process; ``listen`` for what they publish."""

    def __init__(self, url: str, channel: str) -> None:
        self.url, self.channel = url, channel
        self.log = ServerLog()  # the server's own log once it runs
        self.host = uuid.uuid4().hex  # this process, on the bus
        self.redis: aioredis.Redis | None = None  # connected while the server runs
        self.up = False  # subscribed right now: what others publish reaches us
        self.subscribed = asyncio.Event()  # set at each subscription
        self.expected, self.beat_at = 1, 0.0  # processes listening, as of the last heartbeat

    async def publish(self, data: str) -> int | None:
        """How many processes got ``data`` (Redis counts them); ``None`` if Redis can't be reached."""
        try:
            return await self.redis.publish(self.channel, data)
        except (RedisError, OSError):
            return None

    async def hand(self, heard: Callable[[bytes | None], Awaitable[None]], data: bytes | None) -> None:
        """``heard(data)``; its bug goes to the server log, and the listening goes on."""
        try:
            await heard(data)
        except Exception as exc:
            self.log.error(f"a message from {self.channel!r}", exc)


async def beat(bus: Bus) -> None:
    """Say (for 3 s) that this process listens, and count the processes that do."""
    bus.beat_at = asyncio.get_running_loop().time()
    try:
        await bus.redis.set(f"{bus.channel}:{bus.host}", "listening", ex=3)
        bus.expected = len(await bus.redis.keys(f"{bus.channel}:*"))
    except (RedisError, OSError):
        pass  # Redis is down: the listener says so


async def listen(bus: Bus, heard: Callable[[bytes | None], Awaitable[None]]) -> None:
    """Call ``heard`` with each message, or ``None`` every ``TICK`` s; subscribe again if Redis goes."""
    while True:
        try:
            async with bus.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(bus.channel)
                bus.up = True
                bus.subscribed.set()
                bus.log(f"Subscribed to {bus.channel!r}.")
                while True:
                    if asyncio.get_running_loop().time() - bus.beat_at >= TICK:
                        await beat(bus)  # every second, busy or not
                    message = await pubsub.get_message(timeout=TICK)
                    await bus.hand(heard, message["data"] if message else None)
        except (RedisError, OSError) as exc:
            if bus.up:
                bus.log(f"Lost Redis ({type(exc).__name__}): subscribing again every {RETRY} s.")
            bus.up = False
            await bus.hand(heard, None)  # a quiet tick all the same
            await asyncio.sleep(RETRY)


BUS = web.AppKey("bus", Bus)
SENDERS = web.AppKey("senders", dict[int, web.WebSocketResponse])  # this process's, by number
COUNTER = itertools.count()  # their numbers


Heard = Callable[[web.Application, bytes | None], Awaitable[None]]


def use_bus(app: web.Application, url: str, channel: str, heard: Heard) -> None:
    """The app's ``Bus`` on ``channel``: it listens while the server runs, and stops with it."""
    app[BUS] = bus = Bus(url, channel)

    async def listening(app: web.Application) -> AsyncIterator[None]:
        bus.log = app[LOG]
        bus.redis, bus.subscribed = aioredis.Redis.from_url(bus.url), asyncio.Event()
        task = asyncio.create_task(listen(bus, lambda data: heard(app, data)))
        try:  # serve once subscribed: what others publish from now on reaches our clients
            await asyncio.wait_for(bus.subscribed.wait(), SUBSCRIBE_TIMEOUT)
        except TimeoutError:
            bus.log(f"Redis did not answer within {SUBSCRIBE_TIMEOUT} s: listening goes on trying.")
        yield
        await stop_listening(task)
        await bus.redis.aclose()
        bus.up = False

    app.cleanup_ctx.append(listening)


async def stop_listening(task: asyncio.Task) -> None:
    """Cancel ``task`` until it has ended (3 s at most: a task that won't end is left behind)."""
    for _ in range(30):
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=0.1)
        if done:
            if not task.cancelled():
                task.exception()  # looked at: asyncio won't print "never retrieved" later
            return


async def relay(request: web.Request) -> web.StreamResponse:
    """Each message goes to Redis, not to the clients: every process sends it to its own."""
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_MESSAGE)
    if not ws.can_prepare(request):
        return await index(request)
    await ws.prepare(request)
    app, bus = request.app, request.app[BUS]
    number = next(COUNTER)
    app[CLIENTS].add(ws)
    app[SENDERS][number] = ws
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await ws.send_str(BINARY_REFUSED)
            elif msg.type == WSMsgType.TEXT:
                await publish(app, bus, ws, number, msg.data)
    finally:
        app[CLIENTS].discard(ws)
        del app[SENDERS][number]
    return ws


async def publish(app: web.Application, bus: Bus, ws: web.WebSocketResponse, number: int, data: str) -> None:
    """One client's message to the bus; what went wrong, the client is told."""
    print(f"ws got: {data}")
    if not app[RATE_LIMIT].allow(ws):  # a flood would swamp every process, through Redis
        await ws.send_str(f"Not sent ({app[RATE_LIMIT].describe()}): {data}")
        return
    got = await bus.publish(json.dumps({"host": bus.host, "from": number, "text": data}))
    if got is None:  # told, not lost silently
        await ws.send_str(f"Not sent (the message bus is down, try again): {data}")
    elif got < bus.expected:  # a process has not subscribed again yet
        await ws.send_str(f"Only {got} of {bus.expected} servers got it (try again): {data}")
    await room(app[OUTBOX].behind)  # at once, unless a client is behind


def read_message(app: web.Application, data: bytes) -> dict | None:
    """A message from the bus as ``publish`` writes them, or ``None`` (dropped, and logged once)."""
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):
        message = None
    kinds = {"host": str, "from": int, "text": str}
    if isinstance(message, dict) and all(isinstance(message.get(k), kind) for k, kind in kinds.items()):
        return message
    app[LOG].once("bus message", f"Dropped a message from Redis that no server here sent: {data[:40]!r}")
    return None


async def fan_out(app: web.Application, data: bytes | None) -> None:
    """A message from the bus (any process's client): to every client of this process."""
    message = None if data is None else read_message(app, data)
    if message is None:
        return
    clients, sender = app[CLIENTS], None
    if app[EXCEPT_SELF] and message["host"] == app[BUS].host:
        sender = app[SENDERS].get(message["from"])
    sent = fast_broadcast.fast_broadcast(app, clients, message["text"], exclude=sender)
    app[LOG](f"Broadcasted data to {sent} ({len(clients)}) clients.")


def make_broadcast_app(except_self: bool = False, message_queue: str | None = None) -> web.Application:
    """Notebook 11's broadcast; with ``message_queue``, across every process on that Redis."""
    if message_queue is None:
        return fast_broadcast.make_app(except_self)
    app = web.Application()
    app[CLIENTS], app[EXCEPT_SELF], app[OUTBOX], app[SENDERS] = set(), except_self, Outbox(app), {}
    app.router.add_get("/", relay)
    app.router.add_static("/", PUBLIC)
    use_bus(app, message_queue, "broadcast", fan_out)
    return app
