"""Socket.IO on the workbook's server: a python-socketio ``AsyncServer`` on the app of ``chat_app()``.

Node's ``socket.io`` attaches to Express's HTTP server; here ``socketio_app()`` attaches an
``AsyncServer`` to the aiohttp app that serves ``public/``, at the default path
``/socket.io/``, and adds what a notebook needs around it:

- the server's own log lines (e.g. "... is not an accepted origin") go to the app's ``LOG``,
  never to stderr, where they would land in a random cell;
- the browser client is served from the pinned npm package at ``/vendor/socket.io/``
  (python-socketio does not serve ``/socket.io/socket.io.js`` as Node's socket.io does);
- stopping the server disconnects every client first, so ``stop_server()`` stays quick.

Typical use, in a stage module::

    app, sio = socketio_app()

    @sio.on("chat message")
    async def chat_message(sid, msg):
        await sio.emit("chat message", msg)
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from pathlib import Path

import socketio
from aiohttp import web
from engineio.async_drivers.aiohttp import WebSocket as EngineIOWebSocket

from helpers.app import LOG, SOCKETS, chat_app
from helpers.log import ServerLog

__all__ = ["CLIENT_DIST", "CLIENT_VERSION", "SIO", "hide_ids", "quiet_logger", "socketio_app"]

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
        logger=_log_errors_to(log, "socket.io"),
        engineio_logger=_log_errors_to(log, "engine.io"),
    )
    sio.attach(app)  # GET/POST/OPTIONS at /socket.io/
    # engine.io's websockets join the app's SOCKETS, which a stop closes with 1001 (helpers.app)
    sio.eio._async = {**sio.eio._async, "websocket": _TrackedWebSocket}
    app[SIO] = sio
    if CLIENT_DIST.is_dir():
        app.router.add_static("/vendor/socket.io/", CLIENT_DIST)
    app.on_shutdown.insert(0, _say_goodbye)  # before those websockets are closed
    return app, sio


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


class _ToServerLog(logging.Handler):
    def __init__(self, log: ServerLog, prefix: str) -> None:
        super().__init__(level=logging.ERROR)
        self.server_log, self.prefix = log, prefix

    def emit(self, record: logging.LogRecord) -> None:
        self.server_log(f"{self.prefix}: {record.getMessage()}")


def _log_errors_to(log: ServerLog, prefix: str) -> logging.Logger:
    """A logger of our own: python-socketio's default one prints errors to stderr."""
    logger = logging.Logger(f"{prefix} server", level=logging.ERROR)  # not in the global registry
    logger.addHandler(_ToServerLog(log, prefix))
    return logger


def quiet_logger(name: str = "socket.io client") -> logging.Logger:
    """A logger that says nothing, for clients: their connection errors are raised to us anyway."""
    logger = logging.Logger(name, level=logging.CRITICAL)
    logger.addHandler(logging.NullHandler())
    return logger


_IDS = re.compile(r'"(sid|pid)":"[^"]*"')


def hide_ids(frame: str) -> str:
    """A wire frame with its random session ids replaced by ``…``, so a notebook can print it."""
    return _IDS.sub(r'"\1":"…"', frame)
