"""Live checkers for the workbook's exercises: ``await check_upper_echo(upper_echo)``.

A checker starts the student's code on a spare port inside the kernel (a capstone's file, as a
program of its own), drives real named clients against it, and returns one deterministic
verdict: ``Passed: ...``, or ``Not yet: ...`` saying what happened, who expected what and who
got what. It never hangs and never raises into the notebook (``helpers.checks.trial``).
"""

from helpers.checks.capstone import check_socketio_server, check_websocket_server
from helpers.checks.socketio import (
    check_history,
    check_me_line,
    check_message_counter,
    check_nick_case,
    check_replay_limit,
    check_shout,
)
from helpers.checks.verdict import Verdict
from helpers.checks.websocket import (
    check_length_log,
    check_me_action,
    check_message_count,
    check_named_chat,
    check_nickname_rules,
    check_numbered_echo,
    check_online_count,
    check_upper_echo,
)

__all__ = [
    "Verdict",
    "check_history",
    "check_length_log",
    "check_me_action",
    "check_me_line",
    "check_message_count",
    "check_message_counter",
    "check_named_chat",
    "check_nick_case",
    "check_nickname_rules",
    "check_numbered_echo",
    "check_online_count",
    "check_replay_limit",
    "check_shout",
    "check_socketio_server",
    "check_upper_echo",
    "check_websocket_server",
]
