"""Every Socket.IO event guarded: what python-socketio would lose is answered and recorded.

A client over the rate limit, with arguments the handler can't take, or with an event no
handler takes, is answered ``{"error": ...}`` in the acknowledgement; an exception in a
handler is recorded (shown at the next cell) and answered ``{"error": "internal server
error"}``: never a silent crash. A CONNECT makes a session a client (``sessions``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import socketio
from aiohttp import web

from helpers.common.internals import engineio_id_of, event_handler, namespace_handler, wrap_dispatch
from helpers.server.app import (
    LOG,
    RATE_LIMIT,
)
from helpers.server.limits import RateLimit
from helpers.server.sio.refusals import REFUSED, REFUSED_INPUT, UnreadableAuth
from helpers.server.sio.serving import SERVING, SIO
from helpers.server.sio.sessions import SESSIONS

__all__ = ["NOTICES", "connect_counted", "guard_events", "refuse_input", "tell_refused"]


def guard_events(sio: socketio.AsyncServer) -> None:
    """Route every event python-socketio dispatches through ``guarded``.

    python-socketio calls each handler in a task of its own with whatever the client sent.
    Unguarded, arguments it can't take or an exception in it end that task: the client gets
    no acknowledgement, nothing reaches the server log, and the only trace is asyncio's "Task
    exception was never retrieved" on stderr, in a notebook in some random cell.
    python-socketio calls every handler (connect, disconnect, events, catch-alls) in one
    place, the one place to guard them all, whenever they were registered
    (``helpers.common.internals.wrap_dispatch``). The guard answers to the app the server
    serves now.
    """

    def guard(trigger: Callable[..., Any]) -> Callable[..., Any]:
        async def guarded(event: str, namespace: str, *args: Any) -> Any:
            app = SERVING[sio]
            if event == "connect":
                return await connect_counted(app, sio, trigger, namespace, *args)
            if event == "disconnect":
                return await _disconnect_guarded(app, trigger, namespace, *args)
            return await _event_guarded(app, sio, trigger, event, namespace, *args)

        return guarded

    wrap_dispatch(sio, guard)


async def _connect_guarded(
    app: web.Application, sio: socketio.AsyncServer, trigger: Callable, namespace: str, *args: Any
) -> Any:
    """``connect``, unless the client's ``auth`` was unreadable: then refused, and told why.

    A server with ``always_connect`` has already let the client in: it hears ``refused`` with
    the reason, then is disconnected. Otherwise the reason is its ``connect_error``. A bug in
    the handler refuses the connection too, recorded for the next cell. A handler that takes
    no ``auth`` gets a ``TypeError`` here, as python-socketio expects: it calls it again without.
    """
    sid, _, *auth = args
    if auth and isinstance(auth[0], UnreadableAuth):
        why = auth[0].why
        await tell_refused(app, sid, why)
        raise socketio.exceptions.ConnectionRefusedError(why)
    handler, call_args = event_handler(sio, "connect", namespace, args)
    if handler is None:  # a class-based namespace's on_connect, or none: python-socketio's own rules
        return await trigger("connect", namespace, *args)
    try:
        _signature(handler).bind(*call_args)
    except TypeError:
        if len(args) == 3 and args[2] is None:
            raise  # it takes no auth, and the client sent none: python-socketio calls it again without
        why = f"connect takes {_takes(handler, 1)}, and the client sent its auth"
        app[LOG].error('Socket.IO handler for "connect"', TypeError(why))
        raise socketio.exceptions.ConnectionRefusedError("internal server error") from None
    try:
        return await trigger("connect", namespace, *args)
    except (socketio.exceptions.ConnectionRefusedError, ConnectionRefusedError):
        raise  # a refusal the handler meant: python-socketio tells the client
    except Exception as exc:
        app[LOG].error('Socket.IO handler for "connect"', exc)
        raise socketio.exceptions.ConnectionRefusedError("internal server error") from None


async def _disconnect_guarded(app: web.Application, trigger: Callable, namespace: str, *args: Any) -> Any:
    """``disconnect``: the client's rate-limit buckets go with it; a bug in it is recorded."""
    sid = args[0] if args else None
    app[RATE_LIMIT].forget(sid)
    app[NOTICES].forget(sid)
    try:
        return await trigger("disconnect", namespace, *args)
    except Exception as exc:
        app[LOG].error('Socket.IO handler for "disconnect"', exc)
        return None


async def _event_guarded(
    app: web.Application, sio: socketio.AsyncServer, trigger: Callable, event: str, namespace: str, *args: Any
) -> Any:
    """An event: held to the rate limit, its arguments checked, its errors answered and recorded."""
    name = '"refused input"' if event == REFUSED_INPUT else f'"{event}"'
    sid = args[0] if args else None
    if not app[RATE_LIMIT].allow(sid):
        return await _too_fast(app, sid, name)
    handler, call_args = event_handler(sio, event, namespace, args)
    if handler is None and namespace_handler(sio, namespace, args) is None:
        app[LOG].once(f"no handler {event}", f"Refused {name}: no such event")
        return {"error": "no such event"}
    try:
        if handler is not None:  # a class-based namespace checks its own arguments
            _signature(handler).bind(*call_args)
    except TypeError:
        why = f"wrong arguments: {name} takes {_takes(handler, len(call_args) - len(args) + 1)}"
        app[LOG].once(f"refused {event}", f"Refused {name}: {why}")
        return {"error": why}
    try:
        answer = await trigger(event, namespace, *args)
    except Exception as exc:
        app[LOG].error(f"Socket.IO handler for {name}", exc)
        return {"error": "internal server error"}
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):  # the handler refused it
        app[LOG].once(f"refused {event}", f"Refused {name}: {answer['error']}")
    return answer


def _signature(handler: Callable) -> inspect.Signature:
    """The signature python-socketio calls: the handler's own, not the one a decorator wraps."""
    return inspect.signature(handler, follow_wrapped=False)


def _takes(handler: Callable, leading: int) -> str:
    """What a handler takes after its ``leading`` parameters (``sid``; a catch-all's ``event, sid``)."""
    params = list(_signature(handler).parameters.values())[leading:]
    names = [f"*{p.name}" if p.kind is p.VAR_POSITIONAL else p.name for p in params]
    return f"({', '.join(names)})" if names else "no arguments"


NOTICES = web.AppKey("socket.io notices", RateLimit)
"""At most one ``refused`` event a second to a client sending too fast: the notice is no flood."""


async def connect_counted(
    app: web.Application, sio: socketio.AsyncServer, trigger: Callable, namespace: str, *args: Any
) -> Any:
    """A CONNECT packet makes its session a client, counted as a connection; refused, a newcomer again."""
    sessions = app.get(SESSIONS)
    eio_sid = engineio_id_of(sio.manager, args[0], namespace) if args and sessions is not None else None
    if eio_sid is None:
        return await _connect_guarded(app, sio, trigger, namespace, *args)
    sessions.joined_now(eio_sid)
    try:
        accepted = await _connect_guarded(app, sio, trigger, namespace, *args)
    except BaseException:
        sessions.refused(eio_sid, namespace)
        raise
    if accepted is False:
        sessions.refused(eio_sid, namespace)
    return accepted


async def refuse_input(sio: socketio.AsyncServer, sid: str, why: Any = None, *_: Any) -> dict:
    """Answer a refused packet: the reason as its acknowledgement and as a ``refused`` event.

    Held to the same rate limit as any event (by the guard): past it, the answer is "too many
    messages", and the ``refused`` event comes at most once a second.
    """
    why = why if isinstance(why, str) else "refused"
    await tell_refused(SERVING[sio], sid, why)
    return {"error": why}


async def tell_refused(app: web.Application, sid: str, why: str) -> None:
    """Log a refused input (once per interval) and tell its client why: a ``refused`` event."""
    app[LOG].once("refused input", f"Refused a client's input: {why}.")
    await app[SIO].emit(REFUSED, {"error": why}, to=sid)


async def _too_fast(app: web.Application, sid: str | None, name: str) -> dict:
    """Refuse an event from a client over the rate limit: it hears why (at most once a second).

    The log says it once per interval (``RateLimit``'s own line), never once per event.
    """
    why = app[RATE_LIMIT].describe()
    if sid is not None and app[NOTICES].allow(sid):
        await app[SIO].emit(REFUSED, {"error": why}, to=sid)
    return {"error": why}
