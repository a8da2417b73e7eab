//! The examples' server on loopback: its byte counters are exact, `cut_where` drops only what
//! it is asked to, `pause` refuses connections for a while, then listens again, and it bounds
//! a request head as the byte-level WebSocket server does.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::guard;
use http::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use wirelab_examples::server::{self, Server};
use wirelab_examples::ticker::Ticker;

/// Waits (bounded) until every connection the server knows of has closed.
async fn all_closed(server: &Server) {
    for _ in 0..500 {
        if server.connections().iter().all(|c| !c.open) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("connections still open: {:?}", server.connections());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_are_the_exact_bytes_of_each_connection() {
    guard(async {
        let (addr, server) = server::spawn_local(server::handler(|_request, _conn| async move {
            server::full(StatusCode::OK, "text/plain", "hello\n")
        }))
        .await
        .expect("bind");
        let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("read");
        drop(stream);
        all_closed(&server).await;
        let connections = server.connections();
        assert_eq!(connections.len(), 1);
        let conn = &connections[0];
        assert_eq!(conn.read, request.len() as u64);
        assert_eq!(conn.written, response.len() as u64);
    })
    .await;
}

async fn open_stream(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET /ticker/sse HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    // The response head and the first event.
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
    stream
}

/// Reads until the end of the stream (the cut), dropping what comes; panics after `limit`
/// reads, so a stream that is not cut fails instead of hanging.
async fn read_until_closed(stream: &mut TcpStream, limit: usize) {
    let mut buf = [0u8; 4096];
    for _ in 0..limit {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
    panic!("still open after {limit} reads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_drops_only_the_connections_it_names() {
    guard(async {
        let ticker = Ticker::start(Duration::from_millis(10));
        let (addr, server) = server::spawn_local(server::handler(move |request, conn| {
            ticker.clone().handle(request, conn)
        }))
        .await
        .expect("bind");
        let mut a = open_stream(addr).await;
        let a_id = server.connections().last().expect("a's connection").id;
        let mut b = open_stream(addr).await;
        assert_eq!(server.cut_where(|id| id == a_id), 1);
        read_until_closed(&mut a, 1000).await;
        // b still receives prices.
        let mut buf = [0u8; 1024];
        let n = b.read(&mut buf).await.expect("read");
        assert!(String::from_utf8_lossy(&buf[..n]).contains("seq"));
        assert_eq!(server.cut(), 1);
        read_until_closed(&mut b, 1000).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_refuses_connections_then_listens_again() {
    guard(async {
        let (addr, server) = server::spawn_local(server::handler(|_request, _conn| async {
            server::full(StatusCode::OK, "text/plain", "up\n")
        }))
        .await
        .expect("bind");
        server.pause(Duration::from_millis(500));
        // The pause takes effect when the accept loop sees it: try until refused...
        let mut refused = false;
        for _ in 0..200 {
            match TcpStream::connect(addr).await {
                Err(_) => {
                    refused = true;
                    break;
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
        assert!(refused, "never refused");
        // ... then until the server is back, on the same address.
        let mut back = false;
        for _ in 0..400 {
            if TcpStream::connect(addr).await.is_ok() {
                back = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(back, "never came back");
    })
    .await;
}

/// A WebSocket echo on the examples' server, as `wirelab demo`'s `/echo/ws`.
fn echo() -> server::Handler {
    server::handler(|mut request, conn| async move {
        server::websocket(&mut request, &conn, |ws, _conn| async move {
            let (mut receiver, mut sender) = ws.split();
            while let Ok(Some(websocket::Message::Text(text))) = receiver.recv().await {
                if server::send(&mut sender, websocket::Message::Text(text))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_messages_over_the_limit_are_refused_with_1009() {
    guard(async {
        let (addr, _server) = server::spawn_local(echo()).await.expect("bind");
        let (mut ws, _) = websocket::io::connect(&format!("ws://{addr}/"))
            .await
            .expect("connect");
        let fits = "x".repeat(server::MAX_MESSAGE);
        ws.send(websocket::Message::Text(fits.clone()))
            .await
            .expect("send");
        assert_eq!(
            ws.recv().await.expect("recv"),
            Some(websocket::Message::Text(fits))
        );
        // One byte more: the server closes with 1009 ("message too big") instead of taking it.
        ws.send(websocket::Message::Text(
            "x".repeat(server::MAX_MESSAGE + 1),
        ))
        .await
        .expect("send");
        match ws.recv().await {
            Ok(Some(websocket::Message::Close(Some(close)))) => assert_eq!(close.code, 1009),
            Ok(Some(websocket::Message::Text(text))) => {
                panic!("expected Close 1009, got a {}-byte echo", text.len())
            }
            other => panic!("expected Close 1009, got {other:?}"),
        }
    })
    .await;
}

/// A client that floods a WebSocket session and never reads the answers: the session's send
/// gives up after `SEND_TIMEOUT`, and the connection is dropped instead of held for as long
/// as the client likes.
#[tokio::test(start_paused = true)]
async fn a_client_that_floods_and_never_reads_is_dropped() {
    let test = async {
        let (addr, server) = server::spawn_local(echo()).await.expect("bind");
        let (ws, _) = websocket::io::connect(&format!("ws://{addr}/"))
            .await
            .expect("connect");
        // The receiving half is kept, never read.
        let (_receiver, mut sender) = ws.split();
        let flood = tokio::spawn(async move {
            let text = "x".repeat(server::MAX_MESSAGE);
            while sender
                .send(websocket::Message::Text(text.clone()))
                .await
                .is_ok()
            {}
        });
        let start = tokio::time::Instant::now();
        while server.connections().iter().any(|c| c.open) {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert!(start.elapsed() >= server::SEND_TIMEOUT);
        flood.abort();
    };
    // Virtual time: a session held forever fails after 10 simulated minutes.
    tokio::time::timeout(Duration::from_secs(600), test)
        .await
        .expect("the flooding client was never dropped");
}

/// A WebSocket handshake for `addr` with `extra` headers of `size` bytes each appended.
fn handshake_with(extra: usize, size: usize) -> Vec<u8> {
    let mut head = String::from(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
    );
    for i in 0..extra {
        let name = format!("X-Pad-{i}: ");
        let value = "a".repeat(size.saturating_sub(name.len() + 2));
        head.push_str(&format!("{name}{value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// The status line a server at `addr` answers `head` with (whatever arrived before the
/// server closed, if it reset the connection).
async fn status_of(addr: SocketAddr, head: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head).await.expect("write");
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

/// The examples' hyper server (what `wirelab demo` runs) and the byte-level
/// `websocket::io::accept` (what `wirelab echo` runs) bound a head the same way, with
/// `websocket::Limits::default()`: an 18 KB head and a head of 70 headers get 431 from both,
/// and a head of 60 headers in 10 KB is a WebSocket on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_bounds_are_the_same_on_both_servers() {
    guard(async {
        let (hyper_addr, _server) = server::spawn_local(echo()).await.expect("bind");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let bytes_addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let options = websocket::handshake::ServerOptions::default();
                    let _ = websocket::io::accept(stream, &options).await;
                });
            }
        });
        let limits = websocket::Limits::default();
        assert_eq!(
            (limits.max_handshake_size, limits.max_headers),
            (16 << 10, 64)
        );
        let cases = [
            ("18 KB head", handshake_with(1, 18_000), "431"),
            ("70 headers", handshake_with(70, 20), "431"),
            ("60 headers in 10 KB", handshake_with(55, 180), "101"),
        ];
        for (what, head, status) in cases {
            for (server, addr) in [("hyper", hyper_addr), ("accept", bytes_addr)] {
                let line = status_of(addr, &head).await;
                assert!(
                    line.starts_with(&format!("HTTP/1.1 {status} ")),
                    "{what} on {server}: {line:?}"
                );
            }
        }
    })
    .await;
}
