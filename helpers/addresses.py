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

__all__ = ["browser_url", "proxy_base"]


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
