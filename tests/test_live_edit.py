"""Editing a cell changes the running server: no file to edit, no kernel restart.

A real kernel runs a notebook as a student would; then an exported cell is edited and run
again, with the cell that starts the server (04) or the one that adds the handler to the
running server (08), and a real client sees the new behaviour.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


class Kernel:
    """A notebook's cells run one by one in a fresh kernel, as a student runs them."""

    def __init__(self, name: str) -> None:
        (path,) = NOTEBOOKS.glob(f"{name}-*.ipynb")
        self.notebook = nbformat.read(path, as_version=4)
        resources = {"metadata": {"path": str(NOTEBOOKS)}}
        self.client = NotebookClient(self.notebook, kernel_name="python3", timeout=60, resources=resources)

    def index(self, starting: str) -> int:
        return next(i for i, c in enumerate(self.notebook.cells) if c.source.startswith(starting))

    async def run(self, source: str) -> str:
        """Run ``source`` as a new cell; its printed output (an error fails the test)."""
        cell = nbformat.v4.new_code_cell(source)
        self.notebook.cells.append(cell)
        await self.client.async_execute_cell(cell, len(self.notebook.cells) - 1)
        return "".join(output.get("text", "") for output in cell.outputs)

    async def run_cells(self, stop: int) -> None:
        for index, cell in enumerate(self.notebook.cells[:stop]):
            if cell.cell_type == "code":
                await self.client.async_execute_cell(cell, index)


async def test_an_edited_handler_serves_after_its_cell_and_the_start_cell_run_again():
    kernel = Kernel("04")
    async with kernel.client.async_setup_kernel():
        start = kernel.index("server = await start_server(make_app())")
        await kernel.run_cells(start + 1)
        probe = (
            "import websockets\n"
            "async with websockets.connect(server.ws_url) as ws:\n"
            "    await ws.send('abc')\n"
            "    print(await asyncio.wait_for(ws.recv(), 3))"
        )
        assert await kernel.run(probe) == "abc\n"
        handler = kernel.index("#| export stages.echo\nasync def echo")
        source = kernel.notebook.cells[handler].source
        edited = source.replace("ws.send_str(msg.data)", "ws.send_str(msg.data[::-1])")
        assert await kernel.run(edited) == ""
        assert (await kernel.run(kernel.notebook.cells[start].source)).startswith("Listening at port ")
        assert await kernel.run(probe) == "cba\n"
        await kernel.run("await stop_server()")


async def test_an_edited_socketio_handler_serves_at_once_on_the_running_server():
    kernel = Kernel("08")
    async with kernel.client.async_setup_kernel():
        typing_demo = kernel.index("add_typing(server.app)")
        await kernel.run_cells(typing_demo + 1)
        handler = kernel.index("#| export stages.socketio_features\ndef add_typing")
        edited = kernel.notebook.cells[handler].source.replace(
            '(nicks.get(sid, "?"), bool(is_typing))', '(nicks.get(sid, "?").upper(), bool(is_typing))'
        )
        assert edited != kernel.notebook.cells[handler].source
        await kernel.run(edited)
        await kernel.run("add_typing(server.app)")
        out = await kernel.run(
            "await bob.typing(True)\n"
            'await alice.wait_for("* BOB is typing...")\n'
            "print(alice.lines[-1])"
        )
        assert out == "* BOB is typing...\n"
        await kernel.run("for client in clients:\n    await client.disconnect()\nawait stop_server()")


async def test_an_edited_connect_in_09_serves_after_its_cell_and_the_start_cell_run_again():
    """The handler ``make_app`` registers is the edited cell's, not the first."""
    kernel = Kernel("09")
    async with kernel.client.async_setup_kernel():
        start = kernel.index("server = await start_server(make_app())")
        handler = kernel.index("#| export stages.socketio_chat\ndef add_delivery")  # Going deeper's
        await kernel.run_cells(handler)
        edited = kernel.notebook.cells[handler].source.replace(
            "        await welcome(app, sid, auth)\n",
            '        await welcome(app, sid, auth)\n        print("EDITED connect")\n',
        )
        assert edited != kernel.notebook.cells[handler].source
        await kernel.run(edited)
        await kernel.run(kernel.notebook.cells[start].source)
        out = await kernel.run(
            'ada = SocketIOChatClient("ada")\n'
            "await ada.connect(server.url)\n"
            'await server.log.wait_for("EDITED connect")\n'
            "print(server.log.lines[-1])\n"
            "await ada.disconnect()\n"
            "await stop_server()"
        )
        assert out.splitlines()[0] == "EDITED connect"


async def test_a_behaviour_change_in_the_replay_changes_a_compared_output():
    """The issue's reproduction: ``>`` made ``>=`` in the store's ``since`` was caught by nbval
    only through displayed source text. Now a cell that runs the store shows the difference."""
    kernel = Kernel("09")
    async with kernel.client.async_setup_kernel():
        demo = kernel.index("store = MessageStore()")
        stored = "".join(output.get("text", "") for output in kernel.notebook.cells[demo].outputs)
        store = kernel.index("#| export delivery\nclass MessageStore")
        cell = kernel.notebook.cells[store]
        assert "WHERE id > ?" in cell.source
        cell.source = cell.source.replace("WHERE id > ?", "WHERE id >= ?")
        await kernel.run_cells(demo)
        assert await kernel.run(kernel.notebook.cells[demo].source) != stored
        await kernel.run("await stop_server()")


def test_no_stored_output_compares_the_server_code():
    """A new comment in an exported cell changes no stored output: nbval compares behaviour."""
    code_lines = set()
    notebooks = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and cell.source.startswith("#| export"):
                lines = (line.strip() for line in cell.source.splitlines()[1:])
                code_lines |= {line for line in lines if len(line) > 20}
    assert len(code_lines) > 100
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                shown = str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
                assert not [line for line in code_lines if line in shown], (path.name, cell.source)
