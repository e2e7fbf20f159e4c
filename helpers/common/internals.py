"""Every library internal the workbook relies on, in one place, each with why no public API does it.

python-socketio, python-engineio and aiohttp are used through their documented API wherever
it reaches (``sio.on``, ``eio.on``, ``manager.get_participants``, ``eio.transport(sid)``,
``cors_allowed_origins`` as a callable, ``client_manager=``, ``AppRunner``, ...). What no
public API reaches is below: a name of theirs read or replaced, as small functions the rest
of the workbook calls. ``tests/test_library_internals.py`` checks each one against the
pinned versions (``requirements.txt``), so an upgrade that moves one fails there, by name,
before it fails somewhere in a notebook.

Why a server built by a student's own cell needs them at all: ``start_server(app)`` finds a
python-socketio server that cell made with the documentation's one line
(``socketio.AsyncServer(async_mode="aiohttp")``) and holds it to the class's limits after the
fact, without a line of the student's code changing. Options its constructor takes can then
only be set on the instance, and what engine.io keeps per session (its backlog, its state)
has no public reader.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import engineio
import engineio.async_socket
import socketio
from aiohttp import web

if TYPE_CHECKING:  # the server's processes never load ipywidgets for this
    import ipywidgets as widgets

__all__ = [
    "backlog_of",
    "check_origins_with",
    "close_client_websocket",
    "close_session_now",
    "engineio_handler",
    "engineio_id_of",
    "event_handler",
    "forget_redis_connection",
    "has_sessions",
    "hook_redis_listener",
    "is_ending",
    "is_upgraded",
    "limit_message_bytes",
    "namespace_handler",
    "namespace_in_use",
    "on_enter",
    "packet_class_of",
    "ping_monitor_stopped",
    "redis_channel",
    "redis_listener",
    "redis_messages",
    "redis_subscription",
    "registered_handlers",
    "replace_manager",
    "request_of",
    "restart_ping_monitor",
    "session_of",
    "session_pinged_by",
    "sessions_of",
    "socketio_id_of",
    "start_manager_now",
    "use_packet_class",
    "use_websocket_class",
    "wrap_background_tasks",
    "wrap_dispatch",
    "wrap_receive",
]

Session = Any
"""An engine.io session (``engineio.async_socket.AsyncSocket``)."""


# --- engine.io's sessions: no public API lists them, tells their backlog or closes one at once ----


def sessions_of(eio: engineio.AsyncServer) -> dict[str, Session]:
    """engine.io's sessions by their engine.io id (``eio.sockets``): the backlog watcher walks them."""
    return eio.sockets


def session_of(eio: engineio.AsyncServer, eio_sid: str) -> Session | None:
    """One engine.io session, or ``None`` once it is gone (``eio.sockets``)."""
    return eio.sockets.get(eio_sid)


def has_sessions(eio: engineio.AsyncServer) -> bool:
    """Whether engine.io has any session: its ``disconnect()`` of all fails on none."""
    return bool(eio.sockets)


def backlog_of(session: Session) -> int:
    """Packets waiting for the client (``session.queue``): a client that stops reading grows it."""
    return session.queue.qsize()


def is_ending(session: Session) -> bool:
    """The session is closing or closed (``closing``, ``closed``): nothing more goes to it."""
    return bool(session.closing or session.closed)


def is_upgraded(session: Session) -> bool:
    """The session is on its websocket (``upgraded``). ``eio.transport(sid)`` says the same, by id:
    used where the id is at hand; this where the session is (the fast broadcast's hot path)."""
    return bool(session.upgraded)


def session_pinged_by(target: Callable[..., Any]) -> Session | None:
    """The session whose ping task runs ``target`` (engine.io starts one per session, with the
    session's own ``_send_ping``), or ``None`` for any other task."""
    session = getattr(target, "__self__", None)
    return session if isinstance(session, engineio.async_socket.AsyncSocket) else None


async def close_session_now(eio: engineio.AsyncServer, eio_sid: str, session: Session) -> None:
    """Close a long-polling session without waiting for its next poll, and forget it.

    ``eio.disconnect(sid)`` waits for a poll that a flood's session never sends.
    """
    await session.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
    if eio.sockets.get(eio_sid) is session:
        del eio.sockets[eio_sid]


# --- python-socketio's dispatch: one place calls every handler --------------------------------


Wrapper = Callable[[Callable[..., Any]], Callable[..., Any]]
"""A function that takes the library's own function and returns what is called in its place."""


def registered_handlers(sio: socketio.AsyncServer, namespace: str = "/") -> dict[str, Callable[..., Any]]:
    """The handlers registered in ``namespace``, by event (``sio.handlers``): notebook 12 wraps
    notebook 9's, which were registered inside its ``make_app``, and the checkers look in them."""
    return dict(sio.handlers.get(namespace, {}))


def engineio_id_of(manager: socketio.AsyncManager, sid: str, namespace: str = "/") -> str | None:
    """The engine.io session under a Socket.IO client (``eio_sid_from_sid``, undocumented)."""
    return manager.eio_sid_from_sid(sid, namespace)


def socketio_id_of(manager: socketio.AsyncManager, eio_sid: str, namespace: str) -> str | None:
    """The Socket.IO client of an engine.io session in ``namespace`` (``sid_from_eio_sid``)."""
    return manager.sid_from_eio_sid(eio_sid, namespace)


def namespace_in_use(manager: socketio.AsyncManager, namespace: str) -> bool:
    """Whether any client is in ``namespace`` (the manager's ``rooms``, what its own emit reads)."""
    return namespace in manager.rooms


def wrap_dispatch(sio: socketio.AsyncServer, wrap: Wrapper) -> None:
    """Route every handler call through ``wrap(trigger)``: ``_trigger_event`` is where
    python-socketio 5 calls connect, disconnect, events and catch-alls, whenever they were
    registered. No hook exists to answer a handler's exception or wrong arguments."""
    sio._trigger_event = wrap(sio._trigger_event)  # type: ignore[method-assign]


def event_handler(
    sio: socketio.AsyncServer, event: str, namespace: str, args: tuple[Any, ...]
) -> tuple[Callable[..., Any] | None, tuple[Any, ...]]:
    """The handler python-socketio would call for ``event``, and its arguments (``_get_event_handler``)."""
    return sio._get_event_handler(event, namespace, args)


def namespace_handler(sio: socketio.AsyncServer, namespace: str, args: tuple[Any, ...]) -> Any:
    """A class-based namespace's handler object, or ``None`` (``_get_namespace_handler``)."""
    return sio._get_namespace_handler(namespace, args)[0]


def engineio_handler(eio: engineio.AsyncServer, name: str) -> Callable[..., Any] | None:
    """engine.io's handler for ``name`` (``eio.handlers``; ``eio.on`` sets it, nothing reads it)."""
    return eio.handlers.get(name)


# --- options the student's constructor took: settable only on the instance now ----------------


def limit_message_bytes(eio: engineio.AsyncServer, limit: int) -> None:
    """At most ``limit`` bytes a message: the constructor's ``max_http_buffer_size``, lowered after."""
    eio.max_http_buffer_size = min(eio.max_http_buffer_size, limit)


def use_packet_class(sio: socketio.AsyncServer, packet_class: type[socketio.packet.Packet]) -> None:
    """Read packets with ``packet_class`` unless the server chose its own: the constructor's
    ``serializer``, which it stores as ``packet_class``."""
    if sio.packet_class is socketio.packet.Packet:
        sio.packet_class = packet_class


def check_origins_with(eio: engineio.AsyncServer, check: Callable[[str | None], bool]) -> None:
    """Let engine.io ask ``check(origin)`` which pages may connect: its constructor's
    ``cors_allowed_origins`` takes such a callable, set here on the instance."""
    eio.cors_allowed_origins = check


def packet_class_of(sio: socketio.AsyncServer) -> type[socketio.packet.Packet]:
    """The class the server encodes packets with (its ``serializer``, kept as ``packet_class``)."""
    return sio.packet_class


def request_of(sio: socketio.AsyncServer, eio_sid: str) -> web.BaseRequest | None:
    """The aiohttp request that opened an engine.io session (``sio.environ``, by engine.io id:
    the public ``get_environ`` takes a Socket.IO id, which a session that never joined lacks)."""
    request = sio.environ.get(eio_sid, {}).get("aiohttp.request")
    return request if isinstance(request, web.BaseRequest) else None


def replace_manager(sio: socketio.AsyncServer, manager: socketio.AsyncManager) -> bool:
    """Serve with ``manager`` instead of the default one the student's server made, unless that
    server chose its own (``client_manager=``) or has started its manager (``manager_initialized``):
    the constructor's ``client_manager`` option, set on the instance."""
    if type(sio.manager) is not socketio.AsyncManager or sio.manager_initialized:
        return False
    sio.manager = manager
    manager.set_server(sio)
    return True


def start_manager_now(manager: socketio.AsyncManager) -> None:
    """Initialize the manager now, not at the server's first client as python-socketio does
    (``manager_initialized`` tells the server it was): a Redis manager then listens from the start."""
    manager.server.manager_initialized = True
    manager.initialize()


# --- engine.io's tasks ----------------------------------------------------------------------


def wrap_background_tasks(eio: engineio.AsyncServer, wrap: Wrapper) -> None:
    """Every task engine.io starts goes through ``wrap(start)``: its public ``start_background_task``,
    replaced on this instance (its ping tasks outlive ``shutdown()`` otherwise)."""
    eio.start_background_task = wrap(eio.start_background_task)


def ping_monitor_stopped(eio: engineio.AsyncServer) -> bool:
    """engine.io's monitor of unanswered pings is not running (``service_task_handle``)."""
    return eio.service_task_handle is None


def restart_ping_monitor(eio: engineio.AsyncServer) -> None:
    """Start the monitor again at the next connection (``start_service_task``): ``shutdown()``
    clears it, and the same server started again would never drop a silent client."""
    eio.start_service_task = True


# --- engine.io's aiohttp driver --------------------------------------------------------------


def use_websocket_class(eio: engineio.AsyncServer, replaces: type, websocket_class: type) -> None:
    """Build this server's websockets from ``websocket_class`` (a subclass of the driver's own, which
    keeps its ``WebSocketResponse`` as ``_sock``): engine.io picks the class from its ``_async``
    table, its drivers' extension point. This server gets its own copy; nothing global changes."""
    table = eio._async
    if table.get("websocket") is replaces:
        eio._async = {**table, "websocket": websocket_class}


# --- python-socketio's Redis manager ----------------------------------------------------------


def hook_redis_listener(manager: socketio.AsyncRedisManager, listen: Callable[[], Any]) -> None:
    """Read the bus through ``listen`` (``_listen``, the hook its listener calls): what another
    process publishes is client input, checked before python-socketio acts on it."""
    manager._listen = listen


def redis_channel(manager: socketio.AsyncRedisManager) -> str:
    """The channel the manager publishes on: the constructor's ``channel``, kept as ``channel``
    (the student's server may have chosen it; a listener in place of ``_listen`` reads it)."""
    return manager.channel


def redis_messages(manager: socketio.AsyncRedisManager) -> AsyncIterator[dict[str, Any]]:
    """Every message of the manager's subscription, reconnecting as the library does
    (``_redis_listen_with_retries``, what its own ``_listen`` reads)."""
    return manager._redis_listen_with_retries()


def redis_subscription(manager: socketio.AsyncRedisManager) -> Any:
    """The manager's pub/sub connection, once subscribed (``pubsub``), else ``None``."""
    return getattr(manager, "pubsub", None)


def redis_listener(manager: socketio.AsyncRedisManager) -> asyncio.Future[Any] | None:
    """The manager's listener task (``thread``), so a stop can end it: it has no ``close()``."""
    listener = getattr(manager, "thread", None)
    return listener if isinstance(listener, asyncio.Future) else None


def forget_redis_connection(manager: socketio.AsyncRedisManager) -> None:
    """After closing them, the next start connects and subscribes anew (``redis``, ``pubsub``,
    ``connected``)."""
    manager.redis, manager.pubsub, manager.connected = None, None, False


# --- ipywidgets ---------------------------------------------------------------------------


def on_enter(entry: widgets.Text, callback: Callable[[], None]) -> None:
    """Call ``callback`` when Enter is pressed in ``entry``: ipywidgets' ``on_submit``, deprecated in
    ipywidgets 8 (its warning kept out of the cells). The replacement it suggests
    (``continuous_update=False`` and observing ``value``) also fires when the box loses focus: a
    chat would send a half-typed line whenever the student clicks elsewhere."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        entry.on_submit(lambda _: callback())


# --- aiohttp, and python-socketio's client ----------------------------------------------------


def wrap_receive(
    response: web.WebSocketResponse, receive: Callable[[float | None], Any]
) -> Callable[[float | None], Any]:
    """Make ``response.receive`` call ``receive``, returning the original: engine.io's websocket
    reads frames with it, and a frame engine.io can't parse would end the connection."""
    original = response.receive
    response.receive = receive  # type: ignore[method-assign]
    return original


async def close_client_websocket(client: socketio.AsyncClient) -> None:
    """Cut a python-socketio client's websocket as a network would (``client.eio.ws``), where
    ``disconnect()`` would say goodbye: how a test makes a client vanish."""
    if client.eio.ws is not None:
        await client.eio.ws.close()

