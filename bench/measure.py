"""The measurements of ``make bench`` (``python -m bench``), each server a process of its own.

Every server runs as a process of its own; one Node load generator (``bench/load.mjs``) drives
them all, so the Python and Node servers meet the very same clients. Runs alternate between
servers (a warm-up first, then the median of ``--rounds``), so a slow minute of the machine
falls on every server alike. Writes ``bench/results.md`` (every figure, its ratio to the Node
peer, versions, machine) and ``bench/results.png`` (``bench/report.py``).
"""

from __future__ import annotations

import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
LOAD = ["node", str(BENCH / "load.mjs")]


@dataclass(frozen=True)
class Server:
    """One contender: how to start it, which protocol it speaks, its clients, its Node peers."""

    name: str
    protocol: str  # "ws" or "socketio"
    command: tuple[str, ...]
    peers: tuple[str, ...] = ()  # the Node rows its ratios are taken against (none: it is one)
    deflate: bool = False  # its clients offer permessage-deflate, as a browser's always do

    def start(self, port: int, stderr: IO[bytes]) -> subprocess.Popen[bytes]:
        """Its log (a line per message) goes nowhere; its stderr to ``stderr``, to say why it failed."""
        argv = [part.replace("{port}", str(port)) for part in self.command]
        return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)


MAX_CONNECTIONS = 6000
"""The Python servers' cap (``--max-connections``): above the largest idle run, 5,000."""


def stage(name: str, *, uvloop: bool = False) -> tuple[str, ...]:
    extra = ("--uvloop",) if uvloop else ()
    return (PYTHON, "-m", "helpers.serve", "--stage", name, "--port", "{port}",
            "--max-connections", str(MAX_CONNECTIONS), *extra)


def node(script: str, *extra: str) -> tuple[str, ...]:
    return ("node", str(BENCH / script), "--port", "{port}", *extra)


NODE_WS, NODE_WS_QUIET = "Node ws (original)", "Node ws (no logging)"
NODE_SIO, NODE_SIO_DEFLATE = "Node socket.io 4.8, deflate refused", "Node socket.io 4.8, deflate offered"
SIO, SIO_DEFLATE = "socketio (asyncio), deflate refused", "socketio (asyncio), deflate offered"
RAW = "broadcast-bus (asyncio)"
WS_PEERS = (NODE_WS, NODE_WS_QUIET)
SERVERS = [
    Server(NODE_WS, "ws", node("ws-server.mjs")),
    Server(NODE_WS_QUIET, "ws", node("ws-server.mjs", "--quiet")),
    Server(RAW, "ws", stage("broadcast-bus"), WS_PEERS),
    Server("broadcast-bus (uvloop)", "ws", stage("broadcast-bus", uvloop=True), WS_PEERS),
    Server("broadcast (asyncio)", "ws", stage("broadcast"), WS_PEERS),
    Server(NODE_SIO, "socketio", node("socketio-server.mjs")),
    Server(SIO, "socketio", stage("socketio"), (NODE_SIO,)),
    Server(NODE_SIO_DEFLATE, "socketio", node("socketio-server.mjs"), deflate=True),
    Server(SIO_DEFLATE, "socketio", stage("socketio"), (NODE_SIO_DEFLATE,), deflate=True),
]
"""Socket.IO twice each: clients that refuse permessage-deflate, and clients that offer it as a
browser does (the server chooses). The raw rows' clients refuse it, as before."""

FANOUT = [(10, 400), (100, 1000), (1000, 100)]
"""(clients, messages): every client receives every message. Each sender sends at most 40
messages, the Socket.IO stages' burst allowance, so no limit refuses any of them."""

RATE = dict(clients=100, rate=200, seconds=5)
"""The latency run: 200 messages a second in all, to 100 clients (20,000 deliveries/s)."""

IDLE_CLIENTS = (1000, 5000)
"""Idle connections held at once: the first count, then more up to the second, on one server."""

WORST = dict(clients=990, readers=10, messages=60, size=64 * 1024 - 1)
"""The worst case of unsent bytes: 980 clients that stop reading, 10 that read and send 60
messages of 64 KiB (less the one byte that the stages' 64 KiB limit refuses) as fast as they can."""
WORST_SERVERS = (RAW, NODE_WS)
SAMPLE_S = 0.05  # RSS sampling period of the worst-case run
SETTLE_S = 10.0  # at most this long after the last delivery for the RSS to settle
BUSY = dict(clients=200, rate=200, seconds=6)
"""The kernel's load: 200 clients each sending one message a second (40,000 deliveries/s)."""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def raise_open_files() -> None:
    """Soft limit on open files up to the hard one: 5,000 connections are 5,000 descriptors in the
    server and as many in the load generator, which inherit the limit from this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft >= hard:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss(process: subprocess.Popen[bytes]) -> int:
    return psutil.Process(process.pid).memory_info().rss


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> str | None:
    """None once something listens at ``port``; else what went wrong."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"it exited with status {process.returncode}"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return None
        time.sleep(0.05)
    return f"nothing listens at port {port} after {timeout} s"


@contextmanager
def running(server: Server) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    stderr = tempfile.TemporaryFile()
    process = server.start(port, stderr)
    try:
        problem = wait_listening(port, process)
        if problem is not None:
            stderr.seek(0)
            said = stderr.read().decode(errors="replace").strip()[-1000:]
            said = f"; its stderr:\n{said}" if said else ""
            raise RuntimeError(f"{server.name} did not start: {problem}{said}")
        yield port, process
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stderr.close()


class LoadFailed(RuntimeError):
    """``load.mjs`` could not do its run (a connection refused, say): the why, from its stderr."""


def load_argv(server: Server, port: int, clients: int, mode: str, **options: object) -> list[str]:
    argv = [*LOAD, "--protocol", server.protocol, "--port", str(port), "--clients", str(clients),
            "--mode", mode, "--deflate", "on" if server.deflate else "off"]
    for key, value in options.items():
        argv += [f"--{key}", str(value)]
    return argv


def load(server: Server, port: int, clients: int, mode: str, **options: object) -> dict:
    done = subprocess.run(load_argv(server, port, clients, mode, **options), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=180)
    if done.returncode != 0:
        raise LoadFailed(f"load.mjs failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def start_load(
    server: Server, port: int, clients: int, mode: str, **options: object
) -> subprocess.Popen[str]:
    """A held run (idle, stalled), once it said it is ready: the caller closes its stdin to end it."""
    held = subprocess.Popen(load_argv(server, port, clients, mode, **options), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = next_line(held)
    if not ready.get("ready"):
        raise LoadFailed(f"load.mjs said {ready}")
    return held


def next_line(held: subprocess.Popen[str]) -> dict:
    """The next JSON line of a held run; its stderr's end if it exited instead."""
    assert held.stdout is not None and held.stderr is not None
    line = held.stdout.readline()
    if not line:
        held.wait(30)
        raise LoadFailed(f"load.mjs failed: {held.stderr.read().strip()[-500:]}")
    return json.loads(line)


def end_load(held: subprocess.Popen[str]) -> str:
    """Close a held run's stdin, which ends it: what it printed after that, once it exited."""
    assert held.stdin is not None and held.stdout is not None and held.stderr is not None
    held.stdin.close()  # not communicate(): it would flush the stdin closed here, and fail
    out = held.stdout.read()
    held.stderr.read()  # a few progress lines: never enough to fill the pipe meanwhile
    held.wait(60)
    return out


@dataclass
class Results:
    fanout: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    cpu: dict[tuple[str, int], list[float]] = field(default_factory=dict)  # server CPU s per delivery
    missing: dict[tuple[str, int], int] = field(default_factory=dict)
    latency: dict[str, dict] = field(default_factory=dict)
    memory: dict[tuple[str, int], float | None] = field(default_factory=dict)  # None: could not open them
    worst: dict[str, dict] = field(default_factory=dict)
    kernel: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what went wrong, said in the report
    load_before: tuple[float, float, float] = field(default_factory=os.getloadavg)  # the machine's, at start

    def median(self, name: str, clients: int) -> float:
        return statistics.median(self.fanout[(name, clients)])


def measure_fanout(results: Results, servers: list[Server], rounds: int) -> None:
    """Alternate the servers: a warm-up run each, then ``rounds`` rounds of one run each."""
    with _all_running(servers) as running_servers:
        for clients, messages in FANOUT:
            for round_ in range(rounds + 1):
                for server in servers:
                    port, process = running_servers[server.name]
                    used = cpu_seconds(process)
                    got = load(server, port, clients, "fanout", messages=messages)
                    settle_cpu(process)
                    used = cpu_seconds(process) - used  # from the first connect to the last close
                    key = (server.name, clients)
                    results.missing[key] = results.missing.get(key, 0) + got["missing"] + got["out_of_order"]
                    if round_ == 0:
                        continue  # the warm-up: a JIT warms, caches fill
                    results.fanout.setdefault(key, []).append(got["deliveries_per_s"])
                    if got["deliveries"]:
                        results.cpu.setdefault(key, []).append(used / got["deliveries"])
                    say(f"  fan-out {clients:>4} clients × {messages:>4}, round {round_}/{rounds}: "
                        f"{server.name:38} {got['deliveries_per_s']:>10,.0f} deliveries/s")


@contextmanager
def _all_running(servers: list[Server]) -> Iterator[dict[str, tuple[int, subprocess.Popen[bytes]]]]:
    """Every server at once, each on its port (idle ones take no CPU): name -> (port, process)."""
    with ExitStack() as stack:
        yield {server.name: stack.enter_context(running(server)) for server in servers}


def cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """The CPU time (user and system) a server's process has used so far."""
    return sum(psutil.Process(process.pid).cpu_times()[:2])


def settle_cpu(process: subprocess.Popen[bytes], timeout: float = 2.0) -> None:
    """Wait until a server is idle again (under 5 ms of CPU in 50 ms): it still closes the last
    run's clients for a while (a Python Socket.IO server about 0.2 s after 1,000), and the next
    server's run must not pay for that."""
    server = psutil.Process(process.pid)
    deadline = time.monotonic() + timeout
    used = sum(server.cpu_times()[:2])
    while time.monotonic() < deadline:
        time.sleep(0.05)
        before, used = used, sum(server.cpu_times()[:2])
        if used - before < 0.005:
            return


def measure_latency(results: Results, servers: list[Server]) -> None:
    with _all_running(servers) as running_servers:
        for server in servers:
            port, process = running_servers[server.name]
            got = load(server, port, RATE["clients"], "rate", rate=RATE["rate"], seconds=RATE["seconds"])
            settle_cpu(process)
            results.latency[server.name] = got
            say(f"  fixed rate: {server.name:38} p50 {got['p50_ms']:.2f} ms, p99 {got['p99_ms']:.2f} ms, "
                f"missing {got['missing']}")


def measure_memory(results: Results, servers: list[Server]) -> None:
    """RSS growth per connection: a fresh server, warmed by 10 clients, then 1,000 idle ones, then
    4,000 more (a second load generator): each count's RSS over the warmed one, per connection."""
    for server in servers:
        with running(server) as (port, process):
            load(server, port, 10, "fanout", messages=10)
            time.sleep(0.5)
            before = rss(process)
            held: list[subprocess.Popen[str]] = []
            opened = 0
            try:
                for count in IDLE_CLIENTS:
                    try:
                        held.append(start_load(server, port, count - opened, "idle"))
                        opened = count
                    except LoadFailed as exc:
                        results.memory[(server.name, count)] = None
                        results.notes.append(f"{server.name}, {count:,} idle connections: {exc}")
                        say(f"  idle memory: {server.name:38} {count:>5,} connections: {exc}")
                        break
                    time.sleep(2.0)  # let the server settle: handshakes done, timers armed
                    per = (rss(process) - before) / count
                    results.memory[(server.name, count)] = per
                    say(f"  idle memory: {server.name:38} {count:>5,} connections: "
                        f"{per / 1024:6.1f} KiB each")
            finally:
                for idle in held:
                    end_load(idle)


class Sampler(threading.Thread):
    """A process's RSS every ``SAMPLE_S`` s, in a thread: (seconds since start, bytes) pairs."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process, self.stopped = psutil.Process(pid), threading.Event()
        self.samples: list[tuple[float, int]] = []
        self.started_at = time.monotonic()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.samples.append((time.monotonic() - self.started_at, self.process.memory_info().rss))
            except psutil.Error:
                return  # the server is gone: what it used is in the samples so far
            self.stopped.wait(SAMPLE_S)

    def since(self, seconds: float) -> list[int]:
        return [value for at, value in self.samples if at >= seconds]

    def now(self) -> float:
        return time.monotonic() - self.started_at


def measure_worst(results: Results, servers: list[Server]) -> None:
    """The worst case of unsent bytes: readers flood clients that stopped reading (``WORST``).

    The server's RSS is sampled from before anyone connects: idle (all connected, before the
    first message), its peak, and its end once it settled after the last delivery (the stalled
    clients dropped by then, if the server drops them)."""
    for server in (s for s in servers if s.name in WORST_SERVERS):
        with running(server) as (port, process):
            sampler = Sampler(process.pid)
            sampler.start()
            stalled: subprocess.Popen[str] | None = None
            try:
                before = rss(process)
                stalled = start_load(server, port, WORST["clients"], "stalled", readers=WORST["readers"],
                                     messages=WORST["messages"], size=WORST["size"], timeout=30)
                time.sleep(1.0)
                idle, go = rss(process), sampler.now()
                assert stalled.stdin is not None
                stalled.stdin.write("go\n")  # the readers send
                stalled.stdin.flush()
                delivered = next_line(stalled)
                _settle(sampler)
                end = rss(process)
                last = end_load(stalled).strip().splitlines()
                stalled = None
                if not last:
                    raise LoadFailed("load.mjs ended without its result")
                got = json.loads(last[-1])
            except LoadFailed as exc:
                results.notes.append(f"{server.name}, worst case: {exc}")
                say(f"  worst case: {server.name}: {exc}")
                continue
            finally:
                sampler.stopped.set()
                if stalled is not None:
                    stalled.kill()
                    stalled.wait()
            peak = max(sampler.since(go))
            results.worst[server.name] = {
                **got, "before": before, "idle": idle, "peak": peak, "end": end,
                "seconds": delivered["seconds"], "samples": sampler.samples, "go": go,
            }
            say(f"  worst case: {server.name:30} idle {idle / 1e6:.0f} MB, "
                f"peak +{(peak - idle) / 1e6:.0f} MB, end {(end - idle) / 1e6:+.0f} MB, "
                f"fewest messages per reader {got['min_per_reader']}"
                f"/{WORST['messages']}, stalled clients dropped {got['stalled_dropped']}/{got['stalled']}")


def _settle(sampler: Sampler) -> None:
    """Wait until the RSS moved less than 1 MiB in the last second (at most ``SETTLE_S`` s)."""
    started = sampler.now()
    while sampler.now() - started < SETTLE_S:
        time.sleep(0.2)
        last = sampler.since(sampler.now() - 1.0)
        if sampler.now() - started >= 1.0 and len(last) > 5 and max(last) - min(last) < 1 << 20:
            return


KERNEL_SETUP = """
from helpers import start_server
from helpers.stages.{module} import make_app
server = await start_server(make_app(), port={port}, quiet=True, hand_over=False)
"""


def measure_kernel(results: Results) -> None:
    """A cell's round trip in a real kernel whose server serves 200 busy clients."""
    from jupyter_client.manager import start_new_kernel

    for label, module in (("fast broadcast", "fast_broadcast"), ("readable broadcast", "broadcast")):
        km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT), stderr=subprocess.DEVNULL)
        try:
            port = free_port()
            reply = kc.execute_interactive(KERNEL_SETUP.format(module=module, port=port), timeout=60)
            assert reply["content"]["status"] == "ok", reply["content"]
            idle_trips = _round_trips(kc, 1.0)
            busy = subprocess.Popen(
                [*LOAD, "--protocol", "ws", "--port", str(port), "--clients", str(BUSY["clients"]),
                 "--mode", "rate", "--rate", str(BUSY["rate"]), "--seconds", str(BUSY["seconds"])],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            assert busy.stderr is not None
            for line in busy.stderr:
                if line.startswith(f"connected {BUSY['clients']}/"):
                    break
            trips = _round_trips(kc, BUSY["seconds"] - 1.0)
            out, _ = busy.communicate(timeout=60)
            served = json.loads(out.strip().splitlines()[-1])
            results.kernel[label] = {
                "idle_p99_ms": _percentile(idle_trips, 99),
                "p50_ms": _percentile(trips, 50),
                "p99_ms": _percentile(trips, 99),
                "cells": len(trips),
                "deliveries": served["deliveries"],
                "expected": served["expected"],
            }
            say(f"  kernel round trip, {label}: p50 {results.kernel[label]['p50_ms']:.1f} ms, "
                f"p99 {results.kernel[label]['p99_ms']:.1f} ms, serving {served['deliveries']:,} deliveries")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


CELL = "total = sum(range(1000))"


def _round_trips(kc: object, seconds: float) -> list[float]:
    """Run a small cell again and again for ``seconds``: each one's request-to-reply time, in ms."""
    trips: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        msg_id = kc.execute(CELL)  # type: ignore[attr-defined]
        while True:
            reply = kc.get_shell_msg(timeout=30)  # type: ignore[attr-defined]
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        trips.append((time.perf_counter() - started) * 1000)
        time.sleep(0.02)  # a person runs a cell now and then, not in a tight loop
    return trips


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
