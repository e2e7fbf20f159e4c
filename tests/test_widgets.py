"""ChatClient and JsonChatClient against real servers, and the command-line client helper."""

from __future__ import annotations

import asyncio
import re

import ipywidgets as widgets
import pytest

from helpers.clients.cli import websocket_cli
from helpers.clients.socketio_widgets import SocketIOChatClient
from helpers.clients.widgets import NOT_CONNECTED, ChatClient, JsonChatClient, side_by_side, transcript
from helpers.server.app import SOCKETS
from helpers.server.limits import LIMITS
from helpers.stages import broadcast, echo, json_chat, receive, socketio_chat


async def test_not_connected_when_no_server_runs(free_port):
    client = ChatClient("lonely")
    assert not await client.connect(f"ws://127.0.0.1:{free_port}/")
    assert not await client.say("hello?")
    assert client.lines == [
        f"Could not connect to ws://127.0.0.1:{free_port}/: connection refused (is the server running?)",
        NOT_CONNECTED,
    ]
    assert repr(client) == "ChatClient('lonely')"


async def test_echo_round_trip_and_transcript(serve):
    server = await serve(echo.make_app())
    client = ChatClient("page")
    assert await client.connect(server.ws_url)
    await client.say("hi")
    await client.wait_for("Server said: hi")
    await client.disconnect()
    assert transcript(client) == (
        "page:\n  The websocket is now open.\n  You said: hi\n  Server said: hi\n"
        "  Websocket is now closed (1000)."
    )
    assert "Server said: hi" in client.chat.value, "the widget shows it too"


async def test_server_stop_is_seen_by_the_client(serve):
    from helpers.kernel.lifecycle import stop_server

    server = await serve(receive.make_app())
    client = ChatClient("page")
    await client.connect(server.ws_url)
    await stop_server(quiet=True)
    await client.wait_closed()
    assert client.lines[-1] == "Websocket is now closed (1001)."
    assert not await client.say("anyone?")
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
    with pytest.raises(TimeoutError, match="page got 0 of 1 messages within 0.2 s; last arrived: nothing"):
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
    await bob.say("hi")
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


def test_no_widget_method_hides_one_of_ipywidgets():
    """``send``, ``log``, ``close``... are ipywidgets' own: a chat widget must not redefine them."""
    from helpers.clients.socketio_widgets import SocketIOChatClient, SocketIOClient

    theirs = {name for name in dir(widgets.VBox) if not name.startswith("_")}
    for cls in (ChatClient, JsonChatClient, SocketIOClient, SocketIOChatClient):
        mine = [klass for klass in cls.__mro__ if klass.__module__.startswith("helpers.")]
        ours = {name for klass in mine for name in vars(klass)}
        assert not ours & theirs, (cls.__name__, ours & theirs)


async def test_enter_in_the_text_box_sends(serve):
    """The text box's own "submit" message, which the browser sends on Enter."""
    server = await serve(echo.make_app())
    client = ChatClient("page")
    await client.connect(server.ws_url)
    client.entry.value = "by Enter"
    client.entry._handle_custom_msg({"event": "submit"}, [])  # what ipywidgets does with it
    await client.wait_for("Server said: by Enter")
    assert client.entry.value == ""
    await client.disconnect()


async def test_the_widget_comes_back_by_itself_after_a_restart(free_port):
    from helpers.kernel.lifecycle import start_server, stop_server

    server = await start_server(echo.make_app(), port=free_port, quiet=True)
    client = ChatClient("page")
    try:
        await client.connect(server.ws_url)
        mark = client.mark()
        server = await start_server(echo.make_app(), port=free_port, quiet=True)  # a restart
        await client.wait_for("The websocket is now open.", since=mark)
        await client.say("back?")
        await client.wait_for("Server said: back?")
        assert client.lines == [
            "The websocket is now open.",
            "Websocket is now closed (1001).",
            "The websocket is now open.",
            "You said: back?",
            "Server said: back?",
        ]
        assert "Connected to" in client.status.value
    finally:
        await client.disconnect()
        await stop_server(quiet=True)


async def test_the_newest_lines_are_shown_escaped_with_the_pages_time_format(serve):
    server = await serve(echo.make_app())
    client = ChatClient("page")
    await client.connect(server.ws_url)
    await client.say("<b>not bold</b>")
    await client.wait_for("Server said: <b>not bold</b>")
    await client.disconnect()
    assert "&lt;b&gt;not bold&lt;/b&gt;" in client.chat.value and "<b>not" not in client.chat.value
    assert "flex-direction:column-reverse" in client.chat.value  # the newest line stays in view
    assert re.search(r"<div>\d\d:\d\d:\d\d The websocket is now open\.</div>", client.chat.value)


def test_widgets_side_by_side_read_as_text_without_a_kernel():
    row = side_by_side(ChatClient("alice"), JsonChatClient("bob"))
    assert repr(row) == "Chat widgets: alice, bob"


async def test_connecting_again_while_it_reconnects_leaves_one_connection(free_port):
    """``connect`` right after a restart: the widget was about to come back by itself."""
    from helpers.kernel.lifecycle import start_server, stop_server

    server = await start_server(echo.make_app(), port=free_port, quiet=True)
    client = ChatClient("page")
    try:
        await client.connect(server.ws_url)
        server = await start_server(echo.make_app(), port=free_port, quiet=True)
        assert await client.connect(server.ws_url)
        await client.say("one connection?")
        await client.wait_for("Server said: one connection?")
        assert server.clients == 1
        assert server.log.lines.count("Client connected (1 open).") == 1
        assert "Client connected (2 open)." not in server.log.lines
    finally:
        await client.disconnect()
        await stop_server(quiet=True)


async def test_a_client_the_server_sends_away_does_not_come_back(serve):
    """Review: a widget closed with an application code (4000-4999: a teacher removed it)
    reconnected at once, as after a restart, and the removal did not hold."""
    server = await serve(json_chat.make_app())
    dave = JsonChatClient("dave")
    try:
        await dave.connect(server.ws_url)
        await dave.nick("dave")
        await dave.wait_for("* dave joined")
        (ws,) = server.app[json_chat.NICKS]
        await ws.close(code=4000, message=b"removed by the teacher")
        await dave.wait_for("Websocket is now closed (4000).")
        await asyncio.sleep(1.0)  # longer than the widget's first retry delays (0.25 s, 0.5 s)
        assert not server.app[json_chat.NICKS] and not server.app[SOCKETS], "dave stayed away"
        assert dave.lines[-2:] == [
            "Websocket is now closed (4000).",
            "Removed by the teacher: removed by the teacher",
        ]
    finally:
        await dave.disconnect()


async def test_a_socketio_widget_over_the_rate_limit_says_so(serve):
    """Review: the server's ``refused`` notice reached no widget; a student flooding from a
    widget saw only errors on acks, not why."""
    server = await serve(socketio_chat.make_app())
    server.app[LIMITS].rate, server.app[LIMITS].burst = 1, 2
    eager = SocketIOChatClient("eager")
    try:
        await eager.connect(server.url)
        await asyncio.gather(*(eager.typing(True) for _ in range(5)))
        await eager.wait_for("Refused: too many messages")
    finally:
        await eager.disconnect()
