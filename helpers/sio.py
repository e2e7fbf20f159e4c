"""Socket.IO on the workbook's server: a python-socketio ``AsyncServer`` on the app of ``chat_app()``.

Node's ``socket.io`` attaches to Express's HTTP server; here an ``AsyncServer`` attaches to
the aiohttp app that serves ``public/``, at the default path ``/socket.io/`` (notebook 07
builds it by hand; ``socketio_app()`` does the same for the later stages), and
``add_socketio_plumbing`` adds what a notebook needs around it:

- ``app[SIO]``: the server, where a handler finds it to emit;
- the browser client served from the pinned npm package at ``/vendor/socket.io/``
  (python-socketio does not serve ``/socket.io/socket.io.js`` as Node's socket.io does);
- stopping the server disconnects every client first, so ``stop_server()`` stays quick.

Event handlers take the app first, ``handler(app, sid, *arguments)``, so that a handler at
module level finds the stage's state under the app's keys, as an aiohttp handler does through
``request.app``. ``on_events`` registers them, each behind ``guard``: whatever a client
sends is refused with ``{"error": ...}`` or recorded in the log, never a silent crash.

Typical use, in a stage module::

    async def chat_message(app, sid, msg):
        await app[SIO].emit("chat message", msg)

    app, sio = socketio_app()
    on_events(app, {"chat message": chat_message})
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial, wraps
from pathlib import Path
from typing import Any

import socketio
from aiohttp import WSMessage, WSMsgType, web

from helpers.app import (
    LIMITS,
    LOG,
    RATE_LIMIT,
    SESSION_COUNTERS,
    Handler,
    allow_origins,
    chat_app,
    drop,
    websocket_of,
)
from helpers.limits import Limits, RateLimit
from helpers.log import ServerLog
from helpers.protocol import MAX_DEPTH, nesting
from helpers.sio_fanout import FanoutManager

__all__ = [
    "CLIENT_DIST",
    "CLIENT_VERSION",
    "SIO",
    "EventHandler",
    "REFUSED",
    "Refused",
    "TextPacket",
    "add_socketio_plumbing",
    "backlog",
    "guard",
    "hide_ids",
    "on_events",
    "quiet_logger",
    "socketio_app",
    "until_sent",
]

SIO = web.AppKey("sio", socketio.AsyncServer)

CLIENT_VERSION = "4.8.4"
"""The browser client's version: pinned in package.json, and the CDN fallback of socketio.mjs."""

CLIENT_DIST = Path(__file__).resolve().parent.parent / "node_modules" / "socket.io-client" / "dist"
"""Where ``npm ci`` (``make setup``) puts the browser client's bundles."""

SHUTDOWN_TIMEOUT = 1.5
"""Seconds to wait for clients to be told goodbye when the server stops."""

Origins = list[str] | Callable[[str], bool] | None


def socketio_app(
    *, cors_allowed_origins: Origins = None, always_connect: bool = False, message_queue: str | None = None
) -> tuple[web.Application, socketio.AsyncServer]:
    """``chat_app()`` plus a Socket.IO server at ``/socket.io/``, as notebook 07 builds it; returns both.

    ``message_queue`` (``redis://127.0.0.1:6390/0``) shares emits, rooms and private messages
    with every server process on the same Redis (python-socketio's ``AsyncRedisManager``,
    notebook 12); without it, emits reach this process's clients, one task for all of them.

    ``cors_allowed_origins=None`` (the default) accepts pages from this server only. Give a
    list of exact origins to accept others too; never ``'*'`` (anyone) nor ``[]`` (which
    turns the check off). ``always_connect=True`` accepts a connection before the connect
    handler runs, so that handler may already emit to the new client.
    """
    app = chat_app()
    log = app[LOG]
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        cors_allowed_origins=cors_allowed_origins,
        always_connect=always_connect,
        logger=log.logger("socket.io"),  # python-socketio's own loggers print to stderr
        engineio_logger=log.logger("engine.io"),
        max_http_buffer_size=app[LIMITS].message_bytes,  # over it: 1009 (websocket) or 400
        serializer=TextPacket,  # a text chat: binary attachments are refused, not read as text
        client_manager=client_manager(app, message_queue),
    )
    sio.attach(app)  # GET/POST/OPTIONS at /socket.io/
    add_socketio_plumbing(app, sio)
    if isinstance(cors_allowed_origins, list):  # the same pages may open a websocket at all
        allow_origins(app, *cors_allowed_origins)
    return app, sio


def client_manager(app: web.Application, message_queue: str | None) -> socketio.AsyncManager:
    """Who gets an emit: every process on ``message_queue``, else this process's clients, fast."""
    if message_queue is None:
        return FanoutManager()  # one emit to everyone: no task per client (notebook 11)
    manager = socketio.AsyncRedisManager(message_queue, logger=app[LOG].logger("socket.io"))
    app.on_startup.append(partial(_listen_from_the_start, manager))
    app.on_cleanup.append(partial(_close_queue, manager))
    return manager


SUBSCRIBE_TIMEOUT = 3.0
"""Seconds a server with a message queue waits at start for Redis to take its subscription."""


async def _listen_from_the_start(manager: socketio.AsyncRedisManager, app: web.Application) -> None:
    """Subscribe before serving, not at the first client as python-socketio does by itself.

    Otherwise what another process emits before this one has had a client (``* bob connected``
    to a client that just arrived here) is never heard here. ``manager_initialized`` tells the
    server not to initialize the manager again at its first client.
    """
    app[SIO].manager_initialized = True
    manager.initialize()  # starts its listener, which subscribes
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SUBSCRIBE_TIMEOUT
    while manager.pubsub is None or not manager.pubsub.subscribed:
        if loop.time() > deadline:
            app[LOG](f"Redis did not answer within {SUBSCRIBE_TIMEOUT:g} s: emits reach this process only, "
                     "until it does.")
            return
        await asyncio.sleep(0.01)


async def _close_queue(manager: socketio.AsyncRedisManager, app: web.Application) -> None:
    """Stop listening to Redis with the server: a stopped server in a kernel keeps no task behind.

    Started again, the server subscribes anew (``_listen_from_the_start``) on a new connection.
    """
    listener = getattr(manager, "thread", None)
    if isinstance(listener, asyncio.Future):
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    if manager.redis is not None:
        await manager.redis.aclose()
    manager.redis, manager.pubsub, manager.connected = None, None, False


def add_socketio_plumbing(app: web.Application, sio: socketio.AsyncServer) -> web.Application:
    """Keep ``sio`` at ``app[SIO]``, serve the browser client, hold it to the app's limits, and
    say goodbye quickly at stop.

    engine.io's websockets join the app's ``SOCKETS`` as any other (``helpers.app``), so a stop
    closes them with 1001 and they count as connections; its polling sessions count too.
    """
    app[SIO] = sio
    _hold_to_limits(app, sio)
    if CLIENT_DIST.is_dir():
        app.router.add_static("/vendor/socket.io/", CLIENT_DIST)
    app[SIO_TASKS], app[UPGRADES] = set(), weakref.WeakValueDictionary()
    app[NOTICES] = RateLimit(Limits(rate=1, burst=1))
    _track_background_tasks(sio, app[SIO_TASKS])
    app[SESSION_COUNTERS].append(partial(_polling_sessions, sio))
    app.on_response_prepare.append(_answer_unreadable_frames)
    app.middlewares.append(_one_websocket_per_session)
    app.on_startup.append(_monitor_again)
    app.on_startup.append(_start_watching_backlogs)
    app.on_shutdown.insert(0, _say_goodbye)  # before those websockets are closed
    sio.on(REFUSED_INPUT, partial(_refuse_input, app))
    sio.on("*", guard(app[LOG], "*", no_such_event, app))  # a stage's own "*" replaces it
    return app


async def no_such_event(app: web.Application, event: str, sid: str, *_: Any) -> dict:
    """An event no handler takes is refused, so a client waiting for its ack is not left waiting."""
    raise Refused("no such event")


NOTICES = web.AppKey("socket.io notices", RateLimit)
"""At most one ``refused`` event a second to a client sending too fast: the notice is no flood."""

SIO_TASKS = web.AppKey("socket.io tasks", set[asyncio.Task[Any]])
"""engine.io's and python-socketio's background tasks (pings, handlers): a stop ends them all."""


def _hold_to_limits(app: web.Application, sio: socketio.AsyncServer) -> None:
    """A server built by hand (notebook 07) gets what ``socketio_app`` passes as options."""
    sio.eio.max_http_buffer_size = min(sio.eio.max_http_buffer_size, app[LIMITS].message_bytes)
    if sio.packet_class is socketio.packet.Packet:
        sio.packet_class = TextPacket


def _track_background_tasks(sio: socketio.AsyncServer, tasks: set[asyncio.Task[Any]]) -> None:
    """Keep every task engine.io starts (through its public ``start_background_task``).

    engine.io starts a ``_send_ping`` task per client that sleeps a ping interval (25 s);
    its ``shutdown()`` leaves them asleep, so 50 starts and stops left 150 of them behind.
    """
    start = sio.eio.start_background_task

    def start_background_task(target: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = start(target, *args, **kwargs)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    sio.eio.start_background_task = start_background_task


def _polling_sessions(sio: socketio.AsyncServer) -> int:
    """Sessions not (yet) on a websocket: those on a websocket are in ``SOCKETS`` already."""
    return sum(1 for socket in list(sio.eio.sockets.values()) if not socket.upgraded)


EventHandler = Callable[..., Awaitable[Any]]
"""``handler(app, sid, *arguments)``; the catch-all ``"*"``: ``handler(app, event, sid, *arguments)``."""

def on_events(app: web.Application, events: Mapping[str, EventHandler]) -> None:
    """Register each ``events[name]`` on ``app[SIO]``: python-socketio's ``sio.on(name, ...)``, app first.

    ``connect`` (``app, sid, environ, auth``) and ``disconnect`` (``app, sid, reason``) are
    registered nearly as they are (an unreadable ``auth`` is refused before ``connect`` runs;
    ``disconnect`` forgets the client's rate limit); every other event behind ``guard``.
    ``"*"`` catches the events that have no handler of their own (by default, they are
    refused: ``no_such_event``). Registering an event again replaces its handler, on a
    running server too: the next event already goes to the new one.
    """
    sio, log = app[SIO], app[LOG]
    for event, handler in events.items():
        first = next(iter(inspect.signature(handler).parameters), None)
        if first != "app":  # python-socketio's own style, handler(sid, ...), would be refused later
            name = getattr(handler, "__name__", "handler")
            raise TypeError(f"{name} must take the app first: async def {name}(app, sid, ...)")
        if event == "disconnect":  # the client's rate-limit buckets go with it
            sio.on(event, partial(_forget_then, app, handler))
        elif event == "connect":  # an auth the server could not read is refused, with why
            sio.on(event, partial(_connect_unless_unreadable, app, handler))
        else:
            sio.on(event, guard(log, event, handler, app))


async def _forget_then(app: web.Application, handler: EventHandler, sid: str, *args: Any) -> Any:
    app[RATE_LIMIT].forget(sid)
    app[NOTICES].forget(sid)
    return await handler(app, sid, *args)


async def _monitor_again(app: web.Application) -> None:
    """The same app started again: engine.io restarts the ping monitor that the stop shut down.

    engine.io starts its monitor (which drops clients that stopped answering pings) at the
    first connection when ``start_service_task`` is set; ``shutdown()`` leaves it unset.
    """
    sio = app[SIO]
    if sio.eio.service_task_handle is None:
        sio.eio.start_service_task = True


async def _say_goodbye(app: web.Application) -> None:
    """Disconnect every client (they then don't retry), close the transports, stop the pings."""
    sio = app[SIO]
    sids = [sid for sid, _ in sio.manager.get_participants("/", None)]
    try:
        async with asyncio.timeout(SHUTDOWN_TIMEOUT):
            await asyncio.gather(*(sio.disconnect(sid) for sid in sids), return_exceptions=True)
            if sio.eio.sockets:
                await sio.eio.disconnect()
            if sio.eio.service_task_handle is not None:  # shutdown() is not idempotent
                await sio.shutdown()
    except TimeoutError:
        pass
    tasks = [task for task in app[SIO_TASKS] if task is not asyncio.current_task()]
    for task in tasks:  # pings asleep, handlers still waiting: none outlives the server
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT)


# --- what engine.io has no public API for: a client's backlog ----------------------------------

BACKLOG_CHECK_EVERY = 0.5
"""Seconds between two looks at the clients' backlogs."""


def backlog(app: web.Application, sid: str) -> int | None:
    """How many packets wait to be sent to client ``sid``; ``None`` once it is gone.

    engine.io queues each packet for a client (``socket.queue``) and a writer sends them as
    the client reads; a client that stops reading makes that queue, and the server, grow.
    """
    sio = app[SIO]
    eio_sid = sio.manager.eio_sid_from_sid(sid, "/")
    socket = sio.eio.sockets.get(eio_sid) if eio_sid is not None else None
    if socket is None or socket.closing or socket.closed:
        return None
    return socket.queue.qsize()


async def until_sent(app: web.Application, sid: str, *, below: int = 1) -> None:
    """Wait until fewer than ``below`` packets wait for client ``sid`` (or it is gone).

    A replay sends a batch, then waits here: it never piles a whole history into memory.
    """
    while (waiting := backlog(app, sid)) is not None and waiting >= below:
        await asyncio.sleep(0.005)


async def _start_watching_backlogs(app: web.Application) -> None:
    task = asyncio.get_running_loop().create_task(_watch_backlogs(app), name="watch backlogs")
    app[SIO_TASKS].add(task)
    task.add_done_callback(app[SIO_TASKS].discard)


async def _watch_backlogs(app: web.Application) -> None:
    """Drop a client with more than ``Limits.queue`` packets waiting: it stopped reading.

    Each drop runs on its own: a polling session's can wait for a poll, and must not hold
    up the others'.
    """
    sio, limits, dropping = app[SIO], app[LIMITS], set()
    while True:
        await asyncio.sleep(BACKLOG_CHECK_EVERY)
        for eio_sid, socket in list(sio.eio.sockets.items()):
            waiting = socket.queue.qsize()
            if waiting <= limits.queue or socket.closing or socket.closed or eio_sid in dropping:
                continue
            app[LOG].once("backlog", f"Dropped a client that stopped reading ({waiting} messages waiting).")
            dropping.add(eio_sid)
            task = asyncio.get_running_loop().create_task(_drop_session(app, eio_sid))
            app[SIO_TASKS].add(task)
            task.add_done_callback(app[SIO_TASKS].discard)
            task.add_done_callback(lambda _, sid=eio_sid: dropping.discard(sid))


async def _drop_session(app: web.Application, eio_sid: str) -> None:
    """Cut the session's connection: its websocket at once; a polling one as soon as it can."""
    ws = app[UPGRADES].get(eio_sid)
    environ = app[SIO].environ.get(eio_sid, {})
    if ws is None and "aiohttp.request" in environ:
        ws = websocket_of(environ["aiohttp.request"])  # it came in on a websocket directly
    if ws is not None and not ws.closed:  # (an upgrade that failed left a closed one behind)
        drop(ws)  # engine.io's handler sees the connection end, and disconnects the client
        return
    try:
        async with asyncio.timeout(SHUTDOWN_TIMEOUT):
            await app[SIO].eio.disconnect(eio_sid)
    except TimeoutError:
        pass  # it waits for a poll that may never come; engine.io's ping timeout ends it


# --- what a text chat refuses: binary attachments, unreadable packets, floods -------------------

REFUSED = "refused"
"""The event a client gets when the server refused what it sent: ``{"error": why}``."""

REFUSED_INPUT = "\x00refused input"
"""The event name ``TextPacket`` gives a packet the server refuses to read."""

UPGRADES = web.AppKey("socket.io upgrades", weakref.WeakValueDictionary[str, web.WebSocketResponse])

_ENGINEIO_TEXT = re.compile(r"[0-6b]")
"""How an engine.io text packet begins: its type (0-6), or ``b`` for base64 data."""


class TextPacket(socketio.packet.Packet):
    """Socket.IO packets for a text chat, python-socketio's ``serializer`` option.

    A packet with binary attachments (``451-["chat message",{"_placeholder":true,...}]``), a
    binary frame, or a packet python-socketio can't read is not taken: it is read as the event
    ``REFUSED_INPUT`` with the reason, which the server answers (``add_socketio_plumbing``).
    Without this, the text frame after ``451-[...]`` became the chat message's "attachment".
    """

    def decode(self, encoded_packet: str | bytes) -> int:
        if isinstance(encoded_packet, bytes):
            return self._refuse("binary data is not supported here; send text")
        connecting = encoded_packet[:1] == str(socketio.packet.CONNECT)
        if nesting(encoded_packet) > MAX_DEPTH:  # parsing recurses: a deep one would crash it
            return self._refuse(f"arguments nest deeper than {MAX_DEPTH} levels", connecting, encoded_packet)
        try:
            attachments = super().decode(encoded_packet) or 0
        except Exception:  # noqa: BLE001 - any packet it can't read is refused the same way
            return self._refuse(f"unreadable packet {encoded_packet[:40]!r}", connecting, encoded_packet)
        why = self._unusable()
        if why is not None:
            return self._refuse(why)
        return attachments

    def _unusable(self) -> str | None:
        """Why python-socketio could not use this packet (it would fail on it), or ``None``."""
        kind, data = self.packet_type, self.data
        if kind in (socketio.packet.BINARY_EVENT, socketio.packet.BINARY_ACK):
            return "binary attachments are not supported here; send text"
        if kind not in (socketio.packet.CONNECT, socketio.packet.DISCONNECT, *_READ_AS_LISTS):
            return f"packet type {kind} is not one a client sends"
        if kind in _READ_AS_LISTS and not isinstance(data, list):
            return "an event or acknowledgement carries a list"
        if kind == socketio.packet.EVENT and not (data and isinstance(data[0], str)):
            return "an event starts with its name"
        if kind == socketio.packet.EVENT and data[0] in RESERVED_EVENTS:
            return f"{data[0]!r} is a reserved event name"
        return None

    def _refuse(self, why: str, connecting: bool = False, encoded_packet: str = "") -> int:
        """Make this packet the refusal: an event ``REFUSED_INPUT``, or a connection ``UnreadableAuth``.

        An event refused before it was read keeps its acknowledgement id, when it has one, so
        a client waiting for the ack gets the reason.
        """
        if connecting:  # the handshake goes on, and the connect handler refuses it (on_events)
            self.packet_type, self.data = socketio.packet.CONNECT, UnreadableAuth(why)
        else:
            self.packet_type, self.data = socketio.packet.EVENT, [REFUSED_INPUT, why]
            if getattr(self, "id", None) is None and (found := _ACK_ID.match(encoded_packet)):
                self.id = int(found.group(1))
        self.attachment_count = 0
        if not isinstance(getattr(self, "namespace", None), str):
            self.namespace = None
        return 0


_READ_AS_LISTS = (socketio.packet.EVENT, socketio.packet.ACK)
"""The packets whose data python-socketio unpacks as arguments: anything but a list fails it."""

_ACK_ID = re.compile(r"[0-6](?:\d+-)?(?:/[^,]*,)?(\d{1,100})")
"""A packet's acknowledgement id: after its type, attachments and namespace (``421[...]``)."""


RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
"""Socket.IO's reserved event names: emitted by a client, python-socketio would call the
connection's own handlers (``connect(sid)``: a TypeError; ``disconnect``: a client gone while
it is still here)."""


@dataclass(frozen=True)
class UnreadableAuth:
    """A connection request whose ``auth`` could not be read: ``connect`` gets this, not a dict.

    No client can send it (it is no JSON), so it can't be faked; ``on_events`` refuses it.
    """

    why: str


async def _connect_unless_unreadable(
    app: web.Application, handler: EventHandler, sid: str, environ: dict, *auth: Any
) -> Any:
    """``connect``, unless the client's ``auth`` was unreadable: then refused, and told why.

    A stage with ``always_connect`` has already let the client in: it hears ``refused`` with
    the reason, then is disconnected. Otherwise the reason is its ``connect_error``.
    """
    if auth and isinstance(auth[0], UnreadableAuth):
        why = auth[0].why
        await _tell_refused(app, sid, why)
        raise socketio.exceptions.ConnectionRefusedError(why)
    return await handler(app, sid, environ, *auth)  # python-socketio retries without auth


async def _refuse_input(app: web.Application, sid: str, why: Any = None, *_: Any) -> dict:
    """Answer a refused packet: the reason as its acknowledgement and as a ``refused`` event.

    Held to the same rate limit as any event: past it, the answer is "too many messages",
    and the ``refused`` event comes at most once a second.
    """
    if not app[RATE_LIMIT].allow(sid):
        return await _too_fast(app, sid, '"refused input"')
    why = why if isinstance(why, str) else "refused"
    await _tell_refused(app, sid, why)
    return {"error": why}


async def _tell_refused(app: web.Application, sid: str, why: str) -> None:
    """Log a refused input (once per interval) and tell its client why: a ``refused`` event."""
    app[LOG].once("refused input", f"Refused a client's input: {why}.")
    await app[SIO].emit(REFUSED, {"error": why}, to=sid)


UPGRADE_TIMEOUT = 10.0
"""Seconds an upgrading session has to send engine.io's probe and its upgrade packet."""

_NOOP = "6"
"""engine.io's noop packet: in place of a probe or upgrade that never came, it fails the upgrade
(engine.io closes that websocket and the session goes on polling), where a timeout error would
leave the session marked as upgrading, its polls answered with noops and nothing else."""


@web.middleware
async def _one_websocket_per_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A session upgrades once: another websocket for the same ``sid`` is refused (400).

    engine.io waits for each upgrade's probe without a limit, so without this one session
    could hold any number of websockets open, past the connection cap.
    """
    sid = request.query.get("sid")
    if sid is not None and request.path.startswith("/socket.io/"):
        if request.headers.get("Upgrade", "").lower() == "websocket":
            existing = request.app[UPGRADES].get(sid)
            if existing is not None and not existing.closed:
                raise web.HTTPBadRequest(text="This session has a websocket already.\n")
    return await handler(request)


async def _answer_unreadable_frames(request: web.Request, response: web.StreamResponse) -> None:
    """A frame engine.io can't read (empty, say) is answered and skipped, not a dropped connection.

    engine.io ends the connection, with no close frame, at a text frame that is no engine.io
    packet (upstream treats it as fatal). aiohttp's ``on_response_prepare`` hands us engine.io's
    websocket before engine.io reads from it: its ``receive`` is wrapped to answer such frames
    with a ``refused`` event. An upgraded session's websocket is noted for ``_drop_session``.
    """
    if not isinstance(response, web.WebSocketResponse) or not request.path.startswith("/socket.io/"):
        return
    app = request.app
    upgrading = 2 if "sid" in request.query else 0  # the probe, then the upgrade packet
    if upgrading:
        app[UPGRADES][request.query["sid"]] = response
    receive = response.receive

    async def receive_readable(timeout: float | None = None) -> WSMessage:
        nonlocal upgrading
        while True:
            if upgrading:  # engine.io would wait for them for ever
                upgrading -= 1
                limit = UPGRADE_TIMEOUT if timeout is None else min(timeout, UPGRADE_TIMEOUT)
                try:
                    message = await receive(limit)
                except TimeoutError:  # engine.io's own "failed upgrade": the session polls on
                    return WSMessage(WSMsgType.TEXT, _NOOP, None)
            else:
                message = await receive(timeout)
            if message.type is not WSMsgType.TEXT or _ENGINEIO_TEXT.match(message.data):
                return message
            why = f"unreadable frame {message.data[:40]!r}: an engine.io packet starts with its type"
            app[LOG].once("unreadable frame", f"Refused a client's input: {why}.")
            await response.send_str("42" + json.dumps([REFUSED, {"error": why}]))

    response.receive = receive_readable  # type: ignore[method-assign]


class Refused(ValueError):
    """A request the server won't do; its text goes back in the acknowledgement."""


def guard(log: ServerLog, event: str, handler: EventHandler, app: web.Application) -> Callable:
    """``handler`` made safe against whatever a client sends, as python-socketio calls it.

    python-socketio calls ``handler(sid, *arguments)`` with whatever the client emitted, in a
    task of its own. Unguarded, an exception there ends that task: the client gets no answer,
    nothing reaches the server log, and the only trace is asyncio's "Task exception was never
    retrieved" on stderr, whenever the task is collected (in a notebook: in some random cell).
    Guarded, ``handler(app, sid, *arguments)`` runs and

    - arguments it can't take, or a ``Refused("why")`` it raises, are answered
      ``{"error": ...}`` and logged as ``Refused "event": ...``;
    - any other exception is recorded in ``log`` (shown at the top of the next cell) and
      answered ``{"error": "internal server error"}``.

    The answer is the acknowledgement, sent only when the client asked for one.
    """
    catch_all = event == "*"
    signature = inspect.signature(handler)
    leading = 3 if catch_all else 2  # app, (event,) sid
    params = list(signature.parameters.values())[leading:]
    names = [f"*{p.name}" if p.kind is p.VAR_POSITIONAL else p.name for p in params]
    takes = f"({', '.join(names)})" if names else "no arguments"

    @wraps(handler)
    async def guarded(*args: Any) -> Any:
        name = f'"{args[0] if catch_all and args else event}"'
        sid = args[1 if catch_all else 0] if len(args) > catch_all else None
        if not app[RATE_LIMIT].allow(sid):
            return await _too_fast(app, sid, name)
        try:
            try:
                signature.bind(app, *args)
            except TypeError:
                raise Refused(f"wrong arguments: {name} takes {takes}") from None
            return await handler(app, *args)
        except Refused as refused:  # one line per event and interval: a client's text is no key
            log.once(f"refused {event}", f"Refused {name}: {refused}")
            return {"error": str(refused)}
        except Exception as exc:
            log.error(f"Socket.IO handler for {name}", exc)
            return {"error": "internal server error"}

    return guarded


async def _too_fast(app: web.Application, sid: str | None, name: str) -> dict:
    """Refuse an event from a client over the rate limit: it hears why (at most once a second)."""
    why = app[RATE_LIMIT].describe()
    app[LOG].once("too fast", f"Refused {name} from a client: {why}.")
    if sid is not None and app[NOTICES].allow(sid):
        await app[SIO].emit(REFUSED, {"error": why}, to=sid)
    return {"error": why}


def quiet_logger(name: str = "socket.io client") -> logging.Logger:
    """A logger that says nothing, for clients: their connection errors are raised to us anyway."""
    logger = logging.Logger(name, level=logging.CRITICAL)
    logger.addHandler(logging.NullHandler())
    return logger


_IDS = re.compile(r'"(sid|pid)":"[^"]*"')


def hide_ids(frame: str) -> str:
    """A wire frame with its random session ids replaced by ``…``, so a notebook can print it."""
    return _IDS.sub(r'"\1":"…"', frame)
