"""What ``start_server`` gives a python-socketio server it finds on an app: notebook 10's defenses.

The notebooks teach python-socketio as its documentation writes it::

    sio = socketio.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    sio.attach(app)

    @sio.on("chat message")
    async def chat_message(sid, msg):
        await sio.emit("chat message", msg)

``start_server(app)`` finds that server on the app (``socketio_server_of``: the routes
``attach`` added lead to it) and holds it to the class's limits (``hold_socketio``), without
a line of the student's code changing:

- ``app[SIO]`` is the server, for the workbook's tools (the panel, the checkers);
- its log lines go to the server log, not to stderr, and what its handlers print too;
- every event is guarded: a client over the rate limit, with arguments the handler can't
  take, or with an event no handler takes, is answered ``{"error": ...}`` in the
  acknowledgement; an exception in a handler is recorded (shown at the next cell) and
  answered ``{"error": "internal server error"}``: never a silent crash;
- what a text chat can't read (binary attachments, frames engine.io can't parse, nesting
  deeper than ``MAX_DEPTH``) is refused with a reason, and the connection goes on;
- a client that stops reading is dropped at ``Limits.queue`` packets waiting; a session
  upgrades once; a session counts as a connection once its client joined (sent CONNECT),
  and one that does not join within ``Limits.connect_grace`` is closed (``helpers.sio_sessions``);
- its emits go out through ``FanoutManager`` (notebook 11) unless the app chose a manager;
- stopping the server disconnects every client first, and leaves no task behind;
- the browser client is served from the pinned npm package at ``/vendor/socket.io/``
  (python-socketio does not serve ``/socket.io/socket.io.js`` as Node's socket.io does).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial, wraps
from pathlib import Path
from typing import Any

import engineio.base_server
import socketio
import socketio.base_server
from aiohttp import WSMessage, WSMsgType, web

from helpers.app import (
    LIMITS,
    LOG,
    RATE_LIMIT,
    SESSION_COUNTERS,
    SOCKETIO_PATH,
    SOCKETIO_PREFIX,
    Handler,
    allow_origins,
    drop,
    is_socketio,
    websocket_of,
)
from helpers.limits import Limits, RateLimit
from helpers.protocol import MAX_DEPTH, nesting
from helpers.sio_fanout import FanoutManager
from helpers.sio_frames import use_batched_websockets
from helpers.sio_redis import share_through_redis as _share_through_redis
from helpers.sio_sessions import SESSIONS, Sessions

__all__ = [
    "CLIENT_DIST",
    "CLIENT_VERSION",
    "SIO",
    "REFUSED",
    "TextPacket",
    "backlog",
    "hide_ids",
    "hold_socketio",
    "quiet_logger",
    "socketio_server_of",
    "until_sent",
]

SIO = web.AppKey("sio", socketio.AsyncServer)
"""The python-socketio server ``start_server`` found on the app (the workbook's own key)."""

CLIENT_VERSION = "4.8.4"
"""The browser client's version: pinned in package.json, and the CDN fallback of socketio.mjs."""

CLIENT_DIST = Path(__file__).resolve().parent.parent / "node_modules" / "socket.io-client" / "dist"
"""Where ``npm ci`` (``make setup``) puts the browser client's bundles."""

SHUTDOWN_TIMEOUT = 1.5
"""Seconds to wait for clients to be told goodbye when the server stops."""

def socketio_server_of(app: web.Application) -> socketio.AsyncServer | None:
    """The python-socketio server attached to ``app`` (``sio.attach(app)``), if there is one.

    ``attach`` routes ``/socket.io/`` to its engine.io server's ``handle_request``; that
    engine.io server hands every connection to the python-socketio server that made it.
    """
    if SIO in app:
        return app[SIO]
    for route in app.router.routes():
        eio = getattr(route.handler, "__self__", None)
        if isinstance(eio, engineio.AsyncServer):
            connect = eio.handlers.get("connect")  # (wrapped by ``_follow_sessions`` once held)
            sio = getattr(inspect.unwrap(connect) if callable(connect) else None, "__self__", None)
            if isinstance(sio, socketio.AsyncServer):
                return sio
    return None


_SERVING: weakref.WeakKeyDictionary[socketio.AsyncServer, web.Application] = weakref.WeakKeyDictionary()
"""The app each held python-socketio server serves now: one ``sio`` may serve a new app at each
start (a module-level ``sio`` that every ``make_app()`` attaches), and its guards follow it."""

_OUR_LOGGERS: weakref.WeakSet[logging.Logger] = weakref.WeakSet()
"""The loggers ``hold_socketio`` gave a server: moved to the new app's log when it serves another."""


def hold_socketio(app: web.Application) -> socketio.AsyncServer | None:
    """Hold the app's python-socketio server, if it has one, to the class's limits (idempotent).

    ``start_server`` calls it, after ``add_plumbing``, before the app starts. What is installed
    on the server itself (its guards, its task tracking) is installed once, and serves the
    app it serves now; what belongs to the app (its routes, its hooks) goes on each app.
    """
    sio = socketio_server_of(app)
    if sio is None or SIO in app:
        return sio
    first = sio not in _SERVING
    _SERVING[sio] = app
    app[SIO] = sio
    _log_to(app, sio)
    if type(sio.manager) is socketio.AsyncManager and not sio.manager_initialized:
        sio.manager = FanoutManager()  # the same emits, without a task per client
        sio.manager.set_server(sio)
    sio.eio.max_http_buffer_size = min(sio.eio.max_http_buffer_size, app[LIMITS].message_bytes)
    if sio.packet_class is socketio.packet.Packet:
        sio.packet_class = TextPacket
    if isinstance(sio.eio.cors_allowed_origins, list):  # the same pages may open a websocket at all
        allow_origins(app, *sio.eio.cors_allowed_origins)
    if CLIENT_DIST.is_dir():
        app.router.add_static("/vendor/socket.io/", CLIENT_DIST)
    app[SIO_TASKS], app[UPGRADES] = set(), weakref.WeakValueDictionary()
    app[NOTICES] = RateLimit(Limits(rate=1, burst=1))
    app[SOCKETIO_PREFIX] = _prefix(app, sio)
    if first:
        use_batched_websockets(sio.eio)  # a turn's frames to a client in one write (helpers.sio_frames)
        _track_background_tasks(sio)
        _guard_events(sio)
        _follow_sessions(sio)
        sio.on(REFUSED_INPUT, partial(_refuse_input, sio))
    app[SESSIONS] = Sessions(sio, app[LIMITS])  # newcomers apart, closed after a grace
    app[SESSION_COUNTERS].append(app[SESSIONS])
    app.on_response_prepare.append(_answer_unreadable_frames)
    app.middlewares.insert(1, _one_websocket_per_session)  # inside the plumbing's first, around the app's
    app.on_startup.append(_monitor_again)
    app.on_startup.append(_start_watching_backlogs)
    app.on_startup.append(_start_sweeping_newcomers)
    app.on_shutdown.insert(0, _say_goodbye)  # before those websockets are closed
    if isinstance(sio.manager, socketio.AsyncRedisManager):
        _share_through_redis(app, sio.manager)
    return sio


def _log_to(app: web.Application, sio: socketio.AsyncServer) -> None:
    """The server's and engine.io's log lines go to the app's log, not to stderr.

    Only python-socketio's default loggers at their default level are replaced (or ours, from
    an earlier app): a server made with ``logger=True`` keeps what it asked for.
    """
    log = app[LOG]
    for owner, default, name in [
        (sio, socketio.base_server.default_logger, "socket.io"),
        (sio.eio, engineio.base_server.default_logger, "engine.io"),
    ]:
        quiet_default = owner.logger is default and owner.logger.level >= logging.ERROR
        if quiet_default or owner.logger in _OUR_LOGGERS:
            owner.logger = log.logger(name)
            _OUR_LOGGERS.add(owner.logger)


def _prefix(app: web.Application, sio: socketio.AsyncServer) -> str:
    """Where ``sio.attach`` serves on ``app`` (``/socket.io/`` unless ``socketio_path`` says otherwise)."""
    for route in app.router.routes():
        if getattr(route.handler, "__self__", None) is sio.eio:
            return route.resource.canonical.rstrip("/") + "/"
    return SOCKETIO_PATH


# --- every event guarded: what python-socketio would lose, answered and recorded ---------------


def _guard_events(sio: socketio.AsyncServer) -> None:
    """Route every event python-socketio dispatches through ``_guarded``.

    python-socketio calls each handler in a task of its own with whatever the client sent.
    Unguarded, arguments it can't take or an exception in it end that task: the client gets
    no acknowledgement, nothing reaches the server log, and the only trace is asyncio's "Task
    exception was never retrieved" on stderr, in a notebook in some random cell.
    ``_trigger_event`` is where python-socketio 5 calls every handler (connect, disconnect,
    events, catch-alls), the one place to guard them all, whenever they were registered.
    The guard answers to the app the server serves now.
    """
    trigger = sio._trigger_event

    async def guarded(event: str, namespace: str, *args: Any) -> Any:
        app = _SERVING[sio]
        if event == "connect":
            return await _connect_counted(app, sio, trigger, namespace, *args)
        if event == "disconnect":
            return await _disconnect_guarded(app, trigger, namespace, *args)
        return await _event_guarded(app, sio, trigger, event, namespace, *args)

    sio._trigger_event = guarded  # type: ignore[method-assign]


async def _connect_guarded(
    app: web.Application, sio: socketio.AsyncServer, trigger: Callable, namespace: str, *args: Any
) -> Any:
    """``connect``, unless the client's ``auth`` was unreadable: then refused, and told why.

    A server with ``always_connect`` has already let the client in: it hears ``refused`` with
    the reason, then is disconnected. Otherwise the reason is its ``connect_error``. A bug in
    the handler refuses the connection too, recorded for the next cell. A handler that takes
    no ``auth`` gets a ``TypeError`` here, as python-socketio expects: it calls it again without.
    """
    sid, _, *auth = args
    if auth and isinstance(auth[0], UnreadableAuth):
        why = auth[0].why
        await _tell_refused(app, sid, why)
        raise socketio.exceptions.ConnectionRefusedError(why)
    handler, call_args = sio._get_event_handler("connect", namespace, args)
    if handler is None:  # a class-based namespace's on_connect, or none: python-socketio's own rules
        return await trigger("connect", namespace, *args)
    try:
        _signature(handler).bind(*call_args)
    except TypeError:
        if len(args) == 3 and args[2] is None:
            raise  # it takes no auth, and the client sent none: python-socketio calls it again without
        why = f"connect takes {_takes(handler, 1)}, and the client sent its auth"
        app[LOG].error('Socket.IO handler for "connect"', TypeError(why))
        raise socketio.exceptions.ConnectionRefusedError("internal server error") from None
    try:
        return await trigger("connect", namespace, *args)
    except (socketio.exceptions.ConnectionRefusedError, ConnectionRefusedError):
        raise  # a refusal the handler meant: python-socketio tells the client
    except Exception as exc:
        app[LOG].error('Socket.IO handler for "connect"', exc)
        raise socketio.exceptions.ConnectionRefusedError("internal server error") from None


async def _disconnect_guarded(app: web.Application, trigger: Callable, namespace: str, *args: Any) -> Any:
    """``disconnect``: the client's rate-limit buckets go with it; a bug in it is recorded."""
    sid = args[0] if args else None
    app[RATE_LIMIT].forget(sid)
    app[NOTICES].forget(sid)
    try:
        return await trigger("disconnect", namespace, *args)
    except Exception as exc:
        app[LOG].error('Socket.IO handler for "disconnect"', exc)
        return None


async def _event_guarded(
    app: web.Application, sio: socketio.AsyncServer, trigger: Callable, event: str, namespace: str, *args: Any
) -> Any:
    """An event: held to the rate limit, its arguments checked, its errors answered and recorded."""
    name = '"refused input"' if event == REFUSED_INPUT else f'"{event}"'
    sid = args[0] if args else None
    if not app[RATE_LIMIT].allow(sid):
        return await _too_fast(app, sid, name)
    handler, call_args = sio._get_event_handler(event, namespace, args)
    if handler is None and sio._get_namespace_handler(namespace, args)[0] is None:
        app[LOG].once(f"no handler {event}", f"Refused {name}: no such event")
        return {"error": "no such event"}
    try:
        if handler is not None:  # a class-based namespace checks its own arguments
            _signature(handler).bind(*call_args)
    except TypeError:
        why = f"wrong arguments: {name} takes {_takes(handler, len(call_args) - len(args) + 1)}"
        app[LOG].once(f"refused {event}", f"Refused {name}: {why}")
        return {"error": why}
    try:
        answer = await trigger(event, namespace, *args)
    except Exception as exc:
        app[LOG].error(f"Socket.IO handler for {name}", exc)
        return {"error": "internal server error"}
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):  # the handler refused it
        app[LOG].once(f"refused {event}", f"Refused {name}: {answer['error']}")
    return answer


def _signature(handler: Callable) -> inspect.Signature:
    """The signature python-socketio calls: the handler's own, not the one a decorator wraps."""
    return inspect.signature(handler, follow_wrapped=False)


def _takes(handler: Callable, leading: int) -> str:
    """What a handler takes after its ``leading`` parameters (``sid``; a catch-all's ``event, sid``)."""
    params = list(_signature(handler).parameters.values())[leading:]
    names = [f"*{p.name}" if p.kind is p.VAR_POSITIONAL else p.name for p in params]
    return f"({', '.join(names)})" if names else "no arguments"



NOTICES = web.AppKey("socket.io notices", RateLimit)
"""At most one ``refused`` event a second to a client sending too fast: the notice is no flood."""

SIO_TASKS = web.AppKey("socket.io tasks", set[asyncio.Task[Any]])
"""engine.io's and python-socketio's background tasks (pings, handlers): a stop ends them all."""


def _track_background_tasks(sio: socketio.AsyncServer) -> None:
    """Keep every task engine.io starts (through its public ``start_background_task``).

    engine.io starts a ``_send_ping`` task per client that sleeps a ping interval (25 s);
    its ``shutdown()`` leaves them asleep, so 50 starts and stops left 150 of them behind.
    Each task is kept in the tasks of the app the server serves now; a newcomer's ping task
    is noted, to be cancelled when the newcomer is closed (``Sessions.ping_started``).
    """
    start = sio.eio.start_background_task

    def start_background_task(target: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
        app = _SERVING[sio]
        task = _keep(app, start(target, *args, **kwargs))
        if SESSIONS in app:
            app[SESSIONS].ping_started(target, task)
        return task

    sio.eio.start_background_task = start_background_task


def _keep(app: web.Application, task: asyncio.Task[Any]) -> asyncio.Task[Any]:
    """Keep ``task`` in the app's ``SIO_TASKS`` while it runs: a stop ends it (``_say_goodbye``)."""
    app[SIO_TASKS].add(task)
    task.add_done_callback(app[SIO_TASKS].discard)
    return task


def _follow_sessions(sio: socketio.AsyncServer) -> None:
    """Tell the ``Sessions`` of the app the server serves now of each session that opens or ends.

    Through engine.io's public ``on``: python-socketio's own ``connect`` and ``disconnect``
    handlers of its engine.io server are wrapped, and still called first.
    """
    opened, ended = sio.eio.handlers["connect"], sio.eio.handlers["disconnect"]

    @wraps(opened)
    async def connect(eio_sid: str, environ: dict[str, Any]) -> Any:
        answer = await opened(eio_sid, environ)
        if SESSIONS in _SERVING[sio]:
            await _SERVING[sio][SESSIONS].opened(eio_sid, environ)
        return answer

    @wraps(ended)
    async def disconnect(eio_sid: str, *args: Any) -> Any:
        if SESSIONS in _SERVING[sio]:
            _SERVING[sio][SESSIONS].closed(eio_sid)
        return await ended(eio_sid, *args)

    sio.eio.on("connect", connect)
    sio.eio.on("disconnect", disconnect)


async def _connect_counted(
    app: web.Application, sio: socketio.AsyncServer, trigger: Callable, namespace: str, *args: Any
) -> Any:
    """A CONNECT packet makes its session a client, counted as a connection; refused, a newcomer again."""
    sessions = app.get(SESSIONS)
    eio_sid = sio.manager.eio_sid_from_sid(args[0], namespace) if args and sessions is not None else None
    if eio_sid is None:
        return await _connect_guarded(app, sio, trigger, namespace, *args)
    sessions.joined_now(eio_sid)
    try:
        accepted = await _connect_guarded(app, sio, trigger, namespace, *args)
    except BaseException:
        sessions.refused(eio_sid, namespace)
        raise
    if accepted is False:
        sessions.refused(eio_sid, namespace)
    return accepted


async def _start_sweeping_newcomers(app: web.Application) -> None:
    _keep(app, asyncio.get_running_loop().create_task(_sweep_newcomers(app), name="sweep newcomers"))


async def _sweep_newcomers(app: web.Application) -> None:
    """Close the sessions that did not join within ``Limits.connect_grace``, a few times per grace."""
    while True:
        await asyncio.sleep(min(1.0, max(0.05, app[LIMITS].connect_grace / 4)))
        try:
            await app[SESSIONS].sweep()
        except Exception as exc:  # recorded, and the next sweep goes on
            app[LOG].error("closing sessions that did not connect", exc)


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
    _keep(app, asyncio.get_running_loop().create_task(_watch_backlogs(app), name="watch backlogs"))


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
            task = _keep(app, asyncio.get_running_loop().create_task(_drop_session(app, eio_sid)))
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
    ``REFUSED_INPUT`` with the reason, which the server answers (``hold_socketio``).
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
        except Exception:  # any packet it can't read is refused the same way
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
        if connecting:  # the handshake goes on, and the guarded connect refuses it (_connect_guarded)
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

    No client can send it (it is no JSON), so it can't be faked; ``_connect_guarded`` refuses it.
    """

    why: str


async def _refuse_input(sio: socketio.AsyncServer, sid: str, why: Any = None, *_: Any) -> dict:
    """Answer a refused packet: the reason as its acknowledgement and as a ``refused`` event.

    Held to the same rate limit as any event (by the guard): past it, the answer is "too many
    messages", and the ``refused`` event comes at most once a second.
    """
    why = why if isinstance(why, str) else "refused"
    await _tell_refused(_SERVING[sio], sid, why)
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
def _one_websocket_per_session(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """A session upgrades once: another websocket for the same ``sid`` is refused (400).

    engine.io waits for each upgrade's probe without a limit, so without this one session
    could hold any number of websockets open, past the connection cap. A plain function, not a
    coroutine: it hands aiohttp the handler's own coroutine, so no frame of it waits while a
    websocket is open.
    """
    sid = request.query.get("sid")
    if sid is not None and is_socketio(request):
        if request.headers.get("Upgrade", "").lower() == "websocket":
            existing = request.app[UPGRADES].get(sid)
            if existing is not None and not existing.closed:
                raise web.HTTPBadRequest(text="This session has a websocket already.\n")
    return handler(request)


async def _answer_unreadable_frames(request: web.Request, response: web.StreamResponse) -> None:
    """A frame engine.io can't read (empty, say) is answered and skipped, not a dropped connection.

    engine.io ends the connection, with no close frame, at a text frame that is no engine.io
    packet (upstream treats it as fatal). aiohttp's ``on_response_prepare`` hands us engine.io's
    websocket before engine.io reads from it: its ``receive`` is wrapped to answer such frames
    with a ``refused`` event. An upgraded session's websocket is noted for ``_drop_session``.
    """
    if not isinstance(response, web.WebSocketResponse) or not is_socketio(request):
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


async def _too_fast(app: web.Application, sid: str | None, name: str) -> dict:
    """Refuse an event from a client over the rate limit: it hears why (at most once a second).

    The log says it once per interval (``RateLimit``'s own line), never once per event.
    """
    why = app[RATE_LIMIT].describe()
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
