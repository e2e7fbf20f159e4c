"""Execute notebooks top to bottom in a fresh kernel and store their outputs (``make notebooks``).

nbval compares against what is stored, so notebooks are committed executed. The widgets'
final state is stored too (nbclient's, whole: GitHub refuses a half-formed one), so a
notebook opened without a kernel shows each chat widget with what it said and heard. A
widget that embeds a page is left out of it: opening a notebook must never load a page,
which would join a chat.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        notebook.metadata["widgets"] = {WIDGET_STATE: final_widget_state(client)}
    keep_widget_state_without_pages(notebook)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, path)
    print(f"executed {path}")


FINAL_STATE = """
import json, ipywidgets
print(json.dumps(ipywidgets.Widget.get_manager_state(drop_defaults=True)))
"""


def final_widget_state(client: NotebookClient) -> dict:
    """Every live widget's state at the end, asked of the kernel (ipywidgets' own embedding API).

    Not nbclient's record of the cells' messages: widgets also change between cells (a chat
    widget hears the server), and those updates belong to no cell.
    """
    probe = nbformat.v4.new_code_cell(FINAL_STATE)
    client.nb.cells.append(probe)
    try:
        client.execute_cell(probe, len(client.nb.cells) - 1)
    finally:
        client.nb.cells.remove(probe)
    text = "".join(output.get("text", "") for output in probe.outputs if output.get("name") == "stdout")
    return json.loads(text)


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def keep_widget_state_without_pages(notebook: nbformat.NotebookNode) -> None:
    """The stored widget state, minus any model that would load a page (an ``<iframe>``)."""
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state")
    if not state:
        notebook.metadata.pop("widgets", None)
        return
    doomed = {key for key, model in state.items() if "<iframe" in str(model.get("state", {}))}
    while doomed:  # and every widget holding one (a PageFrame): it shows as its text instead
        for model_id in doomed:
            del state[model_id]
        doomed = {
            key for key, model in state.items()
            if any(f"IPY_MODEL_{gone}" in str(model.get("state", {})) for gone in doomed)
        }


if __name__ == "__main__":
    for name in sys.argv[1:]:
        execute(Path(name))
