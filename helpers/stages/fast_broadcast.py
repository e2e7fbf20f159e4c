# Exported from notebooks/11-load-lab.ipynb by `make export`: the cells marked
# `#| export stages.fast_broadcast`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 11, "The load lab", as the workbook runs it."""

import asyncio
from collections.abc import Iterable

from aiohttp import WSMsgType, web

from helpers.app import LIMITS, LOG, PUBLIC, transport_of
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
    """The clients with more than ``BEHIND`` bytes unsent, and since when."""

    def __init__(self, app: web.Application) -> None:
        self.app, self.since = app, {}

    def note(self, ws: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        if transport.get_write_buffer_size() > self.app[LIMITS].unsent_bytes:
            self.drop(ws, transport)  # far behind: it stopped reading
        elif transport.get_write_buffer_size() > BEHIND:
            self.since.setdefault(ws, asyncio.get_running_loop().time())

    def drop(self, ws: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        self.app[LOG].once("slow", "Dropped a client that stopped reading.")
        self.since.pop(ws, None)
        transport.abort()  # it could not even take a close frame


async def room(behind: Behind) -> None:
    """Return once no client is behind: caught up, gone, or dropped."""
    while behind.since:
        await asyncio.sleep(0.01)
        now = asyncio.get_running_loop().time()
        for ws, since in list(behind.since.items()):
            transport = transport_of(ws)
            if transport is None or transport.is_closing() or transport.get_write_buffer_size() <= BEHIND:
                behind.since.pop(ws, None)
            elif now - since > SLOW_CLIENT_TIMEOUT:
                behind.drop(ws, transport)


class Outbox:
    """Frames for each client, written at the end of this turn of the loop: one write each."""

    def __init__(self, app: web.Application) -> None:
        self.waiting: dict[web.WebSocketResponse, list[bytes]] = {}
        self.behind = Behind(app)

    def put(self, ws: web.WebSocketResponse, frame: bytes) -> None:
        if not self.waiting:  # the first frame of this turn: write them all once it ends
            asyncio.get_running_loop().call_soon(self.flush)
        self.waiting.setdefault(ws, []).append(frame)

    def flush(self) -> None:
        waiting, self.waiting = self.waiting, {}
        for ws, frames in waiting.items():
            transport = transport_of(ws)  # helpers.app: the connection under this websocket
            if ws.closed or transport is None or transport.is_closing():
                continue  # it left, or is closing: no frame may follow a close frame
            transport.write(b"".join(frames))
            self.behind.note(ws, transport)


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
