"""The workbook's ``npm start``: ``python -m helpers.serve --stage NAME [--host H] [--port N]``.

Runs the same stage code the notebooks teach, prints the server log to the terminal
(``Listening at port 3000``, ``ws got: hi``, ...), and exits cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from helpers.app import LOG
from helpers.lifecycle import DEFAULT_PORT, PortInUseError, start_server, stop_server
from helpers.stages import STAGES


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m helpers.serve", description=__doc__.split("\n")[0])
    parser.add_argument("--stage", choices=list(STAGES), default="static", help="which server to run")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--except-self", action="store_true", help="broadcast stage: leave the sender out"
    )
    args = parser.parse_args(argv)
    if args.except_self and args.stage != "broadcast":
        parser.error("--except-self only applies to --stage broadcast")
    return args


async def serve(args: argparse.Namespace) -> None:
    options = {"except_self": True} if args.except_self else {}
    app = STAGES[args.stage](**options)
    app_log = app.get(LOG)
    if app_log is not None:
        app_log.echo = True
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await start_server(app, host=args.host, port=args.port, quiet=True)
    await stop.wait()
    await stop_server(quiet=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        asyncio.run(serve(args))
    except PortInUseError as exc:
        print(
            f"Port {exc.port} on {exc.host} is in use by another program. "
            f"Stop that program, or choose another port: --port {exc.port + 1}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
