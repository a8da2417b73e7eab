"""Drives a WebSocket echo server for scripts/echo-instructions: CONNS connections, each
sending N 20-byte binary messages one at a time and waiting for each echo.

The driver is Python's `websockets` so that it costs the measured server nothing: only the
server runs under valgrind, and what the driver spends is not counted.
"""

import asyncio
import sys

import websockets


async def one(addr: str, n: int) -> None:
    async with websockets.connect(
        f"ws://{addr}/", compression=None, max_size=None, ping_interval=None
    ) as ws:
        for _ in range(n):
            await ws.send(b"x" * 20)
            await ws.recv()


async def main() -> None:
    addr, conns, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    await asyncio.gather(*(one(addr, n) for _ in range(conns)))


asyncio.run(main())
