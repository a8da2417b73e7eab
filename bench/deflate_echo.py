"""A permessage-deflate echo server for `wirelab-bench deflate-echo --peer python`: Python's
`websockets` with its default compression settings (which enable permessage-deflate).

Prints `listening 127.0.0.1:PORT`, echoes every message on every connection, and stops when
its standard input closes (or after 10 minutes in any case).
"""

import asyncio
import sys

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    async with serve(echo, "127.0.0.1", 0, max_size=2**24, ping_interval=None) as server:
        host, port = server.sockets[0].getsockname()[:2]
        print(f"listening {host}:{port}", flush=True)
        loop = asyncio.get_running_loop()
        stdin_closed = loop.run_in_executor(None, sys.stdin.read)
        await asyncio.wait_for(stdin_closed, 600)


asyncio.run(main())
