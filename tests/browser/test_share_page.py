"""A shared server's pages in a real Chromium: the link with its join key chats, without it not.

Without the key, or with an old one, a page says it needs the link with its key, and stops.
The server is shared on 127.0.0.2 (loopback, standing in for the classroom network), so the
pages come from another address and origin than the kernel's 127.0.0.1, as a student's would.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
import socketio
from browser_support import require
from pagelog import log_line
from playwright.async_api import expect

from helpers.clients.widgets import ChatClient
from helpers.common.quiet import quiet_logger
from helpers.common.waiting import Changes
from helpers.kernel import share
from helpers.kernel.lifecycle import RunningServer, start_server, stop_server
from helpers.server.sio.hold import CLIENT_DIST
from helpers.stages import STAGES

pytestmark = pytest.mark.asyncio(loop_scope="session")

NETWORK = "127.0.0.2"
OPEN = "The websocket is now open."
REFUSAL = "Refused a connection without the join key"
NEEDS_LINK = "This chat needs the link with its key: ask your teacher."


@pytest_asyncio.fixture(loop_scope="session")
async def shared(monkeypatch) -> AsyncIterator[Callable[[str], Awaitable[RunningServer]]]:
    """``await shared("broadcast-bus")``: that stage shared on 127.0.0.2 (and 127.0.0.1), free port."""
    monkeypatch.setenv(share.ADDRESS_VARIABLE, NETWORK)

    async def _start(name: str) -> RunningServer:
        return await start_server(STAGES[name](), port=0, quiet=True, share=True)

    yield _start
    await stop_server(quiet=True)


@pytest.fixture
def socketio_client_bundle() -> None:
    require(
        (CLIENT_DIST / "socket.io.esm.min.js").is_file(),
        f"{os.path.relpath(CLIENT_DIST)}/socket.io.esm.min.js is missing: run `npm ci` (make setup does)",
    )


async def say(page, text: str) -> None:
    await page.fill("#message", text)
    await page.click("#send")


def refusals(server: RunningServer) -> list[str]:
    return [line for line in server.log.lines if REFUSAL in line]


async def at_least(count: int, what: Callable[[], int], timeout: float) -> None:
    """Wait until ``what()`` reaches ``count`` (a page's retries), or fail saying how far it got."""
    try:
        async with asyncio.timeout(timeout):
            while what() < count:
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"expected at least {count} attempts in {timeout} s, saw {what()}")


async def test_the_shared_chat_page_with_its_key_chats_with_the_teachers_widget(shared, pages):
    server = await shared("broadcast-bus")
    assert server.share_url == f"http://{NETWORK}:{server.port}/chat.html?key={server.key}"
    student = await pages.open(server.share_url)
    await expect(student.locator("#output")).to_have_value(log_line(OPEN))
    websocket = f"ws://{NETWORK}:{server.port}/?key={server.key}"
    await expect(student.locator("#status")).to_have_text(f"Connected to {websocket}")
    teacher = ChatClient("teacher")
    assert await teacher.connect(server.ws_url)
    try:
        await server.log.wait_for("Client connected (2 open).")
        await say(student, "hello from a student's laptop")
        await teacher.wait_for("Server said: hello from a student's laptop")
        await teacher.say("welcome!")
        await expect(student.locator("#output")).to_have_value(log_line("Server said: welcome!"))
    finally:
        await teacher.disconnect()
    assert pages.websockets == [websocket]
    assert refusals(server) == [] and pages.errors == []


async def stays_stopped(attempts: Callable[[], int], seconds: float = 2.5) -> None:
    """No new attempt in ``seconds`` (the pages retry after 1, 2, 4... s): the page stopped trying."""
    before = attempts()
    await asyncio.sleep(seconds)
    assert attempts() == before, f"the page kept trying: {before} attempts, then {attempts()}"


@pytest.mark.parametrize("link", ["chat.html", "chat.html?key=not-the-key"], ids=["no key", "wrong key"])
async def test_the_chat_page_without_its_key_says_it_needs_the_link_and_stops_trying(shared, pages, link):
    server = await shared("broadcast-bus")
    page = await pages.open(f"http://{NETWORK}:{server.port}/{link}")
    await expect(page.locator("#status")).to_have_text(NEEDS_LINK)
    await expect(page.locator("#output")).to_have_value(log_line(NEEDS_LINK))
    await stays_stopped(lambda: len(pages.websockets))
    assert len(pages.websockets) == 1, "refused once, asked why, stopped"
    await say(page, "let me in?")
    not_connected = log_line("The websocket is not connected to a server.")
    await expect(page.locator("#output")).to_have_value(not_connected)
    assert OPEN not in await page.locator("#output").input_value()
    assert refusals(server) == [f"{REFUSAL} (or an old one)."], "logged once"
    assert "Client connected" not in "\n".join(server.log.lines)


async def test_a_chat_page_whose_key_was_right_then_changed_says_it_needs_the_new_link(shared, pages):
    server = await shared("broadcast-bus")
    page = await pages.open(server.share_url)
    await expect(page.locator("#output")).to_have_value(log_line(OPEN))
    old_key = server.key
    # a new key
    server = await start_server(STAGES["broadcast-bus"](), port=server.port, quiet=True, share=True)
    assert server.key != old_key
    await expect(page.locator("#output")).to_have_value(log_line("Websocket is now closed."))
    await expect(page.locator("#status")).to_have_text(NEEDS_LINK, timeout=8_000)
    await stays_stopped(lambda: len(pages.websockets))
    assert (await page.locator("#output").input_value()).count(OPEN) == 1


async def test_the_shared_socketio_page_with_its_key_chats_with_a_python_client(
    socketio_client_bundle, shared, pages
):
    server = await shared("socketio")
    assert server.share_url == f"http://{NETWORK}:{server.port}/socketio.html?key={server.key}"
    student = await pages.open(server.share_url)
    await expect(student.locator("#output")).to_have_value(log_line("Connected."))
    got: list[str] = []
    changes = Changes()

    def heard(msg, *_):
        got.append(msg)
        changes.notify()

    python = socketio.AsyncClient(reconnection=False, logger=quiet_logger(), engineio_logger=quiet_logger())
    python.on("chat message", heard)
    await python.connect(server.link(), transports=["websocket"], wait_timeout=5)
    try:
        await server.log.wait_for("a user connected", count=2)
        await say(student, "hi from the class")
        await changes.wait_until(lambda: "hi from the class" in got, timeout=5, describe=lambda: f"got {got}")
        await python.emit("chat message", "hi from the teacher")
        await expect(student.locator("#output")).to_have_value(log_line("hi from the teacher"))
    finally:
        await python.disconnect()
    assert refusals(server) == [] and pages.errors == []


@pytest.mark.parametrize(
    "link", ["socketio.html", "socketio.html?key=not-the-key"], ids=["no key", "wrong key"]
)
async def test_the_socketio_page_without_its_key_says_it_needs_the_link_and_stops_trying(
    socketio_client_bundle, shared, pages, link
):
    server = await shared("socketio")
    page = await pages.open(f"http://{NETWORK}:{server.port}/{link}")
    await server.log.wait_for(REFUSAL)

    def refused_requests() -> int:
        return sum(1 for failed in pages.failed if failed.startswith("403 ") and "/socket.io/" in failed)

    await expect(page.locator("#status")).to_have_text(NEEDS_LINK)
    await expect(page.locator("#output")).to_have_value(log_line(NEEDS_LINK))
    await stays_stopped(refused_requests)
    assert "Connected." not in await page.locator("#output").input_value()
    assert refusals(server) == [f"{REFUSAL} (or an old one)."], "logged once"
    assert "a user connected" not in server.log.lines
