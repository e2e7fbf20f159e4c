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
  answered ``{"error": "internal server error"}``: never a silent crash (``guards``);
- what a text chat can't read (binary attachments, frames engine.io can't parse, nesting
  deeper than ``MAX_DEPTH``) is refused with a reason, and the connection goes on; a session
  upgrades once (``refusals``);
- a client that stops reading is dropped at ``Limits.queue`` packets waiting (``backlog``);
  a session counts as a connection once its client joined (sent CONNECT), and one that does
  not join within ``Limits.connect_grace`` is closed (``sessions``);
- its emits go out through ``FanoutManager`` (notebook 11) unless the app chose a manager,
  a turn's frames to a client in one write (``fanout``, ``frames``);
- a page origin the student listed, or the server's shared address, may connect
  (``TrustedOrigins``);
- stopping the server disconnects every client first, and leaves no task behind;
- the browser client is served from the pinned npm package at ``/vendor/socket.io/``
  (python-socketio does not serve ``/socket.io/socket.io.js`` as Node's socket.io does).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import weakref
from collections.abc import Callable
from functools import partial, wraps
from pathlib import Path
from typing import Any

import engineio.base_server
import socketio
import socketio.base_server
from aiohttp import web

from helpers.common.internals import (
    check_origins_with,
    engineio_handler,
    has_sessions,
    limit_message_bytes,
    ping_monitor_stopped,
    replace_manager,
    restart_ping_monitor,
    use_packet_class,
    wrap_background_tasks,
)
from helpers.server.app import (
    DOORS,
    LIMITS,
    LOG,
    SESSION_COUNTERS,
    SOCKETIO_PATH,
    SOCKETIO_PREFIX,
    allow_origins,
)
from helpers.server.limits import Limits, RateLimit
from helpers.server.sio.backlog import start_watching_backlogs
from helpers.server.sio.fanout import FanoutManager
from helpers.server.sio.frames import use_batched_websockets
from helpers.server.sio.guards import NOTICES, guard_events, refuse_input
from helpers.server.sio.redis_manager import share_through_redis as _share_through_redis
from helpers.server.sio.refusals import (
    REFUSED_INPUT,
    UPGRADES,
    TextPacket,
    answer_unreadable_frames,
    one_websocket_per_session,
)
from helpers.server.sio.serving import SERVING, SHUTDOWN_TIMEOUT, SIO, SIO_TASKS, keep
from helpers.server.sio.sessions import SESSIONS, Sessions

__all__ = ["CLIENT_DIST", "CLIENT_VERSION", "hold_socketio", "socketio_server_of"]


CLIENT_VERSION = "4.8.4"
"""The browser client's version: pinned in package.json, and the CDN fallback of socketio.mjs."""


CLIENT_DIST = Path(__file__).resolve().parents[3] / "node_modules" / "socket.io-client" / "dist"
"""Where ``npm ci`` (``make setup``) puts the browser client's bundles."""


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
            connect = engineio_handler(eio, "connect")  # (wrapped by ``_follow_sessions`` once held)
            sio = getattr(inspect.unwrap(connect) if callable(connect) else None, "__self__", None)
            if isinstance(sio, socketio.AsyncServer):
                return sio
    return None


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
    first = sio not in SERVING
    SERVING[sio] = app
    app[SIO] = sio
    _log_to(app, sio)
    replace_manager(sio, FanoutManager())  # the same emits, without a task per client
    limit_message_bytes(sio.eio, app[LIMITS].message_bytes)
    use_packet_class(sio, TextPacket)
    listed = sio.eio.cors_allowed_origins
    if isinstance(listed, TrustedOrigins):  # held before, for an earlier app
        listed = listed.listed
    if isinstance(listed, list):
        allow_origins(app, *listed)  # the same pages may open a websocket at all
        if listed and "*" not in listed:  # ([] is no check at all, "*" any page: left as they are)
            check_origins_with(sio.eio, TrustedOrigins(sio, listed))  # and a shared page too
    if CLIENT_DIST.is_dir():
        app.router.add_static("/vendor/socket.io/", CLIENT_DIST)
    app[SIO_TASKS], app[UPGRADES] = set(), weakref.WeakValueDictionary()
    app[NOTICES] = RateLimit(Limits(rate=1, burst=1))
    app[SOCKETIO_PREFIX] = _prefix(app, sio)
    if first:
        use_batched_websockets(sio.eio)  # a turn's frames to a client in one write (frames.py)
        _track_background_tasks(sio)
        guard_events(sio)
        _follow_sessions(sio)
        sio.on(REFUSED_INPUT, partial(refuse_input, sio))
    app[SESSIONS] = Sessions(sio, app[LIMITS])  # newcomers apart, closed after a grace
    app[SESSION_COUNTERS].append(app[SESSIONS])
    app.on_response_prepare.append(answer_unreadable_frames)
    app.middlewares.insert(1, one_websocket_per_session)  # inside the plumbing's first, around the app's
    app.on_startup.append(_monitor_again)
    app.on_startup.append(start_watching_backlogs)
    app.on_startup.append(_start_sweeping_newcomers)
    app.on_shutdown.insert(0, _say_goodbye)  # before those websockets are closed
    if isinstance(sio.manager, socketio.AsyncRedisManager):
        _share_through_redis(app, sio.manager)
    return sio


class TrustedOrigins:
    """engine.io's ``cors_allowed_origins`` as a callable (a form it documents): the origins the
    student listed, and the page origin of the server's network address while it is shared
    (``helpers.server.app.Doors.shared_origin``).

    A list is fixed when the server is made, but a server shared on the network is reached
    from an origin found only at start (``helpers.kernel.share.allow_shared_origin``), and
    one ``sio`` may serve a new app at each start: the callable asks the app it serves now.
    """

    def __init__(self, sio: socketio.AsyncServer, listed: list[str]) -> None:
        self.sio, self.listed = sio, list(listed)

    def __call__(self, origin: str | None, environ: dict[str, Any] | None = None) -> bool:
        app = SERVING.get(self.sio)
        shared = app[DOORS].shared_origin if app is not None else None
        return origin is not None and (origin in self.listed or (shared is not None and origin == shared))

    def __eq__(self, other: object) -> bool:  # equal to the list it stands for
        return self.listed == other if isinstance(other, list) else NotImplemented

    __hash__ = None  # type: ignore[assignment]


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


def _track_background_tasks(sio: socketio.AsyncServer) -> None:
    """Keep every task engine.io starts (through its public ``start_background_task``).

    engine.io starts a ``_send_ping`` task per client that sleeps a ping interval (25 s);
    its ``shutdown()`` leaves them asleep, so 50 starts and stops left 150 of them behind.
    Each task is kept in the tasks of the app the server serves now; a newcomer's ping task
    is noted, to be cancelled when the newcomer is closed (``Sessions.ping_started``).
    """

    def kept(start: Callable[..., Any]) -> Callable[..., Any]:
        def start_background_task(target: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
            app = SERVING[sio]
            task = keep(app, start(target, *args, **kwargs))
            if SESSIONS in app:
                app[SESSIONS].ping_started(target, task)
            return task

        return start_background_task

    wrap_background_tasks(sio.eio, kept)


def _follow_sessions(sio: socketio.AsyncServer) -> None:
    """Tell the ``Sessions`` of the app the server serves now of each session that opens or ends.

    Through engine.io's public ``on``: python-socketio's own ``connect`` and ``disconnect``
    handlers of its engine.io server are wrapped, and still called first.
    """
    opened, ended = engineio_handler(sio.eio, "connect"), engineio_handler(sio.eio, "disconnect")

    @wraps(opened)
    async def connect(eio_sid: str, environ: dict[str, Any]) -> Any:
        answer = await opened(eio_sid, environ)
        if SESSIONS in SERVING[sio]:
            await SERVING[sio][SESSIONS].opened(eio_sid, environ)
        return answer

    @wraps(ended)
    async def disconnect(eio_sid: str, *args: Any) -> Any:
        if SESSIONS in SERVING[sio]:
            SERVING[sio][SESSIONS].closed(eio_sid)
        return await ended(eio_sid, *args)

    sio.eio.on("connect", connect)
    sio.eio.on("disconnect", disconnect)


async def _start_sweeping_newcomers(app: web.Application) -> None:
    keep(app, asyncio.get_running_loop().create_task(_sweep_newcomers(app), name="sweep newcomers"))


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
    if ping_monitor_stopped(sio.eio):
        restart_ping_monitor(sio.eio)


async def _say_goodbye(app: web.Application) -> None:
    """Disconnect every client (they then don't retry), close the transports, stop the pings."""
    sio = app[SIO]
    sids = [sid for sid, _ in sio.manager.get_participants("/", None)]
    try:
        async with asyncio.timeout(SHUTDOWN_TIMEOUT):
            await asyncio.gather(*(sio.disconnect(sid) for sid in sids), return_exceptions=True)
            if has_sessions(sio.eio):
                await sio.eio.disconnect()
            if not ping_monitor_stopped(sio.eio):  # shutdown() is not idempotent
                await sio.shutdown()
    except TimeoutError:
        pass
    tasks = [task for task in app[SIO_TASKS] if task is not asyncio.current_task()]
    for task in tasks:  # pings asleep, handlers still waiting: none outlives the server
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT)
