"""A deliberately broken WebSocket client, for the tests of `wirelab check ws-client`: it
opens the connection correctly, then echoes every message in frames it does not mask
(RFC 6455 §5.1 requires a client to mask every frame). Standard library only.

    wirelab check ws-client -- python3 conformance/peers/ws_unmasked_client.py
"""
import base64
import os
import socket
import struct
import sys
from urllib.parse import urlsplit

url = urlsplit(sys.argv[-1])
sock = socket.create_connection((url.hostname, url.port), timeout=10)
key = base64.b64encode(os.urandom(16)).decode()
sock.sendall(
    f"GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
    f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
)
buffer = b""
while b"\r\n\r\n" not in buffer:
    buffer += sock.recv(4096)
buffer = buffer.split(b"\r\n\r\n", 1)[1]


def read(n):
    global buffer
    while len(buffer) < n:
        chunk = sock.recv(4096)
        if not chunk:
            sys.exit(0)
        buffer += chunk
    data, buffer = buffer[:n], buffer[n:]
    return data


while True:
    b0, b1 = read(2)
    length = b1 & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", read(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", read(8))
    payload = read(length)
    opcode = b0 & 0x0F
    reply = {0x9: 0xA}.get(opcode, opcode)  # a Pong for a Ping, the rest sent back as it came
    if opcode != 0xA:
        header = bytes([0x80 | reply if b0 & 0x80 else reply])
        header += bytes([length]) if length < 126 else struct.pack("!BH", 126, length)
        sock.sendall(header + payload)
    if opcode == 0x8:
        break
