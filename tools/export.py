"""Write the code cells marked ``#| export MODULE`` to ``helpers/MODULE.py`` (``make export``).

The convention is nbdev's: a code cell whose first line is ``#| export stages.echo`` belongs
to the module ``helpers/stages/echo.py``. The notebook is the source, the module is what
``python -m helpers.serve`` and the tests import, and both are the same code: this tool
writes every module from its cells (in notebook order, then cell order), and
``--check`` (run by ``tests/test_export.py``) fails, with a diff, when a module on disk
differs from what its cells say.

Typical use::

    python tools/export.py            # after editing an exported cell
    python tools/export.py --check    # exit 1 and show the diff if anything drifted

An exported cell holds code only: a solution region (``### BEGIN SOLUTION``) is refused,
since the student edition replaces it, and the modules must not depend on who runs them.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = ["DIRECTIVE", "ExportedCell", "exported_cells", "main", "module_path", "render", "drift"]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PACKAGE = ROOT / "helpers"

GENERATED = "# Exported from notebooks/"
"""How every exported module begins."""

DIRECTIVE = re.compile(r"^#\| export (?P<module>[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)[ \t]*$")
"""The first line of an exported cell: ``#| export stages.echo``."""


@dataclass(frozen=True)
class ExportedCell:
    """One exported cell: where it comes from, and its code without the directive line."""

    notebook: Path
    index: int
    module: str
    code: str


def exported_cells(notebooks: list[Path]) -> dict[str, list[ExportedCell]]:
    """Every exported cell of ``notebooks``, grouped by module, in notebook and cell order."""
    modules: dict[str, list[ExportedCell]] = {}
    for path in sorted(notebooks):
        notebook = nbformat.read(path, as_version=4)
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                exported = _exported(path, index, cell.source)
                if exported is not None:
                    modules.setdefault(exported.module, []).append(exported)
    _check_import_order(modules)
    for module, cells in modules.items():
        sources = {cell.notebook for cell in cells}
        if len(sources) > 1:
            names = ", ".join(sorted(path.name for path in sources))
            raise ValueError(f"module {module} is exported from several notebooks: {names}")
    return modules


def _exported(path: Path, index: int, source: str) -> ExportedCell | None:
    """The cell as exported code, ``None`` if it isn't; ``ValueError`` if it can't be."""
    first, _, rest = source.partition("\n")
    match = DIRECTIVE.match(first)
    where = f"{path.name} cell {index}"
    if match is None:
        if re.match(r"#\|\s*export", first):
            raise ValueError(f"{where}: malformed directive {first!r}")
        return None
    try:
        compile(rest, where, "exec")  # compile, not just parse: it refuses a top-level `await`
    except SyntaxError as exc:  # a top-level `await`, say: fine in a cell, not in a module
        raise ValueError(f"{where}: not module code: {exc.msg} (line {exc.lineno})") from None
    if "BEGIN SOLUTION" in rest:
        raise ValueError(f"{where}: an exported cell can't hold a solution")
    if _ends_with_a_string(rest):
        raise ValueError(
            f"{where}: ends with a string, which the notebook would show as the cell's output; "
            "make it a comment"
        )
    return ExportedCell(path, index, match["module"], rest.strip("\n"))


def _check_import_order(modules: dict[str, list[ExportedCell]]) -> None:
    """A cell importing from a module its own notebook defines must come before those definitions.

    Otherwise running the notebook top to bottom would replace the notebook's own (perhaps
    edited) definitions with the module's, and a student's change would silently not count.
    """
    for cells in modules.values():
        for cell in cells:
            for node in ast.walk(ast.parse(cell.code)):
                if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("helpers."):
                    continue
                source = node.module.removeprefix("helpers.")
                defining = [
                    other.index
                    for other in modules.get(source, [])
                    if other.notebook == cell.notebook and not _only_imports(other.code)
                ]
                if defining and cell.index > min(defining):
                    raise ValueError(
                        f"{cell.notebook.name} cell {cell.index} imports from helpers.{source} after "
                        f"cell {min(defining)} defines it there: move the import cell above"
                    )


def _only_imports(code: str) -> bool:
    return all(isinstance(node, ast.Import | ast.ImportFrom) for node in ast.parse(code).body)


def _ends_with_a_string(code: str) -> bool:
    """A docstring-like string as a cell's last statement: IPython displays it as ``Out[n]``."""
    body = ast.parse(code).body
    return bool(body) and isinstance(body[-1], ast.Expr) and isinstance(body[-1].value, ast.Constant)


def module_path(module: str) -> Path:
    """``stages.echo`` -> ``helpers/stages/echo.py``."""
    return PACKAGE.joinpath(*module.split(".")).with_suffix(".py")


def render(module: str, cells: list[ExportedCell]) -> str:
    """The text of ``module``: a header naming its notebook, then its cells' code."""
    notebook = cells[0].notebook
    title = _title(notebook)
    header = (
        f"{GENERATED}{notebook.name} by `make export`: the cells marked\n"
        f"# `#| export {module}`. Edit those cells, not this file (tests/test_export.py checks).\n"
        f'"""The code of notebook {notebook.name[:2]}, "{title}", as the workbook runs it."""\n'
    )
    body = cells[0].code
    for before, cell in zip(cells, cells[1:], strict=False):
        body += _gap(before.code, cell.code) + cell.code
    return f"{header}\n{body}\n"


def _gap(before: str, after: str) -> str:
    """Two blank lines between cells; one after the imports unless a def or class follows (isort)."""
    if _only_imports(before) and not re.match(r"(async def|def|class|@)", after):
        return "\n\n"
    return "\n\n\n"


def drift(notebooks: list[Path]) -> dict[Path, str]:
    """Each module whose file differs from its cells, with a unified diff (file -> cells)."""
    differences = {}
    modules = exported_cells(notebooks)
    for module, cells in modules.items():
        path = module_path(module)
        wanted = render(module, cells)
        current = path.read_text() if path.exists() else ""
        if current != wanted:
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                wanted.splitlines(keepends=True),
                fromfile=f"{path.relative_to(ROOT)} (on disk)",
                tofile=f"{path.relative_to(ROOT)} (from notebooks/{cells[0].notebook.name})",
            )
            differences[path] = "".join(diff)
    exported = {module_path(module) for module in modules}
    for orphan in sorted(PACKAGE.rglob("*.py")):
        if orphan not in exported and orphan.read_text().startswith(GENERATED):
            differences[orphan] = f"{orphan.relative_to(ROOT)}: no notebook cell exports it any more\n"
    return differences


def _title(notebook: Path) -> str:
    """The notebook's heading without its number: ``# 4. The echo server`` -> ``The echo server``."""
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "markdown":
            heading = re.match(r"#\s+(?:\d+\.\s+)?(.+)", cell.source)
            if heading:
                return heading[1].strip()
    return notebook.stem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/export.py", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on any difference")
    args = parser.parse_args(argv)
    notebooks = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    differences = drift(notebooks)
    if args.check:
        for path, diff in differences.items():
            print(f"{path.relative_to(ROOT)} differs from its notebook cells:\n{diff}")
        return 1 if differences else 0
    modules = exported_cells(notebooks)
    for module, cells in modules.items():
        path = module_path(module)
        if path in differences:
            path.write_text(render(module, cells))
            print(f"wrote {path.relative_to(ROOT)}")
    for path in set(differences) - {module_path(module) for module in modules}:
        path.unlink()  # its cells are gone: so is the module
        print(f"removed {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
