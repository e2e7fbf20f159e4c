"""public/json.html in a real Chromium on the ``json`` stage, with a widget client beside it."""

from __future__ import annotations

import asyncio

import pytest
from pagelog import log_line
from playwright.async_api import expect

from helpers.clients.widgets import JsonChatClient
from helpers.server.app import SOCKETS
from helpers.stages import json_chat

pytestmark = pytest.mark.asyncio(loop_scope="session")

XSS = '<img src=x onerror="window.xssRan = true">'


async def nick(page, name: str) -> None:
    await page.fill("#nick", name)
    await page.click("#set-nick")


async def say(page, text: str) -> None:
    await page.fill("#message", text)
    await page.click("#send")


async def test_pages_and_a_widget_chat_with_nicknames_over_json(stage, pages):
    server = await stage("json")
    ada = await pages.open(server.url + "json.html")
    bob = await pages.open(server.url + "json.html")
    for page in (ada, bob):
        await expect(page.locator("#output")).to_have_value(log_line("The websocket is now open."))
        await expect(page.locator("#status")).to_have_text(f"Connected to {server.ws_url}")

    await nick(ada, "ada")
    await expect(ada.locator("#output")).to_have_value(log_line("* ada joined"))
    await nick(bob, "bob")
    await expect(ada.locator("#output")).to_have_value(log_line("* bob joined"))
    widget = JsonChatClient("carol")
    assert await widget.connect(server.ws_url)
    try:
        await widget.nick("carol")
        await say(ada, "hello, JSON world")
        await expect(ada.locator("#message")).to_have_value("")
        await widget.say("carol here")
        for page in (ada, bob):
            output = page.locator("#output")
            await expect(output).to_have_value(log_line("* carol joined"))
            await expect(output).to_have_value(log_line("ada: hello, JSON world"))
            await expect(output).to_have_value(log_line("carol: carol here"))
        await widget.wait_for_messages(3)  # its join, ada's line, its own line
        assert "ada: hello, JSON world" in widget.lines

        await bob.click("#who")
        await expect(bob.locator("#output")).to_have_value(log_line("Online: ada, bob, carol"))

        await nick(bob, "ada")  # taken: an error to bob only
        await expect(bob.locator("#output")).to_have_value(log_line("Error: nickname 'ada' is taken"))
        await nick(bob, "bobby")
        await expect(ada.locator("#output")).to_have_value(log_line("* bob is now bobby"))
        assert "Error:" not in await ada.locator("#output").input_value()

        await say(bob, XSS)
        await expect(ada.locator("#output")).to_have_value(log_line(f"bobby: {XSS}"))
        assert await ada.evaluate("window.xssRan") is None
        assert await ada.locator("img").count() == 0

        await bob.close()
        await expect(ada.locator("#output")).to_have_value(log_line("* bobby left"))
        await widget.wait_for_messages(6)  # join, 2 chats, rename, chat, leave
        assert widget.lines[-1] == "* bobby left"
    finally:
        await widget.disconnect()
    assert pages.errors == []


async def test_a_page_the_teacher_removes_says_why_and_stays_away(stage, pages):
    """Review: a page closed with an application code (4000-4999) reconnected at once, so a
    removal (notebook 10's moderation cell) did not hold for pages."""
    server = await stage("json")
    dave = await pages.open(server.url + "json.html")
    await expect(dave.locator("#output")).to_have_value(log_line("The websocket is now open."))
    await nick(dave, "dave")
    await expect(dave.locator("#output")).to_have_value(log_line("* dave joined"))
    (ws,) = server.app[json_chat.NICKS]
    await ws.close(code=4000, message=b"please stay on topic")
    output = dave.locator("#output")
    await expect(output).to_have_value(log_line("Removed from the chat: please stay on topic"))
    await expect(dave.locator("#status")).to_have_text("Not connected: removed from the chat.")
    await asyncio.sleep(3.5)  # past the page's first retry delays (1 s, 2 s)
    assert not server.app[SOCKETS], "the page stayed away"
    assert (await output.input_value()).count("The websocket is now open.") == 1
    assert pages.errors == []
