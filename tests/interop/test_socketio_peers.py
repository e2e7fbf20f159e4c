"""Socket.IO across languages: Node's socket.io-client against the Python ``socketio`` stage,
python-socketio's ``AsyncClient`` against a Node socket.io 4.8 server. The event is
``chat message``, as in the official get-started tutorial."""

from __future__ import annotations

import pytest
import socketio

from helpers.common.waiting import Changes
from helpers.stages import STAGES


class PythonPeer:
    """A ``socketio.AsyncClient`` that collects every ``chat message`` it gets."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.got: list[str] = []
        self.changes = Changes()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("chat message", self._got)

    async def _got(self, msg: str) -> None:
        self.got.append(msg)
        self.changes.notify()

    async def connect(self, url: str, transports: list[str] | None = None) -> None:
        await self.sio.connect(url, transports=transports, wait_timeout=5)

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        await self.changes.wait_until(
            lambda: len(self.got) >= count,
            timeout=timeout,
            describe=lambda: f"{self.name} got {len(self.got)} of {count} messages: {self.got}",
        )


@pytest.mark.parametrize("transport", ["websocket", "polling", None], ids=["websocket", "polling", "upgrade"])
async def test_node_socketio_client_chats_on_the_python_socketio_stage(serve, spawn, transport):
    server = await serve(STAGES["socketio"]())
    node = await spawn(
        "socket.io-client", "interop/socketio-client.mjs", server.url, *([transport] if transport else []),
        ready="connected",
    )
    python = PythonPeer("python")
    try:
        await python.connect(server.url)
        await server.log.wait_for("a user connected", count=2)
        await node.send("hi from Node")
        await node.wait_for("got: hi from Node")  # everyone gets it, the sender too
        await python.wait_for(1)
        await python.sio.emit("chat message", "hi from Python")
        await node.wait_for("got: hi from Python")
        await python.wait_for(2)
        assert python.got == ["hi from Node", "hi from Python"]
        assert node.lines == ["connected", "got: hi from Node", "got: hi from Python"]
        assert [line for line in server.log.lines if line.startswith("message:")] == [
            "message: hi from Node",
            "message: hi from Python",
        ]
        await node.close_stdin()  # the client says goodbye
        await server.log.wait_for("user disconnected")
        if transport != "polling":  # polling: Node lingers on its pending long-poll GET; stop() ends it
            assert await node.exit_code() == 0
            assert await node.stderr() == ""
    finally:
        await python.sio.disconnect()


@pytest.mark.parametrize("transports", [["websocket"], None], ids=["websocket", "upgrade"])
async def test_python_socketio_clients_chat_through_a_node_socketio_server(node_server, transports):
    server, port = await node_server("socketio-server.mjs")
    url = f"http://127.0.0.1:{port}"
    alice, bob = PythonPeer("alice"), PythonPeer("bob")
    try:
        await alice.connect(url, transports)
        await bob.connect(url, transports)
        await server.wait_for("a user connected", count=2)
        await alice.sio.emit("chat message", "hi from Python")
        await bob.sio.emit("chat message", "hi Alice")
        for peer in (alice, bob):
            await peer.wait_for(2)
            assert sorted(peer.got) == ["hi Alice", "hi from Python"]
        assert alice.got == bob.got  # one server, one order
        await server.wait_for("message: hi Alice")
        await server.wait_for("message: hi from Python")
        await bob.sio.disconnect()
        await server.wait_for("user disconnected")
    finally:
        await alice.sio.disconnect()
        await bob.sio.disconnect()
