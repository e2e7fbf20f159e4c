"""Delivery guarantees: the SQLite store, and replay after reconnection with nothing lost or doubled."""

from __future__ import annotations

import asyncio
import collections

from helpers.clients.socketio_widgets import SocketIOChatClient
from helpers.delivery import MessageStore
from helpers.server.limits import LIMITS
from helpers.server.sio.serving import SIO
from helpers.stages import socketio_chat
from helpers.stages.socketio_chat import CHAT, STORE


def opened(store: MessageStore) -> MessageStore:
    store.open()
    return store


def test_ids_increase_and_a_repeated_client_offset_is_stored_once():
    store = opened(MessageStore())
    first, new = store.add("alice", "hi", "a-0")
    again, new_again = store.add("alice", "hi", "a-0")
    second, _ = store.add("bob", "yo")
    assert (new, new_again) == (True, False)
    assert again == first and second.id == first.id + 1
    assert [m.line for m in store.since(0)] == ["alice: hi", "bob: yo"]
    assert store.since(first.id) == [second]
    assert len(store.since(0)) == 2
    store.close()


def test_the_store_can_live_in_a_file(tmp_path):
    path = str(tmp_path / "chat.db")
    store = opened(MessageStore(path))
    store.add("alice", "kept")
    store.close()
    assert store.db is None
    again = opened(MessageStore(path))
    assert [m.text for m in again.since(0)] == ["kept"]
    again.close()


def test_a_memory_store_opened_again_starts_empty():
    store = opened(MessageStore())
    store.add("alice", "gone at close")
    store.close()
    store.open()
    assert store.since(0) == []
    store.close()


async def test_a_retried_message_is_broadcast_once(serve):
    server = await serve(socketio_chat.make_app())
    alice, bob = SocketIOChatClient("alice"), SocketIOChatClient("bob")
    try:
        await alice.connect(server.url)
        await bob.connect(server.url)
        first = await alice.sio.call("chat message", ("once", "alice-x-1"), timeout=2)
        again = await alice.sio.call("chat message", ("once", "alice-x-1"), timeout=2)  # its ack was "lost"
        assert first == again
        await alice.say("after")
        await bob.wait_for("alice: after")
        assert bob.received.count("alice: once") == 1
        assert len(server.app[STORE].since(0)) == 2
    finally:
        await alice.disconnect()
        await bob.disconnect()


async def test_offline_client_gets_what_it_missed_and_its_own_message_is_sent_once(serve):
    server = await serve(socketio_chat.make_app())
    alice, bob = SocketIOChatClient("alice"), SocketIOChatClient("bob")
    try:
        await alice.connect(server.url)
        await bob.connect(server.url)
        await alice.say("before")
        await bob.wait_for("alice: before")
        await alice.disconnect()
        await bob.wait_for("* alice disconnected")
        for text in ("one", "two", "three"):
            await bob.say(text)
        sending = asyncio.ensure_future(alice.say("I was away"))  # waits for the connection
        await alice.connect(server.url)
        assert await asyncio.wait_for(sending, 5)
        await alice.wait_for("bob: three")
        await bob.wait_for("alice: I was away")
        assert alice.lines[-4:] == ["Connected.", "bob: one", "bob: two", "bob: three"]
        assert bob.received.count("alice: I was away") == 1
        assert not any(line == "alice: before" for line in alice.lines)  # own message not replayed
    finally:
        await alice.disconnect()
        await bob.disconnect()


async def test_replay_after_dropped_connections_loses_and_doubles_nothing_over_1000_messages(serve):
    server = await serve(socketio_chat.make_app())
    server.app[LIMITS].rate = 10_000  # one program sending as fast as it can: no classroom limit
    sender, reader = SocketIOChatClient("sender"), SocketIOChatClient("reader")
    total = 1000
    try:
        await sender.connect(server.url)
        await reader.connect(server.url)

        async def send_all() -> None:
            for n in range(total):
                assert await sender.say(f"m{n}")

        async def drop_now_and_then() -> None:
            for _ in range(5):
                await reader.wait_for("sender: m", count=len(reader.received) // 2 + 50, timeout=10)
                await reader.drop()  # like a network failure: it reconnects by itself
                await reader.wait_connected(timeout=10)

        await asyncio.wait_for(asyncio.gather(send_all(), drop_now_and_then()), 60)
        await reader.wait_for(f"sender: m{total - 1}", timeout=10)
        got = [line for line in reader.received if line.startswith("sender: m")]
        counts = collections.Counter(got)
        expected = {f"sender: m{n}" for n in range(total)}
        assert expected - set(counts) == set(), "lost"
        assert [line for line, n in counts.items() if n > 1] == [], "doubled"
        assert len(got) == total
        assert reader.lines.count("Disconnected (transport error).") == 5
        assert len(server.app[STORE].since(0)) == total
    finally:
        await sender.disconnect()
        await reader.disconnect()


async def test_a_message_sent_during_a_replay_waits_its_turn(serve, monkeypatch):
    """The ``turns`` lock, made visible: the server pauses a reconnecting client after its
    replay, before it joins the live room, and another client sends right then. Without the
    lock that message is broadcast to the live room without her, after her replay: lost."""
    server = await serve(socketio_chat.make_app())
    sio = server.app[SIO]
    alice, bob = SocketIOChatClient("alice"), SocketIOChatClient("bob")
    try:
        await alice.connect(server.url)
        await bob.connect(server.url)
        await bob.say("before")
        await alice.wait_for("bob: before")
        await alice.disconnect()
        await bob.wait_for("* alice disconnected")
        await bob.say("missed")  # she gets it in her replay

        paused, resume = asyncio.Event(), asyncio.Event()
        enter_room = sio.enter_room

        async def enter_room_later(sid, room, namespace=None):
            if room == CHAT and not paused.is_set():
                paused.set()  # her replay is sent; she is not in the live room yet
                await resume.wait()
            await enter_room(sid, room, namespace)

        monkeypatch.setattr(sio, "enter_room", enter_room_later)
        arrived = asyncio.Event()
        chat_message = sio.handlers["/"]["chat message"]

        async def arriving(*args):
            arrived.set()
            return await chat_message(*args)  # stores and broadcasts, or waits its turn

        sio.on("chat message", arriving)

        connecting = asyncio.ensure_future(alice.connect(server.url))
        await asyncio.wait_for(paused.wait(), 3)
        sending = asyncio.ensure_future(bob.say("during the replay"))
        await asyncio.wait_for(arrived.wait(), 3)  # the handler ran as far as it could
        resume.set()
        assert await asyncio.wait_for(connecting, 3)
        assert await asyncio.wait_for(sending, 5)
        await bob.say("after")
        await alice.wait_for("bob: after")
        heard = [line for line in alice.received if line.startswith("bob: ")]
        assert heard == ["bob: before", "bob: missed", "bob: during the replay", "bob: after"]
    finally:
        await alice.disconnect()
        await bob.disconnect()


async def test_an_offset_from_before_a_restart_gets_the_new_servers_messages(serve):
    """A ``:memory:`` store starts over at each start: ids begin at 1 again, and a client's
    older, higher offset would skip them. An offset beyond the last id counts as 0."""
    old = await serve(socketio_chat.make_app())
    alice, bob = SocketIOChatClient("alice"), SocketIOChatClient("bob")
    try:
        await alice.connect(old.url)
        await bob.connect(old.url)
        for text in ("one", "two", "three"):
            await bob.say(text)
        await alice.wait_for("bob: three")
        assert alice.offset == 3
        await alice.disconnect()  # away while the server restarts, keeping her offset
        new = await serve(socketio_chat.make_app())  # stops the old server; a new port
        await bob.connect(new.url)
        await bob.say("new one")
        await bob.say("new two")
        await alice.connect(new.url)
        await alice.wait_for("bob: new two")
        assert alice.received[-2:] == ["bob: new one", "bob: new two"]
        assert alice.offset == 2
    finally:
        await alice.disconnect()
        await bob.disconnect()


async def test_a_boolean_offset_is_no_offset(serve):
    """``True`` is an ``int`` in Python (``True == 1``): it must not replay from 1."""
    server = await serve(socketio_chat.make_app())
    alice, bob = SocketIOChatClient("alice"), SocketIOChatClient("bob")
    try:
        await bob.connect(server.url)
        await bob.say("one")
        await bob.say("two")
        alice.offset = True
        await alice.connect(server.url)
        await bob.say("three")
        await alice.wait_for("bob: three")
        assert alice.received == ["bob: three"]
    finally:
        await alice.disconnect()
        await bob.disconnect()
