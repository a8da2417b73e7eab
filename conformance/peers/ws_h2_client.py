"""Interop peer: Python's `h2` as an HTTP/2 client opening WebSockets (RFC 8441) on a WireLab echo
server in clear text (h2c with prior knowledge).

Usage: ws_h2_client.py HOST:PORT
Prints one line per check, `ok <name>`, and exits non-zero at the first mismatch.

`h2` is a sans-I/O HTTP/2 implementation independent of hyper: it checks the server's SETTINGS,
sends the extended CONNECT, and does HTTP/2's flow control. The WebSocket frames inside the
streams are written and read here, by hand, masked as a client must (RFC 6455 §5.3).
"""
import os
import socket
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings


def check(name, got, want):
    if got != want:
        print(f"FAIL {name}: got {got!r}, want {want!r}", flush=True)
        sys.exit(1)
    print(f"ok {name}", flush=True)


def frame(opcode, payload, fin=True):
    """A masked WebSocket frame (RFC 6455 §5.2)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class Client:
    def __init__(self, authority):
        host, port = authority.rsplit(":", 1)
        self.authority = authority
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.flush()
        self.settings = False
        self.buffers = {}
        self.ended = set()
        self.reset = set()
        self.responses = {}

    def flush(self):
        self.sock.sendall(self.conn.data_to_send())

    def pump(self):
        """Reads once from the socket and handles what HTTP/2 says."""
        data = self.sock.recv(65536)
        if not data:
            print("FAIL the server closed the connection", flush=True)
            sys.exit(1)
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                self.settings = True
            elif isinstance(event, h2.events.ResponseReceived):
                self.responses[event.stream_id] = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                self.buffers[event.stream_id] += event.data
                # Give the window back: the echo server's replies need it.
                self.conn.acknowledge_received_data(
                    event.flow_controlled_length, event.stream_id
                )
            elif isinstance(event, h2.events.StreamEnded):
                self.ended.add(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                # After its END_STREAM a server may reset the stream with NO_ERROR to say it
                # reads no more (RFC 9113 §8.1): hyper does once the WebSocket is dropped. It
                # is the end of a closed stream; any other reset is a failure.
                if event.stream_id not in self.ended or event.error_code != 0:
                    print(f"FAIL stream {event.stream_id} reset: {event.error_code}", flush=True)
                    sys.exit(1)
                self.reset.add(event.stream_id)
        self.flush()

    def websocket(self, path):
        """RFC 8441 §4, §5: an extended CONNECT; returns the stream id once the 200 is in."""
        while not self.settings:
            self.pump()
        stream = self.conn.get_next_available_stream_id()
        self.buffers[stream] = b""
        self.conn.send_headers(
            stream,
            [
                (":method", "CONNECT"),
                (":protocol", "websocket"),
                (":scheme", "http"),
                (":path", path),
                (":authority", self.authority),
                ("sec-websocket-version", "13"),
            ],
        )
        self.flush()
        while stream not in self.responses:
            self.pump()
        return stream

    def send(self, stream, data):
        """Sends `data` on `stream` as HTTP/2's flow control allows (RFC 9113 §5.2)."""
        while data:
            room = min(
                self.conn.local_flow_control_window(stream),
                self.conn.max_outbound_frame_size,
            )
            if room == 0:
                self.pump()
                continue
            self.conn.send_data(stream, data[:room])
            self.flush()
            data = data[room:]

    def end(self, stream):
        """Ends our side of `stream`, unless the server has reset it already."""
        if stream not in self.reset:
            self.conn.end_stream(stream)
            self.flush()

    def recv(self, stream):
        """The next WebSocket frame the server sent on `stream`: (fin, opcode, payload)."""
        while True:
            buf = self.buffers[stream]
            if len(buf) >= 2:
                b0, b1 = buf[0], buf[1]
                if b1 & 0x80:
                    print("FAIL a server frame is masked", flush=True)
                    sys.exit(1)
                n, at = b1 & 0x7F, 2
                if n == 126:
                    n, at = int.from_bytes(buf[2:4], "big"), 4
                elif n == 127:
                    n, at = int.from_bytes(buf[2:10], "big"), 10
                if len(buf) >= at + n:
                    self.buffers[stream] = buf[at + n :]
                    return (bool(b0 & 0x80), b0 & 0x0F, buf[at : at + n])
            if stream in self.ended:
                return None
            self.pump()


def main(authority):
    client = Client(authority)
    a = client.websocket("/first")
    check("settings enable_connect_protocol", client.conn.remote_settings.enable_connect_protocol, 1)
    check("200", client.responses[a][":status"], "200")
    check("no accept header", "sec-websocket-accept" in client.responses[a], False)
    b = client.websocket("/second")
    check("two streams", (a, b), (1, 3))

    text = "héllo ✓".encode()
    client.send(a, frame(0x1, text))
    client.send(b, frame(0x1, b"on b"))
    check("text", client.recv(a), (True, 0x1, text))
    check("text on the second stream", client.recv(b), (True, 0x1, b"on b"))

    # Over 64 KiB: more than the 65,535-byte window this client gives each stream (RFC 9113
    # §6.9.2), so the echo comes back only as `pump` gives the window back.
    big = bytes(range(256)) * 400
    client.send(a, frame(0x2, big))
    check("binary", client.recv(a), (True, 0x2, big))

    # A fragmented message with a Ping between its fragments (RFC 6455 §5.4, §5.5.2).
    client.send(a, frame(0x1, b"frag", fin=False) + frame(0x9, b"are you there"))
    client.send(a, frame(0x0, b"men", fin=False) + frame(0x0, "ted ✓".encode()))
    check("ping", client.recv(a), (True, 0xA, b"are you there"))
    check("fragmented", client.recv(a), (True, 0x1, "fragmented ✓".encode()))

    # The closing handshake: our Close, the server's, then the server's END_STREAM
    # (RFC 8441 §5: END_STREAM is what TCP's FIN is to WebSocket over HTTP/1.1).
    client.send(a, frame(0x8, (4000).to_bytes(2, "big") + b"bye from python"))
    check("close code echoed", client.recv(a), (True, 0x8, (4000).to_bytes(2, "big")))
    check("end_stream after the close", client.recv(a), None)
    client.end(a)

    # The other stream is still open on the same connection.
    client.send(b, frame(0x1, b"still here"))
    check("second stream outlives the first", client.recv(b), (True, 0x1, b"still here"))
    client.send(b, frame(0x8, (1000).to_bytes(2, "big")))
    check("second close", client.recv(b), (True, 0x8, (1000).to_bytes(2, "big")))
    check("second end_stream", client.recv(b), None)
    client.end(b)
    client.conn.close_connection()
    client.flush()
    client.sock.close()


main(sys.argv[1])
