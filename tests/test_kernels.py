"""Real kernels (jupyter_client), as JupyterLab runs them: port hand-over, short errors.

Two notebooks of the same user both serve on one port: the second one's start cell asks the
first kernel to stop (its clients get 1001) and takes the port. A foreign program keeps its
port. Only this user's kernels can ask: the request goes through a Unix socket in a private
folder and carries a secret from a file only this user can read.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
import websockets
from jupyter_client.manager import start_new_async_kernel

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


class Kernel:
    """One kernel and its client; ``run`` a cell, get what it printed and its error, if any."""

    def __init__(self, manager, client) -> None:
        self.manager, self.client = manager, client

    async def run(
        self, code: str, timeout: float = 30, started: asyncio.Event | None = None
    ) -> tuple[str, list[str] | None]:
        """Run ``code``; what it printed, and its error's traceback lines if it failed.

        ``started`` is set when the cell printed its first line.
        """
        printed: list[str] = []
        error: list[list[str]] = []

        def output(message: dict) -> None:
            kind, content = message["header"]["msg_type"], message["content"]
            if kind == "stream":
                printed.append(content["text"])
                if started is not None:
                    started.set()
            elif kind in ("execute_result", "display_data"):
                printed.append(content["data"].get("text/plain", "") + "\n")
            elif kind == "error":
                error.append(content["traceback"])

        await self.client.execute_interactive(code, output_hook=output, timeout=timeout)
        return "".join(printed), (error[0] if error else None)


@asynccontextmanager
async def kernel(notebook: str, runtime: Path) -> AsyncIterator[Kernel]:
    """A kernel that Jupyter would have started for ``notebook`` (``JPY_SESSION_NAME``)."""
    env = {**os.environ, "JPY_SESSION_NAME": f"notebooks/{notebook}", "WORKBOOK_RUNTIME_DIR": str(runtime)}
    manager, client = await start_new_async_kernel(kernel_name="python3", env=env, cwd=str(NOTEBOOKS))
    try:
        yield Kernel(manager, client)
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)


START = """\
from helpers import current_server, start_server
from helpers.stages import echo
server = await start_server(echo.make_app(), port={port})"""


async def test_a_second_notebook_takes_the_port_over_from_the_first(tmp_path, free_port):
    runtime = tmp_path / "runtime"
    async with kernel("05-broadcast-server.ipynb", runtime) as first:
        printed, error = await first.run(START.format(port=free_port))
        assert (printed, error) == (f"Listening at port {free_port}: http://127.0.0.1:{free_port}/\n", None)
        await first.run("from helpers.clients.widgets import ChatClient\nwidget = ChatClient('alice')\n"
                        "assert await widget.connect(server.ws_url)")
        async with websockets.connect(f"ws://127.0.0.1:{free_port}/") as student:
            async with kernel("03-websocket-server.ipynb", runtime) as second:
                printed, error = await second.run(START.format(port=free_port))
                assert error is None, error
                assert printed.splitlines() == [
                    f"Took port {free_port} over from 05-broadcast-server.ipynb: its server stopped.",
                    f"Listening at port {free_port}: http://127.0.0.1:{free_port}/",
                ]
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(student.recv(), 5)
                assert closed.value.rcvd.code == 1001, "the first notebook's clients heard Going Away"

                printed, error = await first.run("print(current_server())\nprint(widget.lines[-2:])")
                assert printed.splitlines() == [
                    f"Server: port {free_port} went to 03-websocket-server.ipynb, so this notebook's server "
                    "stopped. Run its start cell to take the port back.",
                    "None",
                    str(["Websocket is now closed (1001).",
                         f"Not reconnecting: port {free_port} went to 03-websocket-server.ipynb."]),
                ]
                printed, _ = await second.run("print(server.clients)")
                assert printed == "0\n", "the first notebook's widget did not follow the port here"
                async with aiohttp.ClientSession() as http:  # the second notebook serves now
                    async with http.get(f"http://127.0.0.1:{free_port}/chat.html") as response:
                        assert response.status == 200


async def test_a_foreign_program_keeps_its_port(tmp_path, free_port):
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", free_port))
        foreign.listen()
        async with kernel("03-websocket-server.ipynb", tmp_path / "runtime") as notebook:
            printed, error = await notebook.run(START.format(port=free_port))
    assert error == [
        f"PortInUseError: Port {free_port} on 127.0.0.1 is in use by another program. "
        f"Stop that program, or choose another port: await start_server(app, port={free_port + 1})"
    ]


async def test_only_this_users_kernels_can_ask(tmp_path, free_port):
    """The socket is in a folder only this user may enter; a request without the secret fails."""
    runtime = tmp_path / "runtime"
    async with kernel("05-broadcast-server.ipynb", runtime) as holder:
        await holder.run(START.format(port=free_port))
        assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
        assert stat.S_IMODE((runtime / "secret").stat().st_mode) == 0o600
        reader, writer = await asyncio.open_unix_connection(str(runtime / f"port-{free_port}.sock"))
        writer.write(json.dumps({"secret": "guess", "port": free_port, "notebook": "evil"}).encode() + b"\n")
        answer = json.loads(await asyncio.wait_for(reader.readline(), 5))
        writer.close()
        assert answer == {"released": False, "error": "wrong secret"}
        printed, _ = await holder.run("print(server.clients, current_server() is server)")
        assert printed == "0 True\n", "still serving"


async def test_a_timeout_and_an_interrupt_are_one_line_in_a_notebook(tmp_path):
    async with kernel("03-websocket-server.ipynb", tmp_path / "runtime") as notebook:
        await notebook.run("from helpers.clients.widgets import ChatClient\nclient = ChatClient('page')")
        _, error = await notebook.run("await client.wait_for('Server said: hi', timeout=0.2)")
        assert error == ["TimeoutError: page got no 'Server said: hi' within 0.2 s; last arrived: nothing"]

        started = asyncio.Event()
        waiting = asyncio.get_running_loop().create_task(
            notebook.run("print('waiting', flush=True)\nawait client.wait_for('Server said: hi', timeout=60)",
                         started=started)
        )
        await asyncio.wait_for(started.wait(), 30)  # the cell runs
        await notebook.manager.interrupt_kernel()  # the stop button
        _, error = await asyncio.wait_for(waiting, 30)
        assert error == ["Interrupted while waiting for page to get 'Server said: hi'."]


async def test_the_command_line_server_neither_takes_a_notebooks_port_nor_gives_its_own(tmp_path, free_port):
    """``python -m helpers.serve`` in a terminal is nobody's notebook: each keeps its own port."""
    import sys

    runtime = tmp_path / "runtime"
    env = {**os.environ, "WORKBOOK_RUNTIME_DIR": str(runtime)}
    async with kernel("05-broadcast-server.ipynb", runtime) as notebook:
        await notebook.run(START.format(port=free_port))
        refused = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "helpers.serve", "--port", str(free_port),
            stderr=asyncio.subprocess.PIPE, env=env,
        )
        assert await asyncio.wait_for(refused.wait(), 20) == 1
        assert b"is in use by another program" in await refused.stderr.read()
        printed, _ = await notebook.run("print(current_server() is server)")
        assert printed == "True\n", "the notebook still serves"

        with socket.socket() as probe:  # another free port, for the terminal's server
            probe.bind(("127.0.0.1", 0))
            other = probe.getsockname()[1]
        terminal = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "helpers.serve", "--port", str(other),
            stdout=asyncio.subprocess.PIPE, env=env,
        )
        try:
            assert (await asyncio.wait_for(terminal.stdout.readline(), 20)).startswith(b"Listening at port")
            _, error = await notebook.run(START.format(port=other))
            assert error is not None and error[0].startswith(f"PortInUseError: Port {other} on 127.0.0.1")
        finally:
            terminal.terminate()
            await terminal.wait()


async def test_a_busy_notebook_keeps_its_port_and_the_asker_hears_why(tmp_path, free_port):
    """A cell running in the holder: the asker gives up after a few seconds, and the holder,
    free again later, must not stop its server for an asker that is gone."""
    runtime = tmp_path / "runtime"
    async with kernel("05-broadcast-server.ipynb", runtime) as holder:
        await holder.run(START.format(port=free_port))
        started = asyncio.Event()
        busy = asyncio.get_running_loop().create_task(
            holder.run("import time\nprint('busy', flush=True)\ntime.sleep(7)", started=started)
        )
        await asyncio.wait_for(started.wait(), 30)
        async with kernel("03-websocket-server.ipynb", runtime) as asker:
            _, error = await asker.run(START.format(port=free_port))
        assert error == [
            f"PortInUseError: Port {free_port} on 127.0.0.1 is in use by another notebook that did not "
            f"answer (is a cell running there?). Stop it, or choose another port: "
            f"await start_server(app, port={free_port + 1})"
        ]
        await asyncio.wait_for(busy, 30)
        printed, _ = await holder.run("print(current_server() is server)")
        assert printed == "True\n", "it still serves, and has no news of a hand-over"


async def test_a_killed_kernel_takes_its_programs_with_it_and_an_interrupt_does_not(tmp_path, free_port):
    """Notebook 12's redis-server (and nginx, and chat processes) never outlive their kernel,
    even a kernel killed alone, with no chance to clean up (SIGKILL to its pid): Linux stops
    them for it. The stop button (SIGINT to the kernel's process group) leaves them running."""
    from scale_support import needs

    needs("redis-server")
    async with kernel("12-scaling-out.ipynb", tmp_path) as notebook:
        printed, error = await notebook.run(
            "import os\n"
            "from helpers.programs.redis_server import start_redis\n"
            f"redis = await start_redis({free_port})\n"
            "print(os.getpid(), redis.program.pid)"
        )
        assert error is None, error
        kernel_pid, pid = map(int, printed.split())
        await notebook.manager.interrupt_kernel()
        await asyncio.sleep(0.5)
        printed, error = await notebook.run("print(redis)")
        assert error is None and "running" in printed, printed
        os.kill(kernel_pid, signal.SIGKILL)  # the kernel alone: its group is left alone
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"redis-server {pid} outlived its kernel")
