"""Memory that dropped clients held goes back to the system (``helpers.server.memory``), once per wave.

Measured in issue 20: 980 clients that stopped reading, then dropped, left 266-664 MB of the
server's resident memory behind for good; glibc kept the freed blocks. ``make bench`` measures
the whole case; here, that a wave of ends asks for the memory back once, a while after.
"""

from __future__ import annotations

import asyncio

import pytest
import websockets

from helpers.server import memory
from helpers.stages import echo


@pytest.fixture
def trims(monkeypatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(memory, "_TRIM", lambda pad: calls.append(pad) or 1)
    monkeypatch.setattr(memory, "GIVE_BACK_AFTER", 1.0)
    return calls


async def test_a_wave_of_websockets_ending_gives_memory_back_once(serve, trims):
    server = await serve(echo.make_app())
    clients = [await websockets.connect(server.ws_url) for _ in range(20)]
    await server.log.wait_for("Client connected (20 open)")
    for ws in clients:
        await ws.close()
    await server.log.wait_for("Client disconnected (0 open).")
    assert trims == [], "not at once: the rest of the wave ends first"
    await asyncio.sleep(1.5)
    assert trims == [0], "once for all 20"


def test_glibc_is_found_where_it_runs():
    import platform

    if platform.libc_ver()[0] == "glibc":
        assert memory._TRIM is not None
    else:
        assert memory._TRIM is None
