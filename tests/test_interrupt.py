"""An interrupt during a check stops a student's code that holds the event loop, and says so.

A handler that loops without ``await`` holds the kernel's loop: the checker's own timeout can't
fire, and ipykernel's stop button (like ``asyncio.run``'s Ctrl-C) only schedules a cancellation
on that very loop. Without ``helpers.checks.interrupt`` the interrupt never lands (the kernel
hangs, and nbgrader loses the notebook's whole grade) or ends the loop with a
``KeyboardInterrupt``. Run in a process of its own, as a kernel runs a cell: SIGINT two seconds in.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent(
    """
    import asyncio, os, signal, threading
    from aiohttp import web
    from helpers.checks import check_upper_echo

    async def upper_echo(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        while not ws.closed:  # never awaits: the loop is held
            pass
        return ws

    async def cell():
        threading.Timer(2, os.kill, (os.getpid(), signal.SIGINT)).start()
        verdict = await check_upper_echo(upper_echo)
        await asyncio.sleep(0.1)  # the loop runs again
        print(repr(verdict))
        print("still running")

    asyncio.run(cell())
    """
)


def test_an_interrupt_stops_student_code_that_holds_the_loop():
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Not yet: upper-case echo."
    assert "the check was interrupted: the code under test never gave the event loop back" in lines[1]
    assert "the server raised LoopHeld: interrupted: this code held the event loop" in done.stdout
    assert lines[-1] == "still running"
