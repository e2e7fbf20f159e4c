"""Who may come in: the Origin and Host checks every stage makes (issue 10's first findings).

A web page on another site, open in a student's browser, must not reach the chat (cross-site
websocket hijacking): its ``Origin`` is refused, ``null`` too. A request whose ``Host`` is not
one of the server's names is refused (DNS rebinding). Programs (no ``Origin``) may connect.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp
import pytest
import websockets

from helpers.server.app import allow_origins
from helpers.stages import STAGES

RAW = ["receive", "echo", "broadcast", "broadcast-bus", "json"]
SOCKETIO = ["socketio", "socketio-features", "socketio-chat"]


def path_of(stage: str) -> str:
    return "socket.io/?EIO=4&transport=websocket" if stage in SOCKETIO else ""


async def upgrade_status(url: str, Host: str | None = None, **headers: str) -> int:
    """The HTTP status a websocket handshake to ``url`` gets with ``headers``: 101 if accepted.

    ``Host`` names the server as a browser would have (it connects to ``url``'s address anyway).
    """
    parts = urlsplit(url)
    uri = parts._replace(netloc=Host).geturl() if Host else url
    try:
        async with websockets.connect(
            uri, host=parts.hostname, port=parts.port, additional_headers=headers or None, origin=None
        ) as ws:
            return ws.response.status_code
    except websockets.InvalidStatus as refused:
        return refused.response.status_code


@pytest.mark.parametrize("stage", RAW + SOCKETIO)
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1.evil.example:3000"])
async def test_a_page_from_another_origin_is_refused(serve, stage, origin):
    server = await serve(STAGES[stage]())
    assert await upgrade_status(server.ws_url + path_of(stage), Origin=origin) == 403


@pytest.mark.parametrize("stage", RAW + SOCKETIO)
async def test_the_servers_own_pages_and_programs_are_let_in(serve, stage):
    server = await serve(STAGES[stage]())
    url = server.ws_url + path_of(stage)
    assert await upgrade_status(url) == 101, "a program sends no Origin"
    assert await upgrade_status(url, Origin=f"http://127.0.0.1:{server.port}") == 101
    localhost = url.replace("127.0.0.1", "localhost")
    assert await upgrade_status(localhost, Origin=f"http://localhost:{server.port}") == 101


@pytest.mark.parametrize("stage", RAW + SOCKETIO)
async def test_dns_rebinding_a_foreign_host_is_refused_even_with_a_matching_origin(serve, stage):
    server = await serve(STAGES[stage]())
    rebound = {"Host": f"evil.example:{server.port}", "Origin": f"http://evil.example:{server.port}"}
    assert await upgrade_status(server.ws_url + path_of(stage), **rebound) == 403  # type: ignore[arg-type]
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "chat.html", headers={"Host": "evil.example"}) as response:
            assert response.status == 403


async def test_an_origin_can_be_allowed_as_a_cell_shows(serve):
    app = STAGES["broadcast-bus"]()
    allow_origins(app, "http://localhost:5173")
    server = await serve(app)
    assert await upgrade_status(server.ws_url, Origin="http://localhost:5173") == 101
    assert await upgrade_status(server.ws_url, Origin="http://localhost:5174") == 403


async def test_behind_a_jupyter_proxy_the_proxys_own_origin_is_the_servers(serve, monkeypatch):
    """jupyter-server-proxy passes the Jupyter server's Host and the page's Origin on as they are."""
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    server = await serve(STAGES["echo"]())
    proxied = {"Host": "hub.example:8000", "Origin": "http://hub.example:8000"}
    assert await upgrade_status(server.ws_url, **proxied) == 101
    assert await upgrade_status(server.ws_url, Host="hub.example:8000", Origin="http://evil.example") == 403


async def test_a_flood_of_3000_different_hosts_and_origins_is_one_log_line_each(serve):
    """Review: each refusal was logged under its own Host or Origin, so a flood of different
    names was a flood of lines. Each condition is one line per interval, whatever the names."""
    server = await serve(STAGES["json"]())
    async with aiohttp.ClientSession() as http:
        for n in range(3000):
            async with http.get(server.url, headers={"Host": f"evil{n}.example"}) as response:
                assert response.status == 403
    for n in range(300):
        assert await upgrade_status(server.ws_url, Origin=f"http://evil{n}.example") == 403
    lines = server.log.lines
    assert sum("Refused a request for Host" in line for line in lines) == 1, lines[-5:]
    assert sum("Refused a connection from a page" in line for line in lines) == 1, lines[-5:]


async def test_a_server_bound_to_another_address_answers_to_that_address(free_port):
    """Review: ``--host 127.0.0.2`` refused its own page (403): the Host check knew loopback only."""
    from helpers.kernel.lifecycle import start_server, stop_server

    server = await start_server(STAGES["json"](), host="127.0.0.2", port=free_port, quiet=True)
    try:
        async with aiohttp.ClientSession() as http:
            assert server.url == f"http://127.0.0.2:{free_port}/"
            async with http.get(server.url) as response:
                assert response.status == 200
        url = f"ws://127.0.0.2:{free_port}/"
        assert await upgrade_status(url, Origin=f"http://127.0.0.2:{free_port}") == 101
        assert await upgrade_status(url, Host=f"evil.example:{free_port}") == 403
    finally:
        await stop_server(quiet=True)


async def test_an_address_bound_once_is_not_a_name_after_a_start_on_loopback(free_port):
    """Review: the same app started on ``127.0.0.2`` and then on loopback still answered to
    ``Host: 127.0.0.2``: a name added for one start stayed for the next."""
    from helpers.kernel.lifecycle import start_server, stop_server

    app = STAGES["json"]()
    try:
        await start_server(app, host="127.0.0.2", port=free_port, quiet=True)
        server = await start_server(app, port=free_port, quiet=True)
        async with aiohttp.ClientSession() as http:
            headers = {"Host": f"127.0.0.2:{free_port}"}
            async with http.get(server.url, headers=headers) as response:
                assert response.status == 403
            async with http.get(server.url) as response:
                assert response.status == 200
    finally:
        await stop_server(quiet=True)


@pytest.mark.parametrize("stage", ["echo", "socketio"])
async def test_a_refused_request_closes_its_connection(serve, stage):
    """Issue 19: refusals kept their connections open (keep-alive), so a client holding them
    took the files the server keeps free; every refusal at the doors now closes its connection."""
    server = await serve(STAGES[stage]())
    url = f"http://127.0.0.1:{server.port}/{path_of(stage).replace('websocket', 'polling')}"
    async with aiohttp.ClientSession() as session:
        if stage == "socketio":  # a polling request is a connection: its Origin is checked
            async with session.get(url, headers={"Origin": "http://evil.example"}) as response:
                assert response.status == 403
                assert response.headers.get("Connection", "").lower() == "close"
        async with session.get(url, headers={"Host": "evil.example"}) as response:
            assert response.status == 403
            assert response.headers.get("Connection", "").lower() == "close"
