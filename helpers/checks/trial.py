"""How an exercise's checker runs: a server on a spare port, real clients, one verdict.

A checker starts the student's code in this kernel, on a port of its own (the notebook's
server keeps running), drives real clients against it and returns a ``Verdict``:
``Passed: ...``, or ``Not yet: ...`` with what was sent, what was expected and what arrived.
It never hangs (every wait has a timeout, the whole check too) and never raises into the
notebook: whatever goes wrong, the student's code or the check, becomes a "not yet".

Typical use, in a checker::

    async def check_upper_echo(handler):
        async def scenario(trial):
            server = await trial.serve(chat_app(websocket=handler))
            client = await trial.websocket(server)
            await client.send("hi")
            trial.expect(sent="hi", expected="HI", arrived=await client.receive())
            return "the server answered in upper case"
        return await run_check("upper-case echo", scenario, handler)
"""

from __future__ import annotations

import asyncio
import html
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from aiohttp import web

from helpers.lifecycle import RunningServer, open_server
from helpers.waiting import now

__all__ = [
    "CHECK_TIMEOUT",
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

WAIT = 2.0
"""Seconds to wait for one expected message or log line."""


@dataclass(frozen=True)
class Nothing:
    """What arrived when nothing did, and why: ``nothing (the connection closed: 1011)``."""

    why: str

    def __str__(self) -> str:
        return f"nothing ({self.why})"


@dataclass(frozen=True)
class Emit:
    """What a Socket.IO client sent, as a verdict shows it: ``emit('shout', 'hi there')``."""

    event: str
    args: tuple[Any, ...] = ()

    def __repr__(self) -> str:
        return f"emit({', '.join(repr(item) for item in (self.event, *self.args))})"


def shown(value: Any) -> str:
    """A value as a verdict shows it: text quoted, a list as one, ``Nothing`` as its reason."""
    if isinstance(value, Nothing):
        return str(value)
    if isinstance(value, list):
        return f"[{', '.join(shown(item) for item in value)}]"
    return repr(value)


class NotYet(Exception):  # noqa: N818 (a verdict, not an error)
    """The student's code did not do what the exercise asks; ``lines`` say what happened."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)


@dataclass
class Verdict:
    """A checker's answer. Its text (what nbval compares) is deterministic: no ports, no times."""

    exercise: str
    passed: bool
    details: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        if self.passed:
            return f"Passed: {self.exercise}. " + " ".join(self.details)
        return "\n".join([f"Not yet: {self.exercise}.", *(f"  {line}" for line in self.details)])

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.passed else "#9a6700"
        return f'<pre style="color:{color}">{html.escape(repr(self))}</pre>'


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
    """The servers and clients of one check; ``close()`` stops them all."""

    def __init__(self) -> None:
        self.servers: list[RunningServer] = []
        self.closers: list[Callable[[], Awaitable[Any]]] = []

    async def serve(self, app: web.Application) -> RunningServer:
        """Start ``app`` on a spare loopback port, beside the notebook's own server."""
        server = await open_server(app, port=0)
        self.servers.append(server)
        return server

    async def websocket(self, server: RunningServer, path: str = "") -> Any:
        """A connected ``websockets`` client of ``server`` (see ``helpers.checks.clients``)."""
        from helpers.checks.clients import WebsocketPeer

        peer = await WebsocketPeer.open(server.ws_url + path)
        self.closers.append(peer.close)
        return peer

    async def socketio(self, server: RunningServer, *, auth: dict | None = None) -> Any:
        """A connected python-socketio client of ``server`` (see ``helpers.checks.clients``)."""
        from helpers.checks.clients import SocketIOPeer

        peer = SocketIOPeer()
        self.closers.append(peer.close)
        await peer.open(server.url, auth=auth)
        return peer

    def expect(self, *, sent: Any, expected: Any, arrived: Any) -> None:
        """Go on if ``arrived == expected``; otherwise end the check with the three of them."""
        if arrived != expected:
            raise NotYet(
                f"sent:     {shown(sent)}", f"expected: {shown(expected)}", f"arrived:  {shown(arrived)}"
            )

    def server_errors(self) -> list[str]:
        """What the student's code raised inside the servers, one line each."""
        lines = []
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

    async def close(self) -> None:
        """Close the clients, then stop the servers; never raises, never waits long."""
        for close in reversed(self.closers):
            try:
                async with asyncio.timeout(WAIT):
                    await close()
            except Exception:  # a client that can't close cleanly is simply dropped
                pass
        for server in self.servers:
            try:
                async with asyncio.timeout(2 * WAIT):
                    await server.stop()
            except Exception:
                pass


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


async def run_check(
    exercise: str, scenario: Scenario, *functions: Any, app_first: bool = False
) -> Verdict:
    """Run ``scenario`` with a fresh ``Trial``; whatever happens, return a ``Verdict``.

    ``functions`` are what the student wrote: each must be an ``async def`` function (with
    ``app_first``, taking the app first, as the notebook's handlers do), or the check says so
    before starting anything.
    """
    for function in functions:
        wrong = _wrong_shape(function, app_first)
        if wrong:
            return Verdict(exercise, False, [wrong])
    trial = Trial()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            summary = await scenario(trial)
    except NotYet as not_yet:
        details = not_yet.lines
    except TimeoutError:
        details = [f"the check did not finish within {CHECK_TIMEOUT:g} s"]
    except Exception as exc:  # the check itself met something unexpected: still a verdict
        details = [f"the check could not go on: {type(exc).__name__}: {exc}"]
    else:
        details = []
    finally:
        errors = trial.server_errors()
        await trial.close()
    if details or errors:
        return Verdict(exercise, False, [*details, *errors])
    return Verdict(exercise, True, [summary])


def _wrong_shape(function: Any, app_first: bool) -> str | None:
    """Why ``function`` can't be what the exercise asks for, or ``None``."""
    name = getattr(function, "__name__", repr(function))
    if not inspect.iscoroutinefunction(function):
        return f"{name} must be a function defined with `async def`"
    parameters = list(inspect.signature(function).parameters)
    if app_first and parameters[:1] != ["app"]:
        return f"{name} must take the app first, as the handlers above do: async def {name}(app, ...)"
    return None
