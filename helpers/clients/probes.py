"""Knock on the server's door as others would: a page of another site, a rebinding name, a frozen laptop.

A browser adds ``Origin`` (the page's site) to every websocket it opens, and names the server
in ``Host`` as the page's address bar does. ``handshake_status`` opens a websocket with the
headers of your choice and says what the server answered: 101 (come in) or a refusal.
``stalled_client`` joins a chat and then reads nothing: what a frozen laptop, or a phone in a
tunnel, does to a server that writes to it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from urllib.parse import urlsplit

import websockets

__all__ = ["StalledClient", "handshake_status", "stalled_client"]

STALLED_BUFFER = 4096
"""Bytes the stalled client's kernel takes before the server's writes to it pile up."""


class StalledClient:
    """A websocket client that, once connected, reads nothing: a frozen laptop, a phone in a tunnel.

    A plain socket that nobody reads from: what the server sends it fills its small kernel
    buffer (``STALLED_BUFFER``), then the server's, then the server's own memory.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.local_address = sock.getsockname()  # the server sees it as this peer

    def close(self) -> None:
        """Vanish: the connection is reset, nothing said."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()


async def stalled_client(url: str) -> StalledClient:
    """A websocket client of ``url`` (``ws://host:port/path``) that reads nothing after its handshake."""
    address = urlsplit(url)
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_BUFFER)  # before connecting: the window
        sock.setblocking(False)
        async with asyncio.timeout(5):
            await loop.sock_connect(sock, (address.hostname, address.port))
            path = (address.path or "/") + (f"?{address.query}" if address.query else "")
            key = base64.b64encode(os.urandom(16)).decode()
            request = (
                f"GET {path} HTTP/1.1\r\nHost: {address.netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            await loop.sock_sendall(sock, request.encode())
            answer = b""
            while b"\r\n\r\n" not in answer:
                byte = await loop.sock_recv(sock, 1)  # byte by byte: not one byte past the handshake
                if not byte:
                    raise ConnectionResetError("the server closed the connection during the handshake")
                answer += byte
        if b" 101 " not in answer.split(b"\r\n", 1)[0]:
            raise ConnectionRefusedError(answer.split(b"\r\n", 1)[0].decode(errors="replace"))
    except BaseException:
        sock.close()
        raise
    return StalledClient(sock)


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
