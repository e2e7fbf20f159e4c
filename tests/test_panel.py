"""The teacher's ClassPanel against real servers and clients: who is online, how busy, whose."""

from __future__ import annotations

import asyncio

import pytest

from helpers.clients.widgets import JsonChatClient
from helpers.kernel.lifecycle import start_server, stop_server
from helpers.kernel.panel import ClassPanel
from helpers.stages import json_chat, socketio_chat


@pytest.fixture
async def panel():
    made: list[ClassPanel] = []

    def _panel() -> ClassPanel:
        made.append(ClassPanel(every=0.05))
        return made[-1]

    yield _panel
    for one in made:
        one.stop()
    await stop_server(quiet=True)


async def test_the_panel_shows_who_is_online_and_counts_chat_messages(panel):
    server = await start_server(json_chat.make_app(), port=0, quiet=True)
    shown = panel()
    ada, bob = JsonChatClient("ada"), JsonChatClient("bob")
    try:
        for client in (ada, bob):
            await client.connect(server.ws_url)
            await client.nick(client.name)
        await ada.say("one")
        await ada.say("two")
        await bob.wait_for("ada: two")
        shown.refresh()
        assert shown.snapshot() == "Online (2): ada, bob. Connections: 2. Chat messages: 2."
        assert shown.per_second() == pytest.approx(0.2)
        assert "Online (2): ada, bob." in shown.value
    finally:
        await ada.disconnect()
        await bob.disconnect()


async def test_the_panel_follows_a_new_server_and_one_panel_runs_at_a_time(panel):
    await start_server(json_chat.make_app(), port=0, quiet=True)
    first = panel()
    assert first.snapshot().startswith("Online (0): nobody.")
    server = await start_server(socketio_chat.make_app(), port=0, quiet=True)  # replaces the first
    second = panel()
    await asyncio.sleep(0.01)
    assert first._task.cancelled(), "making a panel stops the one before"
    second.refresh()
    assert second.server is server
    assert second.snapshot() == "Online (0): nobody. Connections: 0. Chat messages: 0."
    await stop_server(quiet=True)
    second.refresh()
    assert second.snapshot() == "No server is running."
