"""``make bench`` (``python -m bench``): every measurement, then ``bench/results.md`` and the plot."""

from __future__ import annotations

import argparse
import sys
import time

from bench.measure import (
    SERVERS,
    Results,
    measure_fanout,
    measure_kernel,
    measure_latency,
    measure_memory,
    say,
)
from bench.report import write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="measured runs per workload (median)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    results = Results()
    steps = [
        ("fan-out: 10, 100 and 1,000 clients", lambda: measure_fanout(results, SERVERS, args.rounds)),
        ("latency at a fixed rate", lambda: measure_latency(results, SERVERS)),
        ("idle memory per connection", lambda: measure_memory(results, SERVERS)),
        ("a kernel's round trip while it serves", lambda: measure_kernel(results)),
    ]
    for number, (title, step) in enumerate(steps, 1):
        say(f"[{number}/{len(steps)}] {title} ({time.monotonic() - started:.0f} s so far)")
        step()
    write(results, args.rounds, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
