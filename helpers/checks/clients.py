"""The real clients a checker drives: a ``websockets`` client and a python-socketio client.

Both turn every way of receiving nothing (a timeout, a closed connection, a missing
acknowledgement) into a ``Nothing`` that says why, so a verdict can show it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import socketio
import websockets
from socketio.exceptions import ConnectionError as SioConnectionError
from socketio.exceptions import TimeoutError as SioTimeoutError
from websockets.exceptions import ConnectionClosed

from helpers.checks.trial import WAIT, Nothing, NotYet
from helpers.sio import quiet_logger

__all__ = ["SocketIOPeer", "WebsocketPeer"]


class WebsocketPeer:
    """A websocket client: ``send`` text, ``receive`` the next message or ``Nothing``."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, url: str) -> WebsocketPeer:
        try:
            ws = await asyncio.wait_for(websockets.connect(url, compression=None), WAIT)
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            raise NotYet(f"a client could not connect: {type(exc).__name__}: {exc}") from None
        return cls(ws)

    async def send(self, text: str) -> None:
        """Send ``text``; if the server closed already, the next ``receive`` says so."""
        try:
            await self.ws.send(text)
        except ConnectionClosed:
            pass

    async def receive(self, timeout: float = WAIT) -> str | Nothing:
        try:
            message = await asyncio.wait_for(self.ws.recv(), timeout)
        except TimeoutError:
            return Nothing(f"waited {timeout:g} s")
        except ConnectionClosed as closed:
            return Nothing(_closed(closed))
        return message if isinstance(message, str) else message.decode(errors="replace")

    async def close(self) -> None:
        await self.ws.close()


def _closed(closed: ConnectionClosed) -> str:
    if closed.rcvd is None:
        return "the server dropped the connection"
    return f"the server closed the connection: {closed.rcvd.code}"


class SocketIOPeer:
    """A python-socketio client that keeps every event it receives, by name."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(
            logger=quiet_logger(), engineio_logger=quiet_logger(), handle_sigint=False
        )
        self.events: dict[str, asyncio.Queue[list[Any]]] = defaultdict(asyncio.Queue)
        self.sio.on("*", self._keep)

    async def open(self, url: str, *, auth: dict | None = None) -> None:
        try:
            await self.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=WAIT)
        except SioConnectionError as exc:
            raise NotYet(f"a client could not connect: {exc}") from None

    async def _keep(self, event: str, *args: Any) -> None:
        self.events[event].put_nowait(list(args))

    async def emit(self, event: str, *args: Any) -> None:
        await self.sio.emit(event, args)

    async def call(self, event: str, *args: Any, timeout: float = WAIT) -> Any:
        """Emit ``event`` and return its acknowledgement, or ``Nothing``."""
        try:
            return await self.sio.call(event, args, timeout=timeout)
        except SioTimeoutError:
            return Nothing(f"no acknowledgement within {timeout:g} s")
        except socketio.exceptions.BadNamespaceError:
            return Nothing("the client is not connected")

    async def next(self, event: str, timeout: float = WAIT) -> list[Any] | Nothing:
        """The arguments of the next ``event`` this client received, or ``Nothing``."""
        try:
            return await asyncio.wait_for(self.events[event].get(), timeout)
        except TimeoutError:
            return Nothing(f"no {event!r} event within {timeout:g} s")

    def pending(self, event: str) -> list[list[Any]]:
        """The ``event`` s received and not taken yet (without waiting)."""
        queue, taken = self.events[event], []
        while not queue.empty():
            taken.append(queue.get_nowait())
        return taken

    async def close(self) -> None:
        await self.sio.shutdown()
