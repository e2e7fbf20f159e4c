"""The port hand-over (helpers.kernel.handover): one workbook's kernels only, checked requests, a safe folder.

Real servers (``start_server``) claim real Unix sockets in a runtime folder of the test's
own (``WORKBOOK_RUNTIME_DIR``); requests are written on those sockets as a kernel of this
user (with the secret) would write them, well formed or not. Two workbooks are two
notebook folders (``JPY_SESSION_NAME``), in one process or in two real kernels.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import secrets
import socket
import stat
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from jupyter_client.manager import start_new_async_kernel
from test_kernels import Kernel

from helpers.kernel import handover, lifecycle
from helpers.kernel.lifecycle import current_server, start_server, stop_server
from helpers.stages import static

NOTEBOOK = "05-broadcast-server.ipynb"


@pytest.fixture(autouse=True)
def news(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What this kernel would print at its next cell: a test's hand-overs stay out of later tests."""
    fresh: list[str] = []
    monkeypatch.setattr(lifecycle, "_news", fresh)
    return fresh


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A runtime folder of the test's own, and a kernel of the workbook ``tmp/teacher``."""
    folder = tmp_path / "runtime"
    monkeypatch.setenv("WORKBOOK_RUNTIME_DIR", str(folder))
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "teacher" / NOTEBOOK))
    return folder


def request(runtime: Path, to_port: int, **fields: Any) -> dict[str, Any]:
    """What a kernel of the same workbook, with this user's secret, sends; ``fields`` replace."""
    base = {
        "secret": (runtime / "secret").read_text().strip(),
        "port": to_port,
        "notebook": "03-websocket-server.ipynb",
        "workbook": str(Path(os.environ["JPY_SESSION_NAME"]).parent.resolve()),  # as the kernel's
        "until": time.time() + 3,
        "nonce": secrets.token_hex(16),
    }
    return {**base, **fields}


async def ask(runtime: Path, port: int, line: bytes) -> dict[str, Any] | None:
    """Send one request line on the holder's socket; its answer (``None``: it said nothing)."""
    reader, writer = await asyncio.open_unix_connection(str(runtime / f"port-{port}.sock"))
    try:
        writer.write(line + b"\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.readline(), 8)
    finally:
        writer.close()
    return json.loads(answer) if answer else None


async def serves(port: int) -> bool:
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/chat.html") as response:
                return response.status == 200
    except aiohttp.ClientConnectionError:
        return False


def encode(value: object) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


async def test_a_well_formed_request_takes_the_port(runtime, free_port, news):
    """The baseline the refusals below are measured against: the same request, well formed."""
    await start_server(static.make_app(), port=free_port, quiet=True)
    answer = await ask(runtime, free_port, encode(request(runtime, free_port)))
    assert answer == {"released": True, "notebook": NOTEBOOK}
    assert current_server() is None and not await serves(free_port)
    assert news == [
        f"Server: port {free_port} went to 03-websocket-server.ipynb, so this notebook's server stopped. "
        "Run its start cell to take the port back."
    ]


NOT_PLAIN = "a notebook name that is not plain text"
BAD_REQUESTS = {
    # what is wrong: (the fields that replace the well-formed ones, what the holder answers)
    "a NaN deadline": ({"until": math.nan}, "a deadline that is not a time"),
    "an infinite deadline": ({"until": math.inf}, "a deadline that is not a time"),
    "a list for a deadline": ({"until": [1]}, "a deadline that is not a time"),
    "a text for a deadline": ({"until": "soon"}, "a deadline that is not a time"),
    "a boolean for a deadline": ({"until": True}, "a deadline that is not a time"),
    "a deadline an hour ahead": ({"until": "HOUR"}, "a deadline too far ahead"),
    "a deadline passed": ({"until": "PAST"}, "asked too late"),
    "no nonce": ({"nonce": None}, "no nonce"),
    "a name with escapes and a newline": (
        {"notebook": "\x1b[2J\x1b]0;pwned\x07x.ipynb\nServer: port 3000 went to you"},
        NOT_PLAIN,
    ),
    "a name with a right-to-left override": ({"notebook": "evil\u202ebnypi.exe"}, NOT_PLAIN),
    "a name of 1,000 characters": ({"notebook": "n" * 1000}, NOT_PLAIN),
    "a number for a name": ({"notebook": 12}, NOT_PLAIN),
    "a list for a port": ({"port": [1]}, "wrong port"),
    "no workbook": ({"workbook": None}, "a workbook that is not a folder's path"),
}


@pytest.mark.parametrize("fields, error", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
async def test_a_malformed_request_is_refused_and_the_server_keeps_serving(
    runtime, free_port, caplog, news, fields, error
):
    server = await start_server(static.make_app(), port=free_port, quiet=True)
    try:
        if fields.get("until") == "HOUR":
            fields = {"until": time.time() + 3600}
        elif fields.get("until") == "PAST":
            fields = {"until": time.time() - 1}
        with caplog.at_level(logging.DEBUG):
            answer = await ask(runtime, free_port, encode(request(runtime, free_port, **fields)))
        assert answer == {"released": False, "error": error}
        assert current_server() is server and await serves(free_port)
        assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == [], "no traceback anywhere"
        assert news == [], "nothing for the holder's next cell to print"
    finally:
        await stop_server(quiet=True)


NOT_REQUESTS = {"a list": b"[1]", "a text": b'"x"', "cut JSON": b"{", "5,000 nested lists": b"[" * 5000,
                "20,000 bytes": b"x" * 20_000}


@pytest.mark.parametrize("line", NOT_REQUESTS.values(), ids=NOT_REQUESTS.keys())
async def test_a_line_that_is_not_a_request_gets_no_answer_and_no_traceback(runtime, free_port, caplog, line):
    server = await start_server(static.make_app(), port=free_port, quiet=True)
    try:
        with caplog.at_level(logging.DEBUG):
            answer = await ask(runtime, free_port, line)
            await asyncio.sleep(0.1)
        assert answer in (None, {"released": False, "error": "not a request"})
        assert current_server() is server and await serves(free_port)
        assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
    finally:
        await stop_server(quiet=True)


async def test_a_request_sent_again_is_refused(runtime, free_port):
    """Replayed word for word within its deadline, even to a server started since."""
    await start_server(static.make_app(), port=free_port, quiet=True)
    line = encode(request(runtime, free_port))
    assert (await ask(runtime, free_port, line))["released"] is True
    server = await start_server(static.make_app(), port=free_port, quiet=True)
    try:
        assert await ask(runtime, free_port, line) == {"released": False, "error": "a request sent again"}
        assert current_server() is server and await serves(free_port)
    finally:
        await stop_server(quiet=True)


async def test_a_notebook_of_another_workbook_keeps_its_port_and_is_named(
    runtime, free_port, tmp_path, monkeypatch
):
    """The teacher edition holds the port; the student edition (another folder) asks for it."""
    server = await start_server(static.make_app(), port=free_port, quiet=True)
    try:
        monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "student" / "03-websocket-server.ipynb"))
        with pytest.raises(handover.HandOverRefused) as refused:
            await handover.request_port(free_port)
        teacher = (tmp_path / "teacher").resolve()
        assert refused.value.holder == f"{NOTEBOOK} of another workbook ({teacher})"
        assert current_server() is server and await serves(free_port)
    finally:
        await stop_server(quiet=True)


async def test_what_another_workbook_answers_is_shown_escaped(runtime, free_port, tmp_path, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "te\x1b[2Jacher" / "\x1b]0;x\x07\u202e.ipynb"))
    await start_server(static.make_app(), port=free_port, quiet=True)
    try:
        monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "student" / NOTEBOOK))
        with pytest.raises(handover.HandOverRefused) as refused:
            await handover.request_port(free_port)
        holder = refused.value.holder
        assert "\\x1b]0;x\\x07\\u202e.ipynb of another workbook" in holder and "te\\x1b[2Jacher" in holder
        assert not any(ord(char) < 32 or char == "\u202e" for char in holder)
    finally:
        await stop_server(quiet=True)


def test_the_askers_own_name_is_sent_in_plain_text(monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "/w/\x1b[31mred\x1b[0m\nfake.ipynb")
    assert handover.notebook_name() == "\\x1b[31mred\\x1b[0m\\nfake.ipynb"


@asynccontextmanager
async def kernel_in(folder: Path, runtime: Path) -> AsyncIterator[Kernel]:
    """A kernel Jupyter would start for notebook 05 in ``folder`` (its cwd, ``JPY_SESSION_NAME``)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "JPY_SESSION_NAME": str(folder / NOTEBOOK), "WORKBOOK_RUNTIME_DIR": str(runtime)}
    manager, client = await start_new_async_kernel(kernel_name="python3", env=env, cwd=str(folder))
    try:
        yield Kernel(manager, client)
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)


START = "from helpers import current_server, start_server\nfrom helpers.stages import static\n" \
    "server = await start_server(static.make_app(), port={port})"


async def test_the_teacher_and_student_editions_in_real_kernels_keep_their_own_ports(tmp_path, free_port):
    """``notebooks/`` and ``student/`` (``make student``) of one checkout, as JupyterLab starts
    their kernels; two clones are two folders just the same."""
    runtime = tmp_path / "runtime"
    teacher, student = tmp_path / "course" / "notebooks", tmp_path / "course" / "student"
    async with kernel_in(teacher, runtime) as first, kernel_in(student, runtime) as second:
        printed, error = await first.run(START.format(port=free_port))
        assert error is None, error
        printed, error = await second.run(START.format(port=free_port))
        assert error == [
            f"PortInUseError: Port {free_port} on 127.0.0.1 is in use by {NOTEBOOK} of another workbook "
            f"({teacher.resolve()}). Stop it, or choose another port: "
            f"await start_server(app, port={free_port + 1})"
        ]
        printed, _ = await first.run("print(current_server() is server)")
        assert printed == "True\n", "the first workbook still serves, and heard no news"
        assert await serves(free_port)


def stale_socket(path: Path, age: float) -> None:
    """A socket file nobody listens on (its kernel died), ``age`` seconds old."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
    then = time.time() - age
    os.utime(path, (then, then))


async def test_sockets_nobody_answers_on_are_swept(runtime, free_port):
    runtime.mkdir(mode=0o700)
    for port in (40001, 40002, 40003):
        stale_socket(runtime / f"port-{port}.sock", age=60)
    stale_socket(runtime / "port-40004.sock", age=0)  # just bound: its kernel may be about to listen
    holder = await start_server(static.make_app(), port=0, quiet=True, name="holder")
    live = runtime / f"port-{holder.port}.sock"
    os.utime(live, (time.time() - 60, time.time() - 60))  # old, but answered on: kept
    try:
        await start_server(static.make_app(), port=free_port, quiet=True)
        names = sorted(path.name for path in runtime.glob("port-*.sock"))
        assert names == sorted([live.name, f"port-{free_port}.sock", "port-40004.sock"])
        answer = await ask(runtime, holder.port, encode(request(runtime, holder.port)))
        assert answer == {"released": True, "notebook": NOTEBOOK}, "the old live socket still answers"
    finally:
        await stop_server(quiet=True)
        await stop_server(quiet=True, name="holder")
    assert sorted(path.name for path in runtime.glob("port-*.sock")) == ["port-40004.sock"]


def make_symlinked(tmp_path: Path, runtime: Path) -> str:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    runtime.symlink_to(elsewhere)
    return "is not a folder but a symlink or a file"


def make_shared(tmp_path: Path, runtime: Path) -> str:
    runtime.mkdir()
    runtime.chmod(0o777)
    return "is writable by other users (mode 777)"


def make_others(tmp_path: Path, runtime: Path) -> str:
    if os.getuid() != 0:
        pytest.skip("making a folder of another user needs root")
    shared = runtime.parent
    shared.chmod(0o1777)  # a shared folder (/tmp): another user got there first
    runtime.mkdir(mode=0o700)
    os.chown(runtime, 65534, 65534)
    return "belongs to another user (uid 65534)"


def make_secret_symlink(tmp_path: Path, runtime: Path) -> str:
    runtime.mkdir(mode=0o700)
    (runtime / "secret").symlink_to(tmp_path / "elsewhere-secret")
    return "secret is a symlink: remove it"


def make_secret_readable(tmp_path: Path, runtime: Path) -> str:
    runtime.mkdir(mode=0o700)
    (runtime / "secret").write_text(secrets.token_hex(32))
    (runtime / "secret").chmod(0o644)
    return "secret must be your own file, mode 0600: remove it"


def make_open_parent(tmp_path: Path, runtime: Path) -> str:
    runtime.parent.chmod(0o777)  # anyone may rename our folder away and put theirs in its place
    return "lets anyone rename what is in it"


UNSAFE_FOLDERS = [
    make_symlinked, make_shared, make_others, make_secret_symlink, make_secret_readable, make_open_parent
]


@pytest.mark.parametrize("make", UNSAFE_FOLDERS, ids=lambda make: make.__name__)
async def test_an_unsafe_runtime_folder_is_refused_with_why_and_the_server_still_starts(
    tmp_path, monkeypatch, free_port, capsys, make
):
    runtime = tmp_path / "shared" / "chat-workbook"
    runtime.parent.mkdir()
    monkeypatch.setenv("WORKBOOK_RUNTIME_DIR", str(runtime))
    monkeypatch.setattr(handover, "_told", set(), raising=False)  # what this kernel said already
    why = make(tmp_path, runtime)
    try:
        server = await start_server(static.make_app(), port=free_port)
        out = capsys.readouterr().out
        assert out.startswith("Port hand-over is off: ") and why in out, out
        assert out.endswith(f"Listening at port {free_port}: {server.url}\n")
        assert await serves(free_port)
        await start_server(static.make_app(), port=free_port)
        assert "hand-over is off" not in capsys.readouterr().out, "said once, not at every start"
    finally:
        await stop_server(quiet=True)
    assert not (tmp_path / "elsewhere-secret").exists(), "nothing written through a symlink"
    elsewhere = tmp_path / "elsewhere"
    assert not elsewhere.exists() or list(elsewhere.iterdir()) == [], "no secret, no socket through a symlink"
    if runtime.is_dir() and not runtime.is_symlink() and runtime.stat().st_uid == os.getuid():
        assert not list(runtime.glob("port-*.sock")), "no socket in a folder we don't trust"


async def test_a_fresh_folder_is_private_and_its_secret_too(runtime, free_port):
    await start_server(static.make_app(), port=free_port, quiet=True)
    try:
        assert stat.S_IMODE(runtime.lstat().st_mode) == 0o700
        secret = (runtime / "secret").lstat()
        assert stat.S_ISREG(secret.st_mode) and stat.S_IMODE(secret.st_mode) == 0o600
        assert [path.name for path in runtime.glob("secret.*")] == [], "no draft left"
    finally:
        await stop_server(quiet=True)


async def test_a_folder_of_ours_others_may_only_read_is_closed_and_used(runtime, free_port, capsys):
    """0750 (a umask of 027 at some point): nobody else could write in it, so it is made 0700."""
    runtime.mkdir()
    runtime.chmod(0o750)
    await start_server(static.make_app(), port=free_port)
    try:
        assert "hand-over is off" not in capsys.readouterr().out
        assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
        assert (runtime / f"port-{free_port}.sock").exists()
    finally:
        await stop_server(quiet=True)
