"""Peer for `wirelab check ws-client`: Python's `websockets` as an echo client.

Connects to the URL given as the last argument, sends back every Text and Binary message
until the server closes, and exits (with status 1 if the connection failed):

    wirelab check ws-client -- python3 conformance/peers/ws_echo_client.py
"""
import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK


async def main(url):
    # No permessage-deflate: the suite's frames are plain, as it declines extensions anyway.
    async with connect(url, compression=None, open_timeout=10) as ws:
        try:
            async for message in ws:
                await ws.send(message)
        except ConnectionClosedOK:
            pass


try:
    asyncio.run(asyncio.wait_for(main(sys.argv[-1]), 60))
except Exception as error:  # the checks that break rules end here, on purpose
    print(f"ws_echo_client: {error!r}", file=sys.stderr)
    sys.exit(1)
