"""Knock on the server's door as others would: a page of another site, a rebinding name.

A browser adds ``Origin`` (the page's site) to every websocket it opens, and names the server
in ``Host`` as the page's address bar does. ``handshake_status`` opens a websocket with the
headers of your choice and says what the server answered: 101 (come in) or a refusal.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import websockets

__all__ = ["handshake_status"]


async def handshake_status(url: str, *, name: str | None = None, **headers: str) -> int:
    """The HTTP status of a websocket handshake to ``url`` with ``headers``: 101 if let in.

    ``name`` is the server's name the request gives (its ``Host``), as a page served from
    that name would; the connection still goes to ``url``'s address.
    """
    address = urlsplit(url)
    uri = address._replace(netloc=name).geturl() if name else url
    connecting = websockets.connect(
        uri, host=address.hostname, port=address.port, additional_headers=headers or None, origin=None
    )
    try:
        async with connecting as ws:
            return ws.response.status_code
    except websockets.InvalidStatus as refused:
        return refused.response.status_code
