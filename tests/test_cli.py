"""``websocket_cli``: the command-line client's transcript, shown in a notebook cell, is plain text."""

from __future__ import annotations

import asyncio

import websockets

from helpers.clients.cli import websocket_cli
from helpers.stages import broadcast


async def test_what_another_client_sent_is_escaped_in_the_transcript(serve):
    """An OSC (window title, clipboard), a bell and a right-to-left override arrive from another
    client: the transcript, printed in a cell, shows them as escapes, never as codes."""
    server = await serve(broadcast.make_app())
    async with websocket_cli(server.ws_url) as cli, websockets.connect(server.ws_url) as other:
        await other.send("\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07hi \u202eevil")
        await cli.expect("hi ")
        await asyncio.sleep(0.1)
    line = next(line for line in cli.lines if "hi " in line)
    assert line == "< \\x1b]0;pwned\\x07\\x1b]52;c;ZXZpbA==\\x07hi \\u202eevil"
    assert all(text.isprintable() for text in cli.lines)
