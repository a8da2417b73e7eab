"""Interop peer: Python's `websockets` as a server for a WireLab WebSocket client.

Prints the port it listens on (127.0.0.1), serves one connection, then exits. The handler:
- echoes Text and Binary messages;
- on "send-fragmented", sends one Text message in three frames;
- on "ping-me", sends a Ping and reports "pong-received" once the client's Pong arrived
  (the client answers without the application doing anything);
- on "close-me", closes with 4001 "done".
"""
import asyncio

from websockets.asyncio.server import serve


async def handler(ws):
    async for message in ws:
        if message == "send-fragmented":
            await ws.send(["frag", "men", "ted"])
        elif message == "ping-me":
            pong = await ws.ping(b"hello client")
            await asyncio.wait_for(pong, 10)
            await ws.send("pong-received")
        elif message == "close-me":
            await ws.close(code=4001, reason="done")
            return
        else:
            await ws.send(message)


async def main():
    done = asyncio.Event()

    async def once(ws):
        try:
            await handler(ws)
        finally:
            done.set()

    async with serve(once, "127.0.0.1", 0, max_size=2**24) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.wait_for(done.wait(), 30)


asyncio.run(main())
