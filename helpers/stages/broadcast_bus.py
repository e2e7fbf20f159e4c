# Exported from notebooks/12-scaling-out.ipynb by `make export`: the cells marked
# `#| export stages.broadcast_bus`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 12, "Scaling out", as the workbook runs it."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from helpers.app import LOG, SOCKETS, chat_app, text_messages, websocket_session
from helpers.log import ServerLog
from helpers.stages import fast_broadcast
from helpers.stages.broadcast import EXCEPT_SELF
from helpers.stages.fast_broadcast import OUTBOX, Outbox, room

TICK = 1.0  # seconds: a listener that heard nothing for this long is called with None
RETRY = 0.5  # seconds between two tries to subscribe again, while Redis is gone
SUBSCRIBE_TIMEOUT = 3.0  # seconds a server waits at start for its subscription


class Bus:
    """One Redis channel: ``publish`` to every process; ``listen`` for what they publish."""

    def __init__(self, url: str, channel: str, log: ServerLog) -> None:
        self.url, self.channel, self.log = url, channel, log
        self.redis: aioredis.Redis | None = None  # connected while the server runs
        self.up = False  # subscribed right now: what others publish reaches us
        self.subscribed = asyncio.Event()  # set at each subscription

    async def publish(self, data: str) -> bool:
        """``True`` once Redis took ``data``; ``False`` if Redis can't be reached."""
        try:
            await self.redis.publish(self.channel, data)
            return True
        except (RedisError, OSError):
            return False

    async def hand(self, heard: Callable[[bytes | None], Awaitable[None]], data: bytes | None) -> None:
        """``heard(data)``; its bug goes to the server log, and the listening goes on."""
        try:
            await heard(data)
        except Exception as exc:
            self.log.error(f"a message from {self.channel!r}", exc)


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
                    message = await pubsub.get_message(timeout=TICK)
                    await bus.hand(heard, message["data"] if message else None)
        except (RedisError, OSError) as exc:
            if bus.up:
                bus.log(f"Lost Redis ({type(exc).__name__}): subscribing again every {RETRY} s.")
            bus.up = False
            await bus.hand(heard, None)  # a quiet tick all the same
            await asyncio.sleep(RETRY)


BUS = web.AppKey("bus", Bus)
HOST = web.AppKey("host", str)  # this process's name on the bus


Heard = Callable[[web.Application, bytes | None], Awaitable[None]]


def use_bus(app: web.Application, url: str, channel: str, heard: Heard) -> None:
    """The app's ``Bus`` on ``channel``: it listens while the server runs, and stops with it."""
    app[BUS] = bus = Bus(url, channel, app[LOG])

    async def listening(app: web.Application) -> AsyncIterator[None]:
        bus.redis, bus.subscribed = aioredis.Redis.from_url(bus.url), asyncio.Event()
        task = asyncio.create_task(listen(bus, lambda data: heard(app, data)))
        try:  # serve once subscribed: what others publish from now on reaches our clients
            await asyncio.wait_for(bus.subscribed.wait(), SUBSCRIBE_TIMEOUT)
        except TimeoutError:
            bus.log(f"Redis did not answer within {SUBSCRIBE_TIMEOUT} s: listening goes on trying.")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bus.redis.aclose()
        bus.up = False

    app.cleanup_ctx.append(listening)


async def relay(request: web.Request) -> web.WebSocketResponse:
    """Each message goes to Redis, not to the clients: every process sends it to its own."""
    app, log = request.app, request.app[LOG]
    async with websocket_session(request) as ws:
        async for data in text_messages(ws, log):
            log(f"ws got: {data}")
            envelope = json.dumps({"host": app[HOST], "from": id(ws), "text": data})
            if not await app[BUS].publish(envelope):  # told, not lost silently
                await ws.send_str(f"Not sent (the message bus is down, try again): {data}")
            await room(app[OUTBOX].behind)  # at once, unless a client is behind
    return ws


async def fan_out(app: web.Application, data: bytes | None) -> None:
    """A message from the bus (any process's client): to every client of this process."""
    if data is None:
        return
    message = json.loads(data)
    clients, sender = app[SOCKETS], None
    if app[EXCEPT_SELF] and message["host"] == app[HOST]:
        sender = next((ws for ws in clients if id(ws) == message["from"]), None)
    sent = fast_broadcast.fast_broadcast(app, clients, message["text"], exclude=sender)
    app[LOG](f"Broadcasted data to {sent} ({len(clients)}) clients.")


def make_broadcast_app(except_self: bool = False, message_queue: str | None = None) -> web.Application:
    """Notebook 11's broadcast; with ``message_queue``, across every process on that Redis."""
    if message_queue is None:
        return fast_broadcast.make_app(except_self)
    app = chat_app(websocket=relay)
    app[EXCEPT_SELF], app[OUTBOX], app[HOST] = except_self, Outbox(app), uuid.uuid4().hex
    use_bus(app, message_queue, "broadcast", fan_out)
    return app
