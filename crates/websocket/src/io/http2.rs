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
//! and hyper does not check it for the client (it offers the setting's value only, on its
//! connection future); so [`Http2Connection`] waits until the server's first SETTINGS have
//! been applied, and then reads the setting from hyper.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use atomic_waker::AtomicWaker;
use bytes::Bytes;
use http_body_util::{Empty, Full};
use hyper::client::conn::http2::SendRequest;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;

use super::upgrade::{Upgrading, accepting, header_list};
use super::{ClientOptions, WebSocket, WsUrl};
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
        protocol: (req.extensions().get::<hyper::ext::Protocol>()).map(|p| p.as_str().to_owned()),
        scheme: uri.scheme_str().map(str::to_owned),
        authority: uri.authority().map(|a| a.as_str().to_owned()),
        path: uri.path_and_query().map(|p| p.as_str().to_owned()),
        headers: header_list(req.headers()),
    };
    let accepted = check_connect(&request, options)?;
    let response = http::Response::builder().status(Accepted::STATUS);
    // No extension over HTTP/2: offers are declined by not answering them (RFC 6455 §9.1).
    accepting(req, response, accepted.subprotocol, None, options)
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
    // req: h2ws/5/scheme
    // ANCHOR: http2_handshake
    pub async fn handshake<S>(io: S, authority: &str, tls: bool) -> Result<Http2Connection, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let acked = Arc::new(SettingsAcked::default());
        let io = TokioIo::new(AckWatch::new(io, acked.clone()));
        let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(io::Error::other)?;
        let (settings_tx, settings) = watch::channel(None);
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            // Woken when the acknowledgement of the server's SETTINGS has been written: hyper
            // has applied them, and its answer is the server's (see `AckWatch`).
            let _ = poll_fn(|cx| {
                acked.waker.register(cx.waker());
                let polled = conn.as_mut().poll(cx);
                if acked.done.load(Ordering::Acquire) && settings_tx.borrow().is_none() {
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
        known.map(|s| *s == Some(true)).map_err(|_| {
            // The connection ended first: an HTTP/1.1 server answers the preface with an error
            // and closes, for one.
            let why = "the connection ended before the server's HTTP/2 SETTINGS: not HTTP/2?";
            Error::Io(io::Error::new(io::ErrorKind::UnexpectedEof, why))
        })
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
        let (stream, response, subprotocol) = self.open_stream(path, options).await?;
        let ws = WebSocket::from_stream(stream, Role::Client, options.config, &[], subprotocol);
        Ok((ws, response))
    }

    /// [`websocket`](Http2Connection::websocket) without the [`WebSocket`]: the stream
    /// itself, whose bytes are WebSocket frames, the response, and the subprotocol chosen.
    /// For tests that write frames by hand, and for callers that wrap the stream before
    /// [`WebSocket::from_stream`] (`wirelab ws` boxes every transport into one type).
    pub async fn open_stream(
        &self,
        path: &str,
        options: &ClientOptions,
    ) -> Result<(TokioIo<Upgraded>, Response, Option<String>), Error> {
        let protocols: Vec<&str> = options.protocols.iter().map(String::as_str).collect();
        let request = ConnectRequest::client(self.scheme, &self.authority, path, &protocols)?;
        let handshake = async {
            // RFC 8441 §3: not before the server has said yes.
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
                headers: header_list(response.headers()),
            };
            let subprotocol = check_response(head.status, &head.headers, &options.protocols)?;
            let upgraded = hyper::upgrade::on(&mut response)
                .await
                .map_err(io::Error::other)?;
            Ok((TokioIo::new(upgraded), head, subprotocol))
        };
        tokio::time::timeout(options.config.timeouts.handshake, handshake)
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
/// too, to open more WebSockets on it. For `wss://`, hand the TLS stream that agreed on `h2`
/// to [`Http2Connection::handshake`] with `tls = true` (`wirelab ws` does).
pub async fn connect_http2(
    url: &str,
    options: &ClientOptions,
) -> Result<(Http2WebSocket, Response, Http2Connection), Error> {
    let url = WsUrl::parse(url)?;
    if url.secure {
        return Err(Error::WssNeedsTls);
    }
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

/// The moment this client has acknowledged the server's first SETTINGS, shared between the
/// stream that sees it written and the task that then asks hyper for the setting.
#[derive(Default)]
struct SettingsAcked {
    done: AtomicBool,
    waker: AtomicWaker,
}

/// A byte stream that notes when the client writes its first SETTINGS acknowledgement: a
/// frame of type 0x4 with the ACK flag 0x1 (RFC 9113 §6.5). h2 applies the server's SETTINGS
/// as it queues that acknowledgement, before writing it, so once it has been written the
/// setting hyper reports is the server's. Only the frame headers of what the client writes are
/// read (9 bytes each, the first 3 the payload length, RFC 9113 §4.1), to find where each frame
/// starts; the frames are hyper's.
struct AckWatch<S> {
    io: S,
    /// Written bytes still to pass before the next frame header: the 24-byte preface, then
    /// each frame's payload.
    skip: usize,
    header: [u8; 9],
    /// Bytes of `header` seen so far.
    have: usize,
    acked: Arc<SettingsAcked>,
}

impl<S> AckWatch<S> {
    fn new(io: S, acked: Arc<SettingsAcked>) -> AckWatch<S> {
        AckWatch {
            io,
            skip: 24,
            header: [0; 9],
            have: 0,
            acked,
        }
    }

    fn wrote(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.acked.done.load(Ordering::Relaxed) {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (9 - self.have).min(bytes.len());
            self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            if self.have == 9 {
                let [a, b, c, kind, flags, ..] = self.header;
                if kind == 0x4 && flags & 0x1 == 0x1 {
                    self.acked.done.store(true, Ordering::Release);
                    self.acked.waker.wake();
                }
                self.skip = u32::from_be_bytes([0, a, b, c]) as usize;
                self.have = 0;
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for AckWatch<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for AckWatch<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.io).poll_write(cx, buf))?;
        self.wrote(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut n = ready!(Pin::new(&mut self.io).poll_write_vectored(cx, bufs))?;
        let written = n;
        for buf in bufs {
            let part = n.min(buf.len());
            self.wrote(&buf[..part]);
            n -= part;
        }
        Poll::Ready(Ok(written))
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

    /// The acknowledgement is found only once its header is whole, however the writes cut the
    /// bytes, and a SETTINGS frame without the flag, or a payload that looks like one, is not it.
    #[test]
    fn the_settings_ack_is_found_in_the_written_frames() {
        let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        // Our SETTINGS (one setting), a WINDOW_UPDATE whose payload has the bytes of an ACK
        // header's type and flag, then the ACK.
        bytes.extend([0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0]);
        bytes.extend([0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 4, 1, 0]);
        let ack_end = bytes.len() + 9;
        bytes.extend([0, 0, 0, 4, 1, 0, 0, 0, 0]);
        for cut in 1..bytes.len() {
            let acked = Arc::new(SettingsAcked::default());
            let mut watch = AckWatch::new((), acked.clone());
            for piece in bytes[..ack_end - 1].chunks(cut) {
                watch.wrote(piece);
            }
            assert!(!acked.done.load(Ordering::Relaxed), "cut {cut}");
            watch.wrote(&bytes[ack_end - 1..]);
            assert!(acked.done.load(Ordering::Relaxed), "cut {cut}");
        }
    }
}
