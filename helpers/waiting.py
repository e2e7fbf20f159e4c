"""Deterministic waits: wait for a condition with a timeout, never for a fixed time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Changes", "wait_for_text"]


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

    async def wait_until(
        self, predicate: Callable[[], bool], *, timeout: float, describe: Callable[[], str]
    ) -> None:
        """Return once ``predicate()`` holds; after ``timeout`` s raise ``TimeoutError(describe())``."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.append(waiter)
                    await waiter
        except TimeoutError:
            raise TimeoutError(describe()) from None


async def wait_for_text(
    changes: Changes, lines: list[str], text: str, *, count: int, timeout: float, owner: str
) -> None:
    """Wait until ``count`` of ``lines`` contain ``text``; on timeout say what ``owner`` has."""

    def describe() -> str:
        seen = "\n  ".join(lines[-10:]) or "(nothing)"
        return f"{owner} has no {count} line(s) with {text!r} after {timeout} s; its last lines:\n  {seen}"

    await changes.wait_until(
        lambda: sum(text in line for line in lines) >= count, timeout=timeout, describe=describe
    )
