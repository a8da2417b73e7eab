"""Interop peer: Python's `h2` (a sans-I/O HTTP/2 implementation) reading event streams.

Usage: sse_h2_client.py URL STREAMS EVENTS [CA_FILE]

Opens one connection to URL: `http://` with prior knowledge (h2c), or `https://` over TLS
offering ALPN `h2` alone and trusting CA_FILE. Sends STREAMS concurrent GET requests for URL's
path on it, reads each body until it holds EVENTS events (blank-line ends), then closes with
GOAWAY. Prints one JSON object: the ALPN chosen, the server's SETTINGS, and per stream its
response header fields, its DATA frame count and its body as text. The Rust side checks them.
"""
import json
import socket
import ssl
import sys
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events


def main(url, streams, events, ca_file):
    url = urlsplit(url)
    sock = socket.create_connection((url.hostname, url.port), timeout=20)
    alpn = None
    if url.scheme == "https":
        context = ssl.create_default_context(cafile=ca_file)
        context.set_alpn_protocols(["h2"])
        sock = context.wrap_socket(sock, server_hostname=url.hostname)
        alpn = sock.selected_alpn_protocol()
    config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    ids = []
    for _ in range(streams):
        stream_id = conn.get_next_available_stream_id()
        conn.send_headers(
            stream_id,
            [
                (":method", "GET"),
                (":scheme", url.scheme),
                (":authority", url.netloc),
                (":path", url.path or "/"),
                ("accept", "text/event-stream"),
            ],
            end_stream=True,
        )
        ids.append(stream_id)
    sock.sendall(conn.data_to_send())
    heads, bodies, frames, settings = {}, {i: b"" for i in ids}, {i: 0 for i in ids}, {}
    while any(bodies[i].count(b"\n\n") < events for i in ids):
        data = sock.recv(65536)
        if not data:
            sys.exit("the server closed the connection")
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                for key, change in event.changed_settings.items():
                    settings[int(key)] = change.new_value
            elif isinstance(event, h2.events.ResponseReceived):
                heads[event.stream_id] = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                bodies[event.stream_id] += event.data
                frames[event.stream_id] += 1
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                sys.exit(f"unexpected {event}")
        sock.sendall(conn.data_to_send())
    conn.close_connection()
    sock.sendall(conn.data_to_send())
    sock.close()
    print(
        json.dumps(
            {
                "alpn": alpn,
                "settings": settings,
                "streams": [
                    {
                        "id": i,
                        "headers": heads.get(i),
                        "data_frames": frames[i],
                        "body": bodies[i].decode("utf-8"),
                    }
                    for i in ids
                ],
            }
        )
    )


main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
