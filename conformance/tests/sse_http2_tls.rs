//! Event streams over HTTP/2 and TLS, on loopback: the examples' server (clear-text HTTP/2 by
//! the connection preface, TLS with ALPN) and the `sse` client (its `Connector`), with the
//! server's per-connection records showing what carried each stream; and the bad inputs of
//! that transport: plain HTTP to the TLS port, an untrusted certificate, a client with no
//! ALPN, a stream reset in the middle of an event. Python's `h2` package is an independent
//! HTTP/2 peer (`conformance/peers/sse_h2_client.py`): it reads several event streams on one
//! connection, over h2c and over TLS with ALPN `h2`.
//!
//! Run: `WIRELAB_PYTHON=target/peers/venv/bin/python cargo test -p wirelab-conformance --test
//! sse_http2_tls` (the venv `scripts/test` makes; without it the Python tests say `skipped`).

mod sse_support;

use std::convert::Infallible;
use std::future::Future as _;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use http::{Request, Response, Version};
use hyper::body::{Body, Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use serde_json::Value;
use sse::client::{Client, ClientConfig, ClientEvent, CloseReason, Connector, tls_config};
use sse::{Event, MessageEvent};
use sse_support::{fast, guarded};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;
use tokio::sync::oneshot;
use wirelab_conformance::{Peer, require, workspace_root};
use wirelab_examples::server::tls::{ALPN_H2_HTTP1, ALPN_HTTP1_ONLY, DevCert};
use wirelab_examples::server::{self, Conn, ConnStats, Server};

/// Events, then nothing: the stream stays open, as a live feed between events.
struct ThenWait(std::vec::IntoIter<Event>);

impl Stream for ThenWait {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Event>> {
        match self.0.next() {
            Some(event) => Poll::Ready(Some(event)),
            None => Poll::Pending,
        }
    }
}

/// The examples' server answering every request with one event, `id: 1`, whose data is the
/// request's path; over TLS with `tls` when given.
async fn spawn_server(tls: Option<(&DevCert, &[&[u8]])>) -> (SocketAddr, Server) {
    let server = Server::new();
    if let Some((dev, alpn)) = tls {
        server.use_tls(dev.identity.acceptor(alpn).expect("acceptor"));
    }
    let handler = server::handler(|request: server::Request, conn: Conn| async move {
        let event = Event::new().id("1").expect("id").data(request.uri().path());
        server::sse(&conn, ThenWait(vec![event].into_iter()), None)
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(server::serve(listener, server.clone(), handler));
    (addr, server)
}

/// The development certificate as a client's root.
fn root(dev: &DevCert) -> Vec<CertificateDer<'static>> {
    vec![CertificateDer::from_pem_slice(dev.cert_pem.as_bytes()).expect("PEM")]
}

fn config(connector: Connector) -> ClientConfig {
    ClientConfig {
        connector,
        ..fast()
    }
}

/// The client's next message; anything but `Open`, a comment or a retry before it fails.
async fn message(client: &mut Client) -> MessageEvent {
    loop {
        match guarded(client.next())
            .await
            .expect("the client is not closed")
        {
            ClientEvent::Message(message) => return message,
            ClientEvent::Open | ClientEvent::Comment(_) | ClientEvent::Retry(_) => {}
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

/// The server's connections that carried a request.
fn used(server: &Server) -> Vec<ConnStats> {
    server
        .connections()
        .into_iter()
        .filter(|c| c.requests > 0)
        .collect()
}

#[tokio::test]
async fn an_event_stream_over_clear_text_http2() {
    let (addr, server) = spawn_server(None).await;
    let connector = Connector::new().with_http2_prior_knowledge();
    let mut client = Client::new(&format!("http://{addr}/h2c"), config(connector)).expect("url");
    let event = message(&mut client).await;
    assert_eq!((&*event.data, &*event.last_event_id), ("/h2c", "1"));
    assert_eq!(client.http_version(), Some(Version::HTTP_2));
    let conns = used(&server);
    assert_eq!(conns.len(), 1);
    let protocol = conns[0].protocol.clone().expect("protocol");
    assert_eq!((protocol.tls, protocol.version), (false, Version::HTTP_2));
}

#[tokio::test]
async fn an_event_stream_over_tls_with_alpn_h2() {
    let dev = DevCert::generate().expect("certificate");
    let (addr, server) = spawn_server(Some((&dev, ALPN_H2_HTTP1))).await;
    let connector = Connector::new().with_tls(tls_config(root(&dev)).expect("roots"));
    // The certificate names localhost and 127.0.0.1: both verify.
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("https://{host}:{}/tls", addr.port());
        let mut client = Client::new(&url, config(connector.clone())).expect("url");
        assert_eq!(message(&mut client).await.data, "/tls");
        assert_eq!(client.http_version(), Some(Version::HTTP_2));
    }
    let protocol = used(&server)[0].protocol.clone().expect("protocol");
    assert!(protocol.tls);
    assert_eq!(protocol.alpn.as_deref(), Some("h2"));
    assert_eq!(protocol.version, Version::HTTP_2);
}

#[tokio::test]
async fn an_event_stream_over_tls_with_alpn_http1_when_the_server_picks_it() {
    let dev = DevCert::generate().expect("certificate");
    let (addr, server) = spawn_server(Some((&dev, ALPN_HTTP1_ONLY))).await;
    let connector = Connector::new().with_tls(tls_config(root(&dev)).expect("roots"));
    let url = format!("https://127.0.0.1:{}/one", addr.port());
    let mut client = Client::new(&url, config(connector)).expect("url");
    assert_eq!(message(&mut client).await.data, "/one");
    assert_eq!(client.http_version(), Some(Version::HTTP_11));
    let protocol = used(&server)[0].protocol.clone().expect("protocol");
    assert_eq!(protocol.alpn.as_deref(), Some("http/1.1"));
    assert_eq!(protocol.version, Version::HTTP_11);
}

// ANCHOR: one_connection
#[tokio::test]
async fn several_streams_share_one_http2_connection() {
    const STREAMS: usize = 5;
    let dev = DevCert::generate().expect("certificate");
    let (addr, server) = spawn_server(Some((&dev, ALPN_H2_HTTP1))).await;
    let connector = Connector::new().with_tls(tls_config(root(&dev)).expect("roots"));
    let mut clients = Vec::new();
    for n in 0..STREAMS {
        let url = format!("https://127.0.0.1:{}/stream/{n}", addr.port());
        clients.push(Client::new(&url, config(connector.clone())).expect("url"));
    }
    // Every stream is open at once: each has its event while the others still run.
    for (n, client) in clients.iter_mut().enumerate() {
        assert_eq!(message(client).await.data, format!("/stream/{n}"));
    }
    assert_eq!(connector.tcp_connections(), 1);
    let conns = used(&server);
    assert_eq!(conns.len(), 1, "{conns:?}");
    assert_eq!(conns[0].requests, STREAMS as u64);
    assert!(conns[0].open);
}
// ANCHOR_END: one_connection

#[tokio::test]
async fn over_http1_each_stream_needs_its_own_connection() {
    let (addr, server) = spawn_server(None).await;
    let connector = Connector::new();
    let mut clients = Vec::new();
    for n in 0..3 {
        let url = format!("http://{addr}/stream/{n}");
        clients.push(Client::new(&url, config(connector.clone())).expect("url"));
    }
    for client in &mut clients {
        message(client).await;
        assert_eq!(client.http_version(), Some(Version::HTTP_11));
    }
    assert_eq!(connector.tcp_connections(), 3);
    assert!(used(&server).iter().all(|c| c.requests == 1));
}

#[tokio::test]
async fn plain_http_to_the_tls_port_gets_a_clear_400() {
    let dev = DevCert::generate().expect("certificate");
    let (addr, server) = spawn_server(Some((&dev, ALPN_H2_HTTP1))).await;
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    guarded(tcp.read_to_string(&mut answer))
        .await
        .expect("read");
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("use https://"), "{answer}");
    // Bytes that are neither TLS nor HTTP: the connection just ends.
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(&[0, 1, 2, 3]).await.expect("write");
    let mut rest = Vec::new();
    let read = guarded(tcp.read_to_end(&mut rest)).await;
    assert!(read.is_err() || rest.is_empty(), "{rest:?}");
    // The server goes on serving TLS.
    let connector = Connector::new().with_tls(tls_config(root(&dev)).expect("roots"));
    let url = format!("https://127.0.0.1:{}/after", addr.port());
    let mut client = Client::new(&url, config(connector)).expect("url");
    assert_eq!(message(&mut client).await.data, "/after");
    assert!(server.connections().iter().all(|c| c.requests <= 1));
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_closes_with_the_reason() {
    let dev = DevCert::generate().expect("certificate");
    let other = DevCert::generate().expect("certificate");
    let (addr, server) = spawn_server(Some((&dev, ALPN_H2_HTTP1))).await;
    // Trusting another development certificate (and the system's roots) is not trusting
    // this one.
    let connector = Connector::new().with_tls(tls_config(root(&other)).expect("roots"));
    let url = format!("https://127.0.0.1:{}/distrust", addr.port());
    let mut client = Client::new(&url, config(connector.clone())).expect("url");
    match guarded(client.next()).await {
        Some(ClientEvent::Closed(CloseReason::Tls(sse::Error::Tls(e)))) => {
            assert!(e.to_string().contains("certificate"), "{e}");
        }
        other => panic!("expected a TLS close, got {other:?}"),
    }
    // Closed for good, once: no reconnection loop against a certificate that stays wrong.
    assert!(guarded(client.next()).await.is_none());
    assert_eq!(connector.tcp_connections(), 1);
    assert!(used(&server).is_empty());
}

#[tokio::test]
async fn a_client_that_offers_no_alpn_is_served_http1() {
    let dev = DevCert::generate().expect("certificate");
    let (addr, server) = spawn_server(Some((&dev, ALPN_H2_HTTP1))).await;
    let mut no_alpn = (*tls_config(root(&dev)).expect("roots")).clone();
    no_alpn.alpn_protocols.clear();
    let connector = Connector::new().with_tls(Arc::new(no_alpn));
    let url = format!("https://127.0.0.1:{}/no-alpn", addr.port());
    let mut client = Client::new(&url, config(connector)).expect("url");
    assert_eq!(message(&mut client).await.data, "/no-alpn");
    assert_eq!(client.http_version(), Some(Version::HTTP_11));
    let protocol = used(&server)[0].protocol.clone().expect("protocol");
    assert_eq!((protocol.tls, protocol.alpn), (true, None));
    assert_eq!(protocol.version, Version::HTTP_11);
}

/// A body that sends its pieces, then fails when `reset` fires (or waits for ever without
/// one): a failing body is how hyper's HTTP/2 server is made to reset a stream (`RST_STREAM`),
/// keeping the connection.
struct ThenReset {
    pieces: Vec<&'static str>,
    reset: Option<oneshot::Receiver<()>>,
}

impl Body for ThenReset {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if !self.pieces.is_empty() {
            let piece = self.pieces.remove(0);
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(piece.as_bytes())))));
        }
        match self.reset.as_mut() {
            Some(reset) => {
                let _ = std::task::ready!(Pin::new(reset).poll(cx));
                Poll::Ready(Some(Err(std::io::Error::other("reset"))))
            }
            None => Poll::Pending,
        }
    }
}

// ANCHOR: reset
#[tokio::test]
async fn a_stream_reset_mid_event_is_a_network_error_and_the_client_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    let (reset, on_reset) = oneshot::channel();
    let on_reset = Arc::new(Mutex::new(Some(on_reset)));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let seen = seen.clone();
            let on_reset = on_reset.clone();
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let n = seen.fetch_add(1, Ordering::Relaxed);
                let last = sse::server::last_event_id(&request)
                    .unwrap_or("")
                    .to_owned();
                // The first stream stops in the middle of its second event; the second says
                // which Last-Event-ID it was asked to resume from.
                let pieces = if n == 0 {
                    vec!["id: 1\ndata: one\n\n", "id: 2\ndata: tw"]
                } else {
                    vec![if last == "1" {
                        "data: resumed after 1\n\n"
                    } else {
                        "data: ?\n\n"
                    }]
                };
                let reset = on_reset.lock().expect("lock").take();
                let response = Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(ThenReset { pieces, reset })
                    .expect("response");
                async move { Ok::<_, Infallible>(response) }
            });
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), service),
            );
        }
    });
    let connector = Connector::new().with_http2_prior_knowledge();
    let mut client =
        Client::new(&format!("http://{addr}/reset"), config(connector.clone())).expect("url");
    assert_eq!(message(&mut client).await.data, "one");
    reset.send(()).expect("the first stream waits");
    loop {
        match guarded(client.next()).await.expect("not closed") {
            ClientEvent::Reconnecting {
                reason,
                last_event_id,
                ..
            } => {
                assert!(
                    matches!(reason, sse::client::Disconnect::Network(_)),
                    "{reason}"
                );
                // The cut event was not dispatched, and its id not kept (HTML §9.2.6).
                assert_eq!(last_event_id, "1");
                break;
            }
            ClientEvent::Message(m) => panic!("the cut event was dispatched: {m:?}"),
            _ => {}
        }
    }
    assert_eq!(message(&mut client).await.data, "resumed after 1");
    // A reset ends one stream, not the connection: the reconnection used the same one.
    assert_eq!(connector.tcp_connections(), 1);
    assert_eq!(requests.load(Ordering::Relaxed), 2);
}
// ANCHOR_END: reset

#[tokio::test]
async fn the_sse_response_over_http2_has_no_connection_specific_fields() {
    let (addr, _server) = spawn_server(None).await;
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    let request = Request::get(format!("http://{addr}/fields"))
        .body(http_body_util::Empty::<Bytes>::new())
        .expect("request");
    let response = guarded(sender.send_request(request))
        .await
        .expect("response");
    assert_eq!(response.version(), Version::HTTP_2);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    // RFC 9113 §8.2.2: a message with a connection-specific field is malformed. (The h2
    // client would refuse such a response; this says which fields they are.)
    for name in [
        "connection",
        "transfer-encoding",
        "keep-alive",
        "upgrade",
        "proxy-connection",
    ] {
        assert!(!headers.contains_key(name), "{name}");
    }
    let mut body = response.into_body();
    let frame = guarded(http_body_util::BodyExt::frame(&mut body))
        .await
        .expect("a frame")
        .expect("data");
    assert_eq!(frame.into_data().expect("data"), "id: 1\ndata: /fields\n\n");
}

/// Runs `conformance/peers/sse_h2_client.py` (Python's `h2`) against `url`: `streams`
/// concurrent requests on one connection, each read to `events` events. `None` when Python
/// is missing (and peers are not required).
async fn python_h2(test: &str, url: &str, streams: usize, ca: Option<&Path>) -> Option<Value> {
    let python = require(Peer::Python, test)?;
    let script = workspace_root().join("conformance/peers/sse_h2_client.py");
    let mut command = Command::new(python);
    command
        .arg(script)
        .arg(url)
        .arg(streams.to_string())
        .arg("2")
        .kill_on_drop(true);
    if let Some(ca) = ca {
        command.arg(ca);
    }
    let output = guarded(command.output()).await.expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    Some(serde_json::from_str(&stdout).expect("one JSON object"))
}

/// The server of the Python tests: two events per stream, then an open stream.
async fn spawn_two_event_server(tls: Option<&DevCert>) -> (SocketAddr, Server) {
    let server = Server::new();
    if let Some(dev) = tls {
        server.use_tls(dev.identity.acceptor(ALPN_H2_HTTP1).expect("acceptor"));
    }
    let handler = server::handler(|_: server::Request, conn: Conn| async move {
        let events = vec![
            Event::new().id("1").expect("id").data("one"),
            Event::new()
                .event("update")
                .expect("type")
                .data("two\nlines"),
        ];
        server::sse(&conn, ThenWait(events.into_iter()), None)
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(server::serve(listener, server.clone(), handler));
    (addr, server)
}

/// What the Python peer saw on each stream: the right fields, and the events as sent.
fn check_python_streams(report: &Value, streams: usize) {
    // SETTINGS_ENABLE_CONNECT_PROTOCOL (0x8) = 1 (RFC 8441 §3), as an independent peer reads it.
    assert_eq!(report["settings"]["8"], 1, "{report}");
    let seen = report["streams"].as_array().expect("streams");
    assert_eq!(seen.len(), streams);
    for stream in seen {
        assert_eq!(stream["headers"][":status"], "200", "{stream}");
        assert_eq!(stream["headers"]["content-type"], "text/event-stream");
        // The two events were ready together, and over HTTP/2 the server sends what is ready
        // together in one DATA frame (`server::sse`).
        assert_eq!(stream["data_frames"], 1, "{stream}");
        let body = stream["body"].as_str().expect("body");
        let (items, error) = sse::parser::parse_all(body.as_bytes(), Default::default());
        assert!(error.is_none());
        let events: Vec<_> = items
            .into_iter()
            .filter_map(|item| match item {
                sse::Item::Event(e) => Some((e.event_type, e.data, e.last_event_id.to_string())),
                _ => None,
            })
            .collect();
        let expected = [
            ("message".to_owned(), "one".to_owned(), "1".to_owned()),
            ("update".to_owned(), "two\nlines".to_owned(), "1".to_owned()),
        ];
        assert_eq!(events, expected);
    }
}

#[tokio::test]
async fn python_h2_reads_event_streams_over_h2c() {
    let test = "sse_http2_tls::python_h2_reads_event_streams_over_h2c";
    let (addr, server) = spawn_two_event_server(None).await;
    let Some(report) = python_h2(test, &format!("http://{addr}/events"), 3, None).await else {
        return;
    };
    check_python_streams(&report, 3);
    let conns = used(&server);
    assert_eq!(conns.len(), 1, "{conns:?}");
    assert_eq!(conns[0].requests, 3);
    let protocol = conns[0].protocol.clone().expect("protocol");
    assert_eq!((protocol.tls, protocol.version), (false, Version::HTTP_2));
}

#[tokio::test]
async fn python_h2_reads_event_streams_over_tls_with_alpn_h2() {
    let test = "sse_http2_tls::python_h2_reads_event_streams_over_tls_with_alpn_h2";
    let dev = DevCert::generate().expect("certificate");
    let ca = std::env::temp_dir().join(format!("wirelab-h2-peer-{}.pem", std::process::id()));
    dev.write_cert(&ca).expect("write the certificate");
    let (addr, server) = spawn_two_event_server(Some(&dev)).await;
    let url = format!("https://localhost:{}/events", addr.port());
    let report = python_h2(test, &url, 2, Some(&ca)).await;
    let _ = std::fs::remove_file(&ca);
    let Some(report) = report else {
        return;
    };
    assert_eq!(report["alpn"], "h2");
    check_python_streams(&report, 2);
    let conns = used(&server);
    assert_eq!(conns.len(), 1, "{conns:?}");
    assert_eq!(conns[0].requests, 2);
    assert_eq!(
        conns[0].protocol.clone().and_then(|p| p.alpn).as_deref(),
        Some("h2")
    );
}

/// The one connection of `server` that carried a request: its bytes written so far.
fn written(server: &Server) -> u64 {
    let conns = used(server);
    assert_eq!(conns.len(), 1, "{conns:?}");
    conns[0].written
}

/// The bytes the server writes for one 13-byte event (`data: hello\n\n`) on an open stream, over
/// the transport that `tls` and `connector` make.
async fn bytes_of_one_event(tls: Option<(&DevCert, &[&[u8]])>, connector: Connector) -> u64 {
    let (events, receiver) = tokio::sync::mpsc::channel(4);
    let receiver = Arc::new(Mutex::new(Some(receiver)));
    let server = Server::new();
    if let Some((dev, alpn)) = tls {
        server.use_tls(dev.identity.acceptor(alpn).expect("acceptor"));
    }
    let handler = server::handler(move |_: server::Request, conn: Conn| {
        let receiver = receiver.lock().expect("lock").take().expect("one request");
        async move { server::sse(&conn, server::channel_stream(receiver), None) }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(server::serve(listener, server.clone(), handler));
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://127.0.0.1:{}/push", addr.port());
    let mut client = Client::new(&url, config(connector)).expect("url");
    assert!(matches!(
        guarded(client.next()).await,
        Some(ClientEvent::Open)
    ));
    // The head is out and nothing else is queued: what is written next is the event alone.
    let before = written(&server);
    events
        .send(Event::new().data("hello"))
        .await
        .expect("the stream is open");
    assert_eq!(message(&mut client).await.data, "hello");
    written(&server) - before
}

// ANCHOR: event_bytes
/// What one event costs on the wire, by transport: its 13 bytes, plus HTTP/1.1's chunk
/// framing (`d\r\n` before, `\r\n` after: 5 bytes), or HTTP/2's DATA frame header (9 bytes),
/// plus, over TLS 1.3, one record's 22 bytes (a 5-byte header, the 1-byte inner content type
/// and a 16-byte AEAD tag). Printed by
/// `cargo test -p wirelab-conformance --test sse_http2_tls bytes -- --nocapture`.
#[tokio::test]
async fn bytes_of_one_event_by_transport() {
    let dev = DevCert::generate().expect("certificate");
    let trusting = || Connector::new().with_tls(tls_config(root(&dev)).expect("roots"));
    let costs = [
        ("HTTP/1.1", bytes_of_one_event(None, Connector::new()).await),
        (
            "HTTP/2 (h2c)",
            bytes_of_one_event(None, Connector::new().with_http2_prior_knowledge()).await,
        ),
        (
            "HTTP/1.1 + TLS",
            bytes_of_one_event(Some((&dev, ALPN_HTTP1_ONLY)), trusting()).await,
        ),
        (
            "HTTP/2 + TLS",
            bytes_of_one_event(Some((&dev, ALPN_H2_HTTP1)), trusting()).await,
        ),
    ];
    for (transport, bytes) in costs {
        println!("{transport:>16}: 13-byte event, {bytes} bytes written");
    }
    let expected = [13 + 5, 13 + 9, 13 + 5 + 22, 13 + 9 + 22];
    assert_eq!(costs.map(|(_, bytes)| bytes), expected);
}
// ANCHOR_END: event_bytes

/// The bytes the server writes for the response heads of two event streams, one after the
/// other on one warmed-up connection (a plain request went first), in `version`.
async fn two_response_heads(version: Version) -> (u64, u64) {
    let server = Server::new();
    let handler = server::handler(|request: server::Request, conn: Conn| async move {
        if request.uri().path() == "/plain" {
            return server::full(http::StatusCode::OK, "text/plain", "ok");
        }
        server::sse(&conn, ThenWait(Vec::new().into_iter()), None)
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(server::serve(listener, server.clone(), handler));
    let connect = || async { TokioIo::new(TcpStream::connect(addr).await.expect("connect")) };
    let request = |path: &str| {
        let uri = format!("http://{addr}{path}");
        let builder = Request::get(uri).header("accept", "text/event-stream");
        let builder = if version == Version::HTTP_11 {
            builder.header("host", addr.to_string())
        } else {
            builder
        };
        builder
            .body(http_body_util::Empty::<Bytes>::new())
            .expect("request")
    };
    let mut heads = Vec::new();
    // The streams stay open until the heads are counted.
    let mut bodies = Vec::new();
    if version == Version::HTTP_2 {
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), connect().await)
                .await
                .expect("handshake");
        tokio::spawn(connection);
        let plain = guarded(sender.send_request(request("/plain"))).await;
        let body = plain.expect("response").into_body();
        guarded(http_body_util::BodyExt::collect(body))
            .await
            .expect("body");
        for _ in 0..2 {
            let before = written(&server);
            let response = guarded(sender.send_request(request("/events"))).await;
            heads.push(written(&server) - before);
            bodies.push(response.expect("response"));
        }
    } else {
        // HTTP/1.1 carries one stream at a time: each stream on a connection of its own.
        for _ in 0..2 {
            let (mut sender, connection) = hyper::client::conn::http1::handshake(connect().await)
                .await
                .expect("handshake");
            tokio::spawn(connection);
            let response = guarded(sender.send_request(request("/events"))).await;
            let last = server.connections().last().expect("connection").written;
            heads.push(last);
            bodies.push(response.expect("response"));
        }
    }
    (heads[0], heads[1])
}

// ANCHOR: head_bytes
/// What an event stream's response head costs: over HTTP/1.1 the same text each time; over
/// HTTP/2 the first head of a connection fills HPACK's dynamic table (RFC 7541 §2.3.2) and a
/// repeated one refers to its entries with a byte or so each. Printed by
/// `cargo test -p wirelab-conformance --test sse_http2_tls heads -- --nocapture`.
#[tokio::test]
async fn response_heads_by_transport() {
    let (first, again) = two_response_heads(Version::HTTP_11).await;
    println!("HTTP/1.1 event-stream response head: {first} bytes, then {again} bytes");
    assert_eq!(first, again);
    let (first, again) = two_response_heads(Version::HTTP_2).await;
    println!("HTTP/2 event-stream response head: {first} bytes, then {again} bytes");
    assert!(again < first / 2, "{first} then {again}");
}
// ANCHOR_END: head_bytes
