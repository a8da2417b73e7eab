//! `wirelab echo`: a WebSocket server that sends every Text and Binary message back.
//!
//! It is the target that Autobahn|Testsuite's fuzzingclient drives, so it runs with
//! [`websocket::Config::echo`]: 64 MiB frames and messages, above the suite's 16 MiB cases.
//! One task per connection; everything else (Pongs, the closing handshake, failing the
//! connection with the right close code) is the `websocket` crate's job.
//!
//! It accepts a handshake from any `Origin` unless it is given an allow-list
//! ([`ServerOptions::allowed_origins`], `wirelab echo --allow-origin`): it is a test target
//! for Autobahn and for tools that send no `Origin` or any they like, and serves no page of
//! its own whose users a check would protect.
//!
//! No task outlives its peer: keep-alive Pings find a peer that vanished without closing
//! TCP, and an echo that the peer does not read within [`SEND_TIMEOUT`] ends the connection.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use websocket::handshake::ServerOptions;
use websocket::{Config, Message, Timeouts};
use wirelab_examples::server::prefixed::Prefixed;
use wirelab_examples::server::tls;
#[cfg(doc)]
use wirelab_examples::server::tls::ALPN_HTTP1_ONLY;

// ANCHOR: echo_options
/// How long one echo may take to write: 64 MiB, the largest, in 30 s is 2 MiB/s.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The echo server's options: [`Config::echo`], with a keep-alive Ping after 30 s of silence
/// (and `ping_timeout`, 20 s, for the answer), and every `Origin` accepted.
pub fn options() -> ServerOptions {
    ServerOptions {
        config: Config {
            timeouts: Timeouts {
                ping_interval: Some(Duration::from_secs(30)),
                ..Timeouts::default()
            },
            ..Config::echo()
        },
        ..ServerOptions::default()
    }
}
// ANCHOR_END: echo_options

/// Accepts connections on `listener` forever, echoing on each in its own task, with
/// [`options`].
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    serve_with(listener, options()).await
}

/// Accepts connections on `listener` forever, echoing on each in its own task, with `options`.
pub async fn serve_with(listener: TcpListener, options: ServerOptions) -> std::io::Result<()> {
    serve_with_tls(listener, options, None).await
}

/// [`serve_with`], each connection over TLS with `tls` when given ([`accept_tls`]).
// ANCHOR: serve
pub async fn serve_with_tls(
    listener: TcpListener,
    options: ServerOptions,
    tls: Option<TlsAcceptor>,
) -> std::io::Result<()> {
    let options = Arc::new(options);
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
        let options = options.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            // Small frames go out at once (no Nagle delay); failing that is harmless.
            let _ = stream.set_nodelay(true);
            // A peer that breaks the protocol has been answered with a Close already; one
            // that failed the TLS handshake, with an alert or a plain-text 400.
            let _ = match tls {
                Some(acceptor) => match accept_tls(&acceptor, stream).await {
                    Ok(stream) => echo_connection(stream, &options).await,
                    Err(_) => return,
                },
                None => echo_connection(stream, &options).await,
            };
        });
    }
}
// ANCHOR_END: serve

// ANCHOR: accept_tls
/// The server side of TLS on one accepted connection: the handshake of
/// [`wirelab_examples::server::tls::accept`], whose stream then carries the WebSocket
/// handshake and frames as a TCP stream would. The acceptor's ALPN says which HTTP the
/// client may speak: [`ALPN_HTTP1_ONLY`] while this server speaks HTTP/1.1 alone.
pub async fn accept_tls(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
) -> std::io::Result<TlsStream<Prefixed<TcpStream>>> {
    tls::accept(acceptor, stream).await
}
// ANCHOR_END: accept_tls

/// Runs the handshake on `stream`, then echoes until the connection closes.
// ANCHOR: echo_connection
pub async fn echo_connection<S>(stream: S, options: &ServerOptions) -> Result<(), websocket::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut ws, _request) = websocket::io::accept(stream, options).await?;
    while let Some(message) = ws.recv().await? {
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            // A peer that stops reading must not hold this task, and the message, forever.
            // (A send cut short by the timeout leaves no half frame: `close` finishes it.)
            match tokio::time::timeout(SEND_TIMEOUT, ws.send(message)).await {
                Ok(sent) => sent?,
                Err(_elapsed) => return ws.close(1013, "too slow to read the echo").await,
            }
        }
    }
    Ok(())
}
// ANCHOR_END: echo_connection
