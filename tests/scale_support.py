"""What the scale-out tests need: Debian's redis-server and nginx, and free loopback ports.

Importable as ``scale_support`` (pytest puts tests/ on ``sys.path``). A missing program
skips the test with the reason and how to install it; with ``CI=true`` it fails instead:
``.ci/run`` installs both, so in CI these tests always run.
"""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

import pytest

from helpers.programs.nginx import INSTALL as NGINX_INSTALL
from helpers.programs.process import installed
from helpers.programs.redis_server import INSTALL as REDIS_INSTALL

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
"""``CI=true``: what a test needs must be there (``.ci/run`` installs it); the one definition."""

INSTALL = {"redis-server": REDIS_INSTALL, "nginx": NGINX_INSTALL}


def missing(*names: str) -> str | None:
    """Why a test of these programs can't run here, or ``None``."""
    absent = [name for name in names if installed(name) is None]
    if not absent:
        return None
    return "; ".join(f"{name} is not installed ({INSTALL[name]})" for name in absent)


def needs(*names: str) -> None:
    """Skip (fail in CI) unless every program in ``names`` is installed."""
    why = missing(*names)
    if why is None:
        return
    if IN_CI:
        pytest.fail(f"{why}: CI=true, the scale-out tests must run", pytrace=False)
    pytest.skip(why)


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the OS's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


EPHEMERAL_PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range")


def quiet_port() -> int:
    """A free loopback port, with the next one free too (notebook 12's node-b), that no outgoing
    connection can take.

    ``free_port`` gets its port from the range the OS hands to outgoing connections, so any
    client (a test's thousand, a load generator's five thousand) may bind it as its own end
    before a notebook starts its server there: "in use by another program". Ports below that
    range are only ever taken on purpose.
    """
    low = int(EPHEMERAL_PORTS.read_text().split()[0]) if EPHEMERAL_PORTS.exists() else 32768
    chooser = random.SystemRandom()
    for _ in range(100):
        port = chooser.randrange(max(1024, low - 12_000), low - 2)
        if all(bindable(candidate) for candidate in (port, port + 1)):
            return port
    return free_port()


def bindable(port: int) -> bool:
    """Whether this process may listen on ``port`` of 127.0.0.1 now."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
