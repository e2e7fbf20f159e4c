"""What ``python -m helpers.serve`` checks before it starts: options that can't work are refused.

A server that starts and then fails at its first message is worse than one that does not
start: a read-only ``--db`` used to answer every chat message ``{"error": "internal server
error"}``, and a missing folder, a file that is not a database or a truncated one ended in a
Python traceback. Each ``*_problem`` function here returns one line saying what is wrong
with one option (``None``: nothing), and ``serve`` prints it as argparse does
(``python -m helpers.serve: error: ...``) and exits with status 2, before anything listens.
The same goes for the other options that can't work: a port out of range, a ``--host`` that
is not this machine's, ``--share`` with a ``WORKBOOK_SHARE_ADDRESS`` of another machine, an
accepted origin with a path (a browser's ``Origin`` never has one), ``--message-queue`` that
is no Redis URL, or without the ``--db`` file its processes must share, ``--uvloop`` without
uvloop.

The database is opened the way the ``socketio-chat`` stage opens it (``sqlite3.connect`` on
the path, notebook 09's ``MessageStore``), then read (``PRAGMA quick_check``) and written in
a transaction that is rolled back: nothing in it changes, and a file that did not exist is
removed again.
"""

from __future__ import annotations

import errno
import importlib.util
import socket
import sqlite3
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from helpers.delivery import COLUMNS
from helpers.kernel.share import ADDRESS_VARIABLE, network_address

__all__ = [
    "db_problem",
    "host_problem",
    "message_queue_problem",
    "options_problem",
    "origin_problem",
    "share_problem",
]

MEMORY = ":memory:"
"""SQLite's name for a database kept in memory: the ``--db`` default."""

NEEDS_DB = (
    "--message-queue needs --db FILE on --stage chat-cluster: the processes that share "
    "a message queue share the chat's messages too, in one SQLite file"
)

REDIS_SCHEMES = ("redis", "rediss", "unix")
"""The URL schemes redis-py (and so python-socketio's ``AsyncRedisManager``) accepts."""


def options_problem(
    stage: str, host: str, port: int, options: Mapping[str, Any], *, uvloop: bool = False, share: bool = False
) -> str | None:
    """The first thing wrong with a command line's server options and stage options, or ``None``."""
    if not 0 <= port <= 65535:
        return f"--port {port}: a port is a number from 0 to 65535"
    checks: list[Callable[[], str | None]] = [lambda: host_problem(host)]  # in order; the first problem wins
    if share:
        checks.append(lambda: share_problem(host))
    if uvloop:
        checks.append(_uvloop_problem)
    for origin in options.get("cors_allowed_origins") or []:
        checks.append(partial(origin_problem, origin))
    if "message_queue" in options:
        checks.append(partial(message_queue_problem, options["message_queue"]))
        if stage == "chat-cluster" and options.get("db", MEMORY) == MEMORY:
            checks.append(lambda: NEEDS_DB)
    if "db" in options:  # last: it opens the file
        checks.append(partial(db_problem, options["db"]))
    return next((problem for check in checks if (problem := check()) is not None), None)


def host_problem(host: str) -> str | None:
    """``host`` must be an address of this machine (or a name of one): a server binds there."""
    try:
        found = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        return f"--host {host}: no such address"
    family, kind, proto, _, address = found[0]
    with socket.socket(family, kind, proto) as probe:
        try:
            probe.bind(address[:2] if family == socket.AF_INET else address)
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                return f"--host {host}: not an address of this machine (127.0.0.1 is; 0.0.0.0 is all of them)"
            return f"--host {host}: {exc.strerror}"
    return None


def share_problem(host: str) -> str | None:
    """``--share`` listens on the network address too: ``WORKBOOK_SHARE_ADDRESS`` must be one of ours."""
    try:
        address, _ = network_address()
    except ValueError as exc:
        return f"--share: {exc}"
    if host in ("0.0.0.0", "::", "") or address == host:
        return None  # a wildcard host listens there already
    problem = host_problem(address)
    if problem is not None:
        return f"--share: {ADDRESS_VARIABLE}={address} is not an address of this machine (give one, or unset)"
    return None


def _uvloop_problem() -> str | None:
    if importlib.util.find_spec("uvloop") is None:
        return "--uvloop: uvloop is not installed (pip install uvloop), or leave --uvloop out"
    return None


def origin_problem(origin: str) -> str | None:
    """An accepted origin is ``*`` or ``scheme://host[:port]``, as a browser's Origin header says it."""
    if origin == "*":
        return None
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or any(
        (parts.path, parts.query, parts.fragment, parts.username, parts.password)
    ):
        return (
            f"--cors-allowed-origins {origin}: not an origin; write it as a browser sends it, "
            "scheme://host[:port] with no path or trailing /, e.g. http://localhost:5173"
        )
    return None


def message_queue_problem(url: str) -> str | None:
    """A Redis URL redis-py can use: ``redis://[:password@]host:port/db`` or ``unix:///path``."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        return f"--message-queue {url}: not a URL (a port must be a number)"
    if parts.scheme not in REDIS_SCHEMES:
        return f"--message-queue {url}: not a Redis URL; e.g. redis://127.0.0.1:6379/0 or unix:///path/redis.sock"
    if parts.scheme == "unix" and not parts.path:
        return f"--message-queue {url}: no socket path after unix://"
    if parts.scheme != "unix" and not parts.hostname:
        return f"--message-queue {url}: no host; e.g. redis://127.0.0.1:6379/0"
    return None


def db_problem(path: str) -> str | None:
    """Whether the ``socketio-chat`` stage can keep its messages in the SQLite file ``path``."""
    if path == MEMORY:
        return None
    if not path:
        return "--db needs a file name (or leave it out: the chat then keeps its messages in memory)"
    file = Path(path)
    if file.is_dir():
        return f"--db {path}: a folder, not a file"
    if not file.parent.is_dir():
        return f"--db {path}: no folder {file.parent}"
    existed = file.exists()
    try:
        return _open_problem(path)
    finally:
        if not existed:  # the stage creates it when it starts; a refused start leaves nothing
            for leftover in (file, *(Path(path + suffix) for suffix in ("-journal", "-wal", "-shm"))):
                leftover.unlink(missing_ok=True)


def _open_problem(path: str) -> str | None:
    """Open, read and write ``path`` as the stage would; the one line saying why it can't."""
    try:
        db = sqlite3.connect(path, timeout=5, isolation_level=None)
    except sqlite3.Error as exc:
        return f"--db {path}: can't open it ({exc})"
    try:
        checked = db.execute("PRAGMA quick_check").fetchall()
        if checked != [("ok",)]:
            return f"--db {path}: the database is damaged ({checked[0][0]})"
        columns = {row[1] for row in db.execute("PRAGMA table_info(messages)")}
        if columns and not set(COLUMNS.split(", ")) <= columns:
            return f"--db {path}: its messages table is not the chat's (columns {', '.join(sorted(columns))})"
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(f"PRAGMA user_version = {version}")  # a write: the chat writes every message
        finally:
            db.execute("ROLLBACK")
    except sqlite3.Error as exc:
        return f"--db {path}: {_explain(exc)}"
    finally:
        db.close()
    return None


def _explain(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "not a database" in text:
        return "not an SQLite database"
    if "malformed" in text or "corrupt" in text:
        return "the database is damaged (cut short, or overwritten)"
    if "readonly" in text:
        return "read-only here: the chat could not keep a single message"
    if "locked" in text or "busy" in text:
        return "locked by another program for over 5 s"
    return text
