"""engine.io's websockets, with the frames one turn of the loop sends to a client in one write.

python-engineio's aiohttp driver sends each packet with ``WebSocketResponse.send_str``: a
frame built and a system call made per packet per client. A broadcast to 100 clients, ten
messages read in one turn, is 1,000 system calls; profiled, they and the frame building were
most of a busy Socket.IO server's time. ``BatchedWebSocket`` is the driver's own class with
one change: a packet's frame joins the others this turn of the loop sends to that client, and
they go out in one write once the turn ends, in order (the raw fast path of notebook 11 does
the same). Equal texts make equal frames, so a broadcast builds its frame once.

A client that reads slowly is still held back as before: while its connection holds more than
``HIGH_WATER`` bytes unsent, ``send`` waits, engine.io's queue for it grows, and the backlog
watcher (``Limits.queue``) disconnects it.

``use_batched_websockets(eio)`` makes one server build its websockets from this class; the
engine.io internals that takes (its driver table, the driver's ``_sock``, a session's queue
and state) are named in ``helpers.common.internals``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import engineio
from aiohttp import web
from engineio.async_drivers import aiohttp as eio_aiohttp

from helpers.common.internals import backlog_of, is_ending, is_upgraded, use_websocket_class
from helpers.server.app import transport_of
from helpers.server.limits import LIMITS

__all__ = ["HIGH_WATER", "BatchedWebSocket", "batched_websocket_of", "use_batched_websockets"]

HIGH_WATER = 64 * 1024
"""Bytes a connection may hold unsent before ``send`` waits for it (aiohttp's own limit)."""


def _frame(payload: bytes, opcode: int) -> bytes:
    """One whole unmasked websocket frame (RFC 6455, 5.2), FIN set."""
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, size))
    elif size < 1 << 16:
        header = bytes((0x80 | opcode, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 127)) + size.to_bytes(8, "big")
    return header + payload


def text_frame(text: str) -> bytes:
    """``text`` as one whole websocket text frame."""
    return _frame(text.encode(), 0x1)


class _Frames:
    """The last text's frame: a broadcast hands every client an equal text, one after the other."""

    text: str | None = None
    frame = b""

    @classmethod
    def of(cls, text: str) -> bytes:
        if text != cls.text:
            cls.text, cls.frame = text, _frame(text.encode(), 0x1)
        return cls.frame


_BY_SESSION_ID: dict[str, BatchedWebSocket] = {}
"""Every open ``BatchedWebSocket``, by its engine.io session's id (the ``eio_sid``)."""


def batched_websocket_of(eio_sid: str) -> BatchedWebSocket | None:
    """The websocket of an engine.io session, if it has one of ours open."""
    return _BY_SESSION_ID.get(eio_sid)


class BatchedWebSocket(eio_aiohttp.WebSocket):
    """The driver's websocket; frames sent in one turn of the loop leave in one write."""

    def __init__(self, handler: Any, server: Any) -> None:
        super().__init__(handler, server)
        self._waiting: list[bytes] = []
        self._size = 0  # bytes in _waiting
        self._held = False  # send waits for a slow reader
        self._session = getattr(handler, "__self__", None)  # engine.io's handler: its session's method
        self._transport: asyncio.Transport | None = None

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        """The driver's handshake, with compression as ``Limits.deflate`` says (off: as Node's).

        Made here, the ``WebSocketResponse`` refuses a client's offer of permessage-deflate by
        itself, so the request needs no copy without the header (``helpers.server.app`` makes one for
        a raw websocket, whose response is the student's).
        """
        request = environ["aiohttp.request"]
        self._sock = web.WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=request.app[LIMITS].deflate
        )
        await self._sock.prepare(request)
        self._transport = transport_of(self._sock)
        self.environ = environ
        sid = getattr(self._session, "sid", None)
        if sid is not None:
            _BY_SESSION_ID[sid] = self
        try:
            await self.handler(self)
        finally:
            if sid is not None and _BY_SESSION_ID.get(sid) is self:
                del _BY_SESSION_ID[sid]
        return self._sock

    def take(self, frame: bytes) -> bool:
        """Add a ready frame to this turn's write, unless that could reorder (then ``False``).

        ``FanoutManager`` hands a broadcast's one frame to every client this way. Only when
        nothing of the client's waits in engine.io's queue, and the client is not behind: then
        the client gets the packet through engine.io, after what waits there.
        """
        transport, session = self._transport, self._session
        if (
            self._held or transport is None or session is None or backlog_of(session)
            or not is_upgraded(session) or is_ending(session) or transport.is_closing()
            or transport.get_write_buffer_size() + self._size > HIGH_WATER
        ):
            return False
        if not self._waiting:
            asyncio.get_running_loop().call_soon(self._flush)
        self._waiting.append(frame)
        self._size += len(frame)
        return True

    async def send(self, message: str | bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            await super().send(message)  # gone, or not ours to batch: the driver's own way
            return
        frame = _frame(message, 0x2) if isinstance(message, bytes) else _Frames.of(message)
        if not self._waiting:
            asyncio.get_running_loop().call_soon(self._flush)
        self._waiting.append(frame)
        self._size += len(frame)
        while transport.get_write_buffer_size() + self._size > HIGH_WATER:
            self._flush()
            if transport.is_closing():
                return
            self._held = True
            try:
                await asyncio.sleep(0.005)  # a slow reader: wait for it, as the driver's send would
            finally:
                self._held = False

    def _flush(self) -> None:
        waiting, self._waiting, self._size = self._waiting, [], 0
        transport = self._transport
        if waiting and transport is not None and not transport.is_closing():
            transport.write(b"".join(waiting))

    async def close(self) -> None:
        self._flush()  # what was sent goes before the close frame
        await super().close()


def use_batched_websockets(eio: engineio.AsyncServer) -> None:
    """Serve ``eio``'s websockets with ``BatchedWebSocket`` (aiohttp only; idempotent)."""
    use_websocket_class(eio, eio_aiohttp.WebSocket, BatchedWebSocket)
