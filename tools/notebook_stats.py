"""How long each notebook takes a class: measured run time and size, for docs/teaching.md.

Runs every notebook top to bottom in a fresh kernel (a copy: nothing is written), times it,
and counts what a student reads and types: words of prose, lines of code, exercises. The
minutes of the guide come from these counts (see ``minutes``), not from a stopwatch in a
classroom, and say so.

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
"""Minutes for one exercise: write, run the checker, fix once or twice."""


def counts(path: Path) -> dict[str, int]:
    notebook = nbformat.read(path, as_version=4)
    prose = " ".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    return {
        "words": len(re.findall(r"\w+", prose)),
        "code_lines": sum(len(cell.source.splitlines()) for cell in code),
        "exercises": sum(1 for cell in code if cell.source.startswith("await check_")),
    }


def minutes(stats: dict[str, float]) -> int:
    reading = stats["words"] / READING_WPM + stats["code_lines"] / CODE_LINES_PER_MINUTE
    return round(reading + stats["exercises"] * EXERCISE_MINUTES)


def run_seconds(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    started = time.monotonic()
    resources = {"metadata": {"path": str(path.parent)}}
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources=resources).execute()
    return time.monotonic() - started


def main() -> int:
    print("| notebook | Run All (s) | words | code lines | exercises | minutes |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        stats: dict[str, float] = {**counts(path), "seconds": run_seconds(path)}
        print(
            f"| `{path.stem}` | {stats['seconds']:.1f} | {stats['words']} | {stats['code_lines']} "
            f"| {stats['exercises']} | {minutes(stats)} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
