"""What the kernel's servers tell the clients living in the same kernel, without either importing the other.

A widget chat client follows this kernel's server: it reconnects at once when a server starts
(``SERVER_STARTED``), stops reconnecting when the port went to another notebook
(``PORT_HANDED_OVER``), and joins this kernel's shared server with its key (``own_key``). The
server side (``helpers.kernel.lifecycle``) says so here; the clients listen here.
"""

from __future__ import annotations

from collections.abc import Callable

from helpers.common.waiting import Changes

__all__ = ["KEY_LOOKUPS", "PORT_HANDED_OVER", "SERVER_STARTED", "own_key"]

SERVER_STARTED = Changes()
"""Notified whenever a server starts in this kernel: a widget waiting to reconnect tries at once."""

PORT_HANDED_OVER: list[Callable[[int, str], object]] = []
"""Called with (port, notebook) when this kernel gave its port to another notebook."""

KEY_LOOKUPS: list[Callable[[str], str | None]] = []
"""Each says which join key a URL to one of this kernel's servers needs (``None``: none)."""


def own_key(url: str) -> str | None:
    """The join key of this kernel's shared server at ``url``, or ``None``."""
    for lookup in KEY_LOOKUPS:
        key = lookup(url)
        if key is not None:
            return key
    return None
