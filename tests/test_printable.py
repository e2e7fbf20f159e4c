"""Client text never reaches a terminal, a notebook's log or a widget raw; nicknames refuse it.

A chat relays what strangers type: an ESC sequence clears the teacher's screen or writes the
clipboard (OSC 52), a newline fakes a line of the server's own, an RTL override turns text
around. Every sink escapes them visibly (``helpers.common.text.printable``), and a nickname with
one is refused with a clear error. Real servers, real clients, a real terminal process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from pathlib import Path

import websockets
from aiohttp import WSMsgType, web
from process_support import die_with_parent, stop_process

from helpers.clients.socketio_widgets import SocketIOChatClient
from helpers.clients.widgets import ChatClient, JsonChatClient
from helpers.common.text import printable
from helpers.kernel.panel import ClassPanel
from helpers.protocol import parse_message
from helpers.server.log import ServerLog, route_prints, server_context
from helpers.stages import echo, json_chat, socketio_chat
from helpers.stages.socketio_features import problem_with

ROOT = Path(__file__).resolve().parent.parent

CLEAR, TITLE, CLIPBOARD = "\x1b[2J\x1b[H", "\x1b]0;pwned\x07", "\x1b]52;c;ZWNobyBoaQ==\x07"
FAKE_LINE = "\nRefused a connection from a page at http://evil.example (403)."
HOSTILE = f"hi{CLEAR}{TITLE}{CLIPBOARD}\x1b[31mred\x1b[0m\u202eevil{FAKE_LINE}\r\x7f\x9b\u2066\u200f"
"""Everything a client can type to fool a terminal or a log at once."""

RAW = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
"""A character that must never come out as is (a line's own newline aside)."""

BAD_NICK = "\x1b[31mred\x1b[0m\u202eevil"


def test_printable_escapes_controls_and_bidi_visibly_and_leaves_the_rest():
    assert printable("a\x1b[2Jb\nc\td\r\x00\x7f\x85\u202e\u2066\u200e\u061c\u2028") == (
        "a\\x1b[2Jb\\nc\\td\\r\\x00\\x7f\\x85\\u202e\\u2066\\u200e\\u061c\\u2028"
    )
    kept = "Zoë 日本 👩‍💻 C:\\path <b>&amp;</b>"
    assert printable(kept) == kept
    bidi = [0x61C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    for code in [*range(0x20), *range(0x7F, 0xA0), *bidi]:
        assert not RAW.search(printable(f"x{chr(code)}y")), hex(code)


async def _echo_and_print(request: web.Request) -> web.WebSocketResponse:
    """A student's handler: prints what it got, and logs it, as the tutorial's console.log."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            print(f"ws got: {msg.data}")
            logging.warning("warned about %s", msg.data)
            if msg.data.startswith("raise"):
                raise ValueError(msg.data)
            await ws.send_str(msg.data)
    return ws


async def test_a_handler_printing_client_text_makes_one_escaped_log_line(serve, capsys):
    route_prints()
    app = web.Application()
    app.router.add_get("/", _echo_and_print)
    server = await serve(app)
    async with websockets.connect(server.ws_url) as ws:
        await ws.send(HOSTILE)
        assert await asyncio.wait_for(ws.recv(), 3) == HOSTILE, "the text itself is delivered as sent"
    await server.log.wait_for("warned about", timeout=3)
    got = [line for line in server.log.lines if line.startswith("ws got:")]
    assert got == [f"ws got: {printable(HOSTILE)}"], server.log.lines
    assert not any(RAW.search(line) for line in server.log.lines)
    assert not any(line.startswith("Refused a connection") for line in server.log.lines), "no faked line"
    server.log.show()
    shown = capsys.readouterr().out
    assert not RAW.search(shown.replace("\n", "")), "show() prints it escaped"
    assert shown.count("ws got:") == 1 and "\nRefused a connection" not in shown


async def test_an_error_quoting_client_text_is_summarised_escaped(serve):
    route_prints()
    app = web.Application()
    app.router.add_get("/", _echo_and_print)
    server = await serve(app)
    async with websockets.connect(server.ws_url) as ws:
        await ws.send(f"raise {HOSTILE}")
        await asyncio.wait_for(ws.wait_closed(), 3)
    await server.log.wait_for("Error in", timeout=3)
    errors = server.log.take_unreported_errors()
    assert errors and all(not RAW.search(error.summary) for error in errors)


def test_print_calls_log_one_line_each_and_partial_prints_join():
    log = ServerLog()
    route_prints()
    with server_context(log):
        print("a\nb")
        print("start", end="")
        print(" and end")
        print("x", "y\x1b", sep="\t")
    assert log.lines == ["a\\nb", "start and end", "x\\ty\\x1b"]


async def test_the_terminal_of_python_m_helpers_serve_gets_no_raw_control_byte(free_port):
    """The standalone command echoes its log to the terminal: escaped, one line per message."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "helpers.serve", "--stage", "echo", "--port", str(free_port), cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True, preexec_fn=die_with_parent,
    )
    try:
        first = await asyncio.wait_for(process.stdout.readline(), 10)
        assert first == f"Listening at port {free_port}\n".encode()
        async with websockets.connect(f"ws://127.0.0.1:{free_port}/") as ws:
            await ws.send(HOSTILE)
            assert await asyncio.wait_for(ws.recv(), 3) == HOSTILE
    finally:
        stopped = await stop_process(process)
    out = first.decode() + stopped.stdout
    assert f"ws got: {printable(HOSTILE)}\n" in out, out
    for stream in (out, stopped.stderr):
        assert not RAW.search(stream.replace("\n", "")), repr(stream)
        assert "\x1b" not in stream and "\u202e" not in stream
    assert not any(line.startswith("Refused a connection") for line in out.splitlines())


async def test_a_widget_shows_client_text_escaped(serve):
    server = await serve(echo.make_app())
    client = ChatClient("page")
    await client.connect(server.ws_url)
    await client.say(HOSTILE)
    await client.wait_for("Server said: hi")
    await client.disconnect()
    assert f"Server said: {printable(HOSTILE)}" in client.lines
    assert not any(RAW.search(line) for line in client.lines)
    assert not RAW.search(client.chat.value), "the widget's HTML holds no raw control character"
    assert "\\x1b]52;c;" in client.chat.value, "shown, visibly"
    assert client.received[-1] == HOSTILE, "what arrived is kept as it came"


def test_a_widgets_name_is_shown_escaped():
    client = ChatClient(BAD_NICK)
    assert not RAW.search(client.children[0].value)


async def test_the_json_chat_answers_a_bad_nickname_with_an_error(serve):
    server = await serve(json_chat.make_app())
    alice = JsonChatClient("alice")
    await alice.connect(server.ws_url)
    for count, nick in enumerate((BAD_NICK, "bob\nalice", "bob\u202e", "\x1b]52;c;eA==\x07"), start=1):
        await alice.nick(nick)
        await alice.wait_for("Error: a nickname can't hold control characters", count=count)
    assert parse_message(json.dumps({"type": "chat", "text": "two\nlines"}))["text"] == "two\nlines"
    await alice.nick("Zoë")
    await alice.wait_for("* Zoë joined")
    await alice.nick("alice")
    await alice.wait_for("* Zoë is now alice")
    await alice.disconnect()
    assert sorted(server.app[json_chat.NICKS].values()) == []


def test_socketio_features_refuse_control_characters_in_names_not_in_text():
    assert problem_with(BAD_NICK, "nickname") == "nickname can't hold control characters"
    assert problem_with("tea\nroom", "room") == "room can't hold control characters"
    assert problem_with("two\nlines", "text", 500) is None
    assert problem_with("Zoë", "nickname") is None


async def test_the_socketio_chat_refuses_a_bad_nickname(serve):
    server = await serve(socketio_chat.make_app())
    alice = SocketIOChatClient("alice")
    await alice.connect(server.url)
    assert not await alice.rename(BAD_NICK)
    assert alice.lines[-1] == "Error: nickname can't hold control characters"
    assert await alice.who() == ["alice"]
    await alice.disconnect()


async def test_the_panel_shows_names_escaped(serve):
    server = await serve(json_chat.make_app())
    server.app[json_chat.NICKS][object()] = BAD_NICK  # a name that got in some other way
    panel = ClassPanel(every=60)
    try:
        assert not RAW.search(panel.snapshot()) and not RAW.search(panel.value)
    finally:
        panel.stop()
