"""Clients that misbehave on purpose, on raw sockets: no library would let us be this rude.

A peer that joins and then never reads, never answers a ping, sends an empty frame, or sends
half a request: what an attacker or a vanished laptop does to the server. Loopback only.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct

__all__ = [
    "RawWebsocket",
    "half_open",
    "masked_frame",
    "polling_flood",
    "polling_handshake",
    "refused_and_held",
    "unmasked_frame",
]

TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
LOOPBACK = "127.0.0.1"
ENGINEIO = "/socket.io/"


def masked_frame(payload: bytes, opcode: int = TEXT) -> bytes:
    """One final client frame (clients must mask), of any length, empty too."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawWebsocket:
    """A websocket client on a plain socket: it reads only when told to, answers no ping."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(
        cls, port: int, path: str = "/", *, receive_buffer: int | None = None, local_address: str = LOOPBACK
    ) -> RawWebsocket:
        """Open a websocket at ``path``; ``receive_buffer`` shrinks the socket's kernel buffer;
        ``local_address`` is the client's own (another loopback address stands for another machine)."""
        sock = socket.socket()
        sock.bind((local_address, 0))
        if receive_buffer is not None:  # set before connecting: the window is agreed then
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            writer.close()
            raise ConnectionRefusedError(head.split(b"\r\n", 1)[0].decode())
        return cls(reader, writer)

    def send(self, text: str | bytes, opcode: int = TEXT) -> None:
        self.writer.write(masked_frame(text.encode() if isinstance(text, str) else text, opcode))

    def send_unmasked(self, text: str | bytes, opcode: int = TEXT) -> None:
        """Send a frame without a mask, as RFC 6455 forbids a client to."""
        self.writer.write(unmasked_frame(text.encode() if isinstance(text, str) else text, opcode))

    async def receive(self, timeout: float = 5.0) -> tuple[int, bytes]:
        """The next frame from the server: ``(opcode, payload)``."""
        async with asyncio.timeout(timeout):
            first, second = await self.reader.readexactly(2)
            size = second & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
            return first & 0x0F, await self.reader.readexactly(size)

    async def receive_text(self, timeout: float = 5.0) -> str:
        """The next text frame's text, answering no ping on the way (pings are skipped)."""
        while True:
            opcode, payload = await self.receive(timeout)
            if opcode == TEXT:
                return payload.decode()
            if opcode == CLOSE:
                raise ConnectionResetError(f"closed: {struct.unpack('!H', payload[:2])[0]}")

    async def close_code(self, timeout: float = 5.0) -> int | None:
        """Read until the server's close frame: its code; ``None`` if the connection just ended."""
        try:
            while True:
                opcode, payload = await self.receive(timeout)
                if opcode == CLOSE:
                    return struct.unpack("!H", payload[:2])[0]
        except asyncio.IncompleteReadError:
            return None

    def stop_reading(self) -> None:
        """Read nothing more, as a frozen laptop: what the server sends piles up in the kernel."""
        self.writer.transport.pause_reading()

    def close(self) -> None:
        self.writer.close()


async def half_open(port: int, partial: bytes = b"") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection that sends ``partial`` (half a request, or nothing) and then waits."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if partial:
        writer.write(partial)
    return reader, writer


def unmasked_frame(payload: bytes, opcode: int = TEXT) -> bytes:
    """One final frame without a mask, as only a server may send: a client's is a protocol error."""
    assert len(payload) < 126, "a short frame is enough to break the rule"
    return struct.pack("!BB", 0x80 | opcode, len(payload)) + payload


async def refused_and_held(
    port: int, path: str = "/", *, local_address: str = "127.0.0.1", timeout: float = 10.0
) -> tuple[bytes, socket.socket]:
    """Ask for a websocket at ``path``, read the answer's status line, and keep the connection open.

    What a client that hoards connections does: it never closes a refused one itself. The
    status (``b"503"``) and the socket, for the caller to close when done.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    try:
        sock.bind((local_address, 0))
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, ("127.0.0.1", port))
            key = base64.b64encode(os.urandom(16)).decode()
            await loop.sock_sendall(sock, (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode())
            head = await loop.sock_recv(sock, 4096)
    except BaseException:
        sock.close()
        raise
    return (head.split(b" ", 2)[1] if head else b""), sock


async def polling_handshake(port: int, *, local_address: str = LOOPBACK, prefix: str = ENGINEIO) -> bytes:
    """One engine.io long-polling handshake with ``Connection: close``, never followed up: its status.

    The cheapest way to make a Socket.IO server open a session: no CONNECT packet, no poll,
    no upgrade. ``local_address`` is the client's own address (127.0.0.2 and up are loopback
    too on Linux: a second "machine" for tests).
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(local_address, 0))
    try:
        writer.write(
            f"GET {prefix}?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    return answer.split(b" ", 2)[1] if answer else b""


async def polling_flood(
    port: int, count: int, *, local_address: str = LOOPBACK, width: int = 50
) -> dict[bytes, int]:
    """``count`` polling handshakes (``width`` at a time): how many got each status."""
    gate = asyncio.Semaphore(width)

    async def one() -> bytes:
        async with gate:
            return await polling_handshake(port, local_address=local_address)

    statuses = await asyncio.gather(*(one() for _ in range(count)))
    return {status: statuses.count(status) for status in set(statuses)}
