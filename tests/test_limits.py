"""Bounded and timed out: what the raw stages and the HTTP side do with a rude or vanished client.

Each test is a reproduction of a failure measured in issue 10 (quoted in its docstring), run
against a real server on loopback with real or raw clients.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time

import aiohttp
import pytest
import websockets
from raw_peers import RawWebsocket, half_open

from helpers.clients.widgets import JsonChatClient
from helpers.common.waiting import Lines, now
from helpers.protocol import MAX_DEPTH, ProtocolError, nesting, parse_message
from helpers.server.app import add_plumbing, open_connections
from helpers.server.limits import LIMITS, RATE_LIMIT, Limits, RateLimit
from helpers.server.log import MAX_LINE_CHARS, MAX_LINES, ServerLog
from helpers.stages import STAGES, broadcast, broadcast_bus, echo, fast_broadcast, json_chat, receive

RAW = ["receive", "echo", "broadcast-bus", "json"]
KIB = 1024


# --- the log --------------------------------------------------------------------------------


def test_the_server_log_keeps_its_newest_lines_each_cut_to_a_readable_length():
    """Issue: "ServerLog keeps every line forever": 50 messages of 4 MB took RSS to 268 MB."""
    log = ServerLog()
    for n in range(MAX_LINES + 500):
        log(f"line {n}")
    assert len(log.lines) == MAX_LINES and log.lines.dropped == 500
    assert log.lines[0] == "line 500" and log.lines[-1] == f"line {MAX_LINES + 499}"
    log("x" * 4_000_000)
    assert log.lines[-1] == "x" * MAX_LINE_CHARS + "… (4,000,000 characters)"


async def test_a_wait_still_counts_from_its_mark_after_the_oldest_lines_went():
    lines = Lines("the log", limit=3)
    mark = now()
    for text in ["a", "b", "c", "d", "e"]:
        lines.append(text)
    assert lines == ["c", "d", "e"] and lines.since(mark) == ["c", "d", "e"]
    await lines.wait_for("e", since=mark, timeout=0.1)


def test_errors_kept_are_bounded_and_counted():
    log = ServerLog()
    for n in range(250):
        log.error("here", ValueError(n))
    assert len(log.errors) == 100 and log.error_count == 250
    assert str(log.errors[-1].exception) == "249"


def test_a_repeated_condition_is_logged_once_per_interval_with_a_count():
    log = ServerLog()
    for _ in range(1000):
        log.once("full", "Refused a connection: the server is full.", every=60)
    assert log.lines == ["Refused a connection: the server is full."]


# --- sizes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", RAW)
async def test_a_message_over_64_KiB_closes_that_client_with_1009_and_the_others_chat_on(serve, stage):
    """Issue: "Raw stages accept messages up to aiohttp's 4 MiB default"; 4 MB messages to
    ``receive`` grew the server by 215 MB. Now a message of 64 KiB or more closes with 1009
    (aiohttp's ``max_msg_size=64 * 1024``, which each stage's handler passes)."""
    server = await serve(STAGES[stage]())
    async with websockets.connect(server.ws_url) as other:
        async with websockets.connect(server.ws_url, max_size=None) as big:
            await big.send("x" * (64 * KIB - 1))  # just under the limit: taken
            await big.send("x" * (64 * KIB))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(big.recv(), 5)
            assert closed.value.rcvd.code == 1009
        async with websockets.connect(server.ws_url) as huge:
            # the 4 MB: the server stops reading at 64 KiB, so the client's send may
            # break before it reads the close frame (TCP reset); either way it is out
            with pytest.raises(websockets.ConnectionClosed):
                await huge.send("x" * (4 * KIB * KIB))
                await asyncio.wait_for(huge.recv(), 5)
        await other.send(json.dumps({"type": "nick", "nick": "ok"}) if stage == "json" else "still here")
        if stage in ("echo", "broadcast-bus", "json"):
            assert await asyncio.wait_for(other.recv(), 3)
    assert "Closed a client's connection (1009): its message was over the size limit." in server.log.lines
    assert all(len(line) <= MAX_LINE_CHARS + 30 for line in server.log.lines)


async def test_100k_small_messages_leave_the_log_bounded(serve):
    """Issue: "100 k small messages +22 MB"; the log kept each line."""
    server = await serve(STAGES["receive"]())
    async with websockets.connect(server.ws_url) as ws:
        for n in range(100_000):
            await ws.send(f"m{n}")
        await server.log.wait_for("ws got: m99999", timeout=60)
    assert len(server.log.lines) == MAX_LINES
    assert server.log.lines.dropped > 98_000


# --- the JSON chat: floods and depth --------------------------------------------------------


async def test_a_flood_on_the_json_chat_is_refused_message_by_message_and_logged_once(serve):
    server = await serve(STAGES["json"]())
    alice = JsonChatClient("alice")
    await alice.connect(server.ws_url)
    await alice.nick("alice")
    await alice.wait_for("* alice joined")
    async with websockets.connect(server.ws_url) as mallory:
        for n in range(200):  # as fast as it can
            await mallory.send(json.dumps({"type": "nick", "nick": f"m{n}"}))
        answers = [json.loads(await asyncio.wait_for(mallory.recv(), 5)) for _ in range(200)]
    errors = [a for a in answers if a["type"] == "error"]
    assert len(errors) >= 150, "every message over the burst is refused"
    assert all("too many messages" in e["error"] for e in errors)
    assert len([a for a in answers if a["type"] in ("join", "rename")]) == 200 - len(errors)
    assert sum("too many messages" in line for line in server.log.lines) == 1
    await alice.say("still chatting")
    await alice.wait_for("alice: still chatting")
    await alice.disconnect()


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 1000 + "]" * 1000,
        '{"type": "chat", "text": "hi", "deep": ' + "[" * 1500 + "]" * 1500 + "}",
        '{"type": "chat", "text": "hi", "deep": ' + '{"":' * 800 + "1" + "}" * 800 + "}",
    ],
    ids=["array", "array-in-a-field", "objects"],
)
async def test_json_nested_1000_levels_gets_an_error_not_a_dropped_connection(serve, raw):
    """Issue: "JSON nested >= 1,000 levels drops the connection with a RecursionError"."""
    server = await serve(STAGES["json"]())
    async with websockets.connect(server.ws_url) as ws:
        await ws.send(raw)
        answer = json.loads(await asyncio.wait_for(ws.recv(), 3))
        assert answer == {"type": "error", "error": f"message nests deeper than {MAX_DEPTH} levels"}
        await ws.send(json.dumps({"type": "users"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 3))["type"] == "users"
    assert server.log.errors == []


def test_nesting_counts_brackets_outside_strings_only():
    assert nesting('{"type": "chat", "text": "' + "[" * 50 + '"}') == 1
    assert nesting('{"text": "\\"[[[[[[[[[[[[[[[[[[[[[[[[[[\\\\"}') == 1
    assert nesting("[" * 21 + "]" * 21) == 21
    assert parse_message('{"type": "chat", "text": "' + "[{" * 40 + '"}')["text"] == "[{" * 40
    with pytest.raises(ProtocolError, match="deeper"):
        parse_message("[" * 21 + "]" * 21)


def test_a_rate_limit_allows_a_burst_then_its_rate_and_forgets_who_left():
    now = [0.0]
    rate = RateLimit(Limits(rate=10, burst=5), clock=lambda: now[0])
    assert [rate.allow("a") for _ in range(7)] == [True] * 5 + [False] * 2
    assert rate.allow("b"), "each client has its own bucket"
    now[0] += 0.25  # 2.5 tokens back
    assert [rate.allow("a") for _ in range(3)] == [True, True, False]
    rate.forget("a")
    assert len(rate) == 1 and rate.allow("a"), "a client that left and came back starts anew"
    for n in range(RateLimit.PRUNE_AT + 10):  # many clients come and go
        rate.allow(n)
    now[0] += 0.5  # their buckets fill up again: the same as new ones
    rate.allow("c")
    assert len(rate) < 10


async def test_a_closed_websocket_leaves_no_rate_limit_bucket_behind(serve):
    server = await serve(STAGES["json"]())
    for _ in range(20):
        async with websockets.connect(server.ws_url) as ws:
            await ws.send(json.dumps({"type": "users"}))
            await asyncio.wait_for(ws.recv(), 3)
    await server.log.wait_for("Client disconnected (0 open).", since=0, count=20)
    assert len(server.app[RATE_LIMIT]) == 0


# --- connections and time ------------------------------------------------------------------


async def test_half_open_http_connections_are_closed_within_10_s(serve):
    """Issue: "1,000 half-open HTTP connections (slowloris) stayed open 100 s"."""
    server = await serve(STAGES["json"]())
    started = time.monotonic()
    peers = [await half_open(server.port) for _ in range(100)]
    peers += [await half_open(server.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: ") for _ in range(100)]

    async def drip(writer: asyncio.StreamWriter) -> None:  # a byte a second: never a whole request
        while not writer.is_closing():
            await asyncio.sleep(1)
            writer.write(b"a")

    drips = [asyncio.create_task(drip(w)) for _, w in peers[100:]]
    async with aiohttp.ClientSession() as session, session.get(server.url + "chat.html") as page:
        assert page.status == 200, "a real client still gets in meanwhile"
    ends = await asyncio.gather(*(asyncio.wait_for(r.read(), 12) for r, _ in peers))
    took = time.monotonic() - started
    for task in drips:
        task.cancel()
    assert all(end in (b"",) or end.startswith(b"HTTP/1.1 4") for end in ends)
    assert took < 10, f"the last half-open connection was closed after {took:.1f} s"
    assert server.app[LIMITS].idle <= 5


async def test_a_dead_peer_is_dropped_by_the_heartbeat_and_the_chat_hears_it_left(serve, monkeypatch):
    """Issue: "3,000 idle websockets stayed open with no heartbeat"."""
    for stage in (receive, echo, broadcast, json_chat, fast_broadcast, broadcast_bus):
        assert stage.HEARTBEAT * 1.5 <= 30, f"{stage.__name__}: a silent peer is dropped within 30 s"
    monkeypatch.setattr(json_chat, "HEARTBEAT", 1.0)  # the same code, a shorter beat: two seconds
    server = await serve(STAGES["json"]())
    alice = JsonChatClient("alice")
    await alice.connect(server.ws_url)
    await alice.nick("alice")
    ghost = await RawWebsocket.connect(server.port)
    ghost.send(json.dumps({"type": "nick", "nick": "ghost"}))
    await alice.wait_for("* ghost joined")
    # from now on the ghost answers nothing: its laptop lid is closed
    await alice.wait_for("* ghost left", timeout=10)
    assert "Dropped a client that stopped answering pings." in server.log.lines
    assert server.clients == 1
    ghost.close()
    await alice.disconnect()


@pytest.mark.parametrize("stage", ["json", "socketio-chat"])
async def test_a_full_server_refuses_a_new_connection_clearly_and_takes_one_again_later(serve, stage):
    app = add_plumbing(STAGES[stage]())
    app[LIMITS].connections = 3
    server = await serve(app)
    path = "socket.io/?EIO=4&transport=websocket" if stage.startswith("socketio") else ""
    async with aiohttp.ClientSession() as session:
        first = [await session.ws_connect(server.ws_url + path) for _ in range(3)]
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(server.ws_url + path)
        assert refused.value.status == 503
        upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                   "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}  # fmt: skip
        async with session.get(server.url + path, headers=upgrade) as answer:
            assert answer.status == 503
            assert await answer.text() == "The server is full (3 connections); try again in a minute.\n"
        if stage.startswith("socketio"):  # a new long-polling session is a connection too
            async with session.get(server.url + path.replace("websocket", "polling")) as polling:
                assert polling.status == 503
        await first[0].close()
        for _ in range(100):  # until the server saw it go
            if open_connections(server.app) < 3:
                break
            await asyncio.sleep(0.05)
        again = await session.ws_connect(server.ws_url + path)
        for ws in [again, *first[1:]]:
            await ws.close()
    assert sum("server is full" in line for line in server.log.lines) == 1


def _low_open_files_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


async def test_out_of_file_descriptors_the_server_answers_503_writes_one_line_and_recovers(free_port):
    """Issue: under ``ulimit -n 1024``, 1,017 connections locked out every new client and wrote
    15,103 ``socket.accept() out of system resource`` tracebacks (6.2 MB) to stderr in 15 s."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "helpers.serve", "--stage", "broadcast-bus", "--port", str(free_port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, preexec_fn=_low_open_files_limit,
    )  # fmt: skip
    try:
        assert (await asyncio.wait_for(process.stdout.readline(), 10)).startswith(b"Listening")
        idle = [await half_open(free_port) for _ in range(300)]  # more than the 256 it may open
        await asyncio.sleep(1)
        ends = await asyncio.gather(*(asyncio.wait_for(r.read(), 15) for r, _ in idle))
        assert all(end == b"" for end in ends), "each idle connection was closed, in time"
        for _, writer in idle:
            writer.close()
        await asyncio.sleep(1)
        statuses: dict[int, int] = {}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            sockets = []
            for _ in range(200):
                try:
                    sockets.append(await session.ws_connect(f"ws://127.0.0.1:{free_port}/"))
                    statuses[101] = statuses.get(101, 0) + 1
                except aiohttp.WSServerHandshakeError as error:
                    statuses[error.status] = statuses.get(error.status, 0) + 1
            for ws in sockets:
                await ws.close()
        assert statuses == {101: 256 - 64, 503: 200 - (256 - 64)}
    finally:
        process.terminate()
        out, err = await asyncio.wait_for(process.communicate(), 10)
    assert err == b""
    lines = out.decode().splitlines()
    assert sum("Could not accept a client" in line for line in lines) == 1
    assert "Refused a connection: the server is full (192 connections)." in lines


def test_the_soft_open_files_limit_is_raised_to_the_hard_one():
    code = (
        "import resource; from helpers.server.limits import raise_open_files_limit; "
        "print(raise_open_files_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[1])"
    )

    def lower_soft() -> None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=lower_soft)
    soft, hard = out.stdout.split()
    assert soft == hard and int(soft) > 256


# --- small ones -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["a" * 256, "a" * 300 + ".html", "css/" + "b" * 1000])
async def test_a_path_segment_too_long_for_a_file_is_404_not_500(serve, path):
    """Issue: "a 256-character path segment answers 500 with a traceback"."""
    server = await serve(STAGES["json"]())
    async with aiohttp.ClientSession() as session, session.get(server.url + path) as response:
        assert response.status == 404
    assert server.log.errors == []


async def test_oversized_urls_and_headers_are_one_log_line_not_tracebacks(serve):
    """Issue: "oversized URLs and headers are logged as tracebacks"."""
    server = await serve(STAGES["json"]())
    for n in range(20):
        request = b"GET /" + b"x" * 20_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        if n % 2:
            request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"y" * 20_000 + b"\r\n\r\n"
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(request)
        assert (await asyncio.wait_for(reader.read(40), 3)).startswith(b"HTTP/1.0 400")
        writer.close()
    assert server.log.errors == []
    assert server.log.lines[1:] == [
        "Refused a request aiohttp could not read (400): Got more than 8190 bytes when reading."
    ]
