"""``ChatClient``: the ipywidgets twin of ``public/chat.html``, connected from the kernel.

A view given a transport (``helpers.clients.transports``): a text box where Enter sends, a Send button,
a status that says whether it is connected, and the chat's lines, newest at the bottom and
always in view, with the page's wording ("The websocket is now open.", "Server said: hi") and
its time format. Like the page, it comes back by itself when the server restarts. A cell can
drive it too::

    alice = ChatClient("alice")
    display(alice)
    await alice.connect(server.ws_url)
    await alice.say("hi")
    await alice.wait_for("Server said: hi")   # what arrived since this cell began, with a timeout
    print(transcript(alice))

Nothing here prints: the widget shows the chat, ``lines`` keeps it, and a later cell prints it.
What a client sent is shown escaped (``helpers.common.text.printable``): an ESC, a newline or an RTL
override shows as ``\\x1b``, ``\\n``, ``\\u202e``. "You said" is logged before the message
goes, so the answer always comes after it. After a kernel restart the old widgets stay on the
page, but their status says the kernel is gone (``KERNEL_GONE``), not "Connected".
No method shadows one of ipywidgets' own (``send``, ``log``, ``close``, ``open``, ``keys``).
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

import ipywidgets as widgets

from helpers.clients.transports import WebsocketTransport
from helpers.common.addresses import DEFAULT_PORT
from helpers.common.internals import on_enter
from helpers.common.text import printable
from helpers.common.waiting import Lines, describe_interrupt, now

__all__ = ["ChatClient", "ChatRow", "JsonChatClient", "side_by_side", "transcript"]

NOT_CONNECTED = "The websocket is not connected to a server."
SHOWN_LINES = 500
"""The widget shows the newest lines only; ``lines`` keeps more."""

KEPT_LINES = 10_000
"""``lines`` and ``received`` keep the newest lines only: a flood can't fill the kernel's memory."""

_LOG_STYLE = (
    "height:12em; overflow-y:auto; display:flex; flex-direction:column-reverse;"  # newest in view
    " border:1px solid #ccc; padding:2px 6px; background:#fff; color:#1f1f1f;"
    " font-family:monospace; font-size:12px; line-height:1.4; white-space:pre-wrap"
)

KERNEL_GONE = "○ Not connected: the kernel that ran this widget is gone. Run the cells again."
"""What a widget's status says once its kernel is gone: no kernel keeps it connected any more."""

_KERNEL_GONE = (
    # When the kernel restarts, JupyterLab's widget manager marks every view of the old
    # kernel's widgets with the class ``jupyter-widgets-disconnected`` (a model without a
    # live comm; so does a notebook opened without its kernel). The status follows it: the
    # kernel's last word is hidden, this one shown. It is CSS, not text, so the status's
    # text (what a cell or a test reads) stays the kernel's.
    "<style>.jupyter-widgets-disconnected .chat-workbook-status{display:none}"
    ".jupyter-widgets-disconnected .chat-workbook-kernel-gone::after"
    "{content:attr(data-gone); color:#9a6700}</style>"
    f'<span class="chat-workbook-kernel-gone" data-gone="{html.escape(KERNEL_GONE, quote=True)}"></span>'
)


class ChatClient(widgets.VBox):
    """A chat client as a widget, given a transport; ``lines`` is its log without times."""

    def __init__(
        self, name: str = "client", *, transport: WebsocketTransport | None = None, timeout: float = 3.0
    ) -> None:
        self.name, self.timeout = name, timeout
        self._coming_back = False  # see ``coming_back``
        self._connecting = False  # a ``connect`` is under way
        self.lines = Lines(name, limit=KEPT_LINES)
        self.received = Lines(name, limit=KEPT_LINES)
        self.transport = transport or WebsocketTransport(timeout=timeout)
        self._attach(self.transport)
        self._shown: list[str] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.entry = widgets.Text(
            placeholder="Type, then Enter", layout=widgets.Layout(width="auto")
        )
        self.button = widgets.Button(description="Send", button_style="primary")
        self.status = widgets.HTML()
        self.chat = widgets.HTML(layout=widgets.Layout(width="auto"))
        on_enter(self.entry, self._submit)
        self.button.on_click(lambda _: self._submit())
        self._show_status(False, "Not connected.")
        self._render()
        super().__init__(
            [
                widgets.HTML(f"<b>{html.escape(printable(name))}</b>"),
                widgets.HBox([self.entry, self.button]),
                self.status,
                self.chat,
            ],
            layout=widgets.Layout(border="1px solid #ccc", padding="4px", width="100%"),
        )

    def __repr__(self) -> str:  # a cell's text output, and what shows without a kernel
        return f"{type(self).__name__}({self.name!r})"

    # --- what a cell does -----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.transport.connected

    async def connect(self, url: str = f"ws://127.0.0.1:{DEFAULT_PORT}/") -> bool:
        """Connect to ``url``; if it can't, say why in the log (no exception)."""
        return await self._connect(url)

    async def _connect(self, url: str, **options: Any) -> bool:
        """Connect the transport (with its ``options``); log why not if it can't."""
        self._connecting = True
        try:
            why = await self.transport.connect(url, **options)
        finally:
            self._connecting = False
        if why is not None:
            self._coming_back = False
            self.note(f"Could not connect to {url}: {why}")
            self._show_status(False, "Not connected.")
            return False
        return True

    @property
    def coming_back(self) -> bool:
        """Not connected now, but on its way: reconnecting by itself (the server closed or
        dropped us), or a ``connect`` is under way."""
        return (self._coming_back or self._connecting) and not self.connected

    async def say(self, text: str) -> bool:
        """Send ``text`` as the page's Send button does; log it, or say we're not connected.

        "You said" is logged before the send, as the page logs it in the same step: the
        server's answer, which can arrive before the send returns, always comes after it.
        """
        if not self.connected:
            self.note(NOT_CONNECTED)
            return False
        self.note(f"You said: {text}")
        if await self.transport.send(text):
            return True
        self.note(NOT_CONNECTED)  # it closed meanwhile
        return False

    async def disconnect(self) -> None:
        """Close the connection, and don't come back (idempotent)."""
        await self.transport.disconnect()

    def mark(self) -> int:
        """A mark for ``wait_for(..., since=mark)``: what arrives from now on comes after it."""
        return now()

    async def wait_for(
        self, text: str, *, count: int = 1, since: int | None = None, timeout: float | None = None
    ) -> None:
        """Wait until ``count`` lines that arrived since this cell began (or ``since``) hold ``text``."""
        wait = self.timeout if timeout is None else timeout
        await self.lines.wait_for(text, count=count, since=since, timeout=wait)

    async def wait_for_messages(
        self, count: int, *, since: int | None = None, timeout: float | None = None
    ) -> None:
        """Wait until ``count`` messages came from the server since this cell began (or ``since``)."""
        wait = self.timeout if timeout is None else timeout
        await self.received.wait_for_count(count, since=since, timeout=wait, noun="messages")

    async def wait_connected(self, timeout: float | None = None) -> None:
        await self._wait_state(True, timeout)

    async def wait_closed(self, timeout: float | None = None) -> None:
        """Wait until the connection is closed (or dropped)."""
        await self._wait_state(False, timeout)

    def note(self, line: str) -> None:
        """Add ``line`` to the log: with the time in the widget, without in ``lines``.

        Escaped by ``printable``: a message's ESC, newline or RTL override shows as ``\\x1b``,
        ``\\n``, ``\\u202e``, in the widget and in the transcript a cell prints.
        """
        line = printable(line)
        self.lines.append(line)
        self._shown.append(f"{datetime.now():%H:%M:%S} {line}")
        del self._shown[:-SHOWN_LINES]
        self._render()

    def describe(self, message: str) -> str:
        """The log line for a message from the server."""
        return f"Server said: {message}"

    # --- the transport's news -------------------------------------------------------------

    def _attach(self, transport: WebsocketTransport) -> None:
        transport.attach(on_open=self._opened, on_text=self._heard_text, on_close=self._closed)
        transport.on_give_up = self._gave_up

    def _gave_up(self, why: str) -> None:
        """The server's port went to another notebook: we don't follow it into that chat."""
        self._coming_back = False
        self.note(why)
        self._show_status(False, "Not connected.")

    def _opened(self, url: str) -> None:
        self.note("The websocket is now open.")
        self._show_status(True, f"Connected to {url}")

    def _heard_text(self, message: str) -> None:
        self.received.append(message)
        self.note(self.describe(message))

    def _closed(self, code: str, retrying: bool) -> None:
        self._coming_back = retrying
        self.note(f"Websocket is now closed ({code}).")
        self._show_status(False, "Not connected. Reconnecting..." if retrying else "Not connected.")

    # --- the view ------------------------------------------------------------------------

    def _show_status(self, connected: bool, text: str) -> None:
        color, dot = ("#1a7f37", "●") if connected else ("#9a6700", "○")
        said = html.escape(printable(text))
        span = f'<span class="chat-workbook-status" style="color:{color}">'
        self.status.value = f"{_KERNEL_GONE}{span}{dot} {said}</span>"
        self.lines.changes.notify()  # wake waits on the connection state

    def _render(self) -> None:
        rows = "".join(f"<div>{html.escape(line)}</div>" for line in self._shown)
        self.chat.value = f'<div style="{_LOG_STYLE}"><div>{rows}</div></div>'

    def _submit(self) -> None:
        text = self.entry.value
        if text:
            self.entry.value = ""
            self._spawn(self.say(text))

    async def _wait_state(self, connected: bool, timeout: float | None) -> None:
        state = "connected" if connected else "closed"
        with describe_interrupt(f"{self.name} to be {state}"):
            await self.lines.changes.wait_until(
                lambda: self.connected == connected,
                timeout=self.timeout if timeout is None else timeout,
                describe=lambda: f"{self.name} is not {state} after {timeout or self.timeout:g} s",
            )

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a button's coroutine; an exception goes to the log, not into some random cell."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)  # the loop keeps only a weak reference to a task

        def report(done: asyncio.Task[Any]) -> None:
            self._tasks.discard(done)
            if not done.cancelled() and done.exception() is not None:
                self.note(f"Error: {done.exception()!r}")

        task.add_done_callback(report)


class JsonChatClient(ChatClient):
    """A client of the JSON protocol (notebook 06): ``say`` says ``chat``; ``nick``, ``users``.

    As the page does, it gives its nickname again whenever it connects again.
    """

    nickname: str | None = None

    async def nick(self, nick: str) -> bool:
        self.nickname = nick
        return await self.send_json({"type": "nick", "nick": nick})

    def _opened(self, url: str) -> None:
        super()._opened(url)
        if self.nickname is not None:  # a reconnection: the server forgot who we were
            self._spawn(self.send_json({"type": "nick", "nick": self.nickname}))

    async def users(self) -> bool:
        return await self.send_json({"type": "users"})

    async def send_json(self, message: Any) -> bool:
        if await self.transport.send(json.dumps(message)):
            return True
        self.note(NOT_CONNECTED)
        return False

    async def send_raw(self, data: str | bytes) -> bool:
        """Send exactly ``data``, valid or not: for trying out the server's validation."""
        if not self.connected:
            self.note(NOT_CONNECTED)
            return False
        self.note(f"You sent: {data!r}")  # before the send: the answer comes after it
        if await self.transport.send(data):
            return True
        self.note(NOT_CONNECTED)
        return False

    async def say(self, text: str) -> bool:
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


class ChatRow(widgets.HBox):
    """Chat widgets side by side, with a text form that names them (not their traits)."""

    def __repr__(self) -> str:
        names = ", ".join(getattr(child, "name", "?") for child in self.children)
        return f"Chat widgets: {names}"


def side_by_side(*clients: ChatClient) -> ChatRow:
    """Show ``clients`` next to each other."""
    return ChatRow(list(clients))


def transcript(*clients: ChatClient) -> str:
    """What each client saw, in order, without timestamps: the output nbval compares."""
    parts = []
    for client in clients:
        body = "\n".join(f"  {line}" for line in client.lines) or "  (nothing)"
        parts.append(f"{client.name}:\n{body}")
    return "\n".join(parts)
