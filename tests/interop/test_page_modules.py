"""The pages' own modules, run in Node: what they decide, without a browser's timing in the way."""

from __future__ import annotations

import json
import subprocess

from helpers.server.app import PUBLIC

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


REFUSED = """
import { keepConnected, keyCheckUrl, NEEDS_KEY } from %(module)s
const delays = []
let refused = null, checks = 0, sockets = 0
globalThis.WebSocket = class {
  constructor () { sockets++; queueMicrotask(() => this.onclose({ code: 1006 })) }
}
globalThis.setTimeout = (retry, ms) => { delays.push(ms); queueMicrotask(retry) }
keepConnected('ws://127.0.0.1:1/', {
  onOpen () {}, onMessage () {}, onClose () {},
  // the server: down twice (no answer), then up, refusing the key
  checkRefusal: async () => (++checks < 3 ? null : NEEDS_KEY),
  onRefused (why) { refused = why }
})
const at = (href) => new URL(href)
await new Promise((resolve) => setImmediate(resolve))
await new Promise((resolve) => setImmediate(resolve))
console.log(JSON.stringify({
  refused, checks, sockets, delays,
  urls: [
    keyCheckUrl(at('http://192.168.1.20:3000/json.html?key=Ab3dE_9x')),
    keyCheckUrl(at('https://hub.example/user/ada/proxy/3000/chat.html?key=a%%26b')),
    keyCheckUrl(at('http://192.168.1.20:3000/chat.html'))
  ]
}))
"""


def test_a_page_refused_for_its_key_stops_trying_and_asks_beside_itself(node):
    script = REFUSED % {"module": json.dumps(COMMON.as_uri())}
    result = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=20, check=True
    )
    seen = json.loads(result.stdout)
    assert seen["refused"] == "This chat needs the link with its key: ask your teacher."
    assert (seen["checks"], seen["sockets"]) == (3, 3), "asked after each failed attempt, then stopped"
    assert seen["delays"] == [1000, 2000], "two retries while the server was down, none after the refusal"
    assert seen["urls"] == [
        "http://192.168.1.20:3000/join-key-check?key=Ab3dE_9x",
        "https://hub.example/user/ada/proxy/3000/join-key-check?key=a%26b",
        "http://192.168.1.20:3000/join-key-check",
    ]


CONTROLS = """
import { escapeControls, shown } from %(module)s
console.log(JSON.stringify([
  escapeControls('\\u202eevil'), escapeControls('\\x1b[31mred\\x1b[0m'),
  escapeControls('a\\nb\\r\\u2028c'), escapeControls('caf\\u00e9 \\ud83d\\ude00 \\u200d'),
  shown('\\u05d0\\u05d1\\u05d9'), shown('ada'), shown('\\u2069x')
]))
"""


def test_the_pages_show_control_and_bidi_characters_escaped_and_isolate_right_to_left_text(node):
    script = CONTROLS % {"module": json.dumps(COMMON.as_uri())}
    result = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=20, check=True
    )
    assert json.loads(result.stdout) == [
        "\\u202eevil",
        "\\x1b[31mred\\x1b[0m",
        "a\\nb\\r\\u2028c",  # as helpers.common.text.printable writes them
        "café \U0001f600 \u200d",  # letters, emoji and the joiner emoji need: as they are
        "\u2068אבי\u2069",  # right-to-left: isolated, as <bdi> does
        "ada",
        "\\u2069x",  # a client's own isolate can't close the page's
    ]


SAME_ESCAPES = """
import { escapeControls } from %(module)s
import { readFileSync } from 'node:fs'
const text = JSON.parse(readFileSync(0, 'utf8'))
console.log(JSON.stringify(escapeControls(text)))
"""


def test_the_pages_escape_exactly_what_the_server_log_and_the_widgets_escape(node):
    """One rule for every place client text is shown: the pages' and ``helpers.common.text.printable``."""
    from helpers.common.text import printable

    sample = "".join(map(chr, range(0x3000))) + "\U0001f600\u200d\ufeff"
    script = SAME_ESCAPES % {"module": json.dumps(COMMON.as_uri())}
    result = subprocess.run(
        [node, "--input-type=module", "-e", script],
        input=json.dumps(sample), capture_output=True, text=True, timeout=20, check=True,
    )  # fmt: skip
    assert json.loads(result.stdout) == printable(sample)
