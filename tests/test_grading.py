"""Real nbgrader grades the exercises: full marks for the teacher's solutions, 0 for the stubs.

``tools/grading.py`` makes an nbgrader course of notebooks 03 to 09, one assignment each, and
real nbgrader (``.venv-nbgrader``, apart from the workbook's ``.venv``: it pins notebook 7)
runs ``generate_assignment``, ``autograde`` and ``generate_feedback`` on it, executing the
notebooks in the workbook's own kernel. Three students submit:

- ``teacher``: the student edition with the teacher's solutions pasted into its solution
  cells: every autograder test passes, every assignment gets full marks;
- ``stub``: the student edition as released: every test fails, 0 everywhere;
- ``wrong``: notebook 04 with one answer from the checkers' wrong-answer catalogue: that
  exercise's points are lost, and no others; its feedback shows the checker's verdict;
- ``loop``: notebook 04 with a handler that never gives the event loop back: nbgrader's
  timeout cuts the cell, the kernel survives, the exercise scores 0 and says why, and the next
  exercise still gets its point.

Without ``.venv-nbgrader`` (``make test`` installs it) these tests are skipped, or fail when
``CI=true``.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from tests.catalogue import websocket_track
from tests.scale_support import IN_CI
from tools import grading
from tools.student_edition import student_notebook

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = grading.assignments()
POINTS = {"websocket-server-test": 2, "socketio-server-test": 2}
"""The capstones count twice; every other exercise has 1 point."""

LOOP = """\
async def upper_echo(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    while not ws.closed:  # waits for a message, but never awaits: the loop is held for good
        pass
    return ws
"""
LOOP_TIMEOUT = 20
"""nbgrader's execution timeout for the ``loop`` student's run, in seconds (``TIMEOUT`` is 90):
above the checker's own limit (15 s), as in a real run, whose deadline has passed when the
interrupt frees the loop."""


def needs_nbgrader() -> None:
    if (grading.NBGRADER_VENV / "bin" / "nbgrader").exists():
        return
    why = "nbgrader is not installed in .venv-nbgrader (make .venv-nbgrader/.installed, or make test)"
    if IN_CI:
        pytest.fail(f"{why}: CI=true, the grading tests must run", pytrace=False)
    pytest.skip(why)


def solution_cells(notebook: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {
        cell.metadata.nbgrader.grade_id: cell
        for cell in notebook.cells
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution")
    }


def pasted(release: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The released notebook with ``answers`` (grade id: source) typed into its solution cells."""
    submission = nbformat.from_dict(release)
    for grade_id, cell in solution_cells(submission).items():
        if grade_id in answers:
            cell.source = answers[grade_id]
    return submission


def teachers_answers(path: Path) -> dict[str, str]:
    """What the teacher edition has in each solution cell, the nbgrader markers left out."""
    return {
        grade_id: "\n".join(
            line for line in cell.source.split("\n") if "### " not in line or "SOLUTION" not in line
        )
        for grade_id, cell in solution_cells(nbformat.read(path, as_version=4)).items()
    }


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """generate_assignment on every graded notebook; the four students submit; autograde."""
    needs_nbgrader()
    root = grading.course(tmp_path_factory.mktemp("course"), ASSIGNMENTS)
    echo = ROOT / "notebooks" / "04-echo-server.ipynb"
    for path in ASSIGNMENTS:
        grading.nbgrader(root, "generate_assignment", path.stem, "--force")
        release = nbformat.read(root / "release" / path.stem / path.name, as_version=4)
        grading.submit(root, "teacher", pasted(release, teachers_answers(path)), path.stem)
        grading.submit(root, "stub", release, path.stem)
        if path == echo:
            wrong = next(answer for answer in websocket_track.NUMBERED_ECHO if not answer.passes)
            answers = {**teachers_answers(path), "numbered-echo": wrong.source}
            grading.submit(root, "wrong", pasted(release, answers), path.stem)
        grading.nbgrader(root, "autograde", path.stem, "--force")
    # the endless loop, graded alone with a shorter timeout (twice: its checker's cell, its test)
    release = nbformat.read(root / "release" / echo.stem / echo.name, as_version=4)
    grading.submit(root, "loop", pasted(release, {**teachers_answers(echo), "upper-echo": LOOP}), echo.stem)
    grading.nbgrader(
        root, "autograde", echo.stem, "--force", "--student=loop", f"--Execute.timeout={LOOP_TIMEOUT}"
    )
    grading.nbgrader(root, "generate_feedback", echo.stem, "--force")
    return root


def test_every_exercise_has_an_autograder_test_with_points():
    """16 exercises in 7 notebooks, each followed (after its checker) by a hidden test worth points."""
    tests = {}
    for path in ASSIGNMENTS:
        notebook = nbformat.read(path, as_version=4)
        solutions = solution_cells(notebook)
        for cell in notebook.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade"):
                assert meta["grade_id"].removesuffix("-test") in solutions, meta["grade_id"]
                assert meta["locked"] and not meta["solution"] and meta["schema_version"] == 3
                assert "### BEGIN HIDDEN TESTS" in cell.source and "assert verdict.passed" in cell.source
                tests[meta["grade_id"]] = meta["points"]
    assert [path.name[:2] for path in ASSIGNMENTS] == ["03", "04", "05", "06", "07", "08", "09"]
    assert len(tests) == 16
    assert tests == {grade_id: POINTS.get(grade_id, 1) for grade_id in tests}


def test_make_student_matches_nbgrader_generate_assignment_cell_for_cell(course):
    for path in ASSIGNMENTS:
        released = nbformat.read(course / "release" / path.stem / path.name, as_version=4)
        ours = student_notebook(nbformat.read(path, as_version=4))
        assert [cell.cell_type for cell in ours.cells] == [cell.cell_type for cell in released.cells]
        for index, (mine, theirs) in enumerate(zip(ours.cells, released.cells, strict=True)):
            assert mine.source == theirs.source, f"{path.name}, cell {index}"
            assert comparable(mine.metadata) == comparable(theirs.metadata), f"{path.name}, cell {index}"
        assert ours.metadata == released.metadata
        assert "BEGIN HIDDEN TESTS" not in str(released) and "BEGIN SOLUTION" not in str(released)


def comparable(metadata: dict) -> dict:
    """A cell's metadata without what only nbgrader's database uses (its checksum, its cell type)."""
    nbgrader = {k: v for k, v in metadata.get("nbgrader", {}).items() if k not in {"checksum", "cell_type"}}
    return {**metadata, "nbgrader": nbgrader} if "nbgrader" in metadata else dict(metadata)


def scores(course: Path, student: str) -> dict[str, tuple[float, float]]:
    """``student``'s score and maximum per autograder test, across every assignment."""
    result = {}
    for path in ASSIGNMENTS:
        result.update(grading.grades(course, path.stem).get(student, {}))
    return result


def test_the_teachers_solutions_get_full_marks(course):
    got = scores(course, "teacher")
    assert len(got) == 16
    assert {cell: score for cell, (score, _) in got.items()} == {
        cell: most for cell, (_, most) in got.items()
    }
    assert sum(score for score, _ in got.values()) == 18


def test_the_stubbed_student_edition_gets_zero(course):
    got = scores(course, "stub")
    assert len(got) == 16 and sum(most for _, most in got.values()) == 18
    assert sum(score for score, _ in got.values()) == 0
    autograded = nbformat.read(course / "autograded" / "stub" / "04-echo-server" / "04-echo-server.ipynb", 4)
    errors = [
        output
        for cell in autograded.cells
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]
    assert [error.ename for error in errors] == ["AssertionError", "AssertionError"]
    assert "raise NotImplementedError()" in errors[0].evalue


def test_the_student_edition_fails_nowhere_but_in_its_hidden_tests(course):
    """Run as released (the stub submission), each notebook runs top to bottom; every checker
    answers "Not yet" (the stub raises ``NotImplementedError`` in the checker's server) and
    only the autograder tests, restored by nbgrader, raise: ``AssertionError`` with the verdict."""
    for path in ASSIGNMENTS:
        autograded = nbformat.read(course / "autograded" / "stub" / path.stem / path.name, as_version=4)
        verdicts, failed = [], []
        for cell in autograded.cells:
            grade = cell.get("metadata", {}).get("nbgrader", {}).get("grade")
            for output in cell.get("outputs", []):
                assert output.get("name") != "stderr", f"{path.name}: {cell.source}\n{output.get('text')}"
                if output.output_type == "error":
                    assert grade and output.ename == "AssertionError", f"{path.name}: {cell.source}\n{output}"
                    failed.append(output.evalue)
            if cell.source.startswith("await check_"):
                verdicts.append("".join(output["data"]["text/plain"] for output in cell.outputs))
        assert len(verdicts) == len(failed) >= 2, path.name
        for verdict in verdicts + failed:  # the stub raised in the checker's server, or its program
            assert verdict.startswith("Not yet: "), f"{path.name}: {verdict}"
            assert "NotImplementedError" in verdict, f"{path.name}: {verdict}"


def test_one_wrong_answer_loses_exactly_its_points(course):
    got = grading.grades(course, "04-echo-server")
    assert got["wrong"] == {"upper-echo-test": (1.0, 1.0), "numbered-echo-test": (0.0, 1.0)}
    assert got["teacher"] == {"upper-echo-test": (1.0, 1.0), "numbered-echo-test": (1.0, 1.0)}


def test_the_feedback_shows_the_checkers_verdict(course):
    wrong = next(answer for answer in websocket_track.NUMBERED_ECHO if not answer.passes)
    page = (course / "feedback" / "wrong" / "04-echo-server" / "04-echo-server.html").read_text()
    text = re.sub(r"<[^>]+>", "", page).replace("&#39;", "'").replace("&quot;", '"')
    assert "Not yet: numbered echo." in text
    assert wrong.says in text
    assert re.search(r"Score: 1\.0 / 2\.0", text)


def test_an_endless_loop_is_cut_by_nbgraders_timeout_and_the_grade_says_so(course):
    """The handler holds the kernel's loop; nbgrader interrupts the cell after its timeout, the
    checker's interrupt handler frees the loop, and the notebook goes on: the next exercise
    still gets its point."""
    got = grading.grades(course, "04-echo-server")
    assert got["loop"] == {"upper-echo-test": (0.0, 1.0), "numbered-echo-test": (1.0, 1.0)}
    autograded = nbformat.read(course / "autograded" / "loop" / "04-echo-server" / "04-echo-server.ipynb", 4)
    test = next(
        cell
        for cell in autograded.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "upper-echo-test"
    )
    errors = {output.ename: output for output in test.outputs if output.output_type == "error"}
    assert set(errors) == {"AssertionError", "CellTimeoutError"}
    assert "never gave the event loop back" in errors["AssertionError"].evalue
    feedback = (course / "feedback" / "loop" / "04-echo-server" / "04-echo-server.html").read_text()
    assert "No reply from kernel before timeout" in feedback
