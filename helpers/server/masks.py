"""Masked frames only: a websocket client's unmasked frame fails its connection with 1002.

RFC 6455, section 5.1: "The server MUST close the connection upon receiving a frame that
is not masked ... a server MAY send a Close frame with a status code of 1002 (protocol
error)". A browser always masks (so that a page can't make its bytes appear on the wire as
it chose, to poison a proxy's cache); a client that does not is no browser, and breaks the
protocol. aiohttp's websocket reader (``aiohttp/_websocket/reader_py.py`` and its compiled
twin ``reader_c``, 3.14) reads the mask bit and unmasks when it is set, but takes an unmasked
frame as it is, and has no option to refuse one.

So ``require_masks`` puts a small watcher between the connection and aiohttp
(``asyncio.Transport.set_protocol``, asyncio's public API): it follows the frame headers in
the bytes as they come, passes every byte on untouched, and at the first unmasked frame
sends the close frame (1002) itself, closes the connection and passes nothing more on.
aiohttp's handler then sees its connection end, as for any client that leaves.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any

__all__ = ["FrameHeaders", "MaskedFramesOnly", "require_masks"]

_WHY = b"client frames must be masked"
PROTOCOL_ERROR_FRAME = struct.pack("!BBH", 0x88, 2 + len(_WHY), 1002) + _WHY
"""The server's close frame (unmasked, as a server's are): 1002 (Protocol Error), and why."""


class FrameHeaders:
    """Follows websocket frame boundaries in a byte stream, cut anywhere: where an unmasked frame starts."""

    __slots__ = ("_header", "_payload_left")

    def __init__(self) -> None:
        self._header = bytearray()  # the current frame's header, as far as it came
        self._payload_left = 0

    def unmasked_at(self, data: bytes) -> int | None:
        """Where in ``data`` an unmasked frame begins (0: in an earlier chunk); ``None`` if none does."""
        position, size = 0, len(data)
        while position < size:
            if self._payload_left:
                step = min(self._payload_left, size - position)
                self._payload_left -= step
                position += step
                continue
            started = position - len(self._header)
            needed = self._header_size() - len(self._header)
            self._header += data[position : position + needed]
            position += min(needed, size - position)
            if len(self._header) >= 2 and not self._header[1] & 0x80:
                return max(0, started)
            if len(self._header) == self._header_size():
                self._payload_left = self._payload_size()
                self._header.clear()
        return None

    def _header_size(self) -> int:
        if len(self._header) < 2:
            return 2
        length = self._header[1] & 0x7F
        return 2 + {126: 2, 127: 8}.get(length, 0) + 4

    def _payload_size(self) -> int:
        length = self._header[1] & 0x7F
        if length == 126:
            return struct.unpack("!H", self._header[2:4])[0]
        if length == 127:
            return struct.unpack("!Q", self._header[2:10])[0]
        return length


class MaskedFramesOnly(asyncio.Protocol):
    """aiohttp's protocol for one connection, behind a watcher of its frames' masks."""

    __slots__ = ("inner", "transport", "is_websocket", "on_refused", "frames", "failed")

    def __init__(
        self,
        inner: asyncio.BaseProtocol,
        transport: asyncio.Transport,
        is_websocket: Callable[[], bool],
        on_refused: Callable[[], Any],
    ) -> None:
        self.inner, self.transport = inner, transport
        self.is_websocket, self.on_refused = is_websocket, on_refused
        self.frames: FrameHeaders | None = None
        self.failed = False

    def data_received(self, data: bytes) -> None:
        if self.failed:
            return
        if self.frames is None:
            if not self.is_websocket():  # not (yet) a websocket: bytes of HTTP, aiohttp's
                self.inner.data_received(data)  # type: ignore[attr-defined]
                return
            self.frames = FrameHeaders()
        at = self.frames.unmasked_at(data)
        if at is None:
            self.inner.data_received(data)  # type: ignore[attr-defined]
            return
        if at:
            self.inner.data_received(data[:at])  # type: ignore[attr-defined]
        self.failed = True
        self.transport.write(PROTOCOL_ERROR_FRAME)  # aiohttp writes whole frames: none is cut here
        self.transport.close()  # after what was written; aiohttp sees the connection end
        self.on_refused()

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


def require_masks(
    transport: asyncio.BaseTransport, is_websocket: Callable[[], bool], on_refused: Callable[[], Any]
) -> None:
    """From now on, fail the connection at its first unmasked frame, once it is a websocket.

    Called for a websocket handshake before it is answered: the frames that follow the answer
    are watched from their first byte. ``is_websocket()`` says whether the request became one
    (a refused handshake stays HTTP, and is left alone); ``on_refused`` is told of a failure.
    """
    inner = transport.get_protocol()
    if not isinstance(inner, MaskedFramesOnly):  # uvloop's transports have the same two methods
        transport.set_protocol(MaskedFramesOnly(inner, transport, is_websocket, on_refused))  # type: ignore[arg-type]
