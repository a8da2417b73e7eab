//! The transports a WebSocket conversation runs over in the conformance tests: the wire layer
//! in memory, HTTP/1.1 (RFC 6455's Upgrade on a TCP connection), and HTTP/2 in clear text
//! (RFC 8441's extended CONNECT, one stream of an h2c connection). A test written once against
//! [`exchange`] runs on all three: the same bytes in, the same messages and frames out.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use websocket::connection::{Connection, Message, Role, State};
use websocket::frame::{Frame, OpCode};
use websocket::handshake::{ClientHandshake, ServerOptions};
use websocket::io::{ClientOptions, Http2Connection, WebSocket};
use websocket::{Error, Limits};

/// Where the server side of a conversation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The wire layer's `Connection`, fed the bytes directly.
    Memory,
    /// `websocket::io::accept` on a TCP connection, after an HTTP/1.1 Upgrade.
    Http1,
    /// `websocket::io::upgrade` under hyper's HTTP/2 server, after an extended CONNECT.
    Http2,
}

/// Every transport, for tests that loop over them.
pub const TRANSPORTS: [Transport; 3] = [Transport::Memory, Transport::Http1, Transport::Http2];

/// What a server that echoes every Text and Binary message did with a client's bytes.
#[derive(Debug)]
pub struct Exchange {
    /// The messages its application received, in order (the Close included).
    pub events: Vec<Message>,
    /// The error that failed the connection, if one did.
    pub error: Option<Error>,
    /// The frames it sent back, in order, until it ended the conversation.
    pub replies: Vec<Frame>,
}

/// Every test is bounded: a hang fails instead of blocking the suite.
pub async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("finished in time")
}

/// Runs a server that records and echoes over `transport`, sends it `bytes` (a client's
/// frames, which must end the conversation: a Close, or a broken rule), and returns what the
/// server did. Over TCP the replies are read until the server ends its side (FIN or
/// END_STREAM), which a server does once the conversation is over.
// ANCHOR: exchange
pub async fn exchange(transport: Transport, bytes: &[u8]) -> Exchange {
    match transport {
        Transport::Memory => in_memory(bytes),
        Transport::Http1 | Transport::Http2 => bounded(over_tcp(transport, bytes)).await,
    }
}
// ANCHOR_END: exchange

fn in_memory(bytes: &[u8]) -> Exchange {
    let mut conn = Connection::new(Role::Server, Limits::default());
    conn.receive(bytes);
    let mut events = Vec::new();
    let error = loop {
        match conn.next_event() {
            Ok(Some(message)) => {
                if matches!(message, Message::Text(_) | Message::Binary(_)) {
                    conn.send(message.clone()).expect("open");
                }
                events.push(message);
            }
            Ok(None) => break None,
            Err(error) => break Some(error),
        }
    };
    // A whole conversation: over, and deaf to whatever follows.
    assert_eq!(
        conn.state(),
        State::Closed,
        "the bytes end the conversation"
    );
    let replies = decode(&conn.take_output());
    let mut ping = Vec::new();
    Frame::new(OpCode::Ping, vec![])
        .masked([1, 2, 3, 4])
        .encode(&mut ping);
    conn.receive(&ping);
    assert!(matches!(conn.next_event(), Ok(None)));
    assert_eq!(conn.output_len(), 0, "nothing is sent after the end");
    let late = conn.send(Message::Text("late".into()));
    assert!(matches!(late, Err(Error::AlreadyClosed)), "{late:?}");
    Exchange {
        events,
        error,
        replies,
    }
}

async fn over_tcp(transport: Transport, bytes: &[u8]) -> Exchange {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        match transport {
            Transport::Http1 => {
                let (ws, _) = websocket::io::accept(tcp, &ServerOptions::default())
                    .await
                    .unwrap();
                record_and_echo(ws).await
            }
            _ => record_and_echo(accept_http2(tcp).await).await,
        }
    });
    let mut client: Box<dyn Stream> = match transport {
        Transport::Http1 => Box::new(upgraded_http1(&addr).await),
        _ => Box::new(connected_http2(&addr).await),
    };
    client.write_all(bytes).await.unwrap();
    let mut back = Vec::new();
    client
        .read_to_end(&mut back)
        .await
        .expect("the server's end");
    // Our side ends too, so that a server that drains after a failure stops draining.
    drop(client);
    let (events, error) = server.await.unwrap();
    Exchange {
        events,
        error,
        replies: decode(&back),
    }
}

/// A byte stream of either transport, for the hand-written client.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send> Stream for S {}

/// The server's application: records every message, echoes Text and Binary, and returns the
/// messages and the error that ended the connection, if any.
async fn record_and_echo<S>(mut ws: WebSocket<S>) -> (Vec<Message>, Option<Error>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut events = Vec::new();
    loop {
        match ws.recv().await {
            Ok(Some(message)) => {
                if matches!(message, Message::Text(_) | Message::Binary(_)) {
                    // The peer may have failed the connection meanwhile; recv reports that.
                    let _ = ws.send(message.clone()).await;
                }
                events.push(message);
            }
            Ok(None) => return (events, None),
            Err(error) => return (events, Some(error)),
        }
    }
}

/// Serves HTTP/2 on `tcp` and returns the WebSocket of its first extended CONNECT.
pub async fn accept_http2(tcp: TcpStream) -> WebSocket<TokioIo<hyper::upgrade::Upgraded>> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let service = service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        let tx = tx.clone();
        let (response, upgrading) =
            websocket::io::upgrade(&mut req, &ServerOptions::default()).unwrap();
        tokio::spawn(async move {
            let _ = tx.send(upgrading.finish().await.unwrap()).await;
        });
        std::future::ready(Ok::<_, Infallible>(response))
    });
    // The connection must keep running for as long as its streams do.
    tokio::spawn(
        hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .enable_connect_protocol()
            .serve_connection(TokioIo::new(tcp), service),
    );
    let mut rx = rx;
    rx.recv().await.expect("one WebSocket")
}

/// A TCP connection to `addr` after an HTTP/1.1 Upgrade (the 101 read, nothing after it).
pub async fn upgraded_http1(addr: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let (mut hs, request) = ClientHandshake::new(addr, "/", &[], &Limits::default()).unwrap();
    tcp.write_all(&request).await.unwrap();
    let mut buf = vec![0; 4096];
    loop {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server answers the handshake");
        if let Some((_, _, leftover)) = hs.receive(&buf[..n]).unwrap() {
            assert!(leftover.is_empty());
            return tcp;
        }
    }
}

/// An HTTP/2 stream to `addr` after an extended CONNECT, on a connection of its own. The
/// connection lives as long as its streams.
pub async fn connected_http2(addr: &str) -> TokioIo<hyper::upgrade::Upgraded> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let h2 = Http2Connection::handshake(tcp, addr, false).await.unwrap();
    let (stream, response, _) = (h2.open_stream("/", &ClientOptions::default()))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    stream
}

/// The frames in `bytes`, all of them whole.
pub fn decode(bytes: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut at = 0;
    while let Some((frame, n)) = Frame::decode(&bytes[at..]).unwrap() {
        frames.push(frame);
        at += n;
    }
    assert_eq!(at, bytes.len(), "no partial frame");
    frames
}

/// Bytes written and read through a [`Metered`] stream so far.
#[derive(Debug, Default)]
pub struct Meter {
    pub written: std::sync::atomic::AtomicUsize,
    pub read: std::sync::atomic::AtomicUsize,
}

impl Meter {
    /// (written, read) so far.
    pub fn now(&self) -> (usize, usize) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.written.load(Relaxed), self.read.load(Relaxed))
    }
}

/// A stream that counts the bytes a client writes and reads, for the handshakes' byte counts.
pub struct Metered<S> {
    pub stream: S,
    pub meter: std::sync::Arc<Meter>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.stream).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        (self.meter.read).fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.stream).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = polled {
            (self.meter.written).fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
