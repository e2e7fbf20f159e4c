"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, on one event loop.

The browser, the aiohttp server (``stage``) and the widget clients all run on the session's
asyncio loop, so a test can start and stop the server, click in a page and await a
``ChatClient`` in plain sequence. Chromium is the system one (``/usr/bin/chromium``, or
``WORKBOOK_CHROMIUM``); Playwright never downloads a browser. Every page may talk to
loopback only (``localhost``, ``::1`` and 127.0.0.0/8, where a shared server's "network
address" is 127.0.0.2): other hosts don't resolve, and any request to one fails the test.

Without Chromium the tests are skipped with the reason; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from browser_support import chromium_missing, require

from helpers.kernel.lifecycle import RunningServer, start_server, stop_server
from helpers.programs.chromium import CHROMIUM, CHROMIUM_ARGS
from helpers.stages import STAGES

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TIMEOUT_MS = 5_000
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
"""Where a failed test's pages are photographed (CI uploads ``test-artifacts/``)."""
FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    """Note on the test whether its body failed, for ``pages`` to photograph its pages."""
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser():
    """One headless Chromium for the whole run (each test gets its own context)."""
    missing = chromium_missing()
    require(missing is None, missing or "")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()


class Pages:
    """Opens pages in one fresh browser context; records page errors and foreign requests."""

    def __init__(self, context) -> None:
        self.context = context
        self.errors: list[str] = []  # uncaught exceptions in any page
        self.console_errors: list[str] = []  # console.error, e.g. a refused websocket
        self.failed: list[str] = []  # responses of status 400 or more, e.g. a missing favicon
        self.websockets: list[str] = []  # the URL of every websocket a page opened
        self.foreign: list[str] = []

    async def open(self, url: str):
        page = await self.context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        page.on(
            "console",
            lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("websocket", lambda websocket: self.websockets.append(websocket.url))
        page.on(
            "response",
            lambda response: self.failed.append(f"{response.status} {response.url}")
            if response.status >= 400
            else None,
        )
        await page.goto(url)
        return page

    async def _guard(self, route) -> None:
        if _loopback(urlsplit(route.request.url).hostname):
            await route.continue_()
        else:
            self.foreign.append(route.request.url)
            await route.abort()


async def _photograph(context, test: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", test)[-150:]
    for number, page in enumerate(context.pages):
        try:
            await page.screenshot(path=SCREENSHOTS / f"{name}-{number}.png", full_page=True)
        except Exception as exc:  # a page that crashed still leaves the others' pictures
            print(f"no screenshot of {page.url}: {exc}")


def _loopback(hostname: str | None) -> bool:
    if hostname in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(hostname or "").is_loopback
    except ValueError:
        return False


@pytest_asyncio.fixture(loop_scope="session")
async def pages(browser, request: pytest.FixtureRequest) -> AsyncIterator[Pages]:
    """``await pages.open(url)``: a page in this test's own browser context.

    When the test fails, each of its pages is photographed into ``SCREENSHOTS`` first.
    """
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = await browser.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    opened = Pages(context)
    await context.route("**/*", opened._guard)
    try:
        yield opened
    finally:
        if request.node.stash.get(FAILED, False):
            await _photograph(context, request.node.nodeid)
        await context.close()
    assert opened.foreign == [], f"pages tried to reach hosts other than loopback: {opened.foreign}"


@pytest_asyncio.fixture(loop_scope="session")
async def stage() -> AsyncIterator[Callable[..., Awaitable[RunningServer]]]:
    """``await stage("broadcast")`` serves that stage on loopback (port 0 unless given)."""

    async def _start(name: str, *, port: int = 0, **options) -> RunningServer:
        return await start_server(STAGES[name](**options), port=port, quiet=True)

    yield _start
    await stop_server(quiet=True)
