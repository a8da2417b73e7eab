//! What a peer can make the server hold, and for how long: the connection cap, the head and
//! body deadlines, the write deadline beneath hyper, and the WebSocket memory budget, in one
//! [`Guards`] that the server applies to every connection.
//!
//! Each guard answers one attack on a public server, and the book's security chapter has the
//! table:
//!
//! - **too many connections** ([`Guards::max_connections`]): past the cap, a new connection
//!   gets `503 Service Unavailable` with `Retry-After` and is closed; those already open are
//!   untouched. The count includes upgraded WebSockets, whose task keeps the socket;
//! - **a slow head** (slowloris) and **an idle keep-alive connection**
//!   ([`Guards::head_timeout`]): hyper's `header_read_timeout`, which runs from the moment
//!   hyper waits for a request head, so it also closes a keep-alive connection idle for that
//!   long (an event stream is not idle: hyper reads no head while a response is going out);
//! - **a slow body** ([`BODY_TIMEOUT`] in `read_body`): `408 Request Timeout`;
//! - **a client that reads nothing** ([`Guards::write_timeout`]): a write deadline on the
//!   socket itself. hyper asks an event stream's body for more only when the socket has taken
//!   what it had, so a deadline measured from the body would never run while the client reads
//!   nothing; measured beneath hyper, on the I/O, it does. A write that the socket has taken
//!   no byte of for that long fails with `TimedOut`, hyper drops the connection, and the
//!   event stream ends (its client reconnects with `Last-Event-ID` and the history fills the
//!   gap). WebSocket sessions have the same deadline in the `websocket` crate, which sends
//!   1013 first where it can;
//! - **unfinished messages and send queues** ([`Guards::budget`]): one
//!   [`websocket::io::Budget`] for the whole server; past it, the largest holders are closed
//!   with 1013;
//! - **the kernel's queues** ([`Guards::socket_buffer`]): what a peer that reads nothing, or
//!   sends faster than the server reads, leaves in the connection's kernel buffers. Linux
//!   grows them by itself up to `net.ipv4.tcp_wmem` and `tcp_rmem`'s maximums (4 and 32 MiB
//!   on common distributions), megabytes per stalled connection for as long as the deadlines
//!   let it stall; a fixed size holds each to a known amount.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use websocket::io::Budget;

/// The default cap on open connections, for the demo and `wirelab echo`: 10,000. An idle
/// connection costs a few KB in the process and a few in the kernel, so 10,000 cost tens of
/// MB; each also takes a file descriptor, and a process allowed fewer (`ulimit -n`, often
/// 1,024) fails to accept before the cap is reached, which the accept loop survives.
pub const MAX_CONNECTIONS: usize = 10_000;

/// How long a request body may take to arrive in all, once its head is in: the head's
/// deadline again, [`Guards::head_timeout`]'s default. A body trickled past it gets 408.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The limits the server applies to every connection. `Guards::default()` documents each
/// default, sized for a public server on a small machine.
// ANCHOR: guards
#[derive(Debug, Clone)]
pub struct Guards {
    /// Most connections open at once, WebSockets included; past it, `503` with
    /// `Retry-After`. Default: [`MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// How long a request head may take, and how long a keep-alive connection may wait idle
    /// for the next one. Default: 10 s, `websocket::Timeouts::default().handshake`, so that
    /// `wirelab echo` and the demo cut a slow head at the same moment.
    pub head_timeout: Duration,
    /// How long the socket may take none of the bytes written to it. Default: 30 s,
    /// `websocket::Timeouts::default().write`.
    pub write_timeout: Duration,
    /// What all WebSocket sessions together may hold in unfinished messages and send queues.
    /// Default: [`Budget::DEFAULT_LIMIT`], 256 MiB.
    pub budget: Budget,
    /// The largest WebSocket message (and frame). Default: [`super::MAX_MESSAGE`], 64 KiB.
    pub max_message: usize,
    /// The size asked of the kernel for each connection's send and receive buffers
    /// (`SO_SNDBUF`, `SO_RCVBUF`); Linux doubles it for its bookkeeping and no longer grows
    /// them by itself. `None` leaves them to the kernel. Default: [`SOCKET_BUFFER`].
    pub socket_buffer: Option<usize>,
}
// ANCHOR_END: guards

impl Default for Guards {
    fn default() -> Self {
        let timeouts = websocket::Timeouts::default();
        Guards {
            max_connections: MAX_CONNECTIONS,
            head_timeout: timeouts.handshake,
            write_timeout: timeouts.write,
            budget: Budget::default(),
            max_message: super::MAX_MESSAGE,
            socket_buffer: Some(SOCKET_BUFFER),
        }
    }
}

/// The default of [`Guards::socket_buffer`]: 64 KiB each way, so at most about 256 KiB of
/// kernel memory per connection. That is two of the examples' largest messages in flight,
/// and it passes 64 KiB per round trip: 5 MB/s on a 100 ms path, far more than any of the
/// examples sends to one client.
pub const SOCKET_BUFFER: usize = 64 << 10;

/// Sets `stream`'s kernel send and receive buffers to `size` (see [`Guards::socket_buffer`]).
/// A failure leaves them to the kernel: the connection still works, with its usual buffers.
pub fn size_buffers(stream: &TcpStream, size: Option<usize>) {
    if let Some(size) = size {
        let socket = socket2::SockRef::from(stream);
        let _ = socket.set_send_buffer_size(size);
        let _ = socket.set_recv_buffer_size(size);
    }
}

/// The count of open connections, against the cap.
#[derive(Debug, Default)]
pub(super) struct OpenCount(Arc<AtomicUsize>);

impl OpenCount {
    /// A place for one more connection, if the cap allows it.
    pub(super) fn take(&self, cap: usize) -> Option<Slot> {
        let taken = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < cap).then_some(open + 1)
            })
            .is_ok();
        taken.then(|| Slot(self.0.clone()))
    }

    /// Connections open now.
    pub(super) fn get(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// One open connection's place under the cap, given back when the connection's I/O goes.
#[derive(Debug)]
pub(super) struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers a connection over the cap: `503` with `Retry-After`, then closes it. The request
/// is not read, but what the client sends is read and dropped until it closes: closing a
/// socket with unread bytes makes the kernel send a reset, which can destroy the answer before
/// the client reads it. Bounded: a client that does neither is dropped after a second.
/// (`wirelab echo` answers with it too.)
pub fn refuse_busy(mut stream: TcpStream) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\
        Content-Type: text/plain; charset=utf-8\r\nContent-Length: 29\r\n\
        Connection: close\r\n\r\ntoo many connections, retry\r\n";
    tokio::spawn(async move {
        let answer = async {
            stream.write_all(BUSY).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 512];
            while stream.read(&mut sink).await? > 0 {}
            Ok::<_, io::Error>(())
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
    });
}

/// A connection's I/O with its place under the cap and a write deadline: a write that the
/// socket has taken no byte of for `write_timeout` fails with `TimedOut`.
pub(super) struct Guarded<S> {
    stream: S,
    write_timeout: Duration,
    /// Set when a write first has to wait; cleared by any byte written. Boxed: only a
    /// connection whose client is slow to read pays for it.
    stalled: Option<Pin<Box<Sleep>>>,
    _slot: Slot,
}

impl<S> Guarded<S> {
    pub(super) fn new(stream: S, slot: Slot, write_timeout: Duration) -> Guarded<S> {
        Guarded {
            stream,
            write_timeout,
            stalled: None,
            _slot: slot,
        }
    }

    /// The write is pending: start the deadline if it is not running, and fail once it has
    /// passed.
    // ANCHOR: deadline
    fn wait_or_fail<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let timeout = self.write_timeout;
        let deadline = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(deadline.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "write deadline: the client reads nothing",
        )))
    }
    // ANCHOR_END: deadline
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write(cx, buf) {
            Poll::Pending => self.wait_or_fail(cx),
            written => {
                self.stalled = None;
                written
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write_vectored(cx, bufs) {
            Poll::Pending => self.wait_or_fail(cx),
            written => {
                self.stalled = None;
                written
            }
        }
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

    /// A peer that reads nothing: the write fails at the deadline. One that reads a little
    /// at a time, each time within the deadline, is never cut.
    #[tokio::test(start_paused = true)]
    async fn a_write_the_socket_takes_nothing_of_fails_at_the_deadline() {
        let count = OpenCount::default();
        let (a, _peer) = tokio::io::duplex(64);
        let slot = count.take(1).expect("room");
        let mut guarded = Guarded::new(a, slot, Duration::from_secs(3));
        let written = tokio::time::timeout(Duration::from_secs(600), guarded.write_all(&[1; 100]))
            .await
            .expect("bounded");
        let error = written.expect_err("the deadline");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        drop(guarded);
        assert_eq!(count.get(), 0, "the slot is given back");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_reading_is_not_cut() {
        use tokio::io::AsyncReadExt as _;

        let count = OpenCount::default();
        let (a, mut peer) = tokio::io::duplex(64);
        let mut guarded = Guarded::new(a, count.take(1).expect("room"), Duration::from_secs(3));
        let reading = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let mut total = 0;
            while total < 1000 {
                tokio::time::sleep(Duration::from_secs(2)).await;
                total += peer.read(&mut buf).await.expect("duplex");
            }
        });
        guarded.write_all(&[1; 1000]).await.expect("written");
        reading.await.expect("no panic");
    }

    /// The kernel's buffers of a connection take the size asked (Linux reports it doubled),
    /// instead of the kernel's defaults, which it would grow to megabytes.
    #[tokio::test]
    async fn a_connection_s_kernel_buffers_are_held_to_the_size_asked() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let _client = TcpStream::connect(addr).await.expect("connect");
        let (stream, _) = listener.accept().await.expect("accept");
        let sizes = |stream: &TcpStream| {
            let socket = socket2::SockRef::from(stream);
            let send = socket.send_buffer_size().expect("SO_SNDBUF");
            let receive = socket.recv_buffer_size().expect("SO_RCVBUF");
            (send, receive)
        };
        let before = sizes(&stream);
        size_buffers(&stream, None);
        assert_eq!(sizes(&stream), before, "None leaves them to the kernel");
        size_buffers(&stream, Some(SOCKET_BUFFER));
        let (send, receive) = sizes(&stream);
        for size in [send, receive] {
            assert!(
                (SOCKET_BUFFER..=2 * SOCKET_BUFFER).contains(&size),
                "{size} bytes, asked {SOCKET_BUFFER}"
            );
        }
        // Left to the kernel, the send buffer starts at `tcp_wmem`'s default (16 KiB on
        // common distributions), below this range, and grows from there as it likes.
    }

    #[test]
    fn the_cap_refuses_the_one_too_many_and_frees_with_the_slot() {
        let count = OpenCount::default();
        let first = count.take(2).expect("room");
        let _second = count.take(2).expect("room");
        assert!(count.take(2).is_none(), "full");
        drop(first);
        assert!(count.take(2).is_some(), "room again");
    }

    #[test]
    fn the_head_timeout_is_the_websocket_handshakes() {
        let guards = Guards::default();
        assert_eq!(
            guards.head_timeout,
            websocket::Timeouts::default().handshake
        );
        assert_eq!(BODY_TIMEOUT, guards.head_timeout);
    }
}
