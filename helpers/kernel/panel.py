"""A teacher's view of a shared chat: who is online, how many connections, messages a second.

The panel reads what the server already keeps: the nicknames under the stage's ``NICKS`` key,
the open connections, and its log (each chat message is a line there). It follows whichever
server this kernel runs (``current_server()``): started again, shared anew, the panel goes on
with the new one. One panel runs at a time: making another stops the previous one.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections import deque

import ipywidgets as widgets

from helpers.common.text import printable
from helpers.kernel.lifecycle import RunningServer, current_server
from helpers.server.app import open_connections
from helpers.stages import json_chat, socketio_features

__all__ = ["ClassPanel"]

CHAT_LINES = ("Broadcasted chat ", "message: ")
"""How the JSON chat and the Socket.IO chats log a chat message."""

RATE_WINDOW = 10.0
"""Seconds over which messages a second are averaged."""


class ClassPanel(widgets.HTML):
    """Who is online and how busy the chat is, refreshed every ``every`` seconds.

    ``snapshot()`` is the same in words, without the rate (which depends on the moment):
    what a cell prints, and nbval compares.
    """

    def __init__(self, *, every: float = 1.0) -> None:
        super().__init__()
        global _running
        if _running is not None:
            _running.stop()
        _running = self
        self.server: RunningServer | None = None
        self.messages = 0
        self._recent: deque[float] = deque(maxlen=10_000)
        self._task = asyncio.get_running_loop().create_task(self._refresh_every(every), name="class panel")
        self.refresh()

    def online(self) -> list[str]:
        """The nicknames in the chat now, sorted."""
        app = self.server.app if self.server is not None else {}
        for key in (json_chat.NICKS, socketio_features.NICKS):
            if key in app:
                return sorted(printable(nick) for nick in app[key].values())  # shown to the teacher
        return []

    def snapshot(self) -> str:
        if self.server is None:
            return "No server is running."
        online = self.online()
        return (
            f"Online ({len(online)}): {', '.join(online) or 'nobody'}. "
            f"Connections: {open_connections(self.server.app)}. Chat messages: {self.messages}."
        )

    def per_second(self) -> float:
        """Chat messages a second, over the last ``RATE_WINDOW`` seconds."""
        since = time.monotonic() - RATE_WINDOW
        while self._recent and self._recent[0] < since:
            self._recent.popleft()
        return len(self._recent) / RATE_WINDOW

    def refresh(self) -> None:
        self._follow(current_server())
        rate = f"{self.per_second():.1f} messages a second (last {RATE_WINDOW:g} s)"
        self.value = (
            '<div style="font-family:sans-serif; border:1px solid #ccc; padding:4px 8px">'
            f"<b>{html.escape(self.snapshot())}</b><br>{rate}</div>"
        )

    def stop(self) -> None:
        """Stop refreshing, and stop counting."""
        self._task.cancel()
        self._follow(None)

    def _follow(self, server: RunningServer | None) -> None:
        """Count the messages of ``server`` from now on (a new server: from zero)."""
        if server is self.server:
            return
        if self.server is not None and self._heard in self.server.log.listeners:
            self.server.log.listeners.remove(self._heard)
        self.server, self.messages = server, 0
        self._recent.clear()
        if server is not None:
            server.log.listeners.append(self._heard)

    def _heard(self, line: str) -> None:
        if line.startswith(CHAT_LINES):
            self.messages += 1
            self._recent.append(time.monotonic())

    async def _refresh_every(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            self.refresh()

    def __repr__(self) -> str:  # the text form a notebook stores: what it shows, not when
        return "ClassPanel: who is online in this kernel's server, live"


_running: ClassPanel | None = None
