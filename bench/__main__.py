"""``make bench`` (``python -m bench``): every measurement, then ``bench/results.md`` and the plot."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from bench.measure import (
    SERVERS,
    Results,
    measure_fanout,
    measure_kernel,
    measure_latency,
    measure_memory,
    measure_worst,
    raise_open_files,
    say,
)
from bench.report import markdown, write

PARTS = ("fanout", "latency", "memory", "worst", "kernel")


def parts(text: str) -> tuple[str, ...]:
    """``--only fanout,worst``: the parts named, in the order they run."""
    named = {part.strip() for part in text.split(",") if part.strip()}
    if not named or named - set(PARTS):
        raise argparse.ArgumentTypeError(f"parts are {', '.join(PARTS)} (comma-separated), not {text!r}")
    return tuple(part for part in PARTS if part in named)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="measured runs per workload (median)")
    parser.add_argument(
        "--only",
        type=parts,
        default=PARTS,
        metavar="PART,...",
        help=f"run only these parts ({', '.join(PARTS)}): their report goes to stdout, and "
        "results.md and results.png, which hold a whole run, stay as they are",
    )
    args = parser.parse_args(argv)
    raise_open_files()  # before any child starts: they inherit it
    started = time.monotonic()
    results = Results()
    steps: dict[str, tuple[str, Callable[[], None]]] = {
        "fanout": (
            "fan-out: 10, 100 and 1,000 clients",
            lambda: measure_fanout(results, SERVERS, args.rounds),
        ),
        "latency": ("latency at a fixed rate", lambda: measure_latency(results, SERVERS)),
        "memory": ("idle memory per connection: 1,000 and 5,000", lambda: measure_memory(results, SERVERS)),
        "worst": (
            "the worst case of unsent bytes: 980 stalled clients",
            lambda: measure_worst(results, SERVERS),
        ),
        "kernel": ("a kernel's round trip while it serves", lambda: measure_kernel(results)),
    }
    for number, part in enumerate(args.only, 1):
        title, step = steps[part]
        say(f"[{number}/{len(args.only)}] {title} ({time.monotonic() - started:.0f} s so far)")
        step()
    seconds = time.monotonic() - started
    if args.only == PARTS:
        write(results, args.rounds, seconds)
    else:
        print(markdown(results, args.rounds, seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
