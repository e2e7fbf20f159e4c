"""Who may show a page in a frame (CSP ``frame-ancestors``), in a real Chromium.

JupyterLab shows a page in an IFrame (``helpers.kernel.show.PageFrame``): JupyterLab is served from
its own port on localhost or 127.0.0.1, the page from the workbook's. That must still work;
a page of any other site (here 127.0.0.2, standing in for one) must not frame the chat (it
could lay buttons over it and trick a student into clicking).
"""

from __future__ import annotations

import pytest
from aiohttp import web

from helpers.kernel.lifecycle import start_server, stop_server
from helpers.stages import STAGES

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def framing_site(host: str, page_url: str) -> web.AppRunner:
    """A site at ``host`` (a free port) whose only page frames ``page_url``, as JupyterLab does."""

    async def index(_: web.Request) -> web.Response:
        return web.Response(text=f'<iframe id="chat" src="{page_url}"></iframe>', content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, 0).start()
    return runner


async def framed_title(pages, host: str, page_url: str) -> str:
    runner = await framing_site(host, page_url)
    try:
        port = runner.addresses[0][1]
        parent = await pages.open(f"http://{host}:{port}/")  # waits for "load": the frame's too
        frame = next((f for f in parent.frames if f is not parent.main_frame), None)
        assert frame is not None
        return "blocked" if frame.url.startswith("chrome-error:") else await frame.title()
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("lab", ["localhost", "127.0.0.1"])
async def test_a_local_jupyterlab_may_frame_a_page(pages, lab):
    server = await start_server(STAGES["static"](), port=0, quiet=True)
    try:
        assert await framed_title(pages, lab, f"{server.url}chat.html") == "Chat with Websockets"
    finally:
        await stop_server(quiet=True)


async def test_another_site_may_not_frame_a_page(pages):
    server = await start_server(STAGES["static"](), port=0, quiet=True)
    try:
        assert await framed_title(pages, "127.0.0.2", f"{server.url}chat.html") == "blocked"
    finally:
        await stop_server(quiet=True)
