"""Checkers for the exercises of the websocket notebooks, 03 to 06.

Each takes what the student wrote (an aiohttp handler; in 05 with the notebook's ``make_app``,
whose app keys the handler uses; in 06 the notebook's ``make_app`` and an action), serves it
on a spare port with named clients, and returns a ``Verdict`` (``helpers.checks.trial``).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

from aiohttp import web

from helpers.checks.trial import NOTHING, LogCursor, Nothing, NotYet, Trial, Verdict, checker, run_check
from helpers.checks.verdict import Described, shown
from helpers.clients.probes import STALLED_BUFFER, stalled_client
from helpers.server.app import json_actions

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

Handler = Callable[[web.Request], Any]
AppFactory = Callable[[], web.Application]


@checker
async def check_length_log(handler: Handler) -> Verdict:
    """Exercise 03.1: each message is logged with its length, ``ws got: hi (length 2)``."""

    async def scenario(trial: Trial) -> str:
        server = await trial.serve_handler(handler)
        log = LogCursor(server)
        alice, bob = await trial.websockets(server, "alice", "bob")
        for client, text in [(alice, "hi"), (bob, "héllo wörld"), (alice, "👋"), (alice, "a b c")]:
            await client.send(text)
            expected = f"ws got: {text} (length {len(text)})"
            trial.expect(f"{client} sent {text!r}", ("the server log", expected, await log.next("ws got")))
        return "The server logged 4 messages of 2 clients with their lengths in characters."

    return await run_check("log each message with its length", scenario, handler, shape="handler")


@checker
async def check_message_count(handler: Handler) -> Verdict:
    """Exercise 03.2: when a client leaves, ``Client sent N messages.`` is logged, N its own count."""

    async def scenario(trial: Trial) -> str:
        server = await trial.serve_handler(handler)
        log = LogCursor(server)
        alice, bob = await trial.websockets(server, "alice", "bob")
        for client, text in [(alice, "one"), (bob, "uno"), (alice, "two"), (bob, "dos"), (alice, "three")]:
            await client.send(text)
            logged = await log.next("ws got")
            trial.expect(f"{client} sent {text!r}", ("the server log", f"ws got: {text}", logged))
        for client, count in [(alice, 3), (bob, 2)]:
            await client.close()
            said = await log.next("Client sent")
            expected = f"Client sent {count} messages."
            trial.expect(f"{client} left, after sending {count}", ("the server log", expected, said))
        carol = await trial.websocket(server, "carol")
        await carol.close()
        said = await log.next("Client sent")
        expected = "Client sent 0 messages."
        trial.expect("carol came and left, sending nothing", ("the server log", expected, said))
        return "Alice's 3, Bob's 2 and Carol's 0 messages were each counted on their own."

    return await run_check("count a client's messages", scenario, handler, shape="handler")


@checker
async def check_upper_echo(handler: Handler) -> Verdict:
    """Exercise 04.1: the server answers each message in upper case, to its sender only."""

    async def scenario(trial: Trial) -> str:
        server = await trial.serve_handler(handler)
        alice, bob = await trial.websockets(server, "alice", "bob")
        for client, other, text in [(alice, bob, "hi there"), (alice, bob, "Grüße"), (bob, alice, "ok")]:
            await client.send(text)
            await trial.deliveries(f"{client} sent {text!r}", {client: text.upper(), other: NOTHING})
        return "Each answer came back in upper case ('Grüße' as 'GRÜSSE'), to its sender only."

    return await run_check("upper-case echo", scenario, handler, shape="handler")


@checker
async def check_numbered_echo(handler: Handler) -> Verdict:
    """Exercise 04.2: each client's messages come back numbered, ``1: hi``, ``2: there``."""

    async def scenario(trial: Trial) -> str:
        server = await trial.serve_handler(handler)
        alice, bob = await trial.websockets(server, "alice", "bob")
        for client, text, answer in [
            (alice, "hi", "1: hi"),
            (alice, "there", "2: there"),
            (bob, "ho", "1: ho"),
            (alice, "again", "3: again"),
            (bob, "hey", "2: hey"),
        ]:
            action = f"{client} sent {text!r}, {client}'s message number {answer.split(':')[0]}"
            await trial.answered(client, text, answer, action)
        return "Alice and Bob each got their own numbers, from 1."

    return await run_check("numbered echo", scenario, handler, shape="handler")


@checker
async def check_online_count(make_app: AppFactory, handler: Handler) -> Verdict:
    """Exercise 05.1: everyone online hears ``clients online: N`` when a client comes or goes;
    every message reaches everyone; a client that stopped reading holds nobody back."""

    async def scenario(trial: Trial) -> str:
        server = await trial.serve_handler(handler, state_from=make_app)
        alice = await trial.websocket(server, "alice")
        await trial.deliveries("alice connected", {alice: "clients online: 1"})
        bob = await trial.websocket(server, "bob")
        await trial.deliveries("bob connected", {alice: "clients online: 2", bob: "clients online: 2"})
        await alice.send("hi")
        await trial.deliveries("alice sent 'hi'", {alice: "hi", bob: "hi"})
        carol = await trial.websocket(server, "carol")
        online = {alice: "clients online: 3", bob: "clients online: 3", carol: "clients online: 3"}
        await trial.deliveries("carol connected", online)
        await bob.close()
        await trial.deliveries("bob left", {alice: "clients online: 2", carol: "clients online: 2"})
        await carol.send("where is bob?")
        await trial.deliveries("carol sent 'where is bob?'", {alice: "where is bob?", carol: "where is bob?"})
        await stalled_reader_holds_nobody_back(trial, server, alice, carol)
        return "Everyone heard each arrival, message and departure; a stalled client held no one back."

    return await run_check("clients online", scenario, handler, shape="handler")


async def stalled_reader_holds_nobody_back(
    trial: Trial, server: Any, alice: Any, carol: Any, *, announced: str | None = "clients online: 3",
    messages: int = 30,
) -> None:
    """dave joins and reads nothing; alice sends more than his buffers hold: carol gets it all.

    ``announced`` is what alice and carol hear when dave arrives. On a server of the check's own,
    dave's side of the connection buffers little, as on a slow network; a server in a process of
    its own buffers megabytes for him, so ``messages`` must be more.
    """
    dave = await stalled_client(server.ws_url)
    trial.peers.append(_Closing(dave))
    for ws in list(trial.opened):  # dave's connection, on the server's side: it buffers little,
        if not ws.closed and ws.get_extra_info("peername") == dave.local_address:  # as on a slow network
            ws.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, STALLED_BUFFER)
    if announced is not None:
        await trial.deliveries("dave connected", {alice: announced, carol: announced})
    texts = [f"{n}: " + "x" * 20_000 for n in range(messages)]
    for text in [*texts, "still there?"]:
        await alice.send(text)
    got: list[Any] = []
    while not got or got[-1] != "still there?":
        arrived = await carol.receive(timeout=4.0)
        if isinstance(arrived, Nothing):
            got.append(arrived)
            break
        if not arrived.startswith("clients online:"):  # dave dropped meanwhile: carol may hear it
            got.append(arrived)
    action = (
        f"dave connected, then read nothing (a frozen laptop); "
        f"alice sent {messages} long messages (20,000 characters each), then 'still there?'"
    )
    trial.expect(action, ("carol", _told([*texts, "still there?"]), _told(got)))


def _told(messages: list[Any]) -> Described:
    """What a client got, in short: ``30 long messages, then 'still there?'``."""
    long = [text for text in messages if isinstance(text, str) and len(text) > 40]
    rest = [shown(text) for text in messages if not (isinstance(text, str) and len(text) > 40)]
    return Described(", then ".join([f"{len(long)} long messages", *rest]))


class _Closing:
    """A raw ``websockets`` connection closed with the check's other clients."""

    def __init__(self, ws: Any) -> None:
        self.ws, self.name = ws, "dave"

    async def close(self) -> None:
        self.ws.close()


@checker
async def check_named_chat(make_app: AppFactory, handler: Handler) -> Verdict:
    """Exercise 05.2: a client's first message is its name (``* alice joined``); later ones read
    ``alice: hi``, to everyone; when a named client leaves, the others hear ``* alice left``."""

    async def scenario(trial: Trial) -> str:
        server = await trial.serve_handler(handler, state_from=make_app)
        alice = await trial.websocket(server, "alice")
        await alice.send("alice")
        await trial.deliveries("alice connected and sent 'alice'", {alice: "* alice joined"})
        bob = await trial.websocket(server, "bob")
        await bob.send("bob")
        await trial.deliveries("bob connected and sent 'bob'", {alice: "* bob joined", bob: "* bob joined"})
        for client, text in [(alice, "hi"), (bob, "hello alice"), (alice, "how are you?")]:
            await client.send(text)
            line = f"{client}: {text}"
            await trial.deliveries(f"{client} sent {text!r}", {alice: line, bob: line})
        carol = await trial.websocket(server, "carol")
        await carol.send("carol")
        everyone = (alice, bob, carol)
        await trial.deliveries("carol connected and sent 'carol'", dict.fromkeys(everyone, "* carol joined"))
        await carol.send("hey")
        await trial.deliveries("carol sent 'hey'", dict.fromkeys(everyone, "carol: hey"))
        await bob.close()
        await trial.deliveries("bob left", {alice: "* bob left", carol: "* bob left"})
        dave = await trial.websocket(server, "dave")
        await dave.close()
        await trial.deliveries("dave came and left without a word", {alice: NOTHING, carol: NOTHING})
        return "Names, lines and departures reached everyone, and the server let go of every client."

    return await run_check("names from the first message", scenario, handler, shape="handler")


def _with_action(make_app: AppFactory, kind: str, action: Any) -> web.Application:
    if not callable(make_app):
        raise NotYet("pass make_app itself, without parentheses: the checker calls it")
    app = make_app()
    actions = json_actions(app) if isinstance(app, web.Application) else None
    if actions is None:
        raise NotYet("make_app() must return notebook 6's app, with its table of actions")
    actions[kind] = action
    return app


async def _joined(trial: Trial, server: Any, *nicks: str) -> list[Any]:
    """A client per nickname, each joined; every ``join`` notice read, so inboxes are empty."""
    clients = []
    for nick in nicks:
        client = await trial.websocket(server, nick)
        sent = {"type": "nick", "nick": nick}
        await client.send(json.dumps(sent))
        clients.append(client)
        notice = {"type": "join", "nick": nick}
        await trial.deliveries(f"{nick} sent {sent}", dict.fromkeys(clients, notice), as_json=True)
    return clients


@checker
async def check_me_action(make_app: AppFactory, on_chat: Any) -> Verdict:
    """Exercise 06.1: ``/me waves`` goes to everyone as ``{"type": "me", "nick": ..., "text": "waves"}``."""

    async def scenario(trial: Trial) -> str:
        server = await trial.serve(_with_action(make_app, "chat", on_chat))
        alice, bob = await _joined(trial, server, "alice", "bob")
        for client, text, kind, said in [
            (alice, "/me waves", "me", "waves"),
            (alice, "hi", "chat", "hi"),
            (bob, "/me eats", "me", "eats"),
            (bob, "hi /me there", "chat", "hi /me there"),
            (alice, "/meow", "chat", "/meow"),
            (alice, "/me", "chat", "/me"),
        ]:
            sent = {"type": "chat", "text": text}
            await client.send(json.dumps(sent))
            answer = {"type": kind, "nick": client.name, "text": said}
            await trial.deliveries(f"{client} sent {sent}", {alice: answer, bob: answer}, as_json=True)
        return "Only a text starting with '/me ' became a me message, to everyone; the rest stayed chat."

    return await run_check("a /me action", scenario, on_chat, shape="action")


@checker
async def check_nickname_rules(make_app: AppFactory, on_nick: Any) -> Verdict:
    """Exercise 06.2: a nickname is one word of letters, digits, ``_`` or ``-``."""

    async def scenario(trial: Trial) -> str:
        server = await trial.serve(_with_action(make_app, "nick", on_nick))
        (alice,) = await _joined(trial, server, "alice")
        bob = await trial.websocket(server, "bob")
        refusal = {"type": "error", "error": "a nickname is letters, digits, _ and - only"}
        for nick in ("bob smith", "<b>", "bob!", "bob.", "bob\tb"):
            sent = {"type": "nick", "nick": nick}
            await bob.send(json.dumps(sent))
            await trial.deliveries(f"bob sent {sent}", {bob: refusal, alice: NOTHING}, as_json=True)
        for client, nick, notice in [
            (bob, "bob_smith", {"type": "join", "nick": "bob_smith"}),
            (alice, "Al-2", {"type": "rename", "old": "alice", "nick": "Al-2"}),
            (bob, "Zoë", {"type": "rename", "old": "bob_smith", "nick": "Zoë"}),
        ]:
            sent = {"type": "nick", "nick": nick}
            await client.send(json.dumps(sent))
            await trial.deliveries(f"{client} sent {sent}", {alice: notice, bob: notice}, as_json=True)
        return "Five bad nicknames were refused to their sender alone; 'bob_smith', 'Al-2' and 'Zoë' taken."

    return await run_check("nickname rules", scenario, on_nick, shape="action")
