"""``ChatClient``: the ipywidgets twin of ``public/chat.html``, connected from the kernel.

A text box, a Send button and an output log, like the page, with the page's wording
("The websocket is now open.", "Server said: hi", ...). A cell can also drive it:

    alice = ChatClient("alice")
    display(alice)
    await alice.connect(server.ws_url)
    await alice.send("hi")
    await alice.wait_for("Server said: hi")   # waits on a condition, with a timeout
    print(transcript(alice))

Receiving runs as an asyncio task in the kernel. It never prints: it updates the widget
and appends to ``lines``, which a later cell prints.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

import ipywidgets as widgets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from helpers.lifecycle import DEFAULT_PORT
from helpers.waiting import Changes, wait_for_text

__all__ = ["ChatClient", "JsonChatClient", "transcript"]

NOT_CONNECTED = "The websocket is not connected to a server."


class ChatClient(widgets.VBox):
    """A websocket chat client as a widget; ``lines`` is its log without timestamps."""

    def __init__(self, name: str = "client", *, timeout: float = 3.0) -> None:
        self.name = name
        self.timeout = timeout
        self.lines: list[str] = []
        self.received: list[str] = []
        self.changes = Changes()
        self.websocket: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.entry = widgets.Text(placeholder="Type a message", layout=widgets.Layout(width="auto"))
        self.button = widgets.Button(description="Send", button_style="primary")
        self.status = widgets.HTML("<i>Not connected.</i>")
        self.output = widgets.Textarea(
            disabled=True, layout=widgets.Layout(width="auto", height="12em")
        )
        self.button.on_click(lambda _: self._spawn(self.send(self.entry.value), clear_entry=True))
        super().__init__(
            [
                widgets.HTML(f"<b>{name}</b>"),
                widgets.HBox([self.entry, self.button]),
                self.status,
                self.output,
            ],
            layout=widgets.Layout(border="1px solid #ccc", padding="4px", width="100%"),
        )

    def __repr__(self) -> str:  # stored as the cell's text output: keep it deterministic
        return f"{type(self).__name__}({self.name!r})"

    @property
    def connected(self) -> bool:
        return self.websocket is not None and self._reader is not None and not self._reader.done()

    async def connect(self, url: str = f"ws://127.0.0.1:{DEFAULT_PORT}/") -> bool:
        """Open the websocket to ``url``; log why not if it can't (no exception)."""
        await self.disconnect()
        try:
            async with asyncio.timeout(self.timeout):
                self.websocket = await connect(url, compression=None)
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            self.websocket = None
            self.log(f"Could not connect to {url}: {_reason(exc)}")
            self._set_status("Not connected.")
            return False
        self.log("The websocket is now open.")
        self._set_status(f"Connected to {url}")
        self._reader = asyncio.get_running_loop().create_task(self._receive(self.websocket))
        return True

    async def send(self, text: str) -> bool:
        """Send ``text``, as the page's Send button does; log it, or say we're not connected."""
        if await self.transmit(text):
            self.log(f"You said: {text}")
            return True
        return False

    async def transmit(self, data: str | bytes) -> bool:
        """Put ``data`` on the wire as it is; log the not-connected message if we can't."""
        if not self.connected:
            self.log(NOT_CONNECTED)
            return False
        try:
            await self.websocket.send(data)
        except ConnectionClosed:
            self.log(NOT_CONNECTED)
            return False
        return True

    async def wait_for_messages(self, count: int, timeout: float | None = None) -> None:
        """Wait until this client has received ``count`` messages in all."""
        await self.changes.wait_until(
            lambda: len(self.received) >= count,
            timeout=self.timeout if timeout is None else timeout,
            describe=lambda: f"{self.name} received {len(self.received)} of {count} messages: "
            f"{self.received[-5:]}",
        )

    async def wait_for(self, text: str, *, count: int = 1, timeout: float | None = None) -> None:
        """Wait until ``count`` lines of this client's log contain ``text``."""
        await wait_for_text(
            self.changes,
            self.lines,
            text,
            count=count,
            timeout=self.timeout if timeout is None else timeout,
            owner=self.name,
        )

    async def wait_closed(self, timeout: float | None = None) -> None:
        """Wait until the server closed the connection (or it dropped)."""
        await self.changes.wait_until(
            lambda: not self.connected,
            timeout=self.timeout if timeout is None else timeout,
            describe=lambda: f"{self.name} is still connected",
        )

    async def disconnect(self) -> None:
        """Close the connection if open (idempotent).

        Not named ``close``: that is ipywidgets' own method, which removes the widget.
        """
        if self.websocket is not None:
            await self.websocket.close()
        if self._reader is not None:
            await asyncio.wait([self._reader], timeout=self.timeout)
        self.websocket, self._reader = None, None

    def log(self, line: str) -> None:
        """Add ``line`` to the log, timestamped in the widget, plain in ``lines``."""
        self.lines.append(line)
        stamp = datetime.now().strftime("%H:%M:%S")
        self.output.value += f"{stamp} {line}\n"
        self.changes.notify()

    def describe(self, message: str) -> str:
        """The log line for a message from the server."""
        return f"Server said: {message}"

    async def _receive(self, websocket: ClientConnection) -> None:
        try:
            async for message in websocket:
                text = message if isinstance(message, str) else message.decode(errors="replace")
                self.received.append(text)
                self.log(self.describe(text))
        except ConnectionClosed:
            pass
        finally:
            code = websocket.close_code
            self.log(f"Websocket is now closed ({code}).")
            self._set_status("Not connected.")
            self.changes.notify()

    def _set_status(self, text: str) -> None:
        self.status.value = f"<i>{text}</i>"

    def _spawn(self, coro: Coroutine[Any, Any, Any], clear_entry: bool = False) -> None:
        """Run a button's coroutine; an exception goes to the log, not into some random cell."""
        if clear_entry:
            self.entry.value = ""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)  # the loop keeps only a weak reference to a task

        def report(done: asyncio.Task[Any]) -> None:
            self._tasks.discard(done)
            if not done.cancelled() and done.exception() is not None:
                self.log(f"Error: {done.exception()!r}")

        task.add_done_callback(report)


class JsonChatClient(ChatClient):
    """A client of the JSON protocol (notebook 06): ``send`` says ``chat``; ``nick``, ``users``."""

    async def nick(self, nick: str) -> bool:
        return await self.send_json({"type": "nick", "nick": nick})

    async def users(self) -> bool:
        return await self.send_json({"type": "users"})

    async def send_json(self, message: Any) -> bool:
        return await self.transmit(json.dumps(message))

    async def send_raw(self, data: str | bytes) -> bool:
        """Send exactly ``data``, valid or not: for trying out the server's validation."""
        if await self.transmit(data):
            self.log(f"You sent: {data!r}")
            return True
        return False

    async def send(self, text: str) -> bool:
        """Say ``text`` to everyone; the server's ``chat`` message shows it, to us too."""
        return await self.send_json({"type": "chat", "text": text})

    def describe(self, message: str) -> str:
        try:
            msg = json.loads(message)
            if msg["type"] == "users":
                return f"Online: {', '.join(msg['users'])}"
            return JSON_LINES[msg["type"]].format(**msg)
        except (ValueError, KeyError, TypeError, AttributeError):
            return f"Server said (not understood): {message}"


JSON_LINES = {
    "chat": "{nick}: {text}",
    "me": "* {nick} {text}",
    "join": "* {nick} joined",
    "leave": "* {nick} left",
    "rename": "* {old} is now {nick}",
    "error": "Error: {error}",
}
"""How each server message of the JSON protocol reads in the log (as in ``public/js/json.mjs``)."""


def transcript(*clients: ChatClient) -> str:
    """What each client saw, in order, without timestamps: the output nbval compares."""
    parts = []
    for client in clients:
        body = "\n".join(f"  {line}" for line in client.lines) or "  (nothing)"
        parts.append(f"{client.name}:\n{body}")
    return "\n".join(parts)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    return str(exc) or type(exc).__name__
