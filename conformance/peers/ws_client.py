"""Interop peer: Python's `websockets` as a client against a WireLab WebSocket echo server.

Usage: ws_client.py ws://127.0.0.1:PORT/
Prints one line per check, `ok <name>`, and exits non-zero at the first mismatch.
"""
import asyncio
import sys

from websockets.asyncio.client import connect


def check(name, got, want):
    if got != want:
        print(f"FAIL {name}: got {got!r}, want {want!r}", flush=True)
        sys.exit(1)
    print(f"ok {name}", flush=True)


async def main(url):
    async with asyncio.timeout(20):
        # websockets offers permessage-deflate by default; the echo server accepts it.
        ws = await connect(url, max_size=2**24)
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        check("deflate negotiated", extensions.split(";")[0], "permessage-deflate")
        await ws.send("héllo ✓")
        check("text", await ws.recv(), "héllo ✓")
        await ws.send(bytes(range(256)) * 300)
        check("binary", await ws.recv(), bytes(range(256)) * 300)
        # An iterable is sent as one message in several frames (RFC 6455 §5.4).
        await ws.send(["frag", "men", "ted ✓"])
        check("fragmented", await ws.recv(), "fragmented ✓")
        # Repetitive text, many times: each side's context carries over between messages.
        for i in range(20):
            ticker = '{"symbol":"WLAB","price":%d.25,"volume":1200}' % (100 + i) * 10
            await ws.send(ticker)
            if await ws.recv() != ticker:
                check("compressible", i, "echoed")
        check("compressible", True, True)
        pong = await ws.ping(b"are you there")
        await pong
        check("ping", True, True)
        await ws.close(code=4000, reason="bye from python")
        check("close code echoed", ws.close_code, 4000)


asyncio.run(main(sys.argv[1]))
