"""Notebook 12's Redis lets in this user's processes only, and its servers read the bus as input.

Issue 19: Redis listened on a TCP port of loopback without a password. Any local user (tested
as ``nobody``) could PUBLISH into python-socketio's channel: a chat message "from the teacher",
a binary attachment the server refuses from clients, a ``close_room chat`` after which the
other clients heard nothing; every non-JSON publish logged a traceback; ``SHUTDOWN NOSAVE``.

Now Redis listens on a Unix socket in a 0700 folder, with a password made for the run
(``helpers.programs.redis_server``), and what comes from the bus is checked like client input: a
message of a shape no server of the workbook publishes is dropped and logged once
(``helpers.server.sio.redis_manager`` for python-socketio's channel; notebook 12's cells for the raw bus and
the chat's bell). Those checks are tested with the password, as if it had leaked.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import pytest_asyncio
import socketio
import websockets
from redis import asyncio as aioredis
from redis.exceptions import AuthenticationError, ConnectionError, ResponseError
from scale_support import needs

from helpers.kernel.lifecycle import RunningServer, start_server, stop_server
from helpers.programs.redis_server import Redis, start_redis
from helpers.stages import chat_cluster
from helpers.stages.broadcast_bus import make_broadcast_app

WAIT = 5.0


@pytest_asyncio.fixture
async def redis() -> AsyncIterator[Redis]:
    needs("redis-server")
    server = await start_redis()
    yield server
    await server.stop()


def without_password(url: str) -> str:
    return re.sub(r"[?&]password=[^&]*", "", url)


async def publish(redis: Redis, channel: str, *messages: str | bytes) -> None:
    """Publish with the password: what someone who had it (or a bug of ours) could send."""
    client = aioredis.Redis.from_url(redis.url)
    try:
        for message in messages:
            await client.publish(channel, message)
    finally:
        await client.aclose()


async def test_redis_refuses_a_client_without_the_password(redis):
    client = aioredis.Redis.from_url(without_password(redis.url), protocol=2)
    try:
        with pytest.raises((AuthenticationError, ResponseError), match="(?i)auth"):
            await client.publish("socketio", json.dumps({"method": "close_room", "room": "chat"}))
    finally:
        await client.aclose()
    wrong = aioredis.Redis.from_url(re.sub(r"password=[^&]*", "password=guess", redis.url), protocol=2)
    try:
        with pytest.raises((AuthenticationError, ResponseError, ConnectionError)):
            await wrong.publish("socketio", "forged")
    finally:
        await wrong.aclose()
    assert await redis.subscribers("socketio") == {"socketio": 0}, "the right password still gets in"


async def test_redis_listens_on_a_private_socket_and_keeps_its_password_off_every_screen(redis):
    client = aioredis.Redis.from_url(redis.url)
    try:
        assert (await client.config_get("port"))["port"] == "0", "no TCP port at all"
        socket_path = (await client.config_get("unixsocket"))["unixsocket"]
    finally:
        await client.aclose()
    folder = Path(socket_path).parent
    assert folder.stat().st_mode & 0o777 == 0o700
    assert folder.stat().st_uid == os.getuid()
    assert Path(socket_path).stat().st_mode & 0o777 == 0o700
    password = re.search(r"password=([^&]+)", redis.url).group(1)
    assert len(password) >= 24
    command_line = Path(f"/proc/{redis.program.pid}/cmdline").read_bytes().decode()
    assert password not in command_line, "argv is readable by every user (ps)"
    assert password not in repr(redis) and password not in str(redis)
    assert str(folder) not in repr(redis), "a notebook prints it: the same at every run"


@pytest.mark.skipif(os.getuid() != 0, reason="needs root, to try as the user nobody")
@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="needs redis-cli (Debian's redis-tools)")
async def test_another_user_of_the_machine_cannot_reach_redis(redis):
    """The issue's attacker: user ``nobody`` on the same machine, PUBLISHing into the chat."""
    url = urlparse(without_password(redis.url))
    where = ["-s", url.path] if url.scheme == "unix" else ["-h", url.hostname, "-p", str(url.port)]

    def as_nobody() -> None:
        os.setgid(65534)
        os.setuid(65534)

    done = await asyncio.to_thread(
        subprocess.run, [shutil.which("redis-cli"), *where, "PUBLISH", "socketio", "forged"],
        capture_output=True, text=True, timeout=20, preexec_fn=as_nobody, cwd="/",
    )
    answer = (done.stdout + done.stderr).strip()
    assert not answer.isdigit(), f"nobody published: {answer}"
    assert "Permission denied" in answer, answer


@pytest_asyncio.fixture
async def chat(redis, tmp_path) -> AsyncIterator[RunningServer]:
    app = chat_cluster.make_app(db=str(tmp_path / "chat.db"), message_queue=redis.url)
    server = await start_server(app, port=0, quiet=True, hand_over=False, name="bus-safety")
    yield server
    await stop_server(quiet=True, name="bus-safety")


class Member:
    def __init__(self, name: str) -> None:
        self.name, self.lines, self.events = name, [], []
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("chat message", lambda line, *rest: self.lines.append(line))
        self.sio.on("*", lambda event, *args: self.events.append((event, *args)))

    async def join(self, server: RunningServer) -> Member:
        await self.sio.connect(server.url, auth={"nick": self.name}, transports=["websocket"],
                               wait_timeout=WAIT)
        await chat_cluster.until_online(server.app, self.name)
        return self


async def until(condition, what: str) -> None:
    try:
        async with asyncio.timeout(WAIT):
            while not condition():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not within {WAIT} s: {what}") from None


def dropped(server: RunningServer, since: int) -> list[str]:
    return [line for line in server.log.lines[since:] if "Dropped a message from Redis" in line]


FORGED_SOCKETIO = [
    b"not json at all",
    b"\xff\xfe",
    b"5",
    b"[" * 5000,
    json.dumps({"method": "close_room", "room": "chat", "namespace": "/", "host_id": "x"}),
    json.dumps({"method": "enter_room", "sid": "x", "room": "chat", "namespace": "/", "host_id": "x"}),
    json.dumps({"method": "leave_room", "sid": "x", "room": "chat", "namespace": "/", "host_id": "x"}),
    json.dumps({"method": "callback", "sid": "x", "id": 1, "args": [], "namespace": "/", "host_id": "x"}),
    json.dumps({"method": "emit", "event": "chat message", "data": [{"_placeholder": True, "num": 0}, "AAAA"],
                "binary": True, "namespace": "/", "room": "chat", "skip_sid": None, "callback": None,
                "host_id": "x"}),
    json.dumps({"method": "emit", "event": "chat message", "data": ["teacher: ack me", 1], "binary": False,
                "namespace": "/", "room": "chat", "skip_sid": None, "callback": ["chat", "/", 1],
                "host_id": "x"}),
    json.dumps({"method": "emit", "event": 5, "data": "x", "namespace": "/", "host_id": "x"}),
    json.dumps({"method": "disconnect", "sid": ["not", "a", "sid"], "namespace": "/", "host_id": "x"}),
]


async def test_forged_socketio_bus_messages_are_dropped_and_logged_once(redis, chat):
    alice, bob = await Member("alice").join(chat), await Member("bob").join(chat)
    before = len(chat.log.lines)
    await publish(redis, "socketio", *FORGED_SOCKETIO)
    await until(lambda: dropped(chat, before), "the drop logged")
    await asyncio.sleep(0.5)  # every forged message has been read by now
    assert (await bob.sio.call("chat message", ("still one chat?", "bob-1"), timeout=WAIT))["id"] == 1
    await until(lambda: "bob: still one chat?" in alice.lines, "alice still hears the chat (no close_room)")
    assert alice.lines == bob.lines == ["bob: still one chat?"], "nothing forged reached a client"
    new = chat.log.lines[before:]
    assert len(dropped(chat, before)) == 1, dropped(chat, before)  # once: later, how many more were left out
    assert not chat.log.errors, [error.summary for error in chat.log.errors]
    assert not [line for line in new if "Traceback" in line or "Error" in line], new
    assert await redis.subscribers("socketio") == {"socketio": 1}, "the listener goes on, on one connection"
    await alice.sio.disconnect()
    await bob.sio.disconnect()


async def test_the_chat_bell_takes_only_the_bells_its_servers_ring(redis, chat):
    alice = await Member("alice").join(chat)
    before = len(chat.log.lines)
    await publish(redis, "chat", *[f"junk {n}" for n in range(200)])
    await until(lambda: dropped(chat, before), "the drop logged")
    assert (await alice.sio.call("chat message", ("hello", "alice-1"), timeout=WAIT))["id"] == 1
    await until(lambda: "alice: hello" in alice.lines, "the real bell still rings")
    assert len(dropped(chat, before)) == 1 and not chat.log.errors, (dropped(chat, before), chat.log.errors)
    await alice.sio.disconnect()


async def test_the_raw_broadcast_drops_what_its_servers_never_publish(redis):
    server = await start_server(make_broadcast_app(message_queue=redis.url), port=0, quiet=True,
                                hand_over=False, name="raw-safety")
    try:
        async with websockets.connect(f"ws://127.0.0.1:{server.port}/") as client:
            before = len(server.log.lines)
            await publish(redis, "broadcast", b"not json", b"\xff", b"[]", b"5",
                          json.dumps({"host": "x", "from": "0", "text": "forged"}),
                          json.dumps({"host": "x", "text": "no sender"}))
            await until(lambda: dropped(server, before), "the drop logged")
            await client.send("real")
            assert await asyncio.wait_for(client.recv(), WAIT) == "real", "only the real one arrives"
            assert len(dropped(server, before)) == 1 and not server.log.errors, server.log.lines[before:]
    finally:
        await stop_server(quiet=True, name="raw-safety")
