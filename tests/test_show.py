"""What notebooks display: the browser side's files, and links to pages that also work on a JupyterHub."""

from __future__ import annotations

import html

from helpers.app import PUBLIC
from helpers.show import page, show_file


class FakeServer:
    """Only the address: page() needs nothing else of a RunningServer."""

    port = 3000
    url = "http://127.0.0.1:3000/"


def test_a_file_is_shown_to_people_but_compared_by_its_path_only():
    """nbval compares the text form: a new comment in main.mjs must not fail notebook 02."""
    shown = show_file("js/main.mjs")
    assert repr(shown) == "public/js/main.mjs"
    first_line = (PUBLIC / "js" / "main.mjs").read_text().splitlines()[1]  # " * The chat page: ..."
    assert html.escape(first_line.strip(" *")) in shown._repr_html_()


def test_page_links_and_embeds_the_page_on_a_laptop(monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    link = page(FakeServer(), "chat.html")  # type: ignore[arg-type]
    assert repr(link) == "Page at http://127.0.0.1:3000/chat.html"
    assert '<iframe src="http://127.0.0.1:3000/chat.html"' in link._repr_html_()


def test_page_goes_through_the_hub_proxy_and_can_be_a_link_only(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    link = page(FakeServer(), "socketio.html", embed=False)  # type: ignore[arg-type]
    assert link.url == "/user/ada/proxy/3000/socketio.html"
    assert "<iframe" not in link._repr_html_()


def test_page_escapes_the_url(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", '/user/"><script>/')
    assert "<script>" not in page(FakeServer(), "chat.html")._repr_html_()  # type: ignore[arg-type]
