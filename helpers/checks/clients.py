"""The real clients a checker drives, each with a name: a ``websockets`` client, a python-socketio client.

Both turn every way of receiving nothing (a timeout, a closed connection, a missing
acknowledgement) into a ``Nothing`` that says why, so a verdict can show it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import aiohttp
import socketio
import websockets
from socketio.exceptions import ConnectionError as SioConnectionError
from socketio.exceptions import TimeoutError as SioTimeoutError
from websockets.exceptions import ConnectionClosed

from helpers.checks.verdict import Nothing, NotYet
from helpers.common.quiet import quiet_logger

__all__ = ["WAIT", "SocketIOPeer", "WebsocketPeer"]

WAIT = 2.0
"""Seconds to wait for one expected message."""


class WebsocketPeer:
    """A named websocket client: ``send`` text, ``receive`` the next message or ``Nothing``."""

    def __init__(self, name: str, ws: websockets.ClientConnection) -> None:
        self.name, self.ws = name, ws

    @classmethod
    async def open(cls, name: str, url: str) -> WebsocketPeer:
        try:
            ws = await asyncio.wait_for(websockets.connect(url, compression=None, max_size=None), WAIT)
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            raise NotYet(f"{name} could not connect: {type(exc).__name__}: {exc}") from None
        return cls(name, ws)

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

    def __str__(self) -> str:
        return self.name


def _closed(closed: ConnectionClosed) -> str:
    if closed.rcvd is None:
        return "the server dropped the connection"
    return f"the server closed the connection: {closed.rcvd.code}"


class SocketIOPeer:
    """A named python-socketio client that keeps every event it receives, by name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.http: aiohttp.ClientSession | None = None  # made in open(), in the running loop
        self.sio = socketio.AsyncClient(
            logger=quiet_logger(),
            engineio_logger=quiet_logger(),
            handle_sigint=False,
            reconnection=False,
            http_session=self._session,  # ours, so that we close it, connected or not
        )
        self.events: dict[str, asyncio.Queue[list[Any]]] = defaultdict(asyncio.Queue)
        self.sio.on("*", self._keep)
        self.sid: str | None = None  # its session id on the server, once connected

    async def open(self, url: str, *, auth: dict | None = None) -> None:
        try:
            await self.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=WAIT)
        except SioConnectionError as exc:
            raise NotYet(f"{self.name} could not connect: {exc}") from None
        self.sid = self.sio.get_sid()

    def _session(self) -> aiohttp.ClientSession:
        """engine.io's HTTP session: a factory it calls when it connects (its public option)."""
        self.http = aiohttp.ClientSession()
        return self.http

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
            return Nothing(f"{self.name} is not connected")

    async def next(self, event: str, timeout: float = WAIT) -> list[Any] | Nothing:
        """The arguments of the next ``event`` this client received, or ``Nothing``."""
        try:
            return await asyncio.wait_for(self.events[event].get(), timeout)
        except TimeoutError:
            return Nothing(f"no {event!r} event within {timeout:g} s")

    async def first(self, event: str, timeout: float = WAIT) -> Any:
        """The first argument of the next ``event`` (its text, for ``chat message``), or ``Nothing``."""
        arguments = await self.next(event, timeout)
        return arguments[0] if isinstance(arguments, list) and arguments else arguments

    async def close(self) -> None:
        await self.sio.shutdown()
        if self.http is not None and not self.http.closed:  # a connection that failed leaves it open
            await self.http.close()

    def __str__(self) -> str:
        return self.name
