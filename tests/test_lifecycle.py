"""Every promise of helpers.kernel.lifecycle, with real servers and clients on loopback."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import pytest
import websockets
from aiohttp import web

from helpers.kernel import lifecycle
from helpers.kernel.lifecycle import PortInUseError, current_server, start_server, stop_server
from helpers.stages import echo, static


async def get_status(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status


async def test_start_prints_one_line_with_the_url_and_serves(capsys):
    server = await start_server(static.make_app(), port=0)
    try:
        out = capsys.readouterr().out
        assert out == f"Listening at port {server.port}: http://127.0.0.1:{server.port}/\n"
        assert server.host == "127.0.0.1"
        assert await get_status(server.url + "chat.html") == 200
        assert server.log.lines == [f"Listening at port {server.port}"]
    finally:
        await stop_server()


async def test_restart_with_a_new_app_replaces_the_old_server(free_port):
    first = await start_server(static.make_app(), port=free_port, quiet=True)
    second = await start_server(echo.make_app(), port=free_port, quiet=True)
    try:
        assert current_server() is second
        assert second.port == first.port == free_port
        async with websockets.connect(second.ws_url) as ws:
            await ws.send("hi")
            assert await asyncio.wait_for(ws.recv(), 3) == "hi"
    finally:
        await stop_server(quiet=True)


async def test_restart_with_the_same_app_object_works(free_port):
    app = static.make_app()
    await start_server(app, port=free_port, quiet=True)
    await start_server(app, port=free_port, quiet=True)
    try:
        assert await get_status(f"http://127.0.0.1:{free_port}/") == 200
    finally:
        await stop_server(quiet=True)


async def test_port_held_by_another_program_gives_one_clear_line(free_port):
    with socket.socket() as other:
        other.bind(("127.0.0.1", free_port))
        other.listen()
        with pytest.raises(PortInUseError) as caught:
            await start_server(static.make_app(), port=free_port, quiet=True)
    message = caught.value._render_traceback_()
    assert len(message) == 1
    assert f"Port {free_port}" in message[0]
    assert f"port={free_port + 1}" in message[0]
    assert current_server() is None


async def test_stop_closes_websockets_with_1001_quickly_with_clients_connected(serve):
    server = await serve(echo.make_app())
    clients = [await websockets.connect(server.ws_url) for _ in range(3)]
    await server.log.wait_for("Client connected (3 open)")
    started = time.monotonic()
    await stop_server()
    elapsed = time.monotonic() - started
    assert elapsed < 3.0
    for client in clients:
        await asyncio.wait_for(client.wait_closed(), 3)
        assert client.close_code == 1001


async def test_stop_is_quick_even_when_a_client_never_answers_the_close(serve):
    server = await serve(echo.make_app())
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert b"101" in await asyncio.wait_for(reader.readline(), 3)
    await server.log.wait_for("Client connected (1 open)")
    started = time.monotonic()
    await stop_server()
    assert time.monotonic() - started < 3.0
    writer.close()


async def test_stop_is_idempotent_and_says_when_nothing_runs(capsys):
    await stop_server()
    await stop_server()
    assert capsys.readouterr().out == "No server is running.\nNo server is running.\n"


async def test_stop_frees_the_port(free_port):
    await start_server(static.make_app(), port=free_port, quiet=True)
    await stop_server(quiet=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port))


async def test_handler_exception_is_logged_and_shown_in_the_next_cell(serve, capsys, caplog):
    async def boom(request: web.Request) -> web.Response:
        raise ZeroDivisionError("division by zero")

    app = static.make_app()
    app.router.add_get("/boom", boom)
    server = await serve(app)
    assert await get_status(server.url + "boom") == 500
    assert "Error in GET /boom: ZeroDivisionError: division by zero" in server.log.lines
    assert len(server.log.errors) == 1, "recorded once, though aiohttp logs it too"
    # not through logging's global loggers, whose output lands on stderr, in a random cell:
    assert [r.getMessage() for r in caplog.records] == []
    lifecycle.report_to_next_cell()  # what the pre_run_cell hook calls before each cell
    assert capsys.readouterr().out == "Server: Error in GET /boom: ZeroDivisionError: division by zero\n"
    lifecycle.report_to_next_cell()
    assert capsys.readouterr().out == "", "an error is shown once"


async def test_background_task_exception_is_logged(serve):
    server = await serve(static.make_app())

    async def ticker() -> None:
        raise RuntimeError("tick failed")

    task = server.spawn(ticker(), name="ticker")
    await asyncio.wait([task])
    await server.log.wait_for("tick failed")
    assert server.log.errors[0].summary == (
        "Error in background task 'ticker': RuntimeError: tick failed"
    )


async def test_stop_cancels_spawned_tasks(serve):
    server = await serve(static.make_app())
    task = server.spawn(asyncio.sleep(3600), name="sleeper")
    await stop_server(quiet=True)
    assert task.cancelled()


async def test_a_plain_app_written_by_hand_gets_the_plumbing(serve):
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    server = await serve(app)
    assert await get_status(server.url) == 200
    assert server.clients == 0


async def test_a_kernel_without_that_server_does_not_hand_over_a_port():
    """Two notebooks asking at once: the second gets "not released", not a bogus yes."""
    assert lifecycle.current_server() is None
    assert await lifecycle._hand_over(3000, "another notebook") is False


async def test_named_servers_run_side_by_side_each_with_its_own_log_and_stop(capsys):
    """Notebook 12 runs two chat servers in one kernel: names keep them apart."""
    main = await start_server(static.make_app(), port=0, quiet=True)
    node_b = await start_server(echo.make_app(), port=0, name="node-b")
    try:
        assert capsys.readouterr().out == f"node-b: listening at port {node_b.port}: {node_b.url}\n"
        assert current_server() is main and current_server("node-b") is node_b
        assert lifecycle.running_servers() == {"server": main, "node-b": node_b}
        async with websockets.connect(node_b.ws_url) as ws:
            await ws.send("hi")
            assert await asyncio.wait_for(ws.recv(), 3) == "hi"
        assert any("Client connected" in line for line in node_b.log.lines)
        assert not any("Client connected" in line for line in main.log.lines)
        with pytest.raises(PortInUseError, match="this kernel's server 'server'"):
            await start_server(static.make_app(), port=main.port, quiet=True, name="node-c")
        await stop_server(name="node-b")
        assert await get_status(main.url) == 200  # the other one still serves
        assert current_server("node-b") is None
        await stop_server(name="node-b")
        assert capsys.readouterr().out.endswith("No server 'node-b' is running.\n")
    finally:
        await lifecycle.stop_all_servers(quiet=True)
    assert lifecycle.running_servers() == {}
