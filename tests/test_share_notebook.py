"""A sharing cell under nbval, as ``make test`` runs it: on loopback, and compared modulo its key.

A shared server prints a new join key at every run and shows a QR code that changes with it.
The suite's nbval setup (tests/conftest.py skips ``image/svg+xml``, tests/sanitize.cfg turns
``key=...`` into ``key=KEY``) must make such a cell compare equal run after run, and the
cell must share on 127.0.0.1 whatever machine runs it (``WORKBOOK_SHARE_ADDRESS``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
CELLS = [
    "from helpers import start_server, stop_server\nfrom helpers.stages import echo",
    "server = await start_server(echo.make_app(), port=0, share=True)",
    "print(server.sharing.address, server.ws_url)",
    "await stop_server()",
]


def executed_notebook(folder: Path) -> Path:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    client = NotebookClient(
        notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    path = folder / "sharing.ipynb"
    nbformat.write(notebook, path)
    return path


def nbval(path: Path, *options: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name != "WORKBOOK_SHARE_ADDRESS"}
    env.update(variables)
    command = [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider"]
    return subprocess.run(
        [*command, *options, str(path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def test_a_sharing_cell_runs_on_loopback_and_compares_equal_with_a_new_key(tmp_path):
    path = executed_notebook(tmp_path)
    cells = nbformat.read(path, as_version=4).cells
    printed, qr = cells[1].outputs
    assert "\nStudents open http://127.0.0.1:" in printed.text, "on loopback: WORKBOOK_SHARE_ADDRESS"
    assert set(qr.data) == {"text/plain", "image/svg+xml"}
    assert qr.data["text/plain"].startswith("QR code of http://127.0.0.1:")
    assert cells[2].outputs[0].text.startswith("127.0.0.1 ws://127.0.0.1:")

    setup = ("-p", "tests.conftest", "--nbval-sanitize-with", "tests/sanitize.cfg")
    run = nbval(path, *setup)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "4 passed" in run.stdout

    without_svg_skip = nbval(
        path, "--nbval-sanitize-with", "tests/sanitize.cfg", WORKBOOK_SHARE_ADDRESS="127.0.0.1"
    )
    assert without_svg_skip.returncode == 1, "a new key gives a new QR code: compared, it differs"
    assert "image/svg+xml" in without_svg_skip.stdout
