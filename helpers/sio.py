"""Socket.IO on the workbook's server: a python-socketio ``AsyncServer`` on the app of ``chat_app()``.

Node's ``socket.io`` attaches to Express's HTTP server; here ``socketio_app()`` attaches an
``AsyncServer`` to the aiohttp app that serves ``public/``, at the default path
``/socket.io/``, and adds what a notebook needs around it:

- the server's own log lines (e.g. "... is not an accepted origin") go to the app's ``LOG``,
  never to stderr, where they would land in a random cell;
- ``guard(log)`` makes an event handler safe against whatever a client sends: wrong
  arguments and ``Refused`` are answered ``{"error": ...}``, a crash is recorded in the log;
- the browser client is served from the pinned npm package at ``/vendor/socket.io/``
  (python-socketio does not serve ``/socket.io/socket.io.js`` as Node's socket.io does);
- stopping the server disconnects every client first, so ``stop_server()`` stays quick.

Typical use, in a stage module::

    app, sio = socketio_app()
    guarded = guard(app[LOG])

    @sio.on("chat message")
    @guarded
    async def chat_message(sid, msg):
        await sio.emit("chat message", msg)
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from functools import wraps
from pathlib import Path
from typing import Any

import socketio
from aiohttp import web
from engineio.async_drivers.aiohttp import WebSocket as EngineIOWebSocket

from helpers.app import LOG, SOCKETS, chat_app
from helpers.log import ServerLog

__all__ = [
    "CLIENT_DIST",
    "CLIENT_VERSION",
    "SIO",
    "Refused",
    "guard",
    "hide_ids",
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
    """``chat_app()`` plus a Socket.IO server at ``/socket.io/``; returns both.

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
    # engine.io's websockets join the app's SOCKETS, which a stop closes with 1001 (helpers.app)
    _track_websockets(sio)
    app[SIO] = sio
    if CLIENT_DIST.is_dir():
        app.router.add_static("/vendor/socket.io/", CLIENT_DIST)
    app.on_startup.append(_monitor_again)
    app.on_shutdown.insert(0, _say_goodbye)  # before those websockets are closed
    return app, sio


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


Handler = Callable[..., Awaitable[Any]]


def guard(log: ServerLog) -> Callable[[Handler], Handler]:
    """A decorator for event handlers: no input a client can send crashes one unseen.

    Socket.IO calls ``handler(sid, *arguments)`` with whatever the client emitted, and an
    exception there would only end a background task: no answer, nothing in the log. Guarded,

    - arguments the handler can't take, or a ``Refused("why")`` it raises, are answered
      ``{"error": ...}`` and logged as ``Refused ...``;
    - any other exception is recorded in ``log`` (shown at the top of the next cell) and
      answered ``{"error": "internal server error"}``.

    The answer is the acknowledgement, sent only when the client asked for one.
    """

    def decorate(handler: Handler) -> Handler:
        signature = inspect.signature(handler)
        params = list(signature.parameters.values())[1:]  # after the sid
        names = [f"*{p.name}" if p.kind is p.VAR_POSITIONAL else p.name for p in params]
        usage = f"{handler.__name__}({', '.join(names)})"

        @wraps(handler)
        async def guarded(sid: str, *args: Any) -> Any:
            try:
                try:
                    signature.bind(sid, *args)
                except TypeError:
                    raise Refused(f"wrong arguments for {usage}") from None
                return await handler(sid, *args)
            except Refused as refused:
                log(f"Refused {handler.__name__}: {refused}")
                return {"error": str(refused)}
            except Exception as exc:
                log.error(f"Socket.IO handler {handler.__name__}", exc)
                return {"error": "internal server error"}

        return guarded

    return decorate


def quiet_logger(name: str = "socket.io client") -> logging.Logger:
    """A logger that says nothing, for clients: their connection errors are raised to us anyway."""
    logger = logging.Logger(name, level=logging.CRITICAL)
    logger.addHandler(logging.NullHandler())
    return logger


_IDS = re.compile(r'"(sid|pid)":"[^"]*"')


def hide_ids(frame: str) -> str:
    """A wire frame with its random session ids replaced by ``…``, so a notebook can print it."""
    return _IDS.sub(r'"\1":"…"', frame)
