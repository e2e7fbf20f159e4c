# Exported from notebooks/11-load-lab.ipynb by `make export`: the cells marked
# `#| export stages.fast_broadcast`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 11, "The load lab", as the workbook runs it."""

import asyncio
from collections.abc import Iterable

from aiohttp import WSMsgType, web

from helpers import LIMITS, LOG, PUBLIC, transport_of
from helpers.stages.broadcast import CLIENTS, EXCEPT_SELF
from helpers.stages.echo import BINARY_REFUSED
from helpers.stages.receive import HEARTBEAT, MAX_MESSAGE, index


def text_frame(text: str) -> bytes:
    """``text`` as one whole websocket text frame (RFC 6455, 5.2): built once, sent to all.

    A server's frames are not masked, so every client gets the very same bytes.
    """
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))  # FIN + text opcode; the length fits in 7 bits
    elif size < 1 << 16:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


BEHIND = 64 * 1024  # bytes unsent to one client: past that, its senders wait for it
SLOW_CLIENT_TIMEOUT = 1.0  # seconds a client may stay behind before it is dropped


class Behind:
    """The clients with more than ``BEHIND`` bytes unsent: how many, and since when (``room``)."""

    def __init__(self, app: web.Application, waiting: dict[web.WebSocketResponse, int]) -> None:
        self.app, self.waiting, self.unsent, self.since = app, waiting, {}, {}

    def note(self, ws: web.WebSocketResponse, transport: asyncio.Transport) -> bool:
        """Count what ``ws`` has not been sent yet (in the outbox, in its transport); behind?"""
        unsent = self.waiting.get(ws, 0) + transport.get_write_buffer_size()
        if unsent > self.app[LIMITS].unsent_bytes:
            self.drop(ws, transport)  # far behind: it stopped reading
        elif unsent > BEHIND:
            self.unsent[ws] = unsent
        else:
            self.forget(ws)
        return ws in self.unsent

    def forget(self, ws: web.WebSocketResponse) -> None:
        self.unsent.pop(ws, None)
        self.since.pop(ws, None)

    def drop(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None) -> None:
        self.app[LOG].once("slow", "Dropped a client that stopped reading.")
        self.forget(ws)
        if transport is not None:
            transport.abort()  # it could not even take a close frame


async def room(behind: Behind) -> None:
    """Return once no client is behind: caught up, gone, or dropped."""
    while behind.unsent:
        await asyncio.sleep(0.01)
        now = asyncio.get_running_loop().time()
        for ws in list(behind.unsent):
            transport = transport_of(ws)
            if transport is None or transport.is_closing():
                behind.forget(ws)  # gone
            elif behind.note(ws, transport) and now - behind.since.setdefault(ws, now) > SLOW_CLIENT_TIMEOUT:
                behind.drop(ws, transport)
        while sum(behind.unsent.values()) > behind.app[LIMITS].unsent_total:
            furthest = max(behind.unsent, key=behind.unsent.__getitem__)  # together too much: it goes
            behind.drop(furthest, transport_of(furthest))


BATCH = 64 * 1024  # bytes written to a connection at once (a longer frame goes alone)


def next_batch(frames: list[bytes], size: int) -> int:
    """How many of ``frames`` (``size`` bytes in all) to write at once: all of them, if they fit."""
    if size <= BATCH:
        return len(frames)
    count, size = 1, len(frames[0])
    while count < len(frames) and size + len(frames[count]) <= BATCH:
        count, size = count + 1, size + len(frames[count])
    return count


class Outbox:
    """Frames for each client, written once this turn of the loop ends: a few in one write.

    A connection that still holds bytes it was given gets no more: its frames wait here, the
    same bytes for every client, and the outbox looks again a millisecond later.
    """

    def __init__(self, app: web.Application) -> None:
        self.waiting: dict[web.WebSocketResponse, list[bytes]] = {}
        self.sizes: dict[web.WebSocketResponse, int] = {}  # bytes waiting for a busy connection
        self.behind = Behind(app, self.sizes)
        self.flushing = False  # a flush is due

    def put(self, ws: web.WebSocketResponse, frame: bytes) -> None:
        if not self.flushing:  # write them all once this turn ends
            asyncio.get_running_loop().call_soon(self.flush)
            self.flushing = True
        self.waiting.setdefault(ws, []).append(frame)
        if ws in self.sizes:
            self.sizes[ws] += len(frame)

    def flush(self) -> None:
        self.flushing = False
        for ws, frames in list(self.waiting.items()):
            transport = transport_of(ws)  # helpers.server.app: the connection under this websocket
            if ws.closed or transport is None or transport.is_closing():
                del self.waiting[ws]  # it left, or is closing: no frame may follow a close frame
                self.sizes.pop(ws, None)
                continue
            size = self.sizes.get(ws) or sum(map(len, frames))
            while frames and transport.get_write_buffer_size() == 0:  # it took all it was given
                count = next_batch(frames, size)
                batch = b"".join(frames[:count])
                transport.write(batch)
                del frames[:count]
                size -= len(batch)
            if frames:
                self.sizes[ws] = size  # busy: the rest waits here
            else:
                del self.waiting[ws]
                self.sizes.pop(ws, None)
            self.behind.note(ws, transport)
        if self.waiting:  # some connections are busy: look again soon
            asyncio.get_running_loop().call_later(0.001, self.flush)
            self.flushing = True


OUTBOX = web.AppKey("outbox", Outbox)


def fast_broadcast(
    app: web.Application, clients: Iterable[web.WebSocketResponse], text: str,
    *, exclude: web.WebSocketResponse | None = None,
) -> int:
    """Send ``text`` to every open client but ``exclude``: one frame, no await, no task."""
    frame, outbox = text_frame(text), app[OUTBOX]
    sent = 0
    for ws in clients:
        if ws is not exclude and not ws.closed:
            outbox.put(ws, frame)
            sent += 1
    return sent


async def fast_broadcast_chat(request: web.Request) -> web.StreamResponse:
    """Notebook 05's ``broadcast_chat``, with ``fast_broadcast`` in place of ``broadcast``."""
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_MESSAGE)
    if not ws.can_prepare(request):
        return await index(request)
    await ws.prepare(request)
    app = request.app
    clients = app[CLIENTS]
    clients.add(ws)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                print(f"ws got: {msg.data}")
                sent = fast_broadcast(app, clients, msg.data, exclude=ws if app[EXCEPT_SELF] else None)
                print(f"Broadcasted data to {sent} ({len(clients)}) clients.")
                await room(app[OUTBOX].behind)  # at once, unless a client is behind
            elif msg.type == WSMsgType.BINARY:
                await ws.send_str(BINARY_REFUSED)
    finally:
        clients.discard(ws)
    return ws


def make_app(except_self: bool = False) -> web.Application:
    """The broadcast server of notebook 05, with the fast path of notebook 11."""
    app = web.Application()
    app[CLIENTS], app[EXCEPT_SELF], app[OUTBOX] = set(), except_self, Outbox(app)
    app.router.add_get("/", fast_broadcast_chat)
    app.router.add_static("/", PUBLIC)
    return app
