"""Debian's ``redis-server`` for this user only, in a private folder: ``await start_redis()``.

Redis is the message bus of notebook 12: python-socketio's ``AsyncRedisManager`` and the raw
broadcast publish there, and every server process subscribes. What comes from the bus, the
servers take as their own: so this Redis lets in this user's processes only, two doors deep:

- it listens on a Unix socket in a temporary folder of mode 0700 (``unixsocketperm 700``), and
  on no TCP port: another user of the machine can't even reach it (on a TCP port of loopback,
  any local user could ``PUBLISH`` a chat message "from the teacher", or ``SHUTDOWN`` it);
- every connection must give a password made at random for this run (``requirepass``). It is
  in ``redis.url`` (``unix:///tmp/.../redis.sock?db=0&password=...``), which every server is
  given, and in a configuration file only this user can read; never on a command line (which
  every user can read in ``ps``), and never in what ``repr`` or ``print`` show.

It keeps nothing on disk (no snapshots, no append-only file): a restart empties it, as a
crash of a real one could.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from helpers.programs.process import (
    Program,
    ProgramFailed,
    ProgramMissing,
    installed,
    start_program,
    temporary_folder,
)

__all__ = ["INSTALL", "Redis", "start_redis"]

INSTALL = "sudo apt-get install redis-server   (Debian, Ubuntu; `make test` in CI installs it)"

START_TIMEOUT = 10.0
"""Seconds for redis-server to answer its first PING."""

SOCKET_PATH_MAX = 107
"""The longest path a Unix socket can have on Linux (``sun_path`` holds 108 bytes)."""


@dataclass
class Redis:
    """A running ``redis-server``: its ``url`` (with its password), and ``restart()``/``stop()``."""

    folder: Path
    program: Program
    password: str = field(repr=False)

    @property
    def socket(self) -> Path:
        return self.folder / "redis.sock"

    @property
    def url(self) -> str:
        """What every server is given (``message_queue=redis.url``): the socket and the password."""
        return f"unix://{self.socket}?db=0&password={self.password}"

    async def halt(self) -> None:
        """Stop it, as a crash would: every connection to it breaks, everything it held is gone."""
        self.program.folder = None  # the folder stays: its socket path is in every server's URL
        await self.program.kill()

    async def resume(self) -> None:
        """Start it again at the same socket, with the same password, empty."""
        self.program = await _run(self.folder, self.password)

    async def restart(self) -> None:
        await self.halt()
        await self.resume()

    async def subscribers(self, *channels: str) -> dict[str, int]:
        """How many connections listen on each channel now (``PUBSUB NUMSUB``); ``{}`` if Redis is down."""
        client = aioredis.Redis.from_url(self.url)
        try:
            return {name.decode(): count for name, count in await client.pubsub_numsub(*channels)}
        except (RedisError, OSError):
            return {}
        finally:
            await client.aclose()

    async def connections(self) -> int:
        """How many connections Redis has now, besides the one asking (``CLIENT LIST``)."""
        client = aioredis.Redis.from_url(self.url)
        try:
            return len(await client.client_list()) - 1
        finally:
            await client.aclose()

    async def until_subscribed(self, expected: dict[str, int], timeout: float = 30.0) -> float:
        """Wait until each channel has its number of listeners; the seconds it took."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        while (now := await self.subscribers(*expected)) != expected:
            if loop.time() - start > timeout:
                raise TimeoutError(f"listeners after {timeout} s: {now}, not {expected}")
            await asyncio.sleep(0.05)
        return loop.time() - start

    async def stop(self) -> None:
        self.program.folder = self.folder  # removed with it (a halted one had let it go)
        await self.program.stop()

    def __repr__(self) -> str:  # never the password, nor the random folder (a notebook prints it)
        state = "running" if self.program.running else "stopped"
        return f"<Redis on a private Unix socket, with a password: {state}>"


async def start_redis(port: int | None = None) -> Redis:
    """Start ``redis-server`` for this user only (replacing the one started before).

    ``port`` is not used: Redis listens on a Unix socket, not on a TCP port (kept so that
    calls written for the earlier TCP Redis still run).
    """
    if installed("redis-server") is None:
        raise ProgramMissing("redis-server", INSTALL)
    folder = temporary_folder("redis")  # mode 0700, made by mkdtemp
    if len(str(folder / "redis.sock")) > SOCKET_PATH_MAX:
        folder.rmdir()
        raise ProgramFailed(f"the temporary folder's path is too long for a socket: {folder}; set TMPDIR")
    password = secrets.token_urlsafe(24)
    return Redis(folder, await _run(folder, password), password)


def _config(folder: Path, password: str) -> Path:
    """redis.conf in the private folder, readable by this user only: the password stays off argv."""
    path = folder / "redis.conf"
    path.touch(mode=0o600)
    path.write_text(
        "port 0\n"  # no TCP at all
        f'unixsocket "{folder / "redis.sock"}"\n'
        "unixsocketperm 700\n"
        f"requirepass {password}\n"
        f'dir "{folder}"\n'
        'save ""\n'
        "appendonly no\n"
        "daemonize no\n"
    )
    path.chmod(0o600)
    return path


async def _run(folder: Path, password: str) -> Program:
    argv = [installed("redis-server") or "redis-server", str(_config(folder, password))]
    program = await start_program("redis", argv, folder=folder)
    await _until_answering(program, f"unix://{folder / 'redis.sock'}?db=0&password={password}")
    return program


async def _until_answering(program: Program, url: str) -> None:
    """Return once Redis answers a PING with the password; ``ProgramFailed`` if it never does."""
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT
    while True:
        if not program.running:
            await program.stop()
            last = "\n".join(list(program.output)[-8:]) or "(nothing)"
            raise ProgramFailed(f"redis exited with code {program.process.returncode}:\n{last}")
        client = aioredis.Redis.from_url(url)
        try:
            if await client.ping():
                return
        except (RedisError, OSError):
            pass
        finally:
            await client.aclose()
        if asyncio.get_running_loop().time() > deadline:
            await program.stop()
            raise ProgramFailed(f"redis did not answer within {START_TIMEOUT} s")
        await asyncio.sleep(0.02)
