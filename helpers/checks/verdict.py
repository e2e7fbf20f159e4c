"""What a check says: ``Passed: ...`` or ``Not yet: ...``, naming who did what.

A verdict names the clients: who sent what, who expected what, and who got what (or got
something they should not have). Its text is deterministic, no ports and no times, so a
notebook's stored verdict is what nbval compares.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NOTHING", "Described", "Emit", "NotYet", "Nothing", "Verdict", "shown"]


@dataclass(frozen=True)
class Nothing:
    """What arrived when nothing did, and why: ``nothing (the connection closed: 1011)``."""

    why: str

    def __str__(self) -> str:
        return f"nothing ({self.why})"

    def __eq__(self, other: object) -> bool:  # any nothing is the nothing a check expects
        return isinstance(other, Nothing)

    def __hash__(self) -> int:
        return 0


NOTHING = Nothing("as it should be")
"""What a client should get from a step: nothing at all (the sender of an all-but-sender message)."""


@dataclass(frozen=True)
class Emit:
    """What a Socket.IO client sent, as a verdict shows it: ``emit('shout', 'hi there')``."""

    event: str
    args: tuple[Any, ...] = ()

    def __repr__(self) -> str:
        return f"emit({', '.join(repr(item) for item in (self.event, *self.args))})"


class Described(str):
    """A summary a verdict shows as it is, unquoted: ``30 long messages, then 'still there?'``."""

    def __repr__(self) -> str:
        return str(self)


def shown(value: Any) -> str:
    """A value as a verdict shows it: text quoted, a list as one, ``Nothing`` as its reason."""
    if isinstance(value, Nothing):
        return "nothing" if value is NOTHING else str(value)
    if isinstance(value, list):
        return f"[{', '.join(shown(item) for item in value)}]"
    return repr(value)


class NotYet(Exception):  # a verdict, not an error
    """The student's code did not do what the exercise asks; ``lines`` say what happened."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)


@dataclass
class Verdict:
    """A checker's answer. Its text (what nbval compares) is deterministic: no ports, no times."""

    exercise: str
    passed: bool
    details: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        if self.passed:
            return f"Passed: {self.exercise}. " + " ".join(self.details)
        return "\n".join([f"Not yet: {self.exercise}.", *(f"  {line}" for line in self.details)])

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.passed else "#9a6700"
        return f'<pre style="color:{color}">{html.escape(repr(self))}</pre>'
