"""How the chat widgets reach a server: a transport, given to the widget that shows the chat.

``WebsocketTransport`` is the page's ``keepConnected`` in Python: a ``websockets`` client that
comes back by itself when the server closed or dropped the connection (not when you
disconnected), trying again after 0.25, 0.5, 1, then every 2 seconds, and at once when a
server starts in this kernel. ``SocketIOTransport`` is python-socketio's ``AsyncClient``, which
reconnects by itself after a dropped connection; after a server's goodbye (it stopped) it is
asked to come back too, as ``socketio.mjs`` does.

A connection to this kernel's own server, when that server is shared on the network, carries
its join key (``helpers.kernel.share``), taken again at each attempt: a server started again has a
new key, and the kernel's widgets follow it as they follow the server.

A teacher who removes a client (notebook 10) closes its connection with a code of the
application's range (``SENT_AWAY``) and a reason: the transport remembers it (``removed``),
tells its view "Removed by the teacher: <why>", and from then on neither reconnects nor
connects (``connect`` returns that sentence) until ``readmit()``. The rest of the class gets
a new join key over its live connection (``{"type": "key", "key": ...}``, see
``helpers.kernel.join.hand_out_a_new_key``): a websocket transport keeps it for its next
connection, and passes no such message on to its view.

A transport knows nothing of widgets: it calls the ``on_open``, ``on_text`` and ``on_close``
callbacks its view attached (``attach``), and waits never print.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import socketio
from socketio.exceptions import ConnectionError as SioConnectionError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from helpers.common.addresses import with_key
from helpers.common.internals import close_client_websocket
from helpers.common.quiet import quiet_logger
from helpers.common.signals import PORT_HANDED_OVER, SERVER_STARTED, own_key

__all__ = [
    "RETRY_DELAYS",
    "SENT_AWAY",
    "SocketIOTransport",
    "WebsocketTransport",
    "new_key_in",
    "removed_because",
]

SENT_AWAY = range(4000, 5000)
"""Close codes of the application's own range: the server sent this client away on purpose
(a teacher removed it), so it does not reconnect."""

RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0)
"""Seconds between attempts to reconnect; the last one repeats."""


def _nothing(*_: Any) -> None:
    return None


async def _after_a_while(attempt: int) -> None:
    """Wait before reconnection attempt ``attempt``; a server starting here ends the wait."""
    await SERVER_STARTED.next(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])


class _Transport:
    """What both transports share: their callbacks, and leaving for good (no reconnection)."""

    def __init__(self, *, timeout: float, reconnect: bool) -> None:
        self.timeout, self.reconnect = timeout, reconnect
        self.url: str | None = None
        self.on_open: Callable[[str], None] = _nothing
        self.on_close: Callable[[str, bool], None] = _nothing
        self.on_give_up: Callable[[str], None] = _nothing
        self._give_up: str | None = None
        self._leaving = False
        self.removed: str | None = None  # "Removed by the teacher: <why>", once sent away
        self.key: str | None = None  # a join key the server handed over (``KEY_MESSAGE``)
        self._generation = 0  # each connect or disconnect starts a new one: old retries stop
        _TRANSPORTS.add(self)

    def readmit(self) -> None:
        """The teacher let this client back: ``connect`` works again (with a link that has the key)."""
        self.removed = None

    def _leave(self) -> None:
        """From now on, don't come back; a retry already on its way sees a new generation."""
        self._leaving = True
        self._generation += 1

    def _leave_port(self, port: int) -> bool:
        """``_leave`` if connected (or coming back) to ``port``; whether it was."""
        if self._leaving or self.url is None or _port(self.url) != port:
            return False
        self._leave()
        return True

    def stop_retrying(self, port: int, why: str) -> bool:
        """Don't come back to ``port`` (another notebook took it); whether this was ours to stop.

        A connection still open says it closed first, then ``why``.
        """
        if not self._leave_port(port):
            return False
        if self._is_open():
            self._give_up = why  # told when its close has been told
        else:
            self._stop_coming_back()
            self.on_give_up(why)
        return True

    def _is_open(self) -> bool:
        """Whether a connection is open now (its close is still to be told)."""
        raise NotImplementedError

    def _stop_coming_back(self) -> None:
        """Stop a reconnection that is waiting or under way."""
        raise NotImplementedError


class WebsocketTransport(_Transport):
    """A websocket client that keeps its connection: the page's ``keepConnected``."""

    def __init__(self, *, timeout: float = 3.0, reconnect: bool = True) -> None:
        super().__init__(timeout=timeout, reconnect=reconnect)
        self.on_text: Callable[[str], None] = _nothing
        self._websocket: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._open_now = False

    def attach(
        self,
        *,
        on_open: Callable[[str], None],
        on_text: Callable[[str], None],
        on_close: Callable[[str, bool], None],
    ) -> None:
        """The view's callbacks: a connection opened (url), a text came, it closed (why, retrying)."""
        self.on_open, self.on_text, self.on_close = on_open, on_text, on_close

    @property
    def connected(self) -> bool:
        return self._open_now

    async def connect(self, url: str) -> str | None:
        """Open the websocket to ``url``; ``None``, or why it can't (then it doesn't retry)."""
        await self.disconnect()
        if self.removed is not None:
            return self.removed
        self.url, self._leaving, self._give_up = url, False, None
        self._generation += 1
        try:
            self._websocket = await self._open(url)
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            return _reason(exc)
        self._task = asyncio.get_running_loop().create_task(self._keep(self._websocket))
        self._opened(url)
        return None

    async def send(self, data: str | bytes) -> bool:
        """Put ``data`` on the wire; ``False`` if not connected."""
        if not self.connected:
            return False
        try:
            await self._websocket.send(data)
        except ConnectionClosed:
            return False
        return True

    async def disconnect(self) -> None:
        """Close the connection for good (idempotent): no reconnection after this."""
        self._leave()
        task, websocket, was_open = self._task, self._websocket, self._open_now
        if task is not None and not was_open:
            task.cancel()  # it waits to reconnect, or is opening a connection: stop it now
        if websocket is not None:
            await websocket.close()  # an open one: its reader says it closed, then ends
        if task is not None:
            await asyncio.wait([task], timeout=self.timeout)
            task.cancel()
        self._websocket, self._task, self._open_now = None, None, False

    def _is_open(self) -> bool:
        return self._open_now

    def _stop_coming_back(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _open(self, url: str) -> ClientConnection:
        async with asyncio.timeout(self.timeout):
            return await connect(_with_own_key(url, self.key), compression=None)

    async def _keep(self, websocket: ClientConnection) -> None:
        """Read messages; when the connection ends, say so, and come back unless we left."""
        while True:
            try:
                async for message in websocket:
                    text = message if isinstance(message, str) else message.decode(errors="replace")
                    if not self._took_key(text):
                        self.on_text(text)
            except ConnectionClosed:
                pass
            sent_away = websocket.close_code in SENT_AWAY  # removed on purpose: don't come back
            retrying = self.reconnect and not self._leaving and not sent_away
            self._open_now = False
            self.on_close(str(websocket.close_code), retrying)
            if sent_away:
                self.removed = removed_because(websocket.close_reason)
                self._give_up = self.removed  # the view says so, and stops
            if self._give_up is not None:
                self.on_give_up(self._give_up)
                self._give_up = None
            if not retrying:
                return
            generation = self._generation
            websocket = await self._come_back()
            if websocket is None:
                return
            if self._leaving or self._generation != generation:  # it was given up meanwhile
                await websocket.close()
                return
            self._websocket = websocket
            self._opened(self.url)

    def _opened(self, url: str) -> None:
        self._open_now = True
        self.on_open(url)

    def _took_key(self, text: str) -> bool:
        """``text`` is the server's new join key (``KEY_MESSAGE``): kept for the next connection."""
        key = new_key_in(text)
        if key is None:
            return False
        self.key = key
        return True

    async def _come_back(self) -> ClientConnection | None:
        generation = self._generation
        for attempt in itertools.count():
            await _after_a_while(attempt)
            if self._leaving or self._generation != generation:
                return None
            try:
                return await self._open(self.url)
            except (OSError, TimeoutError, InvalidHandshake):
                continue
        return None  # pragma: no cover (the loop only ends by returning)


class SocketIOTransport(_Transport):
    """python-socketio's client: events both ways, and back after a server's goodbye."""

    def __init__(
        self,
        *,
        timeout: float = 3.0,
        reconnect: bool = True,
        auth: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__(timeout=timeout, reconnect=reconnect)
        self.auth = auth
        self.headers: dict[str, str] = {}
        self.sio = socketio.AsyncClient(
            reconnection_delay=0.5,  # after a dropped connection, try again soon,
            reconnection_delay_max=2,  # and at least every 2 s, as the raw widget does
            logger=quiet_logger(),  # its default logger writes to stderr, in whatever cell runs
            engineio_logger=quiet_logger(),
            handle_sigint=False,  # the kernel's Ctrl-C (interrupt) stays the kernel's
        )
        self._connected = False
        self._attempting = False
        self._return: asyncio.Task[None] | None = None
        self.sio.on("connect", self._connected_now)
        self.sio.on("disconnect", self._disconnected_now)
        self.sio.on("key", self._took_key)

    def attach(self, *, on_open: Callable[[str], None], on_close: Callable[[str, bool], None]) -> None:
        self.on_open, self.on_close = on_open, on_close

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        """Call ``handler(*arguments)`` for each ``event`` the server emits to this client."""
        self.sio.on(event, handler)

    @property
    def connected(self) -> bool:
        """Connected to the namespace ``/``. Kept by our handlers: python-socketio runs them
        before it updates ``sio.connected``, so a waiter woken there would see the old state."""
        return self._connected

    async def connect(self, url: str, *, headers: dict[str, str] | None = None) -> str | None:
        """Connect to the Socket.IO server at ``url``; ``None``, or why it can't."""
        await self.disconnect()
        if self.removed is not None:
            return self.removed
        self.url, self.headers, self._leaving, self._give_up = url, headers or {}, False, None
        self._generation += 1
        try:
            await self._open()
        except SioConnectionError as exc:
            return str(exc)
        return None

    async def emit(self, event: str, *args: Any) -> bool:
        if not self.connected:
            return False
        await self.sio.emit(event, args)
        return True

    async def call(self, event: str, *args: Any, timeout: float) -> Any:
        """Emit ``event`` and return its acknowledgement (python-socketio's errors propagate)."""
        return await self.sio.call(event, args, timeout=timeout)

    async def disconnect(self) -> None:
        """Leave, saying goodbye, and stop coming back (idempotent)."""
        self._leave()
        if self._return is not None:
            if self._attempting:  # never cut python-socketio's connect short: it can't recover
                await asyncio.wait([self._return], timeout=self.timeout + 1)
            self._return.cancel()
            self._return = None
        await self.sio.shutdown()  # also ends python-socketio's own reconnection loop

    def _is_open(self) -> bool:
        return self._connected

    def _stop_coming_back(self) -> None:
        if self._return is not None and not self._attempting:
            self._return.cancel()
        self._shutdown = asyncio.get_running_loop().create_task(self.sio.shutdown())  # its retries too

    async def drop(self) -> None:
        """Lose the connection without a goodbye, like a network failure: it comes back."""
        await close_client_websocket(self.sio)

    async def _open(self) -> None:
        await self.sio.connect(
            self._keyed_url,  # a function: python-socketio asks it again at each reconnection
            headers=self.headers,
            auth=self.auth,  # called again at each reconnection
            transports=["websocket"],
            wait_timeout=self.timeout,
        )

    def _keyed_url(self) -> str:
        """The URL with the join key now: this kernel's server's, or the one the server handed over."""
        return _with_own_key(self.url, self.key)

    def _took_key(self, key: Any) -> None:
        """The server's new join key (``hand_out_a_new_key``): kept for the next connection."""
        if isinstance(key, str) and key:
            self.key = key

    async def _connected_now(self) -> None:
        self._connected = True
        self.on_open(self.url)

    async def _disconnected_now(self, reason: str) -> None:
        self._connected = False
        server_goodbye = reason == self.sio.reason.SERVER_DISCONNECT
        retrying = self.reconnect and not self._leaving and reason != self.sio.reason.CLIENT_DISCONNECT
        self.on_close(reason, retrying)
        if self._give_up is not None:
            self.on_give_up(self._give_up)
            self._give_up = None
            self._shutdown = asyncio.get_running_loop().create_task(self.sio.shutdown())
        if retrying and server_goodbye:  # python-socketio won't come back by itself after this
            self._return = asyncio.get_running_loop().create_task(self._come_back())

    async def _come_back(self) -> None:
        generation = self._generation
        for attempt in itertools.count():
            await _after_a_while(attempt)
            if self._leaving or self._generation != generation:
                return
            self._attempting = True
            try:
                await self._open()
            except SioConnectionError:
                continue
            finally:
                self._attempting = False
            return


_TRANSPORTS: weakref.WeakSet[WebsocketTransport | SocketIOTransport] = weakref.WeakSet()
"""Every transport of this kernel, to stop those that would follow a port to another notebook."""


def _stop_following(port: int, requester: str) -> None:
    """This kernel handed ``port`` over: its clients must not join the other notebook's chat."""
    why = f"Not reconnecting: port {port} went to {requester}."
    for transport in list(_TRANSPORTS):
        transport.stop_retrying(port, why)


PORT_HANDED_OVER.append(_stop_following)


def _with_own_key(url: str, handed: str | None = None) -> str:
    """``url`` with the join key of this kernel's server, if it is shared and ``url`` is its address;
    else with the key the server ``handed`` over a connection, if any."""
    own = own_key(url)
    if own is not None:
        return with_key(url, own)
    return url if handed is None else with_key(url, handed)


def removed_because(reason: str) -> str:
    """What a client removed by the teacher (a ``SENT_AWAY`` close, with ``reason``) says."""
    return f"Removed by the teacher: {reason or 'no reason given'}"


def new_key_in(text: str) -> str | None:
    """The key of a ``KEY_MESSAGE`` (``{"type": "key", "key": ...}``), or ``None`` for any other text."""
    if not text.startswith("{") or '"key"' not in text:
        return None
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.keys() != {"type", "key"} or message["type"] != "key":
        return None
    key = message["key"]
    return key if isinstance(key, str) and key else None


def _port(url: str) -> int | None:
    return urlsplit(url).port


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    return str(exc) or type(exc).__name__

