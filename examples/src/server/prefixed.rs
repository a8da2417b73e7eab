//! A stream that first hands back bytes already read from it: how the server looks at the
//! start of a connection (a TLS record, or the HTTP/2 connection preface) and still gives the
//! whole connection to rustls or hyper.
//!
//! Reading is the only way to look at bytes of a stream that is not a bare socket (a TLS
//! stream, a counted one); those bytes are then kept here and read again first.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream whose first bytes come from `prefix`, then from `inner`. Writes go to `inner`.
#[derive(Debug)]
pub struct Prefixed<S> {
    prefix: Bytes,
    inner: S,
}

impl<S> Prefixed<S> {
    /// `inner`, with `prefix` read first.
    pub fn new(prefix: Bytes, inner: S) -> Self {
        Prefixed { prefix, inner }
    }

    /// The stream underneath.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.prefix.has_remaining() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Reads from `stream` until `want` bytes have come or `keep_reading` says no more are needed
/// (given what came so far), or the stream ends. Returns what was read.
pub(super) async fn read_start<S: AsyncRead + Unpin>(
    stream: &mut S,
    want: usize,
    keep_reading: impl Fn(&[u8]) -> bool,
) -> io::Result<Bytes> {
    use tokio::io::AsyncReadExt as _;
    let mut start = Vec::with_capacity(want);
    while start.len() < want && keep_reading(&start) {
        let mut chunk = vec![0; want - start.len()];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        start.extend_from_slice(&chunk[..n]);
    }
    Ok(Bytes::from(start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test]
    async fn the_prefix_comes_first_then_the_stream() {
        let (mut near, far) = tokio::io::duplex(64);
        near.write_all(b" world").await.expect("write");
        drop(near);
        let mut stream = Prefixed::new(Bytes::from_static(b"hello"), far);
        let mut all = String::new();
        stream.read_to_string(&mut all).await.expect("read");
        assert_eq!(all, "hello world");
    }

    #[tokio::test]
    async fn reading_the_start_stops_early_or_at_the_end() {
        let (mut near, mut far) = tokio::io::duplex(64);
        near.write_all(b"GET / HTTP/1.1\r\n").await.expect("write");
        // A mismatch after the first byte is enough: no wait for more.
        let start = read_start(&mut far, 24, |so_far| so_far.is_empty()).await;
        assert_eq!(start.expect("read").len(), 16);
        drop(near);
        let start = read_start(&mut far, 24, |_| true).await.expect("read");
        assert!(start.is_empty());
    }
}
