"""Notebook 10's moderation cell, as the teacher reads and edits it, loaded for the tests.

The tests run the notebook's own code (its imports cell and the cell that defines ``remove``,
``let_back`` and ``make_class_app``), not a copy of it: what they prove is what the class gets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NOTEBOOK_10 = Path(__file__).resolve().parent.parent / "notebooks" / "10-the-whole-class.ipynb"


def moderation_cell() -> dict[str, Any]:
    """The names notebook 10's imports cell and moderation cell define."""
    cells = [cell for cell in json.loads(NOTEBOOK_10.read_text())["cells"] if cell["cell_type"] == "code"]
    sources = ["".join(cell["source"]) for cell in cells]
    imports = sources[0]
    (moderation,) = [source for source in sources if "async def remove(" in source]
    names: dict[str, Any] = {}
    exec(compile(imports, f"{NOTEBOOK_10.name} (imports)", "exec"), names)
    exec(compile(moderation, f"{NOTEBOOK_10.name} (moderation)", "exec"), names)
    return names
