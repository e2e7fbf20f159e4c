"""Clients that stop reading: how many packets wait for each, and a drop past ``Limits.queue``.

engine.io has no public API for a client's backlog: its session's ``queue`` is read here
(named in ``internals``).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from helpers.common.internals import (
    backlog_of,
    engineio_id_of,
    is_ending,
    request_of,
    session_of,
    sessions_of,
)
from helpers.server.app import (
    LIMITS,
    LOG,
    drop,
    websocket_of,
)
from helpers.server.sio.refusals import UPGRADES
from helpers.server.sio.serving import SHUTDOWN_TIMEOUT, SIO, keep

__all__ = ["BACKLOG_CHECK_EVERY", "backlog", "start_watching_backlogs", "until_sent"]


BACKLOG_CHECK_EVERY = 0.5
"""Seconds between two looks at the clients' backlogs."""


def backlog(app: web.Application, sid: str) -> int | None:
    """How many packets wait to be sent to client ``sid``; ``None`` once it is gone.

    engine.io queues each packet for a client (``socket.queue``) and a writer sends them as
    the client reads; a client that stops reading makes that queue, and the server, grow.
    """
    sio = app[SIO]
    eio_sid = engineio_id_of(sio.manager, sid)
    session = session_of(sio.eio, eio_sid) if eio_sid is not None else None
    if session is None or is_ending(session):
        return None
    return backlog_of(session)


async def until_sent(app: web.Application, sid: str, *, below: int = 1) -> None:
    """Wait until fewer than ``below`` packets wait for client ``sid`` (or it is gone).

    A replay sends a batch, then waits here: it never piles a whole history into memory.
    """
    while (waiting := backlog(app, sid)) is not None and waiting >= below:
        await asyncio.sleep(0.005)


async def start_watching_backlogs(app: web.Application) -> None:
    keep(app, asyncio.get_running_loop().create_task(_watch_backlogs(app), name="watch backlogs"))


async def _watch_backlogs(app: web.Application) -> None:
    """Drop a client with more than ``Limits.queue`` packets waiting: it stopped reading.

    Each drop runs on its own: a polling session's can wait for a poll, and must not hold
    up the others'.
    """
    sio, limits, dropping = app[SIO], app[LIMITS], set()
    while True:
        await asyncio.sleep(BACKLOG_CHECK_EVERY)
        for eio_sid, session in list(sessions_of(sio.eio).items()):
            waiting = backlog_of(session)
            if waiting <= limits.queue or is_ending(session) or eio_sid in dropping:
                continue
            app[LOG].once("backlog", f"Dropped a client that stopped reading ({waiting} messages waiting).")
            dropping.add(eio_sid)
            task = keep(app, asyncio.get_running_loop().create_task(_drop_session(app, eio_sid)))
            task.add_done_callback(lambda _, sid=eio_sid: dropping.discard(sid))


async def _drop_session(app: web.Application, eio_sid: str) -> None:
    """Cut the session's connection: its websocket at once; a polling one as soon as it can."""
    ws = app[UPGRADES].get(eio_sid)
    request = request_of(app[SIO], eio_sid)
    if ws is None and request is not None:
        ws = websocket_of(request)  # it came in on a websocket directly
    if ws is not None and not ws.closed:  # (an upgrade that failed left a closed one behind)
        drop(ws)  # engine.io's handler sees the connection end, and disconnects the client
        return
    try:
        async with asyncio.timeout(SHUTDOWN_TIMEOUT):
            await app[SIO].eio.disconnect(eio_sid)
    except TimeoutError:
        pass  # it waits for a poll that may never come; engine.io's ping timeout ends it
