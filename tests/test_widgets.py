"""ChatClient and JsonChatClient against real servers, and the command-line client helper."""

from __future__ import annotations

import pytest

from helpers.cli import websocket_cli
from helpers.stages import broadcast, echo, json_chat, receive
from helpers.widgets import NOT_CONNECTED, ChatClient, JsonChatClient, transcript


async def test_not_connected_when_no_server_runs(free_port):
    client = ChatClient("lonely")
    assert not await client.connect(f"ws://127.0.0.1:{free_port}/")
    assert not await client.send("hello?")
    assert client.lines == [
        f"Could not connect to ws://127.0.0.1:{free_port}/: connection refused (is the server running?)",
        NOT_CONNECTED,
    ]
    assert repr(client) == "ChatClient('lonely')"


async def test_echo_round_trip_and_transcript(serve):
    server = await serve(echo.make_app())
    client = ChatClient("page")
    assert await client.connect(server.ws_url)
    await client.send("hi")
    await client.wait_for("Server said: hi")
    await client.disconnect()
    assert transcript(client) == (
        "page:\n  The websocket is now open.\n  You said: hi\n  Server said: hi\n"
        "  Websocket is now closed (1000)."
    )
    assert "Server said: hi" in client.output.value, "the widget shows it too"


async def test_server_stop_is_seen_by_the_client(serve):
    from helpers.lifecycle import stop_server

    server = await serve(receive.make_app())
    client = ChatClient("page")
    await client.connect(server.ws_url)
    await stop_server(quiet=True)
    await client.wait_closed()
    assert client.lines[-1] == "Websocket is now closed (1001)."
    assert not await client.send("anyone?")
    assert client.lines[-1] == NOT_CONNECTED


async def test_send_button_sends_the_entry_text(serve):
    server = await serve(broadcast.make_app())
    client = ChatClient("page")
    await client.connect(server.ws_url)
    client.entry.value = "clicked"
    client.button.click()
    await client.wait_for("Server said: clicked")
    assert client.entry.value == ""
    await client.disconnect()


async def test_wait_timeout_says_what_arrived(serve):
    server = await serve(receive.make_app())
    client = ChatClient("page", timeout=0.2)
    await client.connect(server.ws_url)
    with pytest.raises(TimeoutError, match="page received 0 of 1 messages"):
        await client.wait_for_messages(1)
    await client.disconnect()


async def test_json_client_describes_each_message(serve):
    server = await serve(json_chat.make_app())
    alice, bob = JsonChatClient("alice"), JsonChatClient("bob")
    await alice.connect(server.ws_url)
    await alice.nick("alice")
    await alice.wait_for("* alice joined")
    await bob.connect(server.ws_url)
    await bob.nick("bob")
    await bob.send("hi")
    await bob.users()
    await bob.send_raw("{oops")
    await bob.wait_for("Error: malformed JSON")
    await bob.disconnect()
    await alice.wait_for("* bob left")
    assert alice.lines == [
        "The websocket is now open.",
        "* alice joined",
        "* bob joined",
        "bob: hi",
        "* bob left",
    ]
    for line in ("* bob joined", "bob: hi", "Online: alice, bob", "You sent: '{oops'"):
        assert line in bob.lines
    await alice.disconnect()


async def test_command_line_client_transcript(serve):
    server = await serve(echo.make_app())
    async with websocket_cli(server.ws_url) as cli:
        await cli.type("hi")
        await cli.expect("< hi")
    assert cli.transcript == (
        f"$ python -m websockets {server.ws_url}\n"
        f"Connected to {server.ws_url}.\n"
        "> hi\n< hi\n"
        "Connection closed: 1000 (OK)."
    )
