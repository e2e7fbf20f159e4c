"""A python-socketio server on Redis (``client_manager=socketio.AsyncRedisManager(url)``, notebook 12).

``hold_socketio`` (``helpers.server.sio.hold``) calls ``share_through_redis`` for such a server. Then:

- it subscribes before it serves (python-socketio by itself subscribes at the first client),
  and stops listening when the server stops, within a bound even on Python 3.11, where one
  ``task.cancel()`` can be lost inside redis-py (``cancel_until_done``);
- what comes from the bus is read like client input (``bus_problem``): python-socketio takes
  every message on its channel as one of its servers' own, so a message no server of the
  workbook publishes (unreadable, of another shape, ``close_room``, ``enter_room``,
  ``leave_room``, ``callback``, binary attachments) is dropped and logged once, never acted
  on, never a traceback per message. The door itself is Redis's (``helpers.programs.redis_server``:
  a private socket and a password); this is the second line.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import socketio
import socketio.base_server
from aiohttp import web

from helpers.common.internals import (
    forget_redis_connection,
    hook_redis_listener,
    redis_channel,
    redis_listener,
    redis_messages,
    redis_subscription,
    start_manager_now,
)
from helpers.protocol import MAX_DEPTH, nesting
from helpers.server.app import LOG

__all__ = ["MAX_BUS_MESSAGE", "SUBSCRIBE_TIMEOUT", "bus_problem", "cancel_until_done", "share_through_redis"]

SUBSCRIBE_TIMEOUT = 3.0
"""Seconds a server with a message queue waits at start for Redis to take its subscription."""

STOP_TRIES = 30
"""Cancellations ``cancel_until_done`` tries, 0.1 s apart: a stop never waits more than 3 s."""

MAX_BUS_MESSAGE = 256 * 1024
"""Bytes: the largest message the servers publish is a chat message of under 64 KiB."""

_METHODS = frozenset({"emit", "disconnect"})
"""What the workbook's servers publish: an emit to clients of other
processes, and a disconnect of a client on another process (chat_cluster's ``take_over``).
python-socketio would also act on ``close_room``, ``enter_room``, ``leave_room`` and
``callback``, which no server of the workbook publishes."""


def share_through_redis(app: web.Application, manager: socketio.AsyncRedisManager) -> None:
    """The server listens from its start, reads the bus as client input, and stops listening with it."""
    if manager.logger is socketio.base_server.default_logger:
        manager.logger = app[LOG].logger("socket.io")
    hook_redis_listener(manager, partial(_listen_checked, manager, app))
    app.on_startup.append(partial(_listen_from_the_start, manager))
    app.on_cleanup.append(partial(_close_queue, manager))


async def _listen_from_the_start(manager: socketio.AsyncRedisManager, app: web.Application) -> None:
    """Subscribe before serving, not at the first client as python-socketio does by itself.

    Otherwise what another process emits before this one has had a client (``* bob connected``
    to a client that just arrived here) is never heard here.
    """
    start_manager_now(manager)  # starts its listener, which subscribes
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SUBSCRIBE_TIMEOUT
    while (subscription := redis_subscription(manager)) is None or not subscription.subscribed:
        if loop.time() > deadline:
            app[LOG](f"Redis did not answer within {SUBSCRIBE_TIMEOUT:g} s: emits reach this process only, "
                     "until it does.")
            return
        await asyncio.sleep(0.01)


async def _close_queue(manager: socketio.AsyncRedisManager, app: web.Application) -> None:
    """Stop listening to Redis with the server: a stopped server in a kernel keeps no task behind.

    Also after a failed start (the port was taken): aiohttp runs the cleanup then too. Started
    again, the server subscribes anew (``_listen_from_the_start``) on a new connection.
    """
    listener = redis_listener(manager)
    if listener is not None:
        await cancel_until_done(listener)
    if (subscription := redis_subscription(manager)) is not None:
        await subscription.aclose()
    if manager.redis is not None:
        await manager.redis.aclose()
    forget_redis_connection(manager)


async def cancel_until_done(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` until it has ended (``STOP_TRIES`` times at most).

    One ``task.cancel()`` is not enough on Python 3.11: ``asyncio.wait_for`` returns the
    result, and drops the cancellation, when it arrives as the awaited operation completes
    (CPython gh-86296, fixed in 3.12). redis-py sends every command inside ``wait_for``, so a
    listener cancelled while it sends one goes on listening, and a ``gather`` after the cancel
    waits for ever: notebook 12's hang.
    """
    for _ in range(STOP_TRIES):
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=0.1)
        if done:
            if not task.cancelled():
                task.exception()  # looked at: asyncio won't print "never retrieved" later
            return


async def _listen_checked(manager: socketio.AsyncRedisManager, app: web.Application) -> AsyncIterator[dict]:
    """python-socketio's ``AsyncRedisManager._listen``, with each message read as client input."""
    channel = redis_channel(manager).encode()
    async for message in redis_messages(manager):
        if message.get("channel") != channel or message.get("type") != "message" or "data" not in message:
            continue
        data, problem = bus_problem(message["data"])
        if problem is None:
            yield data  # a dict: python-socketio's listener takes it as it is
        else:
            why = f"Dropped a message from Redis that no server here sent ({problem})."
            app[LOG].once("socket.io bus", why)


def bus_problem(raw: Any) -> tuple[dict, None] | tuple[None, str]:
    """``(message, None)`` for a message the workbook's servers publish, else ``(None, why)``."""
    if not isinstance(raw, bytes | str) or len(raw) > MAX_BUS_MESSAGE:
        return None, "too large" if isinstance(raw, bytes | str) else "not text"
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    if nesting(text) > MAX_DEPTH:
        return None, f"nested deeper than {MAX_DEPTH} levels"
    try:
        message = json.loads(raw)
    except ValueError:
        return None, f"not JSON: {text[:40]!r}"
    if not isinstance(message, dict) or not isinstance(message.get("method"), str):
        return None, f"not a message of python-socketio's: {text[:40]!r}"
    method = message["method"]
    if method not in _METHODS:
        return None, f"{method[:40]!r}, which no server of the workbook publishes"
    if not isinstance(message.get("host_id"), str):
        return None, f"a {method!r} without its server's id"
    if method == "emit":
        return _emit_problem(message)
    if not all(isinstance(message.get(name), str) for name in ("sid", "namespace")):
        return None, "a 'disconnect' without its sid and namespace"
    return message, None


def _emit_problem(message: dict) -> tuple[dict, None] | tuple[None, str]:
    """An emit as ``AsyncPubSubManager.emit`` publishes it, text only, with no acknowledgement."""
    if not isinstance(message.get("event"), str) or not isinstance(message.get("data"), list):
        return None, "an 'emit' without its event name and arguments"
    if not isinstance(message.get("namespace"), str):
        return None, "an 'emit' without its namespace"
    if message.get("binary") or message.get("callback") is not None:
        return None, "an 'emit' with binary attachments or an acknowledgement, which no server here sends"
    for name in ("room", "skip_sid"):
        value = message.get(name)
        if not (value is None or isinstance(value, str) or (isinstance(value, list) and all(
            isinstance(item, str) for item in value
        ))):
            return None, f"an 'emit' whose {name} is no name"
    return message, None
