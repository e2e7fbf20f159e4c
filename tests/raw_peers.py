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

__all__ = ["RawWebsocket", "half_open", "masked_frame"]

TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


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
    async def connect(cls, port: int, path: str = "/", *, receive_buffer: int | None = None) -> RawWebsocket:
        """Open a websocket at ``path``; ``receive_buffer`` shrinks the socket's kernel buffer."""
        sock = socket.socket()
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
