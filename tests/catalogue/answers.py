"""An answer to an exercise: the source a student runs, and what its checker must say."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    """``source`` (a cell's code); ``passes``: the checker says Passed; ``says``: in the verdict."""

    name: str
    source: str
    passes: bool
    says: str = ""


def right(name: str, source: str) -> Answer:
    """A valid answer, in one of the styles a student may write: the checker must say Passed."""
    return Answer(name, textwrap.dedent(source).strip() + "\n", True)


def wrong(name: str, says: str, source: str) -> Answer:
    """A plausible wrong answer: the checker must say Not yet, and its verdict must say ``says``."""
    return Answer(name, textwrap.dedent(source).strip() + "\n", False, says)
