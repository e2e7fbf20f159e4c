"""Where the student's browser reaches this kernel's servers: directly, or through the proxy.

On a laptop the browser and the kernel share the machine: ``http://127.0.0.1:3000/`` works.
On JupyterHub and Binder they don't: the browser can't open the kernel's loopback, and the
pages go through jupyter-server-proxy at ``{base_url}proxy/{port}/``, on the Jupyter
server's own origin (its websockets too). The hub says so in ``JUPYTERHUB_SERVICE_PREFIX``;
``WORKBOOK_PROXY_BASE`` says the same for any other remote Jupyter server (its base URL, e.g.
``/``), or ``off`` to keep links direct.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["DEFAULT_PORT", "browser_url", "proxy_base", "with_key"]

DEFAULT_PORT = int(os.environ.get("WORKBOOK_PORT", "3000"))
"""Port 3000 as in the original tutorial; ``WORKBOOK_PORT`` changes it for a whole session."""


def with_key(url: str, key: str) -> str:
    """``url`` with its ``key`` query parameter set to ``key`` (any other one replaced)."""
    parts = urlsplit(url)
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name != "key"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("key", key)])))


def proxy_base() -> str | None:
    """``{base_url}proxy/`` when the browser is elsewhere, else ``None``."""
    base = os.environ.get("WORKBOOK_PROXY_BASE") or os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if not base or base == "off":
        return None
    return base.rstrip("/") + "/proxy/"


def browser_url(port: int, path: str = "", *, direct: str) -> str:
    """The address of ``path`` on the server at ``port`` as the browser reaches it.

    ``direct`` is the server's own address (``http://127.0.0.1:3000/``), used on a laptop.
    """
    base = proxy_base()
    return f"{base}{port}/{path}" if base else direct + path
