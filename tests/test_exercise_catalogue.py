"""The checkers can't be fooled: each exercise's catalogue of plausible answers, right and wrong.

For every exercise, at least 5 wrong answers a student plausibly writes must get "Not yet",
with a verdict that names who expected what (``says``), and at least 2 right answers, in the
styles the library's documentation and the notebook use, must get "Passed". Each answer is
the source of the student's cell, run in the namespace its notebook has at that point.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from helpers.checks import (
    check_history,
    check_length_log,
    check_me_action,
    check_me_line,
    check_message_count,
    check_message_counter,
    check_named_chat,
    check_nick_case,
    check_nickname_rules,
    check_numbered_echo,
    check_online_count,
    check_replay_limit,
    check_shout,
    check_socketio_server,
    check_upper_echo,
    check_websocket_server,
)
from helpers.checks.trial import CHECK_TIMEOUT
from helpers.stages import (
    broadcast,
    echo,
    json_chat,
    receive,
    socketio_basic,
    socketio_chat,
    socketio_features,
)
from tests.catalogue import capstones, socketio_track, websocket_track
from tests.catalogue.answers import Answer

ROOT = Path(__file__).resolve().parent.parent


def namespace(*modules: ModuleType) -> dict[str, Any]:
    """What a notebook's cells see: its stage modules' names (and theirs), as the cells define them."""
    names: dict[str, Any] = {}
    for module in modules:
        names.update({name: value for name, value in vars(module).items() if not name.startswith("__")})
    return names


Check = Callable[[Any], Awaitable[Any]]

SOCKETIO_CHAT = [socketio_features, socketio_chat]
EXERCISES: dict[str, tuple[list[ModuleType], str, Check]] = {
    "03.1 length log": ([receive], "receive_with_length", check_length_log),
    "03.2 message count": ([receive], "receive_and_count", check_message_count),
    "04.1 upper echo": ([echo], "upper_echo", check_upper_echo),
    "04.2 numbered echo": ([echo], "numbered_echo", check_numbered_echo),
    "05.1 online count": ([broadcast], "counting_chat", partial(check_online_count, broadcast.make_app)),
    "05.2 named chat": ([broadcast], "named_chat", partial(check_named_chat, broadcast.make_app)),
    "06.1 /me action": ([json_chat], "on_chat_with_me", partial(check_me_action, json_chat.make_app)),
    "06.2 nickname rules": (
        [json_chat],
        "on_nick_with_rules",
        partial(check_nickname_rules, json_chat.make_app),
    ),
    "07.1 shout": ([socketio_basic], "add_shout", partial(check_shout, socketio_basic.make_app)),
    "07.2 message counter": (
        [socketio_basic],
        "add_counted_chat_message",
        partial(check_message_counter, socketio_basic.make_app),
    ),
    "08.1 nick case": (
        [socketio_features],
        "add_nick_ignoring_case",
        partial(check_nick_case, socketio_features.make_app),
    ),
    "08.2 /me line": (
        [socketio_features],
        "add_chat_with_me",
        partial(check_me_line, socketio_features.make_app),
    ),
    "09.1 replay limit": (
        SOCKETIO_CHAT,
        "add_replay_limit",
        partial(check_replay_limit, socketio_chat.make_app),
    ),
    "09.2 history": (SOCKETIO_CHAT, "add_history", partial(check_history, socketio_chat.make_app)),
}

CATALOGUE = {**websocket_track.EXERCISES, **socketio_track.EXERCISES}

CASES = [
    pytest.param(exercise, answer, id=f"{exercise}: {'right' if answer.passes else 'wrong'}: {answer.name}")
    for exercise, answers in CATALOGUE.items()
    for answer in answers
]


def test_every_exercise_has_its_catalogue():
    """At least 5 plausible wrong answers and 2 right ones per exercise, the capstones too."""
    for exercise, answers in {**CATALOGUE, **capstones.EXERCISES}.items():
        assert sum(not answer.passes for answer in answers) >= 5, exercise
        assert sum(answer.passes for answer in answers) >= 2, exercise
    assert set(CATALOGUE) == set(EXERCISES)


def verdict_says(verdict: Any, answer: Answer) -> None:
    text = repr(verdict)
    if answer.passes:
        assert text.startswith("Passed: "), f"{answer.name}:\n{text}\n\n{answer.source}"
    else:
        assert text.startswith("Not yet: "), f"{answer.name} fooled the checker:\n{text}\n\n{answer.source}"
        assert answer.says in text, f"{answer.name}: the verdict doesn't say {answer.says!r}:\n{text}"


# Some wrong answers do what aiohttp warns about (a plain string key, state changed while running).
@pytest.mark.filterwarnings("ignore:Changing state of started", "ignore::aiohttp.web.NotAppKeyWarning")
@pytest.mark.parametrize(("exercise", "answer"), CASES)
async def test_the_checker_tells_right_from_wrong(exercise, answer):
    modules, name, check = EXERCISES[exercise]
    cell = namespace(*modules)
    exec(compile(answer.source, f"<{exercise}: {answer.name}>", "exec"), cell)  # the student's cell
    verdict = await asyncio.wait_for(check(cell[name]), CHECK_TIMEOUT + 5)
    verdict_says(verdict, answer)


@pytest.fixture
def workbook_folder(tmp_path: Path) -> Path:
    """A folder like ``notebooks/``: the capstone's file goes there, ``public/`` beside it."""
    (tmp_path / "public").symlink_to(ROOT / "public")
    (tmp_path / "notebooks").mkdir()
    return tmp_path / "notebooks"


CAPSTONES = {"websocket": check_websocket_server, "socketio": check_socketio_server}


@pytest.mark.parametrize(
    ("capstone", "answer"),
    [
        pytest.param(
            capstone, answer, id=f"{capstone}: {'right' if answer.passes else 'wrong'}: {answer.name}"
        )
        for capstone, answers in capstones.EXERCISES.items()
        for answer in answers
    ],
)
async def test_the_capstone_checker_tells_right_from_wrong(workbook_folder, capstone, answer):
    path = workbook_folder / f"{capstone}_server.py"
    if answer.source.strip() != capstones.MISSING:
        path.write_text(answer.source)
    env = os.environ.pop("PYTHONPATH", None)  # the file must run without the workbook on its path
    try:
        verdict = await asyncio.wait_for(CAPSTONES[capstone](path), 60)
    finally:
        if env is not None:
            os.environ["PYTHONPATH"] = env
    verdict_says(verdict, answer)
