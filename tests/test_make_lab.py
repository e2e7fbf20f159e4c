"""`make lab`, one of the workbook's two commands, really opens JupyterLab on the notebooks."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


async def test_make_lab_serves_jupyterlab_with_the_notebooks(free_port):
    token = "workbook-test"
    process = await asyncio.create_subprocess_exec(
        "make", "--no-print-directory", "lab",
        f"LAB_ARGS=--no-browser --ServerApp.port={free_port} --IdentityProvider.token={token}",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # make, jupyter and its children: stopped together below
    )
    try:
        seen: list[str] = []
        async with asyncio.timeout(60):
            while not any(re.search(rf"http://127\.0\.0\.1:{free_port}/lab", line) for line in seen):
                line = await process.stdout.readline()
                assert line, "make lab exited:\n" + "".join(seen)
                seen.append(line.decode(errors="replace"))
        names = await notebook_names(f"http://127.0.0.1:{free_port}/api/contents?token={token}")
        assert "01-start-the-server.ipynb" in names and "05-broadcast-server.ipynb" in names
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 20)


async def notebook_names(api: str) -> set[str]:
    """The files JupyterLab lists; it prints its URL just before it listens, so retry a moment."""
    async with asyncio.timeout(20), aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(api) as response:
                    assert response.status == 200
                    return {item["name"] for item in (await response.json())["content"]}
            except aiohttp.ClientConnectorError:
                await asyncio.sleep(0.1)  # polling for the listener, bounded by the timeout above
