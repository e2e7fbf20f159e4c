"""A Socket.IO emit to many clients that costs one packet, not one task per client.

python-socketio's ``AsyncManager.emit`` encodes a broadcast once, then starts one asyncio task
per recipient and waits for all of them: with 100 clients, 100 tasks per message, which is
most of a busy server's time. Handing a packet to engine.io never waits (it goes into the
client's queue, which engine.io's writer empties as the client reads), so ``FanoutManager``
hands it to each client in turn, in one task, in the order the clients joined.

``client_manager`` is python-socketio's documented extension point for how emits reach
clients (its Redis and Kafka managers plug in there too), so nothing private is replaced::

    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=FanoutManager())

A slow client is still held to ``Limits.queue`` by ``helpers.sio``'s backlog watcher: its
packets wait in the same engine.io queue as before.
"""

from __future__ import annotations

from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet

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
        if namespace not in self.rooms:
            return None
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        pkt = self.server.packet_class(packet.EVENT, namespace=namespace, data=[event, *_arguments(data)])
        encoded = pkt.encode()
        eio_packets = [
            eio_packet.Packet(eio_packet.MESSAGE, part)
            for part in (encoded if isinstance(encoded, list) else [encoded])
        ]
        # a copy: a client whose send finds it gone (ping timeout) leaves the room meanwhile
        for sid, eio_sid in list(self.get_participants(namespace, room)):
            if sid not in skip:
                for eio_pkt in eio_packets:
                    await self.server.eio.send_packet(eio_sid, eio_pkt)
        return None


def _arguments(data: Any) -> list[Any]:
    """What an emit sends after the event's name: a tuple is several arguments (as the library)."""
    if isinstance(data, tuple):
        return list(data)
    return [] if data is None else [data]
