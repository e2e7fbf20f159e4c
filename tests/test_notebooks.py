"""Every notebook is committed executed, in order, in a fresh kernel, with outputs nbval compares.

nbval only compares outputs that are stored: a notebook saved without outputs, or with
cells never run, passes vacuously. These tests are what stop that.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("[0-9][0-9]-*.ipynb"))
IGNORE_MARKERS = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "nbval-ignore-output", "nbval-skip")


def code_cells(path: Path) -> list[nbformat.NotebookNode]:
    notebook = nbformat.read(path, as_version=4)
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_the_workbook_has_its_notebooks():
    names = [path.stem for path in NOTEBOOKS]
    assert names[:2] == ["01-start-the-server", "02-the-chat-page"]
    assert [name[:2] for name in names] == [f"{i:02d}" for i in range(1, len(names) + 1)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_executed_top_to_bottom_in_a_fresh_kernel(path):
    counts = [cell.execution_count for cell in code_cells(path)]
    assert counts == list(range(1, len(counts) + 1)), "run it with `make notebooks`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_errors_and_no_stderr_stored(path):
    for cell in code_cells(path):
        for output in cell.outputs:
            assert output.output_type != "error", cell.source
            assert output.get("name") != "stderr", f"stderr in a committed cell:\n{cell.source}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_compared_outputs_prove_the_step(path):
    """Most code cells have output nbval compares; the final stop cell always does."""
    cells = code_cells(path)
    compared = [
        cell
        for cell in cells
        if cell.outputs
        and not any(marker in cell.source for marker in IGNORE_MARKERS)
        and not any(tag in cell.metadata.get("tags", []) for tag in IGNORE_MARKERS)
    ]
    assert len(compared) >= len(cells) // 2, "too few compared outputs"
    transcripts = [c for c in compared if any(o.get("name") == "stdout" for o in c.outputs)]
    assert transcripts, "no printed output (transcript, status codes, log) to compare"
    assert "stop_server()" in cells[-1].source or "stop_server()" in cells[-2].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_half_saved_widget_state(path):
    notebook = nbformat.read(path, as_version=4)
    widgets = notebook.metadata.get("widgets")
    assert widgets is None or "state" in widgets.get(
        "application/vnd.jupyter.widget-state+json", {}
    )
