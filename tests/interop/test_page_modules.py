"""The pages' own modules, run in Node: what they decide, without a browser's timing in the way."""

from __future__ import annotations

import json
import subprocess

from helpers.app import PUBLIC

COMMON = PUBLIC / "js" / "chat-common.mjs"

RETRIES = """
import { clock, keepConnected } from %(module)s
const delays = []
let opened = 0, closes = 0
// A server that is gone: every WebSocket closes at once; setTimeout is recorded, not waited.
globalThis.WebSocket = class { constructor () { queueMicrotask(() => this.onclose({})) } }
globalThis.setTimeout = (retry, ms) => { delays.push(ms); if (delays.length < 8) queueMicrotask(retry) }
keepConnected('ws://127.0.0.1:1/', { onOpen () { opened++ }, onMessage () {}, onClose () { closes++ } })
const time = clock(new Date(2026, 0, 2, 7, 5, 9))
setImmediate(() => console.log(JSON.stringify({ delays, opened, closes, clock: time })))
"""


def test_the_page_retries_less_and_less_often_and_tells_of_an_outage_once(node):
    script = RETRIES % {"module": json.dumps(COMMON.as_uri())}
    result = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=20, check=True
    )
    seen = json.loads(result.stdout)
    assert seen["delays"] == [1000, 2000, 4000, 8000, 10000, 10000, 10000, 10000]
    assert (seen["opened"], seen["closes"]) == (0, 1)
    assert seen["clock"] == "07:05:09", "the widgets' time format, whatever the locale"


ADDRESSES = """
import { joinKey, websocketUrl } from %(module)s
const at = (href) => new URL(href) // what a page's window.location has that the module reads
console.log(JSON.stringify([
  websocketUrl(at('http://127.0.0.1:3000/chat.html')),
  websocketUrl(at('http://192.168.1.20:3000/chat.html?key=Ab3dE_9x')),
  websocketUrl(at('https://hub.example/user/ada/proxy/3000/json.html?key=Ab3dE_9x')),
  websocketUrl(at('http://192.168.1.20:3000/chat.html?x=1&key=a%%26b%%3D')),
  joinKey(at('http://192.168.1.20:3000/chat.html')),
  joinKey(at('http://192.168.1.20:3000/socketio.html?key=Ab3dE_9x'))
]))
"""


def test_the_page_passes_its_join_key_on_to_its_websocket_behind_a_proxy_too(node):
    script = ADDRESSES % {"module": json.dumps(COMMON.as_uri())}
    result = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=20, check=True
    )
    assert json.loads(result.stdout) == [
        "ws://127.0.0.1:3000/",  # not shared: as before
        "ws://192.168.1.20:3000/?key=Ab3dE_9x",
        "wss://hub.example/user/ada/proxy/3000/?key=Ab3dE_9x",
        "ws://192.168.1.20:3000/?key=a%26b%3D",  # only the key, encoded
        None,
        "Ab3dE_9x",
    ]
