"""The student edition: generated from the teacher edition, no solution, no hidden test, no output.

The committed notebooks are the teacher edition (nbval runs them: every checker passes).
``tools/student_edition.py`` replaces each solution by nbgrader's stub and removes the hidden
tests. tests/test_grading.py checks that nbgrader's own ``generate_assignment`` makes the same
cells, and runs them: the student edition fails nowhere but in its hidden tests, and every
checker answers "Not yet".
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tools import student_edition
from tools.student_edition import CODE_STUB, clear_solutions, student_notebook

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def test_a_region_becomes_the_stub_indented_like_its_begin_line():
    source = "def f():\n    x = 1\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
    cleared, replaced = clear_solutions(source, CODE_STUB)
    assert replaced
    assert cleared == "def f():\n    x = 1\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"


def test_nbgrader_rules_nested_unterminated_and_outside_a_solution_cell():
    with pytest.raises(ValueError, match="nested"):
        clear_solutions("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", CODE_STUB)
    with pytest.raises(ValueError, match="no 'END SOLUTION'"):
        clear_solutions("### BEGIN SOLUTION\nx = 1", CODE_STUB)
    region = nbformat.v4.new_code_cell("### BEGIN SOLUTION\n### END SOLUTION")
    notebook = nbformat.v4.new_notebook(cells=[region])
    with pytest.raises(ValueError, match="not an nbgrader solution cell"):
        student_notebook(notebook)


def test_a_solution_cell_without_a_region_becomes_the_stub_whole():
    cell = nbformat.v4.new_code_cell("x = 42", metadata={"nbgrader": {"solution": True}})
    answer = nbformat.v4.new_markdown_cell("Because.", metadata={"nbgrader": {"solution": True}})
    student = student_notebook(nbformat.v4.new_notebook(cells=[cell, answer]))
    assert [c.source for c in student.cells] == [CODE_STUB, "YOUR ANSWER HERE"]


def test_the_edition_has_no_solution_and_no_output(tmp_path):
    written = student_edition.write_edition(NOTEBOOKS, tmp_path)
    assert [path.name for path in written] == [path.name for path in NOTEBOOKS]
    for path in written:
        text = path.read_text()
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
        assert "HIDDEN TESTS" not in text and "assert verdict" not in text
        notebook = nbformat.read(path, as_version=4)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code)
        for solution in [c for c in code if c.metadata.get("nbgrader", {}).get("solution")]:
            assert "# YOUR CODE HERE\n" in solution.source
            assert "raise NotImplementedError()" in solution.source
