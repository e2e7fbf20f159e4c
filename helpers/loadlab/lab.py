"""The load lab's plumbing (notebook 11): run a load against the kernel's server, and show it.

``run_load`` starts ``python -m helpers.loadlab.generator`` in a process of its own (so the load doesn't
slow the kernel it measures), shows a progress bar while it runs, and returns its figures.
``compare`` runs the same loads against several servers, one after the other on the same
port; ``summary`` says what is deterministic about a run (counts, never times), for a cell
whose output a test compares; ``plot_runs`` draws deliveries/s and p99 latency against the
number of clients; ``loop_lag`` measures how late the kernel's loop runs what it is given.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import psutil
from aiohttp import web
from IPython.display import display

from helpers.kernel.lifecycle import RunningServer, start_server

__all__ = ["Run", "compare", "loop_lag", "plot_runs", "run_load", "summary"]

LOAD_SECONDS = 10.0
"""The longest a load may take: a lesson waits no longer (what is left then counts as lost)."""


@dataclass
class Run:
    """One load against one server: who, how many, and what the load generator measured."""

    server: str
    clients: int
    messages: int
    figures: dict[str, Any]

    @property
    def deliveries_per_s(self) -> float:
        return self.figures["deliveries_per_s"]

    @property
    def p99_ms(self) -> float:
        return self.figures["p99_ms"] or 0.0


async def run_load(
    server: RunningServer, *, clients: int, messages: int, label: str = "load", deflate: bool = False
) -> dict[str, Any]:
    """``clients`` clients, ``messages`` messages sent round-robin, all to all; with a progress bar.

    ``deflate=True``: the clients offer per-message compression, as browsers do. The figures
    also say how much this process (the kernel, where the server runs) grew meanwhile, at most:
    ``server_memory_mb``.
    """
    bar = widgets.IntProgress(value=0, min=0, max=clients * messages, description=label)
    display(bar)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "helpers.loadlab.generator", "--port", str(server.port),
        "--clients", str(clients), "--messages", str(messages), *(["--deflate"] if deflate else []),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    result: dict[str, Any] | None = None
    memory = asyncio.create_task(_growth())
    try:
        async with asyncio.timeout(LOAD_SECONDS + 20):  # + connecting, and the generator's own wait
            async for line in process.stdout:
                if line.startswith(b"progress "):
                    bar.value = int(line.split()[1])
                elif line.startswith(b"{"):
                    result = json.loads(line)
            _, errors = await process.communicate()
    finally:
        memory.cancel()
    if result is not None:
        result["server_memory_mb"] = _GROWTH.get(memory, 0.0)
    if result is None:
        raise RuntimeError(f"the load generator failed: {errors.decode(errors='replace').strip()[-300:]}")
    bar.value, bar.bar_style = result["deliveries"], "success" if result["lost"] == 0 else "danger"
    return result


_GROWTH: weakref.WeakKeyDictionary[asyncio.Task, float] = weakref.WeakKeyDictionary()


async def _growth(every: float = 0.01) -> None:
    """Until cancelled: how far this process's resident memory rose above where it began (MB)."""
    me = psutil.Process()
    start = me.memory_info().rss
    task = asyncio.current_task()
    assert task is not None
    while True:
        _GROWTH[task] = max(_GROWTH.get(task, 0.0), (me.memory_info().rss - start) / 2**20)
        await asyncio.sleep(every)


async def compare(
    servers: dict[str, Callable[[], web.Application]], *, clients: list[int], messages: int,
    port: int | None = None,
) -> list[Run]:
    """Each app in turn on the same port, under the same loads: every run's figures."""
    runs = []
    for name, make_app in servers.items():
        server = await start_server(make_app(), port=port, quiet=True)
        for count in clients:
            figures = await run_load(server, clients=count, messages=messages, label=f"{name}, {count}")
            runs.append(Run(name, count, messages, figures))
    return runs


def summary(runs: list[Run]) -> str:
    """What each run delivered, lost and reordered: the same on every machine, every time."""
    return "\n".join(
        f"{run.server:>20}, {run.clients:>4} clients: {run.figures['deliveries']:>6,} of "
        f"{run.figures['expected']:,} delivered, {run.figures['lost']} lost, "
        f"{run.figures['out_of_order']} out of order"
        for run in runs
    )


def plot_runs(runs: list[Run]) -> None:
    """Deliveries/s and p99 latency against the number of clients, one line per server."""
    import matplotlib.pyplot as plt

    figure, (rate, latency) = plt.subplots(1, 2, figsize=(11, 4))
    for name in dict.fromkeys(run.server for run in runs):
        mine = [run for run in runs if run.server == name]
        counts = [run.clients for run in mine]
        rate.plot(counts, [run.deliveries_per_s for run in mine], marker="o", label=name)
        latency.plot(counts, [run.p99_ms for run in mine], marker="o", label=name)
    rate.set(xscale="log", yscale="log", xlabel="clients", ylabel="deliveries/s", title="Throughput")
    latency.set(xscale="log", yscale="log", xlabel="clients", ylabel="ms", title="p99 latency")
    for axis in (rate, latency):
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.tight_layout()
    plt.show()


async def loop_lag(work: Awaitable[Any], every: float = 0.005) -> tuple[Any, float]:
    """Run ``work``; meanwhile, how late (ms, p99) the loop woke a task asked to wake ``every`` s.

    A cell you run waits for the same loop: this lateness is what you feel when the kernel
    is busy serving.
    """
    loop, lateness = asyncio.get_running_loop(), []

    async def watch() -> None:
        while True:
            asked = loop.time() + every
            await asyncio.sleep(every)
            lateness.append(1000 * max(0.0, loop.time() - asked))

    watcher = asyncio.create_task(watch())
    try:
        result = await work
    finally:
        watcher.cancel()
    return result, statistics.quantiles(lateness, n=100)[98] if len(lateness) > 1 else 0.0
