"""Debian's ``redis-server`` on a loopback port, in a temporary folder: ``await start_redis()``.

Redis is the message bus of notebook 12: python-socketio's ``AsyncRedisManager`` and the raw
broadcast publish there, and every server process subscribes. This one keeps nothing on disk
(no snapshots, no append-only file): a restart empties it, as a crash of a real one could.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from helpers.programs import Program, ProgramMissing, installed, start_program, temporary_folder

__all__ = ["INSTALL", "REDIS_PORT", "Redis", "start_redis"]

REDIS_PORT = int(os.environ.get("WORKBOOK_REDIS_PORT", "6390"))
"""Not Redis's usual 6379: a Redis already running on this machine is left alone."""

INSTALL = "sudo apt-get install redis-server   (Debian, Ubuntu; `make test` in CI installs it)"


@dataclass
class Redis:
    """A running ``redis-server``: its URL, and ``restart()``/``stop()``."""

    port: int
    program: Program

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def halt(self) -> None:
        """Stop it, as a crash would: every connection to it breaks, everything it held is gone."""
        await self.program.kill()

    async def resume(self) -> None:
        """Start it again on the same port, empty."""
        self.program = await _run(self.port)

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
        await self.program.stop()

    def __repr__(self) -> str:
        return f"<Redis {self.url} {'running' if self.program.running else 'stopped'}>"


async def start_redis(port: int = REDIS_PORT) -> Redis:
    """Start ``redis-server`` on 127.0.0.1:``port`` (replacing the one started before)."""
    if installed("redis-server") is None:
        raise ProgramMissing("redis-server", INSTALL)
    return Redis(port, await _run(port))


async def _run(port: int) -> Program:
    folder = temporary_folder("redis")
    argv = [
        installed("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
        "--dir", str(folder), "--save", "", "--appendonly", "no", "--daemonize", "no",
    ]
    return await start_program("redis", argv, port=port, folder=folder)
