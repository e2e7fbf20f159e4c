"""Show the browser side's real files in a notebook, and link to the running server's pages.

The Python a notebook teaches is written in its cells; the HTML, CSS and JavaScript live in
``public/``, where the server serves them from, and ``show_file`` displays them as they are.
"""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as widgets
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_for_filename

from helpers.common.addresses import browser_url, with_key
from helpers.kernel.lifecycle import RunningServer
from helpers.server.app import PUBLIC

__all__ = ["PageFrame", "PageLink", "SourceFile", "page", "page_url", "show_file"]


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
    """A link to a page of the running server; its text form (what nbval compares) is the URL."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __repr__(self) -> str:
        return f"Page at {self.url}"

    def _repr_html_(self) -> str:
        src = html.escape(self.url, quote=True)
        return f'<p><a href="{src}" target="_blank">Open {src} in a new tab</a></p>'


class PageFrame(widgets.VBox):
    """The page itself, in an IFrame, below its link.

    A widget, not stored HTML: its IFrame exists only while the cell's kernel runs, so opening
    the notebook never loads the page, and never joins a chat (the page would be a client).
    """

    def __init__(self, url: str, height: int = 320) -> None:
        self.url = url
        src = html.escape(url, quote=True)
        frame = f'<iframe src="{src}" width="100%" height="{height}" style="border:1px solid #ccc"></iframe>'
        super().__init__([widgets.HTML(PageLink(url)._repr_html_()), widgets.HTML(frame)])

    def __repr__(self) -> str:
        return f"Page at {self.url}"


def page_url(server: RunningServer, path: str = "") -> str:
    """The address of ``path`` on ``server`` as the student's browser reaches it.

    With the join key when the server is shared: the page passes it on to its connection.
    """
    url = browser_url(server.port, path, direct=server.url)
    return url if server.key is None else with_key(url, server.key)


def page(
    server: RunningServer, path: str = "", height: int = 320, embed: bool = True
) -> PageLink | PageFrame:
    """Link to (and, with ``embed``, show) ``path`` on ``server``, through the proxy if remote.

    ``embed=False`` for a page that would join the chat itself (its IFrame is a client too).
    """
    url = page_url(server, path)
    return PageFrame(url, height) if embed else PageLink(url)
