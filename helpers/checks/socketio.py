"""Checkers for the exercises of the Socket.IO notebooks, 07 to 09.

Each takes the notebook's ``make_app`` and the function the student wrote, ``add_...(app)``,
which adds handlers to the app's python-socketio server; starts ``make_app()`` with it on a
spare port, drives named python-socketio clients, and returns a ``Verdict``
(``helpers.checks.trial``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from helpers.checks.trial import GRACE, NOTHING, Emit, Nothing, NotYet, Trial, Verdict, checker, run_check

__all__ = [
    "check_history",
    "check_me_line",
    "check_message_counter",
    "check_nick_case",
    "check_replay_limit",
    "check_shout",
]

AppFactory = Callable[[], web.Application]
Feature = Callable[[web.Application], None]


async def _serve_with(trial: Trial, make_app: AppFactory, add_feature: Feature) -> Any:
    if not callable(make_app):
        raise NotYet("pass make_app itself, without parentheses: the checker calls it")
    app = make_app()
    name = getattr(add_feature, "__name__", "your function")
    try:
        add_feature(app)
    except NotImplementedError:
        raise NotYet(
            f"{name}(app) raised NotImplementedError (replace `raise NotImplementedError()` with your code)"
        ) from None
    except Exception as exc:
        raise NotYet(f"{name}(app) raised {type(exc).__name__}: {exc}") from None
    return await trial.serve(app)


async def events_arrive(
    trial: Trial, action: str, expected: dict[Any, Any], event: str = "chat message"
) -> None:
    """After ``action``, each client's next ``event`` (its first argument) is what ``expected`` says."""
    outcomes = []
    for peer, wanted in expected.items():
        if wanted is not NOTHING:
            outcomes.append((peer.name, wanted, await peer.first(event)))
    for peer, wanted in expected.items():
        if wanted is NOTHING:
            outcomes.append((peer.name, NOTHING, await peer.first(event, timeout=GRACE)))
    trial.expect(action, *outcomes)


@checker
async def check_shout(make_app: AppFactory, add_shout: Feature) -> Verdict:
    """Exercise 07.1: event ``shout`` reaches everyone, the sender too, as ``chat message`` in upper case."""

    async def scenario(trial: Trial) -> str:
        server = await _serve_with(trial, make_app, add_shout)
        alice, bob = await trial.socketios(server, "alice", "bob")
        for client, text in [(alice, "hi there"), (bob, "Grüße"), (alice, "ok")]:
            await client.emit("shout", text)
            await events_arrive(
                trial, f"{client} sent {Emit('shout', (text,))}", {alice: text.upper(), bob: text.upper()}
            )
        await bob.emit("chat message", "and in a normal voice", "bob-1")
        normal = "and in a normal voice"
        await events_arrive(
            trial, f"bob sent {Emit('chat message', (normal, 'bob-1'))}", {alice: normal, bob: normal}
        )
        return "Everyone got each shout in upper case ('Grüße' as 'GRÜSSE'), and chat messages as before."

    return await run_check("shout", scenario, add_shout, shape="feature")


@checker
async def check_message_counter(make_app: AppFactory, add_counted_chat_message: Feature) -> Verdict:
    """Exercise 07.2: ``chat message`` reaches everyone, acknowledged ``{"count": n}``: n is this client's."""

    async def scenario(trial: Trial) -> str:
        server = await _serve_with(trial, make_app, add_counted_chat_message)
        alice, bob = await trial.socketios(server, "alice", "bob")
        for client, text, count in [
            (alice, "one", 1),
            (alice, "two", 2),
            (bob, "three", 1),
            (alice, "four", 3),
        ]:
            sent = Emit("chat message", (text, f"{client}-{count}"))
            action = f"{client} sent {sent}, {client}'s message number {count}"
            await trial.acknowledged(client, sent, {"count": count}, action)
            await events_arrive(trial, f"{client} sent {sent}", {alice: text, bob: text})
        return "Each message reached everyone; each client's acknowledgements counted its own messages."

    return await run_check(
        "count each client's messages", scenario, add_counted_chat_message, shape="feature"
    )


@checker
async def check_nick_case(make_app: AppFactory, add_nick: Feature) -> Verdict:
    """Exercise 08.1: a nickname another client has, in any letter case, is refused."""

    async def scenario(trial: Trial) -> str:
        server = await _serve_with(trial, make_app, add_nick)
        alice = await trial.socketio(server, "Alice", auth={"nick": "Alice"})
        bob = await trial.socketio(server, "bob", auth={"nick": "bob"})
        for client, new, answer in [
            (bob, 42, {"error": "nickname must be non-empty text"}),
            (bob, "   ", {"error": "nickname must be non-empty text"}),
            (bob, "ALICE", {"error": "nickname 'ALICE' is taken"}),
            (bob, "alice", {"error": "nickname 'alice' is taken"}),
            (bob, "Alice", {"error": "nickname 'Alice' is taken"}),
            (bob, "Bobby", {"nick": "Bobby"}),
            (alice, "ALICE", {"nick": "ALICE"}),
            (alice, "bobby", {"error": "nickname 'bobby' is taken"}),
        ]:
            await trial.acknowledged(client, Emit("nick", (new,)), answer)
        for action, changed in [
            ("bob became 'Bobby'", ["bob", "Bobby"]),
            ("Alice became 'ALICE'", ["Alice", "ALICE"]),
        ]:
            trial.expect(action, ("Alice", changed, await alice.next("nick changed")))
        return "'ALICE', 'alice', 'bobby' were others'; 'Bobby', Alice's own 'ALICE' not; 42 no nickname."

    return await run_check("nicknames in any case", scenario, add_nick, shape="feature")


@checker
async def check_me_line(make_app: AppFactory, add_chat_message: Feature) -> Verdict:
    """Exercise 08.2: ``/me waves`` reaches the others (not the sender) as ``* alice waves``."""

    async def scenario(trial: Trial) -> str:
        server = await _serve_with(trial, make_app, add_chat_message)
        alice = await trial.socketio(server, "alice", auth={"nick": "alice"})
        bob = await trial.socketio(server, "bob", auth={"nick": "bob"})
        await alice.first("user connected")  # bob's arrival, told to alice
        for number, (text, line) in enumerate(
            [
                (42, None),
                ("   ", None),
                ("/me waves", "* alice waves"),
                ("hi", "alice: hi"),
                ("hi /me there", "alice: hi /me there"),
                ("/meow", "alice: /meow"),
                ("/me", "alice: /me"),
            ]
        ):
            sent = Emit("chat message", (text, f"alice-{number}"))
            if line is None:  # no text: refused, to alice alone
                await trial.acknowledged(alice, sent, {"error": "text must be non-empty text"})
                continue
            await trial.acknowledged(alice, sent, {})
            await events_arrive(trial, f"alice sent {sent}", {bob: line, alice: NOTHING})
        return "Only a text starting with '/me ' became '* alice ...', for the others; the rest 'alice: ...'."

    return await run_check("/me", scenario, add_chat_message, shape="feature")


async def _store_messages(trial: Trial, server: Any, count: int) -> Any:
    """A client ``writer`` that has sent ``m1`` ... ``m{count}``, each acknowledged with its id."""
    writer = await trial.socketio(server, "writer", auth={"nick": "writer", "serverOffset": 0})
    for number in range(1, count + 1):
        sent = Emit("chat message", (f"m{number}", f"writer-{number}"))
        await trial.acknowledged(writer, sent, {"id": number})
    return writer


async def _replayed(
    trial: Trial, server: Any, writer: Any, name: str, offset: int | None, live: str
) -> list[Any]:
    """What a reader connecting with ``offset`` is replayed: what it gets before the live ``live``."""
    auth = {"nick": name} if offset is None else {"nick": name, "serverOffset": offset}
    reader = await trial.socketio(server, name, auth=auth)
    await writer.call("chat message", live, f"writer-{live}")
    lines = []
    while (arrived := await reader.first("chat message")) != f"writer: {live}":
        lines.append(arrived)
        if isinstance(arrived, Nothing):
            break  # what came, and then nothing
    return lines


@checker
async def check_replay_limit(make_app: AppFactory, add_replay_limit: Feature) -> Verdict:
    """Exercise 09.1: a reconnecting client gets at most the last 3 messages it missed."""

    async def scenario(trial: Trial) -> str:
        server = await _serve_with(trial, make_app, add_replay_limit)
        writer = await _store_messages(trial, server, 10)
        for name, offset, live, expected in [
            ("carol", 0, "m11", ["writer: m8", "writer: m9", "writer: m10"]),
            ("dave", 10, "m12", ["writer: m11"]),
            ("erin", 9, "m13", ["writer: m10", "writer: m11", "writer: m12"]),
            ("frank", 11, "m14", ["writer: m12", "writer: m13"]),
            ("gina", None, "m15", []),
        ]:
            named = "no serverOffset" if offset is None else f"serverOffset {offset}"
            action = f"{name} connected with {named}, then writer sent {live!r}"
            got = await _replayed(trial, server, writer, name, offset, live)
            trial.expect(action, (f"{name}, before {live!r},", expected, got))
            extra = await writer.first("chat message", timeout=GRACE)  # the replay was for the newcomer
            trial.expect(action, ("writer", NOTHING, extra))
        return "Clients that missed 11, 1, 3, 2 messages got the last 3, 1, 3, 2; one with no offset, none."

    return await run_check("a replay limit", scenario, add_replay_limit, shape="feature")


@checker
async def check_history(make_app: AppFactory, add_history: Feature) -> Verdict:
    """Exercise 09.2: ``history`` answers ``{"lines": [...]}``, the last ``n`` lines, oldest first."""

    async def scenario(trial: Trial) -> str:
        server = await _serve_with(trial, make_app, add_history)
        writer = await _store_messages(trial, server, 5)
        for n, lines in [(2, ["m4", "m5"]), (10, ["m1", "m2", "m3", "m4", "m5"]), (1, ["m5"]), (0, [])]:
            expected = {"lines": [f"writer: {line}" for line in lines]}
            answer = await writer.call("history", n)
            trial.expect(
                f"writer sent {Emit('history', (n,))}", ("writer's acknowledgement", expected, answer)
            )
        return "The last 2, all 5, the last 1 and none of 5 messages came back, oldest first."

    return await run_check("history", scenario, add_history, shape="feature")
