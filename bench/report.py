"""``bench/results.md`` and ``bench/results.png`` from one run's measurements."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import psutil

from bench.measure import (
    BENCH,
    BUSY,
    CELL,
    FANOUT,
    IDLE_CLIENTS,
    MAX_CONNECTIONS,
    NODE_SIO,
    NODE_SIO_DEFLATE,
    RATE,
    RAW,
    SERVERS,
    SIO,
    SIO_DEFLATE,
    WORST,
    WS_PEERS,
    Results,
    Server,
)

SPEED_TARGETS = [
    # (what, server, its peers (judged against the first), clients, at least, moonshot)
    ("raw broadcast ≥ 1.0× Node `ws` at 100 clients (issue 11)", RAW, WS_PEERS, 100, 1.0, None),
    ("raw broadcast ≥ 3.0× Node `ws` at 1,000 clients (issue 11)", RAW, WS_PEERS, 1000, 3.0, None),
    ("`socketio` ≥ 0.5× Node socket.io at 100 clients, deflate refused (issue 11)",
     SIO, (NODE_SIO,), 100, 0.5, None),
    ("`socketio` ≥ 1.2× Node socket.io at 100 clients, deflate refused (issue 20)",
     SIO, (NODE_SIO,), 100, 1.2, None),
    ("`socketio` ≥ 1.0× Node socket.io at 100 clients, deflate offered (issue 20; moonshot 1.5×)",
     SIO_DEFLATE, (NODE_SIO_DEFLATE,), 100, 1.0, 1.5),
]
MEMORY_TARGETS = [
    # (what, server, peers: at most as much as each of them, at every count)
    ("raw broadcast idle memory per connection ≤ 1.0× Node `ws` (issues 11, 20)", RAW, WS_PEERS),
    ("`socketio` idle memory per connection, deflate offered ≤ 1.0× Node socket.io, deflate offered "
     "(issue 20)", SIO_DEFLATE, (NODE_SIO_DEFLATE,)),
]
WORST_PEAK_MB, WORST_END_MB = 100.0, 20.0
KERNEL_P99_MS = 50.0
MB = 1e6  # the megabytes: 10^6 bytes, a little stricter than MiB


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


def load_average(before: tuple[float, float, float]) -> str:
    """The 1-minute load average before the run and at its end: other work on the machine, which
    shares its cores with the servers and the load generator, shows there."""
    return f"load average {before[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"


def ratio(results: Results, name: str, peer: str, clients: int) -> float | None:
    """``name``'s median deliveries/s over ``peer``'s; None when either was not measured."""
    if (name, clients) not in results.fanout or (peer, clients) not in results.fanout:
        return None
    return results.median(name, clients) / results.median(peer, clients)


def ratios(values: list[float | None]) -> str:
    return " / ".join("–" if value is None else f"{value:.2f}×" for value in values)


def verdict(met: bool | None) -> str:
    return "not run" if met is None else "yes" if met else "**no**"


def kib(value: float | None) -> str:
    return "refused (see below)" if value is None else f"{value / 1024:.1f} KiB"


def target_rows(results: Results) -> list[str]:
    """The Targets table: each target, what this run measured, and whether it is met."""
    rows = []
    for what, name, peers, clients, least, moonshot in SPEED_TARGETS:
        values = [ratio(results, name, peer, clients) for peer in peers]
        first = values[0]
        measured = "not run" if first is None else f"{first:.2f}×"
        if len(peers) > 1 and values[1] is not None:
            measured += f" ({peers[1]}: {values[1]:.2f}×)"
        met = verdict(None if first is None else first >= least)
        if moonshot is not None and first is not None:
            met += f" (moonshot {moonshot:.1f}×: {'yes' if first >= moonshot else 'no'})"
        rows.append(f"| {what} | {measured} | {met} |")
    for what, name, peers in MEMORY_TARGETS:
        parts, met = [], True
        for count in IDLE_CLIENTS:
            ours, theirs = results.memory.get((name, count)), [results.memory.get((p, count)) for p in peers]
            if ours is None or None in theirs:
                parts.append(f"{count:,}: not measured")
                met = False if (name, count) in results.memory else met and None
                continue
            parts.append(f"{count:,}: {kib(ours)} vs " + ", ".join(kib(t) for t in theirs))
            met = met and all(ours <= t for t in theirs)  # type: ignore[operator]
        rows.append(f"| {what} | {'; '.join(parts)} | {verdict(met)} |")
    worst = results.worst.get(RAW)
    case = f"worst case ({WORST['clients'] - WORST['readers']} stalled clients, {WORST['messages']} × 64 KiB)"
    if worst is None:
        rows += [f"| {case}: {what} (issue 20) | not run | not run |"
                 for what in ("peak", "end", "every reader gets every message")]
    else:
        peak, end = (worst["peak"] - worst["idle"]) / MB, (worst["end"] - worst["idle"]) / MB
        rows += [
            f"| {case}: peak ≤ {WORST_PEAK_MB:.0f} MB over idle (issue 20) | +{peak:.0f} MB "
            f"(idle {worst['idle'] / MB:.0f} MB) | {verdict(peak <= WORST_PEAK_MB)} |",
            f"| {case}: end ≤ {WORST_END_MB:.0f} MB over idle (issue 20) | {end:+.0f} MB | "
            f"{verdict(end <= WORST_END_MB)} |",
            f"| {case}: every reader gets every message (issue 20) | fewest {worst['min_per_reader']} of "
            f"{WORST['messages']} per reader | {verdict(bool(worst['every_reader_all']))} |",
        ]
    kernel = results.kernel.get("fast broadcast")
    what = f"kernel round trip ≤ {KERNEL_P99_MS:.0f} ms p99, serving {BUSY['clients']} busy clients"
    what += " (issue 11)"
    if kernel is None:
        rows.append(f"| {what} | not run | not run |")
    else:
        rows.append(f"| {what} | {kernel['p99_ms']:.1f} ms | {verdict(kernel['p99_ms'] <= KERNEL_P99_MS)} |")
    return rows


def per_size_rows(
    measured: dict[tuple[str, int], list[float]], cell: Callable[[Server, int], str],
    last: tuple[str, Callable[[Server], str]] | None = None,
) -> list[str]:
    """A table with a row per server measured at every fan-out size, a ``cell`` per size, and
    an optional ``last`` column (its title, its cell)."""
    counts = [clients for clients, _ in FANOUT]
    titles = [f"{c:,} clients × {m:,}" for c, m in FANOUT] + ([last[0]] if last else [])
    lines = [f"| server | {' | '.join(titles)} |", "|---" * (len(titles) + 1) + "|"]
    for server in SERVERS:
        if all((server.name, c) in measured for c in counts):
            cells = [cell(server, clients) for clients in counts] + ([last[1](server)] if last else [])
            lines.append(f"| {server.name} | {' | '.join(cells)} |")
    return lines


def fanout_rows(results: Results) -> list[str]:
    def cell(server: Server, clients: int) -> str:
        figure = f"{results.median(server.name, clients):,.0f}"
        if server.peers:
            figure += f" ({ratios([ratio(results, server.name, p, clients) for p in server.peers])})"
        return figure

    def lost(server: Server) -> str:
        return str(sum(results.missing[(server.name, c)] for c, _ in FANOUT))

    return per_size_rows(results.fanout, cell, ("lost or out of order", lost))


def cpu_rows(results: Results) -> list[str]:
    """Each server's CPU time per delivery (median, µs), and its peer's over its own."""

    def cell(server: Server, clients: int) -> str:
        mine = statistics.median(results.cpu[(server.name, clients)])
        peers = [results.cpu.get((peer, clients)) for peer in server.peers]
        times = [None if p is None else statistics.median(p) / mine for p in peers]
        return f"{mine * 1e6:.2f} µs" + (f" ({ratios(times)})" if server.peers else "")

    return per_size_rows(results.cpu, cell)


def memory_cell(results: Results, server: Server, count: int) -> str:
    if (server.name, count) not in results.memory:
        return "not run"
    per = results.memory[(server.name, count)]
    peers = [results.memory.get((peer, count)) for peer in server.peers]
    if per is None or not peers:
        return kib(per)
    return f"{kib(per)} ({ratios([None if p is None else per / p for p in peers])})"


def worst_rows(results: Results) -> list[str]:
    lines = [
        "| server | before anyone connected | idle, all connected | peak over idle | end over idle "
        "| fewest messages per reader | readers disconnected | stalled clients dropped "
        "| last delivery after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, got in results.worst.items():
        lines.append(
            f"| {name} | {got['before'] / MB:.0f} MB | {got['idle'] / MB:.0f} MB "
            f"| +{(got['peak'] - got['idle']) / MB:.0f} MB | {(got['end'] - got['idle']) / MB:+.0f} MB "
            f"| {got['min_per_reader']} of {WORST['messages']} | {got['readers_disconnected']} "
            f"| {got['stalled_dropped']} of {got['stalled']} | {got['seconds']:.1f} s |"
        )
    return lines


def markdown(results: Results, rounds: int, seconds: float) -> str:
    stalled = WORST["clients"] - WORST["readers"]
    lines = [
        "# `make bench`: the workbook's servers against the original Node servers",
        "",
        f"One run of `make bench` on {time.strftime('%Y-%m-%d')}, {seconds:.0f} s, on loopback. Every server "
        "is a process of its own, driven by the same Node load generator (`bench/load.mjs`); runs alternate "
        f"between servers, a warm-up first, then the median of {rounds}. Every client receives every message "
        "(the servers send to the sender too). Ratios are to the Node peer with the same clients, in this "
        "run. On a machine of few cores the load generator and the server share them, and the load "
        "generator alone often takes one whole core in a fan-out run: single figures move by a third and "
        "more from one run to the next (more when other work runs, see the load average below), so compare "
        "within a run, and the medians more than any one figure. Between two runs the bench waits until the "
        "server just measured is idle again.",
        "",
        "Socket.IO is measured twice: with clients that refuse permessage-deflate (`perMessageDeflate: "
        "false`), and with the official client's defaults, which offer it as every browser does (the server "
        "chooses whether to compress; Node socket.io declines by default). The raw websocket clients refuse "
        "it. The raw servers' ratios are to two Node `ws` rows: the tutorial's server as written, which "
        "logs two lines per message, and the same with `--quiet` (no logging); issue 11's targets were set "
        "against the first, and are judged against it, with the second beside.",
        "",
        f"Machine: {machine()}; {load_average(results.load_before)}.",
        "",
        "## Targets (issues 11 and 20)",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *target_rows(results),
    ]
    if results.fanout:
        lines += [
            "", "## Fan-out: deliveries per second (median)", "",
            "In brackets: the ratio to the Node peer; for the raw servers, to Node ws (original) / Node ws "
            "(no logging).", "",
            *fanout_rows(results),
            "", "## Fan-out: the server's CPU time per delivery (median)", "",
            "The load generator often takes a whole core (its `loader_cpu_pct` is near 100), and then "
            "deliveries/s measure it as much as the server. The server's own CPU time, from the first "
            "connect to the last close, divided by the deliveries, does not depend on it. In brackets: "
            "how many times the Node peer's time this is less (above 1×: less CPU than Node's). The "
            "system counts CPU time in ticks of 10 ms, so the 10-client figures (a few ticks) are rough.", "",
            *cpu_rows(results),
        ]
    if results.latency:
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
    if results.memory:
        counts = " and ".join(f"{count:,}" for count in IDLE_CLIENTS)
        lines += [
            "", f"## Idle memory per connection: {counts} open connections", "",
            f"The server's resident memory (RSS) with {IDLE_CLIENTS[0]:,} idle clients, less before them "
            "(after 10 warm-up clients came and went), divided by their number; then, on the same server, "
            f"{IDLE_CLIENTS[-1] - IDLE_CLIENTS[0]:,} more (a second load generator), the RSS with all "
            f"{IDLE_CLIENTS[-1]:,} less the same before, divided by {IDLE_CLIENTS[-1]:,}. The same method "
            f"for every server; the Python servers run with `--max-connections {MAX_CONNECTIONS}`. In "
            "brackets: the ratio to the Node peer (raw servers: Node ws original / no logging).", "",
            "| server | " + " | ".join(f"{count:,} connections" for count in IDLE_CLIENTS) + " |",
            "|---" * (len(IDLE_CLIENTS) + 1) + "|",
        ]
        for server in SERVERS:
            cells = " | ".join(memory_cell(results, server, count) for count in IDLE_CLIENTS)
            lines.append(f"| {server.name} | {cells} |")
    if results.worst:
        lines += [
            "", f"## The worst case of unsent bytes: {stalled} clients that stopped reading", "",
            f"{WORST['clients']} plain websocket clients connect; {stalled} stop reading at once (their "
            f"socket paused, never closed); the other {WORST['readers']} send {WORST['messages']} messages "
            f"of {WORST['size']:,} bytes (64 KiB less the one byte the stages' 64 KiB limit refuses), "
            "round-robin, all at once. The server's RSS is sampled every 50 ms: idle is with everyone "
            "connected, before the first message; the end is once it moved less than 1 MiB in a second after "
            "the last delivery (at most 10 s). A stalled client counts as dropped when, reading again at the "
            "end, it finds its connection closed. MB: 10^6 bytes.", "",
            *worst_rows(results),
        ]
    if results.kernel:
        lines += [
            "", f"## The kernel while it serves: {BUSY['clients']} clients, {BUSY['rate']} messages/s in all",
            "",
            "A real Jupyter kernel runs the server (`start_server`, as a notebook does) while the load "
            f"generator keeps {BUSY['clients']} clients busy ({BUSY['clients'] * BUSY['rate']:,} "
            f"deliveries/s asked); meanwhile a small cell (`{CELL}`) runs again and again: the time from "
            "request to reply.",
            "",
            "| server in the kernel | idle p99 | busy p50 | busy p99 | cells run | deliveries (of asked) |",
            "|---|---|---|---|---|---|",
        ]
        for label, got in results.kernel.items():
            lines.append(f"| {label} | {got['idle_p99_ms']:.1f} ms | {got['p50_ms']:.1f} ms "
                         f"| {got['p99_ms']:.1f} ms "
                         f"| {got['cells']} | {got['deliveries']:,} of {got['expected']:,} |")
    if results.notes:
        lines += ["", "## What failed in this run", "", *(f"- {note}" for note in results.notes)]
    lines += ["", "## Versions", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in versions()]
    lines += ["", "![deliveries per second against clients](results.png)", ""]
    return "\n".join(lines)


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = [clients for clients, _ in FANOUT]
    figure, axes = plt.subplots(1, 4, figsize=(20, 4.5))
    panels = ((axes[0], "ws", "Raw websocket broadcast"), (axes[1], "socketio", "Socket.IO"))
    for axis, protocol, title in panels:
        for server in (s for s in SERVERS if s.protocol == protocol):
            if not all((server.name, c) in results.fanout for c in counts):
                continue
            style = ("--" if not server.peers else "-") + ("s" if server.deflate else "o")
            figures = [results.median(server.name, c) for c in counts]
            axis.plot(counts, figures, style, label=server.name)
        axis.set(xscale="log", yscale="log", xlabel="clients", ylabel="deliveries/s", title=title)
        axis.legend(fontsize=7)
        axis.grid(True, which="both", alpha=0.3)
    names = [server.name for server in SERVERS if server.name in results.latency]
    axes[2].barh(names, [results.latency[name]["p99_ms"] for name in names])
    axes[2].set(xlabel="ms", title=f"p99 latency, {RATE['rate']} msg/s to {RATE['clients']} clients")
    axes[2].tick_params(axis="y", labelsize=7)
    axes[2].invert_yaxis()
    for name, got in results.worst.items():
        seconds = [at - got["go"] for at, _ in got["samples"]]
        axes[3].plot(seconds, [value / MB for _, value in got["samples"]], label=name)
    axes[3].set(xlabel="s since the first message", ylabel="RSS, MB",
                title=f"Worst case: {WORST['clients'] - WORST['readers']} clients stop reading")
    axes[3].legend(fontsize=7)
    axes[3].grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write(results: Results, rounds: int, seconds: float) -> None:
    (BENCH / "results.md").write_text(markdown(results, rounds, seconds))
    plot(results, BENCH / "results.png")
    print(f"Wrote {BENCH.name}/results.md and {BENCH.name}/results.png", file=sys.stderr)
