"""A python-socketio server's sessions by address, and the newcomers that never join.

engine.io opens a session at every handshake (``GET /socket.io/?EIO=4&transport=polling``)
and keeps it until its ping timeout says the client is gone: ``ping_interval`` (25 s) +
``ping_timeout`` (20 s), plus the sweep of its monitor, 66 s measured. Lowering those public
options would drop students whose phone sleeps for a moment; the sessions that never
*join* (no Socket.IO CONNECT packet, which every client sends right after the handshake)
are what a flood makes. So ``Sessions`` keeps them apart:

- a new session is a newcomer until its client sends CONNECT (``joined``, called by the
  guarded ``connect`` in ``helpers.server.sio.guards``); a refused CONNECT makes it a newcomer again;
- a newcomer is closed after ``Limits.connect_grace`` s (``sweep``), and past
  ``Limits.newcomers`` of them the oldest is closed at once: a flood costs a bounded
  amount of memory, and refuses nobody;
- a closed newcomer's ping task (engine.io sleeps 25 s in one per session) is cancelled
  with it, so nothing of it outlives it.

It is the app's ``SessionCounter`` (``helpers.server.admission``): the doors ask it how many
sessions each address holds, joined or not.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import socketio
from aiohttp import web

from helpers.common.internals import (
    close_session_now,
    request_of,
    session_of,
    session_pinged_by,
    socketio_id_of,
)
from helpers.server.app import drop, websocket_of
from helpers.server.limits import Limits

__all__ = ["SESSIONS", "Sessions"]


@dataclass
class Newcomer:
    """A session whose client has not joined yet: where from, since when, its ping task."""

    address: str | None
    since: float
    ping: asyncio.Task[Any] | None = None


class Sessions:
    """The sessions of one python-socketio server on one app, by address; the newcomers apart."""

    def __init__(self, sio: socketio.AsyncServer, limits: Limits, clock: Any = time.monotonic) -> None:
        self.sio, self.limits, self.clock = sio, limits, clock
        self.joined: dict[str, str | None] = {}  # eio sid -> address
        self.waiting: dict[str, Newcomer] = {}  # eio sid -> newcomer, oldest first
        self._waiting_from: Counter[str | None] = Counter()
        self._closing: set[str] = set()

    # --- SessionCounter ---

    def connections(self, address: str | None = None) -> int:
        """Joined sessions on long-polling (a session on a websocket is counted as that websocket)."""
        return sum(
            1
            for sid, where in self.joined.items()
            if (address is None or where == address) and self._transport(sid) == "polling"
        )

    def _transport(self, sid: str) -> str | None:
        """engine.io's public ``transport(sid)``: ``polling`` or ``websocket``; ``None`` once gone."""
        try:
            return self.sio.eio.transport(sid)
        except KeyError:
            return None

    def newcomers(self, address: str | None = None) -> int:
        return len(self.waiting) if address is None else self._waiting_from[address]

    # --- what engine.io and python-socketio tell us ---

    async def opened(self, sid: str, environ: dict[str, Any]) -> None:
        """A new session (engine.io's ``connect``): a newcomer; the oldest goes past the budget."""
        request = environ.get("aiohttp.request")
        address = request.remote if isinstance(request, web.BaseRequest) else None
        self._wait(sid, Newcomer(address, self.clock()))
        while len(self.waiting) > max(1, self.limits.newcomers):
            await self.close(next(iter(self.waiting)))

    def ping_started(self, target: Any, task: asyncio.Task[Any]) -> None:
        """engine.io started a task: a newcomer's ping task is noted, to end with it."""
        session = session_pinged_by(target)
        if session is not None:
            newcomer = self.waiting.get(session.sid)
            if newcomer is not None and newcomer.ping is None:
                newcomer.ping = task

    def joined_now(self, sid: str) -> None:
        """Its client sent a CONNECT packet: a client now, counted."""
        newcomer = self._unwait(sid)
        if newcomer is not None:
            self.joined[sid] = newcomer.address

    def refused(self, sid: str, namespace: str) -> None:
        """Its CONNECT was refused: a newcomer again (its grace from now), unless in another namespace."""
        manager = self.sio.manager
        namespaces = [other for other in list(manager.get_namespaces()) if other != namespace]
        if sid not in self.joined or any(socketio_id_of(manager, sid, other) for other in namespaces):
            return
        self._wait(sid, Newcomer(self.joined.pop(sid), self.clock()))

    def closed(self, sid: str) -> None:
        """The session ended (engine.io's ``disconnect``)."""
        self.joined.pop(sid, None)
        self._unwait(sid)

    # --- closing newcomers ---

    async def sweep(self) -> None:
        """Close every newcomer older than ``Limits.connect_grace``."""
        deadline = self.clock() - self.limits.connect_grace
        for sid in [sid for sid, newcomer in self.waiting.items() if newcomer.since <= deadline]:
            await self.close(sid)

    async def close(self, sid: str) -> None:
        """Close a newcomer's session now: its websocket is cut; on long-polling it is told (CLOSE).

        Not ``eio.disconnect(sid)``: that waits for a poll that never comes.
        """
        newcomer = self._unwait(sid)
        if newcomer is not None and newcomer.ping is not None:
            newcomer.ping.cancel()
        session = session_of(self.sio.eio, sid)
        if session is None or sid in self._closing:
            return
        request = request_of(self.sio, sid)
        ws = websocket_of(request) if request is not None else None
        self._closing.add(sid)
        try:
            if ws is not None and not ws.closed:
                drop(ws)  # engine.io's handler sees its connection end, and closes the session
            else:
                await close_session_now(self.sio.eio, sid, session)
        finally:
            self._closing.discard(sid)

    def _wait(self, sid: str, newcomer: Newcomer) -> None:
        self.waiting[sid] = newcomer
        self._waiting_from[newcomer.address] += 1

    def _unwait(self, sid: str) -> Newcomer | None:
        newcomer = self.waiting.pop(sid, None)
        if newcomer is not None:
            self._waiting_from[newcomer.address] -= 1
            if not self._waiting_from[newcomer.address]:
                del self._waiting_from[newcomer.address]
        return newcomer


SESSIONS = web.AppKey("socket.io sessions", Sessions)
