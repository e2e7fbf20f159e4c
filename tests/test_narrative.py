"""What a notebook's words say is what its cells show, on the README's path (issue 19).

02's "No server yet" after 01, which ends live on the same port; 01's embedded page, which
must show the server that stays up; 06's rename to the same name, which is no news.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from helpers.clients.widgets import JsonChatClient
from helpers.stages import json_chat

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def _notebook(prefix: str) -> Path:
    (path,) = [p for p in NOTEBOOKS if p.name.startswith(prefix)]
    return path


def _client(path: Path) -> tuple[nbformat.NotebookNode, NotebookClient]:
    notebook = nbformat.read(path, as_version=4)
    return notebook, NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") or str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)


def test_02s_no_server_yet_holds_right_after_01_which_ends_live(monkeypatch, free_port):
    """Run All of 01 (its kernel stays up, holding the port, as JupyterLab leaves it), then 02."""
    monkeypatch.setenv("WORKBOOK_PORT", str(free_port))
    first, first_client = _client(_notebook("01"))
    second, second_client = _client(_notebook("02"))
    with first_client.setup_kernel():
        for index, cell in enumerate(first.cells):
            first_client.execute_cell(cell, index)
        with second_client.setup_kernel():
            for index, cell in enumerate(second.cells):
                second_client.execute_cell(cell, index)
    heading = next(i for i, c in enumerate(second.cells) if c.source.startswith("## No server yet"))
    connect = next(c for c in second.cells[heading:] if "client.connect()" in c.source)
    said = _text(connect)
    assert "connection refused" in said, said
    assert "HTTP 200" not in said, "a server answered where the words say nothing listens"


EMBED = re.compile(r"^(?!\s*#)\s*page\(", re.MULTILINE)
START_OR_STOP = re.compile(r"^(?!\s*#).*\b(start_server|stop_server|stop_all_servers)\(", re.MULTILINE)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_an_embedded_page_shows_the_server_that_stays_up(path):
    """Run All renders an embedded page while later cells run: if one of them stops or
    restarts the server, the page shows "127.0.0.1 refused to connect". So a page is
    embedded only after the notebook's last start, and no cell after it stops a server."""
    sources = [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    embeds = [i for i, s in enumerate(sources) if EMBED.search(s) and "embed=False" not in s]
    for embed in embeds:
        later = [s for s in sources[embed + 1 :] if START_OR_STOP.search(s)]
        assert not later, f"cell {embed} embeds a page, then {later[0]!r} restarts or stops the server"


async def test_a_rename_to_the_same_name_is_no_news(serve):
    server = await serve(json_chat.make_app())
    alice, bob = JsonChatClient("alice"), JsonChatClient("bob")
    for client in (alice, bob):
        await client.connect(server.ws_url)
        await client.nick(client.name)
    await alice.wait_for("* bob joined")
    await bob.nick("bob")  # the same name again (a page that sends it at each connection, say)
    await bob.nick(" bob ")  # and with spaces, which the server strips
    await bob.say("still bob")
    await alice.wait_for("bob: still bob")
    await alice.disconnect()
    await bob.disconnect()
    assert not [line for line in alice.lines + bob.lines if line.startswith("* bob is now")]
