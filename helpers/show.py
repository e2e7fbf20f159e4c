"""Show the browser side's real files in a notebook, and link to the running server's pages.

The Python a notebook teaches is written in its cells; the HTML, CSS and JavaScript live in
``public/``, where the server serves them from, and ``show_file`` displays them as they are.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_for_filename

from helpers.app import PUBLIC
from helpers.lifecycle import RunningServer

__all__ = ["PageLink", "SourceFile", "page", "show_file"]


class SourceFile:
    """A file of ``public/``, shown highlighted; its text form is only its path.

    A notebook's stored outputs are what nbval compares. The path, not the source, keeps a
    new comment in ``main.mjs`` from failing notebook 02: the pages' behaviour is proven
    by the browser tests, and the highlighted HTML (the human view) is not compared.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.text = (PUBLIC / path).read_text()

    def __repr__(self) -> str:
        return f"public/{self.path}"

    def _repr_html_(self) -> str:
        lexer = get_lexer_for_filename(Path(self.path).name.replace(".mjs", ".js"))
        formatter = HtmlFormatter(noclasses=True, nobackground=True)
        title = f"<p><code>public/{html.escape(self.path)}</code></p>"
        return title + highlight(self.text, lexer, formatter)


def show_file(path: str) -> SourceFile:
    """A file of ``public/`` (e.g. ``"chat.html"``, ``"js/main.mjs"``), highlighted."""
    return SourceFile(path)


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
