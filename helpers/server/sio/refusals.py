"""What a text chat refuses, with a reason, while the connection goes on.

Binary attachments, frames engine.io can't parse, nesting deeper than ``MAX_DEPTH``, reserved
event names: ``TextPacket`` (python-socketio's ``serializer``) turns each into the event
``REFUSED_INPUT``, which ``guards`` answers. A session upgrades to a websocket once, within
``UPGRADE_TIMEOUT``.
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Awaitable
from dataclasses import dataclass

import socketio
from aiohttp import WSMessage, WSMsgType, web

from helpers.common.internals import wrap_receive
from helpers.protocol import MAX_DEPTH, nesting
from helpers.server.app import (
    LOG,
    Handler,
    is_socketio,
)

__all__ = [
    "REFUSED",
    "REFUSED_INPUT",
    "RESERVED_EVENTS",
    "TextPacket",
    "UPGRADES",
    "UPGRADE_TIMEOUT",
    "UnreadableAuth",
    "answer_unreadable_frames",
    "one_websocket_per_session",
]

REFUSED = "refused"
"""The event a client gets when the server refused what it sent: ``{"error": why}``."""


REFUSED_INPUT = "\x00refused input"
"""The event name ``TextPacket`` gives a packet the server refuses to read."""


UPGRADES = web.AppKey("socket.io upgrades", weakref.WeakValueDictionary[str, web.WebSocketResponse])


_ENGINEIO_TEXT = re.compile(r"[0-6b]")
"""How an engine.io text packet begins: its type (0-6), or ``b`` for base64 data."""


class TextPacket(socketio.packet.Packet):
    """Socket.IO packets for a text chat, python-socketio's ``serializer`` option.

    A packet with binary attachments (``451-["chat message",{"_placeholder":true,...}]``), a
    binary frame, or a packet python-socketio can't read is not taken: it is read as the event
    ``REFUSED_INPUT`` with the reason, which the server answers (``hold_socketio``).
    Without this, the text frame after ``451-[...]`` became the chat message's "attachment".
    """

    def decode(self, encoded_packet: str | bytes) -> int:
        if isinstance(encoded_packet, bytes):
            return self._refuse("binary data is not supported here; send text")
        connecting = encoded_packet[:1] == str(socketio.packet.CONNECT)
        if nesting(encoded_packet) > MAX_DEPTH:  # parsing recurses: a deep one would crash it
            return self._refuse(f"arguments nest deeper than {MAX_DEPTH} levels", connecting, encoded_packet)
        try:
            attachments = super().decode(encoded_packet) or 0
        except Exception:  # any packet it can't read is refused the same way
            return self._refuse(f"unreadable packet {encoded_packet[:40]!r}", connecting, encoded_packet)
        why = self._unusable()
        if why is not None:
            return self._refuse(why)
        return attachments

    def _unusable(self) -> str | None:
        """Why python-socketio could not use this packet (it would fail on it), or ``None``."""
        kind, data = self.packet_type, self.data
        if kind in (socketio.packet.BINARY_EVENT, socketio.packet.BINARY_ACK):
            return "binary attachments are not supported here; send text"
        if kind not in (socketio.packet.CONNECT, socketio.packet.DISCONNECT, *_READ_AS_LISTS):
            return f"packet type {kind} is not one a client sends"
        if kind in _READ_AS_LISTS and not isinstance(data, list):
            return "an event or acknowledgement carries a list"
        if kind == socketio.packet.EVENT and not (data and isinstance(data[0], str)):
            return "an event starts with its name"
        if kind == socketio.packet.EVENT and data[0] in RESERVED_EVENTS:
            return f"{data[0]!r} is a reserved event name"
        return None

    def _refuse(self, why: str, connecting: bool = False, encoded_packet: str = "") -> int:
        """Make this packet the refusal: an event ``REFUSED_INPUT``, or a connection ``UnreadableAuth``.

        An event refused before it was read keeps its acknowledgement id, when it has one, so
        a client waiting for the ack gets the reason.
        """
        if connecting:  # the handshake goes on, and the guarded connect refuses it (_connect_guarded)
            self.packet_type, self.data = socketio.packet.CONNECT, UnreadableAuth(why)
        else:
            self.packet_type, self.data = socketio.packet.EVENT, [REFUSED_INPUT, why]
            if getattr(self, "id", None) is None and (found := _ACK_ID.match(encoded_packet)):
                self.id = int(found.group(1))
        self.attachment_count = 0
        if not isinstance(getattr(self, "namespace", None), str):
            self.namespace = None
        return 0


_READ_AS_LISTS = (socketio.packet.EVENT, socketio.packet.ACK)
"""The packets whose data python-socketio unpacks as arguments: anything but a list fails it."""


_ACK_ID = re.compile(r"[0-6](?:\d+-)?(?:/[^,]*,)?(\d{1,100})")
"""A packet's acknowledgement id: after its type, attachments and namespace (``421[...]``)."""


RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
"""Socket.IO's reserved event names: emitted by a client, python-socketio would call the
connection's own handlers (``connect(sid)``: a TypeError; ``disconnect``: a client gone while
it is still here)."""


@dataclass(frozen=True)
class UnreadableAuth:
    """A connection request whose ``auth`` could not be read: ``connect`` gets this, not a dict.

    No client can send it (it is no JSON), so it can't be faked; ``_connect_guarded`` refuses it.
    """

    why: str


UPGRADE_TIMEOUT = 10.0
"""Seconds an upgrading session has to send engine.io's probe and its upgrade packet."""


_NOOP = "6"
"""engine.io's noop packet: in place of a probe or upgrade that never came, it fails the upgrade
(engine.io closes that websocket and the session goes on polling), where a timeout error would
leave the session marked as upgrading, its polls answered with noops and nothing else."""


@web.middleware
def one_websocket_per_session(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """A session upgrades once: another websocket for the same ``sid`` is refused (400).

    engine.io waits for each upgrade's probe without a limit, so without this one session
    could hold any number of websockets open, past the connection cap. A plain function, not a
    coroutine: it hands aiohttp the handler's own coroutine, so no frame of it waits while a
    websocket is open.
    """
    sid = request.query.get("sid")
    if sid is not None and is_socketio(request):
        if request.headers.get("Upgrade", "").lower() == "websocket":
            existing = request.app[UPGRADES].get(sid)
            if existing is not None and not existing.closed:
                raise web.HTTPBadRequest(text="This session has a websocket already.\n")
    return handler(request)


async def answer_unreadable_frames(request: web.Request, response: web.StreamResponse) -> None:
    """A frame engine.io can't read (empty, say) is answered and skipped, not a dropped connection.

    engine.io ends the connection, with no close frame, at a text frame that is no engine.io
    packet (upstream treats it as fatal). aiohttp's ``on_response_prepare`` hands us engine.io's
    websocket before engine.io reads from it: its ``receive`` is wrapped to answer such frames
    with a ``refused`` event. An upgraded session's websocket is noted for ``_drop_session``.
    """
    if not isinstance(response, web.WebSocketResponse) or not is_socketio(request):
        return
    app = request.app
    upgrading = 2 if "sid" in request.query else 0  # the probe, then the upgrade packet
    if upgrading:
        app[UPGRADES][request.query["sid"]] = response

    async def receive_readable(timeout: float | None = None) -> WSMessage:
        nonlocal upgrading
        while True:
            if upgrading:  # engine.io would wait for them for ever
                upgrading -= 1
                limit = UPGRADE_TIMEOUT if timeout is None else min(timeout, UPGRADE_TIMEOUT)
                try:
                    message = await receive(limit)
                except TimeoutError:  # engine.io's own "failed upgrade": the session polls on
                    return WSMessage(WSMsgType.TEXT, _NOOP, None)
            else:
                message = await receive(timeout)
            if message.type is not WSMsgType.TEXT or _ENGINEIO_TEXT.match(message.data):
                return message
            why = f"unreadable frame {message.data[:40]!r}: an engine.io packet starts with its type"
            app[LOG].once("unreadable frame", f"Refused a client's input: {why}.")
            await response.send_str("42" + json.dumps([REFUSED, {"error": why}]))

    receive = wrap_receive(response, receive_readable)  # engine.io's reads go through it
