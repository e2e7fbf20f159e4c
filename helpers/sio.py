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
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from functools import partial, wraps
from pathlib import Path
from typing import Any

import socketio
from aiohttp import web
from engineio.async_drivers.aiohttp import WebSocket as EngineIOWebSocket

from helpers.app import LOG, SOCKETS, allow_origins, chat_app
from helpers.log import ServerLog

__all__ = [
    "CLIENT_DIST",
    "CLIENT_VERSION",
    "SIO",
    "EventHandler",
    "Refused",
    "add_socketio_plumbing",
    "guard",
    "hide_ids",
    "on_events",
    "quiet_logger",
    "socketio_app",
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
    *, cors_allowed_origins: Origins = None, always_connect: bool = False
) -> tuple[web.Application, socketio.AsyncServer]:
    """``chat_app()`` plus a Socket.IO server at ``/socket.io/``, as notebook 07 builds it; returns both.

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
    )
    sio.attach(app)  # GET/POST/OPTIONS at /socket.io/
    add_socketio_plumbing(app, sio)
    if isinstance(cors_allowed_origins, list):  # the same pages may open a websocket at all
        allow_origins(app, *cors_allowed_origins)
    return app, sio


def add_socketio_plumbing(app: web.Application, sio: socketio.AsyncServer) -> web.Application:
    """Keep ``sio`` at ``app[SIO]``, serve the browser client, and say goodbye quickly at stop."""
    # engine.io's websockets join the app's SOCKETS, which a stop closes with 1001 (helpers.app)
    _track_websockets(sio)
    app[SIO] = sio
    if CLIENT_DIST.is_dir():
        app.router.add_static("/vendor/socket.io/", CLIENT_DIST)
    app.on_startup.append(_monitor_again)
    app.on_shutdown.insert(0, _say_goodbye)  # before those websockets are closed
    return app


EventHandler = Callable[..., Awaitable[Any]]
"""``handler(app, sid, *arguments)``; the catch-all ``"*"``: ``handler(app, event, sid, *arguments)``."""

CONNECTION_EVENTS = ("connect", "disconnect")


def on_events(app: web.Application, events: Mapping[str, EventHandler]) -> None:
    """Register each ``events[name]`` on ``app[SIO]``: python-socketio's ``sio.on(name, ...)``, app first.

    ``connect`` (``app, sid, environ, auth``) and ``disconnect`` (``app, sid, reason``) are
    registered as they are; every other event behind ``guard``. ``"*"`` catches the events
    that have no handler of their own. Registering an event again replaces its handler, on a
    running server too: the next event already goes to the new one.
    """
    sio, log = app[SIO], app[LOG]
    for event, handler in events.items():
        first = next(iter(inspect.signature(handler).parameters), None)
        if first != "app":  # python-socketio's own style, handler(sid, ...), would be refused later
            name = getattr(handler, "__name__", "handler")
            raise TypeError(f"{name} must take the app first: async def {name}(app, sid, ...)")
        if event in CONNECTION_EVENTS:
            sio.on(event, partial(handler, app))
        else:
            sio.on(event, guard(log, event, handler, app))


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


def _track_websockets(sio: socketio.AsyncServer) -> None:
    """Make engine.io use ``_TrackedWebSocket``: a private setting, so check that it still works."""
    if sio.eio._async.get("websocket") is not EngineIOWebSocket:
        raise RuntimeError(
            "python-engineio changed: sio.eio._async['websocket'] is no longer its aiohttp "
            "WebSocket class, so helpers/sio.py can't track engine.io's websockets; update it"
        )
    sio.eio._async = {**sio.eio._async, "websocket": _TrackedWebSocket}
    assert sio.eio._async["websocket"] is _TrackedWebSocket


class _TrackedWebSocket(EngineIOWebSocket):
    """engine.io's aiohttp websocket, kept in ``app[SOCKETS]`` while open.

    When aiohttp stops, a client's goodbye can no longer reach engine.io's handler, which
    then holds the stop for seconds; the server closing the socket itself ends it at once.
    """

    async def __call__(self, environ: dict) -> web.WebSocketResponse:
        try:
            return await super().__call__(environ)
        finally:
            environ["aiohttp.request"].app[SOCKETS].discard(self._sock)

    async def wait(self) -> str | bytes:
        self.environ["aiohttp.request"].app[SOCKETS].add(self._sock)
        return await super().wait()


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
        try:
            try:
                signature.bind(app, *args)
            except TypeError:
                raise Refused(f"wrong arguments: {name} takes {takes}") from None
            return await handler(app, *args)
        except Refused as refused:
            log(f"Refused {name}: {refused}")
            return {"error": str(refused)}
        except Exception as exc:
            log.error(f"Socket.IO handler for {name}", exc)
            return {"error": "internal server error"}

    return guarded


def quiet_logger(name: str = "socket.io client") -> logging.Logger:
    """A logger that says nothing, for clients: their connection errors are raised to us anyway."""
    logger = logging.Logger(name, level=logging.CRITICAL)
    logger.addHandler(logging.NullHandler())
    return logger


_IDS = re.compile(r'"(sid|pid)":"[^"]*"')


def hide_ids(frame: str) -> str:
    """A wire frame with its random session ids replaced by ``…``, so a notebook can print it."""
    return _IDS.sub(r'"\1":"…"', frame)
