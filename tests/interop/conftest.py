"""Fixtures for the interop tests: Node peers (tests/interop/*.mjs, wscat, socket.io-client).

The Node packages are pinned in tests/package.json and installed by ``make setup``
(``npm ci --prefix tests``). Without Node or those packages the tests are skipped with
the reason; with ``CI=true`` they fail instead. Every process a test starts is stopped
at the end of the test.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from helpers.common.waiting import Changes
from tests.scale_support import IN_CI

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
NODE_MODULES = TESTS / "node_modules"
READY_TIMEOUT = 10.0


def node_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (the interop tests run Node peers)"
    for package in ("express", "ws", "wscat", "socket.io", "socket.io-client"):
        if not (NODE_MODULES / package / "package.json").is_file():
            return f"tests/node_modules/{package} is missing: run `npm ci --prefix tests` (make setup does)"
    return None


@pytest.fixture
def node() -> str:
    """The ``node`` executable; skips (fails with CI=true) when Node or the packages are missing."""
    missing = node_missing()
    if missing is not None:
        if IN_CI:
            pytest.fail(f"{missing} (CI=true: the interop tests must run in CI)", pytrace=False)
        pytest.skip(missing)
    return shutil.which("node")


class Peer:
    """A running process whose stdout lines are collected; ``wait_for`` a line, ``send`` one."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, prompt: str = "") -> None:
        self.name = name
        self.prompt = prompt  # stripped from the start of lines (wscat writes "> " even to a pipe)
        self.process = process
        self.lines: list[str] = []
        self.changes = Changes()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            text = line.decode(errors="replace").rstrip("\r\n")
            while self.prompt and text.startswith(self.prompt):
                text = text[len(self.prompt) :]
            self.lines.append(text)
            self.changes.notify()
        self.changes.notify()

    async def wait_for(self, line: str | re.Pattern[str], *, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``count`` stdout lines equal ``line`` (or fully match it, a pattern)."""

        def matches(text: str) -> bool:
            return text == line if isinstance(line, str) else line.fullmatch(text) is not None

        await self.changes.wait_until(
            lambda: sum(map(matches, self.lines)) >= count,
            timeout=timeout,
            describe=lambda: f"{self.name} printed no {count}x {line!r} in {timeout} s; "
            f"its output: {self.lines[-10:]}{self._exited()}",
        )

    async def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def close_stdin(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    async def exit_code(self, timeout: float = 5.0) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def stderr(self) -> str:
        assert self.process.stderr is not None
        return (await self.process.stderr.read()).decode(errors="replace")

    def _exited(self) -> str:
        code = self.process.returncode
        return "" if code is None else f" (it exited with {code})"

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 3)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await asyncio.wait([self._reader], timeout=1)


@pytest.fixture
async def spawn(node) -> AsyncIterator[Callable[..., Awaitable[Peer]]]:
    """``await spawn(name, *args)`` starts ``node *args`` in tests/ with pipes; stopped at test end."""
    started: list[Peer] = []

    async def _spawn(name: str, *args: str, ready: str | None = None, prompt: str = "") -> Peer:
        process = await asyncio.create_subprocess_exec(
            node, *args, cwd=TESTS,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "NO_COLOR": "1"},
        )
        peer = Peer(name, process, prompt)
        started.append(peer)
        if ready is not None:
            await peer.wait_for(ready, timeout=READY_TIMEOUT)
        return peer

    yield _spawn
    await asyncio.gather(*(peer.stop() for peer in started))


@pytest.fixture
async def node_server(spawn, free_port) -> Callable[[str], Awaitable[tuple[Peer, int]]]:
    """``await node_server("broadcast-server.mjs")``: a reference server on 127.0.0.1, ready."""

    async def _start(script: str) -> tuple[Peer, int]:
        peer = await spawn(script, str(HERE / script), str(free_port), ready=f"Listening at port {free_port}")
        return peer, free_port

    return _start
