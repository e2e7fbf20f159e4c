"""Socket.IO chat clients as widgets: ``ChatClient``'s look, python-socketio's ``AsyncClient`` inside.

``SocketIOClient`` speaks the official tutorial's one event, ``chat message``;
``SocketIOChatClient`` speaks every event of the ``socketio-chat`` stage, and keeps the
delivery promises of notebook 09 (server offset in ``auth``, client offsets, acks with
retries). Both are ``ChatClient`` s, so ``transcript`` prints them, and a cell drives them
like the raw client::

    alice = SocketIOClient("alice")
    display(alice)
    await alice.connect(server.url)
    await alice.send("hi")
    await alice.wait_for("chat message: hi")    # waits on a condition, with a timeout
    print(transcript(alice))

``client.sio`` is the ``socketio.AsyncClient`` itself, for trying its API directly.
Its handlers never print: they update the widget and append to ``lines``.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import socketio
from socketio.exceptions import BadNamespaceError
from socketio.exceptions import ConnectionError as SioConnectionError
from socketio.exceptions import TimeoutError as SioTimeoutError

from helpers.lifecycle import DEFAULT_PORT
from helpers.sio import quiet_logger
from helpers.widgets import ChatClient

__all__ = ["SocketIOChatClient", "SocketIOClient"]

NOT_CONNECTED = "Not connected to a server."


class SocketIOClient(ChatClient):
    """A Socket.IO chat client as a widget; ``lines`` is its log without timestamps."""

    def __init__(self, name: str = "client", *, timeout: float = 3.0) -> None:
        super().__init__(name, timeout=timeout)
        self.url: str | None = None
        self._connected = False  # kept by our connect and disconnect handlers: see `connected`
        self.sio = socketio.AsyncClient(
            reconnection_delay=0.5,  # after a dropped connection, try again soon
            logger=quiet_logger(),  # its default logger writes to stderr, in whatever cell runs
            engineio_logger=quiet_logger(),
            handle_sigint=False,  # the kernel's Ctrl-C (interrupt) stays the kernel's
        )
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("chat message", self._on_chat_message)

    @property
    def connected(self) -> bool:
        """Connected to the namespace ``/``, where our events go.

        Not ``sio.connected``: python-socketio runs the ``connect`` handler before it sets that
        (and ``disconnect`` before it clears it), so a waiter that our handler wakes would still
        see the old state and sleep on until its timeout.
        """
        return self._connected

    async def connect(
        self, url: str = f"http://127.0.0.1:{DEFAULT_PORT}/", *, headers: dict[str, str] | None = None
    ) -> bool:
        """Connect to the Socket.IO server at ``url``; log why not if it can't (no exception)."""
        await self.disconnect()
        self.url = url
        try:
            await self.sio.connect(
                url,
                headers=headers or {},
                auth=self.auth,  # called again at each reconnection
                transports=["websocket"],
                wait_timeout=self.timeout,
            )
        except SioConnectionError as exc:
            self.log(f"Could not connect to {url}: {exc}")
            self._set_status("Not connected.")
            return False
        return True

    def auth(self) -> dict[str, Any] | None:
        """What the client sends in the connection request (Node: ``io({auth})``)."""
        return None

    async def send(self, text: str) -> bool:
        """Emit ``chat message``, as the tutorial page's form does."""
        if not self.connected:
            self.log(NOT_CONNECTED)
            return False
        await self.sio.emit("chat message", text)
        self.log(f"You said: {text}")
        return True

    async def wait_connected(self, timeout: float | None = None) -> None:
        await self.changes.wait_until(
            lambda: self.connected,
            timeout=self.timeout if timeout is None else timeout,
            describe=lambda: f"{self.name} is not connected",
        )

    async def disconnect(self) -> None:
        """Leave, saying goodbye (the server's ``disconnect`` handler runs), and stop reconnecting.

        Idempotent. ``sio.shutdown()`` also ends a reconnection loop that ``sio.disconnect()``
        would leave running.
        """
        await self.sio.shutdown()
        await self.wait_closed()

    async def drop(self) -> None:
        """Lose the connection without a goodbye, like a network failure: the client reconnects."""
        if self.sio.eio.ws is not None:
            await self.sio.eio.ws.close()
        await self.wait_closed()

    def describe(self, message: str) -> str:
        return f"chat message: {message}"

    async def _on_connect(self) -> None:
        self._connected = True
        self.log("Connected.")
        self._set_status(f"Connected to {self.url}")

    async def _on_disconnect(self, reason: str) -> None:
        self._connected = False
        self.log(f"Disconnected ({reason}).")
        self._set_status("Not connected.")

    async def _on_chat_message(self, message: Any, *rest: Any) -> None:
        self.received.append(str(message))
        self.log(self.describe(str(message)))


class SocketIOChatClient(SocketIOClient):
    """A client of the ``socketio-chat`` stage: nicknames, typing, who, private messages, rooms.

    Each chat message it sends has a client offset and is resent until acknowledged
    (``retries`` times, ``ack_timeout`` s each); ``offset`` is the last server offset it
    saw, sent in ``auth`` at each (re)connection so the server replays what it missed.
    """

    def __init__(
        self,
        name: str = "client",
        *,
        nick: str | None = None,
        timeout: float = 3.0,
        ack_timeout: float = 1.0,
        retries: int = 3,
    ) -> None:
        super().__init__(name, timeout=timeout)
        self.nick = nick or name
        self.ack_timeout, self.retries = ack_timeout, retries
        self.offset = 0
        self.client_id = uuid.uuid4().hex[:8]
        self._counter = itertools.count()
        self.mine: set[str] = set()  # client offsets of the messages this client sent
        self.sio.on("user connected", lambda nick: self._hear(f"* {nick} connected"))
        self.sio.on("user disconnected", lambda nick: self._hear(f"* {nick} disconnected"))
        self.sio.on("nick changed", lambda old, new: self._hear(f"* {old} is now {new}"))
        self.sio.on("typing", self._on_typing)
        self.sio.on("private message", lambda sender, text: self._hear(f"(private) {sender}: {text}"))
        self.sio.on("room message", lambda room, sender, text: self._hear(f"[{room}] {sender}: {text}"))
        self.entry.observe(self._typed, "value")

    def auth(self) -> dict[str, Any]:
        return {"nick": self.nick, "serverOffset": self.offset}

    async def send(self, text: str) -> bool:
        """Show ``text`` at once, then deliver it exactly once, retrying until acknowledged."""
        client_offset = f"{self.client_id}-{next(self._counter)}"
        self.mine.add(client_offset)
        self.log(f"You said: {text}")
        answer = await self.request("chat message", text, client_offset, retries=self.retries)
        if answer is None or "id" not in answer:
            return False
        self.offset = max(self.offset, answer["id"])
        return True

    async def rename(self, nick: str) -> bool:
        answer = await self.request("nick", nick)
        if answer is not None and "nick" in answer:
            self.nick = answer["nick"]  # the next reconnection uses it
            return True
        return False

    async def who(self) -> list[str]:
        answer = await self.request("who")
        if answer is None:
            return []  # request() said why
        users = answer.get("users", [])
        self.log(f"Online: {', '.join(users)}")
        return users

    async def typing(self, is_typing: bool = True) -> None:
        if self.connected:
            await self.sio.emit("typing", is_typing)

    async def private(self, to: str, text: str) -> bool:
        """Send ``text`` to ``to`` alone; shown once the server took it, else its error."""
        if await self.request("private message", to, text) is None:
            return False
        self.log(f"You to {to}: {text}")
        return True

    async def join(self, room: str) -> bool:
        answer = await self.request("join", room)
        if answer is not None:
            self.log(f"You joined {room}: {', '.join(answer['members'])}")
        return answer is not None

    async def leave(self, room: str) -> bool:
        answer = await self.request("leave", room)
        if answer is not None:
            self.log(f"You left {room}")
        return answer is not None

    async def to_room(self, room: str, text: str) -> bool:
        """Send ``text`` to ``room``'s members; shown once the server took it, else its error."""
        if await self.request("room message", room, text) is None:
            return False
        self.log(f"You [{room}]: {text}")
        return True

    async def request(self, event: str, *args: Any, retries: int = 0) -> dict | None:
        """Emit ``event`` and wait for its acknowledgement; ``None`` (and a log line) if refused.

        Only retry what the server can recognise as a repeat (chat messages, by client
        offset): anything else would be done twice when just the acknowledgement was lost.
        """
        for _ in range(1 + retries):
            try:
                await self.wait_connected()
                answer = await self.sio.call(event, args, timeout=self.ack_timeout)
            except (TimeoutError, SioTimeoutError, BadNamespaceError):
                continue
            if isinstance(answer, dict) and "error" in answer:
                self.log(f"Error: {answer['error']}")
                return None
            return answer
        self.log(f"No answer to {event!r} after {1 + retries} tries.")
        return None

    async def _on_chat_message(self, line: Any, offset: Any = None, client_offset: Any = None) -> None:
        if isinstance(offset, int):
            self.offset = offset  # they come in order; not max(): after a restart ids start over
        if client_offset in self.mine:
            return  # our own message, replayed: shown already when we sent it
        self._hear(str(line))

    def _on_typing(self, nick: str, is_typing: bool) -> None:
        self._hear(f"* {nick} is typing..." if is_typing else f"* {nick} stopped typing")

    def _hear(self, line: str) -> None:
        self.received.append(line)
        self.log(line)

    def _typed(self, change: dict[str, Any]) -> None:
        """Tell the others when the text box goes from empty to not empty, and back."""
        if bool(change["old"]) != bool(change["new"]):
            self._spawn(self.typing(bool(change["new"])))
