"""A sharing cell under nbval, as ``make test`` runs it; and a saved notebook holds no key or address.

A shared server makes a new join key at every run, and shows the link and its QR code in a
widget (``JoinCard``) whose saved form is a fixed sentence: such a cell compares equal run after
run, and the cell shares on 127.0.0.1 whatever machine runs it (``WORKBOOK_SHARE_ADDRESS``).

Notebook 10, executed as ``make notebooks`` does (outputs and the widgets' state stored), while
sharing on 127.0.0.2 (standing in for the classroom address) must hold neither that address
nor any join key: JupyterLab autosaves a notebook during the class.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from helpers.kernel.share import ADDRESS_VARIABLE, JoinCard

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_10 = ROOT / "notebooks" / "10-the-whole-class.ipynb"
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
    printed, card = cells[1].outputs
    assert printed.text.startswith("Listening at port "), printed.text
    assert "key=" not in printed.text and "Students open" not in printed.text, "nothing of the link printed"
    assert set(card.data) == {"text/plain", "application/vnd.jupyter.widget-view+json"}
    assert card.data["text/plain"] == repr(JoinCard("http://x/"))
    assert cells[2].outputs[0].text.startswith("127.0.0.1 ws://127.0.0.1:"), "on loopback"

    run = nbval(path, "-p", "tests.conftest", "--nbval-sanitize-with", "tests/sanitize.cfg")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "4 passed" in run.stdout


NETWORK = "127.0.0.2"
KEYS = re.compile(r"key=[\w-]{6,}|\"key\": ?\"[\w-]{6,}\"")


def test_notebook_10_saved_after_a_class_holds_no_address_and_no_key(tmp_path):
    copy = tmp_path / NOTEBOOK_10.name
    shutil.copy(NOTEBOOK_10, copy)
    variables = {ADDRESS_VARIABLE: NETWORK, "WORKBOOK_PORT": "0"}  # a free port: no hand-over
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "execute_notebooks.py"), str(copy)],
        cwd=ROOT, env={**os.environ, **variables}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    saved = copy.read_text()
    notebook = json.loads(saved)
    outputs = json.dumps([cell.get("outputs", []) for cell in notebook["cells"]])
    assert "Students open" not in outputs and "JoinCard" in outputs, "it shared, and showed the card"
    assert NETWORK not in saved, [line for line in saved.splitlines() if NETWORK in line][:3]
    assert KEYS.findall(saved) == [], [line for line in saved.splitlines() if KEYS.search(line)][:3]
