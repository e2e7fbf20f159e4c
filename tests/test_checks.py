"""The exercises' checkers: one deterministic verdict, never a hang, never an exception.

The teacher edition proves each checker passes a right answer (nbval compares its
"Passed"), the student edition that each says "not yet" to the stub. These tests cover
the answers in between: wrong, silent, crashing, not even async.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from helpers.app import LOG, text_messages, websocket_session
from helpers.checks import check_me_action, check_nick_case, check_upper_echo, trial
from helpers.lifecycle import current_server, start_server, stop_server
from helpers.stages import echo, json_chat, socketio_features

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
        "  sent:     'nick' | 'ALICE'\n"
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
