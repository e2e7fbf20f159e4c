"""Hand a port over between this user's workbook kernels.

Every notebook serves on the same port (3000), and closing a notebook's tab leaves its kernel
and its server running. So when ``start_server`` finds the port taken, it asks: is the holder
another workbook kernel of this user? If so, that kernel stops its server (its clients get
1001, Going Away) and the new notebook takes the port. A foreign program keeps the port, and
``start_server`` says so (``PortInUseError``).

How a kernel is asked, and why nobody else can ask:

- A kernel whose server holds port ``P`` listens on the Unix socket ``port-P.sock`` in a
  private folder (``jupyter_runtime_dir()/chat-workbook``, mode 0700): not on the network,
  and not reachable by another user of the machine.
- A request must carry this user's secret, kept in ``secret`` in that folder (mode 0600),
  compared in constant time. A wrong one is refused and the server keeps running.

The protocol is one JSON line each way: ``{"secret", "port", "notebook", "until"}`` asks; the
holder stops its server, then answers ``{"released": true, "notebook": "05-broadcast-server.ipynb"}``.
A holder too busy to answer before ``until`` (a cell running there) keeps its server: the
asker has given up by then.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import secrets
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from jupyter_core.paths import jupyter_runtime_dir

__all__ = ["Claim", "HandOverRefused", "claim", "notebook_name", "private_folder", "request_port"]

ANSWER_TIMEOUT = 5.0
"""Seconds to wait for the holder: it stops its server first (closing its clients), then answers."""


class HandOverRefused(Exception):  # noqa: N818 (what happened, not an error of the caller)
    """The holder of the port would not (or could not) hand it over.

    ``holder`` says who holds it, as ``PortInUseError`` words it: ``"another program"`` when
    no workbook kernel of ours claims the port.
    """

    def __init__(self, why: str, holder: str = "another program") -> None:
        super().__init__(why)
        self.holder = holder


def private_folder() -> Path:
    """This user's folder for the hand-over: created 0700, and refused if others may enter it."""
    folder = Path(os.environ.get("WORKBOOK_RUNTIME_DIR") or Path(jupyter_runtime_dir()) / "chat-workbook")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise PermissionError(f"{folder} must belong to you alone (mode 0700) to hand ports over")
    return folder


def _secret() -> bytes:
    """This user's secret, made on first use; only this user can read the file (0600).

    Written whole to a file of its own, then linked into place: a kernel reading it at the
    same moment sees either no file or the whole secret, never an empty one.
    """
    path = private_folder() / "secret"
    if not path.exists():
        draft = path.with_name(f"secret.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(draft, path)  # fails if another kernel was first: then theirs counts
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_bytes().strip()


def _socket_path(port: int) -> Path:
    return private_folder() / f"port-{port}.sock"


def notebook_name() -> str:
    """The notebook this kernel runs, as Jupyter names it (``JPY_SESSION_NAME``), else its pid."""
    session = os.environ.get("JPY_SESSION_NAME")
    return Path(session).name if session else f"another notebook (kernel {os.getpid()})"


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


async def claim(port: int, hand_over: Callable[[int, str], Awaitable[bool]]) -> Claim | None:
    """Answer requests for ``port``: ``hand_over(port, requester)`` stops the server, then we answer.

    ``None`` when hand-over can't work here (no private folder, a path too long for a Unix
    socket): the server runs anyway, it just can't be asked for its port.
    """
    try:
        path = _socket_path(port)
        secret = _secret()
    except OSError:
        return None

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = json.loads(await asyncio.wait_for(reader.readline(), ANSWER_TIMEOUT))
            writer.write(json.dumps(await _decide(request)).encode() + b"\n")
        except (ValueError, OSError, TimeoutError, AttributeError):
            pass
        finally:
            try:
                await writer.drain()
            except OSError:
                pass
            writer.close()

    async def _decide(request: dict) -> dict:
        given = str(request.get("secret", "")).encode()
        if not hmac.compare_digest(given, secret) or request.get("port") != port:
            return {"released": False, "error": "wrong secret"}
        if time.time() > float(request.get("until", 0)):  # we were busy; the asker gave up
            return {"released": False, "error": "asked too late"}
        if not await hand_over(port, str(request.get("notebook", "another notebook"))):
            return {"released": False, "error": "another notebook took it first"}
        return {"released": True, "notebook": notebook_name()}

    try:
        path.unlink(missing_ok=True)  # a socket left by a kernel that died: its port is free anyway
        server = await asyncio.start_unix_server(answer, path=str(path))
        os.chmod(path, 0o600)
    except OSError:
        return None
    return Claim(port, server, path)


async def request_port(port: int) -> str:
    """Ask the workbook kernel holding ``port`` to stop its server; the notebook it ran.

    ``HandOverRefused`` if nobody of ours holds it (a foreign program), or it won't.
    """
    try:
        path, secret = _socket_path(port), _secret()
    except OSError as exc:
        raise HandOverRefused(str(exc)) from None
    if not path.exists():
        raise HandOverRefused("no workbook kernel of yours holds it")
    busy = "another notebook that did not answer (is a cell running there?)"
    try:
        async with asyncio.timeout(ANSWER_TIMEOUT):
            reader, writer = await asyncio.open_unix_connection(str(path))
            request = {
                "secret": secret.decode(),
                "port": port,
                "notebook": notebook_name(),
                "until": time.time() + ANSWER_TIMEOUT - 1,  # a busy holder must not stop later
            }
            writer.write(json.dumps(request).encode() + b"\n")
            await writer.drain()
            answer = json.loads(await reader.readline() or b"{}")
            writer.close()
    except (ConnectionRefusedError, FileNotFoundError):  # a socket left by a kernel that died
        raise HandOverRefused("no workbook kernel of yours holds it") from None
    except (OSError, TimeoutError, ValueError):
        raise HandOverRefused("no answer", holder=busy) from None
    if not answer.get("released"):
        error = str(answer.get("error", "it would not hand the port over"))
        raise HandOverRefused(error, holder=f"another notebook ({error})")
    return str(answer.get("notebook", "another notebook"))
