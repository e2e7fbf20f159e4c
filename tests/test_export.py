"""One source of truth: the modules ``python -m helpers.serve`` runs are the notebooks' cells.

``tools/export.py`` writes each module from the cells marked ``#| export MODULE``; these tests
fail when a module on disk and its cells differ, in either direction.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from helpers.stages import STAGES
from tools import export

NOTEBOOKS = sorted(export.NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


def test_every_module_is_what_its_notebook_cells_say():
    differences = export.drift(NOTEBOOKS)
    assert not differences, "run `make export`:\n" + "\n".join(differences.values())


def test_every_stage_but_static_is_exported_from_a_notebook():
    exported = set(export.exported_cells(NOTEBOOKS))
    for name, make_app in STAGES.items():
        module = make_app.__module__.removeprefix("helpers.")
        assert (module in exported) == (name != "static"), name
    assert {"protocol", "delivery"} <= exported


def copy_notebook(tmp_path: Path, name: str) -> tuple[Path, nbformat.NotebookNode]:
    (source,) = [path for path in NOTEBOOKS if path.name.startswith(name)]
    copy = tmp_path / source.name
    shutil.copy(source, copy)
    return copy, nbformat.read(copy, as_version=4)


def exported_cell(notebook: nbformat.NotebookNode, module: str, containing: str) -> nbformat.NotebookNode:
    return next(
        cell
        for cell in notebook.cells
        if cell.source.startswith(f"#| export {module}\n") and containing in cell.source
    )


def test_a_changed_cell_is_drift_and_the_diff_shows_it(tmp_path):
    """The drift test's own failure: a cell of notebook 04 says something its module doesn't."""
    path, notebook = copy_notebook(tmp_path, "04")
    cell = exported_cell(notebook, "stages.echo", "async def echo")
    cell.source = cell.source.replace("await ws.send_str(msg.data)", "await ws.send_str(msg.data.upper())")
    nbformat.write(notebook, path)
    others = [p for p in NOTEBOOKS if not p.name.startswith("04")]
    differences = export.drift([*others, path])
    echo_module = export.module_path("stages.echo")
    assert list(differences) == [echo_module]
    assert "+            await ws.send_str(msg.data.upper())" in differences[echo_module]


def test_a_changed_module_is_drift_too(tmp_path, monkeypatch):
    """Someone edits helpers/stages/echo.py instead of the notebook: the modules no longer agree."""
    package = tmp_path / "helpers"
    shutil.copytree(export.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    module = package / "stages" / "echo.py"
    module.write_text(module.read_text().replace("# the tutorial's ws.send(data)", "# edited by hand"))
    monkeypatch.setattr(export, "PACKAGE", package)
    monkeypatch.setattr(export, "ROOT", tmp_path)
    assert list(export.drift(NOTEBOOKS)) == [module]


def test_the_check_command_fails_on_drift_and_make_export_repairs_it(tmp_path, monkeypatch, capsys):
    package = tmp_path / "helpers"
    shutil.copytree(export.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "protocol.py").write_text("# stale\n")
    monkeypatch.setattr(export, "PACKAGE", package)
    monkeypatch.setattr(export, "ROOT", tmp_path)
    assert export.main(["--check"]) == 1
    assert "helpers/protocol.py differs from its notebook cells" in capsys.readouterr().out
    assert export.main([]) == 0
    assert export.main(["--check"]) == 0


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda s: s + "\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION", "can't hold a solution"),
        (lambda s: s + '\n\n"""a docstring at the end"""', "ends with a string"),
        (lambda s: s.replace("#| export stages.echo", "#| export stages/echo"), "malformed directive"),
        (lambda s: s.replace("#| export stages.echo", "#|export stages.echo"), "malformed directive"),
        (lambda s: s + "\n\nawait asyncio.sleep(0)", "not module code: 'await' outside function"),
    ],
    ids=["solution", "trailing string", "directive", "nbdev's short form", "top-level await"],
)
def test_an_exported_cell_that_would_go_wrong_is_refused(tmp_path, change, complaint):
    path, notebook = copy_notebook(tmp_path, "04")
    cell = exported_cell(notebook, "stages.echo", "async def echo")
    cell.source = change(cell.source)
    nbformat.write(notebook, path)
    with pytest.raises(ValueError, match=complaint):
        export.exported_cells([path])


def test_an_import_below_the_definitions_it_imports_is_refused(tmp_path):
    """Run All would replace the notebook's own (maybe edited) parse_message with the module's."""
    path, notebook = copy_notebook(tmp_path, "06")
    imports = exported_cell(notebook, "stages.json_chat", "from helpers.protocol import")
    notebook.cells.remove(imports)
    notebook.cells.append(imports)
    nbformat.write(notebook, path)
    with pytest.raises(ValueError, match="imports from helpers.protocol after"):
        export.exported_cells([path])


def test_a_module_whose_cells_are_gone_is_drift_and_export_removes_it(tmp_path, monkeypatch):
    package = tmp_path / "helpers"
    shutil.copytree(export.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    orphan = package / "stages" / "old_stage.py"
    orphan.write_text(export.GENERATED + "99-gone.ipynb by `make export`\n")
    monkeypatch.setattr(export, "PACKAGE", package)
    monkeypatch.setattr(export, "ROOT", tmp_path)
    assert "no notebook cell exports it any more" in export.drift(NOTEBOOKS)[orphan]
    assert export.main([]) == 0
    assert not orphan.exists()
    assert (package / "stages" / "static.py").exists(), "a module written by hand is not touched"
