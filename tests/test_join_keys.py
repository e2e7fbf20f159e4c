"""A shared server's join key can't be guessed: 128 bits, and an address that guesses is locked out.

Measured before: an 8-character key (48 bits), and 16,627 wrong keys in 10 s from one address
with nothing but one log line. Now: 22 characters (128 bits); after 10 wrong keys in a minute
an address gets 429 for a minute, even with the right key, and the log says so once. A page
that asks ``/join-key-check`` learns whether its key opens the door (204) or not (403).
Real servers on loopback; the "network address" is 127.0.0.2.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
import websockets

from helpers.common.addresses import with_key
from helpers.kernel import share
from helpers.kernel.lifecycle import RunningServer, start_server, stop_server
from helpers.server.app import KEY_GUESSES, NEEDS_KEY
from helpers.server.join_keys import KEY_CHECK_PATH, WRONG_KEYS, WrongKeys
from helpers.stages import STAGES

NETWORK = "127.0.0.2"
LOCKED = "Locked out 127.0.0.1 for a minute: 10 wrong join keys."


@pytest.fixture
async def shared(monkeypatch) -> AsyncIterator[RunningServer]:
    monkeypatch.setenv(share.ADDRESS_VARIABLE, NETWORK)
    server = await start_server(STAGES["json"](), port=0, quiet=True, share=True)
    yield server
    await stop_server(quiet=True)


async def handshake(url: str) -> tuple[int, str]:
    try:
        async with asyncio.timeout(5):
            async with websockets.connect(url):
                return 101, ""
    except websockets.InvalidStatus as refused:
        return refused.response.status_code, refused.response.body.decode()


def test_a_key_has_128_random_bits():
    keys = {share.join_key() for _ in range(1000)}
    assert len(keys) == 1000
    assert {len(key) for key in keys} == {22}, "token_urlsafe(16): 16 bytes, 128 bits"


async def test_ten_wrong_keys_lock_an_address_out_for_a_while_even_with_the_right_key(shared):
    url = shared.ws_url
    for n in range(9):
        assert await handshake(with_key(url, f"guess-{n}")) == (403, NEEDS_KEY)
    assert await handshake(url) == (101, ""), "nine wrong keys: the right one still opens"
    assert await handshake(with_key(url, "guess-9")) == (429, KEY_GUESSES), "the tenth wrong key"
    assert await handshake(url) == (429, KEY_GUESSES), "locked: the right key gets no answer either"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{shared.port}/socket.io/?EIO=4&transport=polling") as polling:
            assert polling.status in (403, 404, 429)
        async with http.get(f"http://127.0.0.1:{shared.port}/json.html") as page:
            assert page.status == 200, "the pages need no key: still served"
    assert [line for line in shared.log.lines if line.startswith("Locked out")] == [LOCKED], "said once"


async def test_a_missing_key_is_no_guess(shared):
    plain = shared.ws_url.split("?")[0]
    for _ in range(30):  # a page opened without its link, retrying
        assert await handshake(plain) == (403, NEEDS_KEY)
    assert await handshake(shared.ws_url) == (101, "")


async def test_the_lock_ends_after_its_time():
    now = [0.0]
    keys = WrongKeys(allowed=3, window=60, locked_for=30, clock=lambda: now[0])
    assert [keys.wrong("a") for _ in range(3)] == [False, False, True]
    assert keys.locked("a") and not keys.locked("b"), "per address"
    now[0] = 29.9
    assert keys.locked("a")
    now[0] = 30.1
    assert not keys.locked("a")
    assert not keys.wrong("a"), "counted afresh"
    now[0] = 100
    assert [keys.wrong("a") for _ in range(2)] == [False, False], "old wrong keys fall out of the window"


def test_the_memory_stays_bounded_however_many_addresses_guess():
    keys = WrongKeys(allowed=1)
    for n in range(WrongKeys.KEPT_ADDRESSES + 500):
        keys.wrong(f"10.0.{n // 256}.{n % 256}")
    assert len(keys._seen) <= WrongKeys.KEPT_ADDRESSES
    assert len(keys._locked_until) <= WrongKeys.KEPT_ADDRESSES


async def test_a_page_can_ask_whether_its_key_opens_the_door(shared):
    check = f"http://{NETWORK}:{shared.port}{KEY_CHECK_PATH}"
    async with aiohttp.ClientSession() as http:
        for key, status in [(shared.key, 204), (None, 403), ("an-old-key", 403)]:
            async with http.get(check, params={} if key is None else {"key": key}) as answer:
                assert answer.status == status, key
                if status == 403:
                    assert await answer.text() == NEEDS_KEY
        assert shared.app[WRONG_KEYS].wrong("somewhere") is False, "the check counts like a handshake"


async def test_an_unshared_server_answers_the_check_with_204():
    server = await start_server(STAGES["echo"](), port=0, quiet=True)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}{KEY_CHECK_PATH.lstrip('/')}?key=anything") as answer:
                assert answer.status == 204
    finally:
        await stop_server(quiet=True)


async def test_wrong_keys_at_the_check_count_toward_the_lock(shared):
    check = f"http://{NETWORK}:{shared.port}{KEY_CHECK_PATH}"
    async with aiohttp.ClientSession() as http:
        statuses = []
        for n in range(11):
            async with http.get(check, params={"key": f"guess-{n}"}) as answer:
                statuses.append(answer.status)
    assert statuses == [403] * 9 + [429, 429], "not an oracle with no limit"
