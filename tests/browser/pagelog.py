"""Matching a chat page's log (#output): timestamped lines, matched whole, in Python and JavaScript."""

from __future__ import annotations

import re


def log_line(text: str) -> re.Pattern[str]:
    """Matches a page's #output when one of its timestamped lines is exactly ``text``."""
    return log_count(text, 1)


def log_count(text: str, count: int) -> re.Pattern[str]:
    """Matches when at least ``count`` lines of the log are exactly ``text``."""
    one = r"(^|\n)[^\n]* " + _escape(text) + r"(?=\n)"
    return re.compile(r"[\s\S]*?".join([one] * count))  # JavaScript regex syntax too


def _escape(text: str) -> str:
    """``re.escape`` for a pattern Playwright also runs as a JavaScript regex (no ``\\ ``)."""
    return re.sub(r"[.^$*+?()[\]{}|\\/]", lambda m: "\\" + m.group(), text)
