"""The Socket.IO notebooks (07-09) run on any port: ``WORKBOOK_PORT`` changes it for a session."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("0[789]-*.ipynb"))


def test_the_socketio_notebooks_are_there():
    assert [path.name[:2] for path in NOTEBOOKS] == ["07", "08", "09"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_code_cell_hard_codes_a_port(path):
    """Addresses come from the running server (``server.url``, ``server.port``).

    A capstone's file (``%%writefile``) is a program run by hand, outside the kernel: its
    default port, when none is given, is the tutorial's 3000 (the checker always gives one).
    """
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code" and not cell.source.startswith("%%writefile"):
            assert not re.search(r"\b3000\b", cell.source), cell.source
