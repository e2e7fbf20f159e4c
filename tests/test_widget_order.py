"""The widgets' words match what happened: "You said" before the answer; no "say" while gone.

Issue 19: "Server said: ..." showed above "You said: ..." for 2 of 6 lines sent with Enter
(the answer arrived while the send was still returning), and a Socket.IO widget that had
left the chat showed "You said: carol here?", then 12 s later "No answer ... after 4 tries".
Real servers, lines sent as the text box's Enter sends them.
"""

from __future__ import annotations

import asyncio
import time

from helpers.clients.socketio_widgets import SocketIOChatClient, SocketIOClient
from helpers.clients.widgets import ChatClient
from helpers.stages import echo, socketio_basic, socketio_chat

LINES = 20


def press_enter(client: ChatClient, text: str) -> None:
    """What the browser does on Enter: the text box's value, then its "submit" message."""
    client.entry.value = text
    client.entry._handle_custom_msg({"event": "submit"}, [])


def out_of_order(lines: list[str], mine: str, theirs: str) -> list[int]:
    """The numbers whose answer (``theirs``) was logged before the line itself (``mine``)."""
    return [n for n in range(LINES) if lines.index(f"{theirs}{n}") < lines.index(f"{mine}{n}")]


async def test_you_said_comes_before_the_echo_for_every_line_sent_with_enter(serve):
    server = await serve(echo.make_app())
    client = ChatClient("page")
    await client.connect(server.ws_url)
    for n in range(LINES):
        press_enter(client, f"line {n}")
    await client.wait_for("Server said: line", count=LINES)
    await client.disconnect()
    assert out_of_order(list(client.lines), "You said: line ", "Server said: line ") == []


async def test_you_said_comes_first_even_when_the_send_returns_after_the_answer(serve):
    """A full socket buffer (flow control) holds the send until the echo came back: real
    websockets, its own ``pause_writing``, as the kernel's socket does under load."""
    server = await serve(echo.make_app())
    client = ChatClient("page")
    await client.connect(server.ws_url)
    connection = client.transport._websocket
    connection.pause_writing()  # the frame is written; the send waits for the buffer to drain
    press_enter(client, "slow send")
    await client.wait_for("Server said: slow send")
    connection.resume_writing()
    await asyncio.sleep(0.05)  # the send returns
    await client.disconnect()
    lines = list(client.lines)
    assert lines.index("You said: slow send") < lines.index("Server said: slow send"), lines


async def test_you_said_comes_before_the_broadcast_in_the_socketio_widget(serve):
    server = await serve(socketio_basic.make_app())
    client = SocketIOClient("page")
    await client.connect(server.url)
    for n in range(LINES):
        press_enter(client, f"line {n}")
    await client.wait_for("chat message: line", count=LINES)
    await client.disconnect()
    assert out_of_order(list(client.lines), "You said: line ", "chat message: line ") == []


async def test_a_widget_that_left_refuses_to_say_at_once(serve):
    server = await serve(socketio_chat.make_app())
    carol = SocketIOChatClient("carol")
    await carol.connect(server.url)
    await carol.disconnect()
    began = time.monotonic()
    assert not await carol.say("carol here?")
    assert time.monotonic() - began < 0.5
    assert carol.lines[-1] == "Not connected to a server. Not sent: carol here?"
    assert "You said: carol here?" not in carol.lines
    assert await carol.who() == [] and time.monotonic() - began < 1.0
    press_enter(carol, "typed after leaving")
    await carol.wait_for("Not sent: typed after leaving", timeout=0.5)
    assert not any("No answer" in line for line in carol.lines)


async def test_a_dropped_widget_still_delivers_what_it_says_once_back(serve):
    server = await serve(socketio_chat.make_app())
    alice, bob = SocketIOChatClient("alice"), SocketIOChatClient("bob")
    await alice.connect(server.url)
    await bob.connect(server.url)
    await alice.drop()  # a network failure: it comes back by itself
    assert alice.coming_back
    assert await alice.say("sent while away")
    await bob.wait_for("alice: sent while away")
    await asyncio.gather(alice.disconnect(), bob.disconnect())


async def test_a_line_said_while_a_connect_is_under_way_is_delivered(serve):
    """Notebook 09: alice, who left, says a line as she reconnects: it waits, then goes."""
    server = await serve(socketio_chat.make_app())
    alice, bob = SocketIOChatClient("alice"), SocketIOChatClient("bob")
    await alice.connect(server.url)
    await bob.connect(server.url)
    await alice.disconnect()
    sending = asyncio.ensure_future(alice.say("sorry, I was away"))
    await alice.connect(server.url)
    assert await asyncio.wait_for(sending, 5)
    await bob.wait_for("alice: sorry, I was away")
    await asyncio.gather(alice.disconnect(), bob.disconnect())
