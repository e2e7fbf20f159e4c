"""Show the real source in a notebook: the code that runs is the code the student reads."""

from __future__ import annotations

import html
import inspect
import os
from pathlib import Path
from types import FunctionType, ModuleType

from IPython.display import Code

from helpers.app import PUBLIC
from helpers.lifecycle import RunningServer

__all__ = ["PageLink", "page", "show_file", "show_source"]

_LANGUAGES = {".html": "html", ".mjs": "javascript", ".js": "javascript", ".css": "css"}


def show_source(obj: ModuleType | type | FunctionType) -> Code:
    """The source of a module, class or function, highlighted."""
    return Code(inspect.getsource(obj), language="python")


def show_file(path: str) -> Code:
    """A file of ``public/`` (e.g. ``"chat.html"``, ``"js/main.mjs"``), highlighted."""
    file = PUBLIC / path
    return Code(file.read_text(), language=_LANGUAGES.get(Path(path).suffix, "text"))


class PageLink:
    """A link to a page of the running server, and the page itself in an IFrame.

    On a JupyterHub the browser can't reach the kernel's 127.0.0.1, so when
    ``JUPYTERHUB_SERVICE_PREFIX`` is set the link goes through jupyter-server-proxy
    (``{prefix}proxy/{port}/{path}``). The text form (what nbval compares) is the URL.
    """

    def __init__(self, url: str, height: int = 320, embed: bool = True) -> None:
        self.url, self.height, self.embed = url, height, embed

    def __repr__(self) -> str:
        return f"Page at {self.url}"

    def _repr_html_(self) -> str:
        src = html.escape(self.url, quote=True)
        link = f'<p><a href="{src}" target="_blank">Open {src} in a new tab</a></p>'
        if not self.embed:
            return link
        return (
            f'{link}<iframe src="{src}" width="100%" height="{self.height}"'
            ' style="border:1px solid #ccc"></iframe>'
        )


def page(server: RunningServer, path: str = "", height: int = 320, embed: bool = True) -> PageLink:
    """Link to (and, with ``embed``, show) ``path`` on ``server``, through a hub's proxy if any.

    ``embed=False`` for a page that would join the chat itself (its IFrame is a client too).
    """
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    url = f"{prefix.rstrip('/')}/proxy/{server.port}/{path}" if prefix else server.url + path
    return PageLink(url, height, embed)
