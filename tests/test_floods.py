"""Floods and rude frames from issue 19: each test reproduces a failure measured there.

- About 1,000 plain ``GET /socket.io/?EIO=4&transport=polling`` (``Connection: close``) made
  1,000 engine.io sessions that counted as connections: every student got 503 for 66 s.
- Under a 1,024 open-files limit, a client holding its refused connections made newcomers
  time out instead of getting 503.
- Unmasked client frames were accepted (RFC 6455 section 5.1: close with 1002).

Other loopback addresses (127.0.0.2, 127.0.0.3...) stand for other machines: a client binds
one as its own address, and the server sees it as that peer.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time

import aiohttp
import pytest
import socketio
from raw_peers import (
    RawWebsocket,
    masked_frame,
    polling_flood,
    polling_handshake,
    refused_and_held,
    unmasked_frame,
)

from helpers.common.quiet import quiet_logger
from helpers.server.app import add_plumbing, open_connections
from helpers.server.limits import LIMITS
from helpers.server.masks import FrameHeaders
from helpers.server.sio.serving import SIO, SIO_TASKS
from helpers.stages import STAGES

ENGINEIO = "/socket.io/?EIO=4&transport=websocket"
SECONDS_NOT_A_MINUTE = 10.0
"""How soon the sessions of a flood must be gone once it ended (engine.io alone: 66 s and more)."""
PROTOCOL_ERROR = 1002


async def _student(url: str, timeout: float = 10.0) -> tuple[socketio.AsyncClient, float]:
    """A python-socketio client that connects (long-polling first, then a websocket): it and its seconds."""
    client = socketio.AsyncClient(reconnection=False, logger=quiet_logger())
    started = time.perf_counter()
    await client.connect(url, wait_timeout=timeout)
    return client, time.perf_counter() - started


async def _students(url: str, count: int) -> list[tuple[socketio.AsyncClient, float]]:
    return [await _student(url) for _ in range(count)]


def _ms(connected: list[tuple[socketio.AsyncClient, float]]) -> str:
    times = sorted(seconds * 1000 for _, seconds in connected)
    return f"median {times[len(times) // 2]:.0f} ms, slowest {times[-1]:.0f} ms"


# --- item 1: sessions that never connect ----------------------------------------------------------


async def test_a_thousand_polling_handshakes_lock_no_student_out_and_expire_in_seconds(serve):
    """Issue 19: "1,000 GET /socket.io/?EIO=4&transport=polling with Connection: close take 0.4 s,
    each makes a session that counts toward the 1,000-connection cap, and every student then
    gets 503 for 66 s"."""
    server = await serve(STAGES["socketio-chat"]())
    before = await _students(server.url, 5)
    started = time.perf_counter()
    flood = asyncio.ensure_future(polling_flood(server.port, 1000))
    during = await _students(server.url, 5)  # while the flood comes in
    statuses = await flood
    flood_took = time.perf_counter() - started
    after = await _students(server.url, 10)
    print(f"\nflood of 1,000 handshakes: {flood_took:.2f} s, {statuses}")
    print(f"students before: {_ms(before)}; during: {_ms(during)}; after: {_ms(after)}")
    assert statuses == {b"200": 1000}, "loopback is this machine's own user: no share applies"
    students = before + during + after
    assert all(client.connected for client, _ in students)
    sockets = server.app[SIO].eio.sockets
    deadline = started + flood_took + SECONDS_NOT_A_MINUTE
    while len(sockets) > len(students) and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    gone_after = time.perf_counter() - started
    print(f"sessions left {gone_after:.1f} s after the flood began: {len(sockets)} (the students')")
    assert len(sockets) == len(students), "the flood's sessions were closed within the grace"
    assert open_connections(server.app) == len(students)
    assert all(client.connected for client, _ in students), "no student was closed with them"
    for client, _ in students:
        await client.disconnect()


async def test_the_oldest_unconnected_session_makes_room_past_the_newcomers_budget(serve):
    """Past ``Limits.newcomers`` unconnected sessions, the oldest is closed: none is refused for it."""
    app = STAGES["socketio-chat"]()
    add_plumbing(app)
    app[LIMITS].newcomers = 50
    server = await serve(app)
    statuses = await polling_flood(server.port, 200)
    assert statuses == {b"200": 200}
    assert len(server.app[SIO].eio.sockets) <= 50
    await asyncio.sleep(0.1)  # the closed ones' ping tasks end with them, not 25 s later
    assert len(server.app[SIO_TASKS]) <= 50 + 5, "a ping task per kept session, and the server's own"
    client, _ = await _student(server.url)
    assert client.connected
    await client.disconnect()


async def test_one_address_cannot_fill_the_server_with_unconnected_sessions(serve):
    """Issue 19: "No per-address limit." A flood from one address (127.0.0.2) gets its share of
    new sessions, then 503; students from another address (127.0.0.3) and this machine connect."""
    server = await serve(STAGES["socketio-chat"]())
    limits = server.app[LIMITS]
    limits.newcomers, limits.address_share = 1000, 0.25
    limits.connect_grace = 60.0  # none expires during the flood, however slow this machine is today
    share = 250
    flood = asyncio.ensure_future(polling_flood(server.port, 1000, local_address="127.0.0.2"))
    students = await _students(server.url, 5)
    statuses = await flood
    print(f"\nflood of 1,000 handshakes from 127.0.0.2: {statuses}")
    assert statuses == {b"200": share, b"503": 1000 - share}
    assert await polling_handshake(server.port, local_address="127.0.0.3") == b"200"
    assert all(client.connected for client, _ in students)
    for client, _ in students:
        await client.disconnect()


@pytest.mark.parametrize(("stage", "path"), [("echo", "/"), ("socketio-chat", ENGINEIO)])
async def test_one_address_gets_its_share_of_the_cap_and_this_machine_the_rest(serve, stage, path):
    """The cap is 20 connections, a quarter each for 127.0.0.2 and 127.0.0.3: past their 5 each
    gets 503; this machine's own programs (127.0.0.1) are not held to a share: they fill it."""
    app = add_plumbing(STAGES[stage]())
    app[LIMITS].connections = 20
    server = await serve(app)
    opened = []
    for address in ["127.0.0.2", "127.0.0.3"]:
        for _ in range(5):
            opened.append(await RawWebsocket.connect(server.port, path, local_address=address))
        status, held = await refused_and_held(server.port, path, local_address=address)
        held.close()
        assert status == b"503", f"the sixth websocket from {address}"
    for _ in range(10):
        opened.append(await RawWebsocket.connect(server.port, path))
    status, held = await refused_and_held(server.port, path)
    held.close()
    assert status == b"503", "the cap"
    assert sum("one address may hold 5 of the 20" in line for line in server.log.lines) == 1
    for ws in opened:
        ws.close()


async def test_students_on_long_polling_from_one_address_get_its_share_and_no_more(serve):
    """Joined long-polling sessions count toward an address's share as websockets do."""
    app = add_plumbing(STAGES["socketio-chat"]())
    app[LIMITS].connections = 8  # a share of 2 each for 127.0.0.2
    server = await serve(app)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))) as session:
        clients = [socketio.AsyncClient(reconnection=False, logger=quiet_logger(), http_session=session)
                   for _ in range(3)]  # fmt: skip
        for client in clients[:2]:
            await client.connect(server.url, transports=["polling"], wait_timeout=5)
        with pytest.raises(socketio.exceptions.ConnectionError, match="503"):
            await clients[2].connect(server.url, transports=["polling"], wait_timeout=5)
        assert open_connections(server.app) == 2
        for client in clients[:2]:
            await client.disconnect()


# --- item 2: out of file descriptors, a newcomer is refused, not left waiting ---------------------


PROMPTLY = 2.0
"""Seconds a newcomer may wait for its answer: held connections time out in ``Limits.idle`` (5 s)."""


def _open_files_1024() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


async def test_under_1024_open_files_a_hoarder_of_refused_connections_leaves_newcomers_a_503(free_port):
    """Issue 19: "under a 1,024 open-files limit a client holding its refused connections makes
    newcomers time out instead of getting 503"."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "helpers.serve", "--stage", "broadcast-bus", "--port", str(free_port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, preexec_fn=_open_files_1024,
    )  # fmt: skip
    held, opened = [], []
    try:
        assert (await asyncio.wait_for(process.stdout.readline(), 10)).startswith(b"Listening")
        while True:  # up to the cap the open files leave
            try:
                opened.append(await RawWebsocket.connect(free_port))
            except ConnectionRefusedError:
                break
        statuses: dict[bytes | str, int] = {}
        for _ in range(200):  # more than the files the server keeps free: each refused, and kept open
            try:
                status, sock = await refused_and_held(free_port, timeout=1)
            except TimeoutError:
                statuses["no answer"] = 1
                break
            held.append(sock)
            statuses[status] = statuses.get(status, 0) + 1
        print(f"\nthe hoarder's attempts: {statuses}")
        assert statuses == {b"503": 200}, "each refused at once, however many it holds"
        started = time.perf_counter()
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await asyncio.wait_for(session.ws_connect(f"ws://127.0.0.1:{free_port}/"), PROMPTLY)
        assert refused.value.status == 503
        print(f"{len(opened)} open, {len(held)} refused and held: a newcomer got 503 in "
              f"{(time.perf_counter() - started) * 1000:.0f} ms")
    finally:
        for sock in held:
            sock.close()
        for ws in opened:
            ws.close()
        process.terminate()
        await asyncio.wait_for(process.communicate(), 10)


# --- item 3: unmasked client frames ------------------------------------------------------------


@pytest.mark.parametrize(("stage", "path"), [("echo", "/"), ("socketio-chat", ENGINEIO)])
async def test_an_unmasked_client_frame_closes_the_connection_with_1002(serve, stage, path):
    """Issue 19: "unmasked client frames are accepted (RFC 6455 says close with 1002)"."""
    server = await serve(STAGES[stage]())
    peer = await RawWebsocket.connect(server.port, path)
    if stage.startswith("socketio"):
        assert (await peer.receive_text()).startswith("0{")  # engine.io's open packet
    peer.send_unmasked("40" if stage.startswith("socketio") else "hello")
    assert await peer.close_code() == PROTOCOL_ERROR
    peer.close()
    assert "Closed a client's connection (1002): it sent an unmasked frame." in server.log.lines
    masked = await RawWebsocket.connect(server.port, path)  # the same, masked: served as ever
    if stage.startswith("socketio"):
        assert (await masked.receive_text()).startswith("0{")
        masked.send("40")
        assert (await masked.receive_text()).startswith("40{")
    else:
        masked.send("hello")
        assert await masked.receive_text() == "hello"
    masked.close()


async def test_an_unmasked_frame_closes_with_1002_on_uvloop_too(free_port):
    """``--uvloop`` serves on uvloop's transports, which are no ``asyncio.Transport``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "helpers.serve", "--stage", "echo", "--uvloop", "--port", str(free_port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert (await asyncio.wait_for(process.stdout.readline(), 10)).startswith(b"Listening")
        peer = await RawWebsocket.connect(free_port)
        peer.send("masked")
        assert await peer.receive_text() == "masked"
        peer.send_unmasked("unmasked")
        assert await peer.close_code() == PROTOCOL_ERROR
        peer.close()
    finally:
        process.terminate()
        await asyncio.wait_for(process.communicate(), 10)


@pytest.mark.parametrize("size", [0, 5, 125, 126, 300, 70_000])
def test_frame_headers_are_followed_through_any_cut_of_the_stream(size):
    """``FrameHeaders`` finds the unmasked frame after masked ones of every length form (7, 16 and
    64 bits), whatever chunks the stream arrives in."""
    stream = masked_frame(b"x" * size) + masked_frame(b"hi") + unmasked_frame(b"bad") + masked_frame(b"after")
    bad_at = len(stream) - len(masked_frame(b"after")) - len(unmasked_frame(b"bad"))
    for chunk in [1, 2, 3, 7, 64, 1000, len(stream)]:
        frames, found = FrameHeaders(), None
        for start in range(0, len(stream), chunk):
            at = frames.unmasked_at(stream[start : start + chunk])
            if at is not None:
                found = start + at
                break
        # every byte before it is passed on, and of it at most its first byte (a header half-read)
        assert found is not None and bad_at <= found <= bad_at + 1, (chunk, found, bad_at)
        assert FrameHeaders().unmasked_at(stream[:bad_at]) is None
