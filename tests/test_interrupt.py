"""An interrupt during a check frees a loop the student's code holds, and says so; else it stops the cell.

Code that loops without ``await`` holds the kernel's loop: the checker's own timeout can't fire,
and ipykernel's stop button (like ``asyncio.run``'s Ctrl-C) only schedules a cancellation on
that very loop. Without ``helpers.checks.interrupt`` the interrupt never lands: the kernel hangs,
and nbgrader loses the notebook's whole grade. Each case runs in a process of its own, as a
kernel runs a cell, and is sent SIGINT once the code under test has run for a second.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SEND_SIGINT = textwrap.dedent(
    """
    import asyncio, os, signal, threading, time
    from aiohttp import web
    from helpers.checks import check_shout, check_upper_echo
    from helpers.stages import socketio_basic

    started = threading.Event()

    def interrupt_soon():
        started.wait(20)
        time.sleep(1)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_soon, daemon=True).start()
    """
)

HELD_BY_A_HANDLER = """
async def upper_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    started.set()
    while not ws.closed:  # never awaits: the loop is held
        pass
    return ws

async def cell():
    verdict = await check_upper_echo(upper_echo)
    await asyncio.sleep(0.1)  # the loop runs again
    print(repr(verdict))
    print("still running")

asyncio.run(cell())
"""

HELD_BY_A_FEATURE = """
def add_shout(app):
    started.set()
    while "ready" not in app:  # the check calls it in its own task: never true
        pass

async def cell():
    print(repr(await check_shout(socketio_basic.make_app, add_shout)))
    print("still running")

asyncio.run(cell())
"""

WAITING_HANDLER = """
async def upper_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    started.set()
    await asyncio.sleep(30)  # slow, but the loop is free
    return ws

asyncio.run(check_upper_echo(upper_echo))
"""


def run(cell: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SEND_SIGINT + cell], capture_output=True, text=True, timeout=30
    )


def test_an_interrupt_frees_a_loop_held_by_the_served_handler():
    done = run(HELD_BY_A_HANDLER)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Not yet: upper-case echo."
    assert "the check was interrupted: the code under test never gave the event loop back" in lines[1]
    assert "the server raised LoopHeld: interrupted: this code held the event loop" in done.stdout
    assert lines[-1] == "still running"


def test_an_interrupt_frees_a_loop_held_in_the_checks_own_task():
    done = run(HELD_BY_A_FEATURE)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Not yet: shout."
    assert "never gave the event loop back" in lines[1]
    assert lines[-1] == "still running"


def test_an_interrupt_while_the_loop_is_free_stops_the_check_and_blames_no_one():
    """A slow handler doesn't hold the loop: Ctrl-C cancels the run, as it always did."""
    done = run(WAITING_HANDLER)
    assert done.returncode != 0
    assert "KeyboardInterrupt" in done.stderr
    assert "LoopHeld" not in done.stdout + done.stderr
