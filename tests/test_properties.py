"""Properties of the chats' input handling, checked with hypothesis by real clients on loopback.

Issue 10: whatever a client sends (any JSON, any types, any text, any event, any ``auth``),
the server never raises out and answers with a valid message or nothing, and the chat goes
on for everyone. Example-based tests (test_stages.py, test_socketio_input.py) pin the inputs
we thought of; these generate the ones we didn't, and shrink a failure to its smallest form.

Each test starts its server once (the ``serve`` fixture, on a free 127.0.0.1 port) and
drives every hypothesis example against it with fresh real clients: the ``websockets``
library for the JSON chat, ``socketio.AsyncClient`` for the Socket.IO chats. pytest-asyncio
runs each example of an ``async`` ``@given`` test in the test's own loop, where the server
lives, so the function-scoped fixtures are shared by the examples on purpose.

Profiles: ``ci`` (the default: few examples, derandomized, so a run is reproducible) and
``explore`` (many random examples, to look for new failures): ``HYPOTHESIS_PROFILE=explore``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
import socketio
import websockets
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from helpers.common.quiet import quiet_logger
from helpers.kernel.lifecycle import RunningServer
from helpers.protocol import CLIENT_TYPES
from helpers.server.app import LIMITS
from helpers.server.limits import Limits
from helpers.server.sio.hold import socketio_server_of
from helpers.stages import json_chat, socketio_chat, socketio_features

SHARED = dict(
    deadline=None,  # loopback round trips, and a server shared by the examples: time varies
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # no .hypothesis/ in the work tree; a failure prints its reproduction blob
    print_blob=True,
)
NO_EXPLAIN = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]
settings.register_profile(  # one bug per test, shrunk: while a test fails, it fails within a minute
    "ci", max_examples=100, derandomize=True, report_multiple_bugs=False, phases=NO_EXPLAIN, **SHARED
)
settings.register_profile("explore", max_examples=1000, **SHARED)  # every distinct bug, explained
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TIMEOUT = 3.0
"""Seconds to wait for what must arrive: far more than a loopback round trip."""

ACK_TIMEOUT = 1.0
"""Seconds a ``call()`` waits for its acknowledgement; a missing one fails the property."""

INTERNAL = "internal server error"


def without_rate_limit(server: RunningServer) -> RunningServer:
    """Lift ``server``'s rate limit: alice and bob live across all the examples of a test.

    A hundred examples in a few seconds are a flood from alice's side, refused as it should be
    (test_limits.py and test_socketio_limits.py prove that); here the property is about what
    one message does, so the limit is raised out of the way, on the running server.
    """
    server.app[LIMITS].rate = server.app[LIMITS].burst = 10**9
    return server

PYTHON_RECURSION_LIMIT = sys.getrecursionlimit()
"""Python's own limit, as a kernel has it; hypothesis raises it while a test runs."""


@contextmanager
def python_recursion_limit() -> Iterator[None]:
    """Run an example under Python's usual recursion limit, as the server runs in a notebook.

    Hypothesis raises the limit by thousands while it runs a test, and by different amounts
    while it generates, shrinks and replays: the server (in this same thread) would crash on
    a nesting depth in one phase and not in the next, a flaky failure.
    """
    raised = sys.getrecursionlimit()
    sys.setrecursionlimit(PYTHON_RECURSION_LIMIT)
    try:
        yield
    finally:
        sys.setrecursionlimit(raised)


# --- strategies: what a client may send ------------------------------------------------

SURROGATE = st.characters(categories=["Cs"])  # lone surrogates: valid in JSON's \\u escapes only
texts = st.text(st.characters() | SURROGATE, max_size=40)
WORDS = ["chat", "alice", "bob", " alice ", "#room", "", " ", "x" * 32, "x" * 33, "y" * 500, "y" * 501]
"""Strings that mean something to the chats: their own names, rooms, and the length limits."""
words = st.sampled_from(WORDS) | texts
integers = st.integers() | st.integers(-(10**600), 10**600) | st.sampled_from(
    [2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, -(2**64)]
)
scalars = st.none() | st.booleans() | integers | st.floats() | words  # floats: nan, inf, -0.0 too
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(words, inner, max_size=4),
    max_leaves=12,
)


def dumps(value: Any, ensure_ascii: bool) -> str:
    """``value`` as Python writes JSON (NaN, Infinity included); ASCII when it holds lone surrogates."""
    text = json.dumps(value, ensure_ascii=ensure_ascii)
    try:
        text.encode()
    except UnicodeEncodeError:  # a websocket text frame is UTF-8: escape the surrogates
        text = json.dumps(value)
    return text


json_frames = st.builds(dumps, json_values, st.booleans())

MESSAGE_TYPES = sorted(CLIENT_TYPES)
FIELD_NAMES = sorted({name for fields in CLIENT_TYPES.values() for name in fields} | {"type", "old", "users"})
message_objects = st.builds(
    lambda fields, kind, typed: {**fields, "type": kind} if typed else fields,
    st.dictionaries(st.sampled_from(FIELD_NAMES) | texts, json_values, max_size=4),
    st.sampled_from(MESSAGE_TYPES) | words | json_values,
    st.booleans(),
)
message_frames = st.builds(dumps, message_objects, st.booleans())

NESTINGS = [("[", "]"), ('{"a":', "}"), ('{"type":', "}"), ('{"type":"chat","text":', "}"), ('[{"a":', "}]")]


DEPTHS = st.sampled_from([1, 2, 10, 100, 300, 500]) | st.integers(1000, 3000)
"""How deep: the hundreds pass Python's recursion limit of 1000 or not depending on how deep
the stack already is (hypothesis's own frames are under the server's here), so that band is
sampled, not shrunk into: the smallest failure reported is then the same in every run."""


@st.composite
def deep_frames(draw: st.DrawFn) -> str:
    """JSON nested ``depth`` levels deep, written as text (``json.dumps`` itself can't go that deep)."""
    opener, closer = draw(st.sampled_from(NESTINGS))
    depth = draw(DEPTHS)
    leaf = draw(st.sampled_from(["1", "null", '"x"', "[]", "{}", ""]))
    closed = draw(st.booleans())  # unclosed: malformed, but deep before the parser knows it
    inner = opener * depth + leaf + (closer * depth if closed else "")
    frame = draw(st.sampled_from([inner, '{"type":"chat","text":' + inner + "}", '{"type":' + inner + "}"]))
    return frame[: Limits().message_bytes]  # a longer one is closed with 1009: test_limits.py


JSON_CHARS = st.sampled_from(list('[]{}":,.-+0123456789eEtrufalsn\\/ \t\n') + ["NaN", "Infinity", "\\u"])


def as_sent(text: str) -> str:
    """``text`` as a text frame can carry it: UTF-8, so a lone surrogate becomes U+FFFD.

    (A client library can't send one; invalid UTF-8 on the wire has its own test, in test_stages.py.)
    """
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


any_text = (texts | st.text(max_size=300) | st.lists(JSON_CHARS, max_size=60).map("".join)).map(as_sent)
any_frames = any_text | st.binary(max_size=64)


@dataclass(frozen=True)
class Emission:
    """One Socket.IO event a client sends: its name, its arguments, and whether it asks for an ack."""

    event: str
    args: tuple[Any, ...]
    ack: bool


def emissions(events: st.SearchStrategy[str]) -> st.SearchStrategy[list[Emission]]:
    arguments = st.lists(words | json_values, max_size=4).map(tuple)
    return st.lists(st.builds(Emission, events, arguments, st.booleans()), min_size=1, max_size=3)


CONNECTION_EVENTS = ("connect", "disconnect")


def stage_events(stage: ModuleType) -> set[str]:
    """The events ``stage``'s server has handlers for (python-socketio's ``sio.handlers``)."""
    return set(socketio_server_of(stage.make_app()).handlers["/"])


def client_events(stage: ModuleType) -> list[str]:
    """The events a client of ``stage`` may send: those it handles, less the connection's own."""
    return sorted(stage_events(stage) - set(CONNECTION_EVENTS))


def unknown_events(stage: ModuleType) -> st.SearchStrategy[str]:
    known = stage_events(stage)
    return (words | st.text(max_size=20)).filter(lambda name: name not in known)


offsets = integers | st.floats() | words | st.booleans() | st.none() | json_values
auths = st.one_of(
    json_values,
    st.fixed_dictionaries({"serverOffset": offsets}, optional={"nick": words | json_values}),
    st.dictionaries(st.sampled_from(["nick", "serverOffset"]) | texts, json_values, max_size=3),
)


# --- the JSON chat: its messages, and a server with two well-behaved clients ------------

NICK_LIMIT = CLIENT_TYPES["nick"]["nick"]
TEXT_LIMIT = CLIENT_TYPES["chat"]["text"]
SERVER_FIELDS = {
    "error": {"error"},
    "join": {"nick"},
    "rename": {"old", "nick"},
    "chat": {"nick", "text"},
    "leave": {"nick"},
    "users": {"users"},
}
"""Every message type the JSON chat sends (json_chat.py), with its fields besides ``type``."""


def is_text(value: Any, limit: int) -> bool:
    """Text the protocol accepts: a string, not blank, at most ``limit`` characters."""
    return isinstance(value, str) and bool(value.strip()) and len(value) <= limit


def is_nick(value: Any, limit: int | None = NICK_LIMIT) -> bool:
    """A nickname as the servers keep it: trimmed, not empty (and not too long where limited)."""
    return isinstance(value, str) and value == value.strip() != "" and (limit is None or len(value) <= limit)


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def checked_json_message(text: str | bytes) -> dict[str, Any]:
    """``text`` as a server message of the JSON chat; fails the property if it is not a valid one."""
    assert isinstance(text, str), f"a binary frame from the server: {text!r}"
    message = json.loads(text, parse_constant=_no_constants)
    assert isinstance(message, dict) and message.get("type") in SERVER_FIELDS, f"not a message: {text}"
    kind = message["type"]
    assert set(message) == {"type"} | SERVER_FIELDS[kind], f"wrong fields: {text}"
    if kind == "error":
        assert isinstance(message["error"], str) and message["error"], text
        assert message["error"] != INTERNAL, "the server failed on this input (see its log)"
    elif kind == "users":
        assert isinstance(message["users"], list) and all(is_nick(n) for n in message["users"]), text
        assert message["users"] == sorted(message["users"]), text
    else:
        assert all(is_nick(message[name]) for name in ("nick", "old") if name in message), text
        assert kind != "chat" or is_text(message["text"], TEXT_LIMIT), text
    return message


async def read_until(ws: websockets.ClientConnection, done: Callable[[dict[str, Any]], bool]) -> None:
    """Read (and check) messages until one is ``done``: what came before was the answer to us."""
    async with asyncio.timeout(TIMEOUT):
        while not done(checked_json_message(await ws.recv())):
            pass


def named(nick: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: message["type"] in ("join", "rename") and message["nick"] == nick


def said(nick: str, text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: message == {"type": "chat", "nick": nick, "text": text}


@dataclass
class JsonChat:
    """The JSON chat server, with alice (who talks) and bob (who listens) connected and named."""

    server: RunningServer
    alice: websockets.ClientConnection
    bob: websockets.ClientConnection
    trouble: Trouble

    def __repr__(self) -> str:  # hypothesis prints the fixtures of a failing example
        return f"JsonChat({self.server.url})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis's printer: no fields
        printer.text(repr(self))


@pytest.fixture
async def raised_out() -> AsyncIterator[list[dict[str, Any]]]:
    """What reached the loop's exception handler ("Task exception was never retrieved"...).

    An exception that escapes a handler's task misses the server log: it is printed on
    stderr when the task is collected, in a notebook in some random cell. Collected here.
    """
    loop = asyncio.get_running_loop()
    contexts: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: contexts.append(context))
    yield contexts
    loop.set_exception_handler(previous)


@dataclass
class Trouble:
    """What went wrong in the server during one example: errors logged, exceptions raised out.

    The server lives across examples; each example looks at its own trouble only, so a
    failure is the example's own and hypothesis can shrink it.
    """

    server: RunningServer
    raised: list[dict[str, Any]]
    logged_before: int = 0

    async def run(self, example: Awaitable[None]) -> None:
        """Run one example; the server's own failure, if any, is the example's failure.

        It says more than what the clients saw (an ``internal server error``, a missing
        answer), and its place in the server's code tells hypothesis which bug it is. It is
        raised here, outside any ``except``, so that the clients' failure is not chained
        to it (hypothesis would count each chain as a bug of its own).
        """
        self.logged_before = len(self.server.log.errors)
        self.raised.clear()
        failure: Exception | None = None
        try:
            await example
        except Exception as exc:  # re-raised below, unless the server failed first
            failure = exc
        self.check()
        if failure is not None:
            raise failure

    def logged(self) -> bool:
        return len(self.server.log.errors) > self.logged_before

    def check(self) -> None:
        """Raise the server's first new error: logged, or raised out of a task (collected now)."""
        gc.collect(0)  # a task whose exception was never retrieved reports it when collected
        for error in self.server.log.errors[self.logged_before :]:
            raise noted(error.exception, f"The server logged: {error.summary}")
        for context in self.raised:
            message = f"Raised out of a task, printed on stderr: {context.get('message')}"
            raise noted(context.get("exception") or AssertionError(message), message)


def noted(exception: BaseException, note: str) -> BaseException:
    """``exception`` with ``note`` (once): re-raised as it is, it points at the server's line."""
    if note not in getattr(exception, "__notes__", []):
        exception.add_note(note)
    return exception


@pytest.fixture
async def json_chat_server(serve, raised_out) -> AsyncIterator[JsonChat]:
    server = without_rate_limit(await serve(json_chat.make_app()))
    alice, bob = await websockets.connect(server.ws_url), await websockets.connect(server.ws_url)
    for ws, nick in ((alice, "alice"), (bob, "bob")):
        await ws.send(json.dumps({"type": "nick", "nick": nick}))
        await read_until(ws, named(nick))
    yield JsonChat(server, alice, bob, Trouble(server, raised_out))
    await alice.close()
    await bob.close()


async def send_to_json_chat(chat: JsonChat, frame: str | bytes, nick: bool) -> None:
    """A new client (named first if ``nick``) sends ``frame``; check what everyone gets after it.

    The sender then names itself with a fresh token: the server handles a client's messages
    in order, so everything it got before the ``join``/``rename`` of that token answered
    ``frame`` (or was someone else's broadcast), and each of those must be valid. Then bob
    must see the token and alice's next line, and so must the sender: everyone chats on.
    """
    await chat.trouble.run(exchange(chat, frame, nick, uuid.uuid4().hex[:12]))


async def exchange(chat: JsonChat, frame: str | bytes, nick: bool, token: str) -> None:
    with python_recursion_limit():
        await exchange_as_usual(chat, frame, nick, token)


async def exchange_as_usual(chat: JsonChat, frame: str | bytes, nick: bool, token: str) -> None:
    async with websockets.connect(chat.server.ws_url, max_size=None) as sender:
        if nick:
            await sender.send(json.dumps({"type": "nick", "nick": f"n-{token}"}))
            await read_until(sender, named(f"n-{token}"))
        await sender.send(frame)
        await sender.send(json.dumps({"type": "nick", "nick": f"b-{token}"}))
        await read_until(sender, named(f"b-{token}"))
        await read_until(chat.bob, named(f"b-{token}"))
        await chat.alice.send(json.dumps({"type": "chat", "text": f"alive {token}"}))
        for ws in (sender, chat.bob, chat.alice):
            await read_until(ws, said("alice", f"alive {token}"))


@given(frame=json_frames, nick=st.booleans())
async def test_json_chat_any_json_value(json_chat_server, frame, nick):
    """Any JSON value (NaN, huge ints, lone surrogates...) as a whole message: valid answers only."""
    await send_to_json_chat(json_chat_server, frame, nick)


@given(frame=message_frames, nick=st.booleans())
async def test_json_chat_any_message_object(json_chat_server, frame, nick):
    """Objects with the protocol's types or others, and fields of any type: valid answers only."""
    await send_to_json_chat(json_chat_server, frame, nick)


@given(frame=deep_frames(), nick=st.booleans())
async def test_json_chat_deeply_nested_json(json_chat_server, frame, nick):
    """Nesting up to thousands of levels, within the length limit: refused cleanly, never a crash."""
    await send_to_json_chat(json_chat_server, frame, nick)


@given(frame=any_frames, nick=st.booleans())
async def test_json_chat_any_text_or_bytes(json_chat_server, frame, nick):
    """Text that is mostly not JSON, and binary frames: a JSON ``error`` each, the chat goes on."""
    await send_to_json_chat(json_chat_server, frame, nick)


# --- the Socket.IO chats: their answers and events, and a server with two clients -------

Check = Callable[[Any], bool]


def is_dict(keys: set[str], **checks: Check) -> Check:
    return lambda value: isinstance(value, dict) and set(value) == keys and all(
        check(value[key]) for key, check in checks.items()
    )


def is_nicks(value: Any) -> bool:
    return isinstance(value, list) and all(is_nick(n, None) for n in value) and value == sorted(value)


def is_room(value: Any) -> bool:
    return is_text(value, NICK_LIMIT) and value == value.strip()


ANSWERS: dict[str, Check] = {
    "typing": lambda answer: answer is None,  # the handler returns nothing: an empty ack
    "who": is_dict({"users"}, users=is_nicks),
    "nick": is_dict({"nick"}, nick=is_nick),
    "private message": is_dict({"to"}, to=is_nick),
    "join": is_dict({"room", "members"}, room=is_room, members=is_nicks),
    "leave": is_dict({"room", "members"}, room=is_room, members=is_nicks),
    "room message": is_dict({"room"}, room=is_room),
}
"""Each client event's answer when the handler does it (socketio_features.py), but ``chat message``."""

STAGE_ANSWERS: dict[ModuleType, dict[str, Check]] = {
    socketio_features: {**ANSWERS, "chat message": lambda answer: answer == {}},
    socketio_chat: {
        **ANSWERS,
        "chat message": is_dict({"id"}, id=lambda id_: type(id_) is int and id_ > 0),
    },
}


def is_line(value: Any) -> bool:
    """``nick: text``, as both stages send a chat message."""
    return isinstance(value, str) and ": " in value and is_text(value.split(": ", 1)[1], TEXT_LIMIT)


def is_reason(value: Any) -> bool:
    """Why the server refused something: text, and not its own failure."""
    return isinstance(value, str) and value not in ("", INTERNAL)


def args_are(*checks: Check) -> Callable[[tuple[Any, ...]], bool]:
    def valid(args: tuple[Any, ...]) -> bool:
        return len(args) == len(checks) and all(check(arg) for check, arg in zip(checks, args, strict=True))

    return valid


def any_nick(value: Any) -> bool:
    return is_nick(value, None)


def is_said(value: Any) -> bool:
    return is_text(value, TEXT_LIMIT) and value == value.strip()


EVENTS_HEARD: dict[str, Callable[[tuple[Any, ...]], bool]] = {
    "user connected": args_are(any_nick),
    "user disconnected": args_are(any_nick),
    "nick changed": args_are(any_nick, any_nick),
    "typing": args_are(any_nick, lambda flag: isinstance(flag, bool)),
    "private message": args_are(any_nick, is_said),
    "room message": args_are(is_room, any_nick, is_said),
    "refused": args_are(is_dict({"error"}, error=is_reason)),
}
"""What a client of either stage hears, with its arguments; ``chat message`` differs by stage.

``refused`` answers input the server can't take at all (a packet it can't read, an integer
of more than 100 digits, binary): helpers.server.sio.refusals.REFUSED, its reason in ``error``."""

STAGE_EVENTS_HEARD: dict[ModuleType, dict[str, Callable[[tuple[Any, ...]], bool]]] = {
    socketio_features: {**EVENTS_HEARD, "chat message": args_are(is_line)},
    socketio_chat: {
        **EVENTS_HEARD,
        "chat message": args_are(
            is_line,
            lambda id_: type(id_) is int and id_ > 0,
            lambda offset: offset is None or isinstance(offset, str),
        ),
    },
}


@dataclass
class Peer:
    """A real ``socketio.AsyncClient`` that keeps every event it hears, and the malformed ones apart."""

    events: Mapping[str, Callable[[tuple[Any, ...]], bool]]
    client: socketio.AsyncClient = field(init=False)
    heard: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    malformed: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    refusals: list[tuple[Any, ...]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = socketio.AsyncClient(
            reconnection=False, logger=quiet_logger(), engineio_logger=quiet_logger("engine.io client")
        )
        self.client.on("*", self._hear)
        self.client.on("connect_error", self._refused)

    def _refused(self, *data: Any) -> None:
        """The server's answer to a connection it refuses: its reason, if it gave one."""
        self.refusals.append(data)

    async def _hear(self, event: str, *args: Any) -> None:
        valid = self.events.get(event)
        if valid is None or not valid(args):
            self.malformed.append((event, args))
        self.heard.append((event, args))

    async def connect(self, url: str, auth: Any = None) -> None:
        await self.client.connect(url, auth=auth, transports=["websocket"], wait_timeout=TIMEOUT)

    def has_heard(self, line_ends: str) -> bool:
        """Whether a chat message ending in ``line_ends`` came."""
        lines = [str(args[0]) for event, args in self.heard if event == "chat message" and args]
        return any(line.endswith(line_ends) for line in lines)


async def ask(peer: Peer, event: str, *args: Any) -> Any:
    """``call()``: emit ``event`` asking for an ack and return it; no ack in time fails the property."""
    try:
        return await peer.client.call(event, args, timeout=ACK_TIMEOUT)
    except socketio.exceptions.TimeoutError:
        raise AssertionError(f"no acknowledgement of {event!r} within {ACK_TIMEOUT} s") from None


async def caught_up(peer: Peer) -> Any:
    """Ask ``who`` and wait for the answer; return it.

    The server sends to a client in order, and its handlers here never wait for anything
    outside: once this answer is in, so is everything sent to ``peer`` before it, and every
    earlier event of ``peer``'s has been handled and acknowledged. No sleeping, no guessing.
    """
    return await ask(peer, "who")


@dataclass
class SocketIOChat:
    """A Socket.IO stage's server with alice (who talks) and bob (who listens) connected."""

    stage: ModuleType
    server: RunningServer
    alice: Peer
    bob: Peer
    trouble: Trouble

    def peer(self) -> Peer:
        return Peer(STAGE_EVENTS_HEARD[self.stage])

    def __repr__(self) -> str:  # hypothesis prints the fixtures of a failing example
        return f"SocketIOChat({self.stage.__name__}, {self.server.url})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis's printer: no fields
        printer.text(repr(self))


STAGES = [
    pytest.param(socketio_features, id="socketio-features"),
    pytest.param(socketio_chat, id="socketio-chat"),
]


@pytest.fixture(params=STAGES)
async def sio_chat(request, serve, raised_out) -> AsyncIterator[SocketIOChat]:
    stage: ModuleType = request.param
    server = without_rate_limit(await serve(stage.make_app()))
    peers = Peer(STAGE_EVENTS_HEARD[stage]), Peer(STAGE_EVENTS_HEARD[stage])
    chat = SocketIOChat(stage, server, *peers, Trouble(server, raised_out))
    await chat.alice.connect(server.url, {"nick": "alice"})
    await chat.bob.connect(server.url, {"nick": "bob"})
    yield chat
    await chat.alice.client.disconnect()
    await chat.bob.client.disconnect()


def check_answer(stage: ModuleType, event: str, answer: Any) -> None:
    """An ack is ``{"error": why}`` or the handler's own answer; no handler, no other answer."""
    if isinstance(answer, dict) and set(answer) == {"error"}:
        assert isinstance(answer["error"], str) and answer["error"], answer
        assert answer["error"] != INTERNAL, f"the server failed on {event!r} (see its log)"
        return
    normal = STAGE_ANSWERS[stage].get(event)
    assert normal is not None and normal(answer), f"{event!r} was answered {answer!r}"


async def hears(talker: Peer, listener: Peer, text: str, tries: int = 3) -> bool:
    """Whether ``listener`` hears ``text`` said by ``talker`` (said again, if need be).

    Saying it again covers a client of socketio-chat that has just connected: it joins the
    live chat once the server has caught it up (always_connect), which may be just after.
    """
    for attempt in range(tries):
        answer = await ask(talker, "chat message", f"{text} {attempt}", None)
        assert isinstance(answer, dict) and "error" not in answer, answer
        await caught_up(listener)
        if listener.has_heard(f"{text} {attempt}"):
            return True
        await asyncio.sleep(0.05 * (attempt + 1))
    return False


async def check_chat_goes_on(chat: SocketIOChat, fuzz: Peer) -> None:
    """``fuzz`` is still connected, bob hears it, fuzz and bob hear alice; all heard well-formed."""
    token = uuid.uuid4().hex[:12]
    assert fuzz.client.connected, "the server dropped the client"
    assert await hears(fuzz, chat.bob, f"from fuzz {token}"), "bob no longer hears this client"
    assert await hears(chat.alice, chat.bob, f"from alice {token}"), "bob no longer hears alice"
    assert await hears(chat.alice, fuzz, f"to fuzz {token}"), "connected, but deaf to the chat"
    for peer in (fuzz, chat.alice, chat.bob):
        assert peer.malformed == [], "an event with arguments its clients can't read"


async def with_client(
    chat: SocketIOChat, fuzz: Peer, auth: Any, then: Callable[[Peer], Awaitable[None]]
) -> None:
    """One example: ``fuzz`` connects with ``auth``, does ``then``, leaves; the server is checked."""

    async def example() -> None:
        try:
            await connect_watching(chat, fuzz, auth)
            await then(fuzz)
        finally:
            await disconnect(chat, fuzz)

    await chat.trouble.run(example())


async def connect_watching(chat: SocketIOChat, fuzz: Peer, auth: Any) -> None:
    """Connect ``fuzz``, but stop waiting once the server logs an error: it won't answer then."""
    connecting = asyncio.ensure_future(fuzz.connect(chat.server.url, auth))
    while not connecting.done() and not chat.trouble.logged():
        await asyncio.wait({connecting}, timeout=0.01)
    if not connecting.done():
        connecting.cancel()
        await asyncio.gather(connecting, return_exceptions=True)
        raise AssertionError("the server failed while the client connected")  # its error follows
    connecting.result()


async def disconnect(chat: SocketIOChat, peer: Peer) -> None:
    """Disconnect ``peer`` and wait until the server has let it go (so ``who`` lists 3 next time)."""
    if not peer.client.connected:
        await peer.client.disconnect()  # an engine.io connection may be open still
        return
    mark = chat.server.log.mark()
    await peer.client.disconnect()
    await chat.server.log.wait_for(" disconnected", since=mark, timeout=TIMEOUT)


async def send_all(fuzz: Peer, sent: list[Emission]) -> dict[int, Any]:
    """Emit each of ``sent`` in turn; the acks that came, by position, as ``call()`` returns them."""
    acks: dict[int, Any] = {}

    def keep(index: int) -> Callable[..., None]:
        return lambda *args: acks.__setitem__(index, args[0] if len(args) == 1 else args or None)

    for index, emission in enumerate(sent):
        await fuzz.client.emit(emission.event, emission.args, callback=keep(index) if emission.ack else None)
    who = await caught_up(fuzz)
    assert isinstance(who, dict) and len(who.get("users", [])) == 3, f"who lists {who}; 3 are connected"
    return acks


async def emit_all(chat: SocketIOChat, sent: list[Emission]) -> None:
    """A new client sends each of ``sent``, checks each ack it asked for, then chats normally."""

    async def send(fuzz: Peer) -> None:
        acks = await send_all(fuzz, sent)
        for index, emission in enumerate(sent):
            if emission.ack:
                assert index in acks, f"no acknowledgement of {emission.event!r}"
                check_answer(chat.stage, emission.event, acks[index])
        await check_chat_goes_on(chat, fuzz)

    await with_client(chat, chat.peer(), {"nick": "fuzz"}, send)


@given(sent=st.data())
async def test_socketio_client_events(sio_chat, sent):
    """Each event of the stage's ``EVENTS``, any arguments: ``{"error": ...}`` or the handler's answer."""
    events = st.sampled_from(client_events(sio_chat.stage))
    await emit_all(sio_chat, sent.draw(emissions(events), label="sent"))


@pytest.mark.parametrize("event", CONNECTION_EVENTS)
@given(sent=st.data())
async def test_socketio_connection_event_names(sio_chat, event, sent):
    """``connect``/``disconnect`` emitted as ordinary events: refused, the connection unchanged."""
    await emit_all(sio_chat, sent.draw(emissions(st.just(event)), label="sent"))


@given(sent=st.data())
async def test_socketio_unknown_events(sio_chat, sent):
    """An event no handler takes: an ack asked for is ``{"error": ...}``, never silence."""
    await emit_all(sio_chat, sent.draw(emissions(unknown_events(sio_chat.stage)), label="sent"))


@given(auth=auths)
async def test_socketio_any_auth(sio_chat, auth):
    """Any ``auth`` (``serverOffset`` of any type and size): a clear refusal, or a client that chats.

    Never connected but deaf: a client that is in must hear the next chat message. An ``auth``
    the server can't read (an integer of over 100 digits: engine.io's limit) is refused with
    its reason: as ``connect_error``, or (socketio-chat lets every client in first) as a
    ``refused`` event followed by the server's disconnect.
    """
    fuzz = sio_chat.peer()

    async def chats(fuzz: Peer) -> None:
        try:
            await caught_up(fuzz)
        except AssertionError:  # no answer: the server must have let it in only to refuse it
            pass
        refused = [args for event, args in fuzz.heard if event == "refused"]
        if refused:  # always_connect (socketio-chat): in, told why, then let go
            async with asyncio.timeout(TIMEOUT):
                while fuzz.client.connected:
                    await asyncio.sleep(0.01)
            return
        await check_chat_goes_on(sio_chat, fuzz)

    try:
        await with_client(sio_chat, fuzz, auth, chats)
    except socketio.exceptions.ConnectionError:
        assert fuzz.refusals, "no answer to the connection request: neither connected nor refused"
        assert all(refusal for refusal in fuzz.refusals), f"refused without a reason: {fuzz.refusals}"


# --- the Socket.IO chats on the wire: any packet a raw client can send ---------------------

PACKET_TYPES = st.sampled_from(["2", "3", "4", "5", "6", "7", "8", "9", "2", "2", "3"])
"""Socket.IO packet types past CONNECT (0) and DISCONNECT (1), events most often."""

raw_packets = st.builds(
    lambda kind, ack, body: f"4{kind}{ack}{body}",
    PACKET_TYPES,
    st.sampled_from(["", "7", "1-", "99999"]),
    json_frames | any_text,
)
"""What ``socketio.AsyncClient`` can't send: data of any shape after any packet type."""


@given(packet=raw_packets)
async def test_socketio_any_raw_packet(sio_chat, packet):
    """Any packet on a raw engine.io websocket: answered or ignored, never a server error; the
    same connection then asks ``who`` and gets its answer."""

    async def example() -> None:
        with python_recursion_limit():
            url = sio_chat.server.ws_url.split("?")[0] + "socket.io/?EIO=4&transport=websocket"
            async with websockets.connect(url, max_size=None) as ws:
                assert (await ws.recv()).startswith("0")
                await ws.send("40")
                assert (await ws.recv()).startswith("40")
                await ws.send(packet)
                await ws.send('42123456["who"]')
                async with asyncio.timeout(TIMEOUT):
                    while not (text := await ws.recv()).startswith("43123456"):
                        if text.startswith("42"):
                            event, *args = json.loads(text[2:])
                            valid = STAGE_EVENTS_HEARD[sio_chat.stage].get(event)
                            assert valid is not None and valid(tuple(args)), text
                assert len(json.loads(text[8:])[0]["users"]) == 3

    await sio_chat.trouble.run(example())
