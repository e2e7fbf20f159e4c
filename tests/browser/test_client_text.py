"""What other clients wrote, on the pages: shown as text, on its own line, in its own order.

A nickname or a message can hold characters that fake or reorder what others read: ESC
(terminal colours, an escape that would clear a terminal), a newline (a fake line "12:00:01
teacher: ..."), U+202E RIGHT-TO-LEFT OVERRIDE (turns the rest of the line around), and
right-to-left letters (a Hebrew nickname before a Hebrew message swaps places with it). A
server here sends exactly such text to each chat page, as a student's would reach it; the page
must show the control characters escaped (``\\x1b``, ``\\u202e``), keep one line per message,
and isolate each client's text (FIRST STRONG ISOLATE ... POP DIRECTIONAL ISOLATE, what
``<bdi>`` does) when it has right-to-left letters.
"""

from __future__ import annotations

import pytest
import socketio
from aiohttp import web
from pagelog import log_line
from playwright.async_api import expect

from helpers.kernel.lifecycle import start_server, stop_server
from helpers.server.app import PUBLIC
from helpers.server.sio.hold import CLIENT_DIST

pytestmark = pytest.mark.asyncio(loop_scope="session")

EVIL_NICK, EVIL_TEXT = "\u202eevil", "\x1b[31mred\nteacher: fake line"
HEBREW_NICK, HEBREW_TEXT = "אבי", "שלום"
RAW = ("\u202e", "\x1b", "\u2028")
EVIL_SHOWN = "\\u202eevil: \\x1b[31mred\\nteacher: fake line"
HEBREW_SHOWN = "\u2068אבי\u2069: \u2068שלום\u2069"


def json_chat_app() -> web.Application:
    """A server that sends two JSON ``chat`` messages to each page as it connects."""

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "chat", "nick": EVIL_NICK, "text": EVIL_TEXT})
        await ws.send_json({"type": "chat", "nick": HEBREW_NICK, "text": HEBREW_TEXT})
        await ws.send_json({"type": "join", "nick": "\u2066x\u2069\u2069"})  # an isolate a client closes
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    app.router.add_static("/", PUBLIC)
    return app


def text_chat_app() -> web.Application:
    """A plain-text server that sends one line holding every trick to each page."""

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(f"{EVIL_NICK}: {EVIL_TEXT}\u2028more")
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    app.router.add_static("/", PUBLIC)
    return app


def socketio_app() -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp")

    @sio.event
    async def connect(sid, environ, auth=None):
        await sio.emit("user connected", EVIL_NICK, to=sid)
        await sio.emit("chat message", f"{EVIL_NICK}: {EVIL_TEXT}", to=sid)
        await sio.emit("private message", (HEBREW_NICK, HEBREW_TEXT), to=sid)

    app = web.Application()
    sio.attach(app)
    app.router.add_static("/vendor/socket.io/", CLIENT_DIST)
    app.router.add_static("/", PUBLIC)
    return app


async def shown_lines(page, last: str) -> list[str]:
    await expect(page.locator("#output")).to_have_value(log_line(last))
    value = await page.locator("#output").input_value()
    assert not any(raw in value for raw in RAW), f"a raw control character reached the page: {value!r}"
    return [line.split(" ", 1)[1] for line in value.splitlines()]  # without the time


async def test_the_json_page_escapes_controls_and_isolates_each_nickname_and_text(pages):
    server = await start_server(json_chat_app(), port=0, quiet=True)
    try:
        page = await pages.open(f"{server.url}json.html")
        joined = "* \\u2066x\\u2069\\u2069 joined"  # its isolates can't close the page's
        lines = await shown_lines(page, joined)
        assert lines == ["The websocket is now open.", EVIL_SHOWN, HEBREW_SHOWN, joined]
    finally:
        await stop_server(quiet=True)
    assert pages.errors == []


async def test_the_chat_page_shows_a_line_that_holds_newlines_and_escapes_as_one_line(pages):
    server = await start_server(text_chat_app(), port=0, quiet=True)
    try:
        page = await pages.open(f"{server.url}chat.html")
        said = f"Server said: {EVIL_SHOWN}\\u2028more"
        assert await shown_lines(page, said) == ["The websocket is now open.", said]
        await page.fill("#message", "\u202eme")  # what a student types is shown escaped too
        await page.click("#send")
        await expect(page.locator("#output")).to_have_value(log_line("You said: \\u202eme"))
    finally:
        await stop_server(quiet=True)
    assert pages.errors == []


async def test_the_socketio_page_escapes_controls_and_isolates_each_nickname_and_text(pages):
    if not (CLIENT_DIST / "socket.io.esm.min.js").is_file():
        pytest.skip("the Socket.IO client bundle is missing: run `npm ci`")
    server = await start_server(socketio_app(), port=0, quiet=True)
    try:
        page = await pages.open(f"{server.url}socketio.html")
        private = f"(private) {HEBREW_SHOWN}"
        lines = await shown_lines(page, private)
        assert sorted(lines) == sorted(["Connected.", "* \\u202eevil connected", EVIL_SHOWN, private])
    finally:
        await stop_server(quiet=True)
    assert pages.errors == []

