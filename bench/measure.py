"""The measurements of ``make bench`` (``python -m bench``), each server a process of its own.

Every server runs as a process of its own; one Node load generator (``bench/load.mjs``) drives
them all, so the Python and Node servers meet the very same clients. Runs alternate between
servers (a warm-up first, then the median of ``--rounds``), so a slow minute of the machine
falls on every server alike. Writes ``bench/results.md`` (every figure, its ratio to the Node
peer, versions, machine) and ``bench/results.png`` (``bench/report.py``).
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
LOAD = ["node", str(BENCH / "load.mjs")]


@dataclass(frozen=True)
class Server:
    """One contender: how to start it, which protocol it speaks, and its Node peer."""

    name: str
    protocol: str  # "ws" or "socketio"
    command: tuple[str, ...]
    peer: str | None = None  # the Node server its ratios are taken against

    def start(self, port: int) -> subprocess.Popen[bytes]:
        argv = [part.replace("{port}", str(port)) for part in self.command]
        return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stage(name: str, *, uvloop: bool = False) -> tuple[str, ...]:
    extra = ("--uvloop",) if uvloop else ()
    return (PYTHON, "-m", "helpers.serve", "--stage", name, "--port", "{port}", *extra)


NODE_WS, NODE_SIO = "Node ws (original)", "Node socket.io 4.8"
SERVERS = [
    Server(NODE_WS, "ws", ("node", str(BENCH / "ws-server.mjs"), "--port", "{port}")),
    Server("broadcast (asyncio)", "ws", stage("broadcast"), NODE_WS),
    Server("broadcast (uvloop)", "ws", stage("broadcast", uvloop=True), NODE_WS),
    Server("broadcast-readable (asyncio)", "ws", stage("broadcast-readable"), NODE_WS),
    Server(NODE_SIO, "socketio", ("node", str(BENCH / "socketio-server.mjs"), "--port", "{port}")),
    Server("socketio (asyncio)", "socketio", stage("socketio"), NODE_SIO),
]

FANOUT = [(10, 400), (100, 1000), (1000, 100)]
"""(clients, messages): every client receives every message. Each sender sends at most 40
messages, the Socket.IO stages' burst allowance, so no limit refuses any of them."""

RATE = dict(clients=100, rate=200, seconds=5)
"""The latency run: 200 messages a second in all, to 100 clients (20,000 deliveries/s)."""

IDLE_CLIENTS = 1000
BUSY = dict(clients=200, rate=200, seconds=6)
"""The kernel's load: 200 clients each sending one message a second (40,000 deliveries/s)."""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens at port {port} after {timeout} s")


@contextmanager
def running(server: Server) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    process = server.start(port)
    try:
        wait_listening(port)
        yield port, process
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()


def load(protocol: str, port: int, clients: int, mode: str, **options: object) -> dict:
    argv = [*LOAD, "--protocol", protocol, "--port", str(port), "--clients", str(clients), "--mode", mode]
    for key, value in options.items():
        argv += [f"--{key}", str(value)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise RuntimeError(f"load.mjs failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@dataclass
class Results:
    fanout: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    missing: dict[tuple[str, int], int] = field(default_factory=dict)
    latency: dict[str, dict] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)
    kernel: dict[str, dict] = field(default_factory=dict)

    def median(self, name: str, clients: int) -> float:
        return statistics.median(self.fanout[(name, clients)])


def measure_fanout(results: Results, servers: list[Server], rounds: int) -> None:
    """Alternate the servers: a warm-up run each, then ``rounds`` rounds of one run each."""
    with _all_running(servers) as ports:
        for clients, messages in FANOUT:
            for round_ in range(rounds + 1):
                for server in servers:
                    got = load(server.protocol, ports[server.name], clients, "fanout", messages=messages)
                    key = (server.name, clients)
                    results.missing[key] = results.missing.get(key, 0) + got["missing"] + got["out_of_order"]
                    if round_ == 0:
                        continue  # the warm-up: a JIT warms, caches fill
                    results.fanout.setdefault(key, []).append(got["deliveries_per_s"])
                    say(f"  fan-out {clients:>4} clients × {messages:>4}, round {round_}/{rounds}: "
                        f"{server.name:30} {got['deliveries_per_s']:>10,.0f} deliveries/s")


@contextmanager
def _all_running(servers: list[Server]) -> Iterator[dict[str, int]]:
    """Every server at once, each on its port (idle ones take no CPU)."""
    with ExitStack() as stack:
        yield {server.name: stack.enter_context(running(server))[0] for server in servers}


def measure_latency(results: Results, servers: list[Server]) -> None:
    with _all_running(servers) as ports:
        for server in servers:
            got = load(server.protocol, ports[server.name], RATE["clients"], "rate",
                       rate=RATE["rate"], seconds=RATE["seconds"])
            results.latency[server.name] = got
            say(f"  fixed rate: {server.name:30} p50 {got['p50_ms']:.2f} ms, p99 {got['p99_ms']:.2f} ms, "
                f"missing {got['missing']}")


def measure_memory(results: Results, servers: list[Server]) -> None:
    """RSS growth per connection: a fresh server, warmed by 10 clients, then 1,000 idle ones."""
    for server in servers:
        with running(server) as (port, process):
            load(server.protocol, port, 10, "fanout", messages=10)
            time.sleep(0.5)
            before = psutil.Process(process.pid).memory_info().rss
            idle = subprocess.Popen(
                [*LOAD, "--protocol", server.protocol, "--port", str(port), "--clients", str(IDLE_CLIENTS),
                 "--mode", "idle"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )
            assert idle.stdout is not None and idle.stdin is not None
            ready = json.loads(idle.stdout.readline())
            assert ready.get("ready"), ready
            time.sleep(2.0)  # let the server settle: handshakes done, timers armed
            after = psutil.Process(process.pid).memory_info().rss
            idle.stdin.close()
            idle.wait(30)
            per = (after - before) / IDLE_CLIENTS
            results.memory[server.name] = per
            say(f"  idle memory: {server.name:30} {per / 1024:6.1f} KiB per connection")


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
