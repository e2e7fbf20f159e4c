"""What the Socket.IO plumbing's modules share: the server's key on the app, the app a server
serves now, and the tasks a stop must end."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import socketio
from aiohttp import web

__all__ = ["SERVING", "SHUTDOWN_TIMEOUT", "SIO", "SIO_TASKS", "keep"]


SIO = web.AppKey("sio", socketio.AsyncServer)
"""The python-socketio server ``start_server`` found on the app (the workbook's own key)."""

SHUTDOWN_TIMEOUT = 1.5
"""Seconds to wait for clients to be told goodbye when the server stops."""

SERVING: weakref.WeakKeyDictionary[socketio.AsyncServer, web.Application] = weakref.WeakKeyDictionary()
"""The app each held python-socketio server serves now: one ``sio`` may serve a new app at each
start (a module-level ``sio`` that every ``make_app()`` attaches), and its guards follow it."""

SIO_TASKS = web.AppKey("socket.io tasks", set[asyncio.Task[Any]])
"""engine.io's and python-socketio's background tasks (pings, handlers): a stop ends them all."""


def keep(app: web.Application, task: asyncio.Task[Any]) -> asyncio.Task[Any]:
    """Keep ``task`` in the app's ``SIO_TASKS`` while it runs: a stop ends it (``_say_goodbye``)."""
    app[SIO_TASKS].add(task)
    task.add_done_callback(app[SIO_TASKS].discard)
    return task
