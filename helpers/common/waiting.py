"""Honest waits: on a condition, with a timeout, counting only what arrived after they began.

A cell that waits for ``"Server said: hi"`` must not pass on a line left over from an earlier
run of the notebook. So every line a log or a client receives is stamped when it arrives
(``Lines``), and a wait counts only the lines stamped after its *mark*: by default the moment
the current notebook cell began (outside a notebook: the beginning), or a mark the cell took
itself with ``mark()``.

A wait that times out raises ``WaitTimeout``, shown in a notebook as one line naming what
was awaited and what arrived, never a traceback through this module. A wait that is
interrupted (the kernel's stop button) says, in one line, what it was waiting for.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from typing import Any, SupportsIndex

__all__ = ["Changes", "Lines", "WaitTimeout", "cell_began", "describe_interrupt", "now"]

WAKE_EVERY = 0.2
"""Seconds a wait sleeps at most before it looks again (and lets an interrupt in)."""

_clock = itertools.count(1)
_cell_mark = 0
"""The stamp at which the running notebook cell began; 0 outside a notebook."""


def now() -> int:
    """A mark: lines stamped from now on come after it."""
    return next(_clock)


def cell_began() -> None:
    """Called before each notebook cell runs (``helpers.kernel.cells``): waits count from here."""
    global _cell_mark
    _cell_mark = now()


def default_mark() -> int:
    return _cell_mark


class WaitTimeout(TimeoutError):
    """A wait ran out of time. In a notebook: one line, no traceback through the helpers."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"TimeoutError: {self}"]


@contextmanager
def describe_interrupt(what: str) -> Any:
    """An interrupt (``CancelledError``) inside says, in one line, what it interrupted."""
    try:
        yield
    except asyncio.CancelledError as cancelled:
        cancelled._render_traceback_ = lambda: [f"Interrupted while waiting for {what}."]
        raise


class Changes:
    """Wakes the coroutines that wait for a condition on some state whenever it changes.

    The owner calls :meth:`notify` after each change (from plain code, no task needed);
    waiters call :meth:`wait_until` with a predicate and a timeout.
    """

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def next(self, timeout: float) -> bool:
        """Wait for the next change, at most ``timeout`` s; whether one came."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):  # not wait_for: in 3.11 it can swallow a cancel
                await waiter
        except TimeoutError:
            return False
        return True

    async def wait_until(
        self, predicate: Callable[[], bool], *, timeout: float, describe: Callable[[], str]
    ) -> None:
        """Return once ``predicate()`` holds; after ``timeout`` s raise ``WaitTimeout(describe())``."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.append(waiter)
                    # Wake now and then: ipykernel cancels an interrupted cell only when its
                    # event loop next runs, so the stop button works at once, not at the timeout.
                    await asyncio.wait([waiter], timeout=WAKE_EVERY)
        except TimeoutError:
            raise WaitTimeout(describe()) from None


class Lines(list[str]):
    """A list of text lines that knows when each arrived, and can be waited on.

    It is a plain list to read (``lines[-1]``, ``"hi" in lines``, ``lines == [...]``); lines
    are added with ``append`` only, which stamps them and wakes the waiters. With ``limit``,
    only the newest ``limit`` lines are kept (``dropped`` counts the others): a server that
    runs for a whole class, or a client that gets a flood, keeps its memory bounded.
    """

    def __init__(self, owner: str, lines: Iterable[str] = (), *, limit: int | None = None) -> None:
        super().__init__()
        self.owner = owner
        self.limit = limit
        self.dropped = 0
        self.stamps: list[int] = []
        self.changes = Changes()
        for line in lines:
            self.append(line)

    def append(self, line: str) -> None:
        super().append(line)
        self.stamps.append(now())
        if self.limit is not None and len(self) > self.limit:
            extra = len(self) - self.limit
            super().__delitem__(slice(0, extra))
            del self.stamps[:extra]
            self.dropped += extra
        self.changes.notify()

    def clear(self) -> None:
        super().clear()
        self.stamps.clear()

    def __delitem__(self, index: SupportsIndex | slice) -> None:
        raise TypeError("Lines only grow: a wait relies on each line's stamp")

    def since(self, mark: int) -> list[str]:
        """The lines that arrived after ``mark``."""
        return [line for line, stamp in zip(self, self.stamps, strict=True) if stamp > mark]

    async def wait_for(
        self, text: str, *, count: int = 1, since: int | None = None, timeout: float = 3.0
    ) -> None:
        """Wait until ``count`` lines that arrived after ``since`` contain ``text``.

        ``since`` defaults to the moment the current notebook cell began (outside a notebook:
        the beginning), so a line left over from an earlier run never counts.
        """
        mark = default_mark() if since is None else since

        def matches() -> int:
            return sum(text in line for line in self.since(mark))

        def describe() -> str:
            recent = self.since(mark)[-3:]
            arrived = " | ".join(recent) if recent else "nothing"
            got = f"{matches()} of {count} lines with {text!r}" if count > 1 else f"no {text!r}"
            return f"{self.owner} got {got} within {timeout:g} s; last arrived: {arrived}"

        with describe_interrupt(f"{self.owner} to get {text!r}"):
            await self.changes.wait_until(lambda: matches() >= count, timeout=timeout, describe=describe)

    async def wait_for_count(
        self, count: int, *, since: int | None = None, timeout: float = 3.0, noun: str = "lines"
    ) -> None:
        """Wait until ``count`` lines arrived after ``since`` (default: since the cell began)."""
        mark = default_mark() if since is None else since

        def describe() -> str:
            recent = self.since(mark)
            arrived = " | ".join(recent[-3:]) if recent else "nothing"
            got = f"{self.owner} got {len(recent)} of {count} {noun} within {timeout:g} s"
            return f"{got}; last arrived: {arrived}"

        with describe_interrupt(f"{self.owner} to get {count} {noun}"):
            await self.changes.wait_until(
                lambda: len(self.since(mark)) >= count, timeout=timeout, describe=describe
            )
