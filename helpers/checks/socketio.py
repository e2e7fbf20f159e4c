"""Checkers for the exercises of the Socket.IO notebooks, 07 to 09.

Each takes the notebook's ``make_app`` and the handler the student wrote, starts
``make_app()`` on a spare port with that handler registered (``on_events``), drives real
python-socketio clients, and returns a ``Verdict`` (``helpers.checks.trial``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from helpers.checks.trial import Emit, Nothing, NotYet, Trial, Verdict, checker, run_check
from helpers.sio import EventHandler, on_events

__all__ = [
    "check_history",
    "check_me_line",
    "check_message_counter",
    "check_nick_case",
    "check_replay_limit",
    "check_shout",
]

AppFactory = Callable[[], web.Application]


async def _serve_with(trial: Trial, make_app: AppFactory, event: str, handler: EventHandler) -> Any:
    if not callable(make_app):
        raise NotYet("pass make_app itself, without parentheses: the checker calls it")
    app = make_app()
    on_events(app, {event: handler})
    return await trial.serve(app)


def _first(arguments: list[Any] | Nothing) -> Any:
    """An event's first argument (its text, for ``chat message``), or the ``Nothing``."""
    return arguments[0] if isinstance(arguments, list) and arguments else arguments


@checker
async def check_shout(make_app: AppFactory, shout: EventHandler) -> Verdict:
    """Exercise 07.1: ``shout`` reaches everyone as ``chat message`` in upper case."""

    async def scenario(trial: Trial) -> str:
        server = await _serve_with(trial, make_app, "shout", shout)
        alice, bob = await trial.socketio(server), await trial.socketio(server)
        await alice.emit("shout", "hi there")
        for client in (alice, bob):
            arrived = _first(await client.next("chat message"))
            trial.expect(sent=Emit("shout", ("hi there",)), expected="HI THERE", arrived=arrived)
        return "Both clients got 'HI THERE'."

    return await run_check("shout", scenario, shout, app_first=True)


@checker
async def check_message_counter(make_app: AppFactory, handler: EventHandler) -> Verdict:
    """Exercise 07.2: ``chat message`` is relayed and acknowledged ``{"count": n}`` per client."""

    async def scenario(trial: Trial) -> str:
        server = await _serve_with(trial, make_app, "chat message", handler)
        alice, bob = await trial.socketio(server), await trial.socketio(server)
        steps = [(alice, "one", 1), (alice, "two", 2), (bob, "three", 1), (alice, "four", 3)]
        for client, text, count in steps:
            sent = Emit("chat message", (text,))
            trial.expect(sent=sent, expected={"count": count}, arrived=await client.call(sent.event, text))
            client.pending("chat message")  # its own copy, if the app sends to the sender too
            listener = bob if client is alice else alice
            trial.expect(sent=sent, expected=text, arrived=_first(await listener.next("chat message")))
        return "Each client's messages were counted on their own, and relayed."

    return await run_check("count each client's messages", scenario, handler, app_first=True)


@checker
async def check_nick_case(make_app: AppFactory, nick: EventHandler) -> Verdict:
    """Exercise 08.1: a nickname another client has in any letter case is refused."""

    async def scenario(trial: Trial) -> str:
        server = await _serve_with(trial, make_app, "nick", nick)
        alice = await trial.socketio(server, auth={"nick": "alice"})
        bob = await trial.socketio(server, auth={"nick": "bob"})
        for client, new, answer in [
            (bob, "ALICE", {"error": "nickname 'ALICE' is taken"}),
            (bob, "alice", {"error": "nickname 'alice' is taken"}),
            (bob, "Bobby", {"nick": "Bobby"}),
            (alice, "Alice", {"nick": "Alice"}),
        ]:
            trial.expect(sent=Emit("nick", (new,)), expected=answer, arrived=await client.call("nick", new))
        trial.expect(
            sent=Emit("nick", ("Bobby",)), expected=["bob", "Bobby"], arrived=await alice.next("nick changed")
        )
        return "'ALICE' and 'alice' were taken; 'Bobby' and alice's own 'Alice' were not."

    return await run_check("nicknames in any case", scenario, nick, app_first=True)


@checker
async def check_me_line(make_app: AppFactory, chat_message: EventHandler) -> Verdict:
    """Exercise 08.2: ``/me waves`` reaches the others as ``* alice waves``."""

    async def scenario(trial: Trial) -> str:
        server = await _serve_with(trial, make_app, "chat message", chat_message)
        alice = await trial.socketio(server, auth={"nick": "alice"})
        bob = await trial.socketio(server, auth={"nick": "bob"})
        for text, line in [("/me waves", "* alice waves"), ("hi", "alice: hi")]:
            sent = Emit("chat message", (text,))
            answer = await alice.call(sent.event, text)
            if isinstance(answer, Nothing) or (isinstance(answer, dict) and "error" in answer):
                trial.expect(sent=sent, expected={}, arrived=answer)  # the acknowledgement
            trial.expect(sent=sent, expected=line, arrived=_first(await bob.next("chat message")))
        return "'/me waves' became '* alice waves'; 'hi' stayed 'alice: hi'."

    return await run_check("/me", scenario, chat_message, app_first=True)


async def _store_messages(trial: Trial, server: Any, count: int) -> Any:
    """A client ``writer`` that has sent ``m1`` ... ``m{count}``, each acknowledged with its id."""
    writer = await trial.socketio(server, auth={"nick": "writer", "serverOffset": 0})
    for number in range(1, count + 1):
        sent = Emit("chat message", (f"m{number}", f"writer-{number}"))
        trial.expect(sent=sent, expected={"id": number}, arrived=await writer.call(sent.event, *sent.args))
    return writer


async def _replayed(trial: Trial, server: Any, writer: Any, offset: int, live: str) -> list[Any]:
    """What a reader connecting with ``offset`` is replayed: what it gets before the live ``live``."""
    reader = await trial.socketio(server, auth={"nick": "reader", "serverOffset": offset})
    await writer.call("chat message", live, f"writer-{live}")
    lines = []
    while (arrived := _first(await reader.next("chat message"))) != f"writer: {live}":
        lines.append(arrived)
        if isinstance(arrived, Nothing):
            break  # what came, and then nothing
    return lines


@checker
async def check_replay_limit(make_app: AppFactory, connect: EventHandler) -> Verdict:
    """Exercise 09.1: a reconnecting client gets at most the last 3 messages it missed."""

    async def scenario(trial: Trial) -> str:
        server = await _serve_with(trial, make_app, "connect", connect)
        writer = await _store_messages(trial, server, 10)
        for offset, live, expected in [
            (0, "m11", ["writer: m8", "writer: m9", "writer: m10"]),
            (9, "m12", ["writer: m10", "writer: m11"]),
        ]:
            sent = f"(a client connects with serverOffset {offset}, then {live!r} is sent live)"
            arrived = await _replayed(trial, server, writer, offset, live)
            trial.expect(sent=sent, expected=expected, arrived=arrived)
        return "Offset 0 got the last 3 of 10 messages; offset 9 got the 2 it missed."

    return await run_check("a replay limit", scenario, connect, app_first=True)


@checker
async def check_history(make_app: AppFactory, history: EventHandler) -> Verdict:
    """Exercise 09.2: ``history`` answers ``{"lines": [...]}``, the last ``n`` lines, oldest first."""

    async def scenario(trial: Trial) -> str:
        server = await _serve_with(trial, make_app, "history", history)
        writer = await _store_messages(trial, server, 5)
        for n, lines in [(2, ["m4", "m5"]), (10, ["m1", "m2", "m3", "m4", "m5"]), (0, [])]:
            expected = {"lines": [f"writer: {line}" for line in lines]}
            arrived = await writer.call("history", n)
            trial.expect(sent=Emit("history", (n,)), expected=expected, arrived=arrived)
        return "The last 2, all 5 and none of 5 messages came back in order."

    return await run_check("history", scenario, history, app_first=True)
