"""The load lab's load generator (notebook 11): ``python -m helpers.loadlab.generator --port P --clients N
--messages M``.

It runs in a process of its own, so its work doesn't slow the kernel it measures. N plain
websocket clients connect to the server at ``127.0.0.1:P``; then M messages are sent as fast
as possible, client ``k % N`` sending message ``k``, and every client must receive every one.
Each client reads frames straight off its connection (the header, then the payload), so one
Python process can count several hundred thousand deliveries a second: the server, not the
load, is what is measured. Progress goes to stdout as ``progress DONE TOTAL`` lines, then one
line of JSON: deliveries, lost, out of order, seconds, deliveries/s, latency p50 and p99.

With ``--deflate`` the clients offer per-message compression (permessage-deflate, RFC 7692)
as browsers do; whether the server took it up, and how many frames came compressed, is in the
figures (``deflate``, ``compressed``): notebook 11 measures what compression costs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import struct
import sys
import time
import zlib

__all__ = ["main", "run"]

HEADER = struct.Struct("!BB")
DEFLATE_OFFER = "permessage-deflate; client_max_window_bits"
TAIL = b"\x00\x00\xff\xff"  # what a compressed message's sender leaves off (RFC 7692, 7.2.1)


class Reader(asyncio.Protocol):
    """One client: counts the text frames it gets and each one's latency (``sender seq t0``)."""

    def __init__(self, latencies: list[float], expected: int) -> None:
        self.buffer, self.latencies, self.expected = bytearray(), latencies, expected
        self.count = self.out_of_order = 0
        self.last: dict[int, int] = {}
        self.upgraded = asyncio.get_running_loop().create_future()
        self.done = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.inflater: zlib._Decompress | None = None  # set once the server takes up deflate
        self.compressed = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status, _, headers = bytes(self.buffer[:end]).partition(b"\r\n")
            del self.buffer[: end + 4]
            if b" 101 " not in status:
                self.upgraded.set_exception(ConnectionError(status.decode(errors="replace")))
                return
            if b"permessage-deflate" in headers.lower():
                self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            self.upgraded.set_result(None)
        self._frames()

    def _frames(self) -> None:
        buffer, now, at = self.buffer, time.perf_counter(), 0
        while len(buffer) - at >= 2:
            first, size = HEADER.unpack_from(buffer, at)
            start = at + 2
            if size == 126:
                if len(buffer) - at < 4:
                    break
                size, start = struct.unpack_from("!H", buffer, at + 2)[0], at + 4
            elif size == 127:
                if len(buffer) - at < 10:
                    break
                size, start = struct.unpack_from("!Q", buffer, at + 2)[0], at + 10
            if len(buffer) - start < size:
                break
            if first & 0x0F == 0x1:  # a text frame (pings and the like are not deliveries)
                if first & 0x40 and self.inflater is not None:  # RSV1: this message is compressed
                    self.compressed += 1
                    text = self.inflater.decompress(bytes(buffer[start : start + size]) + TAIL)
                    self._delivered(text[:40], now)
                else:
                    self._delivered(bytes(buffer[start : start + min(size, 40)]), now)
            at = start + size
        del buffer[:at]
        if self.count >= self.expected and not self.done.done():
            self.done.set_result(None)

    def _delivered(self, head: bytes, now: float) -> None:
        sender, seq, sent = head.split(b" ", 3)[:3]
        self.count += 1
        self.latencies.append(now - float(sent))
        if self.last.get(int(sender), -1) > int(seq):
            self.out_of_order += 1
        self.last[int(sender)] = int(seq)

    def connection_lost(self, exc: Exception | None) -> None:
        for future in (self.upgraded, self.done):
            if not future.done():
                future.set_exception(ConnectionError("the server closed the connection"))


def masked_text(text: str) -> bytes:
    """A client's text frame. The mask is all zeros: valid, and the payload stays as it is."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        return bytes((0x81, 0x80 | size)) + b"\0\0\0\0" + payload
    return bytes((0x81, 0x80 | 126)) + size.to_bytes(2, "big") + b"\0\0\0\0" + payload


async def connect(port: int, latencies: list[float], expected: int, deflate: bool = False) -> Reader:
    loop = asyncio.get_running_loop()
    _, reader = await loop.create_connection(lambda: Reader(latencies, expected), "127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    offer = f"Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n" if deflate else ""
    assert reader.transport is not None
    reader.transport.write(
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n".encode()
    )
    await asyncio.wait_for(reader.upgraded, 10)
    return reader


async def run(
    port: int, clients: int, messages: int, size: int = 64, timeout: float = 20.0, deflate: bool = False
) -> dict:
    """Connect ``clients``, send ``messages`` round-robin, wait for every delivery; the figures."""
    latencies: list[float] = []
    readers: list[Reader] = []
    for start in range(0, clients, 50):  # 50 at a time: a burst of 1,000 can overflow a backlog
        readers += await asyncio.gather(
            *(connect(port, latencies, messages, deflate) for _ in range(min(50, clients - start)))
        )
    expected = clients * messages
    started = time.perf_counter()
    for seq in range(messages):
        sender = seq % clients
        text = f"{sender} {seq} {time.perf_counter():.6f} "
        readers[sender].transport.write(masked_text(text.ljust(size, "x")))  # type: ignore[union-attr]
    progress = asyncio.create_task(_report(readers, expected))
    try:
        await asyncio.wait_for(asyncio.gather(*(r.done for r in readers)), timeout)
    except (TimeoutError, ConnectionError):
        pass
    seconds = time.perf_counter() - started
    progress.cancel()
    delivered = sum(r.count for r in readers)
    for reader in readers:
        reader.transport.close()  # type: ignore[union-attr]
    ordered = sorted(latencies)
    return {
        "clients": clients, "messages": messages, "deliveries": delivered, "expected": expected,
        "lost": expected - delivered, "out_of_order": sum(r.out_of_order for r in readers),
        "seconds": seconds, "deliveries_per_s": delivered / seconds,
        "p50_ms": 1000 * ordered[len(ordered) // 2] if ordered else None,
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, len(ordered) * 99 // 100)] if ordered else None,
        "deflate": all(r.inflater is not None for r in readers),
        "compressed": sum(r.compressed for r in readers),
    }


async def _report(readers: list[Reader], expected: int) -> None:
    while True:
        print("progress", sum(r.count for r in readers), expected, flush=True)
        await asyncio.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.loadlab.generator", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--size", type=int, default=64, help="bytes per message (at least the header)")
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate, as browsers do")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.port, args.clients, args.messages, args.size, deflate=args.deflate))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
