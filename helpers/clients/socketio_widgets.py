"""Socket.IO chat clients as widgets: ``ChatClient``'s view, given python-socketio's client.

``SocketIOClient`` speaks the official tutorial's one event, ``chat message``;
``SocketIOChatClient`` speaks every event of the chat stages, and keeps the delivery
promises of notebook 09 (server offset in ``auth``, client offsets, acks with retries). Both
are ``ChatClient`` s with a ``SocketIOTransport``, so ``transcript`` prints them, they come
back by themselves when the server restarts, and a cell drives them like the raw client::

    alice = SocketIOClient("alice")
    display(alice)
    await alice.connect(server.url)
    await alice.say("hi")
    await alice.wait_for("chat message: hi")    # what arrived since this cell began, with a timeout
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
from socketio.exceptions import TimeoutError as SioTimeoutError

from helpers.clients.transports import SocketIOTransport
from helpers.clients.widgets import ChatClient
from helpers.common.addresses import DEFAULT_PORT

__all__ = ["SocketIOChatClient", "SocketIOClient"]

NOT_CONNECTED = "Not connected to a server."


class SocketIOClient(ChatClient):
    """A Socket.IO chat client as a widget; ``lines`` is its log without timestamps."""

    def __init__(self, name: str = "client", *, timeout: float = 3.0) -> None:
        transport = SocketIOTransport(timeout=timeout, auth=self.auth)
        super().__init__(name, transport=transport, timeout=timeout)  # type: ignore[arg-type]
        transport.on("chat message", self._on_chat_message)
        transport.on("refused", self._on_refused)  # what the server would not take, and why

    @property
    def sio(self) -> socketio.AsyncClient:
        """python-socketio's client itself."""
        return self.transport.sio

    async def connect(
        self, url: str = f"http://127.0.0.1:{DEFAULT_PORT}/", *, headers: dict[str, str] | None = None
    ) -> bool:
        """Connect to the Socket.IO server at ``url``; log why not if it can't (no exception)."""
        return await self._connect(url, headers=headers)

    def auth(self) -> dict[str, Any] | None:
        """What the client sends in the connection request (Node: ``io({auth})``), each time."""
        return None

    async def say(self, text: str) -> bool:
        """Emit ``chat message``, as the tutorial page's form does; logged before it goes."""
        if not self.connected:
            self.note(NOT_CONNECTED)
            return False
        self.note(f"You said: {text}")  # before the emit: an answer can arrive before it returns
        if await self.transport.emit("chat message", text):
            return True
        self.note(NOT_CONNECTED)
        return False

    async def drop(self) -> None:
        """Lose the connection without a goodbye, like a network failure: the client reconnects."""
        await self.transport.drop()
        await self.wait_closed()

    async def disconnect(self) -> None:
        """Leave, saying goodbye (the server's ``disconnect`` handler runs); don't come back."""
        await self.transport.disconnect()
        await self.wait_closed()

    def describe(self, message: str) -> str:
        return f"chat message: {message}"

    def _attach(self, transport: SocketIOTransport) -> None:  # type: ignore[override]
        transport.attach(on_open=self._opened, on_close=self._closed)
        transport.on_give_up = self._gave_up

    def _opened(self, url: str) -> None:
        self.note("Connected.")
        self._show_status(True, f"Connected to {url}")

    def _closed(self, reason: str, retrying: bool) -> None:
        self._coming_back = retrying
        self.note(f"Disconnected ({reason}).")
        self._show_status(False, "Not connected. Reconnecting..." if retrying else "Not connected.")

    async def _on_chat_message(self, message: Any, *rest: Any) -> None:
        self.received.append(str(message))
        self.note(self.describe(str(message)))

    async def _on_refused(self, answer: Any = None, *rest: Any) -> None:
        why = answer.get("error") if isinstance(answer, dict) else None
        self.note(f"Refused: {why or answer}")


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
        self.resume_key = uuid.uuid4().hex
        self._counter = itertools.count()
        self.mine: set[str] = set()  # client offsets of the messages this client sent
        on = self.transport.on
        on("user connected", lambda nick: self._hear(f"* {nick} connected"))
        on("user disconnected", lambda nick: self._hear(f"* {nick} disconnected"))
        on("nick changed", lambda old, new: self._hear(f"* {old} is now {new}"))
        on("typing", self._on_typing)
        on("private message", lambda sender, text: self._hear(f"(private) {sender}: {text}"))
        on("room message", lambda room, sender, text: self._hear(f"[{room}] {sender}: {text}"))
        self.entry.observe(self._typed, "value")

    def auth(self) -> dict[str, Any]:
        # resumeKey: a secret of this client's, so a server it reconnects to gives it back its
        # nickname (notebook 12); not its client_id, which every client offset shows to all
        return {"nick": self.nick, "serverOffset": self.offset, "resumeKey": self.resume_key}

    async def say(self, text: str) -> bool:
        """Show ``text`` at once, then deliver it exactly once, retrying until acknowledged.

        Retried while the client is on its way back (a dropped connection, or a ``connect``
        under way); a client that is not connected and not coming back (it left, or was sent
        away) refuses at once.
        """
        if not self.connected and not self.coming_back:
            self.note(f"{NOT_CONNECTED} Not sent: {text}")
            return False
        client_offset = f"{self.client_id}-{next(self._counter)}"
        self.mine.add(client_offset)
        self.note(f"You said: {text}")
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
        self.note(f"Online: {', '.join(users)}")
        return users

    async def typing(self, is_typing: bool = True) -> None:
        await self.transport.emit("typing", is_typing)

    async def private(self, to: str, text: str) -> bool:
        """Send ``text`` to ``to`` alone; shown once the server took it, else its error."""
        if await self.request("private message", to, text) is None:
            return False
        self.note(f"You to {to}: {text}")
        return True

    async def join(self, room: str) -> bool:
        answer = await self.request("join", room)
        if answer is not None:
            self.note(f"You joined {room}: {', '.join(answer['members'])}")
        return answer is not None

    async def leave(self, room: str) -> bool:
        answer = await self.request("leave", room)
        if answer is not None:
            self.note(f"You left {room}")
        return answer is not None

    async def to_room(self, room: str, text: str) -> bool:
        """Send ``text`` to ``room``'s members; shown once the server took it, else its error."""
        if await self.request("room message", room, text) is None:
            return False
        self.note(f"You [{room}]: {text}")
        return True

    async def request(self, event: str, *args: Any, retries: int = 0) -> dict | None:
        """Emit ``event`` and wait for its acknowledgement; ``None`` (and a log line) if refused.

        Only retry what the server can recognise as a repeat (chat messages, by client
        offset): anything else would be done twice when just the acknowledgement was lost.
        """
        if not self.connected and not self.coming_back:  # no use waiting: say so now
            self.note(f"{NOT_CONNECTED} {event!r} not sent.")
            return None
        for _ in range(1 + retries):
            try:
                await self.wait_connected()
                answer = await self.transport.call(event, *args, timeout=self.ack_timeout)
            except (TimeoutError, SioTimeoutError, BadNamespaceError):
                continue
            if isinstance(answer, dict) and "error" in answer:
                self.note(f"Error: {answer['error']}")
                return None
            return answer
        self.note(f"No answer to {event!r} after {1 + retries} tries.")
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
        self.note(line)

    def _typed(self, change: dict[str, Any]) -> None:
        """Tell the others when the text box goes from empty to not empty, and back."""
        if bool(change["old"]) != bool(change["new"]):
            self._spawn(self.typing(bool(change["new"])))
