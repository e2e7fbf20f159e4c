"""A student the teacher removes stays out; the rest of the class chats on (notebook 10).

Measured before: after ``remove(...)`` the removed ``dave`` widget connected again when asked,
without a name, read the chat and showed a green "Connected", and the panel counted him; a
page came back after a reload under a new name within 2 s. Now ``remove`` (notebook 10's cell,
run here as the notebook has it) closes the connection with 4000 and hands everyone else a new
join key over their open connections: the removed widget says "Removed by the teacher: <why>",
refuses to connect, is not green and is not counted; the old key opens nothing; the others
reconnect with the new key after a drop; ``let_back`` lets the name in again.
"""

from __future__ import annotations

import asyncio

import pytest
import websockets

from helpers.clients.socketio_widgets import SocketIOClient
from helpers.clients.widgets import JsonChatClient
from helpers.common.addresses import with_key
from helpers.kernel import share
from helpers.kernel.join import hand_out_a_new_key
from helpers.kernel.lifecycle import open_server, start_server, stop_server
from helpers.kernel.panel import ClassPanel
from helpers.kernel.share import Sharing
from helpers.server.app import raw_websockets
from helpers.stages import STAGES
from tests.moderation_support import moderation_cell

WHY = "please stay on topic"
REMOVED = f"Removed by the teacher: {WHY}"
GREEN = "#1a7f37"  # the widgets' "Connected" colour


@pytest.fixture
def moderation(monkeypatch) -> dict:
    monkeypatch.setenv(share.ADDRESS_VARIABLE, "127.0.0.2")
    return moderation_cell()


async def handshake(url: str) -> int:
    try:
        async with asyncio.timeout(5):
            async with websockets.connect(url):
                return 101
    except websockets.InvalidStatus as refused:
        return refused.response.status_code


async def joined(url: str, *clients: JsonChatClient) -> None:
    for client in clients:
        assert await client.connect(url)
        await client.nick(client.name)
    await clients[0].wait_for(f"* {clients[-1].name} joined")


async def test_a_removed_widget_says_why_stops_and_is_not_counted_while_carol_chats_on(moderation):
    server = await start_server(moderation["make_class_app"](), port=0, quiet=True, share=True)
    carol, dave = JsonChatClient("carol"), JsonChatClient("dave")
    panel = ClassPanel()
    try:
        plain = f"ws://127.0.0.1:{server.port}/"
        await joined(plain, carol, dave)
        old_key = server.key
        card = await moderation["remove"](server, "dave", WHY)
        await dave.wait_for(REMOVED)
        await carol.wait_for("* dave left")
        assert server.key != old_key and card.url == server.share_url
        assert not dave.connected and GREEN not in dave.status.value
        assert dave.transport.removed == REMOVED

        assert await dave.connect(plain) is False, "connect() refuses"
        assert dave.lines[-1].endswith(REMOVED) and not dave.connected
        server = await start_server(moderation["make_class_app"](), port=server.port, quiet=True, share=True)
        await carol.wait_for("* carol joined", count=2, timeout=5)  # a restart: carol comes back
        await asyncio.sleep(1.0)
        assert not dave.connected and GREEN not in dave.status.value
        panel.refresh()
        assert panel.online() == ["carol"] and "Connections: 1." in panel.snapshot()
        assert await handshake(with_key(plain, old_key)) == 403, "the old key opens nothing"
    finally:
        panel.stop()
        for client in (carol, dave):
            await client.disconnect()
        await stop_server(quiet=True)


async def test_the_others_are_handed_the_new_key_and_reconnect_with_it_after_a_drop(moderation):
    # a server that is not this kernel's own: the widgets can only know its key from it
    server = await open_server(moderation["make_class_app"](), port=0, sharing=Sharing.new())
    carol, dave = JsonChatClient("carol"), JsonChatClient("dave")
    try:
        await joined(server.ws_url, carol, dave)
        await moderation["remove"](server, "dave", WHY)
        await dave.wait_for(REMOVED)
        assert carol.transport.key == server.key, "handed over carol's open connection"
        assert not any("key" in line for line in carol.lines), "taken by the transport, not shown"
        mark = carol.mark()
        for ws in raw_websockets(server.app):
            await ws.close(code=1012, message=b"restarting")  # the server drops carol
        await carol.wait_for("The websocket is now open.", since=mark, timeout=5)
        await carol.say("still here")
        await carol.wait_for("carol: still here")
        await asyncio.sleep(1.0)
        assert not dave.connected, "dave's transport did not follow"
    finally:
        for client in (carol, dave):
            await client.disconnect()
        await server.stop()


async def test_a_new_name_does_not_help_and_let_back_lets_the_name_in_again(moderation):
    server = await start_server(moderation["make_class_app"](), port=0, quiet=True, share=True)
    carol, dave = JsonChatClient("carol"), JsonChatClient("dave")
    try:
        plain = f"ws://127.0.0.1:{server.port}/"
        await joined(plain, carol, dave)
        old_link = with_key(plain, server.key)  # what dave's page has
        await moderation["remove"](server, "dave", WHY)
        await dave.wait_for(REMOVED)
        assert await handshake(old_link) == 403, "a reload, whatever name follows"
        async with websockets.connect(with_key(plain, server.key)) as again:  # the new link leaked
            await again.send('{"type": "nick", "nick": "dave"}')  # his name stays out all the same
            assert "that name was removed" in await asyncio.wait_for(again.recv(), 5)
        card = moderation["let_back"](server, "dave")
        assert card.url == server.share_url and "dave" in card.value
        dave.transport.readmit()
        assert await dave.connect(plain)
        await carol.wait_for("* dave joined", count=2)
    finally:
        for client in (carol, dave):
            await client.disconnect()
        await stop_server(quiet=True)


async def test_a_socketio_widget_is_handed_the_new_key_and_comes_back_with_it(moderation):
    server = await open_server(STAGES["socketio"](), port=0, sharing=Sharing.new())  # not this kernel's own
    client = SocketIOClient("carol")
    try:
        assert await client.connect(server.link())
        await hand_out_a_new_key(server)
        await changed(lambda: client.transport.key == server.key)
        mark = client.mark()
        await client.drop()  # a lost connection: python-socketio reconnects, with the new key
        await client.wait_for("Connected", since=mark, timeout=8)
        await client.say("back")
        await client.wait_for("chat message: back")
    finally:
        await client.disconnect()
        await server.stop()


async def changed(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)
