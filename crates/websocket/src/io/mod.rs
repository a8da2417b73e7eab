//! The I/O layer: tokio adapters that move bytes between a socket and a [`Connection`].
//!
//! Three ways in, one result, a [`WebSocket`]:
//!
//! - [`accept`]: a server reads the opening handshake from a fresh TCP connection;
//! - [`upgrade`]: a hyper 1 service upgrades one of its requests, so one port serves pages,
//!   Server-Sent Events and WebSocket;
//! - [`connect`]: a client dials a `ws://` URL.
//!
//! # Reading and writing at once
//!
//! [`WebSocket::split`] gives a [`Receiver`] and a [`Sender`] that two tasks can own. They
//! share the wire-layer [`Connection`] behind a short-lived `std::sync::Mutex` (never held
//! across an `.await`), and the socket's write half behind a `tokio::sync::Mutex`. Bytes are
//! taken from the connection's output only while holding the write half, so frames queued by
//! the two tasks reach the socket in the order they were queued.
//!
//! The receiver queues frames too: a Pong for each Ping (§5.5.2) and the reply to a Close.
//! It writes them itself before returning from [`Receiver::recv`], so an application that only
//! reads still answers pings. If the sender is in the middle of a write at that moment, the
//! receiver leaves the bytes to it rather than wait (the sender writes until the output is
//! empty), unless the output has grown past `Config::write_buffer_size`: then the receiver
//! waits too, which slows a peer that floods us with pings while not reading our answers.
//!
//! # Backpressure
//!
//! [`Sender::feed`] queues a message and writes only when the output passes
//! `Config::write_buffer_size`; [`Sender::flush`] writes what is queued; [`Sender::send`] does
//! both. Each waits for the socket, so a slow peer slows the sender down instead of growing a
//! buffer without bound.
//!
//! # Cancellation
//!
//! Every method may be dropped at an `.await` (a `timeout` around `send`, a `select!` around
//! `recv`) without harm:
//!
//! - the sending methods do not corrupt the stream: bytes taken from the connection stay in
//!   the writer until written, so the next flush, from either half, finishes the frame that a
//!   cancelled one started. A cancelled `send` has queued its message already, and the next
//!   flush sends it;
//! - [`Receiver::recv`] loses nothing: a message, the peer's Close or the error it took from
//!   the connection is kept until a call returns it;
//! - a cancelled [`WebSocket::close`] has queued its Close; a later `recv` or `flush` sends
//!   it, and `recv` goes on until the peer's Close.
//!
//! # Memory of an idle connection
//!
//! Servers hold many connections that say nothing for minutes. Each waits in a read with a
//! 512-byte buffer; a 64 KiB buffer is used only while reads keep filling their buffer and the
//! next bytes are already there, and is freed as soon as a read comes back short or would
//! wait ("wait small, read big"). The connection's input buffer is released the same way.
//!
//! The other half of an idle connection's cost is its task: a task is as large as the largest
//! state of its future, and an `async fn` holds, in its own state, the state of every future
//! it awaits inline. So what runs rarely is awaited through `Box::pin`: the endings of a
//! connection (failure, the closing handshake), the keep-alive Ping and the writing of
//! replies. They allocate when they run, once in a connection's life or once a
//! `ping_interval`, and the future of `recv`, which an idle connection holds while it waits,
//! is left with the read and its timer. No buffer lives in a future as an array for the same
//! reason. `tests/idle_size.rs` keeps an eye on those sizes, and the performance chapter
//! measures the whole: about 3 KB per idle server connection.
//!
//! # Closing, and timeouts
//!
//! When the peer's Close arrives, `recv` writes our reply and returns the Close. A server then
//! shuts its write side down at once (it closes TCP first, RFC 6455 §7.1.1); a client, in its
//! next `recv`, waits up to `Config::close_timeout` for the server to do so. After sending a
//! Close, reads wait at most `close_timeout` in all for the peer's, however much else the peer
//! sends meanwhile. When the connection fails, the Close carrying the error's code is written
//! (if the peer reads it within `close_timeout`), the write side is shut down, and what the
//! peer still sends is read and dropped (for at most `close_timeout`), so the peer's TCP stack
//! does not answer our Close with a reset that could destroy it.
//!
//! So every wait at the end of a connection is bounded by `close_timeout`, and with keep-alive
//! (`Config::ping_interval`) a peer that neither answers nor reads is found within
//! `ping_timeout` of the Ping. When the receiver ends the connection, a [`Sender`] blocked in a
//! write gives up with [`Error::AlreadyClosed`]. An ordinary `send` to a peer that is slow to
//! read waits as long as the peer takes (that is backpressure): bound it with a `timeout`,
//! which is safe (see Cancellation).

mod client;
mod server;
mod upgrade;

pub use client::{ClientOptions, connect, connect_with};
pub use server::accept;
pub use upgrade::{Upgrading, rejection, upgrade};

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use tokio::io::{
    AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadHalf, WriteHalf,
};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::Config;
use crate::connection::{CloseFrame, Connection, Message, Role, State};
use crate::error::Error;
use crate::frame::OpCode;

/// The read buffer for waiting: an idle connection holds only this much.
const READ_SMALL: usize = 512;
/// The read buffer while data keeps coming (allocated only then).
const READ_LARGE: usize = 64 << 10;

/// What the sender and the receiver share.
// ANCHOR: shared
struct Shared<S> {
    conn: Mutex<Connection>,
    writer: tokio::sync::Mutex<Writer<S>>,
    /// Set when the receiver ends the connection: a [`Sender`] waiting for the socket gives
    /// up then, so the receiver can take the writer to write the last Close and shut down.
    over: watch::Sender<bool>,
}

/// The socket's write half, and the bytes on their way to it.
struct Writer<S> {
    half: WriteHalf<S>,
    /// Bytes taken from the connection's output and not all written yet. They live here, not
    /// in a local variable of `flush`, so that a flush cancelled half-way (a timeout around
    /// `send`, a `select!` around `recv`) leaves the rest of its frame to the next flush:
    /// dropped, it would cut a frame short and corrupt the stream.
    pending: Vec<u8>,
    /// How much of `pending` is written.
    written: usize,
}
// ANCHOR_END: shared

impl<S: AsyncWrite> Shared<S> {
    /// The connection, briefly. A panic while it was held cannot leave it half-updated in a
    /// way that matters more than the panic itself, so a poisoned lock is taken anyway.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Bytes queued and not written yet: the connection's output, plus what a cancelled flush
    /// left in the writer. (While another task holds the writer, it is writing those.)
    fn unwritten(&self) -> usize {
        let pending = self
            .writer
            .try_lock()
            .map_or(0, |writer| writer.pending.len() - writer.written);
        pending + self.conn().output_len()
    }

    /// Writes everything queued. With `wait == false`, returns at once if another task holds
    /// the write half: that task writes until the output is empty, so it takes our bytes.
    ///
    /// Cancel-safe: bytes are taken from the connection only into the writer's `pending`, and
    /// written with `write`, which writes nothing if cancelled; so whatever is not written
    /// when the flush is dropped stays, in order, for the next one.
    // ANCHOR: shared_flush
    async fn flush(&self, wait: bool) -> Result<(), Error> {
        loop {
            let mut writer = if wait {
                self.writer.lock().await
            } else {
                match self.writer.try_lock() {
                    Ok(writer) => writer,
                    Err(_) => return Ok(()),
                }
            };
            let Writer {
                half,
                pending,
                written,
            } = &mut *writer;
            loop {
                if *written == pending.len() {
                    self.conn().swap_output(pending);
                    *written = 0;
                    if pending.is_empty() {
                        break;
                    }
                }
                let n = half.write(&pending[*written..]).await?;
                if n == 0 {
                    return Err(Error::Io(std::io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
            half.flush().await?;
            drop(writer);
            // Bytes queued after our last look, by a task that found the lock taken, are ours.
            if self.conn().output_len() == 0 {
                return Ok(());
            }
        }
    }
    // ANCHOR_END: shared_flush

    /// [`Shared::flush`] for the [`Sender`]: gives up with [`Error::AlreadyClosed`] when the
    /// connection is over, rather than wait on a peer that does not read. (What it had not
    /// written stays queued, and the receiver's last flush may still write it.)
    async fn flush_until_over(&self) -> Result<(), Error> {
        // Most flushes finish at once, and only one that has to wait needs to watch for the
        // end of the connection: subscribing to `over` for every message would cost more than
        // the flush's own bookkeeping.
        let mut flush = std::pin::pin!(self.flush(true));
        if let Poll::Ready(written) =
            std::future::poll_fn(|cx| Poll::Ready(flush.as_mut().poll(cx))).await
        {
            return written;
        }
        let mut over = self.over.subscribe();
        tokio::select! {
            written = &mut flush => written,
            _ = over.wait_for(|over| *over) => Err(Error::AlreadyClosed),
        }
    }

    /// No more messages can be sent: a [`Sender`] waiting for the socket gives up.
    fn end(&self) {
        self.over.send_replace(true);
    }

    /// Shuts the write side down, waiting for the writer at most `Config::close_timeout`.
    async fn shutdown(&self) {
        let limit = self.conn().config().close_timeout;
        let shutdown = async {
            // The peer may be gone already; there is nothing useful to do with that error.
            let _ = self.writer.lock().await.half.shutdown().await;
        };
        let _ = tokio::time::timeout(limit, shutdown).await;
    }
}

/// A WebSocket connection over a byte stream `S` (a `TcpStream`, or hyper's upgraded
/// connection). Use it directly, or [`split`](WebSocket::split) it between two tasks.
pub struct WebSocket<S> {
    sender: Sender<S>,
    receiver: Receiver<S>,
    subprotocol: Option<String>,
}

impl<S> std::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("subprotocol", &self.subprotocol)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite> WebSocket<S> {
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
        let mut conn = Connection::new(role, config);
        conn.receive(leftover);
        let (read, write) = tokio::io::split(stream);
        let shared = Arc::new(Shared {
            conn: Mutex::new(conn),
            writer: tokio::sync::Mutex::new(Writer {
                half: write,
                pending: Vec::new(),
                written: 0,
            }),
            over: watch::Sender::new(false),
        });
        WebSocket {
            sender: Sender {
                shared: shared.clone(),
            },
            receiver: Receiver {
                shared,
                read,
                small: Vec::with_capacity(READ_SMALL),
                large: Vec::new(),
                more_pending: false,
                ready: None,
                done: false,
                pong_deadline: None,
                close_deadline: None,
            },
            subprotocol,
        }
    }
    // ANCHOR_END: from_stream

    /// The subprotocol agreed in the handshake, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Splits into a receiving half and a sending half, for two tasks.
    // ANCHOR: split
    pub fn split(self) -> (Receiver<S>, Sender<S>) {
        (self.receiver, self.sender)
    }
    // ANCHOR_END: split

    /// The next message; see [`Receiver::recv`].
    pub async fn recv(&mut self) -> Result<Option<Message>, Error> {
        self.receiver.recv().await
    }

    /// Sends a message; see [`Sender::send`].
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.sender.send(message).await
    }

    /// Closes: sends a Close with `code` and `reason`, then reads (and drops) messages until
    /// the peer's Close and the end of the connection. After `Config::close_timeout` it gives
    /// up with [`Error::CloseTimeout`] and shuts the socket's write side down.
    // ANCHOR: websocket_close
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), Error> {
        // The limit is on the whole of it: a peer that does not read our Close, or that keeps
        // sending data after it and never its own, must not keep us here.
        let limit = self.receiver.shared.conn().config().close_timeout;
        let (sender, receiver) = (&mut self.sender, &mut self.receiver);
        let closing = async {
            sender.close(code, reason).await?;
            while receiver.recv().await?.is_some() {}
            Ok(())
        };
        match tokio::time::timeout(limit, closing).await {
            Ok(result) => result,
            Err(_elapsed) => {
                self.receiver.end();
                self.receiver.shared.shutdown().await;
                Err(Error::CloseTimeout)
            }
        }
    }
    // ANCHOR_END: websocket_close
}

/// The sending half of a [`WebSocket`].
pub struct Sender<S> {
    shared: Arc<Shared<S>>,
}

impl<S> std::fmt::Debug for Sender<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<S: AsyncWrite> Sender<S> {
    /// Queues a message and writes everything queued. Waits for the socket as long as the
    /// peer takes to read, unless the receiver ends the connection meanwhile
    /// ([`Error::AlreadyClosed`]).
    // ANCHOR: sender_send
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.shared.conn().send(message)?;
        self.shared.flush_until_over().await
    }
    // ANCHOR_END: sender_send

    /// Queues a message; writes only if the queue has passed `Config::write_buffer_size`.
    // ANCHOR: sender_feed
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        let limit = {
            let mut conn = self.shared.conn();
            conn.send(message)?;
            conn.config().write_buffer_size
        };
        let queued = self.shared.unwritten() >= limit;
        if queued {
            self.shared.flush_until_over().await?;
        }
        Ok(())
    }
    // ANCHOR_END: sender_feed

    /// Queues one fragment of a message (see [`Connection::send_fragment`]) and writes it.
    pub async fn send_fragment(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        self.shared.conn().send_fragment(opcode, payload, fin)?;
        self.shared.flush_until_over().await
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.shared.flush_until_over().await
    }

    /// Starts the closing handshake. The [`Receiver`] sees the peer's Close, then `None`.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), Error> {
        let frame = CloseFrame {
            code,
            reason: reason.to_owned(),
        };
        self.send(Message::Close(Some(frame))).await
    }
}

/// The receiving half of a [`WebSocket`].
// ANCHOR: receiver_struct
pub struct Receiver<S> {
    shared: Arc<Shared<S>>,
    read: ReadHalf<S>,
    /// "Wait small, read big": most connections are idle most of the time, and an idle
    /// connection waits in a read with a buffer. So a read waits with the small buffer;
    /// when a read fills its buffer, more data is probably waiting, and the next read tries
    /// the large one, which is freed again as soon as a read comes back short or would wait.
    small: Vec<u8>,
    large: Vec<u8>,
    /// The last read filled its buffer.
    more_pending: bool,
    /// An event taken from the connection, kept here while its replies are written (or the
    /// connection is failed), so that a `recv` cancelled meanwhile does not lose it: the next
    /// call returns it.
    ready: Option<Result<Message, Error>>,
    /// The connection is over: `recv` returns `None`.
    done: bool,
    /// A keep-alive Ping is out and nothing has been received since: the peer has until then.
    pong_deadline: Option<Instant>,
    /// Our Close is out: the peer has until then to send its own, however much else it sends.
    close_deadline: Option<Instant>,
}
// ANCHOR_END: receiver_struct

impl<S> std::fmt::Debug for Receiver<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite> Receiver<S> {
    /// The next message: `Ok(Some(Close))` when the peer's Close arrives, then `Ok(None)` once
    /// the connection is over. An error means the connection failed and is over: its Close,
    /// with the error's close code, was written if the peer read it within
    /// `Config::close_timeout`.
    ///
    /// Pongs for received Pings, and the reply to the peer's Close, are written before this
    /// returns.
    ///
    /// Cancel-safe: a message (or error) taken from the connection is kept until it is
    /// returned. If `recv` is dropped while writing its replies, the next call returns it at
    /// once, and the replies go out with the next write.
    // ANCHOR: recv
    pub async fn recv(&mut self) -> Result<Option<Message>, Error> {
        loop {
            if let Some(event) = self.ready.take() {
                return event.map(Some);
            }
            if self.done {
                return Ok(None);
            }
            let event = self.shared.conn().next_event().transpose();
            if let Some(event) = event {
                let failed = event.is_err();
                let close = matches!(event, Ok(Message::Close(_)));
                self.ready = Some(event);
                // The endings are boxed: they run once per connection, and inline they would
                // make every connection's `recv` future, which an idle connection holds while
                // it waits, larger by their own state (see "Memory of an idle connection").
                if failed {
                    Box::pin(self.fail()).await;
                } else if close {
                    Box::pin(self.answer_close()).await;
                } else {
                    self.write_replies().await?;
                }
                continue;
            }
            if self.shared.conn().state() == State::Closed {
                // The closing handshake completed (the peer's Close was returned), or the
                // connection failed (the error was returned).
                Box::pin(self.finish_close()).await;
                return Ok(None);
            }
            self.write_replies().await?;
            if let Err(error) = self.read_some().await {
                // Kept before the ending is written, as every event is: a `recv` cancelled
                // during it must not turn the error into a clean `None`.
                let keepalive = matches!(error, Error::KeepaliveTimeout);
                self.ready = Some(Err(error));
                Box::pin(self.read_failed(keepalive)).await;
            }
        }
    }
    // ANCHOR_END: recv

    /// A read failed, or timed out (`keepalive`: the peer did not answer a Ping): the
    /// connection is over.
    async fn read_failed(&mut self, keepalive: bool) {
        self.end();
        if keepalive {
            // Tell the peer why, in case it is only slow. 1011 is "internal error": §7.4.1
            // words it for servers, the IANA registry (§11.7) for either side, and Python's
            // websockets sends it for the same reason. It may never be read.
            let close = CloseFrame {
                code: 1011,
                reason: "keep-alive ping timeout".into(),
            };
            let _ = self.shared.conn().send(Message::Close(Some(close)));
            let _ = self.flush_bounded().await;
        }
        self.shared.shutdown().await;
    }

    /// Writes the frames the connection queued by itself (Pongs, a Close reply).
    // ANCHOR: write_replies
    async fn write_replies(&mut self) -> Result<(), Error> {
        let limit = self.shared.conn().config().write_buffer_size;
        let queued = self.shared.unwritten();
        if queued > 0 {
            // Boxed: replies are rare (a Pong now and then), and this sits in front of every
            // read, so inline its state would be part of every idle connection.
            Box::pin(self.shared.flush(queued >= limit)).await?;
        }
        Ok(())
    }
    // ANCHOR_END: write_replies

    /// Reads once from the socket into the connection, with the timeouts in force.
    // ANCHOR: read_some
    async fn read_some(&mut self) -> Result<(), Error> {
        loop {
            // Only the timers, not a clone of the whole config: what is held across the read
            // below is part of every idle connection's memory.
            let (state, close_timeout, ping_interval, ping_timeout) = {
                let conn = self.shared.conn();
                let config = conn.config();
                (
                    conn.state(),
                    config.close_timeout,
                    config.ping_interval,
                    config.ping_timeout,
                )
            };
            if state == State::Closing && self.close_deadline.is_none() {
                // One limit for the whole wait, not one per read: a peer that keeps sending
                // other frames must not keep us in Closing.
                self.close_deadline = Some(Instant::now() + close_timeout);
            }
            let deadline = match (state, self.pong_deadline, ping_interval) {
                (State::Closing, _, _) => self.close_deadline,
                (_, Some(deadline), _) => Some(deadline),
                (_, None, interval) => interval.map(|interval| Instant::now() + interval),
            };
            if self.more_pending {
                // The last read filled its buffer: read big, but only if the bytes are there
                // now. The read is polled once; if it would wait, the large buffer goes, and
                // the wait below is a small one (a peer that sends exactly 512 bytes and goes
                // quiet must not leave us holding 64 KiB).
                if self.large.capacity() == 0 {
                    // Not zeroed: `read_buf` reads into the spare capacity, and zeroing 64 KiB
                    // for every burst would cost more than a 16 KiB message's unmasking.
                    self.large = Vec::with_capacity(READ_LARGE);
                }
                self.large.clear();
                let polled = {
                    let mut read = std::pin::pin!(self.read.read_buf(&mut self.large));
                    std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await
                };
                if let Poll::Ready(result) = polled {
                    result?;
                    self.hand_over(true);
                    return Ok(());
                }
                self.large = Vec::new();
                self.more_pending = false;
            }
            self.small.clear();
            let read = self.read.read_buf(&mut self.small);
            let result = match deadline {
                None => read.await,
                Some(deadline) => match tokio::time::timeout_at(deadline, read).await {
                    Ok(result) => result,
                    Err(_elapsed) => {
                        if state == State::Closing {
                            return Err(Error::CloseTimeout);
                        }
                        if self.pong_deadline.is_some() {
                            return Err(Error::KeepaliveTimeout);
                        }
                        // Quiet for `ping_interval`: ask the peer whether it is still there.
                        // Writing the Ping counts against `ping_timeout` too: a peer that does
                        // not read (or a Sender stuck writing to it) is as dead as a silent one.
                        let deadline = Instant::now() + ping_timeout;
                        self.pong_deadline = Some(deadline);
                        self.shared
                            .conn()
                            .send(Message::Ping(b"keepalive".to_vec()))?;
                        // Boxed, as the endings in `recv` are: it runs once a `ping_interval`.
                        let flush = tokio::time::timeout_at(deadline, self.shared.flush(true));
                        match Box::pin(flush).await {
                            Ok(written) => written?,
                            Err(_elapsed) => return Err(Error::KeepaliveTimeout),
                        }
                        continue;
                    }
                },
            };
            result?;
            self.hand_over(false);
            return Ok(());
        }
    }
    // ANCHOR_END: read_some

    /// Gives what a read put in the large or the small buffer to the connection (nothing: the
    /// input has ended), and notes whether it filled the buffer: then more is probably waiting.
    fn hand_over(&mut self, large: bool) {
        self.pong_deadline = None;
        let buf = if large { &self.large } else { &self.small };
        let mut conn = self.shared.conn();
        if buf.is_empty() {
            conn.receive_eof();
        } else {
            conn.receive(buf);
        }
        drop(conn);
        self.more_pending = buf.len() == buf.capacity();
    }

    /// The peer's Close arrived: write our reply (§5.5.1) and, as the server, end the TCP
    /// connection (§7.1.1: the server closes first; a client waits for that in the next
    /// `recv`). A reply that cannot be written is no error: the peer has closed the
    /// connection, with its code (§7.1.5), whether or not it reads our answer.
    // ANCHOR: answer_close
    async fn answer_close(&mut self) {
        self.shared.end();
        let _ = self.flush_bounded().await;
        if self.shared.conn().role() == Role::Server {
            self.shared.shutdown().await;
        }
    }
    // ANCHOR_END: answer_close

    /// The closing handshake is complete (or the input ended): write our Close if it is still
    /// queued, then end the TCP connection the way RFC 6455 §7.1.1 asks of our role.
    // ANCHOR: finish_close
    async fn finish_close(&mut self) {
        self.end();
        let role = self.shared.conn().role();
        // The application has had the peer's Close (or the error) already: what is left is
        // a courtesy to the peer, and its failure is not reported.
        let _ = self.flush_bounded().await;
        if role == Role::Client {
            // The server closes first; wait for its FIN, briefly.
            let limit = self.shared.conn().config().close_timeout;
            self.drain(limit).await;
        }
        self.shared.shutdown().await;
    }
    // ANCHOR_END: finish_close

    /// The connection failed: send its Close, stop writing, and read what is still in flight.
    // ANCHOR: io_fail
    async fn fail(&mut self) {
        self.end();
        let _ = self.flush_bounded().await;
        self.shared.shutdown().await;
        let limit = self.shared.conn().config().close_timeout;
        self.drain(limit).await;
    }
    // ANCHOR_END: io_fail

    /// The connection is over: `recv` returns `None` from now on, and a [`Sender`] waiting for
    /// the socket gives up, leaving the writer to our last Close and the shutdown.
    fn end(&mut self) {
        self.done = true;
        self.shared.end();
    }

    /// Writes what is queued, giving up after `Config::close_timeout`: at the end of a
    /// connection, a peer that does not read must not keep us waiting.
    async fn flush_bounded(&mut self) -> Result<(), Error> {
        let limit = self.shared.conn().config().close_timeout;
        tokio::time::timeout(limit, self.shared.flush(true))
            .await
            .unwrap_or(Err(Error::CloseTimeout))
    }

    /// Reads and drops input until the peer closes, or `limit` passes.
    // ANCHOR: drain
    async fn drain(&mut self, limit: Duration) {
        let read_all = async {
            loop {
                self.small.clear();
                if !matches!(self.read.read_buf(&mut self.small).await, Ok(1..)) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(limit, read_all).await;
    }
    // ANCHOR_END: drain
}

#[cfg(test)]
mod tests {
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
        bytes.resize(READ_SMALL, 7);
        peer.write_all(&bytes).await.expect("duplex");
        let waiting = tokio::time::timeout(Duration::from_secs(1), ws.recv()).await;
        assert!(waiting.is_err(), "the frame is not complete");
        assert_eq!(ws.receiver.large.capacity(), 0);
        // The rest of the frame still arrives whole.
        peer.write_all(&[7; 1000 + 8 - READ_SMALL])
            .await
            .expect("duplex");
        let message = ws.recv().await.expect("a message");
        assert_eq!(message, Some(Message::Binary(vec![7; 1000])));
    }
}
