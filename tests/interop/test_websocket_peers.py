"""Plain websockets across languages: wscat against the Python stages, Python against Node's ``ws``."""

from __future__ import annotations

import asyncio
import re

from helpers.clients.widgets import ChatClient
from helpers.stages import broadcast


async def test_wscat_and_a_widget_client_chat_on_the_python_broadcast_stage(serve, spawn):
    server = await serve(broadcast.make_app())
    wscat = await spawn("wscat", "node_modules/wscat/bin/wscat", "--connect", server.ws_url, prompt="> ")
    await server.log.wait_for("Client connected (1 open).")  # wscat reads stdin once connected
    widget = ChatClient("widget")
    assert await widget.connect(server.ws_url)
    try:
        await server.log.wait_for("Client connected (2 open).")
        await wscat.send("hi from wscat")
        await wscat.wait_for("hi from wscat")  # a broadcast reaches the sender too
        await widget.wait_for_messages(1)
        await widget.say("hi from Python")
        await wscat.wait_for("hi from Python")
        await widget.wait_for_messages(2)
        assert widget.received == ["hi from wscat", "hi from Python"]
        assert wscat.lines == ["hi from wscat", "hi from Python"]
        assert server.log.lines[1:] == [
            "Client connected (1 open).",
            "Client connected (2 open).",
            "ws got: hi from wscat",
            "Broadcasted data to 2 (2) clients.",
            "ws got: hi from Python",
            "Broadcasted data to 2 (2) clients.",
        ]
        await wscat.close_stdin()  # like Ctrl-D: wscat closes the socket and exits
        assert await wscat.exit_code() == 0
        await server.log.wait_for("Client disconnected (1 open).")
        assert await wscat.stderr() == ""
    finally:
        await widget.disconnect()


async def test_wscat_execute_against_the_python_echo_stage(serve, spawn):
    from helpers.stages import echo

    server = await serve(echo.make_app())
    wscat = await spawn(
        "wscat", "node_modules/wscat/bin/wscat", "--connect", server.ws_url, "-x", "ping?", "-w", "5"
    )
    await wscat.wait_for("ping?")
    await server.log.wait_for("ws got: ping?")
    await wscat.stop()


async def test_widget_clients_chat_through_the_original_node_broadcast_server(node_server):
    server, port = await node_server("broadcast-server.mjs")
    url = f"ws://127.0.0.1:{port}/"
    alice, bob = ChatClient("alice"), ChatClient("bob")
    try:
        assert await alice.connect(url)
        assert await bob.connect(url)
        await alice.say("hi from Python")
        await server.wait_for("ws got: hi from Python")
        await server.wait_for("Broadcasted data to 2 (2) clients.")
        await bob.say("hi back")
        for client in (alice, bob):
            await client.wait_for_messages(2)
            assert client.received == ["hi from Python", "hi back"]
        assert "Server said: hi from Python" in bob.lines  # ws sends binary frames: decoded as text
        await server.wait_for("Broadcasted data to 2 (2) clients.", count=2)
        assert server.lines == [
            f"Listening at port {port}",
            "ws got: hi from Python",
            "Broadcasted data to 2 (2) clients.",
            "ws got: hi back",
            "Broadcasted data to 2 (2) clients.",
        ]
        await bob.disconnect()
        await alice.say("bob left")
        # 1 sent; ws may still count bob's closing socket among its clients: (1) or (2)
        await server.wait_for(re.compile(r"Broadcasted data to 1 \([12]\) clients\."))
        await alice.wait_for_messages(3)
    finally:
        await asyncio.gather(alice.disconnect(), bob.disconnect())
