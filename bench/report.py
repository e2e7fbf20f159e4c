"""``bench/results.md`` and ``bench/results.png`` from one run's measurements."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import psutil

from bench.measure import BENCH, BUSY, CELL, FANOUT, IDLE_CLIENTS, NODE_SIO, NODE_WS, RATE, SERVERS, Results

TARGETS = [
    # (what, server, peer, clients, at least)
    ("raw broadcast ≥ 1.0× Node `ws` at 100 clients", "broadcast (asyncio)", NODE_WS, 100, 1.0),
    ("raw broadcast ≥ 3.0× Node `ws` at 1,000 clients", "broadcast (asyncio)", NODE_WS, 1000, 3.0),
    ("`socketio` ≥ 0.5× Node socket.io at 100 clients", "socketio (asyncio)", NODE_SIO, 100, 0.5),
]
KERNEL_P99_MS = 50.0


def versions() -> list[tuple[str, str]]:
    python = [("Python", platform.python_version())] + [
        (name, version(name)) for name in ("aiohttp", "uvloop", "python-socketio", "python-engineio")
    ]
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    packages = [
        (name, json.loads((BENCH / "node_modules" / name / "package.json").read_text())["version"])
        for name in ("express", "ws", "socket.io", "socket.io-client")
    ]
    return [*python, ("Node", node.lstrip("v")), *packages]


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )
    memory = psutil.virtual_memory().total / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} {platform.release()}"


def ratio(results: Results, name: str, peer: str, clients: int) -> float:
    return results.median(name, clients) / results.median(peer, clients)


def markdown(results: Results, rounds: int, seconds: float) -> str:
    lines = [
        "# `make bench`: the workbook's servers against the original Node servers",
        "",
        f"One run of `make bench` on {time.strftime('%Y-%m-%d')}, {seconds:.0f} s, on loopback. Every server "
        "is a process of its own, driven by the same Node load generator (`bench/load.mjs`); runs alternate "
        f"between servers, a warm-up first, then the median of {rounds}. Every client receives every message "
        "(the servers send to the sender too). Ratios are to the Node peer of the same protocol, in this "
        "run.",
        "",
        f"Machine: {machine()}.",
        "",
        "## Targets (issue 11)",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for what, name, peer, clients, least in TARGETS:
        value = ratio(results, name, peer, clients)
        lines.append(f"| {what} | {value:.2f}× | {'yes' if value >= least else '**no**'} |")
    ours, theirs = results.memory["broadcast (asyncio)"], results.memory[NODE_WS]
    lines.append(f"| idle memory per connection ≤ Node `ws`'s | {ours / 1024:.1f} KiB vs {theirs / 1024:.1f} "
                 "KiB "
                 f"| {'yes' if ours <= theirs else '**no**'} |")
    fast = results.kernel["fast broadcast"]["p99_ms"]
    lines.append(f"| kernel round trip ≤ {KERNEL_P99_MS:.0f} ms p99, serving {BUSY['clients']} busy clients "
                 f"| {fast:.1f} ms | {'yes' if fast <= KERNEL_P99_MS else '**no**'} |")
    lines += ["", "## Fan-out: deliveries per second (median)", ""]
    counts = [clients for clients, _ in FANOUT]
    header = " | ".join(f"{c:,} clients × {m:,}" for c, m in FANOUT)
    lines += [f"| server | {header} | lost or out of order |", "|---" * (len(FANOUT) + 2) + "|"]
    for server in SERVERS:
        cells = []
        for clients in counts:
            figure = f"{results.median(server.name, clients):,.0f}"
            if server.peer:
                figure += f" ({ratio(results, server.name, server.peer, clients):.2f}×)"
            cells.append(figure)
        lost = sum(results.missing[(server.name, c)] for c in counts)
        lines.append(f"| {server.name} | {' | '.join(cells)} | {lost} |")
    lines += [
        "", f"## Latency at a fixed rate: {RATE['rate']} messages/s to {RATE['clients']} clients for "
        f"{RATE['seconds']} s", "",
        "| server | p50 | p99 | max | deliveries | lost |", "|---|---|---|---|---|---|",
    ]
    for server in SERVERS:
        got = results.latency[server.name]
        lines.append(f"| {server.name} | {got['p50_ms']:.2f} ms | {got['p99_ms']:.2f} ms "
                     f"| {got['max_ms']:.1f} ms "
                     f"| {got['deliveries']:,} | {got['missing']} |")
    lines += [
        "", f"## Idle memory: {IDLE_CLIENTS:,} open connections", "",
        "The server's resident memory (RSS) with 1,000 idle clients, less before them (after 10 warm-up "
        "clients came and went), divided by 1,000. The same method for every server.", "",
        "| server | per connection | ratio to Node peer |", "|---|---|---|",
    ]
    for server in SERVERS:
        per = results.memory[server.name]
        peer = f"{per / results.memory[server.peer]:.2f}×" if server.peer else ""
        lines.append(f"| {server.name} | {per / 1024:.1f} KiB | {peer} |")
    lines += [
        "", f"## The kernel while it serves: {BUSY['clients']} clients, {BUSY['rate']} messages/s in all", "",
        "A real Jupyter kernel runs the server (`start_server`, as a notebook does) while the load generator "
        f"keeps {BUSY['clients']} clients busy ({BUSY['clients'] * BUSY['rate']:,} deliveries/s asked); "
        f"meanwhile a small cell (`{CELL}`) runs again and again: the time from request to reply.", "",
        "| server in the kernel | idle p99 | busy p50 | busy p99 | cells run | deliveries (of asked) |",
        "|---|---|---|---|---|---|",
    ]
    for label, got in results.kernel.items():
        lines.append(f"| {label} | {got['idle_p99_ms']:.1f} ms | {got['p50_ms']:.1f} ms "
                     f"| {got['p99_ms']:.1f} ms "
                     f"| {got['cells']} | {got['deliveries']:,} of {got['expected']:,} |")
    lines += ["", "## Versions", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in versions()]
    lines += ["", "![deliveries per second against clients](results.png)", ""]
    return "\n".join(lines)


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = [clients for clients, _ in FANOUT]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    panels = ((axes[0], "ws", "Raw websocket broadcast"), (axes[1], "socketio", "Socket.IO"))
    for axis, protocol, title in panels:
        for server in (s for s in SERVERS if s.protocol == protocol):
            style = "--" if server.peer is None else "-"
            figures = [results.median(server.name, c) for c in counts]
            axis.plot(counts, figures, style, marker="o", label=server.name)
        axis.set(xscale="log", yscale="log", xlabel="clients", ylabel="deliveries/s", title=title)
        axis.legend(fontsize=8)
        axis.grid(True, which="both", alpha=0.3)
    names = [server.name for server in SERVERS]
    axes[2].barh(names, [results.latency[name]["p99_ms"] for name in names])
    axes[2].set(xlabel="ms", title=f"p99 latency, {RATE['rate']} msg/s to {RATE['clients']} clients")
    axes[2].invert_yaxis()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write(results: Results, rounds: int, seconds: float) -> None:
    (BENCH / "results.md").write_text(markdown(results, rounds, seconds))
    plot(results, BENCH / "results.png")
    print(f"Wrote {BENCH.name}/results.md and {BENCH.name}/results.png", file=sys.stderr)
