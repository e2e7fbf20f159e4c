"""public/chat.html in a real Chromium, against the Python stages, next to widget clients."""

from __future__ import annotations

import pytest
from pagelog import log_count, log_line
from playwright.async_api import expect

from helpers.clients.widgets import ChatClient
from helpers.kernel.lifecycle import stop_server

pytestmark = pytest.mark.asyncio(loop_scope="session")

OPEN = "The websocket is now open."
XSS = '<img src=x onerror="window.xssRan = true"><script>window.xssRan = true</script>'


async def say(page, text: str) -> None:
    await page.fill("#message", text)
    await page.click("#send")


async def test_two_pages_and_a_widget_client_chat_on_the_broadcast_stage(stage, pages):
    server = await stage("broadcast-bus")
    ada = await pages.open(server.url + "chat.html")
    bob = await pages.open(server.url + "chat.html")
    for page in (ada, bob):
        await expect(page.locator("#output")).to_have_value(log_line(OPEN))
        await expect(page.locator("#status")).to_have_text(f"Connected to {server.ws_url}")
    widget = ChatClient("widget")
    assert await widget.connect(server.ws_url)
    try:
        await server.log.wait_for("Client connected (3 open).")

        await say(ada, "hello from Ada")
        await expect(ada.locator("#message")).to_have_value("")
        await say(bob, "hi Ada, Bob here")
        await widget.wait_for_messages(2)
        await widget.say("and the widget says hi")

        said = ["hello from Ada", "hi Ada, Bob here", "and the widget says hi"]
        for page in (ada, bob):
            for text in said:
                await expect(page.locator("#output")).to_have_value(log_line(f"Server said: {text}"))
        await expect(ada.locator("#output")).to_have_value(log_line("You said: hello from Ada"))
        await expect(bob.locator("#output")).to_have_value(log_line("You said: hi Ada, Bob here"))
        await widget.wait_for_messages(3)
        assert widget.received == said
        assert "You said: and the widget says hi" in widget.lines
        await server.log.wait_for("Broadcasted data to 3 (3) clients.", count=3)
        assert [line for line in server.log.lines if line.startswith("ws got:")] == [
            f"ws got: {text}" for text in said
        ]
    finally:
        await widget.disconnect()
    assert pages.errors == []


async def test_the_page_says_not_connected_while_the_server_is_down_then_reconnects(
    stage, pages, free_port
):
    server = await stage("broadcast-bus", port=free_port)
    page = await pages.open(server.url + "chat.html")
    output, status = page.locator("#output"), page.locator("#status")
    await expect(output).to_have_value(log_line(OPEN))

    await stop_server(quiet=True)  # the page stays open; its server is gone
    await expect(output).to_have_value(log_line("Websocket is now closed."))
    await expect(status).to_have_text("Not connected to a server. Retrying...")
    await expect(status).to_have_class("status disconnected")
    await say(page, "anyone there?")
    await expect(output).to_have_value(log_line("The websocket is not connected to a server."))
    assert "You said: anyone there?" not in await output.input_value()

    server = await stage("broadcast-bus", port=free_port)  # same port: the page finds it by itself
    await expect(output).to_have_value(log_count(OPEN, 2), timeout=8_000)
    await expect(status).to_have_text(f"Connected to {server.ws_url}")
    await expect(status).to_have_class("status connected")
    await say(page, "back again")
    await expect(output).to_have_value(log_line("Server said: back again"))
    assert pages.errors == []


async def test_a_page_opened_before_the_server_runs_connects_when_it_starts(stage, pages, free_port):
    static = await stage("static", port=free_port)  # serves the page but takes no websocket
    page = await pages.open(static.url + "chat.html")
    status = page.locator("#status")
    await expect(status).to_have_text("Not connected to a server. Retrying...")
    await say(page, "hello?")
    await expect(page.locator("#output")).to_have_value(
        log_line("The websocket is not connected to a server.")
    )
    assert OPEN not in await page.locator("#output").input_value()

    await stage("echo", port=free_port)
    await expect(page.locator("#output")).to_have_value(log_line(OPEN), timeout=8_000)
    await say(page, "hello!")
    await expect(page.locator("#output")).to_have_value(log_line("Server said: hello!"))


async def test_a_script_sent_as_a_message_is_shown_as_text_and_never_runs(stage, pages):
    server = await stage("broadcast-bus")
    sender = await pages.open(server.url + "chat.html")
    reader = await pages.open(server.url + "chat.html")
    for page in (sender, reader):
        await expect(page.locator("#output")).to_have_value(log_line(OPEN))
    dialogs: list[str] = []
    for page in (sender, reader):
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))

    await say(sender, XSS)
    for page in (sender, reader):
        await expect(page.locator("#output")).to_have_value(log_line(f"Server said: {XSS}"))
        assert await page.evaluate("window.xssRan") is None
        assert await page.locator("img").count() == 0
        assert await page.locator("form script").count() == 0
    await expect(sender.locator("#output")).to_have_value(log_line(f"You said: {XSS}"))
    assert dialogs == []
    assert pages.errors == []


@pytest.mark.parametrize("path", ["", "chat.html", "json.html", "socketio.html"])
async def test_every_page_loads_without_a_failed_request(stage, pages, path):
    """No ``/favicon.ico`` 404 at every load: the pages name their icon."""
    server = await stage("socketio-chat")
    page = await pages.open(server.url + path)
    await page.wait_for_load_state("networkidle")
    assert pages.failed == []
    assert await page.evaluate("document.querySelector('link[rel=icon]').href") == server.url + "favicon.svg"
