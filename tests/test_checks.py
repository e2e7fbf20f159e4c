"""The exercises' checkers: one deterministic verdict, never a hang, never an exception.

The teacher edition proves each checker passes a right answer (nbval compares its "Passed"),
the student edition that each says "not yet" to the stub, and ``test_exercise_catalogue``
holds each to the wrong answers a student plausibly writes. These tests cover how a check
runs: what it says, how long it may take, and what it counts against the student's code.
"""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web

from helpers.checks import (
    check_me_action,
    check_message_count,
    check_nick_case,
    check_shout,
    check_upper_echo,
    trial,
)
from helpers.kernel.lifecycle import current_server, start_server, stop_server
from helpers.stages import echo, json_chat, socketio_basic, socketio_features

OUTER_LIMIT = trial.CHECK_TIMEOUT + 5


async def verdict_of(check) -> str:
    """The verdict's text; the check must return within its own time limit."""
    return repr(await asyncio.wait_for(check, OUTER_LIMIT))


async def plain_echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_str(msg.data)
    return ws


async def test_a_wrong_answer_shows_who_sent_what_and_who_expected_and_got_what():
    text = await verdict_of(check_upper_echo(plain_echo))
    assert text == (
        "Not yet: upper-case echo.\n"
        "  alice sent 'hi there'\n"
        "  alice expected: 'HI THERE'\n"
        "  alice got:      'hi there'"
    )
    assert await verdict_of(check_upper_echo(plain_echo)) == text, "the same every time"


async def silent(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for _ in ws:
        pass
    return ws


async def test_no_answer_is_said_after_a_short_wait():
    text = await verdict_of(check_upper_echo(silent))
    assert text.splitlines()[-1] == f"  alice got:      nothing (waited {trial.WAIT:g} s)"


async def test_a_check_never_outlives_its_time_limit(monkeypatch):
    monkeypatch.setattr(trial, "CHECK_TIMEOUT", 0.5)
    text = await verdict_of(check_upper_echo(silent))
    assert text == "Not yet: upper-case echo.\n  the check did not finish within 0.5 s"


async def crashing(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for _ in ws:
        raise KeyError("nick")
    return ws


async def test_an_exception_in_the_students_code_is_named():
    lines = (await verdict_of(check_upper_echo(crashing))).splitlines()
    assert lines[-2:] == [
        "  alice got:      nothing (the server dropped the connection)",
        "  the server raised KeyError: 'nick'",
    ]


async def counts_then_fails_on_the_way_out(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    count = 0
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            print(f"ws got: {msg.data}")
            count += 1
    print(f"Client sent {count} messages.")
    raise RuntimeError("on the way out")


async def test_code_that_raised_is_not_yet_whatever_arrived():
    """Issue 18: a checker said Passed when the student's code raised inside the server but the
    exchange still looked right. Every line this answer logs is right; it raises as a client leaves."""
    text = await verdict_of(check_message_count(counts_then_fails_on_the_way_out))
    assert text == "Not yet: count a client's messages.\n  the server raised RuntimeError: on the way out"


async def test_the_stub_says_what_to_replace():
    async def upper_echo(request):
        raise NotImplementedError()

    text = await verdict_of(check_upper_echo(upper_echo))
    stub = "the server raised NotImplementedError (replace `raise NotImplementedError()` with your code)"
    assert stub in text

    def add_shout(app):
        raise NotImplementedError()

    text = await verdict_of(check_shout(socketio_basic.make_app, add_shout))
    assert text == (
        "Not yet: shout.\n"
        "  add_shout(app) raised NotImplementedError (replace `raise NotImplementedError()` with your code)"
    )


async def test_a_function_of_the_wrong_shape_is_refused_before_anything_starts():
    def upper_echo(request):
        return None

    text = await verdict_of(check_upper_echo(upper_echo))
    assert text == (
        "Not yet: upper-case echo.\n"
        "  upper_echo must be an aiohttp handler: async def upper_echo(request): ... "
        "(defined with `async def`)"
    )

    async def shout(sid, text):  # a handler, where the exercise wants the feature that adds it
        pass

    text = await verdict_of(check_shout(socketio_basic.make_app, shout))
    assert "shout must be a function that adds handlers to the app's server: def shout(app): ..." in text


async def test_a_broken_app_factory_is_a_verdict_not_an_exception():
    def make_app() -> web.Application:
        raise RuntimeError("no app today")

    text = await verdict_of(check_me_action(make_app, json_chat.on_chat))
    assert text == "Not yet: a /me action.\n  the check could not go on: RuntimeError: no app today"


async def test_a_socketio_check_shows_the_acknowledgement_that_came():
    text = await verdict_of(check_nick_case(socketio_features.make_app, socketio_features.add_nicknames))
    assert text == (
        "Not yet: nicknames in any case.\n"
        "  bob sent emit('nick', 'ALICE')\n"
        "  bob's acknowledgement expected: {'error': \"nickname 'ALICE' is taken\"}\n"
        "  bob's acknowledgement got:      {'nick': 'ALICE'}"
    )


async def test_the_notebooks_own_server_keeps_running_through_a_check(free_port):
    server = await start_server(echo.make_app(), port=free_port, quiet=True)
    try:
        await verdict_of(check_upper_echo(plain_echo))
        assert current_server() is server
        assert not server.log.errors
        assert "Listening at port" in server.log.lines[-1], "the check's clients never came here"
    finally:
        await stop_server(quiet=True)


async def test_the_checker_called_without_make_app_says_how_to_call_it():
    text = await verdict_of(check_me_action(json_chat.on_chat))
    assert text == "Not yet: check_me_action.\n  call it as: await check_me_action(make_app, on_chat)"
