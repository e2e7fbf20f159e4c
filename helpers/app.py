"""The aiohttp application every stage builds on: Express's static server plus ``ws``'s upgrade.

``chat_app()`` serves ``public/`` (``/`` is ``index.html``) and, when given a websocket
handler, accepts the websocket upgrade at ``/`` on the same server, as the original
tutorial's ``server.on('upgrade', ...)`` did. Around that it adds the plumbing a notebook
needs: a log, the set of open websockets, errors recorded instead of lost, and sockets
closed with 1001 (Going Away) when the server stops.

Typical use, in a stage module::

    async def echo(request):
        async with websocket_session(request) as ws:
            async for text in text_messages(ws, request.app[LOG]):
                await ws.send_str(text)
        return ws

    app = chat_app(websocket=echo)
"""

from __future__ import annotations

import asyncio
import errno
import mimetypes
import resource
import secrets
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from helpers.addresses import proxy_base
from helpers.limits import LIMITS, RATE_LIMIT, Limits, RateLimit
from helpers.log import ServerLog

__all__ = [
    "ACTIONS",
    "BINARY_REFUSED",
    "DOORS",
    "LIMITS",
    "LOG",
    "PUBLIC",
    "RATE_LIMIT",
    "SOCKETS",
    "Action",
    "Doors",
    "add_plumbing",
    "allow_origins",
    "chat_app",
    "drop",
    "on_messages",
    "open_connections",
    "text_messages",
    "transport_of",
    "websocket_of",
    "websocket_session",
]

PUBLIC = Path(__file__).resolve().parent.parent / "public"
"""The browser side: HTML, CSS and ES modules, served as static files."""

LOG = web.AppKey("log", ServerLog)
SOCKETS = web.AppKey("sockets", set[web.WebSocketResponse])

BINARY_REFUSED = "error: binary frames are not supported here; send text"
"""What a client hears when it sends a binary frame to a text chat (it stays connected)."""

mimetypes.add_type("text/javascript", ".mjs")  # browsers refuse ES modules served as anything else

FILES_KEPT_FREE = 64
"""File descriptors left for everything but client connections (the kernel's own, logs, files)."""

CLOSE_TIMEOUT = 1.0
"""Seconds to wait for a client's answer to our close frame; a stuck client can't hold a stop."""

_TRANSPORTS: weakref.WeakKeyDictionary[web.WebSocketResponse, asyncio.Transport] = (
    weakref.WeakKeyDictionary()
)
"""Each open websocket's connection, to drop a client too slow to take even a close frame."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

Action = Callable[[web.Application, web.WebSocketResponse, dict[str, Any]], Awaitable[None]]
"""What a JSON-protocol server does with one valid message: ``action(app, ws, message)``."""

ACTIONS = web.AppKey("actions", dict[str, Action])
"""A JSON-protocol server's actions by message ``type`` (notebook 06): its own ``sio.on``."""

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass
class Doors:
    """Who may come in: the server's own names, and the extra page origins it trusts.

    - ``Host``: a request must name the server by one of ``names`` (its loopback names, and
      its network address when shared). Another name means a page whose domain was pointed at
      this machine (DNS rebinding): refused, whatever the request.
    - ``Origin``: a websocket (raw or Socket.IO) from a browser page is let in only from the
      server's own origins, from ``origins`` (exact, e.g. ``http://localhost:5173``), or behind
      a Jupyter proxy from the proxy's own origin. ``null`` (a sandboxed or local file page) is
      refused; no ``Origin`` at all is a program, not a page: let in.
    - ``key``: when shared on the network (``helpers.share``), a websocket (raw or Socket.IO)
      comes in only with this join key as its ``key`` query parameter; the pages need none.
    """

    names: set[str] = field(default_factory=lambda: set(LOOPBACK_NAMES))
    origins: set[str] = field(default_factory=set)
    key: str | None = None


NEEDS_KEY = "This chat needs its join key: open the link your teacher shared.\n"


DOORS = web.AppKey("doors", Doors)

SESSION_COUNTERS = web.AppKey("session counters", list[Callable[[], int]])
"""Connections that are no websocket of ours, counted against ``Limits.connections``.

Socket.IO's long-polling sessions, for one: ``helpers.sio`` adds their count here.
"""

_WEBSOCKET = web.RequestKey("websocket", web.WebSocketResponse)


def chat_app(websocket: Handler | None = None) -> web.Application:
    """An app serving ``public/``, with ``websocket`` handling upgrades at ``/`` if given."""
    app = web.Application()
    add_plumbing(app)

    async def root(request: web.Request) -> web.StreamResponse:
        if websocket is not None and web.WebSocketResponse().can_prepare(request).ok:
            return await websocket(request)
        return web.FileResponse(PUBLIC / "index.html")

    app.router.add_get("/", root)
    app.router.add_static("/", PUBLIC)
    return app


def add_plumbing(app: web.Application) -> web.Application:
    """Give any app a log, socket tracking, error reporting and a quick, clean shutdown.

    Idempotent, so ``start_server`` can call it on apps a student wrote by hand.
    """
    if LOG in app:
        return app
    app[LOG] = ServerLog()
    app[SOCKETS] = set()
    app[DOORS] = Doors()
    app[LIMITS] = Limits()
    app[RATE_LIMIT] = RateLimit(app[LIMITS])
    app[SESSION_COUNTERS] = []
    app.middlewares.append(_check_doors)
    app.middlewares.append(_record_errors)
    app.on_response_prepare.append(_track_websocket)
    app.on_shutdown.append(_close_websockets)
    return app


def allow_origins(app: web.Application, *origins: str) -> web.Application:
    """Let pages from ``origins`` (exact: scheme, host and port) open websockets too."""
    add_plumbing(app)
    app[DOORS].origins.update(origin.rstrip("/") for origin in origins)
    return app


@web.middleware
async def _check_doors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a foreign ``Host`` (403), a websocket from a foreign page's ``Origin`` or without the
    join key of a shared server (403), and one more connection than a full server takes (503).

    A websocket the request opens (ours, or engine.io's) is in ``app[SOCKETS]`` until it ends.
    """
    doors, proxied, log = request.app[DOORS], proxy_base() is not None, request.app[LOG]
    host = request.host
    if not proxied and _name(host) not in doors.names:
        log.once("host", f"Refused a request for Host {host!r}: not this server's name.")
        raise web.HTTPForbidden(text="This server is not known by that name.\n")
    wants_websocket = request.headers.get("Upgrade", "").lower() == "websocket"
    if wants_websocket or request.path.startswith("/socket.io/"):
        origin = request.headers.get("Origin")
        if origin is not None and not _trusted(origin, host, request, doors, proxied):
            log.once("origin", f"Refused a connection from a page at {origin!r}.")
            raise web.HTTPForbidden(text="Pages from that origin may not connect.\n")
        if doors.key is not None and not _has_key(request, doors.key):
            log.once("join key", "Refused a connection without the join key (or an old one).")
            raise web.HTTPForbidden(text=NEEDS_KEY)
        if _opens_connection(request, wants_websocket):
            _refuse_when_full(request.app)
    try:
        return await handler(request)
    finally:
        ws = request.get(_WEBSOCKET)
        if ws is not None:
            request.app[SOCKETS].discard(ws)


def websocket_of(request: web.Request) -> web.WebSocketResponse | None:
    """The websocket ``request`` opened, if it did (any handler's: ours, engine.io's)."""
    return request.get(_WEBSOCKET)


def _opens_connection(request: web.Request, wants_websocket: bool) -> bool:
    """A new websocket (an upgrade of a Socket.IO session too), or a new Socket.IO session."""
    if request.path.startswith("/socket.io/"):
        return wants_websocket or "sid" not in request.query
    return wants_websocket


def open_connections(app: web.Application) -> int:
    """Open websockets plus the other sessions the app counts (``SESSION_COUNTERS``)."""
    return len(app[SOCKETS]) + sum(count() for count in app[SESSION_COUNTERS])


def _refuse_when_full(app: web.Application) -> None:
    cap = min(app[LIMITS].connections, open_files_room())
    if open_connections(app) >= cap:
        app[LOG].once("full", f"Refused a connection: the server is full ({cap} connections).")
        raise web.HTTPServiceUnavailable(
            text=f"The server is full ({cap} connections); try again in a minute.\n",
            headers={"Retry-After": "60"},
        )


def open_files_room() -> int:
    """Connections this process can still take on top of its other files (fds)."""
    return max(0, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - FILES_KEPT_FREE)


async def _track_websocket(request: web.Request, response: web.StreamResponse) -> None:
    """Every websocket this app accepts (its own, or engine.io's) joins ``app[SOCKETS]``.

    ``on_response_prepare`` is aiohttp's public signal for a response about to be sent; a
    stop then closes engine.io's websockets with 1001 too, and they count as connections.
    """
    if isinstance(response, web.WebSocketResponse):
        request[_WEBSOCKET] = response
        request.app[SOCKETS].add(response)
        if request.transport is not None:
            _TRANSPORTS[response] = request.transport


def _has_key(request: web.Request, key: str) -> bool:
    """The request's ``key`` parameter is ``key``, compared in constant time (bytes: any text)."""
    return secrets.compare_digest(request.query.get("key", "").encode(), key.encode())


def _name(host: str) -> str:
    """``127.0.0.1:3000`` -> ``127.0.0.1``; ``[::1]:3000`` -> ``::1``."""
    return (urlsplit(f"//{host}").hostname or "").lower()


def _trusted(origin: str, host: str, request: web.Request, doors: Doors, proxied: bool) -> bool:
    if origin.rstrip("/") in doors.origins:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False  # "null", file:, chrome-extension: ...
    if proxied:  # the proxy passes the page's Origin and the Jupyter server's Host on as they are
        return parts.netloc.lower() == host.lower()
    local_port = request.transport.get_extra_info("sockname")[1] if request.transport else None
    if parts.hostname.lower() not in doors.names:
        return False
    # behind a load balancer on this machine (nginx, notebook 12) the page and the Host name
    # the balancer's port: the page came from the address the request was sent to
    return (parts.port or 80) == local_port or parts.netloc.lower() == host.lower()


@web.middleware
async def _record_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Put a handler's exception in the server log, where the next cell reports it.

    aiohttp then answers 500 (or ends the websocket) and logs it too, to the runner's
    logger, which ``start_server`` points at this same log (recorded once).
    """
    try:
        return await handler(request)
    except (web.HTTPException, asyncio.CancelledError):
        raise
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:  # a path segment no file can have (over 255 bytes)
            raise web.HTTPNotFound() from None
        request.app[LOG].error(f"{request.method} {request.path}", exc)
        raise
    except Exception as exc:
        request.app[LOG].error(f"{request.method} {request.path}", exc)
        raise


async def _close_websockets(app: web.Application) -> None:
    """Close every open websocket with 1001 Going Away, all at once, without waiting long."""
    sockets = list(app[SOCKETS])
    if not sockets:
        return
    closing = [ws.close(code=WSCloseCode.GOING_AWAY, message=b"Server shutdown") for ws in sockets]
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT + 0.5):
            await asyncio.gather(*closing, return_exceptions=True)
    except TimeoutError:
        pass


@asynccontextmanager
async def websocket_session(request: web.Request) -> AsyncIterator[web.WebSocketResponse]:
    """Accept the upgrade, track the socket while it is open, log connect and disconnect."""
    limits = request.app[LIMITS]
    ws = web.WebSocketResponse(
        timeout=CLOSE_TIMEOUT,
        compress=False,
        max_msg_size=limits.message_bytes + 1,  # over it: closed with 1009, Message Too Big
        heartbeat=limits.heartbeat,  # a ping every heartbeat s: a peer gone silent is dropped
    )
    await ws.prepare(request)  # joins app[SOCKETS] (_track_websocket)
    sockets, log = request.app[SOCKETS], request.app[LOG]
    log(f"Client connected ({len(sockets)} open).")
    try:
        yield ws
    finally:
        sockets.discard(ws)
        request.app[RATE_LIMIT].forget(ws)
        log(f"Client disconnected ({len(sockets)} open).")


async def text_messages(
    ws: web.WebSocketResponse, log: ServerLog, *, binary_reply: str = BINARY_REFUSED
) -> AsyncIterator[str]:
    """Yield each text message; a binary frame gets ``binary_reply`` and the chat goes on."""
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            yield msg.data
        elif msg.type is WSMsgType.BINARY:
            log(f"Refused a binary frame of {len(msg.data)} bytes.")
            await ws.send_str(binary_reply)
        elif msg.type is WSMsgType.ERROR:
            log_connection_error(log, ws)


def log_connection_error(log: ServerLog, ws: web.WebSocketResponse) -> None:
    """Say, in one line, why a client's connection broke: too big a message, or silence."""
    error = ws.exception()
    if getattr(error, "code", None) == WSCloseCode.MESSAGE_TOO_BIG:
        log.once("too big", "Closed a client's connection (1009): its message was over the size limit.")
    elif isinstance(error, TimeoutError):
        log.once("silent", "Dropped a client that stopped answering pings.")
    else:
        log.once(f"error {type(error).__name__}", f"Connection error: {error}")


def drop(ws: web.WebSocketResponse) -> None:
    """Cut ``ws``'s connection at once, without a close frame.

    For a client whose buffers are full because it stopped reading: it could not even take
    a close frame, and waiting for it would hold back whoever waits.
    """
    transport = _TRANSPORTS.get(ws)
    if transport is not None:
        transport.abort()


def transport_of(ws: web.WebSocketResponse) -> asyncio.Transport | None:
    """The connection under ``ws``, to write ready-made frames to it (notebook 11's fast path).

    ``None`` once it is gone. aiohttp writes its own frames (pings, close) whole, in one call,
    so frames written here between them stay whole too.
    """
    return _TRANSPORTS.get(ws)


def on_messages(app: web.Application, actions: Mapping[str, Action]) -> None:
    """Let ``app`` do ``actions[type](app, ws, message)`` for each valid message of that type.

    A JSON-protocol server looks its actions up in ``app[ACTIONS]`` at each message, so
    actions added (or replaced) while the server runs take effect at once.
    """
    if ACTIONS not in app:
        app[ACTIONS] = {}
    app[ACTIONS].update(actions)
