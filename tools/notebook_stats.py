"""How long each notebook takes a class: measured run time and size, for docs/teaching.md.

Runs every notebook top to bottom in a fresh kernel (a copy: nothing is written), times it,
and counts what a student reads and types: words of prose, lines of code, exercises and
capstones, on the core path and in the sections marked "Going deeper" (a heading
``## Going deeper: ...`` up to the next ``## `` heading). The minutes of the guide come from
these counts (see ``minutes``), not from a stopwatch in a classroom, and say so.

    python tools/notebook_stats.py
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent

READING_WPM = 130
"""Words a minute for technical prose read with attention (reading speed studies: 100 to 200)."""
CODE_LINES_PER_MINUTE = 6
"""Lines of code a minute, read and run cell by cell, with a look at what each printed."""
EXERCISE_MINUTES = 10
"""Minutes for one exercise: write a handler, run the checker, fix once or twice."""
CAPSTONE_MINUTES = 40
"""Minutes for a capstone: a whole server in a file, run as a program, checked."""


CAPSTONE_CHECKS = ("await check_websocket_server", "await check_socketio_server")


def sections(path: Path) -> tuple[list, list]:
    """The notebook's cells on the core path, and those of its "Going deeper" sections.

    A markdown cell is cut at its ``## `` headings: each part goes where its heading says.
    """
    core, deeper, in_deeper = [], [], False
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "markdown":
            (deeper if in_deeper else core).append(cell)
            continue
        for part in re.split(r"(?m)^(?=## )", cell.source):
            heading = re.match(r"## (.*)", part)
            if heading:
                in_deeper = heading[1].startswith("Going deeper")
            (deeper if in_deeper else core).append(nbformat.v4.new_markdown_cell(part))
    return core, deeper


def counts(cells: list) -> dict[str, int]:
    prose = " ".join(cell.source for cell in cells if cell.cell_type == "markdown")
    code = [cell for cell in cells if cell.cell_type == "code"]
    checks = [cell.source for cell in code if cell.source.startswith("await check_")]
    capstones = sum(1 for check in checks if check.startswith(CAPSTONE_CHECKS))
    return {
        "words": len(re.findall(r"\w+", prose)),
        "code_lines": sum(len(cell.source.splitlines()) for cell in code),
        "exercises": len(checks) - capstones,
        "capstones": capstones,
    }


def minutes(stats: dict[str, float]) -> int:
    reading = stats["words"] / READING_WPM + stats["code_lines"] / CODE_LINES_PER_MINUTE
    return round(reading + stats["exercises"] * EXERCISE_MINUTES + stats["capstones"] * CAPSTONE_MINUTES)


def run_seconds(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    started = time.monotonic()
    resources = {"metadata": {"path": str(path.parent)}}
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources=resources).execute()
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    """``--no-run``: the counts only, without timing a Run All of each notebook."""
    run = "--no-run" not in (sys.argv[1:] if argv is None else argv)
    print("| notebook | Run All (s) | words | code lines | exercises | capstone | core minutes | deeper |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        core, deeper = sections(path)
        stats: dict[str, float] = counts(core)
        seconds = f"{run_seconds(path):.1f}" if run else "-"
        extra = minutes(counts(deeper)) if deeper else 0
        print(
            f"| `{path.stem}` | {seconds} | {stats['words']} | {stats['code_lines']} "
            f"| {stats['exercises']} | {stats['capstones']} | {minutes(stats)} | {extra or ''} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
