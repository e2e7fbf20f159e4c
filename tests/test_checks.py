"""The exercises' checkers: one deterministic verdict, never a hang, never an exception.

The teacher edition proves each checker passes a right answer (nbval compares its
"Passed"), the student edition that each says "not yet" to the stub. These tests cover
the answers in between: wrong, silent, crashing, not even async.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from helpers.app import LOG, SOCKETS, text_messages, websocket_session
from helpers.checks import (
    check_history,
    check_length_log,
    check_me_action,
    check_me_line,
    check_message_counter,
    check_nick_case,
    check_nickname_rules,
    check_online_count,
    check_replay_limit,
    check_shout,
    check_upper_echo,
    trial,
)
from helpers.lifecycle import current_server, start_server, stop_server
from helpers.stages import echo, json_chat, socketio_basic, socketio_chat, socketio_features
from helpers.stages.broadcast import broadcast

OUTER_LIMIT = trial.CHECK_TIMEOUT + 5


async def verdict_of(check) -> str:
    """The verdict's text; the check must return within its own time limit."""
    return repr(await asyncio.wait_for(check, OUTER_LIMIT))


async def test_a_wrong_answer_shows_what_was_sent_expected_and_arrived():
    text = await verdict_of(check_upper_echo(echo.echo))
    assert text == (
        "Not yet: upper-case echo.\n"
        "  sent:     'hi there'\n"
        "  expected: 'HI THERE'\n"
        "  arrived:  'hi there'"
    )
    assert await verdict_of(check_upper_echo(echo.echo)) == text, "the same every time"


async def silent(request: web.Request) -> web.WebSocketResponse:
    async with websocket_session(request) as ws:
        async for _ in text_messages(ws, request.app[LOG]):
            pass
    return ws


async def test_no_answer_is_said_after_a_short_wait():
    text = await verdict_of(check_upper_echo(silent))
    assert text.splitlines()[-1] == f"  arrived:  nothing (waited {trial.WAIT:g} s)"


async def test_a_check_never_outlives_its_time_limit(monkeypatch):
    monkeypatch.setattr(trial, "CHECK_TIMEOUT", 0.5)
    text = await verdict_of(check_upper_echo(silent))
    assert text == "Not yet: upper-case echo.\n  the check did not finish within 0.5 s"


async def crashing(request: web.Request) -> web.WebSocketResponse:
    async with websocket_session(request) as ws:
        async for _ in text_messages(ws, request.app[LOG]):
            raise KeyError("nick")
    return ws


async def test_an_exception_in_the_students_code_is_named():
    lines = (await verdict_of(check_upper_echo(crashing))).splitlines()
    assert lines[-2:] == [
        "  arrived:  nothing (the server dropped the connection)",
        "  the server raised KeyError: 'nick'",
    ]


async def test_a_plain_function_is_refused_before_anything_starts():
    def upper_echo(request):
        return None

    text = await verdict_of(check_upper_echo(upper_echo))
    assert text == "Not yet: upper-case echo.\n  upper_echo must be a function defined with `async def`"


async def test_a_broken_app_factory_is_a_verdict_not_an_exception():
    def make_app() -> web.Application:
        raise RuntimeError("no app today")

    text = await verdict_of(check_me_action(make_app, json_chat.on_chat))
    assert text == "Not yet: a /me action.\n  the check could not go on: RuntimeError: no app today"


async def test_a_socketio_check_shows_the_acknowledgement_that_came():
    text = await verdict_of(check_nick_case(socketio_features.make_app, socketio_features.nick))
    assert text == (
        "Not yet: nicknames in any case.\n"
        "  sent:     emit('nick', 'ALICE')\n"
        "  expected: {'error': \"nickname 'ALICE' is taken\"}\n"
        "  arrived:  {'nick': 'ALICE'}"
    )


async def test_the_notebooks_own_server_keeps_running_through_a_check(free_port):
    server = await start_server(echo.make_app(), port=free_port, quiet=True)
    try:
        await verdict_of(check_upper_echo(echo.echo))
        assert current_server() is server
        assert not server.log.errors
        assert "Listening at port" in server.log.lines[-1], "the check's clients never came here"
    finally:
        await stop_server(quiet=True)


# Likely mistakes, each with the verdict a student gets: the lines that say what went wrong.


async def count_never_decremented(request: web.Request) -> web.WebSocketResponse:
    log, clients = request.app[LOG], request.app[SOCKETS]
    async with websocket_session(request) as ws:
        await broadcast(clients, f"clients online: {len(clients)}")
        async for data in text_messages(ws, log):
            await broadcast(clients, data)
        await broadcast(clients, f"clients online: {len(clients)}")
    return ws


async def length_in_bytes(request: web.Request) -> web.WebSocketResponse:
    log = request.app[LOG]
    async with websocket_session(request) as ws:
        async for data in text_messages(ws, log):
            log(f"ws got: {data} (length {len(data.encode())})")
    return ws


def one_count_for_everyone():
    count = 0

    async def chat_message(app, sid, msg, client_offset=None):
        nonlocal count
        count += 1
        await socketio_basic.chat_message(app, sid, msg, client_offset)
        return {"count": count}

    return chat_message


async def history_newest_first(app, sid, n=10):
    query = "SELECT nick, text FROM messages ORDER BY id DESC LIMIT ?"
    rows = app[socketio_chat.STORE].db.execute(query, (n,))
    return {"lines": [f"{nick}: {text}" for nick, text in rows]}


async def shout_without_app(sid, text):
    pass


MISTAKES = {
    "the leaving client still counted": (
        lambda: check_online_count(count_never_decremented),
        ["  sent:     '(a client leaves)'",
         "  expected: 'clients online: 1'", "  arrived:  'clients online: 2'"],
    ),
    "bytes, not characters": (
        lambda: check_length_log(length_in_bytes),
        ["  expected: 'ws got: héllo wörld (length 11)'", "  arrived:  'ws got: héllo wörld (length 13)'"],
    ),
    "no /me branch": (
        lambda: check_me_line(socketio_features.make_app, socketio_features.chat_message),
        ["  sent:     emit('chat message', '/me waves')", "  arrived:  'alice: /me waves'"],
    ),
    "no rule at all": (
        lambda: check_nickname_rules(json_chat.make_app, json_chat.on_nick),
        ["  arrived:  {'type': 'rename', 'old': 'alice', 'nick': 'alice smith'}"],
    ),
    "one counter for all clients": (
        lambda: check_message_counter(socketio_basic.make_app, one_count_for_everyone()),
        ["  sent:     emit('chat message', 'three')", "  expected: {'count': 1}", "  arrived:  {'count': 3}"],
    ),
    "no limit": (
        lambda: check_replay_limit(socketio_chat.make_app, socketio_chat.connect),
        ["  expected: ['writer: m8', 'writer: m9', 'writer: m10']"],
    ),
    "newest first": (
        lambda: check_history(socketio_chat.make_app, history_newest_first),
        ["  expected: {'lines': ['writer: m4', 'writer: m5']}",
         "  arrived:  {'lines': ['writer: m5', 'writer: m4']}"],
    ),
    "a handler in python-socketio's own style": (
        lambda: check_shout(socketio_basic.make_app, shout_without_app),
        ["  shout_without_app must take the app first, as the handlers above do: "
         "async def shout_without_app(app, ...)"],
    ),
    "the checker called without make_app": (
        lambda: check_me_action(json_chat.on_chat),
        ["  call it as: await check_me_action(make_app, on_chat)"],
    ),
}


@pytest.mark.parametrize("mistake", MISTAKES)
async def test_a_likely_mistake_gets_a_verdict_that_shows_it(mistake):
    check, lines = MISTAKES[mistake]
    verdict = (await verdict_of(check())).splitlines()
    assert verdict[0].startswith("Not yet: ")
    assert all(line in verdict for line in lines), verdict
