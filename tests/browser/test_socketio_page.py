"""public/socketio.html in a real Chromium on the ``socketio`` stage (the official get-started
chat, event ``chat message``), with a python-socketio client beside the two pages."""

from __future__ import annotations

import os
import re

import pytest
import socketio
from browser_support import require
from pagelog import log_count, log_line
from playwright.async_api import expect

from helpers.common.waiting import Changes
from helpers.kernel.lifecycle import stop_server
from helpers.server.limits import LIMITS
from helpers.server.sio.hold import CLIENT_DIST
from helpers.server.sio.serving import SIO
from helpers.stages.socketio_chat import STORE, wire

pytestmark = pytest.mark.asyncio(loop_scope="session")

XSS = '<img src=x onerror="window.xssRan = true"><b>bold?</b>'


async def say(page, text: str) -> None:
    await page.fill("#message", text)
    await page.click("#send")


@pytest.fixture
def socketio_client_bundle() -> None:
    """The page loads the official client from node_modules (make setup); never from the CDN here."""
    require(
        (CLIENT_DIST / "socket.io.esm.min.js").is_file(),
        f"{os.path.relpath(CLIENT_DIST)}/socket.io.esm.min.js is missing: run `npm ci` (make setup does)",
    )


async def test_two_pages_and_a_python_client_chat_on_the_socketio_stage(
    socketio_client_bundle, stage, pages
):
    server = await stage("socketio")
    ada = await pages.open(server.url + "socketio.html")
    bob = await pages.open(server.url + "socketio.html")
    for page in (ada, bob):
        await expect(page.locator("#output")).to_have_value(log_line("Connected."))
        await expect(page.locator("#status")).to_have_text("Connected to /socket.io")
        await expect(page.locator("#status")).to_have_class("status connected")
    got: list[str] = []
    changes = Changes()

    async def on_chat_message(msg, *offset):
        got.append(msg)
        changes.notify()

    python = socketio.AsyncClient(reconnection=False)
    python.on("chat message", on_chat_message)
    await python.connect(server.url, wait_timeout=5)
    try:
        await server.log.wait_for("a user connected", count=3)
        await say(ada, "hello from Ada")
        await say(ada, "and again")  # a second message right away is not held back
        await expect(ada.locator("#message")).to_have_value("")
        await say(bob, "hi Ada")
        await changes.wait_until(lambda: len(got) >= 3, timeout=5, describe=lambda: f"python got {got}")
        await python.emit("chat message", "hi from Python")

        said = ["hello from Ada", "and again", "hi Ada", "hi from Python"]
        for page in (ada, bob):
            for text in said:
                await expect(page.locator("#output")).to_have_value(log_line(text))
        await expect(ada.locator("#output")).to_have_value(log_line("You said: hello from Ada"))
        await expect(bob.locator("#output")).to_have_value(log_line("You said: hi Ada"))
        await changes.wait_until(lambda: len(got) >= 4, timeout=5, describe=lambda: f"python got {got}")
        assert sorted(got[:3]) == sorted(said[:3]) and got[3] == "hi from Python"
        assert got.index("hello from Ada") < got.index("and again")
        await server.log.wait_for("message: hi from Python")
    finally:
        await python.disconnect()
    await server.log.wait_for("user disconnected")
    assert pages.errors == []


async def test_a_script_sent_over_socketio_is_shown_as_text_and_never_runs(
    socketio_client_bundle, stage, pages
):
    server = await stage("socketio")
    sender = await pages.open(server.url + "socketio.html")
    reader = await pages.open(server.url + "socketio.html")
    for page in (sender, reader):
        await expect(page.locator("#output")).to_have_value(log_line("Connected."))
    await server.log.wait_for("a user connected", count=2)
    await say(sender, XSS)
    await expect(sender.locator("#output")).to_have_value(log_line(f"You said: {XSS}"))
    await expect(sender.locator("#output")).to_have_value(log_count(XSS, 2))  # typed, and broadcast
    await expect(reader.locator("#output")).to_have_value(log_line(XSS))
    for page in (sender, reader):
        assert await page.evaluate("window.xssRan") is None
        assert await page.locator("img, b").count() == 0
    assert pages.errors == []


@pytest.mark.parametrize("name", ["socketio-features", "socketio-chat"])
async def test_pages_chat_on_the_chat_stages_and_show_a_script_as_text(
    socketio_client_bundle, stage, pages, name
):
    """The chat stages of notebooks 08 and 09 answer every event the page emits."""
    server = await stage(name)
    ada = await pages.open(server.url + "socketio.html")
    bob = await pages.open(server.url + "socketio.html")
    for page in (ada, bob):
        await expect(page.locator("#output")).to_have_value(log_line("Connected."))
    await say(ada, "hello from Ada")
    await expect(ada.locator("#output")).to_have_value(log_line("You said: hello from Ada"))
    await expect(bob.locator("#output")).to_have_value(re.compile(r" \S+: hello from Ada\n"))
    await say(bob, XSS)
    await expect(ada.locator("#output")).to_have_value(re.compile(r" \S+: " + re.escape(XSS) + r"\n"))
    for page in (ada, bob):
        assert await page.evaluate("window.xssRan") is None
        assert await page.locator("img, b").count() == 0
    await bob.fill("#to", "#tea")
    await say(bob, "not a member")  # refused: the page shows the error, not the line as sent
    await expect(bob.locator("#output")).to_have_value(log_line("Error: join '#tea' first"))
    assert "You [#tea]" not in await bob.locator("#output").input_value()
    assert pages.errors == []


async def test_the_socketio_page_comes_back_when_the_server_restarts(
    socketio_client_bundle, stage, pages, free_port
):
    """Stopping says goodbye ('io server disconnect'); the page still reconnects by itself."""
    server = await stage("socketio", port=free_port)
    page = await pages.open(server.url + "socketio.html")
    output, status = page.locator("#output"), page.locator("#status")
    await expect(output).to_have_value(log_line("Connected."))

    await stop_server(quiet=True)
    await expect(output).to_have_value(log_line("Disconnected (io server disconnect)."))
    await expect(status).to_have_text("Not connected. Reconnecting...")

    server = await stage("socketio", port=free_port)
    await expect(output).to_have_value(log_count("Connected.", 2), timeout=10_000)
    await expect(status).to_have_class("status connected")
    await say(page, "back again")
    await expect(output).to_have_value(log_count("back again", 2))  # typed, and broadcast
    assert pages.errors == []


async def test_who_and_nick_on_the_plain_stage_do_not_hold_back_the_next_message(
    socketio_client_bundle, stage, pages
):
    """The plain stage answers neither `who` nor `nick`: the page's request waits for its own
    timeout, but a chat message sent meanwhile goes out at once (no queue behind acks)."""
    server = await stage("socketio")
    ada = await pages.open(server.url + "socketio.html")
    bob = await pages.open(server.url + "socketio.html")
    for page in (ada, bob):
        await expect(page.locator("#output")).to_have_value(log_line("Connected."))
    await ada.click("#who")
    await ada.fill("#nick", "ada")
    await ada.click("#nick-form input[type=submit]")
    await say(ada, "not held back")
    await expect(bob.locator("#output")).to_have_value(log_line("not held back"), timeout=2_000)
    await server.log.wait_for("message: not held back", timeout=2)
    assert pages.errors == []


async def test_the_page_does_not_show_its_own_message_again_when_it_is_replayed(
    socketio_client_bundle, stage, pages
):
    """After a lost acknowledgement the server replays the page's own message: the page knows
    its client offset and skips it, as the Python client does."""
    server = await stage("socketio-chat")
    ada = await pages.open(server.url + "socketio.html")
    output = ada.locator("#output")
    await expect(output).to_have_value(log_line("Connected."))
    await say(ada, "only once")
    await server.log.wait_for(": only once")
    (message,) = server.app[STORE].since(0)
    sio = server.app[SIO]
    await sio.emit("chat message", wire(message))  # as a replay would send it
    await sio.emit("chat message", ("server: marker", message.id + 1, None))
    await expect(output).to_have_value(log_line("server: marker"))
    lines = [line for line in (await output.input_value()).splitlines() if "only once" in line]
    assert len(lines) == 1 and lines[0].endswith(" You said: only once"), lines
    assert pages.errors == []


async def test_a_page_sending_too_fast_is_told_why(socketio_client_bundle, stage, pages):
    """Review: the server's ``refused`` notice reached no page; a flood from a page was refused
    message by message with nothing saying why."""
    server = await stage("socketio-chat")
    server.app[LIMITS].rate, server.app[LIMITS].burst = 1, 2
    page = await pages.open(server.url + "socketio.html")
    await expect(page.locator("#output")).to_have_value(log_line("Connected."))
    for n in range(5):
        await say(page, f"quick {n}")
    await expect(page.locator("#output")).to_have_value(
        log_line("Refused: too many messages: at most 1 a second; slow down")
    )
    assert pages.errors == []
