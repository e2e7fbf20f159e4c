"""The standalone command ``python -m helpers.serve``, run as a real process."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys

import aiohttp
import pytest
import websockets

from helpers.app import LOG
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


async def test_except_self_needs_the_broadcast_stage():
    served = await launch("--stage", "echo", "--except-self")
    assert await asyncio.wait_for(served.process.wait(), 10) == 2
    assert b"--except-self only applies to --stage broadcast" in await served.process.stderr.read()


WEBSOCKET_PATHS = {
    "static": None,  # no websocket: an upgrade at / just gets index.html
    "receive": "",
    "echo": "",
    "broadcast": "",
    "json": "",
    "socketio": "socket.io/?EIO=4&transport=websocket",
    "socketio-chat": "socket.io/?EIO=4&transport=websocket",
}


def test_every_stage_has_a_websocket_path_here():
    assert WEBSOCKET_PATHS.keys() == STAGES.keys()


@pytest.mark.parametrize("name", STAGES)
async def test_every_stage_serves_the_index_and_answers_its_websocket_upgrade(serve, name):
    app = STAGES[name]()
    assert LOG in app, "every stage logs to app[LOG]"
    server = await serve(app)
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url) as response:
            assert response.status == 200
            assert "<title>" in await response.text()
    path = WEBSOCKET_PATHS[name]
    if path is None:
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(server.ws_url)
        return
    async with websockets.connect(server.ws_url + path) as ws:
        if name.startswith("socketio"):
            assert (await asyncio.wait_for(ws.recv(), 3)).startswith('0{"sid":')  # engine.io: open
        else:
            assert ws.protocol.state.name == "OPEN"
