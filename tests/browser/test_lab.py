"""The workbook in a real JupyterLab, in Chromium: what a student sees after Run All.

Notebook 05 is run as a student would ("Run All"): nothing fails, the server and the three
widgets stay live, a line typed into a widget's box goes out with Enter, and each widget shows
its newest line. After a kernel restart the same widgets no longer say "Connected". Notebook
01's embedded page, after Run All, is the page of the server that stays up.
"""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from helpers.clients.widgets import KERNEL_GONE
from tools.screenshots import NOTEBOOK, NOTEBOOK_READY, jupyterlab, run_all

pytestmark = pytest.mark.asyncio(loop_scope="session")

NEWEST_IN_VIEW = """chat => {
  const box = chat.querySelector('div[style*="overflow-y"]')
  const last = box.querySelector(':scope > div > div:last-child').getBoundingClientRect()
  const seen = box.getBoundingClientRect()
  return last.bottom <= seen.bottom + 1 && last.top >= seen.top - 1
}"""


async def test_after_run_all_the_widgets_are_live_and_enter_sends(browser):
    async with jupyterlab([NOTEBOOK]) as url:
        context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
        context.set_default_timeout(60_000)
        try:
            page = await context.new_page()
            await page.goto(url.format(name=NOTEBOOK.name))
            await run_all(page)  # fails on any error or stderr in any cell
            row = page.locator(".jp-CodeCell", has=page.locator(".widget-text input")).first
            await expect(row.locator(".widget-html", has_text="● Connected to ws://")).to_have_count(3)
            entries, chats = row.locator(".widget-text input"), row.locator(".widget-html-content")
            for n in range(12):  # more lines than a widget shows at once
                await entries.nth(1).fill(f"line {n} from bob, by Enter")
                await entries.nth(1).press("Enter")
                # as a person types: the next line once this one is out (typed within the same
                # few milliseconds, a line was once sent twice and the next one lost: noted in
                # issue 10's closing note as a widget race to fix)
                await expect(row).to_contain_text(f"You said: line {n} from bob, by Enter")
                await expect(entries.nth(1)).to_have_value("")
            await expect(row).to_contain_text("Server said: line 11 from bob, by Enter")
            await expect(entries.nth(1)).to_have_value("")
            alice_chat = chats.filter(has_text="Server said: line 11 from bob").first
            # the newest line is in view once the widget has laid its lines out (a frame or two)
            await page.wait_for_function(
                f"([chat]) => ({NEWEST_IN_VIEW})(chat)",
                arg=[await alice_chat.element_handle()],
                timeout=5_000,
            )
        finally:
            await context.close()


RESTART = """async () => {
  await window.jupyterapp.shell.currentWidget.sessionContext.restartKernel()
}"""

KERNEL_GONE_SHOWN = """el => getComputedStyle(el, '::after').content"""


async def test_after_a_kernel_restart_the_old_widgets_no_longer_say_connected(browser):
    """JupyterLab keeps the old kernel's widgets on screen after a restart, but nothing keeps
    them connected any more: their status must stop showing a green "Connected"."""
    async with jupyterlab([NOTEBOOK]) as url:
        context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
        context.set_default_timeout(60_000)
        try:
            page = await context.new_page()
            await page.goto(url.format(name=NOTEBOOK.name))
            await run_all(page)
            row = page.locator(".jp-CodeCell", has=page.locator(".widget-text input")).first
            live = row.locator(".chat-workbook-status", has_text="● Connected to ws://")
            await expect(live).to_have_count(3)
            for n in range(3):
                await expect(live.nth(n)).to_be_visible()
            gone = row.locator(".chat-workbook-kernel-gone")
            assert await gone.first.evaluate(KERNEL_GONE_SHOWN) in ("none", "normal"), "hidden while live"
            await page.evaluate(RESTART)
            await page.wait_for_function(NOTEBOOK_READY, timeout=60_000)
            for n in range(3):
                await expect(live.nth(n)).to_be_hidden()
                shown = await gone.nth(n).evaluate(KERNEL_GONE_SHOWN)
                assert shown == f'"{KERNEL_GONE}"', shown
        finally:
            await context.close()


FIRST = NOTEBOOK.parent / "01-start-the-server.ipynb"


async def test_after_run_all_notebook_01s_embedded_page_is_served(browser):
    """Run All renders the embedded page while later cells run: it must be the page of the
    server that stays up, not Chromium's "127.0.0.1 refused to connect"."""
    async with jupyterlab([FIRST]) as url:
        context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
        context.set_default_timeout(60_000)
        try:
            page = await context.new_page()
            await page.goto(url.format(name=FIRST.name))
            await run_all(page)
            frames = page.locator(".jp-CodeCell iframe")
            await expect(frames).to_have_count(1)
            frame = page.frame_locator(".jp-CodeCell iframe")
            await expect(frame.locator("#status")).to_contain_text("Not connected", timeout=10_000)
            await expect(frame.locator("#send")).to_be_visible()
        finally:
            await context.close()
