"""The workbook's ``npm start``: ``python -m helpers.serve --stage NAME [OPTIONS] [--host H] [--port N]``.

Runs the same stage code the notebooks teach, prints the server log to the terminal
(``Listening at port 3000``, ``ws got: hi``, ...), and exits cleanly on Ctrl-C or SIGTERM.
Every parameter of a stage's ``make_app`` is an option here, named after it:
``make_app(except_self=True)`` is ``--except-self``, ``make_app(db="chat.db")`` is
``--db chat.db``. ``--share`` is a server option, as ``--host`` and ``--port`` are: the class
joins over the network with the printed link (or its QR code), which carries the join key.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import signal
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from helpers.common.addresses import DEFAULT_PORT
from helpers.kernel.lifecycle import PortInUseError, start_server, stop_server
from helpers.kernel.share import ADDRESS_VARIABLE, announce
from helpers.serve_checks import options_problem
from helpers.server.app import LOG, add_plumbing
from helpers.server.limits import LIMITS, Limits
from helpers.stages import DESCRIPTIONS, STAGES

__all__ = ["Option", "check", "main", "parse_args", "refuse", "stage_options"]

PROG = "python -m helpers.serve"

OPTION_HELP = {
    "except_self": "leave the sender out of each message it sends to everyone",
    "cors_allowed_origins": "origins whose pages may connect, e.g. http://localhost:5173 "
    "(default: this server's own; a list replaces it, so list this server too)",
    "db": "SQLite file that keeps the chat's messages across restarts (default: in memory); "
    "processes sharing a --message-queue share it too",
    "message_queue": "Redis URL, e.g. redis://127.0.0.1:6379/0 or unix:///path/redis.sock?db=0: one chat "
    "across every server process on it (notebook 12); on chat-cluster, with a --db file they share",
}
"""What each ``make_app`` parameter does, for ``--help``."""


@dataclass(frozen=True)
class Option:
    """A ``make_app`` parameter as a command-line option."""

    name: str  # the parameter: cors_allowed_origins
    kind: str  # "flag", "text", "number" or "list"

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def stage_options(make_app: Callable[..., Any]) -> list[Option]:
    """The options of a stage: one per parameter of its ``make_app``, typed by its hint."""
    hints = typing.get_type_hints(make_app)
    options = []
    for name in inspect.signature(make_app).parameters:
        hint = hints.get(name)
        if hint is bool:
            kind = "flag"
        elif hint is str or hint == str | None:
            kind = "text"
        elif hint is int:
            kind = "number"
        elif list[str] in typing.get_args(hint):
            kind = "list"
        else:
            raise TypeError(f"{make_app.__module__}.make_app({name}: {hint}) has no command-line form")
        options.append(Option(name, kind))
    return options


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``--stage``, ``--host``, ``--port``, and the chosen stage's options (in ``args.options``)."""
    stages_help = "\n".join(f"  {name:18} {DESCRIPTIONS[name]}" for name in STAGES)
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run one stage of the workbook's server, as `npm start` runs the original's.",
        epilog=f"stages:\n{stages_help}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stage", choices=list(STAGES), default="static", help="which server to run")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--share",
        action="store_true",
        help="also listen on this machine's network address, for a class: prints the link students "
        "open, with a new join key that every connection needs, and its QR code "
        f"({ADDRESS_VARIABLE} sets the address)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=Limits.connections,
        metavar="N",
        help=f"open websockets and Socket.IO sessions the server takes at once; one more gets 503 "
        f"(default {Limits.connections:,}; in a notebook: server.app[LIMITS].connections = N)",
    )
    parser.add_argument(
        "--uvloop",
        action="store_true",
        help="run on uvloop, a faster event loop (a notebook's kernel runs asyncio's own)",
    )
    owners: dict[Option, list[str]] = {}
    for stage, make_app in STAGES.items():
        for option in stage_options(make_app):
            owners.setdefault(option, []).append(stage)
    for option, stages in owners.items():
        help_text = f"{OPTION_HELP[option.name]} [stages: {', '.join(stages)}]"
        kwargs: dict[str, Any] = {"dest": option.name, "default": argparse.SUPPRESS, "help": help_text}
        if option.kind == "flag":
            kwargs["action"] = argparse.BooleanOptionalAction  # --except-self, --no-except-self
        elif option.kind == "list":
            kwargs.update(nargs="+", metavar="ORIGIN")
        elif option.kind == "number":
            kwargs["type"] = int
        parser.add_argument(option.flag, **kwargs)
    args = parser.parse_args(argv)
    given = {option: getattr(args, option.name) for option in owners if hasattr(args, option.name)}
    for option in given:
        if args.stage not in owners[option]:
            takers = ", ".join(owners[option])
            refuse(parser, f"{option.flag} is not an option of --stage {args.stage} (it is of: {takers})")
    args.options = {option.name: value for option, value in given.items()}
    return args


class CannotListen(Exception):  # what happened, said as one line
    """The server could not bind its address for a reason other than a port in use."""


def refuse(parser: argparse.ArgumentParser, problem: str) -> typing.NoReturn:
    """Exit 2 with ``problem`` on one line of stderr, as ``parser.error`` does, without the usage.

    The usage of every stage's options is many lines long; the one line says what to change.
    """
    parser.exit(2, f"{parser.prog}: error: {problem}\n")


def check(args: argparse.Namespace) -> str | None:
    """What can't work in these options (``helpers.serve_checks``), found before anything listens."""
    if args.max_connections < 1:
        return f"--max-connections {args.max_connections}: at least 1 (one client)"
    server_options = {"uvloop": args.uvloop, "share": args.share}
    return options_problem(args.stage, args.host, args.port, args.options, **server_options)


async def serve(args: argparse.Namespace) -> None:
    app = add_plumbing(STAGES[args.stage](**args.options))
    app[LOG].echo = True  # the terminal shows the server log as it is written
    app[LIMITS].connections = args.max_connections
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # a terminal's server is no notebook's: it neither takes a port from one nor gives it up
    try:
        server = await start_server(
            app, host=args.host, port=args.port, quiet=True, hand_over=False, share=args.share
        )
    except PortInUseError:
        raise
    except OSError as exc:  # e.g. a port below 1024 without the right to bind it
        why = os.strerror(exc.errno) if exc.errno else str(exc)  # asyncio's own words name the address again
        raise CannotListen(f"can't listen at {args.host} port {args.port}: {why}") from None
    if server.share_url is not None:
        announce(server.share_url, server.sharing.note)
    await stop.wait()
    await stop_server(quiet=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problem = check(args)
    if problem is not None:  # one line and status 2, as argparse refuses an option
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2
    try:
        if args.uvloop:
            import uvloop  # only here: the notebooks never need it

            uvloop.run(serve(args))
        else:
            asyncio.run(serve(args))
    except PortInUseError as exc:
        print(
            f"Port {exc.port} on {exc.host} is in use by another program. "
            f"Stop that program, or choose another port: --port {exc.port + 1}",
            file=sys.stderr,
        )
        return 1
    except CannotListen as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
