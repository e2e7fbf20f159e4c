"""The static stage serves the browser side of public/ with the right types."""

from __future__ import annotations

import re

import aiohttp
import pytest

from helpers.server.app import PUBLIC
from helpers.stages import static

JS_TYPES = {"text/javascript", "application/javascript"}  # both load ES modules in browsers


@pytest.mark.parametrize(
    ("path", "content_type", "title"),
    [
        ("", "text/html", "Chat workbook"),
        ("chat.html", "text/html", "Chat with Websockets"),
        ("json.html", "text/html", "Chat with JSON messages"),
        ("css/style.css", "text/css", None),
        ("js/main.mjs", "text/javascript", None),
        ("js/chat-common.mjs", "text/javascript", None),
    ],
)
async def test_public_files_are_served(serve, path, content_type, title):
    server = await serve(static.make_app())
    async with aiohttp.ClientSession() as session, session.get(server.url + path) as response:
        body = await response.text()
        assert response.status == 200
        expected_types = JS_TYPES if content_type in JS_TYPES else {content_type}
        assert response.content_type in expected_types
    expected = (PUBLIC / (path or "index.html")).read_text()
    assert body == expected
    if title:
        assert re.search(r"<title>(.*)</title>", body).group(1) == title


async def test_missing_file_is_404(serve):
    server = await serve(static.make_app())
    async with aiohttp.ClientSession() as session, session.get(server.url + "nope.html") as response:
        assert response.status == 404


def test_pages_derive_the_websocket_url_and_render_text_only():
    """The page never hard-codes the server, and never renders a message as HTML."""
    scripts = "\n".join(p.read_text() for p in (PUBLIC / "js").glob("*.mjs"))
    assert "localhost" not in scripts and "127.0.0.1" not in scripts
    assert not re.search(r"\.(innerHTML|outerHTML|insertAdjacentHTML)\b|document\.write", scripts)
    assert "location.host" in scripts and "location.pathname" in scripts
