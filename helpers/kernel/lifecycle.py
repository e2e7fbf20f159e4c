"""Run an aiohttp server inside the Jupyter kernel: ``await start_server(app)``, ``await stop_server()``.

The kernel's asyncio loop is always running between cells, so ``web.run_app`` and
``asyncio.run`` can't be used there. The server is started with ``AppRunner``/``TCPSite``
on that running loop and keeps serving in the background while cells run.

Guarantees:

- ``start_server`` returns once the server listens, and prints one line with its URL.
- Running the start cell again replaces the earlier server (same app or a new one): the
  kernel never collides with its own earlier listener.
- Several servers run side by side under names (``start_server(app, port=3001, name="node-b")``,
  ``stop_server(name="node-b")``), each with its own log; ``start_server(app)`` is the one
  named ``"server"``, the only one notebooks 01-11 need.
- A port held by another workbook kernel of this user is handed over: that kernel's server
  stops (its clients get 1001) and this one starts, saying which notebook held the port
  (``helpers.kernel.handover``). A port held by another program gives one line naming the port and
  how to pick another.
- ``stop_server`` closes open websockets with 1001 and returns within a few seconds, even
  with clients connected (aiohttp's default graceful shutdown waits 60 s). It is idempotent.
- An exception in a handler or in a task started with ``server.spawn`` goes to the server
  log, and is printed at the top of the next cell that runs.
- ``share=True`` also listens on this machine's network address and asks every connection
  for a new join key (``helpers.kernel.share``); it prints the students' link and its QR code.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from helpers.common.addresses import DEFAULT_PORT, browser_url, with_key
from helpers.common.signals import KEY_LOOKUPS, PORT_HANDED_OVER, SERVER_STARTED
from helpers.common.waiting import cell_began
from helpers.kernel import handover
from helpers.kernel.cells import before_each_cell
from helpers.kernel.share import (
    Sharing,
    allow_shared_origin,
    also_listen,
    announce,
    open_doors,
    stage_page,
)
from helpers.server.app import DOORS, LIMITS, LOG, SOCKETS, add_plumbing
from helpers.server.limits import raise_open_files_limit
from helpers.server.log import ServerLog, server_context
from helpers.server.sio.hold import hold_socketio

__all__ = [
    "PortInUseError",
    "RunningServer",
    "current_server",
    "open_server",
    "running_servers",
    "start_server",
    "stop_all_servers",
    "stop_server",
]

SHUTDOWN_TIMEOUT = 1.0
"""Seconds aiohttp waits for unfinished requests at stop (its default is 60)."""



class PortInUseError(OSError):
    """Another program listens on the port. Shown as one line in a notebook, not a traceback."""

    def __init__(self, host: str, port: int, holder: str = "another program") -> None:
        self.host, self.port, self.holder = host, port, holder
        super().__init__(
            errno.EADDRINUSE,
            f"Port {port} on {host} is in use by {holder}. "
            f"Stop {'that program' if holder == 'another program' else 'it'}, or choose another port: "
            f"await start_server(app, port={port + 1})",
        )

    def __str__(self) -> str:
        return self.strerror

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"PortInUseError: {self}"]


@dataclass
class RunningServer:
    """A server started by ``start_server``: its address, its log, and ``stop()``."""

    app: web.Application
    runner: web.AppRunner
    host: str
    port: int
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    sharing: Sharing | None = None  # its network address and join key, when shared

    @property
    def url(self) -> str:
        """Where its pages are (they need no key): ``url + "chat.html"``."""
        return f"http://{self.host}:{self.port}/"

    @property
    def ws_url(self) -> str:
        """Where a websocket connects: with the join key when shared."""
        return self.link(scheme="ws")

    @property
    def key(self) -> str | None:
        """The join key every websocket and Socket.IO connection needs; ``None`` when not shared."""
        return self.sharing.key if self.sharing is not None else None

    def key_for(self, url: str) -> str | None:
        """The join key a connection to ``url`` needs, when ``url`` is this shared server's address."""
        parts = urlsplit(url)
        ours = parts.port == self.port and (parts.hostname or "").lower() in self.app[DOORS].names
        return self.key if ours else None

    def link(self, path: str = "", *, scheme: str = "http") -> str:
        """``path`` on this server, with the join key when shared: what a client opens from here."""
        url = f"{scheme}://{self.host}:{self.port}/{path}"
        return url if self.key is None else with_key(url, self.key)

    @property
    def share_url(self) -> str | None:
        """The link students open (the stage's page at the network address, with the key)."""
        return None if self.sharing is None else self.sharing.url(self.port, stage_page(self.app))

    @property
    def log(self) -> ServerLog:
        return self.app[LOG]

    @property
    def clients(self) -> int:
        """How many websockets are open right now."""
        return len(self.app[SOCKETS])

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "task") -> asyncio.Task[Any]:
        """Run ``coro`` beside the server; its prints and its exception go to the log; stop cancels it."""
        with server_context(self.log):  # the task's context is a copy of this one: the server's
            task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error(f"background task {task.get_name()!r}", task.exception())

    async def stop(self) -> None:
        """Cancel spawned tasks, close websockets with 1001, free the port. Idempotent."""
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=SHUTDOWN_TIMEOUT)
        for address in self.runner.addresses:
            _ACCEPT_LOGS.pop(tuple(address[:2]), None)
        with server_context(self.log):  # what its shutdown handlers print goes to its log
            await self.runner.cleanup()

    def __repr__(self) -> str:
        shared = "" if self.sharing is None else f" shared at {self.sharing.origin(self.port)}/"
        return f"<RunningServer {self.url}{shared}>"


DEFAULT_NAME = "server"
"""The name of the server ``start_server(app)`` runs: notebooks 01-11 run only this one."""

_servers: dict[str, RunningServer] = {}
"""The servers this kernel runs, by name."""

_ACCEPT_LOGS: dict[tuple[str, int], ServerLog] = {}
"""The log of each running server, by its listening address, for errors in accepting clients."""


def _log_accept_errors(server: RunningServer) -> None:
    """Errors in accepting a client go to the server's log, once per interval.

    Out of file descriptors, asyncio's accept loop reports each failed accept through the
    loop's exception handler: on stderr, 15,103 tracebacks in 15 s. A handler on the loop
    (the kernel's, in a notebook) sends those of our servers to their logs instead.
    """
    for address in server.runner.addresses:  # loopback, and the network address when shared
        _ACCEPT_LOGS[tuple(address[:2])] = server.log
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    if getattr(previous, "routes_accept_errors", False):
        return

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        sock = context.get("socket")
        where = tuple(sock.getsockname()[:2]) if sock is not None and sock.fileno() != -1 else None
        log = _ACCEPT_LOGS.get(where) if where is not None else None
        if log is None or "accept" not in context.get("message", ""):
            return previous(loop, context) if previous else loop.default_exception_handler(context)
        error = context.get("exception")
        log.once("accept", f"Could not accept a client: {error or context['message']}.")

    handler.routes_accept_errors = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)


def current_server(name: str = DEFAULT_NAME) -> RunningServer | None:
    """The server this kernel runs now under ``name`` (``start_server(app)``'s, by default), if any."""
    return _servers.get(name)


def _own_key(url: str) -> str | None:
    """The join key ``url`` needs when it is the address of this kernel's shared server."""
    server = current_server()
    return server.key_for(url) if server is not None else None


KEY_LOOKUPS.append(_own_key)  # a widget client of this kernel joins its shared server with the key


def running_servers() -> dict[str, RunningServer]:
    """Every server this kernel runs now, by name."""
    return dict(_servers)


async def open_server(
    app: web.Application, *, host: str = "127.0.0.1", port: int = 0, sharing: Sharing | None = None
) -> RunningServer:
    """Serve ``app`` at ``host``:``port`` (``0``: a free port) beside this kernel's own server.

    For code that runs a server of its own for a while, such as an exercise's checker: the
    server is not ``current_server()``, its errors are not shown in the next cell, and its
    owner stops it (``await server.stop()``). ``start_server`` is built on it. With
    ``sharing``, it listens on ``sharing.address`` too (same port) and asks for its key.
    """
    add_plumbing(app)
    hold_socketio(app)  # notebook 10's defenses for a python-socketio server on the app, if any
    raise_open_files_limit()  # every client is an open file: 1,024 of them is no classroom
    open_doors(app, sharing, host)
    runner = web.AppRunner(
        app,
        handle_signals=False,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        logger=app[LOG].logger("aiohttp"),  # its errors go to the server log, not to stderr
        # a connection that sends no whole request in this time is closed (slowloris); aiohttp's
        # default waits an hour. It never cuts a request being answered, nor an open websocket.
        keepalive_timeout=app[LIMITS].idle,
    )
    with server_context(app[LOG]):  # what its startup handlers print (or start) goes to its log
        await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        with server_context(app[LOG]):  # its connections' tasks start in this context: the server's
            await site.start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(host, port) from None
        raise
    server = RunningServer(app, runner, host, runner.addresses[0][1], sharing=sharing)
    if sharing is not None:
        await _share(server, sharing)
    _log_accept_errors(server)
    app[LOG](f"Listening at port {server.port}")
    if sharing is not None:
        app[LOG](f"Shared at {sharing.origin(server.port)}/: connections need the join key.")
    SERVER_STARTED.notify()
    return server


async def _share(server: RunningServer, sharing: Sharing) -> None:
    """Listen on the network address too, on the same port: a second site of the same runner."""
    if also_listen(server.host, sharing):
        try:
            with server_context(server.app[LOG]):
                await web.TCPSite(server.runner, sharing.address, server.port).start()
        except OSError as exc:
            await server.runner.cleanup()
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(sharing.address, server.port) from None
            raise
    allow_shared_origin(server.app, sharing, server.port)


async def start_server(
    app: web.Application,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    quiet: bool = False,
    hand_over: bool = True,
    share: bool = False,
    name: str = DEFAULT_NAME,
) -> RunningServer:
    """Serve ``app`` at ``host``:``port`` from this kernel's loop, replacing the earlier server of ``name``.

    ``port=0`` picks a free port (tests use it). Prints ``Listening at port N: URL``. A port
    held by another of your workbook kernels is handed over to this one, and this one hands
    it on when asked; ``hand_over=False`` (the command line) neither asks nor gives.
    ``share=True`` also listens on the network for a class, with a new join key (``helpers.kernel.share``),
    and prints the link students open with its QR code. ``name`` runs several servers side by
    side (``name="node-b"``), each with its own port, log and ``stop_server(name=...)``.
    """
    sharing = Sharing.new() if share else None  # a wrong WORKBOOK_SHARE_ADDRESS stops nothing
    await stop_server(quiet=True, name=name)
    port = DEFAULT_PORT if port is None else port
    try:
        server = await open_server(app, host=host, port=port, sharing=sharing)
    except PortInUseError:
        if (ours := _serving(port)) is not None:  # another server of this kernel: no notebook to ask
            raise PortInUseError(host, port, f"this kernel's server {ours!r}") from None
        if not hand_over:
            raise
        try:
            holder = await handover.request_port(port)
        except handover.HandOverRefused as refused:
            raise PortInUseError(host, port, refused.holder) from None
        try:
            server = await open_server(app, host=host, port=port, sharing=sharing)
        except PortInUseError:  # another notebook asked at the same moment, and bound first
            raise PortInUseError(host, port, "another notebook that took it at the same moment") from None
        if not quiet:
            print(f"Took port {port} over from {holder}: its server stopped.")
    _servers[name] = server
    if hand_over:
        _claims[name] = await handover.claim(server.port, _hand_over)
    if not quiet:  # the address the student's browser can open: through the hub's proxy, on a hub
        who = "Listening" if name == DEFAULT_NAME else f"{name}: listening"
        print(f"{who} at port {server.port}: {browser_url(server.port, direct=server.url)}")
        if server.share_url is not None:
            announce(server.share_url, server.sharing.note)
    return server


def _serving(port: int) -> str | None:
    """The name of this kernel's server at ``port``, if one is there."""
    return next((name for name, server in _servers.items() if server.port == port), None)


async def stop_server(*, quiet: bool = False, name: str = DEFAULT_NAME) -> None:
    """Stop the server this kernel runs under ``name`` (if any) and free its port."""
    server = _servers.get(name)
    if server is None:
        if not quiet:
            print("No server is running." if name == DEFAULT_NAME else f"No server {name!r} is running.")
        return
    await server.stop()  # if this raises, the server is still listed, to stop again
    del _servers[name]
    claim = _claims.pop(name, None)
    if claim is not None:
        claim.release()
    server.log("Server stopped.")
    if not quiet:
        print(f"Stopped the server at port {server.port}.")


async def stop_all_servers(*, quiet: bool = False) -> None:
    """Stop every server this kernel runs."""
    for name in list(_servers):
        await stop_server(quiet=quiet, name=name)


_claims: dict[str, handover.Claim] = {}
_news: list[str] = []
"""What happened to this kernel's servers between cells, told at the top of the next one."""


async def _hand_over(port: int, requester: str) -> bool:
    """Another notebook of ours wants ``port``: stop our server there, and say so in our next cell.

    ``False`` when we serve no such port any more (another notebook asked first).
    """
    name = _serving(port)
    if name is None:
        return False
    await stop_server(quiet=True, name=name)
    for hook in PORT_HANDED_OVER:  # our widgets stop reconnecting: they'd join its chat
        hook(port, requester)
    _news.append(
        f"Server: port {port} went to {requester}, so this notebook's server stopped. "
        "Run its start cell to take the port back."
    )
    return True


def report_to_next_cell() -> None:
    """Print what the next cell should know: news of the server, and its unseen errors."""
    while _news:
        print(_news.pop(0))
    for name, server in list(_servers.items()):
        who = "Server" if name == DEFAULT_NAME else f"Server {name}"
        for error in server.log.take_unreported_errors():
            print(f"{who}: {error.summary}")


before_each_cell(cell_began)
before_each_cell(report_to_next_cell)
