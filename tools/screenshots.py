"""Screenshots of the real pages, for the README (``make screenshots``): docs/img/*.png.

- ``chat-page.png``: public/chat.html in Chromium on the broadcast stage, after a short
  conversation between two pages and a widget client.
- ``json-page.png``: public/json.html on the ``json`` stage, nicknames and all.
- ``notebook-broadcast.png``: JupyterLab itself, with notebooks/05-broadcast-server.ipynb after
  Run All (a copy, outputs cleared; the original is never touched): its three widget clients
  live, one of them just sent a line typed into it with Enter.

Uses Debian's Chromium (``/usr/bin/chromium`` or ``WORKBOOK_CHROMIUM``) through Playwright;
every server listens on 127.0.0.1 and the browser resolves no other host.

    python tools/screenshots.py [--out docs/img] [chat json notebook]
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import nbformat
from playwright.async_api import Browser, Page, async_playwright, expect

from helpers.clients.widgets import ChatClient, JsonChatClient
from helpers.kernel.lifecycle import start_server, stop_server
from helpers.programs.chromium import CHROMIUM, CHROMIUM_ARGS
from helpers.stages import STAGES

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "05-broadcast-server.ipynb"
TIMEOUT_MS = 10_000


async def say(page: Page, text: str) -> None:
    await page.fill("#message", text)
    await page.click("#send")
    await expect(page.locator("#output")).to_contain_text(f"You said: {text}")


async def chat_page(browser: Browser, out: Path) -> Path:
    server = await start_server(STAGES["broadcast"](), port=0, quiet=True)
    context = await browser.new_context(viewport={"width": 720, "height": 560}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    widget = ChatClient("notebook")
    try:
        ada, bob = await context.new_page(), await context.new_page()
        for page in (ada, bob):
            await page.goto(server.url + "chat.html")
            await expect(page.locator("#status")).to_have_text(f"Connected to {server.ws_url}")
        await widget.connect(server.ws_url)
        await server.log.wait_for("Client connected (3 open).")
        await say(ada, "Hi, is anyone there?")
        await say(bob, "Hi Ada! Bob here, in another tab.")
        await widget.wait_for_messages(2)
        await widget.say("And hello from the notebook's ChatClient.")
        await expect(ada.locator("#output")).to_contain_text("Server said: And hello from the notebook")
        await ada.fill("#message", "Nice, it works.")
        target = out / "chat-page.png"
        await ada.screenshot(path=target)
        return target
    finally:
        await widget.disconnect()
        await context.close()
        await stop_server(quiet=True)


async def json_page(browser: Browser, out: Path) -> Path:
    server = await start_server(STAGES["json"](), port=0, quiet=True)
    context = await browser.new_context(viewport={"width": 720, "height": 600}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    widget = JsonChatClient("carol")
    try:
        page = await context.new_page()
        await page.goto(server.url + "json.html")
        await expect(page.locator("#status")).to_have_text(f"Connected to {server.ws_url}")
        await page.fill("#nick", "ada")
        await page.click("#set-nick")
        await widget.connect(server.ws_url)
        await widget.nick("carol")
        await expect(page.locator("#output")).to_contain_text("* carol joined")
        await page.fill("#message", "Hello in JSON!")
        await page.click("#send")
        await widget.wait_for_messages(2)
        await widget.say("Hi Ada, carol from the notebook.")
        await page.click("#who")
        await expect(page.locator("#output")).to_contain_text("Online: ada, carol")
        target = out / "json-page.png"
        await page.screenshot(path=target)
        return target
    finally:
        await widget.disconnect()
        await context.close()
        await stop_server(quiet=True)


def _die_with_parent() -> None:
    """In the child: Linux sends it SIGTERM if we die, so no JupyterLab outlives the run."""
    if sys.platform == "linux":
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def jupyterlab(notebooks: list[Path]) -> AsyncIterator[str]:
    """A private JupyterLab on loopback with copies of ``notebooks`` (outputs cleared); its URL.

    The originals are never touched; settings, workspaces and runtime files live in a temporary
    folder, and the kernels' chat servers get a free port (``WORKBOOK_PORT``), not 3000.
    """
    with tempfile.TemporaryDirectory(prefix="workbook-lab-") as tmp:
        tmp_path = Path(tmp)
        lab_root = tmp_path / "notebooks"
        lab_root.mkdir()
        for path in notebooks:
            copy = nbformat.read(path, as_version=4)
            for cell in copy.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
            copy.metadata.pop("widgets", None)
            nbformat.write(copy, lab_root / path.name)
        settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        port, token = free_port(), secrets.token_hex(16)
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
            "WORKBOOK_RUNTIME_DIR": str(tmp_path / "workbook"),
            "WORKBOOK_PORT": str(free_port()),  # the kernel's chat server, not 3000
        }
        lab = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={lab_root}",
            "--LabApp.expose_app_in_browser=True", "--LabApp.extension_manager=readonly",
            f"--LabServerApp.user_settings_dir={tmp_path / 'settings'}",
            f"--LabServerApp.workspaces_dir={tmp_path / 'workspaces'}",
            *(["--allow-root"] if os.geteuid() == 0 else []),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
            start_new_session=True, preexec_fn=_die_with_parent,
        )
        try:
            await _wait_for_lab(lab, port)
            yield f"http://127.0.0.1:{port}/lab/tree/{{name}}?token={token}"
        finally:
            _signal_group(lab.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(lab.wait(), 10)
            except TimeoutError:
                _signal_group(lab.pid, signal.SIGKILL)
                await lab.wait()
            _signal_group(lab.pid, signal.SIGKILL)  # its kernels, if any are left


async def run_all(page: Page) -> None:
    """Run every cell of the open notebook, as "Run All" does; fail on an error or stderr."""
    await page.wait_for_function(NOTEBOOK_READY, timeout=60_000)
    await page.evaluate(RUN_ALL)
    await page.wait_for_function(ALL_RUN, timeout=120_000)
    errors = await page.evaluate(ERRORS)
    if errors:
        raise RuntimeError(f"the notebook failed in JupyterLab: {errors}")


async def notebook(browser: Browser, out: Path) -> Path:
    """Notebook 05 after Run All in a private JupyterLab: its widgets live; one types with Enter."""
    async with jupyterlab([NOTEBOOK]) as url:
        context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
        context.set_default_timeout(60_000)
        page = await context.new_page()
        await page.goto(url.format(name=NOTEBOOK.name))
        await run_all(page)
        widgets_cell = page.locator(".jp-CodeCell", has=page.locator(".widget-text input")).first
        entries = widgets_cell.locator(".widget-text input")
        await expect(entries).to_have_count(3)
        await entries.first.fill("Typed in JupyterLab, sent with Enter")
        await entries.first.press("Enter")
        await expect(widgets_cell).to_contain_text("Server said: Typed in JupyterLab, sent with Enter")
        await widgets_cell.evaluate("cell => cell.scrollIntoView({block: 'start'})")
        await page.mouse.move(0, 0)
        target = out / "notebook-broadcast.png"
        await page.screenshot(path=target)
        return target


async def _wait_for_lab(lab: asyncio.subprocess.Process, port: int) -> None:
    seen: list[str] = []
    async with asyncio.timeout(60):
        while True:
            line = await lab.stderr.readline()
            if not line:
                raise RuntimeError("jupyter lab exited:\n" + "".join(seen[-20:]))
            seen.append(line.decode(errors="replace"))
            if f"127.0.0.1:{port}/lab" in seen[-1]:
                break
    asyncio.get_running_loop().create_task(_drain(lab.stderr))


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


NOTEBOOK_READY = """() => {
  const panel = window.jupyterapp?.shell.currentWidget
  return !!(panel && panel.content && panel.content.widgets.length &&
            panel.sessionContext?.session?.kernel?.status === 'idle')
}"""

RUN_ALL = """async () => {
  const app = window.jupyterapp
  app.shell.collapseLeft()
  await app.commands.execute('notebook:run-all-cells')
}"""

ALL_RUN = """() => {
  const panel = window.jupyterapp.shell.currentWidget
  return panel.sessionContext.session.kernel.status === 'idle' &&
    panel.content.widgets.every(cell => cell.model.type !== 'code' || cell.model.executionCount !== null)
}"""

ERRORS = """() => window.jupyterapp.shell.currentWidget.content.widgets
  .filter(cell => cell.model.type === 'code')
  .flatMap(cell => cell.model.outputs.toJSON())
  .filter(output => output.output_type === 'error' || output.name === 'stderr')
  .map(output => output.ename ? `${output.ename}: ${output.evalue}` : output.text)"""


SHOTS = {"chat": chat_page, "json": json_page, "notebook": notebook}


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("shots", nargs="*", metavar="SHOT", help=f"any of {', '.join(SHOTS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = set(args.shots) - set(SHOTS)
    if unknown:
        parser.error(f"unknown shots: {', '.join(sorted(unknown))}; choose from {', '.join(SHOTS)}")
    args.shots = args.shots or list(SHOTS)
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        print(f"Chromium not found at {CHROMIUM}: apt-get install chromium", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name in args.shots:
                path = await SHOTS[name](browser, args.out)
                print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        finally:
            await browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
