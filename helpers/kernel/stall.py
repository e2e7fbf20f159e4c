"""Notebook 05's stall test: does one client that stops reading hold the others back?

``stall_test(app)`` serves ``app`` on a spare port of its own (the notebook's chat and its
widgets never see these megabytes), connects alice and bob, and dave who reads nothing
(``helpers.clients.probes.stalled_client``), then alice sends; the result says whether bob
got every message, and when.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import websockets
from aiohttp import web

from helpers.clients.probes import stalled_client
from helpers.kernel.lifecycle import open_server

__all__ = ["STALL_SILENCE", "StallTest", "stall_test"]


@dataclass
class StallTest:
    """What ``stall_test`` measured: did bob get every message alice sent, and when."""

    messages: int
    stalled: bool
    got: int
    last_after: float | None  # seconds from the first send to the last message bob got
    silent_for: float  # seconds bob then waited for nothing, when he did not get them all

    def __repr__(self) -> str:
        who = "with dave stalled" if self.stalled else "without dave"
        if self.got == self.messages:
            after = f"{self.last_after * 1000:.0f} ms"
            return f"{who}: bob got all {self.messages} messages: yes, the last after {after}"
        return (
            f"{who}: bob got all {self.messages} messages: no, {self.got} of them, "
            f"then nothing for {self.silent_for:g} s"
        )


async def stall_test(app: web.Application, *, stalled: bool = True, messages: int = 300) -> StallTest:
    """Serve ``app`` on a spare port; alice sends ``messages`` of 20,000 characters; does bob get them?

    With ``stalled``, dave is connected too and reads nothing (``stalled_client``). A server of
    its own, so the notebook's chat and its widgets never see these megabytes.
    """
    server = await open_server(app, port=0)
    dave = None
    try:
        dave = await stalled_client(server.ws_url) if stalled else None
        async with websockets.connect(server.ws_url, compression=None, max_size=None) as alice, \
                websockets.connect(server.ws_url, compression=None, max_size=None) as bob:  # fmt: skip
            loop = asyncio.get_running_loop()
            started, got, last_at = loop.time(), 0, None
            echoes = asyncio.ensure_future(_read_all(alice))  # alice reads what comes back to her
            for n in range(messages):
                await alice.send(f"{n}: " + "x" * 20_000)
            silence = STALL_SILENCE
            while got < messages:
                try:
                    await asyncio.wait_for(bob.recv(), silence)
                except TimeoutError:
                    break
                got, last_at = got + 1, loop.time()
            echoes.cancel()
        return StallTest(messages, stalled, got, None if last_at is None else last_at - started, silence)
    finally:
        if dave is not None:
            dave.close()
        await server.stop()


async def _read_all(ws: websockets.ClientConnection) -> None:
    async for _ in ws:
        pass


STALL_SILENCE = 3.0
"""Seconds of silence after which ``stall_test`` says bob got nothing more."""
