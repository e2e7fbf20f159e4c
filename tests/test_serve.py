"""The standalone command ``python -m helpers.serve``, run as a real process."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import socketio
import websockets
from process_support import die_with_parent, stop_group, stop_process
from scale_support import bindable

from helpers.common.quiet import quiet_logger
from helpers.serve import parse_args, stage_options
from helpers.stages import STAGES

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

READ_TIMEOUT = 10.0
"""Seconds to wait for the server's next line. Measured start: 0.4 s idle, 3.8 s at most on 2 busy cores."""


class Served:
    """A ``python -m helpers.serve`` process; ``read_line`` waits for its next line of output."""

    def __init__(self, args: tuple[str, ...], process: asyncio.subprocess.Process) -> None:
        self.args = args
        self.process = process
        self.lines: list[str] = []

    async def read_line(self, timeout: float = READ_TIMEOUT) -> str:
        assert self.process.stdout is not None
        line = (await asyncio.wait_for(self.process.stdout.readline(), timeout)).decode().rstrip("\n")
        self.lines.append(line)
        return line


Launch = Callable[..., Awaitable[Served]]


@pytest_asyncio.fixture
async def launch() -> AsyncIterator[Launch]:
    """``await launch(*args)`` runs ``python -m helpers.serve *args``; all are stopped at teardown.

    Whatever the test's outcome: a failed assertion or a timed-out wait used to leave the
    server running, holding its port, until the run ended. Teardown stops each process and
    its group (SIGTERM, SIGKILL after 3 s), reaps it and reads its pipes to the end, and
    prints what it said: pytest shows that under a failed test.
    """
    started: list[Served] = []

    async def _launch(*args: str) -> Served:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "helpers.serve", *args, cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True, preexec_fn=die_with_parent,
        )
        served = Served(args, process)
        started.append(served)
        return served

    yield _launch
    ends = await asyncio.gather(*(stop_process(served.process) for served in started), return_exceptions=True)
    for served, end in zip(started, ends, strict=True):
        print(f"python -m helpers.serve {' '.join(served.args)} (pid {served.process.pid})")
        print(f"lines read: {served.lines}")
        if isinstance(end, BaseException):
            print(f"not stopped: {end!r}")
        else:
            how = "killed after ignoring SIGTERM" if end.killed else f"exited {end.code}"
            print(f"{how}; unread stdout: {end.stdout!r}; stderr: {end.stderr!r}")
    for end in ends:
        if isinstance(end, BaseException):
            raise end


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_static_stage_prints_listening_serves_public_and_exits_cleanly(launch, free_port, sig):
    served = await launch("--stage", "static", "--host", "127.0.0.1", "--port", str(free_port))
    assert await served.read_line() == f"Listening at port {free_port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{free_port}/chat.html") as response:
            assert response.status == 200
            assert "<title>Chat with Websockets</title>" in await response.text()
    served.process.send_signal(sig)
    assert await asyncio.wait_for(served.process.wait(), 5) == 0
    assert await served.process.stderr.read() == b""


async def test_echo_stage_logs_what_it_gets(launch, free_port):
    served = await launch("--stage", "echo", "--port", str(free_port))
    assert await served.read_line() == f"Listening at port {free_port}"
    async with websockets.connect(f"ws://127.0.0.1:{free_port}/") as ws:
        await ws.send("hi")
        assert await asyncio.wait_for(ws.recv(), 3) == "hi"
    assert await served.read_line() == "Client connected (1 open)."
    assert await served.read_line() == "ws got: hi"
    served.process.terminate()
    assert await asyncio.wait_for(served.process.wait(), 5) == 0


async def test_port_in_use_is_one_line_and_exit_code_1(launch, free_port):
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


async def test_an_option_of_another_stage_is_refused_with_the_stages_that_take_it(launch):
    served = await launch("--stage", "echo", "--except-self")
    assert await asyncio.wait_for(served.process.wait(), 10) == 2
    error = (await served.process.stderr.read()).decode()
    takers = "broadcast, broadcast-bus, socketio"
    assert f"--except-self is not an option of --stage echo (it is of: {takers})" in error


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
    assert parse_args(["--stage", "broadcast-bus", "--no-except-self"]).options == {"except_self": False}
    assert parse_args(["--stage", "broadcast-bus"]).options == {}, "make_app's own defaults apply"


def test_a_parameter_without_a_command_line_form_is_named():
    def make_app(handler=None):  # no type hint: no way to tell how to parse it
        return None

    with pytest.raises(TypeError, match=r"make_app\(handler"):
        stage_options(make_app)


async def started(launch: Launch, *args: str) -> Served:
    """A server that said it listens."""
    served = await launch(*args)
    line = await served.read_line()
    assert line.startswith("Listening at port"), served.lines
    return served


async def stopped(served: Served) -> None:
    """Stopped by SIGTERM, and exited cleanly: what a terminal's server must do."""
    served.process.terminate()
    assert await asyncio.wait_for(served.process.wait(), 5) == 0


async def sio_client(url: str, **connect: Any) -> tuple[socketio.AsyncClient, list[Any]]:
    """A connected Socket.IO client and the ``chat message`` events it heard.

    A refused client is disconnected before the error goes on: that closes its HTTP session,
    which would otherwise be collected (``ResourceWarning``) during some later test.
    """
    client, heard = socketio.AsyncClient(logger=quiet_logger(), engineio_logger=quiet_logger()), []
    client.on("chat message", lambda *event: heard.append(event))
    try:
        await client.connect(url, transports=["websocket"], wait_timeout=5, **connect)
    except BaseException:
        await client.disconnect()
        raise
    return client, heard


async def test_except_self_on_the_socketio_stage_leaves_the_sender_out(launch, free_port):
    served = await started(launch, "--stage", "socketio", "--except-self", "--port", str(free_port))
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


async def test_db_keeps_the_chat_across_a_restart(launch, free_port, tmp_path):
    db = str(tmp_path / "chat.db")
    url = f"http://127.0.0.1:{free_port}/"
    served = await started(launch, "--stage", "socketio-chat", "--db", db, "--port", str(free_port))
    writer, _ = await sio_client(url, auth={"nick": "ada"})
    assert await writer.call("chat message", ("kept", "ada-1"), timeout=3) == {"id": 1}
    await writer.disconnect()
    await stopped(served)
    served = await started(launch, "--stage", "socketio-chat", "--db", db, "--port", str(free_port))
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


async def test_cors_allowed_origins_lets_a_listed_page_in_and_keeps_others_out(launch, free_port):
    origins = ["--cors-allowed-origins", "http://localhost:5173"]
    served = await started(launch, "--stage", "socketio-features", *origins, "--port", str(free_port))
    url = f"http://127.0.0.1:{free_port}/"
    friend, _ = await sio_client(url, headers={"Origin": "http://localhost:5173"})
    await friend.disconnect()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio_client(url, headers={"Origin": "http://evil.example"})
    await stopped(served)


ROUND_TRIPS = {
    # stage: (websocket path, what a client sends, what proves the stage handled it)
    "receive": ("", "hi", "log: ws got: hi"),
    "echo": ("", "hi", "hi"),
    "broadcast": ("", "hi", "hi"),
    "broadcast-bus": ("", "hi", "hi"),
    "json": ("", '{"type": "nick", "nick": "ada"}', '{"type": "join", "nick": "ada"}'),
    "socketio": ("socket.io/?EIO=4&transport=websocket", "40", "40{"),
    "socketio-features": ("socket.io/?EIO=4&transport=websocket", "40", "40{"),
    "socketio-chat": ("socket.io/?EIO=4&transport=websocket", "40", "40{"),
    "chat-cluster": ("socket.io/?EIO=4&transport=websocket", "40", "40{"),
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
        if path.startswith("socket.io/"):
            assert (await asyncio.wait_for(ws.recv(), 3)).startswith('0{"sid":')  # engine.io: open
        await ws.send(message)
        if proof.startswith("log: "):
            await server.log.wait_for(proof.removeprefix("log: "))
        else:
            assert (await asyncio.wait_for(ws.recv(), 3)).startswith(proof)


LEAKY_TEST = '''
import json
import os
from pathlib import Path

from test_serve import launch  # noqa: F401 (the fixture under test)


async def test_raises_while_its_server_listens(launch):
    served = await launch("--stage", "echo", "--port", "0")
    line = await served.read_line()
    pid = served.process.pid
    record = {"pid": pid, "line": line, "pipes": [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in (1, 2)]}
    Path("record.json").write_text(json.dumps(record))
    raise RuntimeError("the test body raised while its server listened")
'''


def is_alive(pid: int) -> bool:
    """Running, or exited but never reaped (a zombie): either way, not cleaned up."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def port_is_free(port: int) -> bool:
    """A new server could listen on ``port`` (no ``SO_REUSEADDR``: nothing may hold it at all)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
    return True


def open_files() -> set[str]:
    """What this process's file descriptors point at: ``pipe:[1234]`` for a pipe."""
    targets = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.add(os.readlink(f"/proc/self/fd/{fd}"))
        except FileNotFoundError:  # the descriptor listdir itself used
            pass
    return targets


def test_a_test_that_raises_leaves_no_server_no_listener_and_no_pipe(pytester):
    """The ``launch`` fixture, run by pytest itself, cleans up after a test body that raised.

    In-process (``runpytest_inprocess``): this process is the server's parent and lives on,
    so without the teardown the server would still be running when we look (PDEATHSIG only
    acts when the parent dies).
    """
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error::pytest.PytestUnraisableExceptionWarning\n"
    )
    pytester.makepyfile(test_leaky=LEAKY_TEST)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert (pytester.path / "record.json").exists(), result.stdout.str()  # its server did start
    record = json.loads((pytester.path / "record.json").read_text())
    pid, port = record["pid"], int(record["line"].removeprefix("Listening at port "))
    leaked = is_alive(pid)
    try:
        result.assert_outcomes(failed=1)  # the body's error, and no error in the teardown
        result.stdout.fnmatch_lines(["*RuntimeError: the test body raised while its server listened"])
        assert not leaked, f"pid {pid} (python -m helpers.serve) outlived its test"
        assert port_is_free(port), f"port {port} is still held after the test"
        assert open_files().isdisjoint(record["pipes"]), "its stdout or stderr pipe is still open here"
    finally:
        if leaked:
            stop_group(pid, signal.SIGKILL)


STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # its child inherits that too
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for init, and holds nothing)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def stops_running(pid: int, within: float = 5.0) -> bool:
    """``pid`` stops running within ``within`` seconds: a SIGKILL is sent, its delivery not awaited."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while running(pid):
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_stop_process_kills_a_group_that_ignores_sigterm():
    """The teardown's second step: SIGKILL after the grace period, for the leader and its child."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STUBBORN,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True, preexec_fn=die_with_parent,
    )
    child = int(await asyncio.wait_for(process.stdout.readline(), READ_TIMEOUT))
    try:
        end = await asyncio.wait_for(stop_process(process, grace=0.5), 15)
        assert end.killed and end.code == -signal.SIGKILL
        assert not is_alive(process.pid), "the leader is reaped"
        assert await stops_running(child), "its child, in its group, is killed too"
    finally:
        stop_group(process.pid, signal.SIGKILL)
        await asyncio.wait_for(process.wait(), 5)


# Options that can't work: one line on stderr and status 2, before anything listens.

PROG = "python -m helpers.serve: error: "


async def refused(launch: Launch, *args: str) -> str:
    """What ``python -m helpers.serve *args`` said on stderr; it must exit 2 at start, printing nothing."""
    served = await launch(*args)
    assert await asyncio.wait_for(served.process.wait(), 20) == 2, "it must not start"
    assert await served.process.stdout.read() == b"", "nothing listened"
    error = (await served.process.stderr.read()).decode()
    assert error.startswith(PROG) and error.count("\n") == 1 and error.endswith("\n"), error
    return error.removeprefix(PROG).rstrip("\n")


def chat_db(path: Path, messages: int = 2000) -> Path:
    """An SQLite file as the socketio-chat stage keeps it (notebook 09's schema), with messages."""
    import sqlite3

    from helpers.delivery import INSERT, SCHEMA

    with sqlite3.connect(path) as db:
        db.execute(SCHEMA)
        db.executemany(INSERT, [(f"c{n}", "ada", f"message {n} " + "x" * 200) for n in range(messages)])
    db.close()
    return path


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """Makes a file read-only even for root: ``chattr +i`` as root (undone after), 0444 otherwise."""
    frozen: list[Path] = []

    def _read_only(path: Path) -> None:
        if os.geteuid() != 0:
            path.chmod(0o444)
            return
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("root ignores file modes, and chattr +i (an immutable file) is not available here")
        frozen.append(path)

    yield _read_only
    for path in frozen:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def damaged(tmp_path: Path, size: int) -> Path:
    """A chat database cut after ``size`` bytes (a copy interrupted, a disk full)."""
    whole = chat_db(tmp_path / "whole.db").read_bytes()
    cut = tmp_path / f"cut-{size}.db"
    cut.write_bytes(whole[:size])
    return cut


@pytest.mark.parametrize("size", [3000, 100_000, 300_000])
async def test_a_truncated_db_is_refused_in_one_line(launch, tmp_path, size):
    db = damaged(tmp_path, size)
    before = db.read_bytes()
    error = await refused(launch, "--stage", "socketio-chat", "--db", str(db))
    assert error == f"--db {db}: the database is damaged (cut short, or overwritten)"
    assert db.read_bytes() == before, "left as it was"


async def test_a_read_only_db_is_refused_instead_of_failing_every_message(launch, tmp_path, read_only):
    db = chat_db(tmp_path / "chat.db")
    read_only(db)
    error = await refused(launch, "--stage", "socketio-chat", "--db", str(db))
    assert error == f"--db {db}: read-only here: the chat could not keep a single message"


BAD_DBS = {
    # what is wrong: (made in tmp_path, the path to give; what the one line says after "--db PATH: ")
    "a missing folder": (lambda tmp: tmp / "nowhere" / "chat.db", "no folder {tmp}/nowhere"),
    "a folder": (lambda tmp: tmp, "a folder, not a file"),
    "not a database": (
        lambda tmp: _written(tmp / "notes.db", b"hello, not a database\n" * 10),
        "not an SQLite database",
    ),
    "another program's table": (
        lambda tmp: _other_table(tmp / "other.db"),
        "its messages table is not the chat's (columns body, id)",
    ),
}


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _other_table(path: Path) -> Path:
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, body TEXT)")
    db.close()
    return path


@pytest.mark.parametrize(("make", "says"), BAD_DBS.values(), ids=BAD_DBS.keys())
async def test_a_db_that_cannot_work_is_refused_in_one_line(launch, tmp_path, make, says):
    db = make(tmp_path)
    files = sorted(tmp_path.rglob("*"))
    error = await refused(launch, "--stage", "socketio-chat", "--db", str(db))
    assert error == f"--db {db}: " + says.format(tmp=tmp_path)
    assert sorted(tmp_path.rglob("*")) == files, "no file made, none removed"


REFUSED_OPTIONS = {
    # what is wrong: (the options after --stage, the one line after "error: ")
    "--db without a name": (
        ["chat-cluster", "--db", ""],
        "--db needs a file name (or leave it out: the chat then keeps its messages in memory)",
    ),
    "--message-queue without --db": (
        ["chat-cluster", "--message-queue", "redis://127.0.0.1:6390/0"],
        "--message-queue needs --db FILE on --stage chat-cluster: the processes that share a message queue "
        "share the chat's messages too, in one SQLite file",
    ),
    "--message-queue that is not Redis's": (
        ["broadcast-bus", "--message-queue", "http://127.0.0.1:6390/0"],
        "--message-queue http://127.0.0.1:6390/0: not a Redis URL; e.g. redis://127.0.0.1:6379/0 or "
        "unix:///path/redis.sock",
    ),
    "--message-queue with a port that is not a number": (
        ["broadcast-bus", "--message-queue", "redis://127.0.0.1:port/0"],
        "--message-queue redis://127.0.0.1:port/0: not a URL (a port must be a number)",
    ),
    "a port out of range": (
        ["static", "--port", "70000"], "--port 70000: a port is a number from 0 to 65535"
    ),
    "a host that is no address": (["static", "--host", "999.1.1.1"], "--host 999.1.1.1: no such address"),
    "no connection at all": (
        ["echo", "--max-connections", "0"], "--max-connections 0: at least 1 (one client)"
    ),
    "a host of another machine": (
        ["static", "--host", "192.0.2.1"],  # TEST-NET-1: never an address of this machine
        "--host 192.0.2.1: not an address of this machine (127.0.0.1 is; 0.0.0.0 is all of them)",
    ),
    "an origin with a trailing slash": (
        ["socketio-features", "--cors-allowed-origins", "http://localhost:5173/"],
        "--cors-allowed-origins http://localhost:5173/: not an origin; write it as a browser sends it, "
        "scheme://host[:port] with no path or trailing /, e.g. http://localhost:5173",
    ),
}


@pytest.mark.parametrize(("args", "says"), REFUSED_OPTIONS.values(), ids=REFUSED_OPTIONS.keys())
async def test_options_that_cannot_work_are_refused_in_one_line(launch, args, says, free_port):
    assert await refused(launch, "--port", str(free_port), "--stage", *args) == says


async def test_max_connections_sets_the_cap(launch, free_port):
    """Issue 20: the 1,000-connection cap had no command-line option."""
    served = await launch("--stage", "echo", "--port", str(free_port), "--max-connections", "2")
    assert await served.read_line() == f"Listening at port {free_port}"
    url = f"ws://127.0.0.1:{free_port}/"
    async with websockets.connect(url), websockets.connect(url):
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(url)
        assert refused.value.response.status_code == 503


async def test_a_port_without_the_right_to_bind_it_is_one_line(launch):
    """Below 1024 without the privilege: once a traceback (``PermissionError``) at start."""
    low = next((port for port in range(900, 1000) if bindable(port)), None)
    assert low is not None, "no free port below 1000"
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("root may bind any port, and setpriv (to drop that right) is missing")
        drop = [setpriv, "--bounding-set=-net_bind_service", "--inh-caps=-net_bind_service"]
    else:
        drop = []
    process = await asyncio.create_subprocess_exec(
        *drop, sys.executable, "-m", "helpers.serve", "--port", str(low), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True, preexec_fn=die_with_parent,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            await stop_process(process)
    assert (process.returncode, out) == (2, b"")
    assert err.decode() == f"{PROG}can't listen at 127.0.0.1 port {low}: Permission denied\n"


async def test_a_good_db_still_starts_and_is_left_whole(launch, free_port, tmp_path):
    db = chat_db(tmp_path / "chat.db", messages=3)
    served = await started(launch, "--stage", "socketio-chat", "--db", str(db), "--port", str(free_port))
    url = f"http://127.0.0.1:{free_port}/"
    reader, heard = await sio_client(url, auth={"nick": "bob", "serverOffset": 0})
    try:
        for _ in range(50):
            if len(heard) == 3:
                break
            await asyncio.sleep(0.1)
        assert [event[0] for event in heard] == [f"ada: message {n} " + "x" * 200 for n in range(3)]
    finally:
        await reader.disconnect()
    await stopped(served)


SHARE_ADDRESSES = {
    "not an address": ("nonsense", "WORKBOOK_SHARE_ADDRESS='nonsense' is not an IP address; give one of this "
                       "machine's, e.g. 192.168.1.20, or unset it to use the default route's"),
    "not this machine's": ("192.0.2.7", "WORKBOOK_SHARE_ADDRESS=192.0.2.7 is not an address of this machine "
                           "(give one, or unset)"),
}


@pytest.mark.parametrize(("address", "says"), SHARE_ADDRESSES.values(), ids=SHARE_ADDRESSES.keys())
async def test_share_on_an_address_that_cannot_work_is_one_line(
    launch, monkeypatch, free_port, address, says
):
    monkeypatch.setenv("WORKBOOK_SHARE_ADDRESS", address)  # the process inherits it
    assert await refused(launch, "--stage", "json", "--share", "--port", str(free_port)) == f"--share: {says}"
