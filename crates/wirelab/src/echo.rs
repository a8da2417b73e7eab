//! `wirelab echo`: a WebSocket server that sends every Text and Binary message back.
//!
//! It is the target that Autobahn|Testsuite's fuzzingclient drives, so it runs with
//! [`websocket::Config::echo`]: 64 MiB frames and messages, above the suite's 16 MiB cases.
//! It speaks WebSocket over HTTP/1.1 (RFC 6455's Upgrade) and over HTTP/2 in clear text
//! (RFC 8441's extended CONNECT, any number of WebSockets per connection), on the same port:
//! [`serve_connection`] tells the two apart by the connection's first bytes.
//! One task per WebSocket; everything else (Pongs, the closing handshake, failing the
//! connection with the right close code) is the `websocket` crate's job.
//!
//! It accepts a handshake from any `Origin` unless it is given an allow-list
//! ([`ServerOptions::allowed_origins`], `wirelab echo --allow-origin`): it is a test target
//! for Autobahn and for tools that send no `Origin` or any they like, and serves no page of
//! its own whose users a check would protect.
//!
//! No task outlives its peer: keep-alive Pings find a peer that vanished without closing
//! TCP, and a peer that takes none of an echo for [`SEND_TIMEOUT`] is closed with 1013.
//! What all the peers together can make it hold is bounded by its [`Capacity`]: a cap on
//! connections (past it, new ones get `503` and are closed), a memory budget for
//! unfinished messages and echoes waiting for the socket, and a size for each connection's
//! kernel buffers, so that what a peer that reads nothing leaves queued in the kernel is
//! bounded too.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use websocket::handshake::ServerOptions;
use websocket::io::{Budget, WebSocket};
use websocket::{Config, Error, Message, Timeouts};
use wirelab_examples::server::prefixed::Prefixed;
use wirelab_examples::server::tls;
#[cfg(doc)]
use wirelab_examples::server::tls::ALPN_H2_HTTP1;

// ANCHOR: echo_options
/// The echo's write deadline (`Timeouts::write`): how long a peer may take none of an echo
/// before it is closed with 1013. The crate's default.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The echo server's options: [`Config::echo`], with a keep-alive Ping after 30 s of silence
/// (and `ping_timeout`, 20 s, for the answer), the write deadline [`SEND_TIMEOUT`], and every
/// `Origin` accepted.
pub fn options() -> ServerOptions {
    ServerOptions {
        config: Config {
            timeouts: Timeouts {
                ping_interval: Some(Duration::from_secs(30)),
                write: SEND_TIMEOUT,
                ..Timeouts::default()
            },
            ..Config::echo()
        },
        ..ServerOptions::default()
    }
}
// ANCHOR_END: echo_options

/// What all the echo server's peers together may make it hold.
#[derive(Debug, Clone)]
pub struct Capacity {
    /// Most connections open at once; past it, a new one gets `503` with `Retry-After` and is
    /// closed. Default: [`wirelab_examples::server::MAX_CONNECTIONS`], the demo's.
    pub max_connections: usize,
    /// The bytes held in unfinished messages and in echoes waiting for the socket, by all
    /// connections; past it, the largest holders are closed with 1013. Default:
    /// [`Budget::DEFAULT_LIMIT`], 256 MiB: four of the largest messages (64 MiB) at once.
    pub budget: Budget,
    /// The size asked of the kernel for each connection's send and receive buffers
    /// (`SO_SNDBUF`, `SO_RCVBUF`), as the demo's [`Guards::socket_buffer`]: left to itself,
    /// Linux grows a send buffer to several MB for a peer that reads nothing, and the budget
    /// above cannot see those bytes. `None` leaves them to the kernel. Default:
    /// [`SOCKET_BUFFER`], 64 KiB.
    ///
    /// [`Guards::socket_buffer`]: wirelab_examples::server::Guards::socket_buffer
    /// [`SOCKET_BUFFER`]: wirelab_examples::server::SOCKET_BUFFER
    pub socket_buffer: Option<usize>,
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity {
            max_connections: wirelab_examples::server::MAX_CONNECTIONS,
            budget: Budget::default(),
            socket_buffer: Some(wirelab_examples::server::SOCKET_BUFFER),
        }
    }
}

/// Accepts connections on `listener` forever, echoing on each in its own task, with
/// [`options`] and the default [`Capacity`].
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    serve_with(listener, options()).await
}

/// Accepts connections on `listener` forever, echoing on each in its own task, with `options`
/// and the default [`Capacity`].
pub async fn serve_with(listener: TcpListener, options: ServerOptions) -> std::io::Result<()> {
    serve_within(listener, options, Capacity::default(), None).await
}

/// Accepts connections on `listener` forever, echoing on each in its own task, with `options`,
/// within `capacity`, and over TLS with `tls` when given ([`accept_tls`]).
// ANCHOR: serve
pub async fn serve_within(
    listener: TcpListener,
    options: ServerOptions,
    capacity: Capacity,
    tls: Option<TlsAcceptor>,
) -> std::io::Result<()> {
    let options = Arc::new(options);
    let open = Arc::new(Semaphore::new(capacity.max_connections));
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // A connection that died before we took it (ECONNABORTED) or a momentary shortage
            // of file descriptors must not stop the server.
            Err(e) => {
                eprintln!("echo: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        // A place under the cap, held by the connection's task until it ends.
        let Ok(place) = open.clone().try_acquire_owned() else {
            wirelab_examples::server::refuse_busy(stream);
            continue;
        };
        let (options, budget, tls) = (options.clone(), capacity.budget.clone(), tls.clone());
        // Small frames go out at once (no Nagle delay); failing that is harmless.
        let _ = stream.set_nodelay(true);
        wirelab_examples::server::size_buffers(&stream, capacity.socket_buffer);
        tokio::spawn(async move {
            // A peer that breaks the protocol has been answered with a Close already; one
            // that failed the TLS handshake, with an alert or a plain-text 400.
            let _ = match tls {
                Some(acceptor) => match accept_tls(&acceptor, stream).await {
                    Ok(stream) => serve_connection(stream, options, budget).await,
                    Err(_) => return,
                },
                None => serve_connection(stream, options, budget).await,
            };
            drop(place);
        });
    }
}
// ANCHOR_END: serve

// ANCHOR: accept_tls
/// The server side of TLS on one accepted connection: the handshake of
/// [`wirelab_examples::server::tls::accept`], whose stream then carries the WebSocket
/// handshake and frames as a TCP stream would. The acceptor's ALPN says which HTTP the
/// client may speak: `wirelab echo --tls` offers [`ALPN_H2_HTTP1`], and
/// [`serve_connection`] tells the two apart by the first bytes, as in clear text.
pub async fn accept_tls(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
) -> std::io::Result<TlsStream<Prefixed<TcpStream>>> {
    tls::accept(acceptor, stream).await
}
// ANCHOR_END: accept_tls

/// Serves one connection, HTTP/1.1 or HTTP/2 in clear text, told apart by its first bytes
/// ([`crate::h2c::detect`]): WebSocket by the HTTP/1.1 Upgrade ([`echo_connection`]) or by
/// RFC 8441's extended CONNECT, on as many streams as the client opens ([`serve_http2`]).
// ANCHOR: serve_connection
pub async fn serve_connection<S>(
    stream: S,
    options: Arc<ServerOptions>,
    budget: Budget,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limit = options.config.timeouts.handshake;
    match crate::h2c::detect(stream, limit).await? {
        (true, stream) => serve_http2(stream, options, budget).await,
        (false, stream) => echo_connection(stream, &options, &budget).await,
    }
}
// ANCHOR_END: serve_connection

/// Runs the handshake on `stream`, then echoes until the connection closes, on `budget`.
// ANCHOR: echo_connection
pub async fn echo_connection<S>(
    stream: S,
    options: &ServerOptions,
    budget: &Budget,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (ws, _request) = websocket::io::accept(stream, options).await?;
    echo(ws.with_budget(budget)).await
}

/// Sends every Text and Binary message back until the connection closes.
pub async fn echo<S>(mut ws: WebSocket<S>) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(message) = ws.recv().await? {
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            // A peer that takes none of the echo for `Timeouts::write` fails the send; the
            // next `recv` ends the connection with Close 1013 and returns that error.
            match ws.send(message).await {
                Ok(()) | Err(Error::WriteTimeout | Error::OverBudget) => {}
                Err(error) => return Err(error),
            }
        }
    }
    Ok(())
}
// ANCHOR_END: echo_connection

/// Serves HTTP/2 on `stream` (whose first bytes are the client's preface): every extended
/// CONNECT that `websocket::io::upgrade` accepts becomes a WebSocket echoed on its own task,
/// every other request gets the refusal that says why. hyper advertises
/// `SETTINGS_ENABLE_CONNECT_PROTOCOL` (RFC 8441 §3) and does the HTTP/2.
// ANCHOR: serve_http2
pub async fn serve_http2<S>(
    stream: S,
    options: Arc<ServerOptions>,
    budget: Budget,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        let answer = match websocket::io::upgrade(&mut req, &options) {
            Ok((response, upgrading)) => {
                let budget = budget.clone();
                tokio::spawn(async move {
                    // As over HTTP/1.1: a peer that broke a rule has had its Close.
                    if let Ok(ws) = upgrading.finish().await {
                        let _ = echo(ws.with_budget(&budget)).await;
                    }
                });
                response
            }
            Err(error) => websocket::io::rejection(&error),
        };
        std::future::ready(Ok::<_, Infallible>(answer))
    });
    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .enable_connect_protocol()
        // No `date` header: the answers carry what WebSocket needs, as over HTTP/1.1.
        .auto_date_header(false)
        .serve_connection(TokioIo::new(stream), service)
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))
}
// ANCHOR_END: serve_http2
