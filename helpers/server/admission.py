"""Who may open one more connection: the cap, each address's share of it, and newcomers.

Issue 19 measured it: 1,000 bare Socket.IO handshakes (``GET /socket.io/?EIO=4&transport=
polling`` with ``Connection: close``, 0.4 s of work for whoever sends them) made 1,000
engine.io sessions, each counted as a connection, and every student got 503 for the 66 s
engine.io takes to notice a session nobody polls. The rules here:

- what counts toward ``Limits.connections`` is what holds the server's resources for a
  while: every open websocket (raw, or engine.io's), and every Socket.IO session on
  long-polling whose client *joined* (sent Socket.IO's CONNECT packet);
- a Socket.IO session not joined yet is a *newcomer*: not counted, kept at most
  ``Limits.connect_grace`` s and at most ``Limits.newcomers`` of them (past it the oldest is
  closed): ``helpers.server.sio.sessions``;
- one address may hold only ``Limits.address_share`` of the connections, and of the
  newcomers: past it, 503. Except this machine's own address (``OWN_MACHINE``).

Why this machine is exempt: everything that reaches the server through a program on this
machine arrives from 127.0.0.1: a browser on the teacher's laptop, JupyterLab's proxy on a
hub (where *every* student arrives from 127.0.0.1), nginx in front of several servers
(notebook 12), the load lab's thousand clients (notebook 11). A share there would lock the
class out. Any other address is another machine, where a share protects the class: in a
classroom every phone and laptop has its own address on the network. Only ``127.0.0.1`` and
``::1`` are exempt, not the whole of ``127.0.0.0/8``: a program gets 127.0.0.2 only by binding
it on purpose, which is how the tests stand for a second machine on one computer.

Behind a NAT (a school's, to a server outside it), a whole class has one address: raise the
share (``server.app[LIMITS].address_share = 1.0`` switches it off).
"""

from __future__ import annotations

import math
from typing import Protocol

from helpers.server.limits import Limits

__all__ = ["OWN_MACHINE", "SessionCounter", "own_machine", "share_of"]

OWN_MACHINE = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
"""The addresses this machine's own programs connect from by default: held to no share."""


def own_machine(address: str | None) -> bool:
    """``address`` is this machine's own (or unknown: a Unix socket, a test transport)."""
    return address is None or address in OWN_MACHINE


def share_of(total: int, limits: Limits) -> int:
    """How many of ``total`` one address may hold: at least one."""
    return max(1, math.floor(total * limits.address_share))


class SessionCounter(Protocol):
    """A server's sessions that are no websocket of ours (Socket.IO's, ``helpers.server.sio.sessions``)."""

    def connections(self, address: str | None = None) -> int:
        """Sessions counted as connections (joined, on long-polling): all, or ``address``'s."""

    def newcomers(self, address: str | None = None) -> int:
        """Sessions not joined yet: all, or ``address``'s."""
