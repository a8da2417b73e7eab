//! The one small HTTP server that every example, and `wirelab demo`, runs on.
//!
//! One port serves everything: pages, event streams and WebSocket upgrades. That is the normal
//! shape of a web application, and it is what lets the examples put SSE and WebSocket side by
//! side: both start as an HTTP/1.1 request to the same server. An event stream stays an HTTP
//! response that never ends; a WebSocket leaves HTTP after the `101 Switching Protocols`.
//!
//! Besides routing requests to a [`Handler`], the server does three things an example needs
//! to teach with:
//!
//! - **It counts bytes.** Every accepted TCP connection is wrapped in a counter of the bytes
//!   read from and written to the socket: what the protocol put on the wire (the TCP payload;
//!   TCP and IP headers are not included). [`Server::connections`] reports them, with the
//!   `session` and `transport` a request declared in its query string ([`Conn::tag`]).
//! - **It can be broken on purpose.** [`Server::cut`] drops connections without a goodbye (no
//!   last chunk, no Close frame): what a crashed server, a restarted load balancer or a lost
//!   Wi-Fi looks like to a client. [`Server::pause`] also closes the listening socket for a
//!   while, so reconnection attempts are refused. [`Server::set_slow`] delays every message
//!   the examples send ([`Conn::pace`]).
//! - **It can serve one request per connection** ([`Server::one_request_per_connection`]), so
//!   that a connection's bytes are exactly one request's bytes. The demo uses it to attribute
//!   bytes to transports exactly; payload bytes are the same as with keep-alive, only the TCP
//!   handshakes (which are not counted) are more.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderValue, StatusCode, Uri, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Sleep;
use websocket::Message;
use websocket::handshake::ServerOptions;

/// A response body: a whole body, or an event stream.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;
/// A request as hyper delivers it.
pub type Request = http::Request<Incoming>;
/// A response with any [`Body`].
pub type Response = http::Response<Body>;
/// A server-side WebSocket over an upgraded hyper connection.
pub type Ws = websocket::io::WebSocket<TokioIo<Upgraded>>;
/// The sending half of a [`Ws`].
pub type WsSender = websocket::io::Sender<TokioIo<Upgraded>>;
/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// What answers requests: called once per request, with the connection it came on.
pub type Handler = Arc<dyn Fn(Request, Conn) -> BoxFuture<Response> + Send + Sync>;

/// Closed connections kept in [`Server::connections`] (open ones are always kept).
const CLOSED_KEPT: usize = 1024;

/// The largest WebSocket message (and frame) the examples accept, in bytes: 64 KiB, far above
/// what any of them sends. A larger one closes the connection with 1009. The crate's default,
/// 16 MiB, would let a peer make [`split`] buffer 64 such messages (1 GiB) on one connection
/// while the session waits to send; with this limit that is at most 4 MiB.
pub const MAX_MESSAGE: usize = 64 << 10;

/// After this long without hearing from a WebSocket peer, the examples' server sends a Ping; a
/// peer that neither answers nor reads within the crate's `ping_timeout` (20 s) is dropped,
/// so that its session ends (and, in [`crate::seats`], its seats are released).
pub const PING_INTERVAL: Duration = Duration::from_secs(30);

/// The bytes one TCP connection has carried.
#[derive(Debug, Default)]
pub struct Counters {
    read: AtomicU64,
    written: AtomicU64,
    open: AtomicBool,
}

/// What a request declared about itself in its query string: `?session=S&transport=T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Who: one browser tab of the demo, for instance.
    pub session: String,
    /// How: `sse`, `ws`, `post`, ...
    pub transport: String,
}

/// One connection, as [`Server::connections`] reports it.
#[derive(Debug, Clone)]
pub struct ConnStats {
    /// The connection's number, from 1.
    pub id: u64,
    /// The tag of its (last) tagged request, if any.
    pub tag: Option<Tag>,
    /// Bytes read from the client.
    pub read: u64,
    /// Bytes written to the client.
    pub written: u64,
    /// Still open.
    pub open: bool,
    /// The `Last-Event-ID` its event-stream request carried, if any.
    pub last_event_id: Option<String>,
}

struct ConnRecord {
    counters: Arc<Counters>,
    tag: Option<Tag>,
    last_event_id: Option<String>,
    cut: watch::Sender<bool>,
}

struct Inner {
    next_id: AtomicU64,
    conns: Mutex<BTreeMap<u64, ConnRecord>>,
    slow_ms: AtomicU64,
    one_request: AtomicBool,
    /// A generation (bumped by each pause), how long, and a connection to spare.
    pause: watch::Sender<(u64, Duration, Option<u64>)>,
    /// A receiver made with the channel, so that [`serve`] also sees a pause asked for before
    /// it started.
    paused: watch::Receiver<(u64, Duration, Option<u64>)>,
}

/// The server's shared state and its controls. Cheap to clone.
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

impl Default for Server {
    fn default() -> Self {
        Server::new()
    }
}

impl Server {
    /// A server with no connections, not slowed down, with keep-alive.
    pub fn new() -> Self {
        let (pause, paused) = watch::channel((0, Duration::ZERO, None));
        Server {
            inner: Arc::new(Inner {
                next_id: AtomicU64::new(1),
                conns: Mutex::new(BTreeMap::new()),
                slow_ms: AtomicU64::new(0),
                one_request: AtomicBool::new(false),
                pause,
                paused,
            }),
        }
    }

    fn conns(&self) -> MutexGuard<'_, BTreeMap<u64, ConnRecord>> {
        // Every update of the map is one statement, so a poisoned lock holds nothing half-done.
        self.inner
            .conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    // ANCHOR: one_request
    /// Close each connection after its first response (HTTP/1.1 `Connection: close`), so that
    /// every connection carries exactly one request. Set it before [`serve`] starts.
    pub fn one_request_per_connection(&self, on: bool) {
        self.inner.one_request.store(on, Ordering::Relaxed);
    }
    // ANCHOR_END: one_request

    // ANCHOR: cut
    /// Drops every open connection (or only those tagged with `session`) without a goodbye.
    /// Returns how many were cut.
    pub fn cut(&self, session: Option<&str>) -> usize {
        self.cut_except(session, None)
    }
    // ANCHOR_END: cut

    // ANCHOR: cut_except
    fn cut_except(&self, session: Option<&str>, spared: Option<u64>) -> usize {
        let conns = self.conns();
        let mut cut = 0;
        for (id, record) in conns.iter() {
            if Some(*id) == spared {
                continue;
            }
            let open = record.counters.open.load(Ordering::Relaxed);
            let matches = match session {
                None => true,
                Some(s) => record.tag.as_ref().is_some_and(|t| t.session == s),
            };
            if open && matches {
                record.cut.send_replace(true);
                cut += 1;
            }
        }
        cut
    }
    // ANCHOR_END: cut_except

    // ANCHOR: pause
    /// Stops the server for `how_long`: cuts every connection and closes the listening
    /// socket, so that connection attempts are refused, then listens again on the same
    /// address.
    pub fn pause(&self, how_long: Duration) {
        self.pause_except(how_long, None);
    }
    // ANCHOR_END: pause

    // ANCHOR: pause_except
    fn pause_except(&self, how_long: Duration, spared: Option<u64>) {
        self.inner
            .pause
            .send_modify(|(generation, duration, spare)| {
                *generation += 1;
                *duration = how_long;
                *spare = spared;
            });
    }
    // ANCHOR_END: pause_except

    // ANCHOR: slow
    /// Delays every message the examples send by `delay` (zero: no delay).
    pub fn set_slow(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.inner.slow_ms.store(ms, Ordering::Relaxed);
    }
    // ANCHOR_END: slow

    /// The current delay of [`Server::set_slow`].
    pub fn slow(&self) -> Duration {
        Duration::from_millis(self.inner.slow_ms.load(Ordering::Relaxed))
    }

    /// Every open connection, and the newest closed ones, oldest first.
    pub fn connections(&self) -> Vec<ConnStats> {
        self.conns()
            .iter()
            .map(|(id, record)| ConnStats {
                id: *id,
                tag: record.tag.clone(),
                read: record.counters.read.load(Ordering::Relaxed),
                written: record.counters.written.load(Ordering::Relaxed),
                open: record.counters.open.load(Ordering::Relaxed),
                last_event_id: record.last_event_id.clone(),
            })
            .collect()
    }

    fn register(&self) -> (u64, Arc<Counters>, watch::Receiver<bool>) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let counters = Arc::new(Counters {
            open: AtomicBool::new(true),
            ..Counters::default()
        });
        let (cut, cut_rx) = watch::channel(false);
        let mut conns = self.conns();
        // Forget the oldest closed connections beyond the bound.
        let closed: Vec<u64> = conns
            .iter()
            .filter(|(_, r)| !r.counters.open.load(Ordering::Relaxed))
            .map(|(id, _)| *id)
            .collect();
        for old in closed.iter().take(closed.len().saturating_sub(CLOSED_KEPT)) {
            conns.remove(old);
        }
        conns.insert(
            id,
            ConnRecord {
                counters: counters.clone(),
                tag: None,
                last_event_id: None,
                cut,
            },
        );
        (id, counters, cut_rx)
    }
}

/// The connection a request came on, handed to the [`Handler`] with each request.
#[derive(Clone)]
pub struct Conn {
    id: u64,
    server: Server,
    cut: watch::Receiver<bool>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("id", &self.id).finish()
    }
}

impl Conn {
    /// The connection's number.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The server this connection belongs to.
    pub fn server(&self) -> &Server {
        &self.server
    }

    // ANCHOR: tag
    /// Records the request's `session` and `transport` query parameters, if both are present,
    /// and its `Last-Event-ID` header, for [`Server::connections`].
    pub fn tag(&self, request: &Request) {
        let session = query_param(request.uri(), "session");
        let transport = query_param(request.uri(), "transport");
        let last_event_id = sse::server::last_event_id(request).map(str::to_owned);
        let mut conns = self.server.conns();
        if let Some(record) = conns.get_mut(&self.id) {
            if let (Some(session), Some(transport)) = (session, transport) {
                record.tag = Some(Tag { session, transport });
            }
            if last_event_id.is_some() {
                record.last_event_id = last_event_id;
            }
        }
    }
    // ANCHOR_END: tag

    /// Completes when the server cuts this connection.
    pub async fn cut(&self) {
        let mut cut = self.cut.clone();
        // The sender lives as long as the server keeps the record; if it is gone, so is any
        // reason to cut.
        if cut.wait_for(|cut| *cut).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// [`Server::pause`], sparing this connection, so that the request asking for the pause
    /// gets its answer.
    pub fn pause_server(&self, how_long: Duration) {
        self.server.pause_except(how_long, Some(self.id));
    }

    // ANCHOR: pace
    /// Waits the server's current slow-down delay, if any: call it before sending a message.
    pub async fn pace(&self) {
        let delay = self.server.slow();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    // ANCHOR_END: pace
}

// ANCHOR: counted
/// A TCP stream that counts the bytes crossing it.
struct Counted {
    stream: TcpStream,
    counters: Arc<Counters>,
}
// ANCHOR_END: counted

impl Drop for Counted {
    fn drop(&mut self) {
        self.counters.open.store(false, Ordering::Relaxed);
    }
}

// ANCHOR: counted_read
impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.stream).poll_read(cx, buf))?;
        let n = (buf.filled().len() - before) as u64;
        self.counters.read.fetch_add(n, Ordering::Relaxed);
        Poll::Ready(Ok(()))
    }
}
// ANCHOR_END: counted_read

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.stream).poll_write(cx, buf))?;
        self.counters.written.fetch_add(n as u64, Ordering::Relaxed);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.stream).poll_write_vectored(cx, bufs))?;
        self.counters.written.fetch_add(n as u64, Ordering::Relaxed);
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

// ANCHOR: serve
/// Accepts connections on `listener` and answers their requests with `handler`, until the
/// listener fails (or, after a [`Server::pause`], cannot listen again).
pub async fn serve(listener: TcpListener, server: Server, handler: Handler) -> io::Result<()> {
    let addr = listener.local_addr()?;
    let mut listener = listener;
    let mut pause = server.inner.paused.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => spawn_connection(stream, &server, &handler),
                // A connection that died before we took it, or a momentary shortage of file
                // descriptors, must not stop the server.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            changed = pause.changed() => {
                if changed.is_err() {
                    continue;
                }
                let (_, how_long, spared) = *pause.borrow_and_update();
                drop(listener);
                server.cut_except(None, spared);
                tokio::time::sleep(how_long).await;
                listener = listen(addr)?;
            }
        }
    }
}
// ANCHOR_END: serve

/// Serves `handler` on a fresh loopback port (`127.0.0.1:0`) in a task: what tests and the
/// examples' own demos use. Returns the address and the server's controls.
///
/// # Errors
///
/// When no loopback port can be bound.
pub async fn spawn_local(handler: Handler) -> io::Result<(SocketAddr, Server)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = Server::new();
    tokio::spawn(serve(listener, server.clone(), handler));
    Ok((addr, server))
}

/// Listens on `addr` again, with `SO_REUSEADDR` so that the cut connections' `TIME_WAIT`
/// entries do not block the address.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

// ANCHOR: spawn_connection
fn spawn_connection(stream: TcpStream, server: &Server, handler: &Handler) {
    // Small messages are the point of these examples: send each at once.
    let _ = stream.set_nodelay(true);
    let (id, counters, cut) = server.register();
    let conn = Conn {
        id,
        server: server.clone(),
        cut,
    };
    let io = TokioIo::new(Counted { stream, counters });
    let handler = handler.clone();
    let keep_alive = !server.inner.one_request.load(Ordering::Relaxed);
    tokio::spawn(async move {
        let service_conn = conn.clone();
        let service = hyper::service::service_fn(move |request: Request| {
            let response = handler(request, service_conn.clone());
            async move { Ok::<_, Infallible>(response.await) }
        });
        let http = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .keep_alive(keep_alive)
            .serve_connection(io, service)
            .with_upgrades();
        // Dropping the connection future drops the socket: that is the cut. An upgraded
        // WebSocket lives on in its own task, which watches the same signal.
        tokio::select! {
            _ = http => {}
            () = conn.cut() => {}
        }
    });
}
// ANCHOR_END: spawn_connection

/// Turns any handler function into a [`Handler`].
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Request, Conn) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    Arc::new(move |request, conn| Box::pin(f(request, conn)))
}

/// A whole response.
pub fn full(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response {
    let mut response = http::Response::new(Full::new(body.into()).boxed_unsync());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// `404 Not Found`.
pub fn not_found() -> Response {
    full(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        "not found\n",
    )
}

/// A JSON response.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    full(status, "application/json", value.to_string())
}

/// The request body, if it is at most `limit` bytes; otherwise the response to send.
pub async fn read_body(request: Request, limit: usize) -> Result<Bytes, Response> {
    match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(_) => Err(full(
            StatusCode::PAYLOAD_TOO_LARGE,
            "text/plain; charset=utf-8",
            "body too large or broken\n",
        )),
    }
}

/// The first value of query parameter `name`, percent-decoded (`+` is a space).
pub fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| percent_decode(value))
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                // Two hex digits exactly: `from_str_radix` alone would also take a sign, `%+1`.
                let hex = Some(&bytes[i + 1..i + 3])
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ANCHOR: sse
/// An event-stream response that sends `events` (each an `sse::Event`, or a hub's shared
/// `Published` one), each after [`Conn::pace`], starting with a `retry:` line when `retry` is
/// set. Keep-alive comments every 15 s.
pub fn sse<S, T>(conn: &Conn, events: S, retry: Option<Duration>) -> Response
where
    S: Stream<Item = T> + Send + Unpin + 'static,
    T: Into<Bytes>,
{
    let paced = Paced {
        first: retry.map(|retry| Bytes::from(sse::Event::new().retry(retry))),
        events,
        server: conn.server.clone(),
        waiting: None,
    };
    sse::server::response(paced, sse::server::ServerConfig::default()).map(|b| b.boxed_unsync())
}
// ANCHOR_END: sse

/// A stream of events, as their wire bytes, delayed by the server's slow-down setting.
struct Paced<S> {
    first: Option<Bytes>,
    events: S,
    server: Server,
    waiting: Option<(Bytes, Pin<Box<Sleep>>)>,
}

// ANCHOR: paced
impl<S: Stream<Item = T> + Unpin, T: Into<Bytes>> Stream for Paced<S> {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = &mut *self;
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(first));
        }
        if this.waiting.is_none() {
            let Some(event) = ready!(Pin::new(&mut this.events).poll_next(cx)) else {
                return Poll::Ready(None);
            };
            let event = event.into();
            let delay = this.server.slow();
            if delay.is_zero() {
                return Poll::Ready(Some(event));
            }
            this.waiting = Some((event, Box::pin(tokio::time::sleep(delay))));
        }
        if let Some((_, sleep)) = this.waiting.as_mut() {
            ready!(sleep.as_mut().poll(cx));
        }
        Poll::Ready(this.waiting.take().map(|(event, _)| event))
    }
}
// ANCHOR_END: paced

/// A stream of the events sent on a channel, for handlers that produce events in a task.
pub fn channel_stream(receiver: mpsc::Receiver<sse::Event>) -> sse::server::ReceiverStream {
    sse::server::ReceiverStream(receiver)
}

// ANCHOR: websocket
/// Upgrades `request` to a WebSocket and runs `session` on it in a task, until it returns or
/// the server cuts the connection. Returns the `101` response (or the rejection) to send.
/// A message over [`MAX_MESSAGE`] bytes ends the session with Close 1009; a peer silent past
/// [`PING_INTERVAL`] gets a Ping, and is dropped if it neither answers nor reads.
pub fn websocket<F, Fut>(request: &mut Request, conn: &Conn, session: F) -> Response
where
    F: FnOnce(Ws, Conn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut options = ServerOptions::default();
    options.config.limits.max_frame_size = MAX_MESSAGE;
    options.config.limits.max_message_size = MAX_MESSAGE;
    options.config.timeouts.ping_interval = Some(PING_INTERVAL);
    match websocket::io::upgrade(request, &options) {
        Ok((response, upgrading)) => {
            let conn = conn.clone();
            tokio::spawn(async move {
                // hyper hands the connection over once the 101 has been written.
                let Ok(ws) = upgrading.finish().await else {
                    return;
                };
                let cut = conn.clone();
                tokio::select! {
                    () = session(ws, conn) => {}
                    () = cut.cut() => {}
                }
            });
            response.map(|b| b.boxed_unsync())
        }
        Err(error) => websocket::io::rejection(&error).map(|b| b.boxed_unsync()),
    }
}
// ANCHOR_END: websocket

/// Aborts a task when dropped.
#[derive(Debug)]
pub struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

// ANCHOR: split
/// A WebSocket split for a `select!` loop: a sender, and the messages received, read by a
/// task of their own (so a `select!` never cancels a read half-way). The channel ends when the
/// connection does; the reading task ends when the returned [`AbortOnDrop`] is dropped.
pub fn split(ws: Ws) -> (WsSender, mpsc::Receiver<Message>, AbortOnDrop) {
    let (mut receiver, sender) = ws.split();
    let (tx, rx) = mpsc::channel(64);
    let reader = tokio::spawn(async move {
        while let Ok(Some(message)) = receiver.recv().await {
            if tx.send(message).await.is_err() {
                break;
            }
        }
    });
    (sender, rx, AbortOnDrop(reader))
}
// ANCHOR_END: split

// ANCHOR: pong_for
/// The answer to a latency probe `{"type":"ping","t":T}`: `{"type":"pong","t":T}`. Every
/// WebSocket endpoint of the examples answers it, so a page can measure the round trip.
pub fn pong_for(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    if value.get("type")?.as_str()? != "ping" {
        return None;
    }
    let t = value.get("t").cloned().unwrap_or(serde_json::Value::Null);
    Some(serde_json::json!({"type": "pong", "t": t}).to_string())
}
// ANCHOR_END: pong_for

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_percent_decoded() {
        let uri: Uri = "/x?a=1&name=Ana%20Mar%C3%ADa+B&bad=%zz&end=%4&sign=%+1"
            .parse()
            .unwrap();
        assert_eq!(query_param(&uri, "a").as_deref(), Some("1"));
        assert_eq!(query_param(&uri, "name").as_deref(), Some("Ana María B"));
        assert_eq!(query_param(&uri, "bad").as_deref(), Some("%zz"));
        assert_eq!(query_param(&uri, "end").as_deref(), Some("%4"));
        // Not an escape: `+` is a space here, and `%` stays.
        assert_eq!(query_param(&uri, "sign").as_deref(), Some("% 1"));
        assert_eq!(query_param(&uri, "missing"), None);
    }

    /// A stream of two events, ready at once.
    struct Two(u8);

    impl Stream for Two {
        type Item = sse::Event;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<sse::Event>> {
            if self.0 == 2 {
                return Poll::Ready(None);
            }
            self.0 += 1;
            Poll::Ready(Some(sse::Event::new().data(self.0.to_string())))
        }
    }

    async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
        std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
    }

    #[tokio::test(start_paused = true)]
    async fn slow_delays_each_event_but_not_the_retry_line() {
        let server = Server::new();
        server.set_slow(Duration::from_secs(1));
        let mut paced = Paced {
            first: Some(sse::Event::new().retry(Duration::from_millis(500)).into()),
            events: Two(0),
            server: server.clone(),
            waiting: None,
        };
        let start = tokio::time::Instant::now();
        let retry = next(&mut paced).await.expect("retry");
        assert_eq!(retry, "retry: 500\n\n");
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(next(&mut paced).await.as_deref(), Some(&b"data: 1\n\n"[..]));
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        server.set_slow(Duration::ZERO);
        assert!(next(&mut paced).await.is_some());
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        assert!(next(&mut paced).await.is_none());
    }

    #[test]
    fn pings_get_pongs_and_nothing_else_does() {
        assert_eq!(
            pong_for(r#"{"type":"ping","t":12.5}"#).as_deref(),
            Some(r#"{"t":12.5,"type":"pong"}"#)
        );
        assert_eq!(pong_for("ping"), None);
        assert_eq!(pong_for(r#"{"type":"pick"}"#), None);
    }
}
