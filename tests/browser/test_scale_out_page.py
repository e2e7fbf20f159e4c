"""public/socketio.html in a real Chromium through nginx, in front of three socketio-chat
processes on one Redis (notebook 12). The page long-polls first (socket.io-client's default),
so each of its requests must reach the server that holds its session: nginx's sticky cookie.
Its server is killed; the page comes back through nginx on another and misses nothing."""

from __future__ import annotations

import asyncio

import pytest
import socketio
from browser_support import require
from pagelog import log_count, log_line
from playwright.async_api import expect
from scale_support import free_port, missing

from helpers.programs.nginx import start_nginx
from helpers.programs.process import start_serve, stop_all_programs
from helpers.programs.redis_server import start_redis
from helpers.server.sio.hold import CLIENT_DIST

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_page_through_nginx_chats_across_processes_and_survives_its_server(pages, tmp_path):
    require(missing("redis-server", "nginx") is None, missing("redis-server", "nginx") or "")
    require((CLIENT_DIST / "socket.io.esm.min.js").is_file(), "the socket.io client bundle: run make setup")
    redis = await start_redis()
    db = str(tmp_path / "chat.db")
    nodes = {
        name: await start_serve(name, free_port(), "chat-cluster", db=db, message_queue=redis.url)
        for name in ("node-a", "node-b", "node-c")
    }
    nginx = await start_nginx({name: node.port for name, node in nodes.items()}, port=free_port())
    python = socketio.AsyncClient(reconnection=False)
    try:
        page = await pages.open(nginx.url + "socketio.html")
        await expect(page.locator("#status")).to_have_text("Connected to /socket.io")
        await page.fill("#nick", "ada")
        await page.click("#nick-form input[type=submit]")
        (cookie,) = [c["value"] for c in await pages.context.cookies() if c["name"] == "chat_node"]
        other = next(name for name in nodes if name != cookie)  # a python client on another process
        heard: list[str] = []
        python.on("chat message", lambda line, *offsets: heard.append(line))
        await python.connect(f"http://127.0.0.1:{nodes[other].port}", auth={"nick": "py"}, wait_timeout=5)
        await expect(page.locator("#output")).to_have_value(log_line("* py connected"))
        assert (await python.call("who", timeout=5))["users"] == ["ada", "py"]
        await page.fill("#message", "hello across processes")
        await page.click("#send")
        await python.call("chat message", ("hi page", "py-1"), timeout=5)
        await expect(page.locator("#output")).to_have_value(log_line("py: hi page"))

        await nodes[cookie].kill()  # the page's server crashes
        await expect(page.locator("#status")).to_have_text("Not connected. Reconnecting...")
        await python.call("chat message", ("while you were away", "py-2"), timeout=5)
        await expect(page.locator("#status")).to_have_text("Connected to /socket.io", timeout=15_000)
        await expect(page.locator("#output")).to_have_value(log_line("py: while you were away"))
        await page.fill("#message", "back")
        await page.click("#send")
        await expect(page.locator("#output")).to_have_value(log_line("You said: back"))
        await asyncio.sleep(0.5)
        log = await page.locator("#output").input_value()
        assert log.count("py: hi page") == 1 and log.count("py: while you were away") == 1
        await expect(page.locator("#output")).not_to_have_value(log_count("py: hi page", 2))
        (after,) = [c["value"] for c in await pages.context.cookies() if c["name"] == "chat_node"]
        assert after != cookie, "nginx sent it to a live server, and marked it so"
        for _ in range(50):
            if "ada: back" in heard:
                break
            await asyncio.sleep(0.1)
        from_ada = [line for line in heard if line.startswith("ada:")]
        assert from_ada == ["ada: hello across processes", "ada: back"]
        assert pages.errors == []
    finally:
        await python.disconnect()
        await nginx.stop()
        await stop_all_programs()
        await redis.stop()
