"""The teacher's join card, and a new join key handed to the class (notebook 10).

``join_card(server)`` shows a shared server's link and QR code (``helpers.kernel.share.JoinCard``).
``hand_out_a_new_key(server)`` is how a removal sticks: the removed student's link stops
working, and everyone still connected gets the new key over their open connection.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json

from helpers.kernel.lifecycle import RunningServer
from helpers.kernel.share import JoinCard, join_key
from helpers.server.app import DOORS, LOG, json_actions, raw_websockets
from helpers.server.sio.serving import SIO

__all__ = ["HANDED_OVER_WITHIN", "KEY_MESSAGE", "hand_out_a_new_key", "join_card"]

HANDED_OVER_WITHIN = 1.0
"""Seconds a new key's hand-over waits for slow clients; one that can't take it then reconnects
with the old key, and is told to ask for the link."""


def join_card(server: RunningServer, heading: str = "Students open") -> JoinCard:
    """The card of ``server``'s link now (its current key), for a cell to show."""
    if server.share_url is None:
        raise ValueError("this server is not shared: start it with start_server(app, share=True)")
    return JoinCard(server.share_url, heading=heading)


KEY_MESSAGE = "key"
"""The JSON chat's message (and the Socket.IO event) that hands a client the server's new join key."""


async def hand_out_a_new_key(server: RunningServer) -> JoinCard:
    """Give ``server`` a new join key, and hand it over every open connection of the class.

    From now on a link with the old key opens nothing (a removed student's reload among them).
    A JSON chat's websockets get ``{"type": "key", "key": NEW}`` and a Socket.IO server's
    clients the event ``key``: the pages and the widgets keep it for their next reconnection
    (and a page puts it in its address bar). A plain-text chat gets nothing: there any client
    could send the same text to all, so its pages can't trust it; they reconnect to be told to
    ask for the new link. A connection closed before this call (the removed one) gets nothing.
    Returns the new link's ``JoinCard`` for the teacher.
    """
    if server.sharing is None:
        raise ValueError("this server is not shared: start it with start_server(app, share=True)")
    server.sharing = dataclasses.replace(server.sharing, key=join_key())
    app, key = server.app, server.sharing.key
    app[DOORS].key = key
    sending = []
    if json_actions(app) is not None:
        text = json.dumps({"type": KEY_MESSAGE, "key": key})
        sending += [ws.send_str(text) for ws in raw_websockets(app)]
    if SIO in app:
        sending.append(app[SIO].emit(KEY_MESSAGE, key))
    try:
        async with asyncio.timeout(HANDED_OVER_WITHIN):
            await asyncio.gather(*sending, return_exceptions=True)
    except TimeoutError:
        pass
    app[LOG]("A new join key: links with the old one no longer open the chat.")
    return join_card(server, heading="New link: students open")
