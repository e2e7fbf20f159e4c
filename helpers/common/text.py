"""Text a client chose, made safe to show: ``printable(text)`` at every output boundary.

A chat relays what strangers type. Written raw to a terminal, an escape sequence clears the
teacher's screen, changes the window's title or writes the clipboard (OSC 52); a newline
fakes a whole log line ("Refused a connection from ..."); a right-to-left override makes
``txt.exe`` read as ``exe.txt``. So every place that shows such text (the server log and its
echo on the terminal, ``logging`` records routed there, the chat widgets, the teacher's panel)
passes it through ``printable`` first: those characters come out as visible escapes
(``\\x1b``, ``\\n``, ``\\u202e``), the rest unchanged, so the text is still all there to read.

Nicknames go further and refuse them (``helpers.protocol.check_fields``, notebook 08's
``problem_with``): a name is shown everywhere, and has no use for a newline.
"""

from __future__ import annotations

import re

__all__ = ["UNSAFE", "hide_ids", "printable"]

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
"""Unicode's bidirectional controls: marks, embeddings, overrides and isolates."""

UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}\u2028\u2029]")
"""What never reaches a terminal or a log as is: C0 and C1 controls, DEL, bidi controls, and
the line and paragraph separators (which some viewers break lines at)."""

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    r"""``text`` with its control and bidi characters escaped visibly: one line, shown as sent.

    ESC ``[2J`` hi, newline, there comes out as the text ``\x1b[2Jhi\nthere``:
    the escape can't clear a screen, the newline can't start a line of its own.
    """
    return UNSAFE.sub(_escape, text)


_IDS = re.compile(r'"(sid|pid)":"[^"]*"')


def hide_ids(frame: str) -> str:
    """A wire frame with its random session ids replaced by ``…``, so a notebook can print it."""
    return _IDS.sub(r'"\1":"…"', frame)
