"""A Sphinx extension of the book: the public site never shows an answer or a hidden test.

The notebooks are the teacher edition: each exercise's solution sits in an nbgrader solution
cell, and each autograder test cell holds its test between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``. A student reading the site should meet the exercise, not its answer.
Before MyST-NB parses a notebook (Sphinx's ``source-read``), this tags those cells
``remove-cell``, MyST-NB's own tag for a cell left out of the page. The checker's cell after
each exercise stays, with its stored verdict. (The page's download of its notebook, like the
repository itself, is the teacher edition: the site hides answers from a reader, it does not
keep them secret.)
"""

from __future__ import annotations

import json
from typing import Any

REMOVE = "remove-cell"


def setup(app: Any) -> dict[str, Any]:
    app.connect("source-read", _without_answers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def is_answer_or_test(cell: dict[str, Any]) -> bool:
    """An nbgrader solution cell, or an autograder test cell (``grade`` without ``solution``)."""
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    return bool(nbgrader.get("solution") or nbgrader.get("grade"))


def _without_answers(app: Any, docname: str, source: list[str]) -> None:
    if not app.env.doc2path(docname).endswith(".ipynb"):
        return
    notebook = json.loads(source[0])
    for cell in notebook["cells"]:
        if is_answer_or_test(cell):
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if REMOVE not in tags:
                tags.append(REMOVE)
    source[0] = json.dumps(notebook)
