"""Debian's ``redis-server`` on a loopback port, in a temporary folder: ``await start_redis()``.

Redis is the message bus of notebook 12: python-socketio's ``AsyncRedisManager`` and the raw
broadcast publish there, and every server process subscribes. This one keeps nothing on disk
(no snapshots, no append-only file): a restart empties it, as a crash of a real one could.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from helpers.programs import Program, start_program

__all__ = ["REDIS_PORT", "Redis", "RedisMissing", "redis_installed", "start_redis"]

REDIS_PORT = int(os.environ.get("WORKBOOK_REDIS_PORT", "6390"))
"""Not Redis's usual 6379: a Redis already running on this machine is left alone."""

INSTALL = "sudo apt-get install redis-server   (Debian, Ubuntu; `make test` in CI installs it)"


class RedisMissing(RuntimeError):
    """``redis-server`` is not installed: one line saying how to install it."""

    def __init__(self) -> None:
        super().__init__(f"redis-server is not installed. Install it with: {INSTALL}")

    def _render_traceback_(self) -> list[str]:
        return [f"RedisMissing: {self}"]


def redis_installed() -> str | None:
    """The path of ``redis-server``, or ``None``."""
    return shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")


@dataclass
class Redis:
    """A running ``redis-server``: its URL, and ``restart()``/``stop()``."""

    port: int
    folder: Path
    program: Program

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def restart(self) -> None:
        """Stop it (everything it held is gone) and start it again on the same port."""
        await self.program.stop()
        self.program = await _run(self.port, self.folder)

    async def stop(self) -> None:
        await self.program.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __repr__(self) -> str:
        return f"<Redis {self.url} {'running' if self.program.running else 'stopped'}>"


async def start_redis(port: int = REDIS_PORT) -> Redis:
    """Start ``redis-server`` on 127.0.0.1:``port`` (replacing the one started before)."""
    if redis_installed() is None:
        raise RedisMissing()
    folder = Path(tempfile.mkdtemp(prefix="chat-workbook-redis-"))
    return Redis(port, folder, await _run(port, folder))


async def _run(port: int, folder: Path) -> Program:
    argv = [
        redis_installed() or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
        "--dir", str(folder), "--save", "", "--appendonly", "no", "--daemonize", "no",
    ]
    return await start_program("redis", argv, port=port)
