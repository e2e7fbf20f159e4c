"""Bad input on the Socket.IO stages: raw frames, as notebook 07's wire view sends them.

The standard of the workbook: bad input gets a clear error and loses nothing, and nothing
goes to stderr (in a notebook it would land in a random cell).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import websockets

from helpers.clients.socketio_widgets import SocketIOChatClient, SocketIOClient
from helpers.server.sio.hold import socketio_server_of
from helpers.stages import socketio_basic, socketio_chat
from helpers.stages.socketio_chat import STORE


@asynccontextmanager
async def raw_socketio(server, auth: dict | None = None) -> AsyncIterator[RawClient]:
    """A plain websocket speaking Engine.IO + Socket.IO framing by hand, connected to ``/``."""
    async with websockets.connect(server.ws_url + "socket.io/?EIO=4&transport=websocket") as ws:
        raw = RawClient(ws)
        assert (await raw.next_frame()).startswith("0{")  # engine.io: open
        await ws.send("40" + (json.dumps(auth) if auth else ""))  # socket.io: connect to /
        assert (await raw.frame_starting("40{")).startswith("40{")
        yield raw


class RawClient:
    def __init__(self, ws) -> None:
        self.ws = ws
        self.frames: list[str] = []

    async def next_frame(self) -> str:
        frame = await asyncio.wait_for(self.ws.recv(), 3)
        self.frames.append(frame)
        return frame

    async def frame_starting(self, prefix: str) -> str:
        """The next frame that starts with ``prefix`` (events for everyone come in between)."""
        while not (frame := await self.next_frame()).startswith(prefix):
            pass
        return frame

    async def ack(self, frame: str, ack_id: int) -> list:
        """Send ``frame`` (which asks for acknowledgement ``ack_id``); return the ack's data."""
        await self.ws.send(frame)
        answer = await self.frame_starting(f"43{ack_id}[")
        return json.loads(answer[len(f"43{ack_id}"):])


@pytest.fixture
def nothing_on_stderr(capfd, caplog):
    """Fails the test if anything reached stderr or a logger (e.g. "Task exception was never retrieved")."""
    caplog.set_level(logging.WARNING)
    yield
    gc.collect()  # an unretrieved task exception is reported when the task is collected
    assert [record.getMessage() for record in caplog.records] == []
    assert capfd.readouterr().err == ""


WRONG_CHAT_MESSAGE = 'wrong arguments: "chat message" takes (text, client_offset)'
CHAT_STAGE_BAD_FRAMES = [
    ('421["who",1]', {"error": 'wrong arguments: "who" takes no arguments'}),
    ('421["chat message","hi","c-1","x"]', {"error": WRONG_CHAT_MESSAGE}),
    ('421["chat message"]', {"error": "text must be non-empty text"}),
    ('421["chat message",{"text":"hi"}]', {"error": "text must be non-empty text"}),
    ('421["nick"]', {"error": "nickname must be non-empty text"}),
    ('421["join","#a","#b"]', {"error": 'wrong arguments: "join" takes (room)'}),
    ('421["private message"]', {"error": "nickname must be non-empty text"}),
    ('421["typing",true,false]', {"error": 'wrong arguments: "typing" takes (is_typing)'}),
    ('42["chat message","hi","c-1","x"]', None),  # no acknowledgement asked: nothing comes back
    ('42["who",1]', None),
]


@pytest.mark.parametrize(
    ("frame", "answer"), CHAT_STAGE_BAD_FRAMES, ids=[frame for frame, _ in CHAT_STAGE_BAD_FRAMES]
)
async def test_a_bad_frame_on_the_chat_stage_is_refused_and_the_chat_goes_on(
    serve, nothing_on_stderr, frame, answer
):
    server = await serve(socketio_chat.make_app())
    alice, bob = SocketIOChatClient("alice"), SocketIOChatClient("bob")
    try:
        assert await alice.connect(server.url) and await bob.connect(server.url)
        async with raw_socketio(server, {"nick": "raw"}) as raw:
            if answer is None:
                await raw.ws.send(frame)
            else:
                assert await raw.ack(frame, 1) == [answer]
            await server.log.wait_for("Refused ")
            assert await raw.ack('422["chat message","still here","raw-1"]', 2) == [{"id": 1}]
            await alice.say("me too")
            await bob.wait_for("raw: still here")
            await bob.wait_for("alice: me too")
            heard = await raw.frame_starting('42["chat message"')
            assert heard.startswith('42["chat message","alice: me too"')
        assert server.log.errors == []
    finally:
        await alice.disconnect()
        await bob.disconnect()


@pytest.mark.parametrize("frame", ['42["chat message"]', '421["chat message"]'])
async def test_a_bad_frame_on_the_basic_stage_is_refused_and_the_chat_goes_on(
    serve, nothing_on_stderr, frame
):
    server = await serve(socketio_basic.make_app())
    bob = SocketIOClient("bob")
    try:
        assert await bob.connect(server.url)
        async with raw_socketio(server) as raw:
            if frame.startswith("421"):
                wrong = 'wrong arguments: "chat message" takes (msg, client_offset)'
                assert await raw.ack(frame, 1) == [{"error": wrong}]
            else:
                await raw.ws.send(frame)
            await server.log.wait_for('Refused "chat message"')
            await raw.ws.send('42["chat message","still here"]')
            await bob.wait_for("chat message: still here")
        assert server.log.errors == []
    finally:
        await bob.disconnect()


async def test_a_failing_handler_is_recorded_and_answered_and_the_chat_goes_on(
    serve, nothing_on_stderr, monkeypatch
):
    server = await serve(socketio_chat.make_app())
    store = server.app[STORE]
    add = store.add

    def broken_add(*args):
        monkeypatch.setattr(store, "add", add)  # fails once
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "add", broken_add)
    bob = SocketIOChatClient("bob")
    try:
        assert await bob.connect(server.url)
        async with raw_socketio(server, {"nick": "raw"}) as raw:
            failed = await raw.ack('421["chat message","lost?","raw-1"]', 1)
            assert failed == [{"error": "internal server error"}]
            assert await raw.ack('422["chat message","lost?","raw-1"]', 2) == [{"id": 1}]  # a retry
            await bob.wait_for("raw: lost?")
        assert [error.summary for error in server.log.errors] == [
            'Error in Socket.IO handler for "chat message": RuntimeError: disk on fire'
        ]
    finally:
        await bob.disconnect()


async def test_an_exception_in_a_connect_handler_is_a_recorded_error(serve, nothing_on_stderr):
    """The guard records it (python-socketio would lose it) and refuses the connection."""
    app = socketio_basic.make_app()
    sio = socketio_server_of(app)

    @sio.event
    async def connect(sid, environ, auth):
        raise RuntimeError("no connections today")

    server = await serve(app)
    client = SocketIOClient("client", timeout=0.5)
    assert not await client.connect(server.url)
    assert [error.summary for error in server.log.errors] == [
        'Error in Socket.IO handler for "connect": RuntimeError: no connections today'
    ]
    await client.disconnect()


async def test_a_malformed_packet_is_refused_with_a_reason_not_stderr_and_the_chat_goes_on(
    serve, nothing_on_stderr
):
    """python-socketio itself fails on ``42[]`` (IndexError, once recorded as a server error):
    the serializer refuses it first, and the client is told why."""
    server = await serve(socketio_chat.make_app())
    async with raw_socketio(server, {"nick": "raw"}) as raw:
        await raw.ws.send("42[]")
        refused = await raw.frame_starting('42["refused"')
        assert json.loads(refused[2:]) == ["refused", {"error": "an event starts with its name"}]
        assert await raw.ack('421["who"]', 1) == [{"users": ["raw"]}]
    assert server.log.errors == []
    assert "Refused a client's input: an event starts with its name." in server.log.lines
