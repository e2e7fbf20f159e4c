"""What notebooks display: real sources, and links to pages that also work on a JupyterHub."""

from __future__ import annotations

import inspect

from helpers.app import PUBLIC, chat_app
from helpers.show import page, show_file, show_source
from helpers.stages import echo


class FakeServer:
    """Only the address: page() needs nothing else of a RunningServer."""

    port = 3000
    url = "http://127.0.0.1:3000/"


def test_show_source_and_show_file_show_the_real_text():
    assert show_source(echo).data == inspect.getsource(echo)
    assert show_source(chat_app).data.startswith("def chat_app(")
    assert show_file("js/main.mjs").data == (PUBLIC / "js" / "main.mjs").read_text()


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
