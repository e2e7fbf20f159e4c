"""The websocket stages with real clients (the websockets library) on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest
import websockets
from aiohttp import web

from helpers.server.app import SOCKETS
from helpers.stages import broadcast as readable_stage
from helpers.stages import echo, fast_broadcast, json_chat, receive
from helpers.stages.broadcast import broadcast
from helpers.stages.echo import BINARY_REFUSED

BROADCAST_STAGES = [
    pytest.param(readable_stage, id="readable"),  # notebook 05
    pytest.param(fast_broadcast, id="fast"),  # notebook 11: the broadcast stage
]


async def recv(ws: websockets.ClientConnection) -> str:
    return await asyncio.wait_for(ws.recv(), 3)


async def assert_silent(ws: websockets.ClientConnection, after: float = 0.2) -> None:
    """Nothing more arrives (used only after a later message proved delivery is done)."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), after)


async def test_receive_logs_each_message_and_answers_nothing(serve):
    server = await serve(receive.make_app())
    async with websockets.connect(server.ws_url) as ws:
        await ws.send("hi")
        await ws.send("there")
        await server.log.wait_for("ws got: there")
        await assert_silent(ws)
    await server.log.wait_for("Client disconnected")
    assert server.log.lines == [
        f"Listening at port {server.port}",
        "Client connected (1 open).",
        "ws got: hi",
        "ws got: there",
        "Client disconnected (0 open).",
    ]


async def test_echo_sends_each_message_back_to_its_sender_only(serve):
    server = await serve(echo.make_app())
    async with websockets.connect(server.ws_url) as a, websockets.connect(server.ws_url) as b:
        await a.send("hi")
        assert await recv(a) == "hi"
        await b.send("ho")
        assert await recv(b) == "ho"
        await assert_silent(a)


async def test_binary_frame_gets_a_clear_answer_and_the_connection_stays(serve):
    server = await serve(echo.make_app())
    async with websockets.connect(server.ws_url) as ws:
        await ws.send(b"\x00\xff")
        assert await recv(ws) == BINARY_REFUSED
        await ws.send("still here")
        assert await recv(ws) == "still here"
    assert "Refused a binary frame of 2 bytes." in server.log.lines


async def test_invalid_utf8_closes_only_that_client(serve):
    server = await serve(echo.make_app())
    async with websockets.connect(server.ws_url) as good:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
        # A masked text frame whose payload is not UTF-8 (mask of zeros keeps it readable).
        writer.write(b"\x81\x82\x00\x00\x00\x00\xc3\x28")
        await writer.drain()
        await server.log.wait_for("Client disconnected (1 open).")
        writer.close()
        await good.send("fine")
        assert await recv(good) == "fine"


@pytest.mark.parametrize("except_self", [False, True])
@pytest.mark.parametrize("broadcast_stage", BROADCAST_STAGES)
async def test_broadcast_to_three_clients(serve, broadcast_stage, except_self):
    server = await serve(broadcast_stage.make_app(except_self=except_self))
    clients = [await websockets.connect(server.ws_url) for _ in range(3)]
    await server.log.wait_for("Client connected (3 open)")
    sender, *others = clients
    await sender.send("hello")
    for other in others:
        assert await recv(other) == "hello"
    if except_self:
        await server.log.wait_for("Broadcasted data to 2 (3) clients.")
        await sender.send("again")  # proves the first message never came back to the sender
        await recv(others[0])
        await assert_silent(sender)
    else:
        assert await recv(sender) == "hello"
        await server.log.wait_for("Broadcasted data to 3 (3) clients.")
    for client in clients:
        await client.close()


@pytest.mark.parametrize("broadcast_stage", BROADCAST_STAGES)
async def test_a_client_vanishing_during_a_broadcast_raises_nothing(serve, broadcast_stage):
    server = await serve(broadcast_stage.make_app())
    stayers = [await websockets.connect(server.ws_url) for _ in range(2)]
    leaver = await websockets.connect(server.ws_url)
    await server.log.wait_for("Client connected (3 open)")
    leaver.transport.abort()  # gone without a close frame
    for n in range(20):
        await stayers[0].send(f"m{n}")
    for stayer in stayers:
        assert [await recv(stayer) for _ in range(20)] == [f"m{n}" for n in range(20)]
    assert server.log.errors == []
    for stayer in stayers:
        await stayer.close()


async def test_broadcast_function_skips_a_client_whose_send_fails():
    class Broken:
        async def send_str(self, text: str) -> None:
            raise ConnectionResetError("gone")

    class Fine:
        def __init__(self) -> None:
            self.got: list[str] = []

        async def send_str(self, text: str) -> None:
            self.got.append(text)

    fine = [Fine(), Fine()]
    clients = {fine[0], Broken(), fine[1]}
    sent = await broadcast(clients, "héllo")  # type: ignore[arg-type]
    assert sent == 2
    assert fine[0].got == fine[1].got == ["héllo"]
    assert len(clients) == 3, "a client that vanished is its own handler's to remove"


@pytest.mark.parametrize("broadcast_stage", BROADCAST_STAGES)
async def test_thousand_messages_arrive_complete_and_in_order_at_every_client(serve, broadcast_stage):
    server = await serve(broadcast_stage.make_app())
    clients = [await websockets.connect(server.ws_url) for _ in range(3)]
    await server.log.wait_for("Client connected (3 open)")
    expected = [f"message {n}" for n in range(1000)]

    async def collect(ws: websockets.ClientConnection) -> list[str]:
        return [await recv(ws) for _ in expected]

    collectors = [asyncio.create_task(collect(ws)) for ws in clients]
    for text in expected:
        await clients[0].send(text)
    results = await asyncio.wait_for(asyncio.gather(*collectors), 30)
    assert all(result == expected for result in results)
    for client in clients:
        await client.close()


async def test_stage_apps_track_their_sockets(serve):
    server = await serve(echo.make_app())
    async with websockets.connect(server.ws_url):
        await server.log.wait_for("Client connected (1 open)")
        assert server.clients == 1
        assert all(isinstance(ws, web.WebSocketResponse) for ws in server.app[SOCKETS])


# --- the JSON protocol stage -----------------------------------------------------------


async def json_client(server, nick: str | None = None) -> websockets.ClientConnection:
    ws = await websockets.connect(server.ws_url)
    if nick:
        await ws.send(json.dumps({"type": "nick", "nick": nick}))
        while json.loads(await recv(ws)) != {"type": "join", "nick": nick}:
            pass
    return ws


BAD_INPUTS = [
    ("hello", "malformed JSON: Expecting value: line 1 column 1 (char 0)"),
    ("[1, 2]", 'a message must be a JSON object like {"type": "chat", ...}'),
    ('"chat"', 'a message must be a JSON object like {"type": "chat", ...}'),
    ('{"text": "hi"}', "missing field 'type'"),
    ('{"type": "shout"}', "unknown type 'shout'; expected one of: chat, nick, users"),
    ('{"type": null}', "unknown type None; expected one of: chat, nick, users"),
    ('{"type": []}', "unknown type []; expected one of: chat, nick, users"),
    ('{"type": {"a": 1}}', "unknown type {'a': 1}; expected one of: chat, nick, users"),
    ('{"type": "chat"}', "missing field 'text'"),
    ('{"type": "chat", "text": 42}', "field 'text' must be a string"),
    ('{"type": "chat", "text": ["a"]}', "field 'text' must be a string"),
    ('{"type": "chat", "text": ""}', "field 'text' must not be empty"),
    ('{"type": "chat", "text": "' + "x" * 501 + '"}', "field 'text' is longer than 500 characters"),
    ('{"type": "nick", "nick": "' + "n" * 33 + '"}', "field 'nick' is longer than 32 characters"),
    ('{"type": "nick"}', "missing field 'nick'"),
    ('{"type": "chat", "text": "' + "y" * 5000 + '"}', "message is longer than 4096 characters"),
    ('{"type": "nick", "nick": "alice"}', "nickname 'alice' is taken"),
]


@pytest.mark.parametrize(("raw", "error"), BAD_INPUTS, ids=[e for _, e in BAD_INPUTS])
async def test_json_bad_input_gets_its_error_and_the_others_chat_on(serve, raw, error):
    server = await serve(json_chat.make_app())
    alice = await json_client(server, "alice")
    bob = await json_client(server, "bob")
    assert json.loads(await recv(alice)) == {"type": "join", "nick": "bob"}
    mallory = await json_client(server, "mallory")
    for ws in (alice, bob):
        assert json.loads(await recv(ws)) == {"type": "join", "nick": "mallory"}

    await mallory.send(raw)
    assert json.loads(await recv(mallory)) == {"type": "error", "error": error}

    await alice.send(json.dumps({"type": "chat", "text": "still here"}))
    said = {"type": "chat", "nick": "alice", "text": "still here"}
    for ws in (alice, bob, mallory):
        assert json.loads(await recv(ws)) == said, "the error went to its sender only"
    assert server.log.errors == []
    for ws in (alice, bob, mallory):
        await ws.close()


async def test_json_chat_before_a_nickname_is_refused(serve):
    server = await serve(json_chat.make_app())
    async with websockets.connect(server.ws_url) as ws:
        await ws.send(json.dumps({"type": "chat", "text": "hi"}))
        assert json.loads(await recv(ws))["error"].startswith("choose a nickname first")


async def test_json_binary_frame_gets_a_json_error(serve):
    server = await serve(json_chat.make_app())
    async with websockets.connect(server.ws_url) as ws:
        await ws.send(b"\x01")
        assert json.loads(await recv(ws)) == {
            "type": "error",
            "error": "binary frames are not supported; send JSON text",
        }


async def test_json_join_rename_users_leave(serve):
    server = await serve(json_chat.make_app())
    alice = await json_client(server, "alice")
    bob = await json_client(server, "bob")
    assert json.loads(await recv(alice)) == {"type": "join", "nick": "bob"}
    await bob.send(json.dumps({"type": "nick", "nick": "robert"}))
    for ws in (alice, bob):
        assert json.loads(await recv(ws)) == {"type": "rename", "old": "bob", "nick": "robert"}
    await alice.send(json.dumps({"type": "users"}))
    assert json.loads(await recv(alice)) == {"type": "users", "users": ["alice", "robert"]}
    await bob.close()
    assert json.loads(await recv(alice)) == {"type": "leave", "nick": "robert"}
    await alice.close()


@pytest.mark.parametrize("broadcast_stage", BROADCAST_STAGES)
async def test_a_client_that_stops_reading_is_dropped_and_holds_nobody_back(serve, broadcast_stage):
    """A reader that never reads fills its buffers; the chat goes on, and it is dropped."""
    server = await serve(broadcast_stage.make_app())
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills sooner
    stalled.connect(("127.0.0.1", server.port))
    stalled.sendall(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    # ... and never reads again.
    sender = await websockets.connect(server.ws_url, max_size=None)
    reader = await websockets.connect(server.ws_url, max_size=None)
    await server.log.wait_for("Client connected (3 open)")
    big = "x" * 20_000
    count = 500  # 10 MB: far more than the socket buffers of the stalled client hold

    async def read_all(ws: websockets.ClientConnection) -> int:
        return sum([len(await recv(ws)) == len(big) for _ in range(count)])

    reading = [asyncio.create_task(read_all(ws)) for ws in (sender, reader)]
    started = time.monotonic()
    for _ in range(count):
        await sender.send(big)
    assert await asyncio.wait_for(asyncio.gather(*reading), 20) == [count, count]
    elapsed = time.monotonic() - started
    await server.log.wait_for("Client disconnected (2 open).")
    assert server.clients == 2
    assert elapsed < 1.0 + 5.0, "held back once, for the slow-client timeout at most, plus the work"
    assert server.log.errors == []
    stalled.close()
    await sender.close()
    await reader.close()
