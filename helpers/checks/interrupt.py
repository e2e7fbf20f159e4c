"""The stop button, and nbgrader's timeout, reach a student's code that never gives the loop back.

A checker serves the student's handler in the kernel's own event loop. A handler that loops
without ``await`` (``while not ws.closed: pass``) holds that loop: no client, no timeout and no
other task runs again. Interrupting the kernel (the stop button; nbgrader's ``Execute`` step
when a cell outlives its timeout) does not help by itself: ipykernel turns SIGINT during an
``await`` cell into a callback that cancels the cell, and that callback needs the very loop
the student's code holds. The kernel then hangs for good, and nbgrader loses the whole
notebook's grade, not one exercise's.

While a check runs, ``stoppable_student_code()`` puts a SIGINT handler in front of the
kernel's: when the signal lands in a task other than the check's own (the student's code,
served by the check), it raises ``LoopHeld`` there. That task ends with an error the check
reports, the loop runs again, and the kernel's own handler then stops the cell as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["LoopHeld", "stoppable_student_code"]


class LoopHeld(Exception):  # named for what happened, as the verdict reports it
    """Raised in the student's code by an interrupt: it held the loop (no ``await`` in a loop)."""


class Interrupts:
    """Whether an interrupt had to stop the student's code during this check."""

    def __init__(self) -> None:
        self.stopped_student_code = False


@contextlib.contextmanager
def stoppable_student_code() -> Iterator[Interrupts]:
    """While the block runs, an interrupt stops a student's task that holds the loop (see above)."""
    interrupts = Interrupts()
    if threading.current_thread() is not threading.main_thread():
        yield interrupts  # signals reach the main thread only
        return
    own = asyncio.current_task()
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(number: int, frame: Any) -> None:
        running = asyncio.current_task(loop)
        if running is not None and running is not own:
            interrupts.stopped_student_code = True
            if callable(previous) and previous is not signal.default_int_handler:
                loop.call_soon(previous, number, frame)  # the kernel's handler, once the loop is free
            elif own is not None:
                loop.call_soon(own.cancel)  # a KeyboardInterrupt in a callback would end the loop
            raise LoopHeld("interrupted: this code held the event loop (a loop without await in it?)")
        if callable(previous):
            previous(number, frame)
        elif previous == signal.SIG_DFL:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield interrupts
    finally:
        if signal.getsignal(signal.SIGINT) is on_interrupt:
            signal.signal(signal.SIGINT, previous)
