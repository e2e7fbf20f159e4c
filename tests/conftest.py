"""Shared fixtures, and the suite's stderr policy for nbval.

stderr policy: nbval compares a notebook's stderr like its stdout, and we keep it that
way on purpose. A committed notebook has no stderr output at all (test_notebooks checks
it), so any warning or log line that appears on stderr while nbval runs one is a new
problem and fails the cell. The kernel's debugger start-up note is silenced here because
it is about the interpreter, not about the workbook.

HTML policy: nbval compares every MIME type it does not skip. Every output the workbook
displays has a ``text/plain`` form that says what matters (a transcript, a verdict, a URL, a
file's path) and an optional ``text/html`` form for people (a highlighted file, a link with
its page). The plain form is compared; the HTML is not, so a new comment in ``main.mjs``
never fails a notebook whose cells prove behaviour. ``image/svg+xml`` is skipped too: a
shared server's QR code changes with its join key at every run; its text form, the link it
encodes, is compared (tests/sanitize.cfg makes the key ``KEY``).

Scale-out policy: notebook 12 runs Debian's redis-server and nginx. Without them it is skipped
with the reason, except in CI (``CI=true``, where ``.ci/run`` installs both), where it must
run. Their ports are free ones (``WORKBOOK_REDIS_PORT``, ``WORKBOOK_NGINX_PORT``), so a
workbook open in JupyterLab on this machine keeps its own.

Sharing policy: ``WORKBOOK_SHARE_ADDRESS`` is ``127.0.0.1`` unless the run says otherwise
(``make test`` sets it too), so a server shared by a test or a notebook cell listens on
loopback only, and nothing leaves this machine.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from helpers.kernel.lifecycle import RunningServer, start_server, stop_server
from tests.scale_support import IN_CI, missing, quiet_port
from tests.scale_support import free_port as _free_port

os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
os.environ.setdefault("WORKBOOK_SHARE_ADDRESS", "127.0.0.1")  # before nbval starts any kernel


os.environ.setdefault("WORKBOOK_REDIS_PORT", str(quiet_port()))
os.environ.setdefault("WORKBOOK_NGINX_PORT", str(quiet_port()))

SKIPPED_MIME_TYPES = ("text/html", "image/svg+xml")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The HTML policy above: nbval's collector (one per notebook) skips ``text/html`` and SVG."""
    absent = missing("redis-server", "nginx")
    for item in items:
        collector = item.parent
        skip = getattr(collector, "skip_compare", None)
        if skip is not None:
            collector.skip_compare = (*skip, *(kind for kind in SKIPPED_MIME_TYPES if kind not in skip))
            if absent and not IN_CI and "scaling-out" in str(item.path):  # the scale-out policy above
                item.add_marker(pytest.mark.skip(reason=f"notebook 12: {absent}"))


@pytest.fixture
async def serve() -> AsyncIterator:
    """``await serve(app)`` starts ``app`` on a free loopback port; stopped after the test."""

    async def _serve(app: web.Application) -> RunningServer:
        return await start_server(app, port=0, quiet=True)

    yield _serve
    await stop_server(quiet=True)


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on right now."""
    return _free_port()
