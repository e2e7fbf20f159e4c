"""Grade the exercises with nbgrader itself (``make course``): a course folder, one assignment per notebook.

The committed notebooks are nbgrader source notebooks. Each exercise has a solution cell
(``### BEGIN SOLUTION``) and, after its checker's cell, an autograder test cell with points
whose hidden test runs the live checker again and asserts it passed::

    ### BEGIN HIDDEN TESTS
    from helpers import checks as grader

    verdict = await grader.check_upper_echo(upper_echo)
    assert verdict.passed, verdict
    ### END HIDDEN TESTS

nbgrader pins notebook 7 and its own Jupyter stack, so it lives in ``.venv-nbgrader/``, apart
from the workbook's ``.venv/``; the notebooks it executes run in a kernel of the workbook's
``.venv`` (a kernelspec named like the notebooks', ``python3``, first on ``JUPYTER_PATH``).

``course(root)`` writes, in ``root``::

    nbgrader_config.py              the course: its id, the execution timeout
    jupyter/kernels/python3/        the workbook's kernel, for nbgrader's Execute step
    source/03-websocket-server/03-websocket-server.ipynb, ... (notebooks 03 to 09)

then, in ``root``, with ``nbgrader(root, ...)`` (or the same command after ``source env.sh``)::

    nbgrader generate_assignment 04-echo-server     # release/: the student edition
    nbgrader autograde 04-echo-server               # submitted/STUDENT/04-echo-server/
    nbgrader generate_feedback 04-echo-server       # feedback/STUDENT/04-echo-server/*.html

A cell that runs longer than ``TIMEOUT`` seconds (a student's endless loop blocks the kernel
and every checker with it) is interrupted; its grade cell scores 0 and shows why.

Typical use::

    python tools/grading.py build/course    # then: cd build/course && source env.sh && nbgrader ...
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

__all__ = ["TIMEOUT", "assignments", "course", "environment", "grades", "nbgrader", "submit"]

ROOT = Path(__file__).resolve().parent.parent
NBGRADER_VENV = ROOT / ".venv-nbgrader"
WORKBOOK_PYTHON = ROOT / ".venv" / "bin" / "python"

TIMEOUT = 90
"""Seconds a cell may run when nbgrader executes it: above the longest checker's own limit
(a capstone's 40 s), so a checker says "Not yet" itself before nbgrader cuts it."""

CONFIG = '''\
"""nbgrader's configuration for the chat-workbook course (written by tools/grading.py)."""

c = get_config()  # noqa: F821 (nbgrader's config loader defines it)
c.CourseDirectory.course_id = "chat-workbook"
c.CourseDirectory.root = {root!r}
# A student's endless loop blocks the kernel, and every checker with it: cut, and the grade says so.
c.Execute.timeout = {timeout}
c.Execute.interrupt_on_timeout = True
# After the interrupt, the check stops its servers and clients (seconds) before the kernel is idle.
c.Execute.iopub_timeout = 30
'''


def assignments(notebooks: Path = ROOT / "notebooks") -> list[Path]:
    """The notebooks with autograder test cells, in order: one assignment each."""
    graded = []
    for path in sorted(notebooks.glob("[0-9][0-9]-*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        if any(cell.get("metadata", {}).get("nbgrader", {}).get("grade") for cell in cells):
            graded.append(path)
    return graded


def course(root: Path, notebooks: list[Path] | None = None, timeout: int = TIMEOUT) -> Path:
    """Write an nbgrader course folder in ``root`` with each notebook as a source assignment."""
    root = root.resolve()
    (root / "source").mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(CONFIG.format(root=str(root), timeout=timeout))
    kernel = root / "jupyter" / "kernels" / "python3"
    kernel.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [str(WORKBOOK_PYTHON), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (chat-workbook)",
        "language": "python",
        "metadata": {"debugger": True},
    }
    (kernel / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    (root / "env.sh").write_text(
        f'export JUPYTER_PATH="{root / "jupyter"}"\nexport PATH="{NBGRADER_VENV / "bin"}:$PATH"\n'
    )
    for path in notebooks if notebooks is not None else assignments():
        folder = root / "source" / path.stem
        folder.mkdir(exist_ok=True)
        shutil.copy(path, folder / path.name)
    return root


def environment(root: Path) -> dict[str, str]:
    """The environment nbgrader runs in: the workbook's kernel found first, nbgrader's tools on
    ``PATH`` (it runs ``alembic`` by name to set up its gradebook)."""
    path = f"{NBGRADER_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "JUPYTER_PATH": str(root / "jupyter"), "PATH": path}


def nbgrader(root: Path, *arguments: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGUMENTS`` in the course folder; raise with its output if it fails."""
    command = [str(NBGRADER_VENV / "bin" / "nbgrader"), *arguments]
    done = subprocess.run(
        command, cwd=root, env=environment(root), capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def submit(root: Path, student: str, notebook: nbformat.NotebookNode, assignment: str) -> Path:
    """Put ``notebook`` where nbgrader looks for ``student``'s submission of ``assignment``."""
    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{assignment}.ipynb"
    nbformat.write(notebook, path)
    return path


GRADES = """
import json, sys
from nbgrader.api import Gradebook

with Gradebook(sys.argv[1]) as gradebook:
    rows = []
    for submission in gradebook.assignment_submissions(sys.argv[2]):
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                rows.append([submission.student.id, grade.name, grade.score, grade.max_score])
print(json.dumps(rows))
"""


def grades(root: Path, assignment: str) -> dict[str, dict[str, tuple[float, float]]]:
    """Each student's score and maximum per grade cell of ``assignment``, from nbgrader's gradebook."""
    database = f"sqlite:///{root / 'gradebook.db'}"
    command = [str(NBGRADER_VENV / "bin" / "python"), "-c", GRADES, database, assignment]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, dict[str, tuple[float, float]]] = {}
    for student, cell, score, maximum in json.loads(done.stdout):
        result.setdefault(student, {})[cell] = (score, maximum)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/grading.py", description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path, nargs="?", default=ROOT / "build" / "course", help="course folder")
    args = parser.parse_args(argv)
    root = course(args.root)
    print(f"nbgrader course in {root}: {', '.join(path.stem for path in assignments())}")
    print(f"next: cd {root} && source env.sh && nbgrader generate_assignment 04-echo-server")
    return 0


if __name__ == "__main__":
    sys.exit(main())
