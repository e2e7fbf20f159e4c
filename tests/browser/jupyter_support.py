"""A real Jupyter server on loopback, as a hub runs one per student, and a kernel of it.

``JupyterServer`` starts ``jupyter server`` with a token and a base URL (``/user/ada/``), and
tells its kernels they run behind a hub (``JUPYTERHUB_SERVICE_PREFIX``): the browser reaches
their chat servers only through jupyter-server-proxy. ``RemoteKernel`` runs code in one of its
kernels over the server's own websocket API, as JupyterLab does.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from process_support import die_with_parent, stop_group

ROOT = Path(__file__).resolve().parent.parent.parent
BASE = "/user/ada/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterServer:
    """``jupyter server`` with jupyter-server-proxy, at ``http://127.0.0.1:{port}/user/ada/``."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.port, self.token = tmp, free_port(), uuid.uuid4().hex
        self.url = f"http://127.0.0.1:{self.port}{BASE}"
        self.process: asyncio.subprocess.Process | None = None
        self._drainer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.tmp / "config"),
            "JUPYTER_RUNTIME_DIR": str(self.tmp / "runtime"),
            "JUPYTERHUB_SERVICE_PREFIX": BASE,  # what a hub tells the kernels of its servers
            "WORKBOOK_RUNTIME_DIR": str(self.tmp / "workbook"),
            "WORKBOOK_PORT": str(free_port()),
        }
        self.process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "jupyter"), "server", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--ServerApp.base_url={BASE}", f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={ROOT / 'notebooks'}",
            *(["--allow-root"] if os.geteuid() == 0 else []),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
            start_new_session=True, preexec_fn=die_with_parent,
        )
        seen: list[str] = []
        async with asyncio.timeout(60):
            while True:
                line = (await self.process.stderr.readline()).decode(errors="replace")
                if not line:
                    raise RuntimeError("jupyter server exited:\n" + "".join(seen[-20:]))
                seen.append(line)
                if f"127.0.0.1:{self.port}{BASE}" in line:
                    break
        self._drainer = asyncio.get_running_loop().create_task(self._drain())
        await self._answering()

    async def _answering(self) -> None:
        """It prints its address a moment before it listens: ask until it answers."""
        async with aiohttp.ClientSession() as http, asyncio.timeout(30):
            while True:
                try:
                    async with http.get(f"{self.url}api/status?token={self.token}") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)

    async def _drain(self) -> None:
        while self.process is not None and await self.process.stderr.readline():
            pass

    async def stop(self) -> None:
        """Stop the server and its kernels: its whole process group."""
        if self.process is None:
            return
        stop_group(self.process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            stop_group(self.process.pid, signal.SIGKILL)
            await self.process.wait()
        stop_group(self.process.pid, signal.SIGKILL)  # kernels it may have left


class RemoteKernel:
    """A kernel of ``server``, started and driven through its REST and websocket API."""

    def __init__(self, server: JupyterServer) -> None:
        self.server = server
        self.session = uuid.uuid4().hex
        self.http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.id = ""

    async def start(self) -> None:
        headers = {"Authorization": f"token {self.server.token}"}
        self.http = aiohttp.ClientSession(headers=headers)
        async with self.http.post(self.server.url + "api/kernels", json={"name": "python3"}) as response:
            assert response.status == 201, await response.text()
            self.id = (await response.json())["id"]
        channels = self.server.url.replace("http", "ws", 1) + f"api/kernels/{self.id}/channels"
        self.ws = await self.http.ws_connect(channels)

    async def run(self, code: str, timeout: float = 30) -> str:
        """Run ``code``; what it printed and displayed (text). An error fails with its text."""
        msg_id = uuid.uuid4().hex
        await self.ws.send_str(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "ada",
                       "session": self.session, "date": "", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        printed: list[str] = []
        async with asyncio.timeout(timeout):
            while True:
                message: dict[str, Any] = json.loads((await self.ws.receive()).data)
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = message["msg_type"], message["content"]
                if kind == "stream":
                    printed.append(content["text"])
                elif kind in ("execute_result", "display_data"):
                    printed.append(content["data"].get("text/plain", "") + "\n")
                elif kind == "error":
                    raise AssertionError(f"{content['ename']}: {content['evalue']}\n{code}")
                elif kind == "status" and content["execution_state"] == "idle":
                    return "".join(printed)

    async def stop(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.http is not None:
            async with self.http.delete(self.server.url + f"api/kernels/{self.id}"):
                pass
            await self.http.close()
