"""Socket.IO readers in a process of their own: ``python tests/socketio_readers.py URL N REPLAY``.

N clients connect to URL with ``serverOffset`` 0 and count the chat messages they get. The
process prints ``connected`` once all are in, ``replayed`` once each got REPLAY messages, and,
after a line ``expect M`` on its stdin, ``counts C1 C2 ...`` once each has M (or after 30 s).
A load test runs them apart from the client it measures, so their work doesn't slow it.
"""

from __future__ import annotations

import asyncio
import sys
import time

import socketio

from helpers.common.quiet import quiet_logger


async def main(url: str, clients: int, replay: int) -> None:
    counts = [0] * clients
    readers = []
    for i in range(clients):
        reader = socketio.AsyncClient(logger=quiet_logger(), engineio_logger=quiet_logger())
        reader.on("chat message", lambda *_, i=i: counts.__setitem__(i, counts[i] + 1))
        readers.append(reader)
    auth = {"serverOffset": 0}  # all of it: the whole store is replayed
    await asyncio.gather(*(r.connect(url, auth=auth, transports=["websocket"]) for r in readers))
    print("connected", flush=True)

    async def tell_replayed() -> None:
        while min(counts) < replay:
            await asyncio.sleep(0.02)
        print("replayed", flush=True)

    told = asyncio.create_task(tell_replayed())
    stdin = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    expected = int((await stdin.readline()).split()[1])
    deadline = time.monotonic() + 30
    while min(counts) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # one more than expected would show now
    told.cancel()
    print("counts", *counts, flush=True)
    for reader in readers:
        await reader.disconnect()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
