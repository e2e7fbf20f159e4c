"""The standalone command ``python -m helpers.serve``, run as a real process."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from typing import Any

import aiohttp
import pytest
import socketio
import websockets

from helpers.serve import parse_args, stage_options
from helpers.sio import quiet_logger
from helpers.stages import STAGES


class Served:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def read_line(self) -> str:
        assert self.process.stdout is not None
        line = (await asyncio.wait_for(self.process.stdout.readline(), 10)).decode().rstrip("\n")
        self.lines.append(line)
        return line


async def launch(*args: str) -> Served:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "helpers.serve", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    return Served(process)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_static_stage_prints_listening_serves_public_and_exits_cleanly(free_port, sig):
    served = await launch("--stage", "static", "--host", "127.0.0.1", "--port", str(free_port))
    assert await served.read_line() == f"Listening at port {free_port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{free_port}/chat.html") as response:
            assert response.status == 200
            assert "<title>Chat with Websockets</title>" in await response.text()
    served.process.send_signal(sig)
    assert await asyncio.wait_for(served.process.wait(), 5) == 0
    assert await served.process.stderr.read() == b""


async def test_echo_stage_logs_what_it_gets(free_port):
    served = await launch("--stage", "echo", "--port", str(free_port))
    assert await served.read_line() == f"Listening at port {free_port}"
    async with websockets.connect(f"ws://127.0.0.1:{free_port}/") as ws:
        await ws.send("hi")
        assert await asyncio.wait_for(ws.recv(), 3) == "hi"
    assert await served.read_line() == "Client connected (1 open)."
    assert await served.read_line() == "ws got: hi"
    served.process.terminate()
    assert await asyncio.wait_for(served.process.wait(), 5) == 0


async def test_port_in_use_is_one_line_and_exit_code_1(free_port):
    with socket.socket() as other:
        other.bind(("127.0.0.1", free_port))
        other.listen()
        served = await launch("--port", str(free_port))
        code = await asyncio.wait_for(served.process.wait(), 10)
    err = (await served.process.stderr.read()).decode()
    assert code == 1
    assert err == (
        f"Port {free_port} on 127.0.0.1 is in use by another program. "
        f"Stop that program, or choose another port: --port {free_port + 1}\n"
    )


async def test_an_option_of_another_stage_is_refused_with_the_stages_that_take_it():
    served = await launch("--stage", "echo", "--except-self")
    assert await asyncio.wait_for(served.process.wait(), 10) == 2
    error = (await served.process.stderr.read()).decode()
    assert "--except-self is not an option of --stage echo (it is of: broadcast, socketio)" in error


EXAMPLE_VALUES = {
    "flag": ([], True),
    "text": (["chat.db"], "chat.db"),
    "list": (["http://localhost:5173", "http://127.0.0.1:3000"], ["http://localhost:5173", "http://127.0.0.1:3000"]),
}
STAGE_OPTIONS = [(stage, option) for stage, make_app in STAGES.items() for option in stage_options(make_app)]


@pytest.mark.parametrize(("stage", "option"), STAGE_OPTIONS, ids=[f"{s}{o.flag}" for s, o in STAGE_OPTIONS])
def test_every_make_app_option_is_a_command_line_option(stage, option):
    words, value = EXAMPLE_VALUES[option.kind]
    args = parse_args(["--stage", stage, option.flag, *words])
    assert args.options == {option.name: value}


def test_a_flag_can_be_turned_off_too():
    assert parse_args(["--stage", "broadcast", "--no-except-self"]).options == {"except_self": False}
    assert parse_args(["--stage", "broadcast"]).options == {}, "make_app's own defaults apply"


def test_a_parameter_without_a_command_line_form_is_named():
    def make_app(handler=None):  # no type hint: no way to tell how to parse it
        return None

    with pytest.raises(TypeError, match=r"make_app\(handler"):
        stage_options(make_app)


async def started(*args: str) -> Served:
    served = await launch(*args)
    line = await served.read_line()
    assert line.startswith("Listening at port"), served.lines
    return served


async def stopped(served: Served) -> None:
    served.process.terminate()
    assert await asyncio.wait_for(served.process.wait(), 5) == 0


async def sio_client(url: str, **connect: Any) -> tuple[socketio.AsyncClient, list[Any]]:
    client, heard = socketio.AsyncClient(logger=quiet_logger(), engineio_logger=quiet_logger()), []
    client.on("chat message", lambda *event: heard.append(event))
    await client.connect(url, transports=["websocket"], wait_timeout=5, **connect)
    return client, heard


async def test_except_self_on_the_socketio_stage_leaves_the_sender_out(free_port):
    served = await started("--stage", "socketio", "--except-self", "--port", str(free_port))
    url = f"http://127.0.0.1:{free_port}/"
    (alice, alice_heard), (bob, bob_heard) = await sio_client(url), await sio_client(url)
    try:
        await alice.emit("chat message", "from alice")
        await bob.emit("chat message", "from bob")
        for _ in range(50):
            if alice_heard and bob_heard:
                break
            await asyncio.sleep(0.1)
        assert (alice_heard, bob_heard) == ([("from bob",)], [("from alice",)])
    finally:
        await alice.disconnect()
        await bob.disconnect()
        await stopped(served)


async def test_db_keeps_the_chat_across_a_restart(free_port, tmp_path):
    db = str(tmp_path / "chat.db")
    url = f"http://127.0.0.1:{free_port}/"
    served = await started("--stage", "socketio-chat", "--db", db, "--port", str(free_port))
    writer, _ = await sio_client(url, auth={"nick": "ada"})
    assert await writer.call("chat message", ("kept", "ada-1"), timeout=3) == {"id": 1}
    await writer.disconnect()
    await stopped(served)
    served = await started("--stage", "socketio-chat", "--db", db, "--port", str(free_port))
    reader, heard = await sio_client(url, auth={"nick": "bob", "serverOffset": 0})
    try:
        for _ in range(50):
            if heard:
                break
            await asyncio.sleep(0.1)
        assert heard == [("ada: kept", 1, "ada-1")]
    finally:
        await reader.disconnect()
        await stopped(served)


async def test_cors_allowed_origins_lets_a_listed_page_in_and_keeps_others_out(free_port):
    origins = ["--cors-allowed-origins", "http://localhost:5173"]
    served = await started("--stage", "socketio-features", *origins, "--port", str(free_port))
    url = f"http://127.0.0.1:{free_port}/"
    try:
        friend, _ = await sio_client(url, headers={"Origin": "http://localhost:5173"})
        await friend.disconnect()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio_client(url, headers={"Origin": "http://evil.example"})
    finally:
        await stopped(served)


ROUND_TRIPS = {
    # stage: (websocket path, what a client sends, what proves the stage handled it)
    "receive": ("", "hi", "log: ws got: hi"),
    "echo": ("", "hi", "hi"),
    "broadcast": ("", "hi", "hi"),
    "json": ("", '{"type": "nick", "nick": "ada"}', '{"type": "join", "nick": "ada"}'),
    "socketio": ("socket.io/?EIO=4&transport=websocket", "40", "40{"),
    "socketio-features": ("socket.io/?EIO=4&transport=websocket", "40", "40{"),
    "socketio-chat": ("socket.io/?EIO=4&transport=websocket", "40", "40{"),
}


async def test_the_static_stage_serves_pages_and_refuses_a_websocket(serve):
    server = await serve(STAGES["static"]())
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(server.ws_url)


@pytest.mark.parametrize("name", ROUND_TRIPS)
async def test_every_stage_serves_the_index_and_handles_a_message_on_its_websocket(serve, name):
    server = await serve(STAGES[name]())
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url) as response:
            assert response.status == 200
            assert "<title>" in await response.text()
    path, message, proof = ROUND_TRIPS[name]
    async with websockets.connect(server.ws_url + path) as ws:
        if name.startswith("socketio"):
            assert (await asyncio.wait_for(ws.recv(), 3)).startswith('0{"sid":')  # engine.io: open
        await ws.send(message)
        if proof.startswith("log: "):
            await server.log.wait_for(proof.removeprefix("log: "))
        else:
            assert (await asyncio.wait_for(ws.recv(), 3)).startswith(proof)
