"""The limits that let one server take a whole class: no client can take more than its share.

On loopback, with one student, a server can trust its clients. Shared with a class (or with
any page a student visits), it meets clients that send too much, too fast, too many, or that
vanish without a word. Each limit below answers one of those, and each refusal is told to the
client, never silent:

- a Socket.IO message over ``message_bytes``: its connection is closed with 1009 (Message Too
  Big), or refused with 400 on long-polling (a raw websocket's handler sets its own size,
  ``web.WebSocketResponse(max_msg_size=...)``, notebook 3);
- more than ``rate`` messages a second (bursts up to ``burst``) on the JSON and Socket.IO
  chats: each one over gets an error back, and is not sent on;
- more than ``connections`` open websockets or Socket.IO sessions: a new one gets 503; one
  address (other than this machine's own) may hold only ``address_share`` of them
  (``helpers.server.admission``);
- a Socket.IO session that has not connected (no CONNECT packet) within ``connect_grace``
  s is closed, and only ``newcomers`` such sessions are kept (past it the oldest goes): a
  flood of bare handshakes costs little and locks nobody out (``helpers.server.sio.sessions``);
- an HTTP connection that sends no whole request within ``idle`` s (slowloris): closed;
- a Socket.IO client that lets more than ``queue`` packets wait unread: disconnected;
- a websocket client that leaves more than ``unsent_bytes`` waiting in the server's send
  buffer (the fast broadcast of notebook 11): dropped; and when the clients behind leave more
  than ``unsent_total`` waiting all together, the one furthest behind is dropped, and the next,
  until they don't: each unsent byte is a copy in the server's memory, so a thousand clients
  that stop reading can't take it (1 MiB each would be 1 GiB).

One is a cost the server chooses not to pay: ``deflate``, per-message compression (RFC 7692,
``permessage-deflate``), which browsers and the official clients offer on every websocket.
Taken up, each client gets a compressor of its own (about 100 KiB of the server's memory, held
as long as it stays) and a message sent to N clients is compressed N times: a chat's short
lines gain little from it. So it is off, as Node's socket.io has it by default, on raw
websockets and Socket.IO's alike; ``server.app[LIMITS].deflate = True`` takes the offers of the
clients that connect from then on (notebook 11 measures the difference).

They are per server (``app[LIMITS]``), read at each use: a cell can change them on a running
server (``server.app[LIMITS].rate = 5``). Two are read at start: ``idle`` (aiohttp's
keep-alive timeout) and ``message_bytes`` (engine.io's buffer size). A raw websocket's own two
(its size and its ``heartbeat``: a peer that stops answering pings is dropped) are arguments of
``web.WebSocketResponse``, which each stage's handler passes (notebook 3).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from aiohttp import web

__all__ = ["LIMITS", "RATE_LIMIT", "Limits", "RateLimit", "raise_open_files_limit"]


@dataclass
class Limits:
    """How much one client, and all of them together, may take from the server."""

    message_bytes: int = 64 * 1024
    rate: float = 20.0
    burst: int = 40
    connections: int = 1000
    address_share: float = 0.25
    newcomers: int = 1000
    connect_grace: float = 5.0
    idle: float = 5.0
    queue: int = 1000
    unsent_bytes: int = 1 << 20
    unsent_total: int = 32 << 20
    deflate: bool = False


LIMITS = web.AppKey("limits", Limits)


class RateLimit:
    """A token bucket per client: ``allow(who)`` says whether ``who`` may send one more now.

    Each client may send ``burst`` messages at once, then ``rate`` a second on average; with a
    ``log`` (``ServerLog.once``), a refusal is logged, once per interval. A
    bucket that has filled up again is the same as a new one, so buckets are forgotten then:
    the memory stays bounded however many clients come and go.
    """

    PRUNE_AT = 4096

    def __init__(
        self,
        limits: Limits,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str, str], None] | None = None,
    ) -> None:
        self.limits, self.clock, self.log = limits, clock, log
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # who -> (tokens, when)

    def __len__(self) -> int:
        """How many clients' buckets are kept."""
        return len(self._buckets)

    def allow(self, who: Hashable) -> bool:
        """Take one token from ``who``'s bucket; ``False`` when it is empty (too fast)."""
        rate, burst, now = self.limits.rate, self.limits.burst, self.clock()
        tokens, then = self._buckets.get(who, (burst, now))
        tokens = min(burst, tokens + (now - then) * rate)
        if len(self._buckets) > self.PRUNE_AT:
            self._prune(now)
        if tokens < 1:
            self._buckets[who] = (tokens, now)
            if self.log is not None:  # a flood is said once per interval, never line by line
                self.log("too fast", f"Refused messages from a client: {self.describe()}.")
            return False
        self._buckets[who] = (tokens - 1, now)
        return True

    def forget(self, who: Hashable) -> None:
        """``who`` left: its bucket goes too."""
        self._buckets.pop(who, None)

    def _prune(self, now: float) -> None:
        rate, burst = self.limits.rate, self.limits.burst
        full = [who for who, (tokens, then) in self._buckets.items() if tokens + (now - then) * rate >= burst]
        for who in full:
            del self._buckets[who]

    def describe(self) -> str:
        """The limit in words, for the error a client gets."""
        return f"too many messages: at most {self.limits.rate:g} a second; slow down"


RATE_LIMIT = web.AppKey("rate limit", RateLimit)


def raise_open_files_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; the new soft limit.

    Every connection is a file. With the usual soft limit of 1,024 a thousand clients lock
    everyone else out; the hard limit (often 512 Ki or more) is ours to take without rights.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft
