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
