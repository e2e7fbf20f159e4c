"""A shared server's join key, guarded: wrong keys are limited per address, and a page can ask.

A shared server (``helpers.kernel.share``) lets a websocket or Socket.IO connection in only with its
join key. Two things come with that door:

- **Guessing is slow.** The key has 128 random bits; on top of that, an address that sends
  ``allowed`` wrong keys within ``window`` seconds gets 429 (Too Many Requests) for
  ``locked_for`` seconds, even with the right key (else the lock would still answer the
  guess). The log says it once per interval. A missing key is no guess (a page opened
  without its link) and is not counted.
- **A refused page can learn why.** A browser never shows a page the status of a refused
  websocket handshake: all it sees is a failed connection, the same as a server that is
  down. After a failed attempt the pages fetch ``KEY_CHECK_PATH`` (beside the page, with the
  page's own ``key``): 204 when the key is right (or none is needed), 403 with ``NEEDS_KEY``
  when it is missing or old, 429 while the address is locked out. On 403 a page says that it
  needs the link with its key, and stops retrying.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

__all__ = ["KEY_CHECK_PATH", "WRONG_KEYS", "WrongKeys"]

KEY_CHECK_PATH = "/join-key-check"
"""Where a page asks whether its key opens this server's door (any app, added by the plumbing)."""


@dataclass
class WrongKeys:
    """Wrong join keys per address: after ``allowed`` in ``window`` s, ``locked_for`` s of 429."""

    allowed: int = 10
    window: float = 60.0
    locked_for: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, deque[float]] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)

    KEPT_ADDRESSES = 4096  # beyond that the oldest address is forgotten: memory stays bounded

    def locked(self, address: str) -> bool:
        """``address`` sent too many wrong keys lately: refuse it for now, whatever its key."""
        until = self._locked_until.get(address)
        if until is None:
            return False
        if self.clock() < until:
            return True
        del self._locked_until[address]
        return False

    def wrong(self, address: str) -> bool:
        """Count one wrong key from ``address``; whether it is locked out from now on."""
        now = self.clock()
        seen = self._seen.pop(address, None) or deque()
        self._seen[address] = seen  # newest last: the oldest is forgotten first
        seen.append(now)
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if len(self._seen) > self.KEPT_ADDRESSES:
            del self._seen[next(iter(self._seen))]
        if len(seen) < self.allowed:
            return False
        seen.clear()
        self._locked_until[address] = now + self.locked_for
        if len(self._locked_until) > self.KEPT_ADDRESSES:
            del self._locked_until[next(iter(self._locked_until))]
        return True


WRONG_KEYS = web.AppKey("wrong join keys", WrongKeys)
"""Each app's count of wrong join keys per address (the plumbing adds it)."""
