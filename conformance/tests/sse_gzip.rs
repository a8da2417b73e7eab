//! gzip on an event stream, end to end: the hyper helper compresses only when asked to and
//! when the client accepts gzip, and the client that offered gzip decodes each event as soon
//! as the server has written it (the events are flushed one by one: the client reads event N
//! before the server writes event N + 1).
//!
//! Run: `cargo test -p wirelab-conformance --test sse_gzip`

mod sse_support;

use std::sync::Mutex;

use sse::Event;
use sse::client::{Client, ClientConfig, ClientEvent};
use sse::gzip::StreamEncoding;
use sse::server::{self, ServerConfig};
use sse_support::{guarded, serve};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A server whose one stream sends what the test puts in the channel, encoded as `encoding`
/// allows.
async fn server_with(
    encoding: StreamEncoding,
) -> (sse_support::TestServer, tokio::sync::mpsc::Sender<Event>) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(1);
    let rx = Mutex::new(Some(rx));
    let server = serve(move |request| {
        let events = server::ReceiverStream(rx.lock().expect("lock").take().expect("one"));
        let config = ServerConfig {
            keep_alive: None,
            ..ServerConfig::default()
        };
        server::response_for(&request, events, config, encoding)
            .map(http_body_util::BodyExt::boxed_unsync)
    })
    .await;
    (server, tx)
}

/// The response head a raw request with `accept_encoding` gets, lowercased.
async fn head(addr: std::net::SocketAddr, accept_encoding: &str) -> String {
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET / HTTP/1.1\r\nHost: x\r\n{accept_encoding}\r\n");
    socket.write_all(request.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        socket.read_exact(&mut byte).await.expect("a head");
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).to_ascii_lowercase()
}

#[tokio::test]
async fn gzip_only_when_enabled_and_accepted() {
    for (encoding, accept, gzip) in [
        (StreamEncoding::Gzip, "Accept-Encoding: gzip, br\r\n", true),
        (StreamEncoding::Gzip, "Accept-Encoding: gzip;q=0\r\n", false),
        (StreamEncoding::Gzip, "", false),
        (StreamEncoding::Identity, "Accept-Encoding: gzip\r\n", false),
    ] {
        let (server, _tx) = server_with(encoding).await;
        let head = guarded(head(server.addr, accept)).await;
        assert_eq!(
            head.contains("content-encoding: gzip"),
            gzip,
            "{accept:?}: {head}"
        );
        assert!(head.contains("vary: accept-encoding"), "{head}");
    }
}

#[tokio::test]
async fn a_gzip_client_gets_each_event_before_the_next_is_written() {
    let (server, tx) = server_with(StreamEncoding::Gzip).await;
    let config = ClientConfig {
        accept_gzip: true,
        ..ClientConfig::default()
    };
    let mut client = Client::new(&server.url("/"), config).expect("url");
    guarded(async {
        assert!(matches!(client.next().await, Some(ClientEvent::Open)));
        for n in 0..20 {
            let data = format!("{{\"tick\":{n},\"price\":\"101.25\"}}");
            tx.send(Event::new().data(data.clone()))
                .await
                .expect("open");
            match client.next().await {
                Some(ClientEvent::Message(m)) => assert_eq!(m.data, data),
                other => panic!("event {n}: {other:?}"),
            }
        }
    })
    .await;
}
