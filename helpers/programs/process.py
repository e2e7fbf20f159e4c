"""Programs the workbook runs beside the kernel: redis-server, nginx, more chat servers.

Started with ``await start_program(name, argv, port=...)``, which returns once the program
listens. Like ``start_server``, starting a name again replaces the earlier program of that
name. None outlives the kernel: each is stopped at ``stop()`` and at the kernel's exit, and
Linux sends it SIGTERM if the kernel dies without one (``PR_SET_PDEATHSIG``). What a program
prints is kept (its last lines, ``program.output``), and shown when it fails to start.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Program", "ProgramFailed", "ProgramMissing", "accepts", "die_with_kernel", "installed", "port_free",
    "running_programs", "start_program", "start_serve", "stop_all_programs", "temporary_folder",
]

ROOT = Path(__file__).resolve().parents[2]
"""The workbook's folder: ``python -m helpers.serve`` runs from here."""

START_TIMEOUT = 10.0
STOP_TIMEOUT = 3.0
PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL("libc.so.6", use_errno=True) if sys.platform == "linux" else None


def temporary_folder(kind: str) -> Path:
    """A new temporary folder for a program of ``kind``, named after this process.

    A kernel that was killed could not remove its programs' folders: those of processes that
    are gone are removed here, the next time a program starts.
    """
    parent = Path(tempfile.gettempdir())
    for old in parent.glob("chat-workbook-*-*-*"):
        pid = old.name.split("-")[3]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"chat-workbook-{kind}-{os.getpid()}-"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


class ProgramMissing(RuntimeError):
    """A program is not installed: one line saying how to install it, no traceback."""

    def __init__(self, program: str, install: str) -> None:
        super().__init__(f"{program} is not installed. Install it with: {install}")

    def _render_traceback_(self) -> list[str]:
        return [f"ProgramMissing: {self}"]


def installed(program: str) -> str | None:
    """The path of ``program`` (Debian puts nginx in /usr/sbin, often not on a user's PATH), or ``None``."""
    return shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin")


class ProgramFailed(RuntimeError):
    """A program did not start: shown as one short message with its last output, no traceback."""

    def _render_traceback_(self) -> list[str]:
        return [f"ProgramFailed: {self}"]


def die_with_kernel() -> None:
    """``preexec_fn``: Linux sends the program SIGTERM when the kernel dies, so none outlives it."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Program:
    """A program started by ``start_program``: its process, its port, what it printed."""

    name: str
    argv: list[str]
    port: int | None
    process: asyncio.subprocess.Process
    output: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    reader: asyncio.Task[None] | None = None
    folder: Path | None = None  # its temporary folder, removed when it stops

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send ``sig`` (SIGKILL after ``STOP_TIMEOUT`` s) and wait; returns the exit code."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        if _PROGRAMS.get(self.name) is self:
            del _PROGRAMS[self.name]
        return self.process.returncode

    async def kill(self) -> int:
        """Kill it at once (SIGKILL), as a crash would: it closes nothing, says nothing."""
        return await self.stop(signal.SIGKILL)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.output.append(line.decode(errors="replace").rstrip())

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited {self.process.returncode}"
        return f"<Program {self.name} on port {self.port}, {state}>"


_PROGRAMS: dict[str, Program] = {}


def running_programs() -> dict[str, Program]:
    """The programs started from this kernel that still run, by name."""
    return {name: program for name, program in _PROGRAMS.items() if program.running}


async def start_program(
    name: str, argv: list[str], *, port: int | None = None, cwd: Path = ROOT, timeout: float = START_TIMEOUT,
    folder: Path | None = None,
) -> Program:
    """Start ``argv`` as ``name`` (replacing an earlier one), and return once ``port`` accepts.

    ``folder``, a temporary folder of the program's, is removed when it stops.
    """
    if name in _PROGRAMS:
        await _PROGRAMS[name].stop()
    if port is not None and not port_free(port):  # else the check below would find the other one
        raise ProgramFailed(f"port {port} is in use by another program: {name} can't listen there")
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, preexec_fn=die_with_kernel,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # a session of its own: the notebook's stop button (SIGINT to the kernel's process
        # group) interrupts a cell, not Redis or nginx
        start_new_session=True,
    )
    program = Program(name, argv, port, process, folder=folder)
    program.reader = asyncio.get_running_loop().create_task(program._read(), name=f"{name} output")
    _PROGRAMS[name] = program
    if port is not None:
        await _until_listening(program, port, timeout)
    return program


async def start_serve(name: str, port: int, stage: str, **options: str | bool) -> Program:
    """``python -m helpers.serve --stage STAGE --port PORT --OPTION VALUE...`` as program ``name``.

    The very server a notebook runs in its kernel, in a process of its own: what a real
    deployment runs, several times, behind a load balancer.
    """
    argv = [sys.executable, "-m", "helpers.serve", "--stage", stage, "--port", str(port)]
    for option, value in options.items():
        flag = "--" + option.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return await start_program(name, argv, port=port)


def port_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:``port`` (a server's ``SO_REUSEADDR`` bind would succeed)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def accepts(port: int) -> bool:
    """Something listens on 127.0.0.1:``port`` and takes a connection now."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


async def _until_listening(program: Program, port: int, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if not program.running:
            await program.stop()
            last = "\n".join(list(program.output)[-8:]) or "(nothing)"
            raise ProgramFailed(f"{program.name} exited with code {program.process.returncode}:\n{last}")
        if await accepts(port):
            if program.running:
                return
            continue
        if asyncio.get_running_loop().time() > deadline:
            await program.stop()
            raise ProgramFailed(f"{program.name} did not listen at port {port} within {timeout} s")
        await asyncio.sleep(0.05)


async def stop_all_programs() -> None:
    """Stop every program started from this kernel."""
    for program in list(_PROGRAMS.values()):
        await program.stop()


@atexit.register
def _stop_at_exit() -> None:
    """The kernel is exiting (restart, shutdown): its loop may be gone, so signal directly."""
    for program in list(_PROGRAMS.values()):
        if program.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(program.pid, signal.SIGTERM)
        if program.folder is not None:
            shutil.rmtree(program.folder, ignore_errors=True)
