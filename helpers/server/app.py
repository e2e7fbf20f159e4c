"""The plumbing every server of the workbook gets: ``add_plumbing(app)``, done by ``start_server``.

The notebooks teach plain aiohttp: an app is ``web.Application()`` with routes, a websocket
handler is aiohttp's own (``ws = web.WebSocketResponse()``, ``await ws.prepare(request)``,
``async for msg in ws``). ``start_server`` gives any such app what a notebook and a class
need around it, without changing a line of it:

- a log (``app[LOG]``): what a handler prints goes there, not into whatever cell runs
  (``helpers.server.log.route_prints``), and so do connects and disconnects of websockets, with why
  a connection ended (1009, silence);
- the doors (``_check_doors``): a foreign ``Host``, a page of another site (``Origin``), a
  connection without a shared server's join key and one connection too many are refused;
- every open websocket in ``app[SOCKETS]``, closed with 1001 (Going Away) when the server
  stops; no compression, as Node's socket.io (``Limits.deflate``: a chat line is short, a
  compressor costs each client memory);
- a handler's exception recorded, and shown at the top of the next cell.

Typical use: ``start_server(app)`` calls it; ``add_plumbing(app)`` alone is for an app served
some other way. ``chat_app()`` is notebook 1's static server, for stages without a websocket.
"""

from __future__ import annotations

import asyncio
import errno
import math
import mimetypes
import resource
import secrets
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, web

from helpers.common.addresses import proxy_base
from helpers.server.admission import SessionCounter, own_machine, share_of
from helpers.server.headers import add_security_headers
from helpers.server.join_keys import KEY_CHECK_PATH, WRONG_KEYS, WrongKeys
from helpers.server.limits import LIMITS, RATE_LIMIT, Limits, RateLimit
from helpers.server.log import CURRENT_LOG, ServerLog, route_prints
from helpers.server.masks import require_masks
from helpers.server.memory import give_back_memory_soon

__all__ = [
    "DOORS",
    "LIMITS",
    "LOG",
    "PUBLIC",
    "RATE_LIMIT",
    "SOCKETS",
    "Doors",
    "add_plumbing",
    "allow_origins",
    "chat_app",
    "drop",
    "is_socketio",
    "json_actions",
    "open_connections",
    "transport_of",
    "websocket_of",
]

PUBLIC = Path(__file__).resolve().parents[2] / "public"
"""The browser side: HTML, CSS and ES modules, served as static files."""

LOG = web.AppKey("log", ServerLog)
SOCKETS = web.AppKey("sockets", set[web.WebSocketResponse])
"""Every websocket the app has open (its handlers', and engine.io's): the plumbing keeps it."""

mimetypes.add_type("text/javascript", ".mjs")  # browsers refuse ES modules served as anything else

FILES_KEPT_FREE = 64
"""File descriptors left for everything but client connections (the kernel's own, logs, files)."""

CLOSE_TIMEOUT = 1.0
"""Seconds a stop waits for clients to answer the server's close frames; a stuck client can't hold it."""

_TRANSPORTS: weakref.WeakKeyDictionary[web.WebSocketResponse, asyncio.Transport] = (
    weakref.WeakKeyDictionary()
)
"""Each open websocket's connection, to drop a client too slow to take even a close frame."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})

SOCKETIO_PATH = "/socket.io/"
"""Where python-socketio's ``attach`` serves by default: engine.io's websockets are its own business."""

SOCKETIO_PREFIX = web.AppKey("socket.io prefix", str)
"""Where the app's python-socketio server is attached, when it has one (``helpers.server.sio`` sets it)."""


def is_socketio(request: web.Request) -> bool:
    """The request is for the app's Socket.IO server (engine.io's polling or websocket)."""
    return request.path.startswith(request.app.get(SOCKETIO_PREFIX, SOCKETIO_PATH))


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
    - ``key``: when shared on the network (``helpers.kernel.share``), a websocket (raw or Socket.IO)
      comes in only with this join key as its ``key`` query parameter; the pages need none.
    """

    names: set[str] = field(default_factory=lambda: set(LOOPBACK_NAMES))
    origins: set[str] = field(default_factory=set)
    key: str | None = None
    shared_origin: str | None = None  # the network address's page origin, while shared: Socket.IO's too


NEEDS_KEY = "This chat needs the link with its key: ask your teacher.\n"
"""What a connection (or a page asking ``KEY_CHECK_PATH``) without the join key, or an old one, is told."""

KEY_GUESSES = "Too many wrong join keys from this address: try again in a minute.\n"


DOORS = web.AppKey("doors", Doors)

SESSION_COUNTERS = web.AppKey("session counters", list[SessionCounter])
"""Sessions that are no websocket of ours: those counted against ``Limits.connections``, and
the newcomers, each by address (``helpers.server.admission.SessionCounter``).

Socket.IO's sessions, for one: ``helpers.server.sio`` adds their ``sessions.Sessions`` here.
"""

_WEBSOCKET = web.RequestKey("websocket", web.WebSocketResponse)


async def index(request: web.Request) -> web.FileResponse:
    """Notebook 1's ``/``: the index page."""
    return web.FileResponse(PUBLIC / "index.html")


def chat_app() -> web.Application:
    """Notebook 1's static server: ``/`` is the index page, any other path a file of ``public/``."""
    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_static("/", PUBLIC)
    return app


def add_plumbing(app: web.Application) -> web.Application:
    """Give any app a log, the doors, socket tracking, error reporting and a quick, clean stop.

    Idempotent, so ``start_server`` can call it on every app it starts, a student's too. Its
    middlewares go first, around the app's own.
    """
    if LOG in app:
        return app
    route_prints()
    app[LOG] = ServerLog()
    app[SOCKETS] = set()
    app[DOORS] = Doors()
    app[LIMITS] = Limits()
    app[RATE_LIMIT] = RateLimit(app[LIMITS], log=app[LOG].once)
    app[SESSION_COUNTERS] = []
    app[WRONG_KEYS] = WrongKeys()
    app[_UNMASKED] = partial(
        app[LOG].once, "unmasked", "Closed a client's connection (1002): it sent an unmasked frame."
    )
    app.middlewares.insert(0, _plumbing)
    app.on_response_prepare.append(_track_websocket)
    app.on_response_prepare.append(add_security_headers)
    app.on_response_prepare.append(_note_raw_websocket)
    app.on_shutdown.append(_close_websockets)
    return app


def allow_origins(app: web.Application, *origins: str) -> web.Application:
    """Let pages from ``origins`` (exact: scheme, host and port) open websockets too."""
    add_plumbing(app)
    app[DOORS].origins.update(origin.rstrip("/") for origin in origins)
    return app


@web.middleware
async def _plumbing(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The plumbing around every request, in one middleware: one frame waits per open websocket.

    In order: the request runs as this server's (what its code prints goes to its log); the
    doors (``_check_doors``); ``KEY_CHECK_PATH`` answered (``_answer_key_check``); a raw
    websocket served uncompressed (``_without_extensions``, unless ``Limits.deflate``); the
    handler's exception recorded;
    a websocket it opened followed until it ends (``_websocket_ended``).
    """
    log = request.app[LOG]
    if CURRENT_LOG.get() is not log:  # aiohttp runs each request in a task of its own, on a copy
        CURRENT_LOG.set(log)  # of the context: set for this request only (no reset needed)
    _check_doors(request)
    if request.path == KEY_CHECK_PATH:
        return _answer_key_check(request)
    if "Sec-WebSocket-Extensions" in request.headers and not request.app[LIMITS].deflate \
            and not is_socketio(request):  # engine.io's refuses it itself (helpers.server.sio.frames)
        request = _without_extensions(request)
    try:
        return await handler(request)
    except (web.HTTPException, asyncio.CancelledError):
        raise
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:  # a path segment no file can have (over 255 bytes)
            raise web.HTTPNotFound() from None
        log.error(f"{request.method} {request.path}", exc)
        raise
    except Exception as exc:
        log.error(f"{request.method} {request.path}", exc)
        raise
    finally:
        ws = request.get(_WEBSOCKET)
        if ws is not None:  # when a raw websocket's handler returns, the log says the client left
            _websocket_ended(request.app, ws, raw=not is_socketio(request))


def _without_extensions(request: web.Request) -> web.Request:
    """Raw websockets are served uncompressed, as Node's socket.io does (``Limits.deflate``): the
    client's offer of permessage-deflate is not passed on, so the ``WebSocketResponse`` the
    student's handler makes never takes it up."""
    headers = request.headers.copy()
    del headers["Sec-WebSocket-Extensions"]
    return request.clone(headers=headers)


def _check_doors(request: web.Request) -> None:
    """Refuse a foreign ``Host`` (403), a websocket from a foreign page's ``Origin`` or without the
    join key of a shared server (403), and one more connection than a full server takes (503)."""
    try:
        doors, proxied, log = request.app[DOORS], proxy_base() is not None, request.app[LOG]
        host = request.host
        if not proxied and _name(host) not in doors.names:
            log.once("host", f"Refused a request for Host {host!r}: not this server's name.")
            raise web.HTTPForbidden(text="This server is not known by that name.\n")
        wants_websocket = request.headers.get("Upgrade", "").lower() == "websocket"
        if wants_websocket or is_socketio(request):
            origin = request.headers.get("Origin")
            if origin is not None and not _trusted(origin, host, request, doors, proxied):
                log.once("origin", f"Refused a connection from a page at {origin!r}.")
                raise web.HTTPForbidden(text="Pages from that origin may not connect.\n")
            if doors.key is not None:
                _check_key(request, doors.key)
            if _opens_connection(request, wants_websocket):
                _admit(request, wants_websocket)
    except web.HTTPException as refusal:
        refusal.force_close()  # a refused client can't hoard connections (and files) by keeping them
        raise


def _websocket_ended(app: web.Application, ws: web.WebSocketResponse, *, raw: bool) -> None:
    sockets, log = app[SOCKETS], app[LOG]
    sockets.discard(ws)
    app[RATE_LIMIT].forget(ws)
    give_back_memory_soon()  # what it was sent and never took: back to the system, not kept
    if not raw:
        return
    error = ws.exception()
    if WSCloseCode.MESSAGE_TOO_BIG in (ws.close_code, getattr(error, "code", None)):
        log.once("too big", "Closed a client's connection (1009): its message was over the size limit.")
    elif isinstance(error, asyncio.TimeoutError):
        log.once("silent", "Dropped a client that stopped answering pings.")
    log(f"Client disconnected ({len(sockets)} open).")


def json_actions(app: web.Application) -> dict[str, Callable[..., Any]] | None:
    """A JSON chat's table of actions by message type (notebook 06's ``app[ACTIONS]``), if ``app`` has one.

    Found by what it is, not by its key: a notebook that runs its cells again makes a new key.
    The checkers put a student's action in it; sharing picks the JSON page for such an app.
    """
    for key in app:
        value = app[key]
        if isinstance(value, dict) and {"nick", "chat"} <= value.keys():
            if all(map(callable, value.values())):
                return value
    return None


def websocket_of(request: web.Request) -> web.WebSocketResponse | None:
    """The websocket ``request`` opened, if it did (any handler's: ours, engine.io's)."""
    return request.get(_WEBSOCKET)


def _opens_connection(request: web.Request, wants_websocket: bool) -> bool:
    """A new websocket (an upgrade of a Socket.IO session too), or a new Socket.IO session."""
    if is_socketio(request):
        return wants_websocket or "sid" not in request.query
    return wants_websocket


def open_connections(app: web.Application) -> int:
    """Open websockets plus the other sessions the app counts (``SESSION_COUNTERS``): not newcomers."""
    return len(app[SOCKETS]) + sum(counter.connections() for counter in app[SESSION_COUNTERS])


def _refuse_when_full(request: web.Request) -> None:
    """503 when the server is full, when the client's address holds its share of it, or of newcomers.

    The rules, and why this machine's own address holds no share: ``helpers.server.admission``.
    """
    app, address = request.app, request.remote
    limits, log = app[LIMITS], app[LOG]
    cap = min(limits.connections, open_files_room())
    if open_connections(app) >= cap:
        log.once("full", f"Refused a connection: the server is full ({cap} connections).")
        raise _refusal(f"The server is full ({cap} connections); try again in a minute.\n", 60)
    if own_machine(address):
        return
    share = share_of(cap, limits)
    if _connections_from(app, address) >= share:
        log.once("share", f"Refused a connection from {address}: "
                 f"one address may hold {share} of the {cap} connections.")
        raise _refusal(f"Too many connections from your address ({share}); try again in a minute.\n", 60)
    if is_socketio(request) and "sid" not in request.query:
        newcomers = share_of(limits.newcomers, limits)
        if sum(counter.newcomers(address) for counter in app[SESSION_COUNTERS]) >= newcomers:
            log.once("newcomers", f"Refused a new Socket.IO session from {address}: "
                     f"{newcomers} of its sessions have not connected yet.")
            raise _refusal("Too many new connections from your address; try again in a few seconds.\n",
                           math.ceil(limits.connect_grace))


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
        sockets = request.app[SOCKETS]
        sockets.add(response)
        if request.transport is not None:
            _TRANSPORTS[response] = request.transport
            # masked frames only from now on: the 101 is not sent yet, so every frame is watched
            require_masks(request.transport, _is_websocket, request.app[_UNMASKED])
        if not is_socketio(request):
            request.app[LOG](f"Client connected ({len(sockets)} open).")


_RAW_WEBSOCKETS: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
"""The websockets of the apps' own handlers (not engine.io's): they speak the app's protocol."""


async def _note_raw_websocket(request: web.Request, response: web.StreamResponse) -> None:
    if isinstance(response, web.WebSocketResponse) and not is_socketio(request):
        _RAW_WEBSOCKETS.add(response)


def raw_websockets(app: web.Application) -> list[web.WebSocketResponse]:
    """The app's open websockets that its own handlers serve (engine.io's left out: it frames its own)."""
    return [ws for ws in app[SOCKETS] if ws in _RAW_WEBSOCKETS and not ws.closed]


def _check_key(request: web.Request, key: str) -> None:
    """Let ``request`` pass with the join key; else 403, or 429 for an address that keeps guessing.

    Only a wrong key counts as a guess (``helpers.server.join_keys``): a page opened without its link
    sends none. A locked-out address gets 429 even with the right key, so the lock answers no guess.
    """
    wrong_keys, log, address = request.app[WRONG_KEYS], request.app[LOG], request.remote or ""
    if wrong_keys.locked(address):
        raise web.HTTPTooManyRequests(text=KEY_GUESSES, headers={"Retry-After": "60"})
    if _has_key(request, key):
        return
    if request.query.get("key") and wrong_keys.wrong(address):
        log.once("key guesses", f"Locked out {address} for a minute: {wrong_keys.allowed} wrong join keys.")
        raise web.HTTPTooManyRequests(text=KEY_GUESSES, headers={"Retry-After": "60"})
    log.once("join key", "Refused a connection without the join key (or an old one).")
    raise web.HTTPForbidden(text=NEEDS_KEY)


def _answer_key_check(request: web.Request) -> web.Response:
    """``GET KEY_CHECK_PATH?key=...``: 204 when that key opens the door, else 403 (or 429).

    A page whose websocket failed asks here why: a browser shows it no handshake's status.
    """
    key = request.app[DOORS].key
    if key is not None:
        _check_key(request, key)
    return web.Response(status=204, headers={"Cache-Control": "no-store"})


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


def drop(ws: web.WebSocketResponse) -> None:
    """Cut ``ws``'s connection at once, without a close frame: aiohttp's ``request.transport.abort()``.

    For a client whose buffers are full because it stopped reading: it could not even take
    a close frame, and waiting for it would hold back whoever waits. aiohttp gives the
    connection only to the handler (``request.transport``); the plumbing keeps it for each
    websocket so that a broadcast, which has only the websocket, can cut it.
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


# --- admission: the cap, each address's share, masked frames (issue 19) ---------------------------


def _admit(request: web.Request, wants_websocket: bool) -> None:
    """Let one more connection in if there is room (``_refuse_when_full``); a websocket then
    takes masked frames only (``helpers.server.masks``: an unmasked one fails it with 1002), from
    when it is prepared (``_track_websocket``)."""
    _refuse_when_full(request)


def _is_websocket() -> bool:
    return True  # require_masks is called when the websocket is prepared


_UNMASKED = web.AppKey("log an unmasked frame", Callable[[], None])


def _refusal(text: str, retry_after: int) -> web.HTTPServiceUnavailable:
    """A 503 that closes its connection: a client can't hoard refused connections.

    Issue 19: under a 1,024 open-files limit, a client that kept its refused connections open
    (HTTP keep-alive) took the files the server keeps free, and newcomers timed out.
    """
    refusal = web.HTTPServiceUnavailable(text=text, headers={"Retry-After": str(retry_after)})
    refusal.force_close()
    return refusal


def _connections_from(app: web.Application, address: str | None) -> int:
    """The connections ``address`` holds: its open websockets, and the sessions counted for it."""
    websockets = sum(1 for ws in list(app[SOCKETS]) if _peer(ws) == address)
    return websockets + sum(counter.connections(address) for counter in app[SESSION_COUNTERS])


def _peer(ws: web.WebSocketResponse) -> str | None:
    transport = _TRANSPORTS.get(ws)
    peer = transport.get_extra_info("peername") if transport is not None else None
    return peer[0] if peer else None
