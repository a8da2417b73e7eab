//! WebSocket over HTTP/2 (RFC 8441), the I/O of both sides: a hyper HTTP/2 request accepted as
//! an extended CONNECT ([`super::upgrade`] calls [`upgrade`] here), and a client that opens
//! WebSockets as streams of one HTTP/2 connection ([`Http2Connection`]).
//!
//! hyper speaks HTTP/2 (framing, HPACK, flow control, SETTINGS); this module adds what
//! RFC 8441 adds: the extended CONNECT checked by [`crate::handshake::http2`], and the stream
//! handed to the very same [`WebSocket`] that runs over a TCP socket. hyper's `Upgraded` is
//! that stream: its reads are the stream's DATA frames, its writes become DATA frames, and
//! its shutdown is END_STREAM, which over HTTP/2 is what a TCP FIN is over HTTP/1.1
//! (RFC 8441 §5). A stream reset by the peer (RST_STREAM) ends the reads with an error, or
//! with the end of input for CANCEL, so the connection reports it as 1006, as a TCP reset.
//!
//! A server needs only hyper's `http2::Builder::enable_connect_protocol()`, which advertises
//! `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (RFC 8441 §3) and lets hyper accept `:protocol`.
//! A client must not send an extended CONNECT before the server has advertised that setting,
//! and hyper does not check it for the client; so [`Http2Connection`] waits for the server's
//! first SETTINGS frame and reads the setting from hyper once it has been handled.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body_util::{Empty, Full};
use hyper::client::conn::http2::SendRequest;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;

use super::upgrade::Upgrading;
use super::{ClientOptions, WebSocket};
use crate::connection::Role;
use crate::error::Error;
use crate::handshake::http2::{Accepted, ConnectRequest, check_connect, check_response};
use crate::handshake::{Response, ServerOptions};

/// The extended CONNECT in `req`, checked (RFC 8441 §4, §5): the `200` response and the
/// pending stream, or the error that [`super::rejection`] answers.
// ANCHOR: upgrade_h2
pub(super) fn upgrade<B>(
    req: &mut http::Request<B>,
    options: &ServerOptions,
) -> Result<(http::Response<Full<Bytes>>, Upgrading), Error> {
    let uri = req.uri();
    let request = ConnectRequest {
        method: req.method().as_str().to_owned(),
        protocol: (req.extensions().get::<hyper::ext::Protocol>())
            .map(|p| p.as_str().to_owned()),
        scheme: uri.scheme_str().map(str::to_owned),
        authority: uri.authority().map(|a| a.as_str().to_owned()),
        path: uri.path_and_query().map(|p| p.as_str().to_owned()),
        // Every value of every header, repeats included, as on the HTTP/1.1 path.
        headers: (req.headers().iter())
            .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
            .collect(),
    };
    let accepted = check_connect(&request, options)?;
    let mut response = http::Response::builder().status(Accepted::STATUS);
    if let Some(p) = &accepted.subprotocol {
        response = response.header(http::header::SEC_WEBSOCKET_PROTOCOL, p.as_str());
    }
    // An empty body: hyper sends the 200 without END_STREAM, and the stream stays open.
    let response = (response.body(Full::new(Bytes::new())))
        .map_err(|e| Error::MalformedHttp(e.to_string()))?;
    let upgrading = Upgrading {
        on_upgrade: hyper::upgrade::on(req),
        config: options.config,
        subprotocol: accepted.subprotocol,
    };
    Ok((response, upgrading))
}
// ANCHOR_END: upgrade_h2

/// A WebSocket over one stream of an HTTP/2 connection.
pub type Http2WebSocket = WebSocket<TokioIo<Upgraded>>;

/// A client's HTTP/2 connection, on which each [`websocket`](Http2Connection::websocket)
/// call opens one more WebSocket as one more stream. Clones share the connection.
///
/// The transport is whatever byte stream the caller hands to [`Http2Connection::handshake`]:
/// a TCP socket for clear text (h2c, with prior knowledge: RFC 9113 §3.3), or a TLS stream
/// that negotiated `h2` by ALPN.
#[derive(Clone)]
pub struct Http2Connection {
    send: SendRequest<Empty<Bytes>>,
    /// `None` until the server's first SETTINGS has been handled; then whether it allows
    /// extended CONNECT. The sender goes when the connection ends.
    settings: watch::Receiver<Option<bool>>,
    scheme: &'static str,
    authority: String,
}

impl std::fmt::Debug for Http2Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http2Connection")
            .field("authority", &self.authority)
            .field("extended_connect", &*self.settings.borrow())
            .finish_non_exhaustive()
    }
}

impl Http2Connection {
    /// Starts HTTP/2 over `io` (the client's connection preface) and drives the connection on
    /// a task of its own until it ends. `authority` is the server's `host:port` as
    /// `:authority` names it; `tls` says whether `io` is TLS (`:scheme` `https`, RFC 8441 §5:
    /// `wss://`) or clear text (`http`, `ws://`).
    // ANCHOR: http2_handshake
    pub async fn handshake<S>(io: S, authority: &str, tls: bool) -> Result<Http2Connection, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let first_frame = Arc::new(AtomicBool::new(false));
        let io = FirstFrame::new(io, first_frame.clone());
        let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .map_err(io::Error::other)?;
        let (settings_tx, settings) = watch::channel(None);
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            // hyper reads a frame only once it has handled those it read before, so once the
            // server's first frame has been read and a poll has returned, its SETTINGS (RFC
            // 9113 §3.4: the first frame a server sends) have been applied.
            let _ = poll_fn(|cx| {
                let polled = conn.as_mut().poll(cx);
                if first_frame.load(Ordering::Acquire) && settings_tx.borrow().is_none() {
                    settings_tx.send_replace(Some(conn.is_extended_connect_protocol_enabled()));
                }
                polled
            })
            .await;
        });
        Ok(Http2Connection {
            send,
            settings,
            scheme: if tls { "https" } else { "http" },
            authority: authority.to_owned(),
        })
    }
    // ANCHOR_END: http2_handshake

    /// Whether the server allows extended CONNECT (`SETTINGS_ENABLE_CONNECT_PROTOCOL`,
    /// RFC 8441 §3), once its first SETTINGS frame has arrived.
    pub async fn extended_connect_enabled(&self) -> Result<bool, Error> {
        let mut settings = self.settings.clone();
        let known = settings.wait_for(Option::is_some).await;
        known.map(|s| *s == Some(true)).map_err(|_| Error::HandshakeIncomplete)
    }

    /// Opens a WebSocket on a new stream of this connection: an extended CONNECT to `path`,
    /// sent once the server has said it accepts one, then the checks of the `200`, within
    /// `options.config.timeouts.handshake`. A server that did not advertise the setting
    /// gives [`Error::ExtendedConnectNotEnabled`], before anything is sent.
    // ANCHOR: http2_websocket
    pub async fn websocket(
        &self,
        path: &str,
        options: &ClientOptions,
    ) -> Result<(Http2WebSocket, Response), Error> {
        let config = options.config;
        let protocols: Vec<&str> = options.protocols.iter().map(String::as_str).collect();
        let request = ConnectRequest::client(self.scheme, &self.authority, path, &protocols)?;
        let handshake = async {
            if !self.extended_connect_enabled().await? {
                return Err(Error::ExtendedConnectNotEnabled);
            }
            let mut send = self.send.clone();
            send.ready().await.map_err(io::Error::other)?;
            let mut response = send
                .send_request(to_hyper(&request)?)
                .await
                .map_err(io::Error::other)?;
            let head = Response {
                version: 2,
                status: response.status().as_u16(),
                reason: String::new(),
                headers: (response.headers().iter())
                    .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
                    .collect(),
            };
            let subprotocol = check_response(head.status, &head.headers, &options.protocols)?;
            let upgraded = hyper::upgrade::on(&mut response)
                .await
                .map_err(io::Error::other)?;
            let stream = TokioIo::new(upgraded);
            let ws = WebSocket::from_stream(stream, Role::Client, config, &[], subprotocol);
            Ok((ws, head))
        };
        tokio::time::timeout(config.timeouts.handshake, handshake)
            .await
            .unwrap_or(Err(Error::HandshakeIncomplete))
    }
    // ANCHOR_END: http2_websocket
}

/// hyper's form of an extended CONNECT: the method and URI make `:method`, `:scheme`,
/// `:authority` and `:path`; the `Protocol` extension makes `:protocol`.
fn to_hyper(request: &ConnectRequest) -> Result<http::Request<Empty<Bytes>>, Error> {
    let uri = http::Uri::builder()
        .scheme(request.scheme.as_deref().unwrap_or("http"))
        .authority(request.authority.as_deref().unwrap_or_default())
        .path_and_query(request.path.as_deref().unwrap_or("/"))
        .build()
        .map_err(|e| Error::BadUrl(e.to_string()))?;
    let mut builder = http::Request::builder()
        .method(http::Method::CONNECT)
        .version(http::Version::HTTP_2)
        .uri(uri);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_slice());
    }
    let mut req = (builder.body(Empty::new())).map_err(|e| Error::MalformedHttp(e.to_string()))?;
    if let Some(protocol) = &request.protocol {
        let protocol = hyper::ext::Protocol::from(protocol.as_str());
        req.extensions_mut().insert(protocol);
    }
    Ok(req)
}

/// Connects to a `ws://` URL over HTTP/2 in clear text (h2c with prior knowledge, RFC 9113
/// §3.3): TCP, the HTTP/2 connection, then one WebSocket on it. The connection is returned
/// too, to open more WebSockets on it.
// ANCHOR: connect_http2
pub async fn connect_http2(
    url: &str,
    options: &ClientOptions,
) -> Result<(Http2WebSocket, Response, Http2Connection), Error> {
    let url = super::client::parse_url(url)?;
    let connecting = async {
        let tcp = tokio::net::TcpStream::connect(&url.authority).await?;
        tcp.set_nodelay(true)?;
        Http2Connection::handshake(tcp, &url.host, false).await
    };
    let h2 = tokio::time::timeout(options.config.timeouts.handshake, connecting)
        .await
        .unwrap_or(Err(Error::HandshakeIncomplete))?;
    let (ws, response) = h2.websocket(&url.resource, options).await?;
    Ok((ws, response, h2))
}
// ANCHOR_END: connect_http2

/// A byte stream that notes when the first frame its peer sent has been read whole: a
/// frame header is 9 bytes, the first 3 the payload length (RFC 9113 §4.1). It reads no
/// further into HTTP/2; the frame is hyper's.
struct FirstFrame<S> {
    io: S,
    /// Bytes of the first frame read so far (at most its whole).
    read: usize,
    header: [u8; 9],
    whole: Arc<AtomicBool>,
}

impl<S> FirstFrame<S> {
    fn new(io: S, whole: Arc<AtomicBool>) -> FirstFrame<S> {
        FirstFrame {
            io,
            read: 0,
            header: [0; 9],
            whole,
        }
    }

    fn saw(&mut self, bytes: &[u8]) {
        if self.whole.load(Ordering::Relaxed) || bytes.is_empty() {
            return;
        }
        if self.read < 9 {
            let n = bytes.len().min(9 - self.read);
            self.header[self.read..self.read + n].copy_from_slice(&bytes[..n]);
        }
        self.read += bytes.len();
        if self.read >= 9 {
            let [a, b, c, ..] = self.header;
            let length = u32::from_be_bytes([0, a, b, c]) as usize;
            if self.read >= 9 + length {
                self.whole.store(true, Ordering::Release);
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FirstFrame<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.io).poll_read(cx, buf))?;
        self.saw(&buf.filled()[before..]);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FirstFrame<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first frame is known whole only at its last byte, however the reads cut it.
    #[test]
    fn the_first_frame_is_whole_at_its_last_byte() {
        // A SETTINGS frame with one setting (6 bytes), then a second frame's start.
        let mut bytes = vec![0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 1];
        bytes.extend([0, 0, 0, 4, 1]);
        for cut in 1..bytes.len() {
            let whole = Arc::new(AtomicBool::new(false));
            let mut frame = FirstFrame::new((), whole.clone());
            for piece in bytes[..14].chunks(cut) {
                frame.saw(piece);
            }
            assert!(!whole.load(Ordering::Relaxed), "14 of 15 bytes, cut {cut}");
            frame.saw(&bytes[14..]);
            assert!(whole.load(Ordering::Relaxed), "cut {cut}");
        }
    }
}
