"""The server's log: what the server says, kept as lines.

The original tutorial's server prints with ``console.log``; the handlers a notebook teaches
``print``, as a Python program does. Inside a notebook a print from a background task lands
in whatever cell happens to run (or in none), so what a server's handlers print comes here
instead (``route_prints``): the standalone command echoes every line to the terminal, a
notebook prints the lines in a later cell, and tests wait for a line instead of sleeping.

A line often quotes a client (``ws got: ...``), so every line is escaped on its way in
(``helpers.common.text.printable``): no ESC sequence, newline or RTL override a client sends reaches
the terminal or a cell raw, and one ``print`` is one line, whatever its text holds.
"""

from __future__ import annotations

import builtins
import contextlib
import contextvars
import logging
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

from helpers.common.text import printable
from helpers.common.waiting import Changes, Lines, now

__all__ = [
    "CURRENT_LOG",
    "MAX_LINES",
    "MAX_LINE_CHARS",
    "ONCE_EVERY",
    "ServerError",
    "ServerLog",
    "route_prints",
    "server_context",
]

ONCE_EVERY = 10.0
"""Seconds between two log lines of the same repeated condition (``ServerLog.once``)."""

ONCE_KEYS = 200

_VALUES = re.compile(r"'[^']*'|\"[^\"]*\"|\d+")
"""What a client chooses in a refusal's text: quoted values and numbers."""

MAX_LINES = 2000
"""Lines a server log keeps: the newest ones (a whole lesson's worth, in far less than 1 MB)."""

MAX_LINE_CHARS = 500
"""A longer line is cut there, with its length said: a 4 MB message is not kept in the log."""

MAX_ERRORS = 100
"""Exceptions kept with their tracebacks (each holds its frames); the newest ones."""


@dataclass
class ServerError:
    """An exception raised inside the server (a handler or a background task)."""

    where: str
    exception: BaseException
    reported: bool = False

    @property
    def summary(self) -> str:
        text = f"Error in {self.where}: {type(self.exception).__name__}: {self.exception}"
        return printable(text)  # the next cell prints it: what a client sent is quoted there

    @property
    def traceback(self) -> str:
        return "".join(traceback.format_exception(self.exception))


@dataclass
class ServerLog:
    """Lines the server logged, in order; callable like ``print``.

    ``echo=True`` also prints each line as it comes (the standalone command uses it).
    """

    echo: bool = False
    lines: Lines = field(default_factory=lambda: Lines("the server log", limit=MAX_LINES))
    errors: list[ServerError] = field(default_factory=list)
    error_count: int = 0
    listeners: list[Callable[[str], None]] = field(default_factory=list)
    _once: dict[str, list] = field(default_factory=dict, repr=False)
    _partial: str = field(default="", repr=False)

    @property
    def changes(self) -> Changes:
        """Notified at every new line."""
        return self.lines.changes

    def __call__(self, line: str) -> None:
        line = printable(line)  # a client's ESC, newline or RTL override can't reach a terminal
        if len(line) > MAX_LINE_CHARS:
            line = f"{line[:MAX_LINE_CHARS]}… ({len(line):,} characters)"
        self.lines.append(line)
        if self.echo:
            _echo(line + "\n")
        for listener in self.listeners:
            listener(line)

    def once(self, key: str, line: str, every: float = ONCE_EVERY) -> None:
        """Log ``line``, but a condition of the same ``key`` at most once per ``every`` s.

        For what a flood repeats (a refused origin, a full server, a failing accept): the log
        stays readable, its memory bounded, and the next line says how many were left out.
        Quoted values and numbers in ``key`` don't make a new condition: a flood of 3,000
        different Host names is one condition, logged once.
        """
        key = _VALUES.sub("…", key)
        now = time.monotonic()
        seen = self._once.get(key)
        if seen is not None and now - seen[0] < every:
            seen[1] += 1
            return
        skipped = seen[1] if seen is not None else 0
        self._once[key] = [now, 0]
        if len(self._once) > ONCE_KEYS:  # forget the oldest conditions: keys are bounded too
            for old in list(self._once)[: len(self._once) - ONCE_KEYS]:
                del self._once[old]
        self(f"{line} ({skipped} more like it)" if skipped else line)

    def error(self, where: str, exception: BaseException) -> None:
        """Record an exception so it is shown, never lost; the same exception once only."""
        if any(error.exception is exception for error in self.errors):
            return  # logged by the handler (logging.exception) and then raised on: one error
        error = ServerError(where, exception)
        self.errors.append(error)
        self.error_count += 1
        del self.errors[:-MAX_ERRORS]
        self(error.summary)
        if self.echo:  # its lines are the traceback's own; what they quote is escaped
            _echo("\n".join(map(printable, error.traceback.split("\n"))))

    def write(self, text: str) -> None:
        """Take printed text: each whole line is logged, a partial one waits for its end."""
        *whole, self._partial = (self._partial + text).split("\n")
        for line in whole:
            self(line)

    def printed(self, text: str, end: str = "\n") -> None:
        """Take one ``print`` call: one log line, whatever newlines ``text`` holds.

        ``print(f"ws got: {msg.data}")`` with a client's ``"hi\\nRefused a connection..."``
        is one line, its newline shown as ``\\n``: a client can't fake a line of the server's.
        An ``end`` without a newline (``print(..., end="")``) waits for the rest of the line.
        """
        if not end.endswith("\n"):
            self._partial += text + end
            return
        line, self._partial = self._partial + text + end[:-1], ""
        self(line)

    def logger(self, name: str) -> logging.Logger:
        """A ``logging.Logger`` that writes ERROR records here instead of to stderr.

        For libraries that log (aiohttp, python-socketio): on stderr their lines would land in
        whatever cell happens to run. An exception already recorded is not recorded twice.
        The logger is not in ``logging``'s global registry, so each server has its own.
        """
        logger = logging.Logger(name, level=logging.ERROR)
        logger.addHandler(_ToServerLog(self, name))
        return logger

    def take_unreported_errors(self) -> list[ServerError]:
        """Errors nobody has been shown yet; marks them shown."""
        fresh = [e for e in self.errors if not e.reported]
        for error in fresh:
            error.reported = True
        return fresh

    def show(self, *, last: int | None = None) -> None:
        """Print the log, one line each; ``last=N``: only its last ``N`` lines.

        One meaning only, so a cell says what it shows: ``show()`` everything since the
        server started, ``show(last=2)`` what the last step logged.
        """
        for line in self.lines if last is None else self.lines[max(0, len(self.lines) - last) :]:
            print(line)

    def clear(self) -> None:
        self.lines.clear()

    def mark(self) -> int:
        """A mark for ``wait_for(..., since=mark)``: lines logged from now on come after it."""
        return now()

    async def wait_for(
        self, text: str, *, count: int = 1, since: int | None = None, timeout: float = 3.0
    ) -> None:
        """Wait until ``count`` lines logged since the cell began (or ``since``) contain ``text``."""
        await self.lines.wait_for(text, count=count, since=since, timeout=timeout)


class _ToServerLog(logging.Handler):
    def __init__(self, log: ServerLog, prefix: str) -> None:
        super().__init__(level=logging.ERROR)
        self.server_log, self.prefix = log, prefix

    def emit(self, record: logging.LogRecord) -> None:
        exception = record.exc_info[1] if record.exc_info else None
        if isinstance(exception, HttpProcessingError):  # a request aiohttp could not read: 400
            why = str(exception.message).splitlines()[0].split(":")[0]  # not the bytes it got
            line = f"Refused a request aiohttp could not read (400): {why}."
            self.server_log.once(f"bad request {why}", line)
        elif exception is None:
            self.server_log(f"{self.prefix}: {record.getMessage()}")
        else:  # an exception already recorded (by the middleware, say) is not recorded again
            self.server_log.error(f"{self.prefix} ({record.getMessage()})", exception)


CURRENT_LOG: contextvars.ContextVar[ServerLog | None] = contextvars.ContextVar("server log", default=None)
"""The log of the server whose request (or Socket.IO event) this code is handling, if any.

Set by the server for each request (``helpers.server.app``); a task started while handling one
(python-socketio runs each event in a task of its own) inherits it.
"""


@contextlib.contextmanager
def server_context(log: ServerLog) -> Iterator[None]:
    """Run the block as the server of ``log``: its prints, and the tasks it starts, go there."""
    token = CURRENT_LOG.set(log)
    try:
        yield
    finally:
        CURRENT_LOG.reset(token)


_builtin_print = builtins.print


def _print(
    *values: object, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False
) -> None:
    """``print``, but inside a server (``CURRENT_LOG``) a line for its log, not for a cell."""
    log = CURRENT_LOG.get()
    if log is None or file not in (None, sys.stdout):
        _builtin_print(*values, sep=sep, end=end, file=file, flush=flush)
        return
    sep, end = " " if sep is None else sep, "\n" if end is None else end
    log.printed(sep.join(map(str, values)), end)


class _RecordsToServerLog(logging.Handler):
    """The root logger's handler for ``logging`` inside a server: records go to its log.

    ``logging.exception("...")`` in a handler is recorded as the server's error (shown at the
    top of the next cell); other records that reach the root logger (WARNING and up, unless a
    level was set) become lines. Outside a server, a record goes where it went before: when no
    other handler on its way took it, to ``logging.lastResort`` (stderr, WARNING and up), as
    ``logging`` itself does. (With this handler on the root logger, ``logging.basicConfig()``
    in the same process needs ``force=True``.)
    """

    def emit(self, record: logging.LogRecord) -> None:
        log = CURRENT_LOG.get()
        if log is None:
            last = logging.lastResort
            if last is not None and record.levelno >= last.level and not _handled_elsewhere(record, self):
                last.handle(record)
            return
        if record.exc_info and record.exc_info[1] is not None:
            log.error(record.getMessage(), record.exc_info[1])
        else:
            log(record.getMessage())


def _handled_elsewhere(record: logging.LogRecord, ours: logging.Handler) -> bool:
    """Whether another handler on the record's way up (``Logger.callHandlers``'s walk) took it."""
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        if any(handler is not ours and record.levelno >= handler.level for handler in logger.handlers):
            return True
        logger = logger.parent if logger.propagate else None
    return False


def route_prints() -> None:
    """From now on, what a server's handlers print or log goes to that server's log (idempotent).

    The tutorial's ``console.log(`ws got: ${data}`)`` is ``print(f"ws got: {data}")`` in
    the handlers the notebooks teach; this makes that line land in ``server.log`` instead of
    in whichever cell happens to run, and ``logging.exception(...)`` in a handler records the
    error there. A print or a record outside any server is untouched.
    """
    builtins.print = _print  # print is looked up at each call: sys.stdout may change, this stays
    root = logging.getLogger()
    if not any(isinstance(handler, _RecordsToServerLog) for handler in root.handlers):
        root.addHandler(_RecordsToServerLog())


def _echo(text: str) -> None:
    """Write to the terminal (the standalone command), never back into a server log."""
    sys.stdout.write(text)
    sys.stdout.flush()
