"""The fast broadcast paths (notebook 11) deliver what the readable ones do, in the same order.

Speed is measured in ``bench/`` (``make bench``), never here: these tests prove only that the
fast paths lose nothing, reorder nothing, drop a client that stopped reading and survive one
that vanished.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
import socketio
import websockets
from aiohttp import WSMsgType
from aiohttp._websocket.writer import WebSocketWriter
from engineio import packet as eio_packet

from helpers.common.quiet import quiet_logger
from helpers.loadlab import generator as load
from helpers.server.app import LIMITS, SOCKETS, transport_of
from helpers.server.sio.fanout import FanoutManager
from helpers.server.sio.hold import socketio_server_of
from helpers.server.sio.serving import SIO
from helpers.stages import broadcast as readable_stage
from helpers.stages import fast_broadcast, socketio_basic
from helpers.stages.fast_broadcast import fast_broadcast as fast_broadcast_function
from helpers.stages.fast_broadcast import text_frame
from tests.raw_peers import RawWebsocket

STAGES = [pytest.param(readable_stage, id="readable"), pytest.param(fast_broadcast, id="fast")]


class _Written(asyncio.Transport):
    """A transport that keeps what is written to it: aiohttp's own frame, for comparison."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return False


class _Protocol:
    _paused = False


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 70_000])
async def test_text_frame_is_byte_for_byte_the_frame_aiohttp_writes(size):
    text = ("é" * size)[: size // 2] + "x" * (size - 2 * (size // 2))  # multi-byte characters too
    transport = _Written()
    writer = WebSocketWriter(_Protocol(), transport, use_mask=False)  # type: ignore[arg-type]
    await writer.send_frame(text.encode(), WSMsgType.TEXT)
    assert text_frame(text) == bytes(transport.data)


async def _transcripts(serve, stage, senders: int, each: int) -> list[list[str]]:
    """What each of ``senders`` clients received while all of them sent ``each`` messages at once."""
    server = await serve(stage.make_app())
    clients = [await websockets.connect(server.ws_url) for _ in range(senders)]
    await server.log.wait_for(f"Client connected ({senders} open)")

    async def send_all(index: int, ws: websockets.ClientConnection) -> None:
        for n in range(each):
            await ws.send(f"{index}:{n}")

    async def receive_all(ws: websockets.ClientConnection) -> list[str]:
        return [await asyncio.wait_for(ws.recv(), 10) for _ in range(senders * each)]

    receiving = [asyncio.create_task(receive_all(ws)) for ws in clients]
    await asyncio.gather(*(send_all(i, ws) for i, ws in enumerate(clients)))
    transcripts = await asyncio.wait_for(asyncio.gather(*receiving), 30)
    for ws in clients:
        await ws.close()
    return transcripts


@pytest.mark.parametrize("stage", STAGES)
async def test_every_client_gets_every_message_in_one_same_order(serve, stage):
    """Messages from 4 senders at once: one order for all, each sender's messages in its order."""
    transcripts = await _transcripts(serve, stage, senders=4, each=250)
    assert all(transcript == transcripts[0] for transcript in transcripts), "one order for every client"
    assert sorted(transcripts[0]) == sorted(f"{i}:{n}" for i in range(4) for n in range(250))
    for i in range(4):
        mine = [int(text.split(":")[1]) for text in transcripts[0] if text.startswith(f"{i}:")]
        assert mine == list(range(250)), f"sender {i}'s messages in the order it sent them"


async def test_the_fast_path_coalesces_what_one_turn_of_the_loop_sends(serve):
    """Three broadcasts in one turn reach a client in one write, and in order."""
    server = await serve(fast_broadcast.make_app())
    peer = await RawWebsocket.connect(server.port)
    await server.log.wait_for("Client connected (1 open)")
    (ws,) = server.app[SOCKETS]
    for text in ("one", "two", "three"):
        assert fast_broadcast_function(server.app, [ws], text) == 1
    assert [await peer.receive_text() for _ in range(3)] == ["one", "two", "three"]
    peer.close()


async def test_a_closed_websocket_gets_nothing_and_is_not_counted(serve):
    server = await serve(fast_broadcast.make_app())
    stayer, leaver = await RawWebsocket.connect(server.port), await RawWebsocket.connect(server.port)
    await server.log.wait_for("Client connected (2 open)")
    sockets = list(server.app[SOCKETS])
    leaver.close()
    await server.log.wait_for("Client disconnected (1 open).")
    assert fast_broadcast_function(server.app, sockets, "still here") == 1
    assert await stayer.receive_text() == "still here"
    stayer.close()


async def test_a_client_over_its_unsent_bytes_is_dropped_at_once(serve):
    """No waiting at all: the write that leaves it over ``unsent_bytes`` unread drops it."""
    server = await serve(fast_broadcast.make_app())
    server.app[LIMITS].unsent_bytes = 100_000
    stalled = await RawWebsocket.connect(server.port, receive_buffer=4096)
    stalled.stop_reading()
    reader = await RawWebsocket.connect(server.port)
    await server.log.wait_for("Client connected (2 open)")
    for n in range(200):  # 200 × 20 kB = 4 MB: more than the stalled client's socket buffers
        fast_broadcast_function(server.app, list(server.app[SOCKETS]), f"{n:03}" + "x" * 20_000)
        await asyncio.sleep(0)
    await server.log.wait_for("Dropped a client that stopped reading.")
    await server.log.wait_for("Client disconnected (1 open).")
    got = [(await reader.receive_text(timeout=10))[:3] for _ in range(200)]
    assert got == [f"{n:03}" for n in range(200)]
    assert server.log.errors == []
    reader.close()


async def _stalled_and_a_reader(
    server, stalled: int
) -> tuple[list[RawWebsocket], websockets.ClientConnection]:
    """``stalled`` clients that stop reading at once (small socket buffers), and one that reads."""
    peers = [await RawWebsocket.connect(server.port, receive_buffer=4096) for _ in range(stalled)]
    for peer in peers:
        peer.stop_reading()
    await server.log.wait_for(f"Client connected ({stalled} open)")
    for ws in server.app[SOCKETS]:  # the server's side takes little too: the rest waits in Python
        transport_of(ws).get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    reader = await websockets.connect(server.ws_url, max_size=None)
    await server.log.wait_for(f"Client connected ({stalled + 1} open)")
    return peers, reader


def _copies(server) -> int:
    """Bytes the server's transports hold for their clients: each one a copy of its own."""
    return sum(t.get_write_buffer_size() for ws in server.app[SOCKETS] if (t := transport_of(ws)))


async def test_clients_that_stop_reading_hold_no_copies_of_what_waits(serve):
    """Issue 20: 980 stalled clients held 466 MB. Frames wait shared; a transport keeps one batch."""
    server = await serve(fast_broadcast.make_app())
    server.app[LIMITS].unsent_bytes = 10_000_000  # none is dropped for what it holds
    peers, reader = await _stalled_and_a_reader(server, 20)
    most = 0

    async def watch() -> None:
        nonlocal most
        while True:
            most = max(most, _copies(server))
            await asyncio.sleep(0.001)

    watcher = asyncio.create_task(watch())
    for n in range(60):  # 60 × 20 kB: 1.2 MB for each client, far more than its sockets take
        fast_broadcast_function(server.app, list(server.app[SOCKETS]), f"{n:02}" + "x" * 20_000)
        await asyncio.sleep(0.002)
    got = [(await asyncio.wait_for(reader.recv(), 10))[:2] for _ in range(60)]
    watcher.cancel()
    assert got == [f"{n:02}" for n in range(60)]
    assert most <= 20 * fast_broadcast.BATCH, f"{most:,} bytes of copies for 20 stalled clients"
    for peer in peers:
        peer.close()
    await reader.close()


async def test_slow_clients_together_are_held_to_unsent_total(serve, monkeypatch):
    """Each under its own limit, its timeout far away: the total alone drops them, furthest first."""
    monkeypatch.setattr(fast_broadcast, "SLOW_CLIENT_TIMEOUT", 60.0)
    server = await serve(fast_broadcast.make_app())
    limits, behind = server.app[LIMITS], server.app[fast_broadcast.OUTBOX].behind
    limits.unsent_bytes, limits.unsent_total = 10_000_000, 1_000_000
    peers, reader = await _stalled_and_a_reader(server, 10)
    for n in range(100):  # 2 MB for each: under its own limit, 20 MB for all of them
        await reader.send(f"{n:03}" + "x" * 20_000)
    await server.log.wait_for("Dropped a client that stopped reading.")
    await asyncio.sleep(0.05)  # a few of room's looks
    assert 0 < sum(behind.unsent.values()) <= limits.unsent_total, "the rest hold no more than the total"
    for peer in peers:  # the rest leave: the senders wait for nobody any more
        peer.close()
    got = [(await asyncio.wait_for(reader.recv(), 10))[:3] for _ in range(100)]
    assert got == [f"{n:03}" for n in range(100)]
    await reader.close()


# --- Socket.IO: FanoutManager ---------------------------------------------------------------


class _Reader:
    """A python-socketio client that keeps the chat messages it gets."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(logger=quiet_logger(), engineio_logger=quiet_logger())
        self.received: list[str] = []
        self.sio.on("chat message", self.received.append)

    async def messages(self, count: int) -> list[str]:
        async with asyncio.timeout(10):
            while len(self.received) < count:
                await asyncio.sleep(0.01)
        return self.received[:count]


async def _readers(url: str, count: int) -> list[_Reader]:
    readers = [_Reader() for _ in range(count)]
    for reader in readers:
        await reader.sio.connect(url, transports=["websocket"])
    return readers


class LibraryManager(socketio.AsyncManager):
    """python-socketio's own manager, under a name of its own: ``start_server`` keeps it as it is."""


@pytest.mark.parametrize("manager", [LibraryManager, None], ids=["library", "fanout"])
async def test_socketio_emits_reach_everyone_in_one_same_order(serve, manager):
    """The tutorial's chat with the library's manager and with FanoutManager: same transcripts."""
    app = socketio_basic.make_app()
    if manager is not None:  # as if the app had chosen it: client_manager=LibraryManager()
        sio = socketio_server_of(app)
        sio.manager = manager()
        sio.manager.set_server(sio)
    server = await serve(app)
    assert type(server.app[SIO].manager) is (manager or FanoutManager), "start_server's is FanoutManager"
    readers = await _readers(server.url, 4)
    for n in range(30):
        await readers[n % 4].sio.emit("chat message", f"{n % 4}:{n}")
    got = await asyncio.gather(*(reader.messages(30) for reader in readers))
    assert all(transcript == got[0] for transcript in got), "one order for every client"
    for i in range(4):
        assert [t for t in got[0] if t.startswith(f"{i}:")] == [f"{i}:{n}" for n in range(i, 30, 4)]
    for reader in readers:
        await reader.sio.disconnect()


async def test_fanout_manager_skips_the_sender_and_keeps_acks(serve):
    server = await serve(socketio_basic.make_app(except_self=True))
    alice, bob, carol = await _readers(server.url, 3)
    await alice.sio.emit("chat message", "hi")
    assert await bob.messages(1) == ["hi"] and await carol.messages(1) == ["hi"]
    await bob.sio.emit("chat message", "again")
    assert await alice.messages(1) == ["again"], "the first never came back to alice"
    bob.sio.on("are you there?", lambda: "yes")  # a call: an ack id per client, the library's path
    assert await server.app[SIO].call("are you there?", to=bob.sio.get_sid(), timeout=5) == "yes"
    for reader in (alice, bob, carol):
        await reader.sio.disconnect()


async def test_fanout_manager_survives_a_client_that_vanished(serve):
    server = await serve(socketio_basic.make_app())
    (stayer,) = await _readers(server.url, 1)
    leaver = await RawWebsocket.connect(server.port, "/socket.io/?EIO=4&transport=websocket")
    await leaver.receive_text()  # engine.io's open
    leaver.send("40")
    await leaver.receive_text()  # Socket.IO's connect
    leaver.writer.transport.abort()  # gone without a word
    for n in range(20):
        await stayer.sio.emit("chat message", f"m{n}")
    assert await stayer.messages(20) == [f"m{n}" for n in range(20)]
    assert server.log.errors == []
    await stayer.sio.disconnect()


async def test_a_broadcast_frame_waits_behind_what_engineio_still_queues(serve):
    """Issue 20: a broadcast's one frame goes straight to each websocket (``helpers.server.sio.frames``),
    but only to a client with nothing waiting in engine.io's queue: a packet queued just before
    it, that engine.io's writer has not sent yet, still arrives first."""
    server = await serve(socketio_basic.make_app())
    (reader,) = await _readers(server.url, 1)
    seen: list[str] = []
    reader.sio.on("first", lambda: seen.append("first"))
    reader.sio.on("chat message", seen.append)
    sio, sid = server.app[SIO], reader.sio.get_sid()
    eio_sid = sio.manager.eio_sid_from_sid(sid, "/")
    for n in range(50):
        await sio.eio.send_packet(eio_sid, eio_packet.Packet(eio_packet.MESSAGE, '2["first"]'))  # queued
        await sio.emit("chat message", f"then {n}")  # the same turn: engine.io's writer has not run
    async with asyncio.timeout(10):
        while len(seen) < 100:
            await asyncio.sleep(0.01)
    assert seen == [item for n in range(50) for item in ("first", f"then {n}")]
    await reader.sio.disconnect()


async def test_socketio_broadcasts_reach_every_websocket_client_in_order(serve):
    """100 clients on websockets, 10 senders: the direct path delivers all, in one same order."""
    server = await serve(socketio_basic.make_app())
    readers = await _readers(server.url, 20)
    for n in range(200):
        await readers[n % 10].sio.emit("chat message", f"{n % 10}:{n}")
    got = await asyncio.gather(*(reader.messages(200) for reader in readers))
    assert all(transcript == got[0] for transcript in got)
    assert sorted(got[0], key=lambda text: int(text.split(":")[1])) == [f"{n % 10}:{n}" for n in range(200)]
    for reader in readers:
        await reader.sio.disconnect()


# --- the load lab's load generator -----------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("size", [64, 300])  # 300: a frame whose length takes two more bytes
async def test_the_load_generator_counts_every_delivery(serve, stage, size):
    server = await serve(stage.make_app())
    got = await load.run(server.port, clients=5, messages=200, size=size)
    assert (got["deliveries"], got["expected"], got["lost"], got["out_of_order"]) == (1000, 1000, 0, 0)
    assert got["p50_ms"] <= got["p99_ms"]


async def test_the_load_generator_says_when_the_server_refuses(serve):
    server = await serve(fast_broadcast.make_app())
    server.app[LIMITS].connections = 2
    with pytest.raises(ConnectionError, match="503"):
        await load.run(server.port, clients=3, messages=1)
