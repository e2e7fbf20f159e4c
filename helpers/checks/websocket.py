"""Checkers for the exercises of the raw websocket notebooks, 03 to 06.

Each takes what the student wrote (a websocket handler, or for 06 the notebook's
``make_app`` and an action), serves it on a spare port with real clients, and returns a
``Verdict``. See ``helpers.checks.trial`` for how a check runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from helpers.app import Action, Handler, chat_app, on_messages
from helpers.checks.trial import LogCursor, NotYet, Trial, Verdict, checker, run_check

__all__ = [
    "check_length_log",
    "check_me_action",
    "check_message_count",
    "check_named_chat",
    "check_nickname_rules",
    "check_numbered_echo",
    "check_online_count",
    "check_upper_echo",
]


@checker
async def check_length_log(handler: Handler) -> Verdict:
    """Exercise 03.1: each message is logged with its length, ``ws got: hi (length 2)``."""

    async def scenario(trial: Trial) -> str:
        server = await trial.serve(chat_app(websocket=handler))
        client, log = await trial.websocket(server), LogCursor(server)
        texts = ["hi", "héllo wörld", "👋"]
        for text in texts:
            await client.send(text)
            arrived = await log.next("ws got")
            trial.expect(sent=text, expected=f"ws got: {text} (length {len(text)})", arrived=arrived)
        return f"The server logged {len(texts)} messages with their lengths."

    return await run_check("log each message with its length", scenario, handler)


@checker
async def check_message_count(handler: Handler) -> Verdict:
    """Exercise 03.2: when a client leaves, ``Client sent N messages.`` is logged."""

    async def scenario(trial: Trial) -> str:
        server = await trial.serve(chat_app(websocket=handler))
        log = LogCursor(server)
        for texts in (["one", "two", "three"], []):
            client = await trial.websocket(server)
            for text in texts:
                await client.send(text)
                trial.expect(sent=text, expected=f"ws got: {text}", arrived=await log.next("ws got"))
            await client.close()
            sent = texts + ["(the client leaves)"]
            expected = f"Client sent {len(texts)} messages."
            trial.expect(sent=sent, expected=expected, arrived=await log.next("Client sent"))
        return "It counted 3 messages from one client and 0 from another."

    return await run_check("count a client's messages", scenario, handler)


@checker
async def check_upper_echo(handler: Handler) -> Verdict:
    """Exercise 04.1: the server answers each message in upper case."""

    async def scenario(trial: Trial) -> str:
        server = await trial.serve(chat_app(websocket=handler))
        client = await trial.websocket(server)
        for text in ("hi there", "Grüße"):
            await client.send(text)
            trial.expect(sent=text, expected=text.upper(), arrived=await client.receive())
        return "The server answered 'hi there' and 'Grüße' in upper case."

    return await run_check("upper-case echo", scenario, handler)


@checker
async def check_numbered_echo(handler: Handler) -> Verdict:
    """Exercise 04.2: each client's messages come back numbered, ``1: hi``, ``2: there``."""

    async def scenario(trial: Trial) -> str:
        server = await trial.serve(chat_app(websocket=handler))
        alice, bob = await trial.websocket(server), await trial.websocket(server)
        for client, text, answer in [
            (alice, "hi", "1: hi"),
            (alice, "there", "2: there"),
            (bob, "ho", "1: ho"),
            (alice, "again", "3: again"),
        ]:
            await client.send(text)
            trial.expect(sent=text, expected=answer, arrived=await client.receive())
        return "Two clients each got their own numbers."

    return await run_check("numbered echo", scenario, handler)


@checker
async def check_online_count(handler: Handler) -> Verdict:
    """Exercise 05.1: everyone hears ``clients online: N`` when a client comes or goes."""

    async def scenario(trial: Trial) -> str:
        server = await trial.serve(chat_app(websocket=handler))
        alice = await trial.websocket(server)
        come = "(a client connects)"
        trial.expect(sent=come, expected="clients online: 1", arrived=await alice.receive())
        bob = await trial.websocket(server)
        for client in (alice, bob):
            trial.expect(sent=come, expected="clients online: 2", arrived=await client.receive())
        await alice.send("hi")
        for client in (alice, bob):
            trial.expect(sent="hi", expected="hi", arrived=await client.receive())
        await bob.close()
        go = "(a client leaves)"
        trial.expect(sent=go, expected="clients online: 1", arrived=await alice.receive())
        return "Arrivals, a message and a departure were all broadcast."

    return await run_check("clients online", scenario, handler)


@checker
async def check_named_chat(handler: Handler) -> Verdict:
    """Exercise 05.2: a client's first message is its name; later ones read ``alice: hi``."""

    async def scenario(trial: Trial) -> str:
        server = await trial.serve(chat_app(websocket=handler))
        alice, bob = await trial.websocket(server), await trial.websocket(server)
        for client, text, line in [
            (alice, "alice", "* alice joined"),
            (bob, "bob", "* bob joined"),
            (alice, "hi", "alice: hi"),
            (bob, "hello alice", "bob: hello alice"),
        ]:
            await client.send(text)
            for listener in (alice, bob):
                trial.expect(sent=text, expected=line, arrived=await listener.receive())
        return "Both clients were named by their first message."

    return await run_check("names from the first message", scenario, handler)


def _with_action(make_app: Callable[[], web.Application], kind: str, action: Action) -> web.Application:
    if not callable(make_app):
        raise NotYet("pass make_app itself, without parentheses: the checker calls it")
    app = make_app()
    on_messages(app, {kind: action})
    return app


def _json(message: Any) -> str:
    return json.dumps(message)


async def _joined(trial: Trial, server: Any, *nicks: str) -> list[Any]:
    """A client per nickname, each joined; every ``join`` notice read, so inboxes are empty."""
    clients = []
    for nick in nicks:
        client = await trial.websocket(server)
        sent, notice = {"type": "nick", "nick": nick}, {"type": "join", "nick": nick}
        await client.send(_json(sent))
        clients.append(client)
        for listener in clients:
            trial.expect(sent=sent, expected=notice, arrived=_parsed(await listener.receive()))
    return clients


def _parsed(arrived: Any) -> Any:
    if isinstance(arrived, str):
        try:
            return json.loads(arrived)
        except ValueError:
            return arrived
    return arrived


@checker
async def check_me_action(make_app: Callable[[], web.Application], on_chat: Action) -> Verdict:
    """Exercise 06.1: ``/me waves`` goes to everyone as ``{"type": "me", "nick": ..., "text": "waves"}``."""

    async def scenario(trial: Trial) -> str:
        server = await trial.serve(_with_action(make_app, "chat", on_chat))
        alice, bob = await _joined(trial, server, "alice", "bob")
        for sent, expected in [
            ({"type": "chat", "text": "/me waves"}, {"type": "me", "nick": "alice", "text": "waves"}),
            ({"type": "chat", "text": "hi"}, {"type": "chat", "nick": "alice", "text": "hi"}),
        ]:
            await alice.send(_json(sent))
            for listener in (alice, bob):
                trial.expect(sent=sent, expected=expected, arrived=_parsed(await listener.receive()))
        return "'/me waves' became a me message; 'hi' stayed a chat message."

    return await run_check("a /me action", scenario, on_chat, app_first=True)


@checker
async def check_nickname_rules(make_app: Callable[[], web.Application], on_nick: Action) -> Verdict:
    """Exercise 06.2: a nickname is one word of letters, digits, ``_`` or ``-``."""

    async def scenario(trial: Trial) -> str:
        server = await trial.serve(_with_action(make_app, "nick", on_nick))
        (alice,) = await _joined(trial, server, "alice")
        refusal = {"type": "error", "error": "a nickname is letters, digits, _ and - only"}
        for nick in ("alice smith", "<b>", "bob!"):
            sent = {"type": "nick", "nick": nick}
            await alice.send(_json(sent))
            trial.expect(sent=sent, expected=refusal, arrived=_parsed(await alice.receive()))
        for nick, notice in [
            ("alice_smith", {"type": "rename", "old": "alice", "nick": "alice_smith"}),
            ("Al-2", {"type": "rename", "old": "alice_smith", "nick": "Al-2"}),
        ]:
            sent = {"type": "nick", "nick": nick}
            await alice.send(_json(sent))
            trial.expect(sent=sent, expected=notice, arrived=_parsed(await alice.receive()))
        return "Three bad nicknames were refused, two good ones taken."

    return await run_check("nickname rules", scenario, on_nick, app_first=True)
