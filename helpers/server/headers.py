"""The security headers every response of the workbook's servers carries.

- ``Referrer-Policy: no-referrer``: a shared page's address holds the join key; a link the
  page leads to, or a script it loads from the CDN, must not be told that address.
- ``X-Content-Type-Options: nosniff``: a file is what its type says (an uploaded ``.txt`` is
  never run as a script).
- ``Content-Security-Policy``: the pages load only their own ES modules, styles and icon, and
  the Socket.IO client from this server (``/vendor/socket.io/``) or, without ``node_modules``,
  from its CDN (``https://cdn.socket.io``); they connect only to the server that served them
  (``'self'``: its http(s) and, in CSP 3 as Chromium and Firefox implement it, its ws(s)).
  ``frame-ancestors`` lets only a local JupyterLab (any port on ``localhost`` or
  ``127.0.0.1``, http or https), a page of the same origin (a hub's proxy serves JupyterLab
  and the page from one origin), and VS Code's notebook webviews embed a page
  (``helpers.kernel.show.PageFrame``); any other site can't frame it and trick a student into
  clicking in it.

No ``X-Frame-Options``: it has no allow-list (``ALLOW-FROM`` is obsolete, ignored by browsers),
and ``SAMEORIGIN`` would refuse JupyterLab's own frame, which is served from another port.
Browsers that know CSP (all current ones) ignore ``X-Frame-Options`` when ``frame-ancestors``
is there.
"""

from __future__ import annotations

from aiohttp import web

__all__ = ["CONTENT_SECURITY_POLICY", "FRAME_ANCESTORS", "SECURITY_HEADERS", "add_security_headers"]

SOCKETIO_CDN = "https://cdn.socket.io"
"""Where ``public/js/socketio.mjs`` loads the Socket.IO client from when the server has no copy."""

FRAME_ANCESTORS = (
    "'self' http://localhost:* http://127.0.0.1:* https://localhost:* https://127.0.0.1:* vscode-webview:"
)
"""Who may show a page in a frame: a local JupyterLab, a hub (same origin), VS Code's notebooks."""

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        f"script-src 'self' {SOCKETIO_CDN}",
        "connect-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {FRAME_ANCESTORS}",
    ]
)

SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """aiohttp's ``on_response_prepare`` signal: every response gets ``SECURITY_HEADERS``.

    A handler that set one of them itself keeps its own. A websocket's handshake (101) gets
    none: it is no document, and each header would stay in memory as long as its connection.
    """
    if response.status == 101:
        return
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
