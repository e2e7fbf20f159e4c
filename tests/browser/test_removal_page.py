"""A page the teacher removes stays out across reloads and new names; the others chat on.

Notebook 10's own moderation cell (``remove``, ``let_back``) against its class chat, shared on
127.0.0.2, with json.html in a real Chromium. Measured before: a reload came back as "erin2"
within 2 s. Now the removal gives everyone else a new join key over their open connections:
the removed page's reload has the old key and is told to ask for the link; the other pages
keep the new key (address bar included) and come back with it after the server drops them.
"""

from __future__ import annotations

import asyncio

import pytest
from pagelog import log_count, log_line
from playwright.async_api import expect

from helpers.kernel import share
from helpers.kernel.join import hand_out_a_new_key
from helpers.kernel.lifecycle import start_server, stop_server
from helpers.server.app import raw_websockets
from helpers.server.sio.hold import CLIENT_DIST
from helpers.server.sio.serving import SIO
from helpers.stages import STAGES, json_chat
from tests.moderation_support import moderation_cell

pytestmark = pytest.mark.asyncio(loop_scope="session")

OPEN = "The websocket is now open."
NEEDS_LINK = "This chat needs the link with its key: ask your teacher."
NEW_KEY = "The chat has a new key: this page keeps it (the address bar has it)."
REMOVED = "Removed from the chat: please stay on topic"
NOT_CONNECTED = "The websocket is not connected to a server."


async def nick(page, name: str) -> None:
    await page.fill("#nick", name)
    await page.click("#set-nick")


async def say(page, text: str) -> None:
    await page.fill("#message", text)
    await page.click("#send")


async def test_a_removed_page_stays_out_after_a_reload_and_a_new_name_while_carol_chats_on(
    pages, monkeypatch
):
    monkeypatch.setenv(share.ADDRESS_VARIABLE, "127.0.0.2")
    moderation = moderation_cell()
    server = await start_server(moderation["make_class_app"](), port=0, quiet=True, share=True)
    try:
        carol, dave = await pages.open(server.share_url), await pages.open(server.share_url)
        for page, name in ((carol, "carol"), (dave, "dave")):
            await expect(page.locator("#output")).to_have_value(log_line(OPEN))
            await nick(page, name)
        await expect(carol.locator("#output")).to_have_value(log_line("* dave joined"))
        old_link = server.share_url

        await moderation["remove"](server, "dave", "please stay on topic")
        await expect(dave.locator("#output")).to_have_value(log_line(REMOVED))
        await expect(carol.locator("#output")).to_have_value(log_line(NEW_KEY))
        assert carol.url == server.share_url != old_link, "carol's address bar has the new key"
        assert dave.url == old_link

        await dave.reload()  # the old key: told to ask for the link, and stops
        await expect(dave.locator("#status")).to_have_text(NEEDS_LINK)
        await nick(dave, "erin2")  # a new name doesn't help
        await expect(dave.locator("#output")).to_have_value(log_line(NOT_CONNECTED))
        await asyncio.sleep(2.5)
        assert sorted(server.app[json_chat.NICKS].values()) == ["carol"]

        for ws in raw_websockets(server.app):  # the server drops carol: she comes back with the new key
            await ws.close(code=1012, message=b"restarting")
        await expect(carol.locator("#output")).to_have_value(log_count(OPEN, 2), timeout=8_000)
        assert pages.websockets[-1].endswith(f"?key={server.key}")
        await say(carol, "still here")
        await expect(carol.locator("#output")).to_have_value(log_line("carol: still here"))
        await carol.reload()  # her address bar's link opens the chat
        await expect(carol.locator("#output")).to_have_value(log_line(OPEN))

        moderation["let_back"](server, "dave")
        await dave.goto(server.share_url)  # the link the teacher gives him
        await expect(dave.locator("#output")).to_have_value(log_line(OPEN))
        await nick(dave, "dave")
        await expect(dave.locator("#output")).to_have_value(log_line("* dave joined"))
    finally:
        await stop_server(quiet=True)
    assert pages.errors == []


async def test_a_socketio_page_keeps_a_new_key_and_comes_back_with_it(pages, monkeypatch):
    if not (CLIENT_DIST / "socket.io.esm.min.js").is_file():
        pytest.skip("the Socket.IO client bundle is missing: run `npm ci`")
    monkeypatch.setenv(share.ADDRESS_VARIABLE, "127.0.0.2")
    server = await start_server(STAGES["socketio"](), port=0, quiet=True, share=True)
    try:
        page = await pages.open(server.share_url)
        await expect(page.locator("#output")).to_have_value(log_line("Connected."))
        old_link = server.share_url
        await hand_out_a_new_key(server)
        await expect(page.locator("#output")).to_have_value(log_line(NEW_KEY))
        assert page.url == server.share_url != old_link
        sio = server.app[SIO]
        for sid in list(sio.manager.get_participants("/", None)):
            await sio.disconnect(sid[0])  # the server sends the page away: it comes back, with the new key
        await expect(page.locator("#output")).to_have_value(log_count("Connected.", 2), timeout=8_000)
        await page.reload()
        await expect(page.locator("#output")).to_have_value(log_line("Connected."))
    finally:
        await stop_server(quiet=True)
    assert pages.errors == []
