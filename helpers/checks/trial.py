"""How an exercise's checker runs: a server on a spare port, real named clients, one verdict.

A checker starts the student's code in this kernel, on a port of its own (the notebook's
server keeps running), drives real clients against it and returns a ``Verdict``:
``Passed: ...``, or ``Not yet: ...`` saying what happened, who expected what and who got
what. It never hangs (every wait has a timeout, the whole check too) and never raises into
the notebook: whatever goes wrong, the student's code or the check, becomes a "not yet".
Code of the student's that raised inside the server is a "not yet" too, whatever arrived,
and so is a server that still holds clients that left (a dict never cleaned up).

Typical use, in a checker::

    async def check_upper_echo(handler):
        async def scenario(trial):
            server = await trial.serve_handler(handler)
            alice = await trial.websocket(server, "alice")
            await alice.send("hi")
            await trial.expect("alice sent 'hi'", ("alice", "HI", await alice.receive()))
            return "the server answered in upper case"
        return await run_check("upper-case echo", scenario, handler, shape="handler")
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import weakref
from collections.abc import Awaitable, Callable, Iterable
from functools import wraps
from typing import Any

from aiohttp import web

from helpers.checks.clients import WAIT, SocketIOPeer, WebsocketPeer
from helpers.checks.interrupt import Interrupts, LoopHeld, stoppable_student_code
from helpers.checks.verdict import NOTHING, Emit, Nothing, NotYet, Verdict, shown
from helpers.common.internals import registered_handlers
from helpers.common.waiting import now
from helpers.kernel.lifecycle import RunningServer, open_server
from helpers.server.app import SOCKETS, add_plumbing, open_connections
from helpers.server.sio.serving import SIO

__all__ = [
    "CHECK_TIMEOUT",
    "NOTHING",
    "WAIT",
    "Emit",
    "LogCursor",
    "NotYet",
    "Nothing",
    "Trial",
    "Verdict",
    "checker",
    "run_check",
    "shown",
]

CHECK_TIMEOUT = 15.0
"""Seconds a whole check may take; then it ends with "not yet"."""

GRACE = 0.3
"""Seconds a client that should get nothing is watched, once the others got what they should."""

Outcome = tuple[str, Any, Any]
"""``(who, expected, got)``: one line pair of a verdict."""


class LogCursor:
    """Reads a server's log forward from where it was created: each line at most once."""

    def __init__(self, server: RunningServer) -> None:
        self.log = server.log
        self.mark = now()  # lines are stamped: a bounded log may drop its oldest, stamps stay
        self.errors_seen = self.log.error_count

    async def next(self, containing: str, timeout: float = WAIT) -> str | Nothing:
        """The next line with ``containing`` in it, or ``Nothing`` after ``timeout`` s."""
        lines, log = self.log.lines, self.log

        def found() -> int | None:
            return next(
                (i for i, stamp in enumerate(lines.stamps) if stamp > self.mark and containing in lines[i]),
                None,
            )

        try:
            await log.changes.wait_until(
                lambda: found() is not None or log.error_count > self.errors_seen,
                timeout=timeout,
                describe=str,
            )
        except TimeoutError:
            return Nothing(f"no line with {containing!r} in the server log after {timeout:g} s")
        index = found()
        if index is None:
            self.errors_seen = log.error_count
            return Nothing(f"the server raised an error before logging a line with {containing!r}")
        self.mark = lines.stamps[index]
        return lines[index]


class Trial:
    """The servers and named clients of one check; ``close()`` stops them all."""

    def __init__(self) -> None:
        self.servers: list[RunningServer] = []
        self.programs: list[Any] = []  # standalone servers, as processes (helpers.checks.capstone)
        self.peers: list[WebsocketPeer | SocketIOPeer] = []
        self.opened: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self.sids: set[str] = set()  # the session ids its Socket.IO clients had

    async def serve(self, app: web.Application) -> RunningServer:
        """Start ``app`` on a spare loopback port, beside the notebook's own server."""
        if not isinstance(app, web.Application):
            raise NotYet(f"make_app() returned {type(app).__name__}, not an aiohttp web.Application")
        add_plumbing(app)
        app.on_response_prepare.append(self._remember)
        server = await open_server(app, port=0)
        self.servers.append(server)
        return server

    async def serve_handler(
        self, handler: Callable, state_from: Callable[[], web.Application] | None = None
    ) -> RunningServer:
        """Serve ``handler`` for the websocket at ``/``, with the app keys ``state_from()`` sets."""
        app = web.Application()
        if state_from is not None:
            if not callable(state_from):
                raise NotYet("pass make_app itself, without parentheses: the checker calls it")
            made = state_from()
            for key in made:
                app[key] = made[key]
        app.router.add_get("/", handler)
        return await self.serve(app)

    async def _remember(self, request: web.Request, response: web.StreamResponse) -> None:
        if isinstance(response, web.WebSocketResponse):
            self.opened.add(response)

    async def websocket(self, server: RunningServer, name: str) -> WebsocketPeer:
        """A connected ``websockets`` client of ``server``, called ``name`` in verdicts."""
        peer = await WebsocketPeer.open(name, server.ws_url)
        self.peers.append(peer)
        return peer

    async def socketio(self, server: RunningServer, name: str, *, auth: dict | None = None) -> SocketIOPeer:
        """A connected python-socketio client of ``server``, called ``name`` in verdicts."""
        peer = SocketIOPeer(name)
        self.peers.append(peer)
        await peer.open(server.url, auth=auth)
        if peer.sid is not None:
            self.sids.add(peer.sid)
        return peer

    async def websockets(self, server: RunningServer, *names: str) -> list[WebsocketPeer]:
        """A connected websocket client of ``server`` for each name, in order."""
        return [await self.websocket(server, name) for name in names]

    async def socketios(self, server: RunningServer, *names: str) -> list[SocketIOPeer]:
        """A connected python-socketio client of ``server`` for each name, in order."""
        return [await self.socketio(server, name) for name in names]

    async def answered(
        self, client: WebsocketPeer, text: str, expected: Any, action: str | None = None
    ) -> None:
        """``client`` sends ``text`` and its next message is ``expected``: one step of an exchange."""
        await client.send(text)
        self.expect(action or f"{client} sent {text!r}", (client.name, expected, await client.receive()))

    async def acknowledged(
        self, client: SocketIOPeer, sent: Emit, expected: Any, action: str | None = None
    ) -> None:
        """``client`` emits ``sent`` and its acknowledgement is ``expected``."""
        answer = await client.call(sent.event, *sent.args)
        self.expect(action or f"{client} sent {sent}", (f"{client}'s acknowledgement", expected, answer))

    def expect(self, action: str, *outcomes: Outcome) -> None:
        """Go on if each ``(who, expected, got)`` matches; otherwise end the check saying who didn't."""
        wrong = [(who, expected, got) for who, expected, got in outcomes if expected != got]
        if not wrong:
            return
        width = max(len(str(who)) for who, _, _ in wrong) + len(" expected:")
        lines = [action]
        for who, expected, got in wrong:
            lines.append(f"{f'{who} expected:':<{width}} {shown(expected)}")
            lines.append(f"{f'{who} got:':<{width}} {shown(got)}")
        raise NotYet(*lines)

    async def deliveries(
        self, action: str, expected: dict[WebsocketPeer, Any], *, as_json: bool = False
    ) -> None:
        """After ``action``, each client gets what ``expected`` says, ``NOTHING`` for nothing at all.

        ``as_json``: what arrives is read as JSON, so ``{"nick": "a", "type": "join"}`` is the
        ``{"type": "join", "nick": "a"}`` expected, whatever the order of its keys.
        """
        outcomes = []
        for peer, wanted in expected.items():  # those that get something first: then it has been sent
            if wanted is not NOTHING:
                outcomes.append((peer.name, wanted, _parsed(await peer.receive(), as_json)))
        for peer, wanted in expected.items():
            if wanted is NOTHING:
                outcomes.append((peer.name, NOTHING, _parsed(await peer.receive(timeout=GRACE), as_json)))
        self.expect(action, *outcomes)

    async def close_clients(self) -> None:
        """Close every client, then give the servers a moment to see them go (their handlers end)."""
        for peer in reversed(self.peers):
            try:
                async with asyncio.timeout(WAIT):
                    await peer.close()
            except Exception:  # a client that can't close cleanly is simply dropped
                pass
        self.peers.clear()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0
        while any(open_connections(server.app) for server in self.servers) and loop.time() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)  # a handler's last lines, after its socket went

    def server_errors(self) -> list[str]:
        """What the student's code raised inside the servers, one line each."""
        lines = [line for program in self.programs for line in program.complaints()]
        for server in self.servers:
            lines += [f"the server said: {line}" for line in server.log.lines if "wrong arguments" in line]
            for error in server.log.errors:
                exception = error.exception
                line = f"the server raised {type(exception).__name__}"
                if str(exception):
                    line += f": {exception}"
                if isinstance(exception, NotImplementedError):
                    line += " (replace `raise NotImplementedError()` with your code)"
                if line not in lines:
                    lines.append(line)
        return lines

    def leftovers(self, functions: Iterable[Any]) -> list[str]:
        """Where the servers still keep clients that left: a set or dict never cleaned up.

        A websocket's clients are their ``WebSocketResponse``s; a Socket.IO server's, their
        session ids. Looked for in the apps' state, and in what the student's functions (and
        the handlers they registered) keep in their variables.
        """
        gone: list[Any] = [ws for ws in self.opened if ws.closed] + list(self.sids)
        if not gone:
            return []
        places: list[tuple[str, Any]] = []
        functions = list(functions)
        for server in self.servers:
            places += [(_key_name(key), server.app[key]) for key in server.app]
            if SIO in server.app:
                functions += list(registered_handlers(server.app[SIO]).values())
        for function in functions:
            places += [(name, value) for name, value in getattr(function, "__globals__", {}).items()]
            code, closure = getattr(function, "__code__", None), getattr(function, "__closure__", None) or ()
            for name, cell in zip(code.co_freevars if code else (), closure, strict=False):
                with contextlib.suppress(ValueError):  # a cell not filled yet
                    places.append((name, cell.cell_contents))
        lines = []
        for name, value in places:
            kept = _clients_in(value, gone)
            if kept and name != _key_name(SOCKETS):  # the plumbing's own, emptied as clients go
                lines.append(f"after every client left, the server still keeps {kept} of them in `{name}`")
        return sorted(set(lines))

    async def stop_servers(self) -> None:
        for program in self.programs:
            await program.stop()
        for server in self.servers:
            try:
                async with asyncio.timeout(2 * WAIT):
                    await server.stop()
            except Exception:
                pass


def _parsed(arrived: Any, as_json: bool) -> Any:
    """``arrived`` read as JSON when asked and when it is JSON text; as it is otherwise."""
    if as_json and isinstance(arrived, str):
        try:
            return json.loads(arrived)
        except ValueError:
            return arrived
    return arrived


def _key_name(key: Any) -> str:
    """An app key as a student named it: ``CLIENTS`` for ``web.AppKey("clients", ...)``."""
    name = str(getattr(key, "_name", key)).rsplit(".", 1)[-1]
    return name.upper() if isinstance(key, web.AppKey) else name


def _clients_in(value: Any, gone: list[Any]) -> int:
    """How many of ``gone`` (websockets, or session ids) a set, list, tuple or dict (keys, values) holds."""
    try:
        if isinstance(value, dict):
            items = [*value.keys(), *value.values()]
        elif isinstance(value, set | frozenset | list | tuple):
            items = list(value)
        else:
            return 0
    except Exception:
        return 0
    return sum(1 for item in items if any(item is client or (isinstance(client, str) and item == client)
                                          for client in gone))


Scenario = Callable[[Trial], Awaitable[str]]


def checker(check: Callable[..., Awaitable[Verdict]]) -> Callable[..., Awaitable[Verdict]]:
    """A checker that answers a call with the wrong arguments by a verdict, not a ``TypeError``."""
    signature = inspect.signature(check)

    @wraps(check)
    async def checked(*args: Any, **kwargs: Any) -> Verdict:
        try:
            signature.bind(*args, **kwargs)
        except TypeError:
            usage = ", ".join(signature.parameters)
            return Verdict(check.__name__, False, [f"call it as: await {check.__name__}({usage})"])
        return await check(*args, **kwargs)

    return checked


SHAPES = {
    "handler": "an aiohttp handler: async def {name}(request): ...",
    "action": "an action like the ones above: async def {name}(app, ws, message): ...",
    "feature": "a function that adds handlers to the app's server: def {name}(app): ...",
}


async def run_check(
    exercise: str, scenario: Scenario, *functions: Any, shape: str | None = None, timeout: float | None = None
) -> Verdict:
    """Run ``scenario`` with a fresh ``Trial``; whatever happens, return a ``Verdict``.

    ``functions`` are what the student wrote, each of ``shape`` (``SHAPES``): the check says
    so before starting anything when one is not. After the scenario, the clients leave; what
    the student's code raised meanwhile, and clients it still holds, make it a "not yet" too.
    ``timeout``: seconds for the whole check (``CHECK_TIMEOUT`` by default).
    """
    limit = CHECK_TIMEOUT if timeout is None else timeout
    for function in functions:
        wrong = _wrong_shape(function, shape)
        if wrong:
            return Verdict(exercise, False, [wrong])
    trial = Trial()
    summary, details = "", []
    with stoppable_student_code() as interrupts:  # a loop held by the student's code: stoppable
        try:
            summary, details = await _run_scenario(trial, scenario, limit, interrupts)
        finally:
            await trial.close_clients()
            errors = trial.server_errors()
            kept = trial.leftovers(functions) if not details and not errors else []
            await trial.stop_servers()
    if details or errors or kept:
        return Verdict(exercise, False, [*details, *errors, *kept])
    return Verdict(exercise, True, [summary])


async def _run_scenario(
    trial: Trial, scenario: Scenario, limit: float, interrupts: Interrupts
) -> tuple[str, list[str]]:
    """The scenario's summary, or what went wrong: a "not yet", a timeout, a loop held."""
    summary, details = "", []
    try:
        async with asyncio.timeout(limit):
            summary = await scenario(trial)
    except NotYet as not_yet:
        details = not_yet.lines
    except TimeoutError:
        details = [f"the check did not finish within {limit:g} s"]
    except LoopHeld:
        pass  # raised in the student's code that the check called itself: said below
    except asyncio.CancelledError:
        if not interrupts.stopped():
            raise  # the stop button while the loop was free: the cell stops
    except Exception as exc:  # the check itself met something unexpected: still a verdict
        details = [f"the check could not go on: {type(exc).__name__}: {exc}"]
    if interrupts.stopped_held_loop:  # the stop button, or nbgrader's timeout, freed the loop
        details = [HELD, *(line for line in details if "LoopHeld" not in line)]
    return summary, details


HELD = "the check was interrupted: the code under test never gave the event loop back (a loop without await?)"
"""The verdict's line when an interrupt had to free the loop from the student's code."""


def _wrong_shape(function: Any, shape: str | None) -> str | None:
    """Why ``function`` can't be what the exercise asks for, or ``None``."""
    name = getattr(function, "__name__", repr(function))
    if shape is None:
        return None
    wanted = SHAPES[shape].format(name=name)
    if not callable(function):
        return f"{name} must be {wanted}"
    is_async = inspect.iscoroutinefunction(function)
    if shape == "feature" and is_async:
        return f"{name} must be {wanted} (a plain `def`: the handlers inside it are `async def`)"
    if shape != "feature" and not is_async:
        return f"{name} must be {wanted} (defined with `async def`)"
    parameters = list(inspect.signature(function).parameters)
    takes = {"handler": 1, "action": 3, "feature": 1}[shape]
    if len(parameters) != takes:
        return f"{name} must be {wanted}"
    return None
