"""The pages on a phone, in a real Chromium with a phone's screen: readable without zooming.

A page without ``<meta name="viewport">`` is laid out 980 CSS px wide and shown zoomed out to
fit the phone (scale 0.40 on a 390 px screen: 16 px text shows at about 6 px). Each chat page
is opened as a student's phone opens the shared link (360, 390 and 412 CSS px wide, 844 high,
3 device pixels a CSS pixel, touch), connected, with a long line in its log, and must fit the
screen at scale 1 with text of at least 16 px (smaller text in an input also makes the phone
zoom in when it is tapped).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from pagelog import log_line
from playwright.async_api import expect

from helpers.kernel import share
from helpers.kernel.lifecycle import start_server, stop_server
from helpers.server.sio.hold import CLIENT_DIST
from helpers.stages import STAGES

pytestmark = pytest.mark.asyncio(loop_scope="session")

PHONE = {"device_scale_factor": 3, "is_mobile": True, "has_touch": True}
WIDTHS = [360, 390, 412]  # CSS px: the narrow Androids, an iPhone 12 to 15, the wide Androids
READABLE_PX = 16
LONG_WORD = "a-link-nobody-breaks:" + "x" * 120  # no space to wrap at

PAGES = [  # page, the stage it chats with, the element a student reads, what shows it connected
    ("chat.html", "broadcast-bus", "#output", "The websocket is now open."),
    ("json.html", "json", "#output", "The websocket is now open."),
    ("socketio.html", "socketio", "#output", "Connected."),
    ("index.html", "static", "body", None),
]

MEASURE = """() => ({
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    scale: window.visualViewport.scale,
    fontSizes: Object.fromEntries(
        Array.from(document.querySelectorAll('body, input, textarea, li, p'), (element, i) => [
            `${element.tagName.toLowerCase()}#${element.id || i}`,
            parseFloat(getComputedStyle(element).fontSize)
        ])
    ),
    widest: Math.max(
        ...Array.from(document.querySelectorAll('body *'), (e) => e.getBoundingClientRect().right)
    )
})"""


@pytest_asyncio.fixture(loop_scope="session", params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
async def phone(browser, request) -> AsyncIterator:
    """A browser context that is a phone ``request.param`` CSS px wide (844 high)."""
    viewport = {"width": request.param, "height": 844}
    context = await browser.new_context(locale="en-US", viewport=viewport, **PHONE)
    context.set_default_timeout(5_000)
    try:
        yield context
    finally:
        await context.close()
        await stop_server(quiet=True)


@pytest.mark.parametrize(("path", "stage", "reading", "connected"), PAGES, ids=[p[0] for p in PAGES])
async def test_every_page_fits_a_phone_screen_at_scale_1_with_readable_text(
    phone, monkeypatch, path, stage, reading, connected
):
    if path == "socketio.html" and not (CLIENT_DIST / "socket.io.esm.min.js").is_file():
        pytest.skip("the Socket.IO client bundle is missing: run `npm ci`")
    monkeypatch.setenv(share.ADDRESS_VARIABLE, "127.0.0.2")  # a long status: the shared link's key
    server = await start_server(STAGES[stage](), port=0, quiet=True, share=True)
    page = await phone.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(server.sharing.url(server.port, path))
    if connected is not None:
        await expect(page.locator("#output")).to_have_value(log_line(connected))
        await page.fill("#message", LONG_WORD)
        await page.click("#send")  # a line longer than the screen, in the log
        await page.locator(reading).tap()
    seen = await page.evaluate(MEASURE)
    width = page.viewport_size["width"]
    assert seen["innerWidth"] == width, f"laid out {seen['innerWidth']} px wide on a {width} px screen"
    assert seen["scale"] == 1, f"shown at scale {seen['scale']}: the text is tiny"
    assert seen["scrollWidth"] <= seen["innerWidth"], f"scrolls sideways: {seen}"
    assert seen["widest"] <= seen["innerWidth"], f"something sticks out: {seen}"
    small = {where: size for where, size in seen["fontSizes"].items() if size < READABLE_PX}
    assert small == {}, f"text under {READABLE_PX} px on a phone: {small}"
    reading_size = await page.locator(reading).evaluate("(e) => parseFloat(getComputedStyle(e).fontSize)")
    assert reading_size >= READABLE_PX
    assert errors == []
