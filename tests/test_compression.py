"""Websockets are served uncompressed, as Node's socket.io does, whatever the client offers.

Browsers and the official clients offer permessage-deflate (RFC 7692) on every websocket; taken
up, it cost each Socket.IO client about 95 KiB more of the server's memory and cut a broadcast
to a quarter of Node's speed (issue 20: python-engineio's ``WebSocketResponse`` takes any offer).
``Limits.deflate`` (off) decides for raw websockets and Socket.IO's alike; a cell can turn it on,
and the chat still works either way.
"""

from __future__ import annotations

import json

import pytest
import websockets

from helpers.server.limits import LIMITS
from helpers.stages import STAGES

RAW, SOCKETIO = "broadcast-bus", "socketio"


def url(server, stage: str) -> str:
    return server.ws_url if stage == RAW else f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"


async def chat(ws, stage: str, text: str) -> str:
    """Say ``text`` in the stage's own protocol; what comes back (the server sends to all)."""
    if stage == RAW:
        await ws.send(text)
        return await ws.recv()
    assert (await ws.recv()).startswith("0{")  # engine.io's open packet
    await ws.send("40")  # Socket.IO CONNECT to the default namespace
    assert (await ws.recv()).startswith("40{")
    await ws.send("42" + json.dumps(["chat message", text]))
    event, data = json.loads((await ws.recv())[2:])
    assert event == "chat message"
    return data


@pytest.mark.parametrize("stage", [RAW, SOCKETIO])
async def test_an_offer_of_deflate_is_not_taken_up(serve, stage):
    server = await serve(STAGES[stage]())
    async with websockets.connect(url(server, stage)) as ws:  # offers permessage-deflate, as browsers do
        assert "permessage-deflate" in ws.request.headers["Sec-WebSocket-Extensions"]
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        assert await chat(ws, stage, "plain, please") == "plain, please"


@pytest.mark.parametrize("stage", [RAW, SOCKETIO])
async def test_a_cell_can_turn_deflate_on(serve, stage):
    server = await serve(STAGES[stage]())
    server.app[LIMITS].deflate = True
    async with websockets.connect(url(server, stage)) as ws:
        assert ws.response.headers["Sec-WebSocket-Extensions"].startswith("permessage-deflate")
        assert await chat(ws, stage, "squeezed " * 50) == "squeezed " * 50
