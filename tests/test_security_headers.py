"""Every HTTP response of the workbook's servers carries the security headers (``helpers.server.headers``).

Pages, scripts, a missing file, a refusal (foreign Host, missing join key), Socket.IO's
long-polling and the key check: each must say ``Referrer-Policy: no-referrer`` (a shared
page's address holds the join key), ``X-Content-Type-Options: nosniff`` and the Content
Security Policy that lets the pages load what they load, and be framed only by JupyterLab.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from helpers.kernel import share
from helpers.kernel.lifecycle import RunningServer, start_server, stop_server
from helpers.server.headers import CONTENT_SECURITY_POLICY
from helpers.stages import STAGES

NETWORK = "127.0.0.2"


@pytest.fixture
async def shared(monkeypatch) -> AsyncIterator[RunningServer]:
    monkeypatch.setenv(share.ADDRESS_VARIABLE, NETWORK)
    server = await start_server(STAGES["socketio"](), port=0, quiet=True, share=True)
    yield server
    await stop_server(quiet=True)


def policy(header: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in header.split(";"))}


REQUESTS = [  # path, extra headers, the status it gets
    ("/", {}, 200),
    ("/socketio.html", {}, 200),
    ("/js/socketio.mjs", {}, 200),
    ("/css/style.css", {}, 200),
    ("/no-such-file.html", {}, 404),
    ("/socketio.html", {"Host": "evil.example"}, 403),  # DNS rebinding: refused
    ("/socket.io/?EIO=4&transport=polling", {}, 403),  # no join key
    ("/join-key-check", {}, 403),
]


@pytest.mark.parametrize(("path", "headers", "status"), REQUESTS, ids=[f"{r[2]} {r[0]}" for r in REQUESTS])
async def test_every_response_carries_the_security_headers(shared, path, headers, status):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://{NETWORK}:{shared.port}{path}", headers=headers) as response:
            assert response.status == status
            assert response.headers.get("Referrer-Policy") == "no-referrer"
            assert response.headers.get("X-Content-Type-Options") == "nosniff"
            assert response.headers.get("Content-Security-Policy") == CONTENT_SECURITY_POLICY


async def test_the_key_check_and_socketio_with_the_key_carry_them_too(shared):
    async with aiohttp.ClientSession() as http:
        key = shared.key
        for path in (f"/join-key-check?key={key}", f"/socket.io/?EIO=4&transport=polling&key={key}"):
            async with http.get(f"http://{NETWORK}:{shared.port}{path}") as response:
                assert response.status in (200, 204), path
                assert response.headers.get("Referrer-Policy") == "no-referrer", path
                assert response.headers.get("X-Content-Type-Options") == "nosniff", path


def test_the_policy_allows_what_the_pages_load_and_nothing_else():
    rules = policy(CONTENT_SECURITY_POLICY)
    assert rules["default-src"] == ["'self'"]
    assert rules["script-src"] == ["'self'", "https://cdn.socket.io"], "ES modules, and the CDN fallback"
    assert rules["connect-src"] == ["'self'"], "websockets and polling to the server that served the page"
    assert rules["object-src"] == ["'none'"] and rules["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "'unsafe-eval'" not in CONTENT_SECURITY_POLICY
    ancestors = rules["frame-ancestors"]
    assert "'self'" in ancestors, "a hub serves JupyterLab and the page from one origin"
    assert {"http://localhost:*", "http://127.0.0.1:*"} <= set(ancestors), "a local JupyterLab, any port"
    assert "*" not in ancestors and not any(a.startswith("http://*") for a in ancestors)


async def test_a_plain_static_server_carries_them(monkeypatch):
    server = await start_server(STAGES["static"](), port=0, quiet=True)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}chat.html") as response:
                assert response.headers.get("Referrer-Policy") == "no-referrer"
                assert response.headers.get("Content-Security-Policy") == CONTENT_SECURITY_POLICY
    finally:
        await stop_server(quiet=True)
