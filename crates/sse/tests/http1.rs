//! The hand-written HTTP/1.1 path (`sse::http1`) over real 127.0.0.1 sockets, in-memory
//! pipes and a recording writer: exact bytes, refusals, keep-alives, closes and coalescing.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http::StatusCode;
use proptest::prelude::*;
use sse::http1::{self, Http1Config};
use sse::shutdown::Shutdown;
use sse::streaming::{self, KEEP_ALIVE, ServerConfig};
use sse::{Event, Item, ParserConfig};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Every wait in these tests is bounded by this, so a bug fails instead of hanging.
const GUARD: Duration = Duration::from_secs(10);

const GET: &[u8] = b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";

/// The response head before its `Date` line (which `serve` appends last).
const HEAD_WITHOUT_DATE: &str = "HTTP/1.1 200 OK\r\n\
    Content-Type: text/event-stream\r\n\
    Cache-Control: no-cache\r\n\
    X-Accel-Buffering: no\r\n\
    Transfer-Encoding: chunked\r\n\
    Connection: close\r\n";

/// The events of an mpsc channel, as `Bytes`; ends when every sender is dropped.
struct Channel(mpsc::UnboundedReceiver<Bytes>);

impl Stream for Channel {
    type Item = Bytes;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.0.poll_recv(cx)
    }
}

fn channel() -> (mpsc::UnboundedSender<Bytes>, Channel) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, Channel(rx))
}

fn sample() -> Vec<Event> {
    let valid = |e: Result<Event, sse::Error>| e.expect("valid event");
    vec![
        Event::new().data("first"),
        valid(Event::new().data("multi\nline").id("1")),
        valid(Event::new().data("{\"json\": true}").event("update")),
        Event::new().retry(Duration::from_millis(1500)),
        Event::new().data("caf\u{e9} \u{2713}"),
    ]
}

/// Accepts one connection on 127.0.0.1, reads its request, and serves `events` to it.
async fn one_connection<E>(
    events: E,
    config: ServerConfig,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<Result<(), sse::Error>>,
)
where
    E: Stream<Item = Bytes> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await?;
        http1::read_request(&mut socket, &Http1Config::default()).await?;
        http1::serve(socket, events, config).await
    });
    (address, task)
}

/// One connection on 127.0.0.1 that is served the `sample()` events, then the end.
async fn serve_sample() -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<Result<(), sse::Error>>,
) {
    let (tx, events) = channel();
    for event in sample() {
        tx.send(Bytes::from(event.to_bytes())).expect("open");
    }
    drop(tx);
    one_connection(events, ServerConfig::default()).await
}

async fn read_to_end(socket: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(GUARD, socket.read_to_end(&mut out))
        .await
        .expect("the server closes in time")
        .expect("read");
    out
}

/// Splits a response at its empty line, checking that the head has one `Date` line last; returns
/// the head without it, and the body.
fn split_response(response: &[u8]) -> (String, &[u8]) {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head")
        + 4;
    let (head, body) = response.split_at(end);
    let head = String::from_utf8(head.to_vec()).expect("ASCII head");
    let head = head.strip_suffix("\r\n").expect("the empty line");
    let (without, date) = head.rsplit_once("Date: ").expect("a Date line");
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT\r\n".
    assert_eq!(date.len(), 31, "{date:?}");
    assert!(date.ends_with(" GMT\r\n"), "{date:?}");
    (without.to_owned(), body)
}

/// The chunks of a chunked body (RFC 9112 §7.1), strictly, and whether the last chunk came.
fn dechunk(mut body: &[u8]) -> (Vec<Vec<u8>>, bool) {
    let mut chunks = Vec::new();
    while !body.is_empty() {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk-size line");
        let size = std::str::from_utf8(&body[..line_end]).expect("hex digits");
        let size = usize::from_str_radix(size, 16).expect("a hex chunk size");
        body = &body[line_end + 2..];
        if size == 0 {
            assert_eq!(
                body, b"\r\n",
                "nothing but the final CRLF after the last chunk"
            );
            return (chunks, true);
        }
        chunks.push(body[..size].to_vec());
        assert_eq!(&body[size..size + 2], b"\r\n", "CRLF after chunk data");
        body = &body[size + 2..];
    }
    (chunks, false)
}

#[tokio::test]
async fn get_receives_the_head_then_one_chunk_per_event_then_the_last_chunk() {
    let (address, server) = serve_sample().await;
    let mut client = TcpStream::connect(address).await.expect("connect");
    client.write_all(GET).await.expect("write");
    let response = read_to_end(&mut client).await;
    let (head, body) = split_response(&response);
    assert_eq!(head, HEAD_WITHOUT_DATE);
    let (chunks, ended) = dechunk(body);
    assert!(ended, "the body ends with the last chunk");
    let expected: Vec<Vec<u8>> = sample().iter().map(Event::to_bytes).collect();
    assert_eq!(chunks, expected, "one chunk per event, in order");
    let mut exact = Vec::new();
    for event in &expected {
        exact.extend_from_slice(format!("{:x}\r\n", event.len()).as_bytes());
        exact.extend_from_slice(event);
        exact.extend_from_slice(b"\r\n");
    }
    exact.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(body, exact.as_slice());

    // De-chunked, the body parses to the events that were sent.
    let (items, error) = sse::parser::parse_all(&chunks.concat(), ParserConfig::default());
    assert!(error.is_none());
    let data: Vec<_> = items
        .iter()
        .filter_map(|item| match item {
            Item::Event(e) => Some((e.event_type.as_str(), e.data.as_str(), &*e.last_event_id)),
            _ => None,
        })
        .collect();
    assert_eq!(
        data,
        [
            ("message", "first", ""),
            ("message", "multi\nline", "1"),
            ("update", "{\"json\": true}", "1"),
            ("message", "caf\u{e9} \u{2713}", "1"),
        ]
    );
    assert!(items.contains(&Item::Retry(Duration::from_millis(1500))));
    let result = tokio::time::timeout(GUARD, server).await.expect("in time");
    assert!(matches!(result, Ok(Ok(()))), "{result:?}");
}

#[tokio::test]
async fn last_event_id_reaches_the_caller() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let request = http1::read_request(&mut socket, &Http1Config::default())
            .await
            .expect("a valid request");
        (
            request.uri().to_string(),
            streaming::last_event_id(&request).map(str::to_owned),
        )
    });
    let mut client = TcpStream::connect(address).await.expect("connect");
    client
        .write_all(b"GET /events?room=1 HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 42\r\n\r\n")
        .await
        .expect("write");
    let (uri, id) = tokio::time::timeout(GUARD, server)
        .await
        .expect("in time")
        .expect("no panic");
    assert_eq!(uri, "/events?room=1");
    assert_eq!(id.as_deref(), Some("42"));
}

/// Sends `request` to a fresh server, reads the whole answer, and checks that it is complete:
/// a status line, `Connection: close`, and a body of exactly `Content-Length` bytes. Returns
/// the status, the head, and the server's error.
async fn refused(request: &[u8], config: Http1Config) -> (u16, String, sse::Error) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        http1::read_request(&mut socket, &config).await
    });
    let mut client = TcpStream::connect(address).await.expect("connect");
    client.write_all(request).await.expect("write");
    let response = read_to_end(&mut client).await;
    drop(client);
    let error = tokio::time::timeout(GUARD, server)
        .await
        .expect("in time")
        .expect("no panic")
        .expect_err("refused");
    let text = String::from_utf8(response).expect("ASCII");
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
    let status: u16 = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|n| n.parse().ok())
        .expect("Content-Length");
    assert_eq!(body.len(), length, "the whole body: {text:?}");
    assert!(head.lines().any(|l| l == "Connection: close"), "{head}");
    match &error {
        sse::Error::RequestRejected { status: s, reason } => {
            assert_eq!(s.as_u16(), status);
            assert_eq!(body, format!("{reason}\n"));
        }
        other => panic!("not a refusal: {other:?}"),
    }
    (status, head.to_owned(), error)
}

#[tokio::test]
async fn malformed_head_is_answered_400() {
    let (status, ..) = refused(
        b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
        Http1Config::default(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, ..) = refused(b"GET / HTTP/1.1\r\n\r\n", Http1Config::default()).await;
    assert_eq!(status, 400, "no Host");
}

#[tokio::test]
async fn too_large_head_is_answered_431() {
    let mut request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 9000));
    request.extend_from_slice(b"\r\n\r\n");
    let (status, ..) = refused(&request, Http1Config::default()).await;
    assert_eq!(status, 431);
    let config = Http1Config {
        max_headers: 4,
        ..Http1Config::default()
    };
    let (status, ..) = refused(
        b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
        config,
    )
    .await;
    assert_eq!(status, 431, "too many headers");
}

#[tokio::test]
async fn other_methods_are_answered_405_with_allow_get() {
    for method in ["POST", "HEAD", "PUT", "OPTIONS"] {
        let request = format!("{method} /events HTTP/1.1\r\nHost: x\r\n\r\n");
        let (status, head, _) = refused(request.as_bytes(), Http1Config::default()).await;
        assert_eq!(status, 405, "{method}");
        assert!(head.lines().any(|l| l == "Allow: GET"), "{head}");
    }
}

// ANCHOR: test_http_1_0
#[tokio::test]
async fn http_1_0_gets_the_events_unchunked_until_the_close() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (tx, events) = channel();
    for event in sample() {
        tx.send(Bytes::from(event.to_bytes())).expect("open");
    }
    drop(tx);
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await?;
        let request = http1::read_request(&mut socket, &Http1Config::default()).await?;
        assert_eq!(request.version(), http::Version::HTTP_10);
        http1::serve_version(socket, request.version(), events, ServerConfig::default()).await
    });
    let mut socket = TcpStream::connect(address).await.expect("connect");
    socket
        .write_all(b"GET /events HTTP/1.0\r\n\r\n")
        .await
        .expect("write");
    let response = String::from_utf8(read_to_end(&mut socket).await).expect("UTF-8");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(!head.contains("Transfer-Encoding"), "{head}");
    let expected: String = sample()
        .iter()
        .map(|event| String::from_utf8(event.to_bytes()).expect("UTF-8"))
        .collect();
    assert_eq!(body, expected, "the events as they are, then the close");
    server.await.expect("join").expect("served");
}
// ANCHOR_END: test_http_1_0

#[tokio::test(start_paused = true)]
async fn an_incomplete_head_is_answered_408_after_the_timeout() {
    let (mut client, mut server_side) = tokio::io::duplex(1024);
    let start = tokio::time::Instant::now();
    let server = tokio::spawn(async move {
        http1::read_request(&mut server_side, &Http1Config::default()).await
    });
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let mut response = Vec::new();
    client.read_to_end(&mut response).await.expect("read");
    assert!(start.elapsed() >= Http1Config::default().head_timeout);
    assert!(response.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"));
    drop(client);
    let result = server.await.expect("no panic");
    assert!(
        matches!(result, Err(sse::Error::RequestRejected { status, .. }) if status == StatusCode::REQUEST_TIMEOUT)
    );
}

#[tokio::test]
async fn respond_error_writes_a_complete_response() {
    let (mut client, mut server_side) = tokio::io::duplex(1024);
    let server =
        tokio::spawn(
            async move { http1::respond_error(&mut server_side, StatusCode::NOT_FOUND).await },
        );
    let mut response = Vec::new();
    client.read_to_end(&mut response).await.expect("read");
    drop(client);
    tokio::time::timeout(GUARD, server)
        .await
        .expect("in time")
        .expect("no panic")
        .expect("written");
    let text = String::from_utf8(response).expect("ASCII");
    assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
    assert!(
        text.ends_with("\r\nContent-Length: 10\r\nConnection: close\r\n\r\nNot Found\n"),
        "{text}"
    );
}

/// Runs `read_request` over an in-memory pipe on `input`; returns its result and the answer.
fn read_request_on(input: &[u8]) -> (Result<http::Request<()>, sse::Error>, Vec<u8>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (mut client, mut server_side) = tokio::io::duplex(64 * 1024);
        client.write_all(input).await.expect("write");
        client.shutdown().await.expect("shutdown");
        let result = http1::read_request(&mut server_side, &Http1Config::default()).await;
        drop(server_side);
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.expect("read");
        (result, answer)
    })
}

/// Heads built from plausible and broken pieces, to reach the rules past httparse.
fn head_like() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        Just(b"GET / HTTP/1.1".to_vec()),
        Just(b"POST / HTTP/1.1".to_vec()),
        Just(b"GET / HTTP/1.0".to_vec()),
        Just(b"Host: x".to_vec()),
        Just(b"Last-Event-ID: 1".to_vec()),
        Just(b"".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..16),
    ];
    let end = prop_oneof![Just(&b"\r\n"[..]), Just(&b"\n"[..]), Just(&b"\r"[..])];
    proptest::collection::vec((line, end), 0..8).prop_map(|lines| {
        lines
            .into_iter()
            .flat_map(|(line, end)| line.into_iter().chain(end.iter().copied()))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any bytes at all: no panic, and either a request and no answer, or a refusal and a
    /// complete answer with its status, or the client's end and no answer.
    #[test]
    fn arbitrary_bytes_get_a_request_or_a_complete_refusal(
        input in prop_oneof![proptest::collection::vec(any::<u8>(), 0..2048), head_like()]
    ) {
        let (result, answer) = read_request_on(&input);
        match result {
            Ok(request) => {
                prop_assert!(answer.is_empty());
                prop_assert_eq!(request.method(), http::Method::GET);
            }
            Err(sse::Error::RequestRejected { status, reason }) => {
                let prefix = format!("HTTP/1.1 {} ", status.as_u16());
                prop_assert!(answer.starts_with(prefix.as_bytes()));
                let body = format!("\r\n\r\n{reason}\n");
                prop_assert!(answer.ends_with(body.as_bytes()));
            }
            Err(sse::Error::Io(error)) => {
                prop_assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
                prop_assert!(answer.is_empty());
            }
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
    }
}

/// Reads the response head from `client`, checking it.
async fn read_head<R: AsyncRead + Unpin>(client: &mut R) {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        assert!(head.len() < 4096, "a head of sane size");
        let mut byte = [0u8; 1];
        client.read_exact(&mut byte).await.expect("head byte");
        head.extend_from_slice(&byte);
    }
    assert_eq!(split_response(&head).0, HEAD_WITHOUT_DATE);
}

#[tokio::test(start_paused = true)]
async fn keep_alive_comment_after_silence() {
    let (mut client, server_side) = tokio::io::duplex(1024);
    let config = ServerConfig {
        keep_alive: Some(Duration::from_secs(15)),
        shutdown: None,
        ..ServerConfig::default()
    };
    let (tx, events) = channel();
    let server = tokio::spawn(http1::serve(server_side, events, config));
    read_head(&mut client).await;
    let start = tokio::time::Instant::now();
    let mut expected = format!("{:x}\r\n", KEEP_ALIVE.len()).into_bytes();
    expected.extend_from_slice(KEEP_ALIVE);
    expected.extend_from_slice(b"\r\n");
    let mut chunk = vec![0u8; expected.len()];
    // Paused time advances by itself to the next timer once every task waits.
    client.read_exact(&mut chunk).await.expect("keep-alive");
    assert_eq!(chunk, expected);
    assert_eq!(start.elapsed(), Duration::from_secs(15));
    // An event restarts the silence clock.
    tokio::time::sleep(Duration::from_secs(10)).await;
    tx.send(Bytes::from_static(b"data: x\n\n")).expect("open");
    let mut event = [0u8; 14];
    client.read_exact(&mut event).await.expect("event");
    assert_eq!(&event, b"9\r\ndata: x\n\n\r\n");
    let sent = tokio::time::Instant::now();
    client.read_exact(&mut chunk).await.expect("keep-alive");
    assert_eq!(chunk, expected);
    assert_eq!(sent.elapsed(), Duration::from_secs(15));
    drop(client);
    let result = server.await.expect("no panic");
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn client_close_ends_serve_with_ok() {
    let config = ServerConfig {
        keep_alive: None,
        shutdown: None,
        ..ServerConfig::default()
    };
    let (tx, events) = channel();
    let (address, server) = one_connection(events, config).await;
    let mut client = TcpStream::connect(address).await.expect("connect");
    // Bytes after the head are read and discarded, not taken for a second request.
    client.write_all(GET).await.expect("write");
    client
        .write_all(b"POST / HTTP/1.1\r\n\r\nnoise")
        .await
        .expect("write");
    read_head(&mut client).await;
    tx.send(Bytes::from_static(b"data: x\n\n")).expect("open");
    let mut event = [0u8; 14];
    client.read_exact(&mut event).await.expect("event");
    assert_eq!(&event, b"9\r\ndata: x\n\n\r\n");
    drop(client);
    // Nothing is sent after the close, so only the read can notice it.
    let result = tokio::time::timeout(GUARD, server)
        .await
        .expect("serve ends");
    assert!(matches!(result, Ok(Ok(()))), "{result:?}");
    drop(tx);
}

#[tokio::test]
async fn shutdown_ends_the_stream_with_the_last_chunk() {
    let shutdown = Shutdown::new();
    let config = ServerConfig {
        keep_alive: None,
        shutdown: Some(shutdown.signal()),
        ..ServerConfig::default()
    };
    let (tx, events) = channel();
    let (address, server) = one_connection(events, config).await;
    let mut client = TcpStream::connect(address).await.expect("connect");
    client.write_all(GET).await.expect("write");
    read_head(&mut client).await;
    tx.send(Bytes::from_static(b"data: x\n\n")).expect("open");
    let mut event = [0u8; 14];
    client.read_exact(&mut event).await.expect("event");
    shutdown.trigger();
    let rest = read_to_end(&mut client).await;
    assert_eq!(rest, b"0\r\n\r\n");
    let result = tokio::time::timeout(GUARD, server).await.expect("in time");
    assert!(matches!(result, Ok(Ok(()))), "{result:?}");
}

/// A socket that records each write and never has anything to read.
#[derive(Clone, Default)]
struct Recorder {
    writes: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Recorder {
    fn writes(&self) -> Vec<Vec<u8>> {
        self.writes.lock().expect("not poisoned").clone()
    }
}

impl AsyncRead for Recorder {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Pending
    }
}

impl AsyncWrite for Recorder {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writes.lock().expect("not poisoned").push(buf.to_vec());
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn ready_events_are_coalesced_into_one_write_as_separate_chunks() {
    let recorder = Recorder::default();
    let (tx, events) = channel();
    for data in ["one", "two", "", "three"] {
        tx.send(Bytes::from(Event::new().data(data).to_bytes()))
            .expect("open");
    }
    // An empty item is skipped, not sent as a (terminating) empty chunk.
    tx.send(Bytes::new()).expect("open");
    let server = tokio::spawn(http1::serve(
        recorder.clone(),
        events,
        ServerConfig::default(),
    ));
    // Wait, bounded, for the first write.
    for _ in 0..1000 {
        if !recorder.writes().is_empty() {
            break;
        }
        tokio::task::yield_now().await;
    }
    drop(tx);
    tokio::time::timeout(GUARD, server)
        .await
        .expect("in time")
        .expect("no panic")
        .expect("served");
    let writes = recorder.writes();
    assert_eq!(
        writes.len(),
        2,
        "the head and the ready events, then the last chunk"
    );
    let (head, body) = split_response(&writes[0]);
    assert_eq!(head, HEAD_WITHOUT_DATE);
    let (chunks, ended) = dechunk(body);
    assert!(!ended);
    assert_eq!(
        chunks,
        ["one", "two", "", "three"].map(|d| Event::new().data(d).to_bytes())
    );
    assert_eq!(writes[1], b"0\r\n\r\n");
}

#[tokio::test]
async fn a_burst_is_written_in_bounded_batches() {
    let recorder = Recorder::default();
    let (tx, events) = channel();
    let event = Bytes::from(format!("data: {}\n\n", "x".repeat(1000)));
    for _ in 0..200 {
        tx.send(event.clone()).expect("open");
    }
    drop(tx);
    let served = http1::serve(recorder.clone(), events, ServerConfig::default());
    tokio::time::timeout(GUARD, served)
        .await
        .expect("in time")
        .expect("served");
    let writes = recorder.writes();
    assert!(writes.len() >= 3, "{} writes", writes.len());
    assert!(
        writes.iter().all(|w| w.len() <= 64 * 1024 + 2 * 1024),
        "bounded"
    );
    let all = writes.concat();
    let (_, body) = split_response(&all);
    let (chunks, ended) = dechunk(body);
    assert!(ended);
    assert_eq!(chunks.len(), 200);
    assert!(chunks.iter().all(|c| c.as_slice() == event));
}

/// `curl -N`, a real HTTP/1.1 client, de-chunks the stream to the bytes that were sent.
#[tokio::test]
async fn curl_reads_the_stream() {
    let (address, server) = serve_sample().await;
    let url = format!("http://{address}/events");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["-sN", "--max-time", "5"])
            .arg(url)
            .output()
    })
    .await
    .expect("no panic");
    let output = match output {
        Ok(output) => output,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            eprintln!("skipped: http1::curl_reads_the_stream: curl is not installed");
            server.abort();
            return;
        }
        Err(error) => panic!("curl: {error}"),
    };
    assert!(output.status.success(), "curl: {output:?}");
    let expected: Vec<u8> = sample().iter().flat_map(Event::to_bytes).collect();
    assert_eq!(output.stdout, expected);
    let result = tokio::time::timeout(GUARD, server).await.expect("in time");
    assert!(matches!(result, Ok(Ok(()))), "{result:?}");
}

/// Yields an empty item every time it is polled, forever.
struct Empties;

impl Stream for Empties {
    type Item = Bytes;
    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Bytes>> {
        Poll::Ready(Some(Bytes::new()))
    }
}

#[tokio::test]
async fn a_stream_of_empty_items_neither_spins_forever_nor_starves_shutdown() {
    let recorder = Recorder::default();
    let shutdown = Shutdown::new();
    let config = ServerConfig {
        keep_alive: None,
        shutdown: Some(shutdown.signal()),
        ..ServerConfig::default()
    };
    let server = tokio::spawn(http1::serve(recorder.clone(), Empties, config));
    // On this single-threaded runtime, the test runs again only if `serve` yields.
    tokio::task::yield_now().await;
    shutdown.trigger();
    tokio::time::timeout(GUARD, server)
        .await
        .expect("in time")
        .expect("no panic")
        .expect("served");
    let all = recorder.writes().concat();
    let (_, body) = split_response(&all);
    assert_eq!(body, b"0\r\n\r\n", "no empty chunk, just the last chunk");
}

/// `serve` on one end of a pipe of `capacity` bytes, with no keep-alive and no events yet; the
/// client end has read the response head. The sender keeps the event stream open.
async fn served_pipe(
    capacity: usize,
) -> (
    tokio::io::DuplexStream,
    mpsc::UnboundedSender<Bytes>,
    tokio::task::JoinHandle<Result<(), sse::Error>>,
) {
    let (mut client, server_side) = tokio::io::duplex(capacity);
    let config = ServerConfig {
        keep_alive: None,
        shutdown: None,
        ..ServerConfig::default()
    };
    let (tx, events) = channel();
    let server = tokio::spawn(http1::serve(server_side, events, config));
    read_head(&mut client).await;
    (client, tx, server)
}

#[tokio::test]
async fn a_flood_of_client_bytes_is_discarded_and_its_close_still_seen() {
    let (mut client, _tx, server) = served_pipe(64 * 1024).await;
    // Far more than one wake-up discards, then the end: only a self-wake reaches the end.
    client.write_all(&[b'x'; 32 * 1024]).await.expect("write");
    drop(client);
    let result = tokio::time::timeout(GUARD, server)
        .await
        .expect("serve ends");
    assert!(matches!(result, Ok(Ok(()))), "{result:?}");
}

/// A client that keeps sending after its request is not an event-stream client: past 64 KiB,
/// `serve` ends the connection rather than read and discard for ever.
#[tokio::test]
async fn a_client_that_never_stops_sending_is_ended() {
    let (mut client, _tx, server) = served_pipe(256 * 1024).await;
    // More than the limit, and the connection stays open: only the limit ends `serve`.
    client.write_all(&[b'x'; 128 * 1024]).await.expect("write");
    let result = tokio::time::timeout(GUARD, server)
        .await
        .expect("serve ends while the client is still connected");
    assert!(matches!(result, Ok(Ok(()))), "{result:?}");
    drop(client);
}

/// A client that stops reading leaves a write pending; the shutdown signal still ends the
/// connection.
#[tokio::test(start_paused = true)]
async fn shutdown_ends_a_connection_whose_client_stopped_reading() {
    // A pipe too small for the head and one event: the write blocks at once.
    let (client, server_side) = tokio::io::duplex(64);
    let shutdown = Shutdown::new();
    let config = ServerConfig {
        keep_alive: None,
        shutdown: Some(shutdown.signal()),
        ..ServerConfig::default()
    };
    let (tx, events) = channel();
    tx.send(Bytes::from(Event::new().data("x".repeat(1000)).to_bytes()))
        .expect("open");
    let mut server = tokio::spawn(http1::serve(server_side, events, config));
    let stalled = tokio::time::timeout(Duration::from_secs(1), &mut server).await;
    assert!(stalled.is_err(), "the write waits for a reader");
    shutdown.trigger();
    let result = tokio::time::timeout(GUARD, server)
        .await
        .expect("serve ends on shutdown");
    assert!(matches!(result, Ok(Ok(()))), "{result:?}");
    drop(client);
}

/// A client that stops reading, with no shutdown to end it: the write deadline does. `serve`
/// fails with `TimedOut`, and the connection is over (the client's reconnection, with
/// `Last-Event-ID`, recovers what it missed).
#[tokio::test(start_paused = true)]
async fn the_write_deadline_ends_a_connection_whose_client_stopped_reading() {
    let (client, server_side) = tokio::io::duplex(64);
    let config = ServerConfig {
        keep_alive: None,
        write_timeout: Duration::from_secs(3),
        ..ServerConfig::default()
    };
    let (tx, events) = channel();
    tx.send(Bytes::from(Event::new().data("x".repeat(1000)).to_bytes()))
        .expect("open");
    let server = tokio::spawn(http1::serve(server_side, events, config));
    let result = tokio::time::timeout(Duration::from_secs(600), server)
        .await
        .expect("the write deadline ends serve")
        .expect("no panic");
    assert!(
        matches!(&result, Err(sse::Error::Io(e)) if e.kind() == io::ErrorKind::TimedOut),
        "{result:?}"
    );
    drop((client, tx));
}
