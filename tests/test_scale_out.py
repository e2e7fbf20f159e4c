"""Scaling out (notebook 12): one chat across several server processes, Redis between them,
nginx in front. Everything is real: Debian's redis-server and nginx on loopback, and
``python -m helpers.serve`` processes started by the notebook's own helpers.

Without redis-server or nginx these tests are skipped with the reason; with ``CI=true``
(``.ci/run``, which installs both) they fail instead.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import socketio
import websockets
from redis import asyncio as aioredis
from scale_support import free_port, needs

from helpers.programs.nginx import start_nginx
from helpers.programs.process import Program, start_serve, stop_all_programs
from helpers.programs.redis_server import Redis, start_redis
from helpers.stages import chat_cluster

WAIT = 10.0
"""Seconds for what must arrive; it arrives in milliseconds on loopback."""


@pytest_asyncio.fixture
async def redis() -> AsyncIterator[Redis]:
    needs("redis-server")
    server = await start_redis()
    yield server
    await stop_all_programs()
    await server.stop()


async def serve(name: str, stage: str, redis: Redis, **options: str | bool) -> Program:
    """``python -m helpers.serve`` as notebook 12 starts it (``start_serve``), on a free port."""
    return await start_serve(name, free_port(), stage, message_queue=redis.url, **options)


async def chat_nodes(redis: Redis, tmp_path: Path, count: int) -> dict[str, Program]:
    """``count`` socketio-chat processes on one Redis and one store: node-a, node-b, ..."""
    db = str(tmp_path / "chat.db")
    names = [f"node-{letter}" for letter in "abcdef"[:count]]
    return {name: await serve(name, "chat-cluster", redis, db=db) for name in names}


def url(program: Program) -> str:
    return f"http://127.0.0.1:{program.port}"


class Member:
    """A chat client as notebook 09 builds one: offsets, client offsets, retries; records every id."""

    def __init__(self, name: str, session: aiohttp.ClientSession | None = None, client_id: str = "") -> None:
        self.name, self.offset, self.ids, self.heard = name, 0, [], []
        self.client_id = client_id or name
        self.sio = socketio.AsyncClient(
            reconnection_delay=0.1, reconnection_delay_max=0.5, http_session=session
        )
        self.dropped_at: float | None = None
        self.reconnect_times: list[float] = []
        self.sio.on("chat message", self._message)
        for event in ("private message", "room message", "typing", "user connected", "nick changed"):
            self.sio.on(event, lambda *args, event=event: self.heard.append((event, *args)))
        self.sio.on("disconnect", self._dropped)
        self.sio.on("connect", self._back)

    def auth(self) -> dict[str, Any]:
        key = f"resume-key-of-{self.client_id}"  # a secret: 16 characters at least
        return {"nick": self.name, "serverOffset": self.offset, "resumeKey": key}

    async def connect(self, to: str, transports: list[str] | None = None, wait: float = WAIT) -> Member:
        await self.sio.connect(to, auth=self.auth, transports=transports or ["websocket"], wait_timeout=wait)
        return self

    async def _message(self, line: str, offset: int, client_offset: Any = None) -> None:
        self.ids.append(offset)
        self.offset = offset

    def _dropped(self, *reason: Any) -> None:
        self.dropped_at = time.monotonic()

    def _back(self) -> None:
        if self.dropped_at is not None:
            self.reconnect_times.append(time.monotonic() - self.dropped_at)
            self.dropped_at = None

    async def say(self, text: str, client_offset: str) -> int:
        """Send until acknowledged (a server may die meanwhile): the message's id."""
        for _ in range(100):
            try:
                answer = await self.sio.call("chat message", (text, client_offset), timeout=1)
            except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
                await asyncio.sleep(0.1)
                continue
            if "id" in answer:
                return answer["id"]
            await asyncio.sleep(0.2)  # "too many messages": the rate limit
        raise AssertionError(f"{self.name}: {text!r} was never acknowledged")

    async def call(self, event: str, *args: Any) -> Any:
        return await self.sio.call(event, args, timeout=WAIT)


async def until(condition, what: str, timeout: float = WAIT) -> float:
    """Wait for ``condition()``; the seconds it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def online(member: Member, *nicks: str) -> None:
    """Wait until ``who`` lists ``nicks``: a client is connected before its server has told the others."""
    start = time.monotonic()
    while (users := (await member.call("who"))["users"]) != sorted(nicks):
        assert time.monotonic() - start < WAIT, f"who says {users}, not {sorted(nicks)}"
        await asyncio.sleep(0.05)


async def leave(*members: Member) -> None:
    for member in members:
        await member.sio.disconnect()


async def test_every_process_listens_before_it_serves(redis, tmp_path):
    """A server that listened before it subscribed would miss what others publish meanwhile:
    in the notebook, Bob's "* bob connected" never reached Alice once in 9 runs in JupyterLab.
    python-socketio subscribes only at a process's first client; these servers subscribe at start."""
    await chat_nodes(redis, tmp_path, 2)
    await serve("broadcast-1", "broadcast-bus", redis)
    listening = await redis.subscribers("socketio", "chat", "broadcast")
    assert listening == {"socketio": 2, "chat": 2, "broadcast": 1}


async def test_a_new_store_shared_at_once_by_two_processes_gives_no_error(redis, tmp_path):
    """The shared tables exist before the bus rings (once: "no such table: hosts")."""
    nodes = await chat_nodes(redis, tmp_path, 2)
    alice = await Member("alice").connect(url(nodes["node-a"]))
    await alice.say("first", "alice-0")
    await asyncio.sleep(1.5)  # a few quiet ticks
    for node in nodes.values():
        assert not [line for line in node.output if "rror" in line or "Traceback" in line], node.output
    await leave(alice)


async def test_in_a_busy_chat_everyone_stays_online_everywhere(redis, tmp_path):
    """A process says it is alive every second, even when the bell rings more often than that
    (it once fell silent in a busy chat, and the others forgot its clients after 3 s)."""
    a, b = (await chat_nodes(redis, tmp_path, 2)).values()
    alice, bob = await Member("alice").connect(url(a)), await Member("bob").connect(url(b))
    for n in range(25):  # 5 a second for 5 s
        await alice.say(f"busy {n}", f"alice-{n}")
        await asyncio.sleep(0.2)
    assert (await alice.call("who"))["users"] == ["alice", "bob"]
    assert await alice.call("private message", "bob", "still there?") == {"to": "bob"}
    await leave(alice, bob)


async def test_two_clients_asking_one_nickname_at_once_on_two_processes_get_two(redis, tmp_path):
    a, b = (await chat_nodes(redis, tmp_path, 2)).values()
    first, second = Member("alice", client_id="first"), Member("alice", client_id="second")
    await asyncio.gather(first.connect(url(a)), second.connect(url(b)))
    await online(first, "alice", "alice2")
    renamed = [h for m in (first, second) for h in m.heard if h[0] == "nick changed"]
    assert set(renamed) <= {("nick changed", "alice", "alice2")}, renamed  # told, if it changed
    await leave(first, second)


async def test_a_program_refuses_a_port_another_program_holds(free_port):
    from helpers.programs.process import ProgramFailed, start_program

    with socket.socket() as other:
        other.bind(("127.0.0.1", free_port))
        other.listen()
        with pytest.raises(ProgramFailed, match=f"port {free_port} is in use by another program"):
            sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
            await start_program("sleeper", sleeper, port=free_port)


async def test_a_chat_message_reaches_the_clients_of_every_process_in_one_order(redis, tmp_path):
    nodes = await chat_nodes(redis, tmp_path, 3)
    members = [await Member(f"m{i}").connect(url(node)) for i, node in enumerate(nodes.values())]
    ids = [await member.say(f"hello from {member.name}", f"{member.name}-0") for member in members]
    assert ids == [1, 2, 3]
    await until(lambda: all(len(m.ids) == 3 for m in members), "every client has the 3 messages")
    assert [m.ids for m in members] == [[1, 2, 3]] * 3
    await online(members[0], "m0", "m1", "m2")  # who is online, everywhere
    await leave(*members)


async def test_rooms_private_messages_and_nicknames_work_across_processes(redis, tmp_path):
    a, b, c = (await chat_nodes(redis, tmp_path, 3)).values()
    alice, bob, carol = Member("alice"), Member("bob"), Member("carol")
    for member, node in ((alice, a), (bob, b), (carol, c)):
        await member.connect(url(node))
    await online(alice, "alice", "bob", "carol")
    assert await alice.call("private message", "carol", "psst") == {"to": "carol"}
    await until(lambda: ("private message", "alice", "psst") in carol.heard, "carol got the private message")
    assert not [h for h in bob.heard if h[0] == "private message"]
    await alice.call("join", "kitchen")
    await carol.call("join", "kitchen")
    assert await alice.call("room message", "kitchen", "tea?") == {"room": "kitchen"}
    await until(lambda: ("room message", "kitchen", "alice", "tea?") in carol.heard, "carol got it")
    assert not [h for h in bob.heard if h[0] == "room message"]
    second = await Member("alice", client_id="another alice").connect(url(b))  # on another process
    await until(lambda: ("user connected", "alice2") in carol.heard, "the second alice is alice2")
    assert await bob.call("nick", "carol") == {"error": "nickname 'carol' is taken"}
    await leave(alice, bob, carol, second)


async def test_a_client_whose_server_died_gets_its_nickname_back_on_another(redis, tmp_path):
    a, b = (await chat_nodes(redis, tmp_path, 2)).values()
    alice, bob = await Member("alice").connect(url(a)), await Member("bob").connect(url(b))
    await a.kill()
    alice.sio.reconnection = False
    await alice.sio.disconnect()
    again = Member("alice")  # the same client id: its ghost on the dead server gives the name back
    await again.connect(url(b))
    await online(bob, "alice", "bob")  # not alice2: the dead server's alice was this client
    await leave(bob, again)


async def test_no_one_else_can_take_a_clients_nickname_over(redis, tmp_path):
    """Every chat message shows its sender's client id (client offset ``{id}-{n}``): what takes a
    nickname over is the resume key, which a client sends to its server only."""
    a, b = (await chat_nodes(redis, tmp_path, 2)).values()
    alice = await Member("alice", client_id="0123456789abcdef0123").connect(url(a))
    public = "0123456789abcdef0123"  # what mallory can read in alice's client offsets
    mallory = socketio.AsyncClient(reconnection=False)
    auth = {"nick": "alice", "clientId": public, "resumeKey": public}
    await mallory.connect(url(b), auth=auth, transports=["websocket"], wait_timeout=WAIT)
    await online(alice, "alice", "alice2")
    assert alice.sio.connected
    await mallory.disconnect()
    await leave(alice)


async def test_a_shared_message_queue_needs_a_shared_store():
    with pytest.raises(ValueError, match="give db a file"):
        chat_cluster.make_app(message_queue="redis://127.0.0.1:1/0")


async def test_the_raw_broadcast_fans_out_through_redis_pub_sub(redis):
    first = await serve("broadcast-1", "broadcast-bus", redis)
    second = await serve("broadcast-2", "broadcast-bus", redis, except_self=True)
    async with (
        websockets.connect(f"ws://127.0.0.1:{first.port}/") as one,
        websockets.connect(f"ws://127.0.0.1:{second.port}/") as two,
        websockets.connect(f"ws://127.0.0.1:{second.port}/") as three,
    ):
        await one.send("from the first process")
        assert await asyncio.wait_for(two.recv(), WAIT) == "from the first process"
        assert await asyncio.wait_for(three.recv(), WAIT) == "from the first process"
        assert await asyncio.wait_for(one.recv(), WAIT) == "from the first process"  # no --except-self
        await two.send("from the second")  # --except-self on that process: not back to two
        assert await asyncio.wait_for(one.recv(), WAIT) == "from the second"
        assert await asyncio.wait_for(three.recv(), WAIT) == "from the second"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(two.recv(), 0.5)
        await redis.program.stop()  # Redis gone: the sender is told, nothing is lost silently
        await one.send("lost?")
        told = await asyncio.wait_for(one.recv(), WAIT)
        assert told == "Not sent (the message bus is down, try again): lost?"


async def test_a_raw_message_that_reached_fewer_servers_than_listen_is_reported(redis):
    """A process that says it listens (its heartbeat) but is not subscribed (as for a moment
    after Redis restarts) misses a message: the sender is told how many servers got it."""
    first = await serve("broadcast-1", "broadcast-bus", redis)
    client = aioredis.Redis.from_url(redis.url)
    try:
        await client.set("broadcast:a-process-not-subscribed-yet", "listening", ex=30)
    finally:
        await client.aclose()
    await asyncio.sleep(1.5)  # the next heartbeat counts it
    async with websockets.connect(f"ws://127.0.0.1:{first.port}/") as one:
        await one.send("hello?")
        answers = {await asyncio.wait_for(one.recv(), WAIT) for _ in range(2)}
    assert answers == {"hello?", "Only 1 of 2 servers got it (try again): hello?"}


async def test_a_flood_of_raw_messages_is_refused_message_by_message_not_relayed(redis):
    """Every message relayed costs every process: past the rate limit, the sender is told."""
    first = await serve("broadcast-1", "broadcast-bus", redis)
    async with websockets.connect(f"ws://127.0.0.1:{first.port}/") as flooder:
        for n in range(100):
            await flooder.send(f"flood {n}")
        answers = [await asyncio.wait_for(flooder.recv(), WAIT) for _ in range(100)]
    relayed = [a for a in answers if a.startswith("flood")]
    refused = [a for a in answers if a.startswith("Not sent (too many messages")]
    assert len(relayed) + len(refused) == 100, answers  # each one arrived, or its sender was told
    assert 40 <= len(relayed) < 60 and refused


async def test_long_polling_through_nginx_needs_its_sticky_sessions(redis, tmp_path):
    needs("nginx")
    nodes = await chat_nodes(redis, tmp_path, 3)
    nginx = await start_nginx({name: node.port for name, node in nodes.items()}, port=free_port())
    served_by = []
    for i in range(6):  # each session's requests all reach the server that holds it
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            member = await Member(f"p{i}", session).connect(nginx.url, transports=["polling"])
            assert await member.say(f"polling {i}", f"p{i}-0") == i + 1
            served_by += [cookie.value for cookie in session.cookie_jar if cookie.key == "chat_node"]
            await leave(member)
    assert sorted(served_by) == ["node-a", "node-a", "node-b", "node-b", "node-c", "node-c"]
    refused = 0
    for i in range(2):  # a client that drops nginx's cookie loses its session on the next server
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
            member = Member(f"q{i}", session)
            member.sio.reconnection = False
            try:
                await member.connect(nginx.url, transports=["polling"], wait=2)
            except socketio.exceptions.ConnectionError:
                refused += 1
            await leave(member)
    assert refused == 2
    await nginx.stop()


async def test_failover_through_nginx_loses_nothing_and_duplicates_nothing(redis, tmp_path):
    """1,000 messages from 10 clients spread over 3 processes; one process is killed midway."""
    needs("nginx")
    nodes = await chat_nodes(redis, tmp_path, 3)
    nginx = await start_nginx({name: node.port for name, node in nodes.items()}, port=free_port())
    members = [await Member(f"m{i}").connect(nginx.url) for i in range(10)]

    async def send(member: Member, first: int) -> None:
        for n in range(first, 1000, 10):
            await member.say(f"message {n}", f"{member.name}-{n}")
            await asyncio.sleep(0.055)  # within the rate limit: 20 a second per client

    async def crash() -> None:
        await asyncio.sleep(2.0)
        await nodes["node-b"].kill()

    await asyncio.gather(*(send(member, i) for i, member in enumerate(members)), crash())
    await until(lambda: all(m.ids and m.ids[-1] == 1000 for m in members), "every client has message 1000")
    reconnected = [m for m in members if m.reconnect_times]
    assert reconnected, "some clients were on the killed process"
    for member in members:
        counts = collections.Counter(member.ids)
        assert sorted(counts) == list(range(1, 1001)), f"{member.name} lost {1000 - len(counts)}"
        assert max(counts.values()) == 1, f"{member.name} got duplicates"
        assert member.ids == sorted(member.ids), "in one order"
    times = sorted(t for m in reconnected for t in m.reconnect_times)
    print(f"failover: {len(reconnected)} clients reconnected; 0 lost, 0 duplicated of 1,000; "
          f"time to reconnect {min(times) * 1000:.0f}-{max(times) * 1000:.0f} ms")
    await leave(*members)
    await nginx.stop()


async def test_after_a_redis_restart_every_process_subscribes_again(redis, tmp_path):
    """What is lost while Redis is down, exactly: the notices that only go through it (typing,
    nickname changes, arrivals and departures on another process). Chat messages arrive (each
    process reads the shared store every second); private and room messages are refused, with
    why, until every process listens again, also in the seconds after Redis is back, when
    python-socketio's listener waits 1, then 2, 4... s before it subscribes again."""
    a, b = (await chat_nodes(redis, tmp_path, 2)).values()
    alice, bob = await Member("alice").connect(url(a)), await Member("bob").connect(url(b))
    everyone = {"socketio": 2, "chat": 2}
    await redis.until_subscribed(everyone, timeout=WAIT)
    await redis.halt()
    assert await alice.say("while Redis is down", "alice-0") == 1
    refused = {"error": "a private message can't reach every server now: try again"}
    assert await alice.call("private message", "bob", "psst") == refused
    await alice.sio.emit("typing", True)
    await until(lambda: 1 in bob.ids, "bob got the chat message without Redis", timeout=3)
    await redis.resume()
    back, flowing = time.monotonic(), None
    sent = []
    for n in range(40):  # right after: each one is refused, or arrives
        answer = await alice.call("private message", "bob", f"after {n}")
        if answer == {"to": "bob"}:
            sent.append(f"after {n}")
            flowing = flowing or time.monotonic() - back
        else:
            assert answer["error"].startswith("a private message can't reach every server now")
        await asyncio.sleep(0.1)
    took = await redis.until_subscribed(everyone, timeout=15)  # every process subscribes again
    assert sent, "after the restart, private messages flow again"
    print(f"Redis restart: private messages refused, then accepted {flowing:.2f} s after Redis was back "
          f"({len(sent)} of 40 sent, every one received); all subscribed {took:.2f} s after the last")
    await until(lambda: all(("private message", "alice", t) in bob.heard for t in sent), "each one sent")
    assert not [h for h in bob.heard if h[0] == "typing"], "the typing notice sent meanwhile is lost"
    assert bob.ids == [1]
    await leave(alice, bob)


def test_nginx_config_routes_by_cookie_and_fails_over(tmp_path):
    from helpers.programs.nginx import nginx_config

    config = nginx_config(8080, {"node-a": 3001, "node-b": 3002}, tmp_path)
    assert "map $cookie_chat_node $chat_upstream" in config
    assert "server 127.0.0.1:3002 max_fails=1 fail_timeout=2s backup;" in config
    assert 'proxy_set_header Upgrade $http_upgrade;' in config
    with pytest.raises(ValueError):
        nginx_config(8080, {"node a; evil": 3001}, tmp_path)

