//! Which HTTP a connection speaks, and hyper's server for it: HTTP/2 when the TLS handshake
//! chose `h2` by ALPN, or, in clear text, when the client opens with the HTTP/2 connection
//! preface (h2c "with prior knowledge", RFC 9113 §3.3); HTTP/1.1 otherwise.
//!
//! Browsers speak HTTP/2 only over TLS, so clear-text HTTP/2 is for programs: the tests, the
//! Python `h2` peer, `wirelab sse --http2-prior-knowledge`, and the wire tap, which reads
//! clear text only. The preface is read here, by hand, rather than by hyper-util's `auto`
//! server, which does the same but has no setting for HTTP/1.1's head size: this server
//! bounds heads exactly as the byte-level WebSocket server does (see [`serve_http`]).

use std::convert::Infallible;
use std::io;
use std::time::Duration;

use http::Version;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use super::prefixed::{Prefixed, read_start};
use super::{Conn, Handler, Request};

// ANCHOR: preface
/// The HTTP/2 client connection preface (RFC 9113 §3.4): the 24 bytes a client speaking
/// HTTP/2 sends first. It is built to fail as an HTTP/1.1 request: `PRI` is no method an
/// HTTP/1.1 server serves, so an old server answers an error rather than misreading frames.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// ANCHOR_END: preface

/// Silence on an HTTP/2 connection after which the server sends a PING.
const H2_PING_INTERVAL: Duration = Duration::from_secs(30);

// ANCHOR: sniff
/// Reads the start of a clear-text connection: HTTP/2 if it is the [`PREFACE`], HTTP/1.1
/// otherwise. Reading stops at the first byte that differs from the preface, so an HTTP/1.1
/// request is not held waiting for 24 bytes. The bytes read are handed back in front of the
/// stream.
///
/// # Errors
///
/// When reading fails, or the start has not come within `limit` (the server's head
/// deadline, [`Guards::head_timeout`](super::Guards::head_timeout)).
pub(super) async fn sniff<S: AsyncRead + Unpin>(
    mut stream: S,
    limit: Duration,
) -> io::Result<(Version, Prefixed<S>)> {
    let start = tokio::time::timeout(
        limit,
        read_start(&mut stream, PREFACE.len(), |so_far| {
            PREFACE.starts_with(so_far)
        }),
    )
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no request in time"))??;
    let version = if start[..] == PREFACE[..] {
        Version::HTTP_2
    } else {
        Version::HTTP_11
    };
    Ok((version, Prefixed::new(start, stream)))
}
// ANCHOR_END: sniff

// ANCHOR: serve_http
/// Serves the requests of one connection, in `version`, with `handler`, until it ends.
pub(super) async fn serve_http<I>(io: I, version: Version, handler: Handler, conn: Conn)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let keep_alive = !conn
        .server
        .inner
        .one_request
        .load(std::sync::atomic::Ordering::Relaxed);
    let service_conn = conn.clone();
    let service = hyper::service::service_fn(move |mut request: Request| {
        service_conn.counters.count_request();
        // Handlers see how the request came (`origin::own_origin` needs the scheme).
        if let Some(protocol) = service_conn.protocol() {
            request.extensions_mut().insert(protocol.clone());
        }
        let response = handler(request, service_conn.clone());
        async move { Ok::<_, Infallible>(response.await) }
    });
    let io = TokioIo::new(io);
    // The head bounds of the byte-level WebSocket server (`websocket::io::accept`, which
    // `wirelab echo` runs), so that a head one server refuses, the other refuses too: 16 KiB,
    // start line included, and 64 headers. hyper's HTTP/1.1 reads both as "head too large" and
    // answers `431 Request Header Fields Too Large`, with an empty body, then closes the
    // connection without calling the handler: a head it would not parse whole has no request
    // to hand over. `max_header_size` bounds the head alone; `max_buf_size` would bound the
    // read buffer, bodies included, and cannot go below 8 KiB. (hyper's own defaults are
    // about 400 KB of buffer and 100 headers.) HTTP/2's bound is on the decoded header list
    // (RFC 9113 §6.5.2, SETTINGS_MAX_HEADER_LIST_SIZE); a larger one gets `431` too.
    let limits = websocket::Limits::default();
    if version == Version::HTTP_2 {
        // SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3): a client may open a WebSocket as an
        // extended CONNECT on a stream of this connection, and hyper hands it to the handler
        // like any request. One-request-per-connection has no HTTP/2 form: every stream of
        // the connection is served. A PING after 30 s of silence, answered within hyper's
        // 20 s, finds a peer that vanished without closing TCP, as the WebSocket sessions'
        // pings do.
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(H2_PING_INTERVAL)
            .enable_connect_protocol()
            .max_header_list_size(u32::try_from(limits.max_handshake_size).unwrap_or(u32::MAX))
            .serve_connection(io, service)
            .await;
    } else {
        // The head deadline is also the idle limit between requests (see `guard.rs`).
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(conn.server.inner.guards.head_timeout)
            .keep_alive(keep_alive)
            .max_headers(limits.max_headers)
            .max_header_size(limits.max_handshake_size)
            .serve_connection(io, service)
            .with_upgrades()
            .await;
    }
}
// ANCHOR_END: serve_http

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt as _;

    #[tokio::test]
    async fn the_preface_is_http2_and_anything_else_http1() {
        for (start, version) in [
            (&PREFACE[..], Version::HTTP_2),
            (b"GET / HTTP/1.1\r\n", Version::HTTP_11),
            (b"PRI * HTTP/1.1\r\n", Version::HTTP_11),
            (b"POST / HTTP/1.1\r\n", Version::HTTP_11),
        ] {
            let (mut client, server) = tokio::io::duplex(64);
            client.write_all(start).await.expect("write");
            let (found, _) = sniff(server, Duration::from_secs(10)).await.expect("sniff");
            assert_eq!(found, version, "{:?}", String::from_utf8_lossy(start));
        }
    }

    #[tokio::test]
    async fn a_preface_in_pieces_is_still_one() {
        let (mut client, server) = tokio::io::duplex(64);
        let sniffing = tokio::spawn(sniff(server, Duration::from_secs(10)));
        for piece in PREFACE.chunks(5) {
            client.write_all(piece).await.expect("write");
            tokio::task::yield_now().await;
        }
        let (found, _) = sniffing.await.expect("task").expect("sniff");
        assert_eq!(found, Version::HTTP_2);
    }
}
