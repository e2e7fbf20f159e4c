"""Sharing a server with a class (issue 10): ``start_server(app, share=True)`` and ``--share``.

Real servers and clients, loopback only: the "network address" is 127.0.0.2 (on Linux the
whole of 127.0.0.0/8 is loopback), so a shared server really binds a second address beside
127.0.0.1 and its pages really come from another origin, and nothing leaves this machine.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import string
import sys
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import segno
import socketio
import websockets
from aiohttp import web

from helpers.clients.socketio_widgets import SocketIOClient
from helpers.clients.widgets import ChatClient
from helpers.common.addresses import with_key
from helpers.common.quiet import quiet_logger
from helpers.kernel import share
from helpers.kernel.lifecycle import RunningServer, start_server, stop_server
from helpers.kernel.share import NO_NETWORK, QR_BORDER, JoinCode, Sharing
from helpers.server.app import DOORS, LOOPBACK_NAMES, NEEDS_KEY
from helpers.server.sio.serving import SIO
from helpers.stages import STAGES

NETWORK = "127.0.0.2"
KEY_ALPHABET = set(string.ascii_letters + string.digits + "-_")
REFUSAL = "Refused a connection without the join key"


@pytest.fixture
def network(monkeypatch) -> str:
    """The address a shared server takes for this machine's network address."""
    monkeypatch.setenv(share.ADDRESS_VARIABLE, NETWORK)
    return NETWORK


@pytest.fixture
async def shared(network) -> AsyncIterator:
    """``await shared("echo")``: that stage shared on a free port (quietly); stopped after the test."""

    async def _start(stage: str, port: int = 0, **options) -> RunningServer:
        return await start_server(STAGES[stage](**options), port=port, quiet=True, share=True)

    yield _start
    await stop_server(quiet=True)


def key_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["key"][0]


def bound(server: RunningServer) -> list[tuple[str, int]]:
    return sorted((host, port) for host, port, *_ in server.runner.addresses)


async def handshake(url: str, **headers: str) -> tuple[int, str]:
    """A websocket handshake to ``url``: its status (101 if accepted) and the refusal's text."""
    try:
        async with websockets.connect(url, additional_headers=headers or None, origin=None) as ws:
            return ws.response.status_code, ""
    except websockets.InvalidStatus as refused:
        return refused.response.status_code, refused.response.body.decode()


def sio_client() -> socketio.AsyncClient:
    return socketio.AsyncClient(reconnection=False, logger=quiet_logger(), engineio_logger=quiet_logger())


async def leave(client: socketio.AsyncClient) -> None:
    """Disconnect. A polling client doesn't wait for its pending long-poll, which python-engineio's
    ``disconnect()`` does (up to its 30 s ping timeout, shared or not)."""
    if client.transport() == "polling":
        await client.eio.disconnect(abort=True)
    else:
        await client.disconnect()


# Not shared: nothing changes


@pytest.mark.parametrize("stage", ["echo", "json", "socketio"])
async def test_not_shared_loopback_only_and_no_key_asked(serve, stage):
    server = await serve(STAGES[stage]())
    assert server.key is None and server.share_url is None and server.sharing is None
    assert bound(server) == [("127.0.0.1", server.port)]
    assert server.ws_url == f"ws://127.0.0.1:{server.port}/"
    assert server.app[DOORS].names == set(LOOPBACK_NAMES)
    path = "socket.io/?EIO=4&transport=websocket" if stage == "socketio" else ""
    assert (await handshake(server.ws_url + path))[0] == 101


# Shared: the key, at every door


@pytest.mark.parametrize("stage", ["echo", "json"])
async def test_shared_raw_websocket_needs_the_key(shared, stage):
    server = await shared(stage)
    key = server.key
    assert bound(server) == [("127.0.0.1", server.port), (NETWORK, server.port)], "two sites, one port"
    assert server.ws_url == f"ws://127.0.0.1:{server.port}/?key={key}"
    network = f"ws://{NETWORK}:{server.port}/"
    page = {"Origin": f"http://{NETWORK}:{server.port}"}  # a page served at the network address

    for url in (f"ws://127.0.0.1:{server.port}/", network, network + "?key=", network + "?key=wrong-key"):
        assert await handshake(url) == (403, NEEDS_KEY), url
        assert await handshake(url, **page) == (403, NEEDS_KEY), url
    almost = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert await handshake(with_key(network, almost)) == (403, NEEDS_KEY), "the key is compared exactly"
    assert await handshake(network + "?key=%C3%A9t%C3%A9") == (403, NEEDS_KEY), "not ASCII: refused, no crash"

    async with websockets.connect(with_key(network, key), additional_headers=page, origin=None) as ws:
        if stage == "echo":
            await ws.send("hi from the class")
            assert await asyncio.wait_for(ws.recv(), 3) == "hi from the class"
        else:
            await ws.send(json.dumps({"type": "nick", "nick": "ada"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 3)) == {"type": "join", "nick": "ada"}
    async with websockets.connect(server.ws_url) as ws:  # the kernel's own link has the key too
        await ws.send(json.dumps({"type": "users"}) if stage == "json" else "me too")
        assert await asyncio.wait_for(ws.recv(), 3)
    assert server.log.errors == []


async def test_pages_need_no_key_and_a_foreign_host_is_still_refused(shared):
    server = await shared("json")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://{NETWORK}:{server.port}/json.html") as response:
            assert response.status == 200
        async with http.get(f"http://{NETWORK}:{server.port}/", headers={"Host": "evil.example"}) as response:
            assert response.status == 403


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_shared_socketio_needs_the_key(shared, transport):
    server = await shared("socketio")
    network = f"http://{NETWORK}:{server.port}/"
    for url in (network, with_key(network, "wrong-key"), server.url):
        client = sio_client()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(url, transports=[transport], wait_timeout=3)
        await client.shutdown()

    got: asyncio.Queue[str] = asyncio.Queue()
    client = sio_client()
    client.on("chat message", lambda msg, *_: got.put_nowait(msg))
    await client.connect(with_key(network, server.key), transports=[transport], wait_timeout=3)
    try:
        await client.emit("chat message", "hello from a phone")
        assert await asyncio.wait_for(got.get(), 3) == "hello from a phone"
    finally:
        await leave(client)


@pytest.mark.parametrize("transports", [["polling", "websocket"], ["polling"]])
async def test_python_socketio_sends_the_key_on_every_polling_and_websocket_request(network, transports):
    app = STAGES["socketio"]()
    seen: list[str] = []

    @web.middleware
    async def record(request: web.Request, handler):
        if request.path.startswith("/socket.io/"):
            seen.append(request.query_string)
        return await handler(request)

    app.middlewares.insert(0, record)  # before the doors: it sees refused requests too
    server = await start_server(app, port=0, quiet=True, share=True)
    client = sio_client()
    try:
        await client.connect(server.link(), transports=transports, wait_timeout=3)  # polling first
        await asyncio.wait_for(_until(lambda: client.transport() == transports[-1]), 3)
        await client.emit("chat message", f"over {transports[-1]}")
        await server.log.wait_for(f"message: over {transports[-1]}")
    finally:
        await leave(client)
        await stop_server(quiet=True)
    used = [parse_qs(query).get("transport", ["?"])[0] for query in seen]
    assert set(used) == set(transports), seen
    if transports == ["polling"]:  # the handshake, long-polls (GET) and packets sent (POST)
        assert len(seen) >= 3, seen
    assert all(parse_qs(query)["key"] == [server.key] for query in seen), seen


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.02)


async def test_a_socketio_origin_list_takes_the_shared_pages_too_and_gives_them_back(network, free_port):
    """``--cors-allowed-origins`` replaces python-socketio's same-origin rule: the shared pages join it."""
    app = STAGES["socketio-chat"](cors_allowed_origins=["http://localhost:5173"])
    page = {"Origin": f"http://{NETWORK}:{free_port}"}
    server = await start_server(app, port=free_port, quiet=True, share=True)
    try:
        client = sio_client()
        await client.connect(
            with_key(f"http://{NETWORK}:{free_port}/", server.key), headers=page, wait_timeout=3
        )
        await client.disconnect()
        check = server.app[SIO].eio.cors_allowed_origins  # engine.io asks it (origin, environ)
        assert check(page["Origin"], {}) and check("http://localhost:5173", {})
        assert not check("http://a.test", {})

        server = await start_server(app, port=free_port, quiet=True)  # the same app, not shared
        assert server.app[DOORS].names == set(LOOPBACK_NAMES) and server.app[DOORS].key is None
        check = server.app[SIO].eio.cors_allowed_origins
        assert check == ["http://localhost:5173"] and server.app[DOORS].shared_origin is None
        assert not check(page["Origin"], {}) and check("http://localhost:5173", {})
        async with aiohttp.ClientSession() as http:
            async with http.get(
                server.url + "socketio.html", headers={"Host": f"{NETWORK}:{free_port}"}
            ) as r:
                assert r.status == 403, "the network address is not this server's name any more"
        assert (await handshake(f"ws://127.0.0.1:{free_port}/socket.io/?EIO=4&transport=websocket"))[0] == 101
    finally:
        await stop_server(quiet=True)


async def test_a_socketio_list_with_a_star_or_empty_is_left_as_written_and_opens_the_doors(free_port):
    """``"*"`` lets any page in and ``[]`` turns engine.io's check off: neither is replaced; the
    listed pages may open a websocket at all (the doors) as before."""
    for listed in (["*", "http://localhost:5173"], []):
        server = await start_server(
            STAGES["socketio-chat"](cors_allowed_origins=listed), port=free_port, quiet=True, share=True
        )
        try:
            assert server.app[SIO].eio.cors_allowed_origins is not None
            assert type(server.app[SIO].eio.cors_allowed_origins) is list
            assert set(listed) <= server.app[DOORS].origins
        finally:
            await stop_server(quiet=True)


async def test_a_new_key_at_every_start_and_the_old_one_is_refused(shared, free_port):
    first = await shared("echo", port=free_port)
    old_key = first.key
    second = await shared("echo", port=free_port)
    assert second.key != old_key
    for key in (old_key, second.key):
        assert len(key) == 22 and set(key) <= KEY_ALPHABET, "128 random bits (token_urlsafe(16))"
    assert (await handshake(with_key(second.ws_url, old_key)))[0] == 403
    assert (await handshake(second.ws_url))[0] == 101


async def test_refusals_are_logged_once_per_interval_not_once_per_attempt(shared):
    server = await shared("echo")
    for _ in range(50):
        assert (await handshake(f"ws://{NETWORK}:{server.port}/"))[0] == 403
    refusals = [line for line in server.log.lines if REFUSAL in line]
    assert refusals == [f"{REFUSAL} (or an old one)."]


# The kernel's own widgets carry the key, and follow a new one


async def test_widgets_connect_to_a_shared_server_and_follow_its_new_key_after_a_restart(shared, free_port):
    server = await shared("echo", port=free_port)
    client = ChatClient("teacher")
    try:
        assert await client.connect(server.ws_url)
        await client.say("one")
        await client.wait_for("Server said: one")
        mark = client.mark()
        restarted = await shared("echo", port=free_port)  # a new key
        await client.wait_for("The websocket is now open.", since=mark, timeout=5)
        await client.say("two")
        await client.wait_for("Server said: two")
        assert restarted.key != server.key
    finally:
        await client.disconnect()


async def test_a_socketio_widget_given_the_plain_url_gets_the_key(shared):
    server = await shared("socketio")
    client = SocketIOClient("teacher")
    try:
        assert await client.connect(server.url)  # as notebooks 07 to 09 write it
        await client.say("hello class")
        await client.wait_for("chat message: hello class")
    finally:
        await client.disconnect()


# What is printed: the link, and its QR code


async def test_start_prints_the_link_with_the_key_and_its_qr_code(network, capsys):
    server = await start_server(STAGES["json"](), port=0, share=True)
    try:
        out = capsys.readouterr().out.splitlines()
        link = f"http://{NETWORK}:{server.port}/json.html?key={server.key}"
        assert server.share_url == link
        assert out[:2] == [
            f"Listening at port {server.port}: http://127.0.0.1:{server.port}/",
            f"Students open {link} (or scan the QR code below)",
        ]
        assert terminal_modules("\n".join(out[2:]) + "\n") == dark_modules(segno.make_qr(link))
        assert (
            repr(server)
            == f"<RunningServer http://127.0.0.1:{server.port}/ shared at http://{NETWORK}:{server.port}/>"
        )
        assert server.log.lines == [
            f"Listening at port {server.port}",
            f"Shared at http://{NETWORK}:{server.port}/: connections need the join key.",
        ]
    finally:
        await stop_server(quiet=True)


@pytest.mark.parametrize(
    ("stage", "page"), [("echo", "chat.html"), ("json", "json.html"), ("socketio-chat", "socketio.html")]
)
async def test_the_link_opens_the_stages_own_page(shared, stage, page):
    server = await shared(stage)
    assert server.share_url == f"http://{NETWORK}:{server.port}/{page}?key={server.key}"


def test_the_qr_code_in_a_notebook_is_an_svg_of_exactly_the_link():
    link = "http://192.168.1.20:3000/socketio.html?key=Ab3dE_9x"
    code = JoinCode(link)
    assert repr(code) == f"QR code of {link}", "the text form nbval compares (the key sanitized)"
    assert not code.qr.is_micro, "a Micro QR code is not read by phone cameras"
    assert svg_modules(code._repr_svg_()) == dark_modules(segno.make_qr(link))
    assert svg_modules(code._repr_svg_()) != dark_modules(segno.make_qr(link.replace("Ab3", "Ab4")))
    assert 'fill="#fff"' in code._repr_svg_(), "a white background: scannable on a dark theme too"


def test_announce_shows_a_card_in_a_kernel_whose_saved_form_holds_no_link(monkeypatch, capsys):
    shown: list[object] = []
    monkeypatch.setattr(share, "_in_a_kernel", lambda: True)
    monkeypatch.setattr("IPython.display.display", shown.append)
    link = "http://192.168.1.20:3000/chat.html?key=abcdEFGHabcdEFGHabcdEF"
    card = share.announce(link, "a note")
    assert capsys.readouterr().out == "", "nothing printed: a cell's stdout is saved with the notebook"
    assert shown == [card] and isinstance(card, share.JoinCard) and card.url == link
    assert "192.168.1.20" not in repr(card) and "abcdEFGH" not in repr(card), "its saved text form"
    assert f'<a href="{link}"' in card.value and "a note" in card.value, "the live widget shows it"
    assert svg_modules(card.value) == dark_modules(segno.make_qr(link))


def dark_modules(qr: segno.QRCode) -> set[tuple[int, int]]:
    """(column, row) of every dark module, quiet zone included."""
    return {
        (x, y) for y, row in enumerate(qr.matrix_iter(border=QR_BORDER)) for x, dark in enumerate(row) if dark
    }


def svg_modules(svg: str) -> set[tuple[int, int]]:
    """Read the modules back from segno's SVG path: ``M x y`` / ``m dx dy`` moves, ``h n`` dark runs."""
    path = re.search(r'class="qrline"[^>]* d="([^"]+)"', svg)
    assert path is not None, svg[:200]
    x = y = 0.0
    dark = set()
    for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path.group(1)):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:
            dark.update((int(x) + i, int(y)) for i in range(int(a)))
            x += int(a)
    return dark


def terminal_modules(text: str) -> set[tuple[int, int]]:
    """Read the modules back from the terminal's half blocks: light modules are drawn, two rows a line."""
    dark = set()
    for line_number, line in enumerate(text.splitlines()):
        for x, char in enumerate(line):
            if char in " ▄":  # top half not drawn: dark
                dark.add((x, 2 * line_number))
            if char in " ▀" and line_number < len(text.splitlines()) - 1:  # bottom half not drawn
                dark.add((x, 2 * line_number + 1))
    return dark


# The network address


def test_the_address_variable_wins_and_must_be_an_ip_address(monkeypatch):
    monkeypatch.setenv(share.ADDRESS_VARIABLE, "192.168.1.20")
    assert share.network_address() == ("192.168.1.20", None)
    monkeypatch.setenv(share.ADDRESS_VARIABLE, "my-laptop.local")
    with pytest.raises(ValueError, match="is not an IP address"):
        share.network_address()


class FakeUDP:
    """Records what the probe does with its socket: it must never send."""

    calls: list[str] = []
    source = "10.1.2.3"
    fails = False

    def __init__(self, family, kind) -> None:
        self.calls.append(f"socket({family.name}, {kind.name})")

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.calls.append("close")

    def connect(self, address) -> None:
        self.calls.append("connect")
        if self.fails:
            raise OSError(101, "Network is unreachable")

    def getsockname(self):
        return (self.source, 40000)

    def __getattr__(self, name):  # send, sendto, ...
        raise AssertionError(f"the probe called {name}")


@pytest.mark.parametrize(
    ("source", "fails", "found"),
    [("10.1.2.3", False, "10.1.2.3"), ("127.0.0.1", False, None), ("0.0.0.0", False, None), ("", True, None)],
)
def test_the_default_route_probe_only_connects_a_udp_socket(monkeypatch, source, fails, found):
    monkeypatch.setattr(FakeUDP, "calls", [])
    monkeypatch.setattr(FakeUDP, "source", source)
    monkeypatch.setattr(FakeUDP, "fails", fails)
    monkeypatch.setattr(share.socket, "socket", FakeUDP)
    assert share.default_route_address() == found
    assert FakeUDP.calls == ["socket(AF_INET, SOCK_DGRAM)", "connect", "close"]


def test_the_real_probe_finds_a_network_address_or_none():
    """A UDP connect() sends no packet: it only asks the kernel for a route."""
    found = share.default_route_address()
    assert found is None or (found.count(".") == 3 and not found.startswith("127."))


async def test_without_a_network_it_shares_on_loopback_and_says_so(monkeypatch, capsys):
    monkeypatch.delenv(share.ADDRESS_VARIABLE, raising=False)
    monkeypatch.setattr(share, "default_route_address", lambda: None)
    assert share.network_address() == ("127.0.0.1", NO_NETWORK)
    server = await start_server(STAGES["echo"](), port=0, share=True)
    try:
        out = capsys.readouterr().out.splitlines()
        assert out[1] == NO_NETWORK
        link = f"http://127.0.0.1:{server.port}/chat.html?key={server.key}"
        assert out[2] == f"Students open {link} (or scan the QR code below)"
        assert bound(server) == [("127.0.0.1", server.port)]
        assert (await handshake(f"ws://127.0.0.1:{server.port}/"))[0] == 403, "the key is asked all the same"
    finally:
        await stop_server(quiet=True)


def test_sharing_links_put_ipv6_addresses_in_brackets_and_keep_other_parameters():
    assert Sharing("fd00::5", "k").url(3000, "chat.html") == "http://[fd00::5]:3000/chat.html?key=k"
    assert with_key("ws://h:1/socket.io/?EIO=4&key=old", "new") == "ws://h:1/socket.io/?EIO=4&key=new"


# The command line


async def test_the_command_line_shares_with_a_key_and_stops_cleanly(free_port):
    env = {**os.environ, share.ADDRESS_VARIABLE: "127.0.0.1"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "helpers.serve", "--stage", "json", "--share", "--port", str(free_port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        lines = [
            (await asyncio.wait_for(process.stdout.readline(), 10)).decode().rstrip("\n") for _ in range(3)
        ]
        assert lines[:2] == [
            f"Listening at port {free_port}",
            f"Shared at http://127.0.0.1:{free_port}/: connections need the join key.",
        ]
        link = rf"http://127\.0\.0\.1:{free_port}/json\.html\?key=([\w-]{{22}})"
        match = re.fullmatch(rf"Students open ({link}) \(or scan the QR code below\)", lines[2])
        assert match, lines[2]
        link, key = match.groups()
        async with aiohttp.ClientSession() as http, http.get(link) as response:
            assert response.status == 200
        assert await handshake(f"ws://127.0.0.1:{free_port}/") == (403, NEEDS_KEY)
        async with websockets.connect(f"ws://127.0.0.1:{free_port}/?key={key}") as ws:
            await ws.send(json.dumps({"type": "nick", "nick": "ada"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 3)) == {"type": "join", "nick": "ada"}
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 5) == 0
        out = (await process.stdout.read()).decode()
        code = itertools.takewhile(lambda line: set(line) <= set("█▀▄ "), out.splitlines())
        assert terminal_modules("\n".join(code)) == dark_modules(segno.make_qr(link))
        assert f"{REFUSAL} (or an old one)." in out
        assert await process.stderr.read() == b""
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_share_is_a_server_option_in_help():
    from helpers.serve import parse_args

    assert parse_args(["--stage", "json", "--share"]).share is True
    assert parse_args(["--stage", "json", "--share"]).options == {}, "not a make_app option"
    assert parse_args(["--stage", "json"]).share is False
