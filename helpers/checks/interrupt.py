"""The stop button, and nbgrader's timeout, reach a student's code that never gives the loop back.

A checker runs the student's code in the kernel's own event loop: a handler it serves, or a
feature it calls to build the app. Code that loops without ``await``
(``while not ws.closed: pass``) holds that loop: no client, no timeout and no other task runs
again. Interrupting the kernel (the stop button; nbgrader's ``Execute`` step when a cell
outlives its timeout) does not help by itself: ipykernel turns SIGINT during an ``await`` cell
into a callback that cancels the cell, and that callback needs the very loop the student's
code holds. The kernel then hangs for good, and nbgrader loses the whole notebook's grade, not
one exercise's.

While a check runs, ``stoppable_student_code()`` puts a SIGINT handler in front of the
kernel's, and a heartbeat on the loop (a callback every ``BEAT`` seconds). When the signal
comes while the heartbeat has stopped for ``HELD_AFTER`` seconds, the loop is held: the
handler raises ``LoopHeld`` in the code that holds it, whatever task runs it, and stops each
check running (the student's code would hold the loop again at its next client). The loop runs
again, each check ends with a "Not yet" that says the loop was held, and the cell goes on: an
nbgrader test after it then fails with that verdict, rather than the notebook losing its
grade. When the loop is free, the signal goes to the kernel's own handler, which stops the cell
as always (``CancelledError``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["BEAT", "HELD_AFTER", "LoopHeld", "stoppable_student_code"]

BEAT = 0.1
"""Seconds between two heartbeats of the loop while a check runs."""

HELD_AFTER = 0.5
"""Seconds without a heartbeat after which the loop counts as held."""


class LoopHeld(Exception):  # named for what happened, as the verdict reports it
    """Raised by an interrupt in code that held the event loop (no ``await`` in a loop)."""


class Interrupts:
    """A running check: its task, and whether an interrupt had to free the loop meanwhile."""

    def __init__(self, task: asyncio.Task | None) -> None:
        self.task = task
        self.stopped_held_loop = False

    def stopped(self) -> bool:
        """After a ``CancelledError``: whether it came from freeing the loop (then it is undone)."""
        if not self.stopped_held_loop or self.task is None:
            return False
        while self.task.cancelling():
            self.task.uncancel()  # the check ends with a verdict: nothing else asked it to stop
        return True


class _Watch:
    """The one SIGINT handler and heartbeat for every check running now on one loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.checks: list[Interrupts] = []
        self.beat = time.monotonic()
        self.previous: Any = signal.getsignal(signal.SIGINT)
        self.handle: asyncio.TimerHandle | None = None
        self._tick()
        signal.signal(signal.SIGINT, self.on_interrupt)

    def _tick(self) -> None:
        self.beat = time.monotonic()
        self.handle = self.loop.call_later(BEAT, self._tick)

    def on_interrupt(self, number: int, frame: Any) -> None:
        if time.monotonic() - self.beat > HELD_AFTER:
            running = asyncio.current_task(self.loop)
            for check in self.checks:
                check.stopped_held_loop = True
                if check.task is not None and check.task is not running:  # else LoopHeld ends it
                    self.loop.call_soon(check.task.cancel)
            raise LoopHeld("interrupted: this code held the event loop (a loop without await in it?)")
        if callable(self.previous):
            self.previous(number, frame)  # the kernel's: cancels the cell
        elif self.previous == signal.SIG_DFL:
            raise KeyboardInterrupt

    def close(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
        if signal.getsignal(signal.SIGINT) == self.on_interrupt:  # else someone else's now: theirs
            signal.signal(signal.SIGINT, self.previous if self.previous is not None else signal.SIG_DFL)


_WATCH: _Watch | None = None


@contextlib.contextmanager
def stoppable_student_code() -> Iterator[Interrupts]:
    """While the block runs, an interrupt stops code that holds the loop (see above)."""
    global _WATCH
    interrupts = Interrupts(asyncio.current_task())
    loop = asyncio.get_running_loop()
    if threading.current_thread() is not threading.main_thread() or (_WATCH and _WATCH.loop is not loop):
        yield interrupts  # signals reach the main thread only, and its loop
        return
    if _WATCH is None:
        _WATCH = _Watch(loop)
    watch = _WATCH
    watch.checks.append(interrupts)
    try:
        yield interrupts
    finally:
        watch.checks.remove(interrupts)
        if not watch.checks:  # the last check running: the kernel's handler is back
            watch.close()
            _WATCH = None
