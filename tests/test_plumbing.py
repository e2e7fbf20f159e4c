"""What ``start_server`` adds around a student's plain aiohttp or python-socketio app, and what it
must leave alone: prints and ``logging`` routed to the server's log, a Socket.IO server held to the
class's limits however it was built. Each test is a finding of issue 18's review."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys

import aiohttp
import pytest
import socketio
import websockets
from aiohttp import WSMsgType, web

from helpers.checks.capstone import StudentProgram
from helpers.clients.probes import stalled_client
from helpers.common.quiet import quiet_logger
from helpers.kernel.lifecycle import start_server, stop_server
from helpers.server.log import ServerLog, route_prints, server_context
from helpers.server.sio.serving import SIO
from helpers.stages import socketio_basic


def client() -> socketio.AsyncClient:
    return socketio.AsyncClient(logger=quiet_logger(), engineio_logger=quiet_logger(), reconnection=False)


async def test_a_print_in_a_handler_goes_to_the_servers_log_and_one_in_a_cell_does_not(serve, capsys):
    async def shout(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            print("ws got:", msg.data, end="!\n")
        return ws

    app = web.Application()
    app.router.add_get("/", shout)
    server = await serve(app)
    async with websockets.connect(server.ws_url) as ws:
        await ws.send("hi")
        await server.log.wait_for("ws got: hi!")
    print("a cell's own line")
    assert "a cell's own line" in capsys.readouterr().out
    assert "a cell's own line" not in server.log.lines


async def test_a_spawned_task_prints_to_the_servers_log(serve, capsys):
    server = await serve(web.Application())

    async def say() -> None:
        print("from a task beside the server")

    await server.spawn(say())
    assert "from a task beside the server" in server.log.lines
    assert "from a task beside the server" not in capsys.readouterr().out


def test_records_outside_a_server_go_where_logging_sends_them(capfd):
    """Review: the root handler sent a DEBUG record to stderr, and printed a record twice that a
    logger's own handler had already taken."""
    route_prints()
    chatty = logging.getLogger("workbook-test-chatty")
    chatty.setLevel(logging.DEBUG)
    chatty.debug("a debug line nobody asked to see")
    own = logging.getLogger("workbook-test-own")
    handler = logging.StreamHandler(sys.stderr)
    own.addHandler(handler)
    try:
        own.warning("said once")
    finally:
        own.removeHandler(handler)
    err = capfd.readouterr().err
    assert "a debug line" not in err
    assert err.count("said once") == 1


def test_an_exception_logged_then_raised_is_one_error():
    log = ServerLog()
    with server_context(log):
        route_prints()
        try:
            raise ValueError("once")
        except ValueError as exc:
            logging.exception("handling")
            log.error("GET /", exc)
    assert log.error_count == 1


async def test_a_class_based_namespace_connects_and_its_errors_are_answered(serve):
    """Review: ``on_connect(self, sid, environ)``, python-socketio's own style, was refused, and an
    exception in ``on_<event>`` went to stderr with no acknowledgement."""

    class Chat(socketio.AsyncNamespace):
        def on_connect(self, sid, environ):
            pass

        async def on_boom(self, sid, data):
            raise ValueError("in a namespace")

    sio = socketio.AsyncServer(async_mode="aiohttp")
    sio.register_namespace(Chat("/"))
    app = web.Application()
    sio.attach(app)
    server = await serve(app)
    peer = client()
    await peer.connect(server.url, transports=["websocket"])
    assert await peer.call("boom", "x", timeout=2) == {"error": "internal server error"}
    assert [e.summary for e in server.log.errors] == [
        'Error in Socket.IO handler for "boom": ValueError: in a namespace'
    ]
    await peer.disconnect()


sio_of_the_module = socketio.AsyncServer(async_mode="aiohttp")


@sio_of_the_module.event
async def boom(sid):
    raise ValueError("after a restart")


def app_of_the_module() -> web.Application:
    app = web.Application()
    sio_of_the_module.attach(app)
    return app


async def test_one_sio_attached_to_each_new_app_reports_to_the_running_servers_log(serve):
    """Review: a module-level ``sio`` attached again by each ``make_app()`` kept reporting to the
    first, stopped, server's log: the next cell never showed the error."""
    first = await serve(app_of_the_module())
    await first.stop()
    server = await serve(app_of_the_module())
    peer = client()
    await peer.connect(server.url, transports=["websocket"])
    assert await peer.call("boom", timeout=2) == {"error": "internal server error"}
    assert [e.summary for e in server.log.errors] == [
        'Error in Socket.IO handler for "boom": ValueError: after a restart'
    ]
    assert first.log.errors == []
    await peer.disconnect()


async def test_a_connect_handler_may_refuse_with_the_builtin_exception(serve):
    app = socketio_basic.make_app()

    @app[socketio_basic.SIO].event
    async def connect(sid, environ, auth):
        raise ConnectionRefusedError("not today")

    server = await serve(app)
    peer = client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await peer.connect(server.url, transports=["websocket"], wait_timeout=2)
    assert server.log.errors == [], "a refusal the handler meant is no server error"


async def test_a_connect_handler_without_auth_and_a_client_that_sends_it_is_a_clear_error(serve):
    app = socketio_basic.make_app()

    @app[socketio_basic.SIO].event
    async def connect(sid, environ):
        pass

    server = await serve(app)
    peer = client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await peer.connect(server.url, auth={"nick": "ann"}, transports=["websocket"], wait_timeout=2)
    (error,) = server.log.errors
    assert "connect takes (environ), and the client sent its auth" in error.summary


async def test_a_handler_wrapped_by_a_decorator_is_called_as_it_is(serve):
    """Review: the argument check followed ``__wrapped__`` and refused a decorator's own signature."""

    def with_prefix(handler):
        @functools.wraps(handler)
        async def wrapper(sid, *args):
            return await handler(sid, "prefix", *args)

        return wrapper

    app = socketio_basic.make_app()

    @app[socketio_basic.SIO].on("join words")
    @with_prefix
    async def join_words(sid, first, second):
        return f"{first}-{second}"

    server = await serve(app)
    peer = client()
    await peer.connect(server.url, transports=["websocket"])
    assert await peer.call("join words", "x", timeout=2) == "prefix-x"
    await peer.disconnect()


async def test_a_socketio_server_at_another_path_keeps_its_doors(serve):
    """Review: ``sio.attach(app, socketio_path="chat")``: the Origin check skipped its polling."""
    sio = socketio.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    sio.attach(app, socketio_path="chat")
    server = await serve(app)
    assert server.app[SIO] is sio
    async with aiohttp.ClientSession() as session:
        async with session.get(
            server.url + "chat/?EIO=4&transport=polling", headers={"Origin": "http://evil.example"}
        ) as refused:
            assert refused.status == 403
        async with session.get(server.url + "chat/?EIO=4&transport=polling") as welcome:
            assert welcome.status == 200


async def test_a_capstone_program_stopped_mid_start_leaves_no_process(tmp_path):
    """Review: a check cancelled while the student's server started left that server running."""
    never = tmp_path / "never.py"
    never.write_text("import time\nwhile True:\n    time.sleep(1)\n")
    started: list[StudentProgram] = []
    original = StudentProgram._until_listening

    async def remembered(self: StudentProgram) -> None:
        started.append(self)
        await original(self)

    StudentProgram._until_listening = remembered  # type: ignore[method-assign]
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1):
                await StudentProgram.start(never)
    finally:
        StudentProgram._until_listening = original  # type: ignore[method-assign]
    (program,) = started
    assert program.process.returncode is not None, "the student's program was stopped"


async def test_a_stalled_client_of_a_server_that_hangs_up_mid_handshake_fails_at_once():
    """Review: ``sock_recv`` returned b"" at once, for ever: the kernel spun at 100 % CPU."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 101 Switching")
        writer.close()

    rude = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = rude.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(stalled_client(f"ws://127.0.0.1:{port}/"), 5)
    finally:
        rude.close()


async def test_a_plain_handler_of_a_student_is_served_and_its_errors_shown(free_port):
    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data.upper())
        return ws

    app = web.Application()
    app.router.add_get("/", echo)
    server = await start_server(app, port=free_port, quiet=True)
    try:
        async with websockets.connect(server.ws_url) as ws:
            await ws.send("hi")
            assert await asyncio.wait_for(ws.recv(), 3) == "HI"
    finally:
        await stop_server(quiet=True)
