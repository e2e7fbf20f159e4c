"""What notebooks display: the browser side's files, and links to pages that also work on a JupyterHub."""

from __future__ import annotations

import html

import ipywidgets as widgets

from helpers.kernel.show import page, show_file
from helpers.server.app import PUBLIC


class FakeServer:
    """Only the address: page() needs nothing else of a RunningServer."""

    port = 3000
    url = "http://127.0.0.1:3000/"
    key = None  # not shared on the network


def test_a_file_is_shown_to_people_but_compared_by_its_path_only():
    """nbval compares the text form: a new comment in main.mjs must not fail notebook 02."""
    shown = show_file("js/main.mjs")
    assert repr(shown) == "public/js/main.mjs"
    first_line = (PUBLIC / "js" / "main.mjs").read_text().splitlines()[1]  # " * The chat page: ..."
    assert html.escape(first_line.strip(" *")) in shown._repr_html_()


def frame_html(shown) -> str:
    return "".join(child.value for child in shown.children)


def test_page_links_and_embeds_the_page_on_a_laptop(monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    monkeypatch.delenv("WORKBOOK_PROXY_BASE", raising=False)
    shown = page(FakeServer(), "chat.html")  # type: ignore[arg-type]
    assert repr(shown) == "Page at http://127.0.0.1:3000/chat.html"
    assert '<iframe src="http://127.0.0.1:3000/chat.html"' in frame_html(shown)


def test_an_embedded_page_is_a_widget_so_a_saved_notebook_never_loads_it(monkeypatch):
    """What a notebook stores for a widget is its view id and its text: no IFrame to connect."""
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    shown = page(FakeServer(), "chat.html")  # type: ignore[arg-type]
    assert isinstance(shown, widgets.Widget)
    assert not hasattr(shown, "_repr_html_")


def test_page_goes_through_the_hub_proxy_and_can_be_a_link_only(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    link = page(FakeServer(), "socketio.html", embed=False)  # type: ignore[arg-type]
    assert link.url == "/user/ada/proxy/3000/socketio.html"
    assert "<iframe" not in link._repr_html_()


def test_any_remote_server_can_say_where_its_proxy_is_or_that_there_is_none(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    monkeypatch.setenv("WORKBOOK_PROXY_BASE", "/jupyter/")
    assert page(FakeServer(), "json.html", embed=False).url == "/jupyter/proxy/3000/json.html"  # type: ignore[arg-type]
    monkeypatch.setenv("WORKBOOK_PROXY_BASE", "off")
    assert page(FakeServer(), "json.html", embed=False).url == "http://127.0.0.1:3000/json.html"  # type: ignore[arg-type]


def test_page_escapes_the_url(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", '/user/"><script>/')
    monkeypatch.delenv("WORKBOOK_PROXY_BASE", raising=False)
    assert "<script>" not in frame_html(page(FakeServer(), "chat.html"))  # type: ignore[arg-type]
