"""A Socket.IO emit to many clients that costs one packet, not one task per client.

python-socketio's ``AsyncManager.emit`` encodes a broadcast once, then starts one asyncio task
per recipient and waits for all of them: with 100 clients, 100 tasks per message, which is
most of a busy server's time. Handing a packet to engine.io never waits (it goes into the
client's queue, which engine.io's writer empties as the client reads), so ``FanoutManager``
hands it to each client in turn, in one task, in the order the clients joined.

``client_manager`` is python-socketio's documented extension point for how emits reach
clients (its Redis and Kafka managers plug in there too), so nothing private is replaced::

    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=FanoutManager())

To a client on a websocket with nothing waiting in its engine.io queue, the packet goes
further: its frame, built once for all, joins what that connection writes at the end of this
turn of the loop (``helpers.server.sio.frames``), without a queue, a task or a frame per client.
Measured with ``bench/load.mjs``, 100 clients: 120-140 k deliveries/s before, 220-270 k after.
A client with packets still queued (or one behind in its reading) gets the packet through
engine.io, after them: each client's packets stay in order.

A slow client is still held to ``Limits.queue`` by the backlog watcher (``backlog.py``): once its
connection holds ``helpers.server.sio.frames.HIGH_WATER`` bytes unsent, its packets wait in the same
engine.io queue as before.
"""

from __future__ import annotations

from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet

from helpers.common.internals import namespace_in_use, packet_class_of
from helpers.server.sio.frames import batched_websocket_of, text_frame

__all__ = ["FanoutManager"]


class FanoutManager(socketio.AsyncManager):
    """``AsyncManager``, with an emit to a room (or everyone) that starts no task per client."""

    async def emit(
        self, event: str, data: Any, namespace: str, room: Any = None, skip_sid: Any = None,
        callback: Any = None, to: Any = None, **kwargs: Any,
    ) -> None:
        if callback is not None:  # each client gets its own ack id: the library's own way
            return await super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to, **kwargs
            )
        room = to or room
        if not namespace_in_use(self, namespace):
            return None
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        pkt = packet_class_of(self.server)(packet.EVENT, namespace=namespace, data=[event, *_arguments(data)])
        encoded = pkt.encode()
        eio_packets = [
            eio_packet.Packet(eio_packet.MESSAGE, part)
            for part in (encoded if isinstance(encoded, list) else [encoded])
        ]
        # one frame for every client on a websocket whose engine.io queue is empty (helpers.server.sio.frames)
        only = eio_packets[0].encode() if len(eio_packets) == 1 else None
        frame = text_frame(only) if isinstance(only, str) else None
        # a copy: a client whose send finds it gone (ping timeout) leaves the room meanwhile
        for sid, eio_sid in list(self.get_participants(namespace, room)):
            if sid in skip:
                continue
            if frame is not None:
                ws = batched_websocket_of(eio_sid)
                if ws is not None and ws.take(frame):
                    continue
            for eio_pkt in eio_packets:
                await self.server.eio.send_packet(eio_sid, eio_pkt)
        return None


def _arguments(data: Any) -> list[Any]:
    """What an emit sends after the event's name: a tuple is several arguments (as the library)."""
    if isinstance(data, tuple):
        return list(data)
    return [] if data is None else [data]
