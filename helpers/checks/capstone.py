"""Checkers for the two capstones: a standalone ``server.py`` the student wrote, run as a program.

The file must import nothing from ``helpers`` and run with ``python FILE [PORT]``, as the
original's ``npm start`` does. The checker starts it as a process of its own on a free port,
drives named clients against it, reads what it prints, and stops it: it never outlives the
check. A file that is missing, imports ``helpers``, fails to start or never listens gets a
one-line "Not yet" saying so.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from helpers.checks.clients import WAIT
from helpers.checks.socketio import events_arrive
from helpers.checks.trial import NOTHING, Emit, Nothing, NotYet, Trial, Verdict, checker, run_check
from helpers.checks.verdict import Described, shown
from helpers.checks.websocket import stalled_reader_holds_nobody_back
from helpers.programs.process import accepts, die_with_kernel

__all__ = ["StudentProgram", "check_socketio_server", "check_websocket_server"]

START_TIMEOUT = 10.0
"""Seconds a standalone server has to start listening."""

CAPSTONE_TIMEOUT = 40.0
"""Seconds a whole capstone check may take: two programs started, megabytes sent."""

WORKBOOK_PAGES = Path(__file__).resolve().parents[2] / "public"
"""The workbook's pages; a capstone finds them as ``public/`` beside its own folder."""


class StudentProgram:
    """The student's server, a process on a free port: what it prints, line by line."""

    def __init__(
        self, path: Path, port: int, process: asyncio.subprocess.Process, scratch: Path | None = None
    ) -> None:
        self.path, self.port, self.process, self.scratch = path, port, process, scratch
        self.lines: list[str] = []
        self.errors: list[str] = []
        self.changed = asyncio.Event()
        self.readers = [
            asyncio.ensure_future(self._read(process.stdout, self.lines)),
            asyncio.ensure_future(self._read(process.stderr, self.errors)),
        ]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    async def _read(self, stream: asyncio.StreamReader, into: list[str]) -> None:
        while line := await stream.readline():
            into.append(line.decode(errors="replace").rstrip("\n"))
            self.changed.set()

    @classmethod
    async def start(cls, path: Path, *arguments: str) -> StudentProgram:
        """Run ``python -u path PORT *arguments`` in the file's folder; return once it listens.

        The file finds the pages as ``public/`` beside its folder, as it does in the workbook.
        Where that folder has no such neighbour (nbgrader's ``autograded/STUDENT/ASSIGNMENT/``,
        an assignment fetched into a home folder), a copy of the file runs from a scratch folder
        that has it, and is removed when the program stops.
        """
        scratch = None
        port = _free_port()
        try:
            if not (path.parent.parent / "public" / "chat.html").is_file():  # not ~/Public on a Mac
                scratch = Path(tempfile.mkdtemp(prefix="capstone-"))
                (scratch / "public").symlink_to(WORKBOOK_PAGES, target_is_directory=True)
                (scratch / "notebooks").mkdir()
                path = Path(shutil.copy(path, scratch / "notebooks" / path.name))
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-u", str(path), str(port), *arguments,
                cwd=path.parent, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, limit=LINE_LIMIT,
                start_new_session=True,  # its own process group: stopped whole, never left behind
                preexec_fn=die_with_kernel,  # and if the kernel dies first, the student's server too
            )  # fmt: skip
        except BaseException:  # no program to stop: the scratch folder goes now
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
            raise
        program = cls(path, port, process, scratch)
        try:
            await program._until_listening()
        except BaseException:  # a "not yet", a timeout of the check, the stop button: it stops
            await program.stop()
            raise
        return program

    async def _until_listening(self) -> None:
        path, port, process = self.path, self.port, self.process
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while not await accepts(port):
            if process.returncode is not None:
                await asyncio.gather(*self.readers)
                last = next((line for line in reversed(self.errors) if line.strip()), "no message")
                raise NotYet(
                    f"{path.name} stopped before it listened (exit status {process.returncode}): {last}"
                )
            if loop.time() > deadline:
                raise NotYet(
                    f"{path.name} did not listen on port {port} within {START_TIMEOUT:g} s: it must take its "
                    f"port from the command line (python {path.name} {port})"
                )
            await asyncio.sleep(0.05)

    async def next_line(
        self, containing: str, after: int, timeout: float = WAIT
    ) -> tuple[str | Nothing, int]:
        """The first line printed at or after line ``after`` containing ``containing``, and where."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for index in range(after, len(self.lines)):
                if containing in self.lines[index]:
                    return self.lines[index], index + 1
            if loop.time() > deadline or self.process.returncode is not None:
                return Nothing(f"it printed no line with {containing!r} within {timeout:g} s"), after
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), deadline - loop.time())
            except TimeoutError:
                pass

    def complaints(self) -> list[str]:
        """What went wrong in it: the last line of each traceback it wrote to stderr.

        Other lines on stderr (``logging`` at INFO, a warning) are no error of the student's.
        """
        ends = [
            self.errors[index - 1]
            for index in range(1, len(self.errors) + 1)
            if _traceback_ends_at(self.errors, index - 1)
        ]
        return [f"{self.path.name} raised: {line}" for line in dict.fromkeys(ends)][-2:]

    def interrupt(self) -> None:
        """Ctrl-C: SIGINT to the program, as a terminal sends it."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)

    async def stop(self) -> None:
        """SIGTERM to its process group, then SIGKILL after 1 s: nothing of it is left running."""
        try:
            if self.process.returncode is None:
                try:
                    os.killpg(self.process.pid, signal.SIGTERM)
                    await asyncio.wait_for(self.process.wait(), 1)
                except (ProcessLookupError, TimeoutError):
                    try:
                        os.killpg(self.process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    await self.process.wait()
            await asyncio.gather(*self.readers, return_exceptions=True)
        finally:
            if self.scratch is not None:
                shutil.rmtree(self.scratch, ignore_errors=True)


LINE_LIMIT = 1 << 22
"""The longest line read from the student's program (a printed 64 KiB message fits)."""


def _traceback_ends_at(lines: list[str], index: int) -> bool:
    """Line ``index`` ends a traceback: an exception's line after the indented frames."""
    line = lines[index]
    if not line.strip() or line.startswith((" ", "Traceback")):
        return False
    earlier = lines[:index]
    started = next((i for i in range(len(earlier) - 1, -1, -1) if earlier[i].startswith("Traceback")), None)
    return started is not None and all(
        text.startswith((" ", "Traceback")) or not text.strip() for text in earlier[started + 1 :]
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _standalone(path: Path) -> Path:
    """``path``, if it is a Python file that imports nothing of the workbook's; else a "not yet"."""
    path = Path(path).resolve()
    if not path.is_file():
        raise NotYet(f"there is no {path.name} here yet: run the cell that writes it (%%writefile)")
    try:
        tree = ast.parse(path.read_text(), path.name)
    except SyntaxError as error:
        raise NotYet(f"{path.name} is not valid Python: {error.msg} (line {error.lineno})") from None
    for node in ast.walk(tree):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        if any(name == "helpers" or name.startswith("helpers.") for name in names):
            raise NotYet(
                f"{path.name} imports helpers (line {node.lineno}): a standalone server uses only "
                "the libraries (aiohttp, python-socketio) and Python's own"
            )
    return path


def _sets_heartbeat(path: Path) -> None:
    """The file's ``web.WebSocketResponse(...)`` passes a ``heartbeat``: else a vanished client stays."""
    tree = ast.parse(path.read_text(), path.name)
    calls = [
        node for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("WebSocketResponse")
    ]  # fmt: skip
    if not any(keyword.arg == "heartbeat" for call in calls for keyword in call.keywords):
        raise NotYet(
            f"{path.name}'s web.WebSocketResponse(...) has no heartbeat: a client that vanished "
            "would stay connected for ever (notebook 3)"
        )


async def _run_program(trial: Trial, path: Path, *arguments: str) -> StudentProgram:
    program = await StudentProgram.start(path, *arguments)
    trial.programs.append(program)
    return program


async def _page(program: StudentProgram, name: str) -> None:
    """GET ``name``: a page of ``public/``, served with 200."""
    async with aiohttp.ClientSession() as session, session.get(program.url + name) as response:
        body = await response.text()
    if response.status != 200 or "<title>" not in body:
        raise NotYet(f"GET /{name} answered {response.status}, not the page of public/{name or 'index.html'}")


async def _printed(
    trial: Trial, program: StudentProgram, action: str, expected: str, cursor: list[int]
) -> None:
    """The program's next line that starts as ``expected`` does (its first two words) is ``expected``."""
    line, cursor[0] = await program.next_line(" ".join(expected.split(" ")[:2]), cursor[0])
    trial.expect(action, (f"what {program.path.name} printed", expected, line))


@checker
async def check_websocket_server(path: str | Path = "websocket_server.py") -> Verdict:
    """Capstone 1: the websocket chat, standalone: the pages, ``ws got:``, a broadcast that holds no
    one back, a message too big refused, and with ``--except-self``, all but the sender."""

    async def scenario(trial: Trial) -> str:
        file = _standalone(Path(path))
        program = await _run_program(trial, file)
        _sets_heartbeat(file)
        for name in ("chat.html", ""):
            await _page(program, name)
        cursor = [0]
        alice, bob = await trial.websockets(program, "alice", "bob")
        for client, text in [(alice, "hi"), (bob, "hello alice")]:
            await client.send(text)
            action = f"{client} sent {text!r}"
            await trial.deliveries(action, {alice: text, bob: text})
            await _printed(trial, program, action, f"ws got: {text}", cursor)
            await _printed(trial, program, action, "Broadcasted data to 2 (2) clients.", cursor)
        await _too_big_is_refused(trial, program, alice, bob)
        await stalled_reader_holds_nobody_back(trial, program, alice, bob, announced=None, messages=300)
        await trial.close_clients()
        await program.stop()
        program = await _run_program(trial, file, "--except-self")
        alice, bob = await trial.websockets(program, "alice", "bob")
        await alice.send("not to myself")
        action = f"alice sent 'not to myself' (python {file.name} PORT --except-self)"
        await trial.deliveries(action, {bob: "not to myself", alice: NOTHING})
        program.interrupt()
        got = await alice.receive(timeout=3)
        if not (isinstance(got, Nothing) and "closed the connection: 1001" in got.why):
            expected = Described("the connection closed with 1001 (Going Away), at once: app.on_shutdown")
            trial.expect("the server was stopped with Ctrl-C (SIGINT)", ("alice", expected, got))
        return (
            f"{file.name} served the pages, printed and broadcast each message, refused one too big, "
            "held no one back, left the sender out with --except-self, and said goodbye (1001) on Ctrl-C."
        )

    return await run_check("the websocket chat, standalone", scenario, timeout=CAPSTONE_TIMEOUT)


async def _too_big_is_refused(trial: Trial, program: StudentProgram, alice: Any, bob: Any) -> None:
    """A message of 64 KiB or more closes its sender's connection with 1009; the others chat on."""
    mallory = await trial.websocket(program, "mallory")
    await mallory.send("x" * (64 * 1024))
    action = "mallory sent a message of 65,536 characters"
    got = await mallory.receive()
    if not (isinstance(got, Nothing) and "1009" in got.why):
        expected = Described("the connection closed with 1009 (web.WebSocketResponse(max_msg_size=...))")
        trial.expect(action, ("mallory", expected, Described(shown(got)[:80])))
    await trial.deliveries(action, {alice: NOTHING, bob: NOTHING})


@checker
async def check_socketio_server(path: str | Path = "socketio_server.py") -> Verdict:
    """Capstone 2: the Socket.IO chat, standalone: the page, ``chat message`` to everyone, and
    ``user connected`` / ``user disconnected`` notices to the others."""

    async def scenario(trial: Trial) -> str:
        file = _standalone(Path(path))
        program = await _run_program(trial, file)
        await _page(program, "socketio.html")
        cursor = [0]
        alice = await trial.socketio(program, "alice", auth={"nick": "alice"})
        await _printed(trial, program, "alice connected", "a user connected", cursor)
        bob = await trial.socketio(program, "bob", auth={"nick": "bob"})
        await _printed(trial, program, "bob connected", "a user connected", cursor)
        await events_arrive(trial, "bob connected, as 'bob'", {alice: "bob", bob: NOTHING}, "user connected")
        for client, text in [(alice, "hi"), (bob, "hello alice")]:
            action = f"{client} sent {Emit('chat message', (text, f'{client}-1'))}"
            await client.emit("chat message", text, f"{client}-1")
            await events_arrive(trial, action, {alice: text, bob: text})
            await _printed(trial, program, action, f"message: {text}", cursor)
        carol = await trial.socketio(program, "carol")
        guests = {alice: "guest", bob: "guest", carol: NOTHING}
        await events_arrive(trial, "carol connected, without a nickname", guests, "user connected")
        await bob.close()
        await _printed(trial, program, "bob left", "user disconnected", cursor)
        await events_arrive(trial, "bob left", {alice: "bob", carol: "bob"}, "user disconnected")
        return f"{file.name} served the page, sent each chat message to everyone, told who came and went."

    return await run_check("the Socket.IO chat, standalone", scenario, timeout=CAPSTONE_TIMEOUT)
