//! Telling HTTP/2 in clear text (h2c) from HTTP/1.1 on one port, by the first bytes a client
//! sends.
//!
//! A client that knows a server speaks HTTP/2 ("prior knowledge", RFC 9113 §3.3) opens with
//! the 24-byte connection preface, `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` (§3.4), which no
//! HTTP/1.1 request starts with: an HTTP/1.1 server reads it as a request with method `PRI`
//! and refuses it. So a server can read the first bytes, compare them with the preface, and
//! give the connection, those bytes included, to its HTTP/2 or its HTTP/1.1 side. Over TLS the
//! choice is ALPN's instead, made during the TLS handshake.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, ReadBuf};

/// The client connection preface of HTTP/2 (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads from `stream` until its first bytes either are the HTTP/2 preface or cannot be, and
/// returns which, with the stream and those bytes put back in front of it. Gives up after
/// `limit` (a client that sends nothing) with a `TimedOut` error.
// ANCHOR: detect
pub async fn detect<S>(mut stream: S, limit: Duration) -> io::Result<(bool, Rewound<S>)>
where
    S: AsyncRead + Unpin,
{
    let mut first = Vec::with_capacity(PREFACE.len());
    let reading = async {
        // Only as many bytes as the preface has, and no more reads than it takes to tell: an
        // HTTP/1.1 request differs from it in its first byte (`GET`), so it costs one small read.
        while first.len() < PREFACE.len() && PREFACE.starts_with(&first) {
            let mut buf = [0u8; 24];
            let want = PREFACE.len() - first.len();
            let n = stream.read(&mut buf[..want]).await?;
            if n == 0 {
                break;
            }
            first.extend_from_slice(&buf[..n]);
        }
        Ok::<_, io::Error>(())
    };
    match tokio::time::timeout(limit, reading).await {
        Ok(read) => read?,
        Err(_) => return Err(io::ErrorKind::TimedOut.into()),
    }
    let http2 = first.as_slice() == PREFACE;
    Ok((http2, Rewound::new(first, stream)))
}
// ANCHOR_END: detect

/// A stream with bytes already read from it put back in front: reads return them first.
#[derive(Debug)]
pub struct Rewound<S> {
    first: Vec<u8>,
    at: usize,
    stream: S,
}

impl<S> Rewound<S> {
    /// `stream`, whose first reads return `first`.
    pub fn new(first: Vec<u8>, stream: S) -> Rewound<S> {
        Rewound {
            first,
            at: 0,
            stream,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewound<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = &mut *self;
        if me.at < me.first.len() {
            let n = buf.remaining().min(me.first.len() - me.at);
            buf.put_slice(&me.first[me.at..me.at + n]);
            me.at += n;
            if me.at == me.first.len() {
                me.first = Vec::new();
                me.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut me.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewound<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
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

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt as _;

    use super::*;

    async fn detected(sent: &[&[u8]]) -> (bool, Vec<u8>) {
        let (mut client, server) = tokio::io::duplex(1024);
        for piece in sent {
            client.write_all(piece).await.unwrap();
        }
        drop(client);
        let (http2, mut stream) = detect(server, Duration::from_secs(5)).await.unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        (http2, all)
    }

    #[tokio::test]
    async fn the_preface_is_http2_and_every_byte_is_kept() {
        let (http2, all) = detected(&[&PREFACE[..5], &PREFACE[5..], b"\0\0\0\x04"]).await;
        assert!(http2);
        assert_eq!(all, [&PREFACE[..], b"\0\0\0\x04"].concat());
    }

    #[tokio::test]
    async fn a_request_is_http1_and_every_byte_is_kept() {
        for request in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"PRI * HTTP/1.1\r\n\r\n",
            b"P",
        ] {
            let (http2, all) = detected(&[request]).await;
            assert!(!http2, "{request:?}");
            assert_eq!(all, request);
        }
    }
}
