"""What the notebooks import: ``from helpers import start_server, ChatClient, PUBLIC, ...``.

The notebooks write the code a student learns in their cells; ``make export`` copies those
cells into ``helpers.stages`` (and ``helpers.protocol``, ``helpers.delivery``), which the
command line runs and the tests drive. The rest is plumbing, grouped by role:

- ``helpers.server``: the server under every stage (``server.sio``: its Socket.IO side);
- ``helpers.kernel``: running servers inside the kernel, sharing them, showing their pages;
- ``helpers.clients``: widget chat clients, their transports, the command line, probes;
- ``helpers.programs``: programs beside the kernel (Redis, nginx, ``python -m helpers.serve``);
- ``helpers.loadlab``: notebook 11's load lab;
- ``helpers.checks``: the exercises' live checkers;
- ``helpers.common``: what they all share.

A notebook imports from here, by name, and nowhere else in the plumbing: the folders can move
without a notebook changing (``tests/test_notebook_imports.py`` lists the names). Each name
is imported when first asked for, so ``import helpers`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

NAMES: dict[str, str] = {
    # running a server in the kernel, and showing it
    "start_server": "helpers.kernel.lifecycle",
    "stop_server": "helpers.kernel.lifecycle",
    "current_server": "helpers.kernel.lifecycle",
    "DEFAULT_PORT": "helpers.common.addresses",
    "page": "helpers.kernel.show",
    "show_file": "helpers.kernel.show",
    # the server's plumbing a stage builds on
    "PUBLIC": "helpers.server.app",
    "LOG": "helpers.server.app",
    "LIMITS": "helpers.server.app",
    "RATE_LIMIT": "helpers.server.limits",
    "ServerLog": "helpers.server.log",
    "allow_origins": "helpers.server.app",
    "chat_app": "helpers.server.app",
    "drop": "helpers.server.app",
    "transport_of": "helpers.server.app",
    "until_sent": "helpers.server.sio.backlog",
    "registered_handlers": "helpers.common.internals",
    # chat clients
    "ChatClient": "helpers.clients.widgets",
    "JsonChatClient": "helpers.clients.widgets",
    "SocketIOClient": "helpers.clients.socketio_widgets",
    "SocketIOChatClient": "helpers.clients.socketio_widgets",
    "side_by_side": "helpers.clients.widgets",
    "transcript": "helpers.clients.widgets",
    "hide_ids": "helpers.common.text",
    "websocket_cli": "helpers.clients.cli",
    "handshake_status": "helpers.clients.probes",
    "stall_test": "helpers.kernel.stall",
    # the whole class (notebook 10)
    "ClassPanel": "helpers.kernel.panel",
    "JoinCard": "helpers.kernel.share",
    "join_card": "helpers.kernel.join",
    "hand_out_a_new_key": "helpers.kernel.join",
    # the load lab (notebook 11)
    "compare": "helpers.loadlab.lab",
    "loop_lag": "helpers.loadlab.lab",
    "plot_runs": "helpers.loadlab.lab",
    "run_load": "helpers.loadlab.lab",
    "summary": "helpers.loadlab.lab",
    # programs beside the kernel (notebook 12)
    "start_nginx": "helpers.programs.nginx",
    "start_redis": "helpers.programs.redis_server",
    "start_serve": "helpers.programs.process",
    "temporary_folder": "helpers.programs.process",
}
"""Each name a notebook may import from ``helpers``, and the module that defines it."""

__all__ = list(NAMES)


def __getattr__(name: str) -> Any:
    """``from helpers import NAME``: the name, from its module, imported the first time."""
    module = NAMES.get(name)
    if module is None:  # a subpackage (``from helpers import checks``) is then imported as usual
        raise AttributeError(f"module 'helpers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *NAMES})
