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


def is_definition(cell: nbformat.NotebookNode) -> bool:
    """A cell that only defines code (exported server code, an exercise's solution): no output."""
    return cell.source.startswith("#| export") or "nbgrader" in cell.metadata


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_compared_outputs_prove_the_step(path):
    """Most cells that do something have output nbval compares; the notebook stops what it started."""
    cells = [cell for cell in code_cells(path)[1:] if not is_definition(cell)]  # [0]: the imports
    compared = [
        cell
        for cell in cells
        if cell.outputs
        and not any(marker in cell.source for marker in IGNORE_MARKERS)
        and not any(tag in cell.metadata.get("tags", []) for tag in IGNORE_MARKERS)
    ]
    assert len(compared) >= len(cells) * 2 // 3, "too few compared outputs"
    transcripts = [c for c in compared if any(o.get("name") == "stdout" for o in c.outputs)]
    assert transcripts, "no printed output (transcript, status codes, log) to compare"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_ends_live_with_its_page_and_stops_only_on_purpose(path):
    """After Run All the server and the widgets are up; stopping is a cell the student runs."""
    sources = [cell.source for cell in code_cells(path)]
    last_start = max(i for i, source in enumerate(sources) if "await start_server(" in source)
    after = sources[last_start:]
    stops = [line for source in after for line in source.splitlines() if "stop_server()" in line]
    assert stops == ["# await stop_server()"], "only the commented stop, at the end"
    assert sources[-1] == "# await stop_server()"
    links = [source for source in sources if "page(server, " in source or "join_card(server" in source]
    assert links, "every notebook serves a page: it prints the page's link"
    # a shared server's link holds its join key: a notebook shows it as a card, never stored
    at_the_end = ("embed=False", "join_card(server")
    assert any(end in source for source in sources[last_start:] for end in at_the_end), "the page, at the end"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_opening_a_notebook_never_loads_a_page(path):
    """No stored output, and no stored widget, holds an IFrame: a page in it would join a chat."""
    notebook = nbformat.read(path, as_version=4)
    assert "<iframe" not in str(notebook.metadata)
    for cell in code_cells(path):
        for output in cell.outputs:
            assert "<iframe" not in str(output.get("data", {})), cell.source


def test_without_a_kernel_the_chat_widgets_show_their_whole_chat():
    """The stored widget state is the widgets' last state: each chat, all it said and heard."""
    (path,) = [p for p in NOTEBOOKS if p.name.startswith("05")]
    state = nbformat.read(path, as_version=4).metadata["widgets"]["application/vnd.jupyter.widget-state+json"]
    chats = [model["state"]["value"] for model in state["state"].values() if "column-reverse" in str(model)]
    assert len(chats) == 3
    assert all("Not to myself, please." in chat for chat in chats), "the last message, in every widget"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_stored_output_shows_this_machine(path):
    """No path of the machine that ran the notebook is committed (a repr of a Path, say)."""
    checkout = str(Path(__file__).resolve().parent.parent)
    for cell in code_cells(path):
        for output in cell.outputs:
            text = str(output.get("text", "")) + str(output.get("data", ""))
            assert checkout not in text and "PosixPath(" not in text, cell.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_framed_for_the_reader(path):
    """Each notebook says what it teaches at the start and sums it up at the end."""
    notebook = nbformat.read(path, as_version=4)
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    assert "**You will learn**" in markdown[0]
    assert any("## Recap" in source for source in markdown)


LESSONS = [path for path in NOTEBOOKS if "03" <= path.name[:2] <= "09"]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_the_server_code_is_in_short_editable_cells(path):
    """The code a notebook teaches is written in its cells (exported), each readable at a glance."""
    exported = [cell.source for cell in code_cells(path) if cell.source.startswith("#| export")]
    assert len(exported) >= 2, "an imports cell and at least one cell of server code"
    longest = max(len(source.splitlines()) - 1 for source in exported)  # without the directive
    assert longest <= 25, f"an exported cell of {longest} lines"
    assert not any("show_source" in cell.source for cell in code_cells(path))


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_exercises_each_have_a_solution_cell_and_a_checker_that_passes(path):
    """At least two exercises; each solution cell is followed by a checker, which says Passed."""
    cells = code_cells(path)
    solutions = [i for i, cell in enumerate(cells) if cell.metadata.get("nbgrader", {}).get("solution")]
    assert len(solutions) >= 2
    for index in solutions:
        solution, checker = cells[index], cells[index + 1]
        assert "### BEGIN SOLUTION" in solution.source and "### END SOLUTION" in solution.source
        assert checker.source.startswith("await check_"), checker.source
        verdict = "".join(output["data"]["text/plain"] for output in checker.outputs)
        assert verdict.startswith("Passed: "), verdict


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_half_saved_widget_state(path):
    notebook = nbformat.read(path, as_version=4)
    widgets = notebook.metadata.get("widgets")
    assert widgets is None or "state" in widgets.get(
        "application/vnd.jupyter.widget-state+json", {}
    )
