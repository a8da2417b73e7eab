//! The one small HTTP server that every example, and `wirelab demo`, runs on.
//!
//! One port serves everything: pages, event streams and WebSocket upgrades. That is the normal
//! shape of a web application, and it is what lets the examples put SSE and WebSocket side by
//! side: both start as an HTTP/1.1 request to the same server. An event stream stays an HTTP
//! response that never ends; a WebSocket leaves HTTP after the `101 Switching Protocols`.
//!
//! Besides routing requests to a [`Handler`], the server does four things an example needs
//! to teach with:
//!
//! - **It counts bytes.** Every accepted TCP connection is wrapped in a counter of the bytes
//!   read from and written to the socket (`counted.rs`). [`Server::connections`] reports them
//!   per connection number ([`Conn::id`]), which a handler can tie to what its requests say
//!   (the demo sums them per page and transport).
//! - **It can be broken on purpose.** [`Server::cut_where`] drops connections without a
//!   goodbye (no last chunk, no Close frame): what a crashed server, a restarted load balancer
//!   or a lost Wi-Fi looks like to a client. [`Server::pause`] also closes the listening
//!   socket for a while, so reconnection attempts are refused. [`Server::set_slow`] delays
//!   every message the examples send ([`Conn::pace`]).
//! - **It can serve one request per connection** ([`Server::one_request_per_connection`]), so
//!   that a connection's bytes are exactly one request's bytes. The demo uses it to attribute
//!   bytes to transports exactly; payload bytes are the same as with keep-alive, only the TCP
//!   handshakes (which are not counted) are more.
//!
//! - **It speaks HTTP/1.1 and HTTP/2, in clear text or over TLS** ([`Server::use_tls`]): over
//!   TLS as ALPN decides (`tls.rs`), in clear text by the connection's first bytes, the
//!   HTTP/2 preface or a request (`protocol.rs`, with `prefixed.rs` to hand those bytes back).
//!   Each connection's record says which ([`Protocol`]) and how many requests, one per HTTP/2
//!   stream, it carried ([`ConnStats::requests`]).
//!
//! This file holds the server itself: its connections, their records and the controls.
//! Handlers answer in one of three ways, each helped by a file of its own, whose items are
//! re-exported here:
//!
//! | file | answer | helpers |
//! |---|---|---|
//! | `plain.rs` | a whole response | [`full`], [`json`], [`not_found`], [`read_body`], [`query_param`] |
//! | `event_stream.rs` | an event stream, a response that never ends | [`sse()`], [`channel_stream`] |
//! | `ws.rs` | a WebSocket session, after the `101` | [`websocket()`], [`send`], [`close`], [`pong_for`] |
//!
//! What a peer may make the server hold, in connections, time and memory, is `guard.rs`'s
//! [`Guards`], applied to every connection.

mod counted;
mod event_stream;
mod guard;
mod plain;
pub mod prefixed;
mod protocol;
pub mod tls;
mod ws;

pub use event_stream::{channel_stream, sse};
pub use guard::{BODY_TIMEOUT, Guards, MAX_CONNECTIONS, SOCKET_BUFFER, refuse_busy, size_buffers};
pub use plain::{full, json, not_found, query_param, read_body};
pub use protocol::PREFACE;
pub use ws::{
    MAX_MESSAGE, PING_INTERVAL, SEND_TIMEOUT, Ws, WsSender, close, pong_for, send, websocket,
};

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::Version;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use counted::{Counted, Counters};
pub use counted::{Wire, WireObserver};

/// A response body: a whole body, or an event stream.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;
/// A request as hyper delivers it.
pub type Request = http::Request<Incoming>;
/// A response with any [`Body`].
pub type Response = http::Response<Body>;
/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// What answers requests: called once per request, with the connection it came on.
pub type Handler = Arc<dyn Fn(Request, Conn) -> BoxFuture<Response> + Send + Sync>;

/// Closed connections kept in [`Server::connections`] (open ones are always kept).
const CLOSED_KEPT: usize = 1024;

/// One connection, as [`Server::connections`] reports it.
#[derive(Debug, Clone)]
pub struct ConnStats {
    /// The connection's number, from 1.
    pub id: u64,
    /// Bytes read from the client.
    pub read: u64,
    /// Bytes written to the client.
    pub written: u64,
    /// Still open.
    pub open: bool,
    /// How its bytes became HTTP (`None` until its start has been read).
    pub protocol: Option<Protocol>,
    /// The requests it carried: one per HTTP/2 stream, one per request over HTTP/1.1.
    pub requests: u64,
}

// ANCHOR: protocol
/// How a connection's bytes became HTTP, as [`Server::connections`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    /// Over TLS.
    pub tls: bool,
    /// The ALPN protocol (RFC 7301) the TLS handshake chose: `h2`, `http/1.1`, or `None`
    /// when the client offered none (or there was no TLS).
    pub alpn: Option<String>,
    /// The HTTP it speaks: [`Version::HTTP_2`] or [`Version::HTTP_11`].
    pub version: Version,
}
// ANCHOR_END: protocol

struct ConnRecord {
    counters: Arc<Counters>,
    cut: watch::Sender<bool>,
}

struct Inner {
    next_id: AtomicU64,
    conns: Mutex<BTreeMap<u64, ConnRecord>>,
    slow_ms: AtomicU64,
    one_request: AtomicBool,
    tls: Mutex<Option<TlsAcceptor>>,
    wire: Mutex<Option<WireObserver>>,
    /// A generation (bumped by each pause), how long, and a connection to spare.
    pause: watch::Sender<(u64, Duration, Option<u64>)>,
    /// A receiver made with the channel, so that [`serve`] also sees a pause asked for before
    /// it started.
    paused: watch::Receiver<(u64, Duration, Option<u64>)>,
    /// What a peer may make the server hold (`guard.rs`), and the connections open now.
    guards: Guards,
    open: guard::OpenCount,
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
    /// A server with no connections, not slowed down, with keep-alive, and the default
    /// [`Guards`].
    pub fn new() -> Self {
        Server::with_guards(Guards::default())
    }

    /// A server as [`Server::new`], with `guards` for its limits.
    pub fn with_guards(guards: Guards) -> Self {
        let (pause, paused) = watch::channel((0, Duration::ZERO, None));
        Server {
            inner: Arc::new(Inner {
                next_id: AtomicU64::new(1),
                conns: Mutex::new(BTreeMap::new()),
                slow_ms: AtomicU64::new(0),
                one_request: AtomicBool::new(false),
                tls: Mutex::new(None),
                wire: Mutex::new(None),
                pause,
                paused,
                guards,
                open: guard::OpenCount::default(),
            }),
        }
    }

    /// The limits this server applies to its connections.
    pub fn guards(&self) -> &Guards {
        &self.inner.guards
    }

    /// Connections open now, WebSockets included: what [`Guards::max_connections`] caps.
    pub fn open_connections(&self) -> usize {
        self.inner.open.get()
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

    /// Show every connection's bytes to `observer` as they cross its socket (the demo's wire
    /// view annotates them). Set it before [`serve`] starts.
    pub fn observe_wire(&self, observer: WireObserver) {
        *self
            .inner
            .wire
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(observer);
    }

    fn wire_observer(&self) -> Option<WireObserver> {
        self.inner
            .wire
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Speak TLS on every connection, with `acceptor` (see [`tls`]): HTTP/2 or HTTP/1.1 as
    /// its ALPN decides. Without it, connections are clear text, HTTP/2 for a client that
    /// opens with the [`PREFACE`] and HTTP/1.1 otherwise. Set it before [`serve`] starts.
    pub fn use_tls(&self, acceptor: TlsAcceptor) {
        *self
            .inner
            .tls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(acceptor);
    }

    fn tls(&self) -> Option<TlsAcceptor> {
        self.inner
            .tls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Drops every open connection without a goodbye. Returns how many were cut.
    pub fn cut(&self) -> usize {
        self.cut_where(|_| true)
    }

    // ANCHOR: cut_where
    /// Drops, without a goodbye, every open connection whose number `which` picks. Returns
    /// how many were cut.
    pub fn cut_where(&self, which: impl Fn(u64) -> bool) -> usize {
        let conns = self.conns();
        let mut cut = 0;
        for (id, record) in conns.iter() {
            if record.counters.open.load(Ordering::Relaxed) && which(*id) {
                record.cut.send_replace(true);
                cut += 1;
            }
        }
        cut
    }
    // ANCHOR_END: cut_where

    /// Stops the server for `how_long`: cuts every connection and closes the listening
    /// socket, so that connection attempts are refused, then listens again on the same
    /// address.
    pub fn pause(&self, how_long: Duration) {
        self.pause_except(how_long, None);
    }

    fn pause_except(&self, how_long: Duration, spared: Option<u64>) {
        self.inner
            .pause
            .send_modify(|(generation, duration, spare)| {
                *generation += 1;
                *duration = how_long;
                *spare = spared;
            });
    }

    /// Delays every message the examples send by `delay` (zero: no delay).
    pub fn set_slow(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.inner.slow_ms.store(ms, Ordering::Relaxed);
    }

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
                read: record.counters.read.load(Ordering::Relaxed),
                written: record.counters.written.load(Ordering::Relaxed),
                open: record.counters.open.load(Ordering::Relaxed),
                protocol: record.counters.protocol.get().cloned(),
                requests: record.counters.requests.load(Ordering::Relaxed),
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
    counters: Arc<Counters>,
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

    /// How this connection's bytes became HTTP (`None` only before its first request).
    pub fn protocol(&self) -> Option<&Protocol> {
        self.counters.protocol.get()
    }

    fn set_protocol(&self, tls: bool, alpn: Option<String>, version: Version) {
        // Set once, before the first request; a second call has nothing to change.
        let _ = self.counters.protocol.set(Protocol { tls, alpn, version });
    }

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
                server.cut_where(|id| Some(id) != spared);
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
    let guards = &server.inner.guards;
    let Some(slot) = server.inner.open.take(guards.max_connections) else {
        guard::refuse_busy(stream);
        return;
    };
    // Small messages are the point of these examples: send each at once.
    let _ = stream.set_nodelay(true);
    guard::size_buffers(&stream, guards.socket_buffer);
    let (id, counters, cut) = server.register();
    let conn = Conn {
        id,
        server: server.clone(),
        cut,
        counters: counters.clone(),
    };
    let observer = server.wire_observer().map(|observer| (id, observer));
    let stream = Counted {
        stream,
        counters,
        observer,
    };
    // The place under the cap goes with the stream, and the write deadline sits beneath
    // everything above it: TLS, HTTP/1.1 or HTTP/2, and an upgraded WebSocket.
    let stream = guard::Guarded::new(stream, slot, guards.write_timeout);
    let head_timeout = guards.head_timeout;
    let handler = handler.clone();
    let tls = server.tls();
    tokio::spawn(async move {
        let served = async {
            match tls {
                // Over TLS the handshake's ALPN says which HTTP: `h2`, or HTTP/1.1 for
                // `http/1.1` and for a client that offered no ALPN at all.
                Some(acceptor) => {
                    let stream = tls::accept(&acceptor, stream).await?;
                    let alpn = tls::alpn(&stream);
                    let version = match alpn.as_deref() {
                        Some("h2") => Version::HTTP_2,
                        _ => Version::HTTP_11,
                    };
                    conn.set_protocol(true, alpn, version);
                    protocol::serve_http(stream, version, handler, conn.clone()).await;
                }
                // In clear text, the first bytes say: the HTTP/2 preface, or a request.
                None => {
                    let (version, stream) = protocol::sniff(stream, head_timeout).await?;
                    conn.set_protocol(false, None, version);
                    protocol::serve_http(stream, version, handler, conn.clone()).await;
                }
            }
            Ok::<_, io::Error>(())
        };
        // Dropping the connection future drops the socket: that is the cut, of every HTTP/2
        // stream at once. An upgraded WebSocket lives on in its own task, which watches the
        // same signal. A failed handshake has had its answer (a TLS alert, or the plain `400`
        // of `tls::accept`); the connection just ends.
        tokio::select! {
            _ = served => {}
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
