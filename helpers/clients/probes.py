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
from dataclasses import dataclass
from urllib.parse import urlsplit

import websockets
from aiohttp import web

__all__ = ["StallTest", "StalledClient", "handshake_status", "stall_test", "stalled_client"]

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


@dataclass
class StallTest:
    """What ``stall_test`` measured: did bob get every message alice sent, and when."""

    messages: int
    stalled: bool
    got: int
    last_after: float | None  # seconds from the first send to the last message bob got
    silent_for: float  # seconds bob then waited for nothing, when he did not get them all

    def __repr__(self) -> str:
        who = "with dave stalled" if self.stalled else "without dave"
        if self.got == self.messages:
            after = f"{self.last_after * 1000:.0f} ms"
            return f"{who}: bob got all {self.messages} messages: yes, the last after {after}"
        return (
            f"{who}: bob got all {self.messages} messages: no, {self.got} of them, "
            f"then nothing for {self.silent_for:g} s"
        )


async def stall_test(app: web.Application, *, stalled: bool = True, messages: int = 300) -> StallTest:
    """Serve ``app`` on a spare port; alice sends ``messages`` of 20,000 characters; does bob get them?

    With ``stalled``, dave is connected too and reads nothing (``stalled_client``). A server of
    its own, so the notebook's chat and its widgets never see these megabytes.
    """
    from helpers.kernel.lifecycle import open_server  # here: probes are imported by the server's side

    server = await open_server(app, port=0)
    dave = None
    try:
        dave = await stalled_client(server.ws_url) if stalled else None
        async with websockets.connect(server.ws_url, compression=None, max_size=None) as alice, \
                websockets.connect(server.ws_url, compression=None, max_size=None) as bob:  # fmt: skip
            loop = asyncio.get_running_loop()
            started, got, last_at = loop.time(), 0, None
            echoes = asyncio.ensure_future(_read_all(alice))  # alice reads what comes back to her
            for n in range(messages):
                await alice.send(f"{n}: " + "x" * 20_000)
            silence = STALL_SILENCE
            while got < messages:
                try:
                    await asyncio.wait_for(bob.recv(), silence)
                except TimeoutError:
                    break
                got, last_at = got + 1, loop.time()
            echoes.cancel()
        return StallTest(messages, stalled, got, None if last_at is None else last_at - started, silence)
    finally:
        if dave is not None:
            dave.close()
        await server.stop()


async def _read_all(ws: websockets.ClientConnection) -> None:
    async for _ in ws:
        pass


STALL_SILENCE = 3.0
"""Seconds of silence after which ``stall_test`` says bob got nothing more."""
