"""How the tests and ``make screenshots`` start Debian's Chromium (Playwright never downloads one).

The machine reaches no network but loopback, so Chromium's background services are off
and every host but loopback fails to resolve: a page can't quietly depend on the internet.
127.0.0.2 is loopback too: the tests share a server there, as if on the classroom network.
"""

import os

__all__ = ["CHROMIUM", "CHROMIUM_ARGS"]

CHROMIUM = os.environ.get("WORKBOOK_CHROMIUM", "/usr/bin/chromium")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE 127.0.0.2, EXCLUDE localhost",
]
