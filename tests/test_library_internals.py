"""Each library internal that ``helpers.common.internals`` names is still there, and still does
what the workbook takes it for, on the pinned versions: an upgrade that moves one fails here,
by name."""

from __future__ import annotations

import asyncio
import inspect
import re
import warnings
from pathlib import Path

import engineio.async_socket
import ipywidgets
import pytest
import socketio
import socketio.async_pubsub_manager
import socketio.async_redis_manager
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from engineio.async_drivers import aiohttp as eio_aiohttp

from helpers.common import internals

ROOT = Path(__file__).resolve().parent.parent

CHECKED = {
    "backlog_of", "check_origins_with", "close_client_websocket", "close_session_now", "engineio_handler",
    "engineio_id_of", "event_handler", "forget_redis_connection", "has_sessions", "hook_redis_listener",
    "is_ending", "is_upgraded", "limit_message_bytes", "namespace_handler", "namespace_in_use",
    "on_enter", "packet_class_of", "ping_monitor_stopped", "redis_channel", "redis_listener",
    "redis_messages", "redis_subscription", "registered_handlers", "replace_manager", "request_of",
    "restart_ping_monitor", "session_of", "session_pinged_by", "sessions_of", "socketio_id_of",
    "start_manager_now", "use_packet_class", "use_websocket_class", "wrap_background_tasks",
    "wrap_dispatch", "wrap_receive",
}


def attached() -> socketio.AsyncServer:
    """A python-socketio server as the notebooks make one: the documentation's lines."""
    sio = socketio.AsyncServer(async_mode="aiohttp")
    sio.attach(web.Application())
    return sio


def source(thing: object) -> str:
    return inspect.getsource(thing)  # type: ignore[arg-type]


def test_every_internal_the_workbook_names_is_checked_here() -> None:
    assert set(internals.__all__) == CHECKED


async def test_engineio_keeps_each_session_by_id_with_its_queue_and_state() -> None:
    sio = attached()
    eio = sio.eio
    assert internals.sessions_of(eio) is eio.sockets and not internals.has_sessions(eio)
    session = engineio.async_socket.AsyncSocket(eio, "one")
    eio.sockets["one"] = session
    assert internals.session_of(eio, "one") is session and internals.has_sessions(eio)
    assert internals.backlog_of(session) == 0
    await session.queue.put("a packet")
    assert internals.backlog_of(session) == 1
    assert not internals.is_ending(session) and not internals.is_upgraded(session)
    assert eio.transport("one") == "polling"  # the public reader the session counter uses
    assert internals.session_pinged_by(session._send_ping) is session
    assert internals.session_pinged_by(asyncio.sleep) is None
    assert "start_background_task(self._send_ping)" in source(engineio.async_socket.AsyncSocket)
    session.upgraded = True
    assert internals.is_upgraded(session) and eio.transport("one") == "websocket"
    await internals.close_session_now(eio, "one", session)
    assert internals.is_ending(session) and internals.session_of(eio, "one") is None


async def test_python_socketio_calls_every_handler_through_one_method() -> None:
    sio, calls = attached(), []

    @sio.on("chat message")
    async def chat_message(sid: str, text: str) -> str:
        return text.upper()

    assert internals.registered_handlers(sio) == {"chat message": chat_message}
    assert internals.registered_handlers(sio, "/elsewhere") == {}
    handler, args = internals.event_handler(sio, "chat message", "/", ("sid", "hi"))
    assert handler is chat_message and args == ("sid", "hi")
    assert internals.event_handler(sio, "nothing", "/", ("sid",))[0] is None
    assert internals.namespace_handler(sio, "/", ("sid",)) is None

    def wrap(trigger):
        async def traced(event, namespace, *args):
            calls.append(event)
            return await trigger(event, namespace, *args)

        return traced

    internals.wrap_dispatch(sio, wrap)
    assert await sio._trigger_event("chat message", "/", "sid", "hi") == "HI"
    assert calls == ["chat message"]
    dispatch = source(socketio.async_server.AsyncServer._handle_event_internal)
    assert "await server._trigger_event(data[0]" in dispatch


def test_engineio_hands_connections_to_the_python_socketio_server_that_attached_it() -> None:
    sio = attached()
    assert internals.engineio_handler(sio.eio, "connect").__self__ is sio
    assert internals.engineio_handler(sio.eio, "nothing") is None


def test_options_set_on_the_instance_are_the_ones_engineio_and_python_socketio_read() -> None:
    sio = attached()
    internals.limit_message_bytes(sio.eio, 1000)
    assert sio.eio.max_http_buffer_size == 1000
    assert "self.server.max_http_buffer_size" in source(engineio.async_socket.AsyncSocket)

    class Mine(socketio.packet.Packet):
        pass

    assert internals.packet_class_of(sio) is socketio.packet.Packet
    internals.use_packet_class(sio, Mine)
    assert internals.packet_class_of(sio) is Mine
    assert "self.packet_class(" in source(socketio.async_server.AsyncServer)

    internals.check_origins_with(sio.eio, lambda origin: origin == "http://localhost:5173")
    asked = {"HTTP_ORIGIN": "http://localhost:5173", "wsgi.url_scheme": "http", "HTTP_HOST": "x"}
    assert sio.eio._cors_allowed_origins(asked) == ["http://localhost:5173"]
    assert sio.eio._cors_allowed_origins({**asked, "HTTP_ORIGIN": "http://evil.example"}) == []


async def test_the_default_manager_is_replaced_before_it_starts_and_a_chosen_one_kept() -> None:
    sio = attached()

    class Mine(socketio.AsyncManager):
        pass

    mine = Mine()
    assert internals.replace_manager(sio, mine) and sio.manager is mine and mine.server is sio
    assert not internals.replace_manager(sio, Mine())  # the server's manager is no default now
    chosen = socketio.AsyncServer(async_mode="aiohttp", client_manager=socketio.AsyncManager())
    chosen.manager_initialized = True
    assert not internals.replace_manager(chosen, Mine())
    started = attached()
    internals.start_manager_now(started.manager)
    assert started.manager_initialized
    assert "if not self.manager_initialized:" in source(socketio.async_server.AsyncServer)


async def test_the_manager_maps_socketio_ids_to_engineio_ids_by_namespace() -> None:
    sio = attached()
    manager = sio.manager
    manager.set_server(sio)
    assert not internals.namespace_in_use(manager, "/")
    sid = await manager.pre_connect("eio-one", "/")  # a CONNECT's first step: the sid is known
    assert internals.namespace_in_use(manager, "/")
    assert internals.engineio_id_of(manager, sid) == "eio-one"
    assert internals.socketio_id_of(manager, "eio-one", "/") == sid
    assert internals.engineio_id_of(manager, "nobody") is None


def test_python_socketio_keeps_each_sessions_request_by_engineio_id() -> None:
    sio, request = attached(), make_mocked_request("GET", "/socket.io/")
    assert sio.environ == {}
    sio.environ["one"] = {"aiohttp.request": request}
    assert internals.request_of(sio, "one") is request
    assert internals.request_of(sio, "gone") is None


async def test_engineio_starts_its_tasks_and_its_monitor_through_what_is_wrapped() -> None:
    sio, started = attached(), []

    def wrap(start):
        def counted(target, *args, **kwargs):
            started.append(target)
            return start(target, *args, **kwargs)

        return counted

    internals.wrap_background_tasks(sio.eio, wrap)
    await sio.eio.start_background_task(asyncio.sleep, 0)
    assert started == [asyncio.sleep]
    assert "self.server.start_background_task(self._send_ping)" in source(engineio.async_socket.AsyncSocket)
    assert internals.ping_monitor_stopped(sio.eio)
    sio.eio.start_service_task = False
    internals.restart_ping_monitor(sio.eio)
    assert sio.eio.start_service_task is True
    assert "if self.start_service_task:" in source(engineio.async_server.AsyncServer)


def test_engineio_builds_its_websockets_from_its_driver_table() -> None:
    sio = attached()

    class Mine(eio_aiohttp.WebSocket):
        pass

    assert sio.eio._async["websocket"] is eio_aiohttp.WebSocket
    internals.use_websocket_class(sio.eio, eio_aiohttp.WebSocket, Mine)
    assert sio.eio._async["websocket"] is Mine
    assert attached().eio._async["websocket"] is eio_aiohttp.WebSocket  # nothing global changed
    assert "self._sock = " in source(eio_aiohttp.WebSocket.__call__)
    assert "self.handler = handler" in source(eio_aiohttp.WebSocket.__init__)
    assert "self.server = server" in source(eio_aiohttp.WebSocket.__init__)
    assert "await self._sock.receive()" in source(eio_aiohttp.WebSocket.wait)


def test_the_redis_manager_listens_through_its_hook_and_keeps_its_connection() -> None:
    manager = socketio.AsyncRedisManager("redis://127.0.0.1:1/0", channel="ours")
    assert internals.redis_channel(manager) == "ours"
    assert internals.redis_subscription(manager) is None and internals.redis_listener(manager) is None
    assert inspect.isasyncgenfunction(socketio.AsyncRedisManager._listen)
    assert "self._listen()" in source(socketio.async_pubsub_manager.AsyncPubSubManager._thread)
    assert "self.thread = " in source(socketio.async_pubsub_manager.AsyncPubSubManager.initialize)
    assert inspect.isasyncgenfunction(socketio.AsyncRedisManager._redis_listen_with_retries)
    assert "self._redis_listen_with_retries()" in source(socketio.AsyncRedisManager._listen)

    async def listen():
        yield {}

    internals.hook_redis_listener(manager, listen)
    assert manager._listen is listen
    manager.redis, manager.pubsub, manager.connected = object(), object(), True
    internals.forget_redis_connection(manager)
    assert (manager.redis, manager.pubsub, manager.connected) == (None, None, False)
    assert "if not self.connected:" in source(socketio.async_redis_manager.AsyncRedisManager)


def test_aiohttp_lets_a_websockets_receive_be_wrapped() -> None:
    response = web.WebSocketResponse()

    async def receive(timeout: float | None = None):
        return None

    original = internals.wrap_receive(response, receive)
    assert original.__func__ is web.WebSocketResponse.receive and response.receive is receive


def test_enter_in_a_text_box_is_its_submit_message_and_no_warning_reaches_a_cell() -> None:
    entry, entered = ipywidgets.Text(), []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        internals.on_enter(entry, lambda: entered.append(entry.value))
    entry.value = "hello"
    entry._handle_custom_msg({"event": "submit"}, [])  # what the browser sends on Enter
    assert entered == ["hello"]


def test_a_python_socketio_clients_websocket_is_its_engineio_clients_ws() -> None:
    client = socketio.AsyncClient()
    assert client.eio.ws is None
    assert "self.ws = " in source(engineio.async_client.AsyncClient)


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_each_internal_says_why(name: str) -> None:
    doc = inspect.getdoc(getattr(internals, name)) or ""
    assert len(doc) > 40, name


INTERNAL = re.compile(
    r"\b(?:sio|eio|manager|session|socket|client)\.(?:_[a-z]\w*|sockets|packet_class|manager_initialized"
    r"|service_task_handle|start_service_task|handlers|environ|pubsub|thread|upgraded|closing"
    r"|queue|eio_sid_from_sid|sid_from_eio_sid)\b"
    r"|\bmanager\.rooms\b|\.eio\.(?:ws|sockets|_\w+)\b|cors_allowed_origins = |max_http_buffer_size = "
)
"""How reading or replacing a library internal looks in the workbook's code."""


def internal_uses(path: Path) -> list[str]:
    """The lines of ``path`` that touch a library internal, as ``path:line: text``."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        code = re.sub(r"``[^`]*``", "", line.split("#", 1)[0])  # a docstring's names are no use of them
        if INTERNAL.search(code):
            found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def test_no_library_internal_is_touched_outside_the_module_that_names_them() -> None:
    paths = [p for p in sorted((ROOT / "helpers").glob("**/*.py")) if p.name != "internals.py"]
    found = [use for path in paths for use in internal_uses(path)]
    assert not found, "name it in helpers/common/internals.py:\n" + "\n".join(found)


def test_the_scan_sees_an_internal_used_elsewhere(tmp_path: Path) -> None:
    planted = tmp_path / "helpers" / "planted.py"
    planted.parent.mkdir()
    planted.write_text("def count(sio):\n    return len(sio.eio.sockets)  # engine.io's sessions\n")
    global ROOT
    root, ROOT = ROOT, tmp_path
    try:
        expected = "helpers/planted.py:2: return len(sio.eio.sockets)  # engine.io's sessions"
        assert internal_uses(planted) == [expected]
    finally:
        ROOT = root
