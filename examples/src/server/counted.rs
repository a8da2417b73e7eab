//! A TCP stream that counts the bytes crossing it: how the examples' server measures what a
//! protocol puts on the wire.
//!
//! What is counted is the TCP payload, every byte the socket reads or writes: TLS records,
//! HTTP heads, chunked coding or HTTP/2 frames, events, the WebSocket handshake and frames.
//! TCP and IP headers are not included, and neither is anything below the socket.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::Protocol;

/// What one TCP connection has carried, shared between its stream, its requests and the
/// server's record of it: bytes, requests (HTTP/2 streams), and the protocol it speaks.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) read: AtomicU64,
    pub(super) written: AtomicU64,
    pub(super) open: AtomicBool,
    pub(super) requests: AtomicU64,
    /// Set once the connection's start (TLS handshake, HTTP/2 preface) has been read.
    pub(super) protocol: OnceLock<Protocol>,
}

impl Counters {
    /// One more request on this connection.
    pub(super) fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
}

/// What crossed one connection's socket, as a [`WireObserver`] sees it.
#[derive(Debug, Clone, Copy)]
pub enum Wire<'a> {
    /// Bytes read from the client.
    Read(&'a [u8]),
    /// Bytes written to the client.
    Written(&'a [u8]),
    /// The socket is gone.
    Closed,
}

/// Sees every byte each connection reads and writes, with the connection's number, as it
/// crosses the socket (under TLS, the encrypted records). It runs inside the socket's read
/// and write, so it must be quick and must not block.
pub type WireObserver = Arc<dyn Fn(u64, Wire<'_>) + Send + Sync>;

// ANCHOR: counted
/// A TCP stream that counts the bytes crossing it.
pub(super) struct Counted {
    pub(super) stream: TcpStream,
    pub(super) counters: Arc<Counters>,
    /// The server's observer, if it has one, and this connection's number.
    pub(super) observer: Option<(u64, WireObserver)>,
}
// ANCHOR_END: counted

impl Counted {
    fn observe(&self, wire: Wire<'_>) {
        if let Some((id, observer)) = &self.observer {
            observer(*id, wire);
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.counters.open.store(false, Ordering::Relaxed);
        self.observe(Wire::Closed);
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
        if n > 0 {
            self.observe(Wire::Read(&buf.filled()[before..]));
        }
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
        self.observe(Wire::Written(&buf[..n]));
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.stream).poll_write_vectored(cx, bufs))?;
        self.counters.written.fetch_add(n as u64, Ordering::Relaxed);
        // The observer sees what was written: the first `n` bytes of the slices, in order.
        let mut left = n;
        for buf in bufs {
            if left == 0 {
                break;
            }
            let take = left.min(buf.len());
            self.observe(Wire::Written(&buf[..take]));
            left -= take;
        }
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
