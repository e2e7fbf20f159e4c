"""Hand a port over between the kernels of one workbook.

Every notebook serves on the same port (3000), and closing a notebook's tab leaves its kernel
and its server running. So when ``start_server`` finds the port taken, it asks: is the holder
another kernel of this workbook? If so, that kernel stops its server (its clients get 1001,
Going Away) and the new notebook takes the port. Anything else keeps the port, and
``start_server`` says who holds it (``PortInUseError``): a foreign program, or a notebook of
another workbook.

A workbook is the folder its notebooks are in (``workbook()``): the teacher edition's
``notebooks/`` and the student edition that ``make student`` writes to ``student/`` are two
workbooks, and so are two checkouts. A teacher with both editions open, or a clone next to
the original, then never sees one stop the other's server: the second one to start hears
which notebook of which folder holds the port, and can pick another one.

How a kernel is asked, and why nobody else can ask:

- A kernel whose server holds port ``P`` listens on the Unix socket ``port-P.sock`` in a
  private folder (``jupyter_runtime_dir()/chat-workbook``, or ``WORKBOOK_RUNTIME_DIR``):
  not on the network, and not reachable by another user of the machine. The folder must be
  a real folder (not a symlink), this user's, and 0700; when it is not, the kernel says
  why once, and its server runs without the hand-over.
- A request must carry this user's secret, kept in ``secret`` in that folder (mode 0600),
  compared in constant time. A wrong one is refused and the server keeps running.
- Every field of a request is checked before anything is done (``problem_with``): a deadline
  that is a finite number, a few seconds ahead at most; a nonce never seen before (a request
  can't be replayed); a short notebook name and workbook path in plain text (no control or
  bidi characters: the holder prints the name in its next cell).

The protocol is one JSON line each way: ``{"secret", "port", "notebook", "workbook", "until",
"nonce"}`` asks; the holder stops its server, then answers ``{"released": true, "notebook":
"05-broadcast-server.ipynb"}``. A holder of another workbook answers ``{"released": false,
"error": "another workbook", "notebook": ..., "workbook": ...}``. A holder too busy to answer
before ``until`` (a cell running there) keeps its server: the asker has given up by then.

Socket files of kernels that died without removing theirs are swept (``sweep``) whenever a
kernel claims a port or asks for one: a socket nobody answers on is removed.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import json
import math
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_runtime_dir

from helpers.common.text import UNSAFE, printable

__all__ = [
    "Claim",
    "HandOverRefused",
    "claim",
    "notebook_name",
    "private_folder",
    "problem_with",
    "request_port",
    "sweep",
    "workbook",
]

ANSWER_TIMEOUT = 5.0
"""Seconds to wait for the holder: it stops its server first (closing its clients), then answers."""

LATEST_DEADLINE = ANSWER_TIMEOUT + 1.0
"""How far ahead a request's ``until`` may be: an asker waits ``ANSWER_TIMEOUT`` at most."""

MAX_NAME = 200
"""Characters of a notebook name in a request: a file name, with room to spare."""

MAX_WORKBOOK = 4096
"""Characters of a workbook's path in a request (Linux's PATH_MAX)."""

MAX_REQUEST = 8192
"""Bytes of a request line: a longer one is refused unread."""

STALE_AFTER = 2.0
"""Seconds a socket file must have existed before a sweep may remove it: a kernel binds its
socket, then listens, and a sweep must not catch one in between."""

_NONCE = re.compile(r"[0-9a-f]{32}")
_SOCKET = re.compile(r"port-\d+\.sock")
_DRAFT = re.compile(r"secret\.\d+\.[0-9a-f]+")
_SAID = ("error", "notebook", "workbook")  # what an answer may tell, shown escaped


class HandOverRefused(Exception):  # what happened, not an error of the caller
    """The holder of the port would not (or could not) hand it over.

    ``holder`` says who holds it, as ``PortInUseError`` words it: ``"another program"`` when
    no workbook kernel of ours claims the port.
    """

    def __init__(self, why: str, holder: str = "another program") -> None:
        super().__init__(why)
        self.holder = holder


def workbook() -> str:
    """This kernel's workbook: the folder of the notebook it runs, resolved.

    Jupyter starts a notebook's kernel in the notebook's folder and names the notebook in
    ``JPY_SESSION_NAME`` (an absolute path since jupyter_server 2). The folder, not the
    checkout: the teacher and student editions share one checkout and its ``helpers``, yet
    are two workbooks a teacher may have open at once.
    """
    session = os.environ.get("JPY_SESSION_NAME", "")
    folder = Path(session).parent if os.path.isabs(session) else Path.cwd()
    return printable(str(folder.resolve()))[:MAX_WORKBOOK]


def notebook_name() -> str:
    """The notebook this kernel runs, as Jupyter names it (``JPY_SESSION_NAME``), else its pid.

    In plain text, short: it is printed in the holder's next cell.
    """
    session = os.environ.get("JPY_SESSION_NAME")
    name = Path(session).name if session else f"another notebook (kernel {os.getpid()})"
    return printable(name)[:MAX_NAME]


def private_folder() -> Path:
    """This user's folder for the hand-over: a real folder, this user's alone (0700).

    Created if missing. ``PermissionError`` saying why when it can't be trusted: a symlink
    (its target would get the secret), a folder of another user (who could read it), or one
    others may write in (they could plant a symlink or swap the folder).
    """
    folder = Path(os.environ.get("WORKBOOK_RUNTIME_DIR") or Path(jupyter_runtime_dir()) / "chat-workbook")
    folder = Path(os.path.abspath(folder))
    folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    parent = folder.parent.stat()
    if parent.st_mode & 0o002 and not parent.st_mode & stat.S_ISVTX:
        raise PermissionError(f"{folder.parent} lets anyone rename what is in it: no hand-over folder there")
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise PermissionError(f"{folder} is not a folder but a symlink or a file") from None
        raise
    try:
        info = os.fstat(fd)
        if info.st_uid != os.getuid():
            raise PermissionError(f"{folder} belongs to another user (uid {info.st_uid})")
        if info.st_mode & 0o022:
            mode = stat.S_IMODE(info.st_mode)
            raise PermissionError(f"{folder} is writable by other users (mode {mode:o})")
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.fchmod(fd, 0o700)  # readable by others, yet nobody else could write in it: close it
    finally:
        os.close(fd)
    return folder


def _secret(folder: Path) -> bytes:
    """This user's secret, made on first use; only this user can read the file (0600).

    Written whole to a file of its own (``O_EXCL``), then linked into place: a kernel reading
    it at the same moment sees either no file or the whole secret, never an empty one. Never
    through a symlink (``O_NOFOLLOW``), and never a file others may read.
    """
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        try:
            return _read_secret(folder, folder_fd)
        except FileNotFoundError:
            pass
        draft = f"secret.{os.getpid()}.{secrets.token_hex(4)}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(draft, flags, 0o600, dir_fd=folder_fd)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32))
        try:  # fails if another kernel was first: then theirs counts
            os.link(draft, "secret", src_dir_fd=folder_fd, dst_dir_fd=folder_fd, follow_symlinks=False)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft, dir_fd=folder_fd)
        return _read_secret(folder, folder_fd)
    finally:
        os.close(folder_fd)


def _read_secret(folder: Path, folder_fd: int) -> bytes:
    try:
        fd = os.open("secret", os.O_RDONLY | os.O_NOFOLLOW, dir_fd=folder_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PermissionError(f"{folder / 'secret'} is a symlink: remove it") from None
        raise
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise PermissionError(f"{folder / 'secret'} must be your own file, mode 0600: remove it")
        secret = file.read().strip()
    if len(secret) < 32:
        raise PermissionError(f"{folder / 'secret'} is cut short: remove it")
    return secret


def _socket_path(folder: Path, port: int) -> Path:
    return folder / f"port-{port}.sock"


def _answers(path: Path) -> bool:
    """Whether a kernel listens on the socket ``path`` (a busy one still counts)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.setblocking(False)
        try:
            probe.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except BlockingIOError:  # its backlog is full: alive, and busy
            return True
        except OSError:
            return True  # not ours to judge: leave it
    return True


def sweep(folder: Path) -> list[str]:
    """Remove the socket files nobody answers on (kernels that died), and old secret drafts.

    Only files older than ``STALE_AFTER`` seconds, and only if still the same file when
    removed: a kernel claiming a port right now keeps its socket. Returns the names removed.
    """
    removed = []
    now = time.time()
    for entry in os.scandir(folder):
        try:
            before = entry.stat(follow_symlinks=False)
            if now - before.st_mtime < STALE_AFTER:
                continue
            if _SOCKET.fullmatch(entry.name) and stat.S_ISSOCK(before.st_mode):
                if _answers(Path(entry.path)):
                    continue
            elif not (_DRAFT.fullmatch(entry.name) and now - before.st_mtime > 60):
                continue
            after = os.stat(entry.path, follow_symlinks=False)
            if (after.st_ino, after.st_mtime) == (before.st_ino, before.st_mtime):
                os.unlink(entry.path)
                removed.append(entry.name)
        except OSError:
            continue
    return removed


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_plain(value: object, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and not UNSAFE.search(value)


def problem_with(request: object, port: int, secret: bytes, seen: dict[str, float]) -> str | None:
    """What is wrong with a hand-over request, or ``None``; checked before anything is done.

    ``seen`` holds the nonces of requests already taken, until their deadlines pass: the
    same request sent again is refused.
    """
    if not isinstance(request, dict):
        return "not a request"
    given = request.get("secret")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), secret):
        return "wrong secret"
    if request.get("port") != port or not isinstance(request.get("port"), int):
        return "wrong port"
    problem = _deadline_problem(request.get("until"), request.get("nonce"), seen)
    if problem is not None:
        return problem
    if not _is_plain(request.get("notebook"), MAX_NAME):
        return "a notebook name that is not plain text"
    if not _is_plain(request.get("workbook"), MAX_WORKBOOK):
        return "a workbook that is not a folder's path"
    seen[request["nonce"]] = request["until"]
    return None


def _deadline_problem(until: object, nonce: object, seen: dict[str, float]) -> str | None:
    """A finite deadline, not past and at most a few seconds ahead, with a nonce never seen."""
    now = time.time()
    if not _is_number(until) or not math.isfinite(until):
        return "a deadline that is not a time"
    if until < now:  # we were busy; the asker gave up
        return "asked too late"
    if until > now + LATEST_DEADLINE:
        return "a deadline too far ahead"
    for expired in [old for old, deadline in seen.items() if deadline < now]:
        del seen[expired]
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        return "no nonce"
    if nonce in seen:
        return "a request sent again"
    return None


class Claim:
    """This kernel's claim on a port: answers hand-over requests until released."""

    def __init__(self, port: int, server: asyncio.AbstractServer, path: Path) -> None:
        self.port, self._server, self._path = port, server, path
        self._inode = path.stat().st_ino  # whose socket file it is: a newer claim may replace it

    def release(self) -> None:
        """Stop answering for the port, and remove our socket file (idempotent)."""
        self._server.close()
        try:
            if self._path.stat().st_ino == self._inode:
                self._path.unlink()
        except OSError:
            pass


_told: set[str] = set()
_seen: dict[str, float] = {}
"""The nonces of the requests this kernel took, until their deadlines pass (any of its claims)."""


def _tell_once(why: str) -> None:
    """Say once per kernel why the hand-over is off: every start would say it again otherwise."""
    if why not in _told:
        _told.add(why)
        print(
            f"Port hand-over is off: {why}. This server runs, but no other notebook can ask for its "
            "port (WORKBOOK_RUNTIME_DIR names another folder for the hand-over)."
        )


async def claim(port: int, hand_over: Callable[[int, str], Awaitable[bool]]) -> Claim | None:
    """Answer requests for ``port``: ``hand_over(port, requester)`` stops the server, then we answer.

    ``None`` when hand-over can't work here (an unsafe private folder, a path too long for a
    Unix socket), said once in the cell: the server runs anyway, it just can't be asked for
    its port.
    """
    try:
        folder = private_folder()
        secret = _secret(folder)
        sweep(folder)
    except OSError as exc:
        _tell_once(printable(str(exc)))
        return None
    path, ours, name = _socket_path(folder, port), workbook(), notebook_name()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), ANSWER_TIMEOUT)
            writer.write(json.dumps(await _decide(json.loads(line))).encode() + b"\n")
        except (ValueError, RecursionError, OSError, TimeoutError):  # not JSON, too long, or the asker left
            pass
        finally:
            try:
                await writer.drain()
            except OSError:
                pass
            writer.close()

    async def _decide(request: Any) -> dict[str, Any]:
        problem = problem_with(request, port, secret, _seen)
        if problem is not None:
            return {"released": False, "error": problem}
        if request["workbook"] != ours:
            theirs = {"notebook": name, "workbook": ours}
            return {"released": False, "error": "another workbook", **theirs}
        if not await hand_over(port, request["notebook"]):
            return {"released": False, "error": "another notebook took it first"}
        return {"released": True, "notebook": name}

    try:
        path.unlink(missing_ok=True)  # a socket left by a kernel that died: its port is free anyway
        server = await asyncio.start_unix_server(answer, path=str(path), limit=MAX_REQUEST)
        os.chmod(path, 0o600)
    except OSError as exc:
        _tell_once(printable(f"{path}: {exc.strerror or exc}"))
        return None
    return Claim(port, server, path)


async def request_port(port: int) -> str:
    """Ask the kernel of this workbook holding ``port`` to stop its server; the notebook it ran.

    ``HandOverRefused`` if nobody of ours holds it (a foreign program), a notebook of another
    workbook does (``holder`` names both), or it won't.
    """
    try:
        folder = private_folder()
        secret = _secret(folder)
        sweep(folder)
    except OSError as exc:
        why = printable(str(exc))
        raise HandOverRefused(why, holder=f"another program (port hand-over is off: {why})") from None
    path = _socket_path(folder, port)
    if not path.exists():
        raise HandOverRefused("no workbook kernel of yours holds it")
    busy = "another notebook that did not answer (is a cell running there?)"
    try:
        async with asyncio.timeout(ANSWER_TIMEOUT):
            reader, writer = await asyncio.open_unix_connection(str(path), limit=MAX_REQUEST)
            request = {
                "secret": secret.decode(),
                "port": port,
                "notebook": notebook_name(),
                "workbook": workbook(),
                "until": time.time() + ANSWER_TIMEOUT - 1,  # a busy holder must not stop later
                "nonce": secrets.token_hex(16),
            }
            writer.write(json.dumps(request).encode() + b"\n")
            await writer.drain()
            answer = json.loads(await reader.readline() or b"{}")
            writer.close()
    except (ConnectionRefusedError, FileNotFoundError):  # a socket left by a kernel that died
        raise HandOverRefused("no workbook kernel of yours holds it") from None
    except (OSError, TimeoutError, ValueError):
        raise HandOverRefused("no answer", holder=busy) from None
    if not isinstance(answer, dict):
        answer = {}
    said = {key: printable(str(answer.get(key, "")))[:MAX_WORKBOOK] for key in _SAID}
    if answer.get("released") is not True:
        if said["error"] == "another workbook":
            holder = f"{said['notebook'] or 'a notebook'} of another workbook ({said['workbook']})"
            raise HandOverRefused("another workbook", holder=holder)
        error = said["error"] or "it would not hand the port over"
        raise HandOverRefused(error, holder=f"another notebook ({error})")
    return said["notebook"] or "another notebook"
