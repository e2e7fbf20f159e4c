"""Hub-ready, for real: the pages through jupyter-server-proxy chat with a widget in a kernel.

A real ``jupyter server`` runs on loopback with a token and the base URL a hub gives a student
(``/user/ada/``). Its kernel serves each stage and connects a widget to it; Chromium, logged
in to that Jupyter server, opens ``chat.html``, ``json.html`` and ``socketio.html`` only through
``/user/ada/proxy/PORT/`` (the address the notebook's ``page`` prints there), and the page and
the widget talk both ways.
"""

from __future__ import annotations

import re

import pytest
import pytest_asyncio
from jupyter_support import BASE, JupyterServer, RemoteKernel
from pagelog import log_line
from playwright.async_api import expect

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def hub(tmp_path, browser):
    server = JupyterServer(tmp_path)
    try:
        await server.start()
        kernel = RemoteKernel(server)
        try:
            await kernel.start()
            yield server, kernel
        finally:
            await kernel.stop()
    finally:
        await server.stop()  # the server and its kernels, whatever happened before


async def logged_in(pages, server: JupyterServer) -> None:
    """Follow the hub's link once: the Jupyter server's cookie then lets the proxy through."""
    page = await pages.open(f"{server.url}api/status?token={server.token}")
    await page.close()


async def serve(kernel: RemoteKernel, stage: str, page: str) -> str:
    """Start ``stage`` in the kernel; the path of ``page`` as the kernel prints it."""
    printed = await kernel.run(
        "from helpers import start_server\n"
        "from helpers.kernel.show import page\n"
        "from helpers.stages import STAGES\n"
        f"server = await start_server(STAGES[{stage!r}]())\n"
        f"page(server, {page!r}, embed=False)"
    )
    match = re.search(r"Page at (\S+)", printed)
    assert match, printed
    return match[1]


async def test_chat_html_through_the_proxy_talks_with_a_widget(hub, pages):
    server, kernel = hub
    await logged_in(pages, server)
    path = await serve(kernel, "broadcast-bus", "chat.html")
    assert re.fullmatch(rf"{BASE}proxy/\d+/chat\.html", path), "the kernel links through the proxy"
    await kernel.run(
        "from helpers.clients.widgets import ChatClient\n"
        "widget = ChatClient('widget')\n"
        "assert await widget.connect(server.ws_url)"
    )
    chat = await pages.open(f"http://127.0.0.1:{server.port}{path}")
    proxied_ws = f"ws://127.0.0.1:{server.port}{path.removesuffix('chat.html')}"
    await expect(chat.locator("#status")).to_have_text(f"Connected to {proxied_ws}")
    await kernel.run("mark = widget.mark()")  # a wait counts what arrives after a mark
    await chat.fill("#message", "hi from the proxied page")
    await chat.click("#send")
    await kernel.run("await widget.wait_for('Server said: hi from the proxied page', since=mark)")
    await kernel.run("await widget.say('hi from the kernel')")
    await expect(chat.locator("#output")).to_have_value(log_line("Server said: hi from the kernel"))
    await kernel.run("await widget.disconnect()")
    assert pages.errors == [] and pages.failed == []


async def test_json_html_through_the_proxy_talks_with_a_widget(hub, pages):
    server, kernel = hub
    await logged_in(pages, server)
    path = await serve(kernel, "json", "json.html")
    await kernel.run(
        "from helpers.clients.widgets import JsonChatClient\n"
        "widget = JsonChatClient('carol')\n"
        "assert await widget.connect(server.ws_url)\n"
        "await widget.nick('carol')\n"
        "await widget.wait_for('* carol joined')"
    )
    chat = await pages.open(f"http://127.0.0.1:{server.port}{path}")
    await expect(chat.locator("#status")).to_have_text(re.compile("Connected to ws://"))
    await kernel.run("mark = widget.mark()")
    await chat.fill("#nick", "ada")
    await chat.click("#nick-form input[type=submit]")
    await chat.fill("#message", "hello carol")
    await chat.press("#message", "Enter")
    await kernel.run("await widget.wait_for('ada: hello carol', since=mark)")
    await kernel.run("await widget.say('hi ada, from the kernel')")
    await expect(chat.locator("#output")).to_have_value(log_line("carol: hi ada, from the kernel"))
    await kernel.run("await widget.disconnect()")
    assert pages.errors == [] and pages.failed == []


async def test_socketio_html_through_the_proxy_talks_with_a_widget(hub, pages):
    """Long-polling first, then the upgrade to a websocket: both through the proxy."""
    server, kernel = hub
    await logged_in(pages, server)
    path = await serve(kernel, "socketio-chat", "socketio.html")
    await kernel.run(
        "from helpers.clients.socketio_widgets import SocketIOChatClient\n"
        "widget = SocketIOChatClient('carol')\n"
        "assert await widget.connect(server.url)"
    )
    chat = await pages.open(f"http://127.0.0.1:{server.port}{path}")
    socketio_path = path.removesuffix("socketio.html") + "socket.io"  # derived by the page itself
    await expect(chat.locator("#status")).to_have_text(f"Connected to {socketio_path}")
    await kernel.run("mark = widget.mark()")
    await chat.fill("#message", "hello from behind the proxy")
    await chat.click("#send")
    await kernel.run("await widget.wait_for(': hello from behind the proxy', since=mark)")
    await kernel.run("await widget.say('hi, page')")
    await expect(chat.locator("#output")).to_have_value(log_line("carol: hi, page"))
    upgrades = [url for url in pages.websockets if "transport=websocket&sid=" in url]
    assert upgrades and all(f"{socketio_path}/" in url for url in upgrades), pages.websockets
    await kernel.run("await widget.disconnect()")
    assert pages.errors == [] and pages.failed == []
