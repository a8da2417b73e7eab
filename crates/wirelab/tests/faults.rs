//! `wirelab tap --fault`: each fault between WireLab's own clients and a server, and the
//! clients doing what the book's chapters say they do about it.
//!
//! The event-stream server here is hand-written (a head, then events the test paces), so
//! that what crosses the tap, and when, is the test's choice: the buffering test, for one,
//! needs the server to wait for the client's receipt of an event that a buffering proxy
//! holds. The WebSocket server is the `websocket` crate's `accept`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sse::client::{Client, ClientConfig, ClientEvent, CloseReason, Disconnect};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use websocket::Message;
use websocket::io::ClientOptions;
use wirelab::tap::{self, Fault, TapOptions};

/// Runs `test` with a bound on time, so that a hang fails instead of stalling the suite.
async fn within_20s(test: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(20), test)
        .await
        .expect("the test took more than 20 s: something hangs");
}

/// A tap in front of `upstream` with `fault`; its annotation lines are drained and dropped.
async fn tap(upstream: SocketAddr, fault: Option<Fault>) -> SocketAddr {
    tap_recording(upstream, fault).await.0
}

/// A tap in front of `upstream` with `fault`, and the annotation lines it has printed so far.
async fn tap_recording(
    upstream: SocketAddr,
    fault: Option<Fault>,
) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (out, mut lines) = mpsc::channel(1024);
    let options = TapOptions { hex: false, fault };
    tokio::spawn(tap::run(listener, upstream, options, out));
    let printed = Arc::new(Mutex::new(Vec::new()));
    let keep = printed.clone();
    tokio::spawn(async move {
        while let Some(line) = lines.recv().await {
            keep.lock().expect("lines").push(line);
        }
    });
    (addr, printed)
}

/// One event-stream connection as the server sees it: the request's `Last-Event-ID`, and
/// the socket after the response head has been written.
struct Stream {
    last_event_id: Option<String>,
    socket: TcpStream,
}

/// An event-stream server: each connection's request is read, answered with a `200` head
/// (no chunked framing: the body ends with the connection) and handed to the test.
async fn sse_server() -> (SocketAddr, mpsc::Receiver<Stream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (streams, accepted) = mpsc::channel(16);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let last_event_id = head.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("last-event-id")
                    .then(|| value.trim().to_owned())
            });
            let response = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                            Cache-Control: no-store\r\nConnection: close\r\n\r\n";
            if socket.write_all(response.as_bytes()).await.is_err() {
                continue;
            }
            let stream = Stream {
                last_event_id,
                socket,
            };
            if streams.send(stream).await.is_err() {
                break;
            }
        }
    });
    (addr, accepted)
}

/// An `EventSource` of `addr` that reconnects after 50 ms.
fn event_source(addr: SocketAddr) -> Client {
    let config = ClientConfig {
        reconnection_time: Duration::from_millis(50),
        ..ClientConfig::default()
    };
    Client::new(&format!("http://{addr}/events"), config).expect("client")
}

/// The next message (id, data), reporting what came before it in `seen`.
async fn next_message(client: &mut Client, seen: &mut Vec<String>) -> (String, String) {
    loop {
        match client.next().await.expect("the client closed") {
            ClientEvent::Message(m) => return (m.last_event_id.to_string(), m.data),
            ClientEvent::Reconnecting { reason, .. } => seen.push(match reason {
                Disconnect::EndOfStream => "end of stream".to_owned(),
                Disconnect::Network(_) => "network error".to_owned(),
            }),
            ClientEvent::Closed(reason) => panic!("closed for good: {reason}"),
            _ => {}
        }
    }
}

/// Whether, through a tap with `fault`, an `EventSource` with `config` gets event 1 only once
/// the server has ended the stream, and the tap's lines. The server sends event 1, then waits
/// until the client has it (or 3 s: a proxy that holds it never lets it through), then sends
/// event 2 and ends; the client must get both, in order, either way.
async fn event_1_waits_for_the_end(
    fault: Option<Fault>,
    config: ClientConfig,
) -> (bool, Vec<String>) {
    let (server, mut streams) = sse_server().await;
    let (addr, lines) = tap_recording(server, fault).await;
    let mut client = Client::new(&format!("http://{addr}/events"), config).expect("client");
    let received = Arc::new(Notify::new());
    let ended = Arc::new(Mutex::new(false));
    let (waiter, flag) = (received.clone(), ended.clone());
    tokio::spawn(async move {
        let mut stream = streams.recv().await.expect("a connection");
        let socket = &mut stream.socket;
        socket
            .write_all(b"id: 1\ndata: one\n\n")
            .await
            .expect("write");
        let _ = tokio::time::timeout(Duration::from_secs(3), waiter.notified()).await;
        socket
            .write_all(b"id: 2\ndata: two\n\n")
            .await
            .expect("write");
        *flag.lock().expect("flag") = true;
    });
    let first = next_message(&mut client, &mut Vec::new()).await;
    assert_eq!(first, ("1".to_owned(), "one".to_owned()));
    let after_the_end = *ended.lock().expect("flag");
    received.notify_one();
    let second = next_message(&mut client, &mut Vec::new()).await;
    assert_eq!(second, ("2".to_owned(), "two".to_owned()));
    let lines = lines.lock().expect("lines").clone();
    (after_the_end, lines)
}

#[tokio::test]
async fn buffering_holds_every_event_until_the_stream_ends() {
    within_20s(async {
        for fault in [None, Some(Fault::Buffer)] {
            let config = ClientConfig::default();
            let (held, _) = event_1_waits_for_the_end(fault, config).await;
            // Straight, event 1 arrives while the stream is open; buffered, only once the
            // server has ended it, together with everything after it.
            assert_eq!(held, fault.is_some(), "{fault:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn compression_without_flushing_holds_small_events_until_the_stream_ends() {
    within_20s(async {
        for fault in [None, Some(Fault::NoFlushGzip)] {
            let config = ClientConfig {
                accept_gzip: true,
                ..ClientConfig::default()
            };
            let (held, lines) = event_1_waits_for_the_end(fault, config).await;
            // Compressed without a flush, event 1 stays in the compressor (a block needs far
            // more than its 18 bytes), and the client decodes it, with event 2, from the last
            // block and the gzip trailer that the stream's end lets out.
            assert_eq!(held, fault.is_some(), "{fault:?}");
            let compressed = lines
                .iter()
                .any(|line| line.contains("fault: Content-Encoding: gzip added"));
            assert_eq!(compressed, fault.is_some(), "{lines:#?}");
        }
    })
    .await;
}

#[tokio::test]
async fn buffering_holds_the_101_and_the_websocket_handshake_times_out() {
    within_20s(async {
        let server = ws_server(|ws| async move {
            let (_receiver, _sender) = ws.split();
            tokio::time::sleep(Duration::from_secs(5)).await;
        })
        .await;
        let addr = tap(server, Some(Fault::Buffer)).await;
        let mut options = ClientOptions::default();
        options.config.timeouts.handshake = Duration::from_millis(500);
        let Err(error) = websocket::io::connect_with(&format!("ws://{addr}/"), &options).await
        else {
            panic!("no 101 comes through a buffering proxy");
        };
        assert!(
            matches!(error, websocket::Error::HandshakeIncomplete),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_204_stops_event_source_for_good_and_so_does_a_503() {
    within_20s(async {
        // Nothing listens upstream: the tap answers by itself.
        let nowhere = unused_addr().await;
        for status in [204, 503] {
            let mut client = event_source(tap(nowhere, Some(Fault::Answer(status))).await);
            let mut events = Vec::new();
            while let Some(event) = client.next().await {
                events.push(event);
            }
            // One answer, no reconnection: the client closes for good (HTML §9.2.3).
            assert_eq!(events.len(), 1, "{events:?}");
            assert!(
                matches!(
                    (status, &events[0]),
                    (204, ClientEvent::Closed(CloseReason::NoContent))
                        | (503, ClientEvent::Closed(CloseReason::Status(503)))
                ),
                "{status}: {events:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_204_or_503_fails_the_websocket_handshake_with_its_status() {
    within_20s(async {
        let nowhere = unused_addr().await;
        for status in [204, 503] {
            let addr = tap(nowhere, Some(Fault::Answer(status))).await;
            let Err(error) = websocket::io::connect(&format!("ws://{addr}/")).await else {
                panic!("not a 101");
            };
            assert!(
                matches!(error, websocket::Error::UnexpectedStatus(s) if s == status),
                "{error:?}"
            );
        }
    })
    .await;
}

// ANCHOR: test_cut_mid
#[tokio::test]
async fn a_cut_mid_event_loses_the_partial_event_and_the_reconnection_resumes() {
    within_20s(async {
        let (server, mut streams) = sse_server().await;
        let mut client = event_source(tap(server, Some(Fault::CutMid)).await);
        let received = Arc::new(Notify::new());
        let waiter = received.clone();
        let resumed_from = tokio::spawn(async move {
            let mut first = streams.recv().await.expect("a connection");
            first
                .socket
                .write_all(b"id: 1\ndata: one\n\n")
                .await
                .expect("write");
            waiter.notified().await;
            // One write, one read at the tap: the tap passes half of it on and cuts.
            let two = b"id: 2\ndata: two, which the cut splits in the middle\n\n";
            let _ = first.socket.write_all(two).await;
            let mut second = streams.recv().await.expect("a reconnection");
            second.socket.write_all(two).await.expect("write");
            second.last_event_id
        });
        let mut seen = Vec::new();
        assert_eq!(next_message(&mut client, &mut seen).await.0, "1");
        received.notify_one();
        let (id, data) = next_message(&mut client, &mut seen).await;
        // The half of event 2 before the cut was never dispatched: the next message is all
        // of event 2, from a reconnection that said where the client was.
        assert_eq!(id, "2");
        assert_eq!(data, "two, which the cut splits in the middle");
        assert_eq!(seen, ["end of stream"]);
        let resumed_from = resumed_from.await.expect("server");
        assert_eq!(resumed_from.as_deref(), Some("1"));
    })
    .await;
}
// ANCHOR_END: test_cut_mid

#[tokio::test]
async fn a_cut_mid_frame_is_reported_as_1006() {
    within_20s(async {
        let received = Arc::new(Notify::new());
        let waiter = received.clone();
        let server = ws_server(move |mut ws| {
            let waiter = waiter.clone();
            async move {
                let _ = ws.send(Message::Text("one".into())).await;
                waiter.notified().await;
                let _ = ws.send(Message::Text("two ".repeat(100))).await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        })
        .await;
        let addr = tap(server, Some(Fault::CutMid)).await;
        let (mut ws, _) = websocket::io::connect(&format!("ws://{addr}/"))
            .await
            .expect("connect");
        assert_eq!(
            ws.recv().await.expect("recv"),
            Some(Message::Text("one".into()))
        );
        received.notify_one();
        let error = ws.recv().await.expect_err("the cut, not a message");
        assert_eq!(error.close_code(), Some(1006), "{error:?}");
    })
    .await;
}

#[tokio::test]
async fn an_idle_cut_ends_a_quiet_stream_and_keep_alive_comments_prevent_it() {
    within_20s(async {
        let (server, mut streams) = sse_server().await;
        let mut client =
            event_source(tap(server, Some(Fault::IdleCut(Duration::from_secs(1)))).await);
        let resumed_from = tokio::spawn(async move {
            // Quiet after event 1: the tap cuts it.
            let mut quiet = streams.recv().await.expect("a connection");
            quiet
                .socket
                .write_all(b"id: 1\ndata: one\n\n")
                .await
                .expect("write");
            // Comments every 100 ms for 2.5 s, far under the tap's 1 s: it keeps it open.
            let mut kept = streams.recv().await.expect("a reconnection");
            for _ in 0..25 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                kept.socket
                    .write_all(b": keep-alive\n\n")
                    .await
                    .expect("write");
            }
            kept.socket
                .write_all(b"id: 2\ndata: two\n\n")
                .await
                .expect("write");
            (quiet.last_event_id, kept.last_event_id)
        });
        let mut seen = Vec::new();
        assert_eq!(next_message(&mut client, &mut seen).await.0, "1");
        assert_eq!(next_message(&mut client, &mut seen).await.0, "2");
        // One cut: the quiet connection's. The one with comments lasted past the idle time.
        assert_eq!(seen, ["end of stream"]);
        client.close();
        let ids = resumed_from.await.expect("server");
        assert_eq!(ids, (None, Some("1".to_owned())));
    })
    .await;
}

#[tokio::test]
async fn an_idle_cut_ends_a_quiet_websocket_and_pings_prevent_it() {
    within_20s(async {
        for ping_interval in [None, Some(Duration::from_millis(100))] {
            let server = ws_server_with(ping_interval, |mut ws| async move {
                // 2.5 s of quiet (but for the keep-alive Pings), then one message.
                let quiet = tokio::time::sleep(Duration::from_millis(2500));
                tokio::pin!(quiet);
                // `recv` is where keep-alive runs, so the server waits in it.
                loop {
                    tokio::select! {
                        () = &mut quiet => break,
                        message = ws.recv() => if !matches!(message, Ok(Some(_))) { return },
                    }
                }
                let _ = ws.send(Message::Text("still here".into())).await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            })
            .await;
            let addr = tap(server, Some(Fault::IdleCut(Duration::from_secs(1)))).await;
            let (mut ws, _) = websocket::io::connect(&format!("ws://{addr}/"))
                .await
                .expect("connect");
            // The client answers each Ping as `recv` returns it; the first other thing counts.
            let got = loop {
                match ws.recv().await {
                    Ok(Some(Message::Ping(_))) => {}
                    other => break other,
                }
            };
            match ping_interval {
                // Nothing crossed for 1 s: cut, and reported as 1006.
                None => {
                    let error = got.expect_err("cut while quiet");
                    assert_eq!(error.close_code(), Some(1006), "{error:?}");
                }
                // The Pings and the client's Pongs crossed every 100 ms.
                Some(_) => assert_eq!(
                    got.expect("kept open"),
                    Some(Message::Text("still here".into()))
                ),
            }
        }
    })
    .await;
}

/// A WebSocket server running `session` on each connection.
async fn ws_server<F, Fut>(session: F) -> SocketAddr
where
    F: Fn(websocket::io::WebSocket<TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    ws_server_with(None, session).await
}

/// [`ws_server`], sending keep-alive Pings every `ping_interval`.
async fn ws_server_with<F, Fut>(ping_interval: Option<Duration>, session: F) -> SocketAddr
where
    F: Fn(websocket::io::WebSocket<TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let session = Arc::new(session);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let session = session.clone();
            tokio::spawn(async move {
                let mut options = websocket::handshake::ServerOptions::default();
                options.config.timeouts.ping_interval = ping_interval;
                if let Ok((ws, _)) = websocket::io::accept(socket, &options).await {
                    session(ws).await;
                }
            });
        }
    });
    addr
}

/// An address nothing listens on: bound, then let go.
async fn unused_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr")
}
