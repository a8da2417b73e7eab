"""Peer for `wirelab check ws-server`: Python's `websockets` as an echo server.

Listens on 127.0.0.1 (the port given as the first argument, or one the system picks), prints
the port, and echoes every Text and Binary message until standard input closes or five
minutes have passed, whichever comes first:

    python3 conformance/peers/ws_echo_server.py 9002 &
    wirelab check ws-server ws://127.0.0.1:9002/
"""
import asyncio
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        # The checks break rules on purpose: websockets has already sent the Close it owes.
        pass


async def stdin_closed():
    loop = asyncio.get_running_loop()
    # A blocking read on a thread: ends when the parent closes the pipe (or the terminal's
    # Ctrl-D).
    await loop.run_in_executor(None, sys.stdin.read)


async def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    async with serve(echo, "127.0.0.1", port) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        try:
            await asyncio.wait_for(stdin_closed(), 300)
        except asyncio.TimeoutError:
            pass


asyncio.run(main())
