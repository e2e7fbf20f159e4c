"""Processes a test starts, stopped for certain: in their own process group, gone with the run.

A server a test forgets (its assertion failed, its wait timed out) keeps its port, and its
asyncio transport, collected during a later test whose loop is long closed, fails that test
instead. So a test's processes run in a session of their own (``start_new_session=True``),
die with the test run (``die_with_parent``), and are stopped by ``stop_process`` at teardown:
the group is signalled, the process reaped and its pipes read to their end.

Used by tests/test_serve.py and tests/browser/jupyter_support.py (importable as
``process_support``: pytest puts tests/ on ``sys.path`` for tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys
from dataclasses import dataclass

__all__ = ["AFTER_KILL", "GRACE", "Stopped", "die_with_parent", "stop_group", "stop_process"]

GRACE = 3.0
"""Seconds a process gets to exit on SIGTERM (a server frees its port) before SIGKILL."""

AFTER_KILL = 10.0
"""Seconds for a SIGKILLed group to be reaped and its pipes closed: only a pipe held outside it lasts."""

PR_SET_PDEATHSIG = 1

# Loaded here, in the parent: the child between fork and exec should do as little as it can.
_LIBC = ctypes.CDLL("libc.so.6", use_errno=True) if sys.platform == "linux" else None


def die_with_parent() -> None:
    """``preexec_fn``: Linux sends the child SIGTERM when the test run dies, so none outlives it."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_group(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group ``pid`` leads (``start_new_session=True``), if any is left."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


@dataclass
class Stopped:
    """How a process ended: its exit code, what it wrote that nobody had read, and if it was killed."""

    code: int
    stdout: str
    stderr: str
    killed: bool


async def _rest(stream: asyncio.StreamReader | None) -> bytes:
    return b"" if stream is None else await stream.read()


async def stop_process(process: asyncio.subprocess.Process, grace: float = GRACE) -> Stopped:
    """Stop ``process`` and its group, reap it, and read its pipes to their end.

    SIGTERM to the group; SIGKILL after ``grace`` seconds, then up to ``AFTER_KILL`` seconds
    to reap it; last, SIGKILL to whatever of the group is left. A process that already exited
    is only reaped and read. Reading the pipes to the end is what makes asyncio close them
    now, on this test's loop (``process.wait()`` on Python 3.11 also waits for that). Raises
    ``TimeoutError`` if a pipe stays open even then: something outside the group holds it.
    """
    readers = [asyncio.ensure_future(_rest(process.stdout)), asyncio.ensure_future(_rest(process.stderr))]
    waiting = {asyncio.ensure_future(process.wait()), *readers}
    killed = False
    if process.returncode is None:
        stop_group(process.pid, signal.SIGTERM)
    _, pending = await asyncio.wait(waiting, timeout=grace)
    if pending:
        killed = process.returncode is None
        stop_group(process.pid, signal.SIGKILL)
        _, pending = await asyncio.wait(pending, timeout=AFTER_KILL)
    stop_group(process.pid, signal.SIGKILL)  # children it may have left in its group
    if pending:
        for task in pending:
            task.cancel()
        raise TimeoutError(f"pid {process.pid}: exited {process.returncode}, but its pipes stayed open")
    out, err = (reader.result().decode(errors="replace") for reader in readers)
    return Stopped(process.returncode, out, err, killed)
