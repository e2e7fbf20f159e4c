"""Drive websockets' command-line client (``python -m websockets URL``) from a notebook cell.

The original tutorial types into ``npx wscat --connect ws://localhost:3000``. In a notebook
the server runs in the kernel, so a blocking ``!python -m websockets ...`` would freeze the
very server it talks to. ``websocket_cli`` runs the same command as a subprocess instead,
types lines into it, and keeps a clean terminal transcript (``> `` typed, ``< `` received)::

    async with websocket_cli(server.ws_url) as cli:
        await cli.type("hi")
        await cli.expect("< hi")
    print(cli.transcript)
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from helpers.common.text import printable
from helpers.common.waiting import Changes

__all__ = ["WebsocketCLI", "websocket_cli"]

_TERMINAL_CODES = re.compile(r"\x1b(?:\[[0-9;]*[A-Za-z]|[78])|\r")


class WebsocketCLI:
    """A running ``python -m websockets URL``; ``transcript`` is what a terminal would show."""

    def __init__(self, url: str, process: asyncio.subprocess.Process, timeout: float) -> None:
        self.url, self.process, self.timeout = url, process, timeout
        self.lines: list[str] = [f"$ python -m websockets {url}"]
        self.changes = Changes()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @property
    def transcript(self) -> str:
        return "\n".join(self.lines)

    async def type(self, line: str) -> None:
        """Type ``line`` and Enter, as a person at the prompt would."""
        assert self.process.stdin is not None
        self.lines.append(f"> {line}")
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def expect(self, text: str) -> None:
        """Wait until the client printed a line containing ``text``."""
        await self.changes.wait_until(
            lambda: any(text in line for line in self.lines[1:] if not line.startswith("> ")),
            timeout=self.timeout,
            describe=lambda: f"the client printed no {text!r}:\n{self.transcript}",
        )

    async def quit(self) -> int:
        """End input (Ctrl-D); wait for the client to close and exit; return its exit code."""
        assert self.process.stdin is not None
        if not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            async with asyncio.timeout(self.timeout):
                await self._reader
                return await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise TimeoutError(f"the client did not exit:\n{self.transcript}") from None

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = _TERMINAL_CODES.sub("", raw.decode(errors="replace")).rstrip("\n")
            line = re.sub(r"^(?:> )+", "", line)  # the prompts it prints before reading
            # the client escapes a message's control characters, not its bidi ones: a right-to-left
            # override would reorder the transcript printed in the cell
            line = printable(line)
            if line:
                self.lines.append(line)
                self.changes.notify()


@asynccontextmanager
async def websocket_cli(url: str, *, timeout: float = 5.0) -> AsyncIterator[WebsocketCLI]:
    """Start ``python -m websockets url``; wait until it connected; quit it at the end."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "websockets", url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    cli = WebsocketCLI(url, process, timeout)
    try:
        await cli.expect("onnect")  # "Connected to ..." or "Failed to connect to ..."
        yield cli
    finally:
        await cli.quit()
