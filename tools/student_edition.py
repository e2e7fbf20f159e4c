"""Write the student edition of the workbook (``make student``): solutions stubbed, hidden tests gone.

The committed notebooks are the teacher edition. Each exercise's solution sits between
nbgrader's markers, in a cell marked as an nbgrader solution cell::

    ### BEGIN SOLUTION
    await ws.send_str(data.upper())
    ### END SOLUTION

This tool does to every notebook what nbgrader's ``ClearSolutions`` preprocessor does
(``nbgrader generate_assignment``), so a course that uses nbgrader gets the same result from
the same notebooks: each region becomes the stub, indented like its ``BEGIN`` line,

    # YOUR CODE HERE
    raise NotImplementedError()

(``YOUR ANSWER HERE`` in a markdown cell), a solution cell without a region becomes the stub
whole, and a region outside a solution cell is an error. As nbgrader's ``ClearHiddenTests``
does, each autograder test cell (``metadata.nbgrader.grade``) loses the lines from
``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS``: the student sees what the test is, not
its code; ``nbgrader autograde`` puts it back. As ``LockCells`` does, the test cells can't be
edited or deleted, nor the solution cells deleted. Outputs and execution counts are cleared, so
the student runs every cell. The edition goes to ``student/`` (ignored by git).
tests/test_grading.py checks that real ``nbgrader generate_assignment`` makes the same cells.

Typical use::

    python tools/student_edition.py                 # notebooks/*.ipynb -> student/
    python tools/student_edition.py --out /tmp/s    # elsewhere
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

__all__ = [
    "CODE_STUB",
    "TEXT_STUB",
    "clear_hidden_tests",
    "clear_solutions",
    "student_notebook",
    "write_edition",
]

ROOT = Path(__file__).resolve().parent.parent

CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
"""nbgrader's ``ClearSolutions.code_stub`` for Python."""

TEXT_STUB = "YOUR ANSWER HERE"
"""nbgrader's ``ClearSolutions.text_stub``."""

BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_TESTS, END_TESTS = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def is_solution_cell(cell: nbformat.NotebookNode) -> bool:
    """nbgrader's own test: ``metadata.nbgrader.solution`` is true."""
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))


def is_grade_cell(cell: nbformat.NotebookNode) -> bool:
    """nbgrader's own test: ``metadata.nbgrader.grade`` is true (an autograder test cell)."""
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade", False))


def _replace_regions(source: str, begin: str, end: str, stub: str | None) -> tuple[str, bool]:
    """``source`` with each region from a ``begin`` line to an ``end`` line (markers included)
    replaced by ``stub``, indented like its ``begin`` line (``None``: removed); and whether there
    was one. Nested or unterminated regions are errors, as in nbgrader."""
    lines, inside, found = [], False, False
    for line in source.split("\n"):
        if begin in line:
            if inside:
                raise ValueError(f"nested {begin!r} in:\n{source}")
            inside = found = True
            if stub is not None:
                indent = re.match(r"\s*", line).group(0)
                lines.extend(indent + stub_line for stub_line in stub.split("\n"))
        elif end in line:
            inside = False
        elif not inside:
            lines.append(line)
    if inside:
        raise ValueError(f"no {end!r} after {begin!r} in:\n{source}")
    return "\n".join(lines), found


def clear_hidden_tests(source: str) -> tuple[str, bool]:
    """``source`` without its hidden test regions, markers included; and whether there was one."""
    return _replace_regions(source, BEGIN_TESTS, END_TESTS, None)


def clear_solutions(source: str, stub: str) -> tuple[str, bool]:
    """``source`` with each solution region replaced by ``stub``; and whether there was one."""
    return _replace_regions(source, BEGIN, END, stub)


def student_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of a teacher notebook: solutions cleared, hidden tests removed, no outputs."""
    student = nbformat.from_dict(notebook)
    for index, cell in enumerate(student.cells):
        stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
        cell.source, replaced = clear_solutions(cell.source, stub)
        if replaced and not is_solution_cell(cell):
            raise ValueError(f"cell {index} has a solution region but is not an nbgrader solution cell")
        if is_solution_cell(cell) and not replaced:
            cell.source = stub
        cell.source, removed = clear_hidden_tests(cell.source)
        if removed and not is_grade_cell(cell):
            raise ValueError(f"cell {index} has hidden tests but is not an nbgrader grade cell")
        lock(cell)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return student


def lock(cell: nbformat.NotebookNode) -> None:
    """What nbgrader's ``LockCells`` does: a solution cell can't be deleted, a test cell (or any
    locked cell) can be neither deleted nor edited, in JupyterLab as in Notebook."""
    if is_solution_cell(cell):
        cell.metadata.deletable = False
    elif is_grade_cell(cell) or cell.get("metadata", {}).get("nbgrader", {}).get("locked"):
        cell.metadata.deletable = cell.metadata.editable = False


def write_edition(notebooks: list[Path], out: Path) -> list[Path]:
    """Write the student edition of each notebook into ``out``; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        target = out / path.name
        nbformat.write(student_notebook(nbformat.read(path, as_version=4)), target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/student_edition.py", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "student", help="folder (default student/)")
    args = parser.parse_args(argv)
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    for path in write_edition(notebooks, args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
