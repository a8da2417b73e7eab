//! The I/O layer: tokio adapters that move bytes between a socket and a [`Connection`].
//!
//! Three ways in, one result, a [`WebSocket`]:
//!
//! - [`accept`]: a server reads the opening handshake from a fresh TCP connection;
//! - [`upgrade`]: a hyper 1 service upgrades one of its requests, so one port serves pages,
//!   Server-Sent Events and WebSocket;
//! - [`connect`]: a client dials a `ws://` URL; [`handshake_over`] runs the same handshake
//!   over a stream the caller opened (the TLS stream of a `wss://` URL);
//! - over HTTP/2 (RFC 8441), [`upgrade`] accepts an extended CONNECT just as it accepts an
//!   Upgrade, and a client opens WebSockets as streams of an [`Http2Connection`]
//!   ([`connect_http2`] for a `ws://` URL in clear text).
//!
//! A [`WebSocket`] works over any byte stream (`AsyncRead + AsyncWrite + Unpin`): a TCP socket,
//! hyper's upgraded connection, an in-memory pipe in the tests.
//!
//! # The rooms
//!
//! A message goes from the socket to the application through [`reader`] (`recv`: read, hand
//! the bytes to the connection, return its events), whose waits are bounded by the clock in
//! `keepalive` (the keep-alive Ping and the closing deadline). A message goes to the socket
//! through [`writer`] (`send`: queue it in the connection, write the queue in order). When the
//! connection is over, `closing` writes the last Close, shuts TCP down and drains. What the
//! two directions share, the stream, the [`Connection`] and the queue of bytes being written,
//! is one `Core` (`shared`).
//!
//! # One task or two
//!
//! A [`WebSocket`] that one task uses owns its core, and `recv` and `send` take no lock: an
//! echo server, a client that talks in turns. [`WebSocket::split`] gives a [`Receiver`] and a
//! [`Sender`] that two tasks can own; they share the core behind one short-lived
//! `std::sync::Mutex`, taken for one step (a parse, or the reads and writes one poll makes
//! until the socket would wait) and never held across an `.await`: a half never waits for the
//! other's I/O to complete, at most for the system calls of one poll.
//!
//! The receiver writes too: the Pong for each Ping (§5.5.2) and the reply to a Close, which
//! the connection queues by itself. It writes them while it waits for the next bytes, so an
//! application that only reads still answers pings; and if they pile up past
//! `Limits::write_buffer_size` (a peer that pings and does not read), it stops reading until
//! they are written.
//!
//! # Cancellation
//!
//! Every method may be dropped at an `.await` (a `timeout` around `send`, a `select!` around
//! `recv`) without harm: the sending methods leave the rest of a started frame queued for the
//! next flush from either half (see [`writer`]), `recv` keeps what it took from the connection
//! until a call returns it (see [`reader`]), and a cancelled [`WebSocket::close`] has queued
//! its Close, which a later `recv` sends.
//!
//! # Closing, and timeouts
//!
//! Every wait at the end of a connection is bounded by one of [`Timeouts`](crate::Timeouts)
//! (see `closing`), and with keep-alive (`Timeouts::ping_interval`) a peer that neither answers
//! nor reads is found within `ping_timeout` of the Ping. An ordinary `send` to a peer that is
//! slow to read waits as long as the peer takes (that is backpressure): bound it with a
//! `timeout`, which is safe (see Cancellation).
//!
//! # Memory of an idle connection
//!
//! An idle server connection holds its core (the stream, the connection with empty buffers),
//! the reader's 512-byte buffer and the future of `recv`, which `tests/idle_size.rs` bounds; the
//! performance chapter measures the whole per connection with `wirelab-bench idle`.

mod budget;
mod client;
mod closing;
mod http2;
mod keepalive;
pub mod reader;
mod server;
mod shared;
mod upgrade;
pub mod writer;

pub use budget::Budget;
pub use client::{ClientOptions, WsUrl, connect, connect_with, handshake_over};
pub use http2::{Http2Connection, Http2WebSocket, connect_http2};
pub use reader::Receiver;
pub use server::accept;
pub use upgrade::{Upgrading, rejection, upgrade};
pub use writer::Sender;

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::Config;
use crate::connection::{CloseFrame, Connection, Message, Role};
use crate::deflate::PerMessageDeflate;
use crate::error::Error;
use reader::ReadState;
use shared::Core;
use writer::WriteWaiters;

/// A WebSocket connection over a byte stream `S` (a `TcpStream`, or hyper's upgraded
/// connection). Use it directly from one task, or [`split`](WebSocket::split) it between two.
// ANCHOR: websocket_struct
pub struct WebSocket<S> {
    core: Core<S>,
    reader: ReadState,
    subprotocol: Option<String>,
}
// ANCHOR_END: websocket_struct

impl<S> std::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("subprotocol", &self.subprotocol)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Wraps a stream whose opening handshake is done. `leftover` holds bytes that arrived
    /// after the handshake head: the first frames.
    // ANCHOR: from_stream
    pub fn from_stream(
        stream: S,
        role: Role,
        config: Config,
        leftover: &[u8],
        subprotocol: Option<String>,
    ) -> WebSocket<S> {
        let mut conn = Connection::new(role, config.limits);
        conn.receive(leftover);
        WebSocket {
            core: Core::new(stream, conn, config.timeouts.write),
            reader: ReadState::new(config.timeouts),
            subprotocol,
        }
    }
    // ANCHOR_END: from_stream

    /// Puts this connection on `budget`, the process's memory budget: what it holds of an
    /// unfinished message and of a send queue counts against the budget's limit, and when
    /// the total passes it, the largest holders are closed with 1013 (`recv` fails with
    /// [`Error::OverBudget`]). See [`Budget`]. Call it before [`split`](WebSocket::split).
    pub fn with_budget(mut self, budget: &Budget) -> WebSocket<S> {
        self.core.account = Some(budget.open());
        self.core.charge();
        self
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Turns on permessage-deflate (RFC 7692) if the handshake agreed on it, compressing at
    /// zlib `level`. [`accept`], [`upgrade`] and [`connect`] do it; a handshake made by hand
    /// calls it after [`WebSocket::from_stream`].
    pub fn with_deflate(mut self, agreed: Option<PerMessageDeflate>, level: u8) -> Self {
        if let Some(params) = agreed {
            self.core.conn.set_deflate(params, level);
        }
        self
    }

    /// permessage-deflate as the handshake agreed on it, if it did.
    pub fn deflate(&self) -> Option<PerMessageDeflate> {
        self.core.conn.deflate().map(|d| d.params())
    }

    /// Splits into a receiving half and a sending half, for two tasks. They share the
    /// connection behind one lock, and every write waits with a waker that wakes both (see
    /// [`writer`]).
    // ANCHOR: split
    pub fn split(self) -> (Receiver<S>, Sender<S>) {
        let mut core = self.core;
        core.waiters = Some(WriteWaiters::new());
        let shared = Arc::new(Mutex::new(core));
        let sender = Sender {
            shared: shared.clone(),
        };
        let receiver = Receiver {
            shared,
            state: self.reader,
        };
        (receiver, sender)
    }
    // ANCHOR_END: split

    /// The next message; see [`Receiver::recv`].
    pub async fn recv(&mut self) -> Result<Option<Message>, Error> {
        reader::recv(&mut self.core, &mut self.reader).await
    }

    /// Queues a message and writes everything queued.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        writer::send(&mut self.core, message).await
    }

    /// Closes: sends a Close with `code` and `reason`, reads (and drops) messages until the
    /// peer's Close, then ends the TCP connection the way RFC 6455 §7.1.1 asks of its role. If
    /// the peer's Close has not arrived within `Timeouts::close`, it gives up with
    /// [`Error::CloseTimeout`] and shuts the socket's write side down.
    // ANCHOR: websocket_close
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), Error> {
        let timeouts = self.reader.timeouts;
        let (core, reader) = (&mut self.core, &mut self.reader);
        // `Timeouts::close` bounds the closing handshake as a whole: a peer that does not read
        // our Close, or that keeps sending data after it and never its own, must not keep us.
        let handshake = async {
            let close = CloseFrame {
                code,
                reason: reason.to_owned(),
            };
            writer::send(core, Message::Close(Some(close))).await?;
            while let Some(message) = reader::recv(core, reader).await? {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
            Ok(())
        };
        match tokio::time::timeout(timeouts.close, handshake).await {
            // What is left, the end of TCP, has bounds of its own (`linger`, `last_write`).
            Ok(Ok(())) => {
                while reader::recv(&mut self.core, &mut self.reader)
                    .await?
                    .is_some()
                {}
                Ok(())
            }
            Ok(Err(error)) => Err(error),
            Err(_elapsed) => {
                closing::stop_sending(&mut self.core);
                self.reader.done = true;
                closing::shutdown_within(&mut self.core, timeouts.last_write).await;
                Err(Error::CloseTimeout)
            }
        }
    }
    // ANCHOR_END: websocket_close
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncWriteExt as _;

    use super::*;

    /// A peer that sends exactly one small buffer's worth (512 bytes, a frame's beginning) and
    /// goes quiet: the next read would fill the large buffer if the bytes were there, but they
    /// are not, so the connection waits with the small one and holds no 64 KiB.
    #[tokio::test(start_paused = true)]
    async fn a_peer_quiet_after_exactly_512_bytes_does_not_leave_the_large_buffer() {
        let (a, mut peer) = tokio::io::duplex(4096);
        let mut ws = WebSocket::from_stream(a, Role::Server, Config::default(), &[], None);
        // A masked Binary frame of 1,000 bytes (key 0), cut after 512 bytes in all.
        let mut bytes = vec![0x82, 0xFE, 0x03, 0xE8, 0, 0, 0, 0];
        bytes.resize(512, 7);
        peer.write_all(&bytes).await.expect("duplex");
        let waiting = tokio::time::timeout(Duration::from_secs(1), ws.recv()).await;
        assert!(waiting.is_err(), "the frame is not complete");
        assert_eq!(ws.reader.buffers.large_capacity(), 0);
        // The rest of the frame still arrives whole.
        peer.write_all(&[7; 1000 + 8 - 512]).await.expect("duplex");
        let message = ws.recv().await.expect("a message");
        assert_eq!(message, Some(Message::Binary(vec![7; 1000])));
    }

    /// A message larger than the small buffer that arrives whole is read big; once the
    /// connection has been quiet for `LARGE_KEEP`, it holds no 64 KiB.
    #[tokio::test(start_paused = true)]
    async fn the_large_buffer_goes_when_the_connection_waits() {
        let (a, mut peer) = tokio::io::duplex(1 << 16);
        let mut ws = WebSocket::from_stream(a, Role::Server, Config::default(), &[], None);
        let mut frame = vec![0x82, 0xFE, 0x03, 0xE8, 0, 0, 0, 0];
        frame.resize(8 + 1000, 7);
        peer.write_all(&frame).await.expect("duplex");
        let message = ws.recv().await.expect("a message");
        assert_eq!(message, Some(Message::Binary(vec![7; 1000])));
        let waiting = tokio::time::timeout(Duration::from_secs(2), ws.recv()).await;
        assert!(waiting.is_err(), "nothing more was sent");
        assert_eq!(ws.reader.buffers.large_capacity(), 0);
    }

    /// A peer that floods us with Pings and reads none of the Pongs: however fast it sends,
    /// and whichever buffer the reads use, what we hold for it stays near
    /// `write_buffer_size`, because the reader stops reading once the Pongs pile up. (The
    /// Pings are all waiting before the first read, so every read fills the large buffer.)
    #[tokio::test(start_paused = true)]
    async fn a_ping_flood_that_reads_nothing_is_held_to_the_write_buffer() {
        use crate::config::Limits;

        let mut client = Connection::new(Role::Client, Limits::default());
        for _ in 0..32 << 10 {
            client.send(Message::Ping(vec![1; 125])).expect("open");
        }
        let flood = client.take_output();
        let (from_peer, mut peer_writes) = tokio::io::simplex(flood.len());
        peer_writes
            .write_all(&flood)
            .await
            .expect("room for all of it");
        // Our Pongs go into a 64 KiB pipe that nobody reads.
        let (_peer_reads, to_peer) = tokio::io::simplex(64 << 10);
        let stream = tokio::io::join(from_peer, to_peer);
        let mut ws = WebSocket::from_stream(stream, Role::Server, Config::default(), &[], None);
        let reading = tokio::time::timeout(Duration::from_secs(10), async {
            while let Ok(Some(_)) = ws.recv().await {}
        })
        .await;
        assert!(reading.is_err(), "the reader waits for the Pongs to drain");
        let held = ws.core.unwritten();
        let limit = Limits::default().write_buffer_size;
        // The limit, plus the Pongs of one large read (64 KiB of Pings) at most.
        assert!(held <= limit + (64 << 10), "{held} bytes queued");
    }

    /// After a split, a Close sent while the receiver already waits (with no keep-alive, so
    /// with no deadline) starts the closing deadline for that wait: a silent peer is given up
    /// on after `Timeouts::close`, not waited for forever.
    #[tokio::test(start_paused = true)]
    async fn a_close_sent_while_the_receiver_waits_bounds_that_wait() {
        let (a, _peer) = tokio::io::duplex(4096);
        let ws = WebSocket::from_stream(a, Role::Client, Config::default(), &[], None);
        let (mut receiver, mut sender) = ws.split();
        let receiving = tokio::spawn(async move { receiver.recv().await });
        tokio::task::yield_now().await;
        sender.close(1000, "bye").await.expect("written");
        let ended = tokio::time::timeout(Duration::from_secs(60), receiving).await;
        let result = ended.expect("the wait is bounded").expect("no panic");
        assert!(matches!(result, Err(Error::CloseTimeout)), "{result:?}");
    }

    /// A server, by hand over `peer`, that waits for the client's Close, answers it after
    /// `close_after`, closes TCP `fin_after` later (it closes first, §7.1.1), and returns what
    /// its next read gets: 0 once the client's FIN has followed.
    fn closing_server(
        peer: tokio::io::DuplexStream,
        close_after: Duration,
        fin_after: Duration,
    ) -> tokio::task::JoinHandle<usize> {
        use crate::config::Limits;
        use tokio::io::AsyncReadExt as _;

        tokio::spawn(async move {
            let (mut read, mut write) = tokio::io::split(peer);
            let mut conn = Connection::new(Role::Server, Limits::default());
            let mut buf = vec![0; 1024];
            loop {
                let n = read.read(&mut buf).await.expect("duplex");
                conn.receive(&buf[..n]);
                if let Some(Message::Close(_)) = conn.next_event().expect("valid frames") {
                    break;
                }
            }
            tokio::time::sleep(close_after).await;
            write.write_all(&conn.take_output()).await.expect("duplex");
            tokio::time::sleep(fin_after).await;
            write.shutdown().await.expect("duplex");
            read.read(&mut buf).await.expect("duplex")
        })
    }

    /// `Timeouts::close` bounds the closing handshake only: a server whose Close comes late
    /// but in time, and whose FIN follows within `linger`, is a clean close, even if the two
    /// together take longer than `Timeouts::close`.
    #[tokio::test(start_paused = true)]
    async fn close_is_clean_when_the_fin_comes_after_the_close_deadline() {
        let (a, peer) = tokio::io::duplex(4096);
        let mut ws = WebSocket::from_stream(a, Role::Client, Config::default(), &[], None);
        // The Close 4 s in (the deadline is 5 s), the FIN 3 s later.
        let server = closing_server(peer, Duration::from_secs(4), Duration::from_secs(3));
        ws.close(1000, "bye").await.expect("a clean close");
        assert_eq!(server.await.expect("no panic"), 0, "our FIN followed");
    }

    /// A client's `close` takes the closing handshake to its end (§7.1.1): our Close, the
    /// server's, the server's FIN, then our own FIN, so the server's read ends too.
    #[tokio::test(start_paused = true)]
    async fn a_clients_close_ends_with_its_fin_after_the_servers() {
        let (a, peer) = tokio::io::duplex(4096);
        let mut ws = WebSocket::from_stream(a, Role::Client, Config::default(), &[], None);
        let server = closing_server(peer, Duration::ZERO, Duration::ZERO);
        ws.close(1000, "bye").await.expect("a clean close");
        let after_fin = tokio::time::timeout(Duration::from_secs(1), server).await;
        assert_eq!(after_fin.expect("the client closed").expect("no panic"), 0);
    }

    /// After a split, both halves wait to write on one stream that remembers one waker: a
    /// peer that reads only after both have queued bytes gets both, and neither half hangs.
    #[tokio::test(start_paused = true)]
    async fn both_halves_waiting_to_write_are_both_woken() {
        let (a, mut peer) = tokio::io::duplex(64);
        let ws = WebSocket::from_stream(a, Role::Server, Config::default(), &[], None);
        let (mut receiver, mut sender) = ws.split();
        // The sender fills the pipe and waits.
        let sending = tokio::spawn(async move {
            sender.send(Message::Binary(vec![1; 300])).await?;
            Ok::<_, Error>(sender)
        });
        tokio::task::yield_now().await;
        // A Ping from the peer: the receiver's Pong queues behind the sender's message.
        peer.write_all(&[0x89, 0x80, 0, 0, 0, 0])
            .await
            .expect("duplex");
        let receiving = tokio::spawn(async move {
            let ping = receiver.recv().await;
            (ping, receiver)
        });
        // Now read everything: the message, then the Pong.
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while got.len() < 4 + 300 + 2 {
            let n = tokio::io::AsyncReadExt::read(&mut peer, &mut buf)
                .await
                .expect("duplex");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(&got[..4], [0x82, 0x7E, 0x01, 0x2C]);
        assert_eq!(&got[304..], [0x8A, 0x00], "the Pong, after the message");
        sending.await.expect("no panic").expect("sent");
        let (ping, _receiver) = receiving.await.expect("no panic");
        assert_eq!(ping.expect("open"), Some(Message::Ping(Vec::new())));
    }
}
