//! Reading: bytes from the socket to the connection, messages from the connection to the
//! application, and the [`Receiver`] half.
//!
//! One call of `recv` follows a message from the socket to the application:
//!
//! ```text
//!   recv ─► connection has an event? ──yes──► keep it in `ready` ─► (an ending?) ─► return it
//!                 │ no
//!                 ▼
//!           read_some: wait for bytes (writing our replies meanwhile), within the deadline
//!           the clock gives (keepalive.rs); hand them to the connection; loop
//! ```
//!
//! # Cancellation
//!
//! `recv` may be dropped at any `.await` (a `select!` around it) and loses nothing: a message,
//! the peer's Close or an error taken from the connection is kept in `ReadState::ready` until
//! a call returns it, and bytes read are handed to the connection in the same step as the read
//! that got them.
//!
//! # Memory of an idle connection
//!
//! Servers hold many connections that say nothing for minutes. Each waits in a read with a 512-byte
//! buffer; a 64 KiB buffer is used only while reads keep filling their buffer and the next bytes
//! are already there, and is freed once the connection has been quiet for a second ("wait small,
//! read big"). A task is as large as the largest state of its future, so the endings of a
//! connection, which run once, are awaited through `Box::pin` (see `recv`), and what an idle
//! connection holds while it waits is the read and its timer.

use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite};
use tokio::time::Instant;

use super::closing::{self, Ending};
use super::keepalive::{Expiry, Seen, Timers};
use super::shared::{Core, Link, try_now};
use super::writer::Side;
use crate::config::Timeouts;
use crate::connection::{Message, State};
use crate::error::Error;

/// The read buffer for waiting: an idle connection holds only this much.
const READ_SMALL: usize = 512;
/// The read buffer while data keeps coming (allocated only then).
const READ_LARGE: usize = 64 << 10;
/// How long a quiet connection keeps the large buffer after a burst.
const LARGE_KEEP: Duration = Duration::from_secs(1);

/// "Wait small, read big": most connections are idle most of the time, and an idle connection
/// waits in a read with a buffer. So a read waits with the small buffer; when a read fills its
/// buffer, more data is probably waiting, and the next read tries the large one, which is freed
/// again once the connection has been quiet for `LARGE_KEEP`.
// ANCHOR: read_buffers
#[derive(Debug)]
pub(crate) struct ReadBuffers {
    pub(crate) small: Vec<u8>,
    large: Vec<u8>,
    /// The last read filled its buffer.
    more_pending: bool,
}
// ANCHOR_END: read_buffers

impl ReadBuffers {
    /// The large buffer's allocation (tests of the memory rules).
    #[cfg(test)]
    pub(crate) fn large_capacity(&self) -> usize {
        self.large.capacity()
    }

    fn new() -> ReadBuffers {
        ReadBuffers {
            small: Vec::with_capacity(READ_SMALL),
            large: Vec::new(),
            more_pending: false,
        }
    }
}

/// What only the reader keeps: its buffers, its clock, and what it has taken from the
/// connection but not returned yet.
// ANCHOR: read_state
#[derive(Debug)]
pub(crate) struct ReadState {
    pub(crate) timeouts: Timeouts,
    pub(crate) buffers: ReadBuffers,
    timers: Timers,
    /// An event taken from the connection, kept here while its replies are written (or the
    /// connection is ended), so that a `recv` cancelled meanwhile does not lose it.
    ready: Option<Result<Message, Error>>,
    /// The connection is over: `recv` returns `None`.
    pub(crate) done: bool,
}
// ANCHOR_END: read_state

impl ReadState {
    pub(crate) fn new(timeouts: Timeouts) -> ReadState {
        ReadState {
            timeouts,
            buffers: ReadBuffers::new(),
            timers: Timers::default(),
            ready: None,
            done: false,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Core<S> {
    /// One read attempt into `buf`'s spare capacity.
    pub(crate) fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut Vec<u8>,
    ) -> Poll<std::io::Result<usize>> {
        // `read_buf` fills the spare capacity without zeroing it first (zeroing 64 KiB for
        // every burst would cost more than a 16 KiB message's unmasking). Its future keeps no
        // state between polls, so a fresh one per poll is the same read.
        std::pin::pin!(self.stream.read_buf(buf)).poll(cx)
    }

    /// Waits for input, writing what is queued meanwhile (our Pongs, a Close reply, or a message
    /// the sender left). It returns early, with [`Input::StateChanged`], when the connection is no
    /// longer as `seen` when the wait began: after a split, the sender's Close starts the closing
    /// handshake while this wait runs, and the wait's deadline must become the closing one; a
    /// sender whose write starts to wait brings the write deadline (the sender wakes the reader
    /// for both: see `WriteWaiters`). While `Limits::write_buffer_size` or more is queued
    /// behind the frames being written, and the socket takes no more, it does not read: a peer that
    /// sends Pings and reads none of our Pongs is slowed down, not buffered for. (The frames being
    /// written are not counted: a sender blocked on one large message must not stop the reader,
    /// which is how that sender learns that the peer failed the connection.)
    // ANCHOR: poll_input
    fn poll_input(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut Vec<u8>,
        seen: &Seen,
    ) -> Poll<Result<Input, Error>> {
        if let Some(waiters) = &self.waiters {
            waiters.wait_for_close(cx.waker());
        }
        if let Some(account) = &self.account {
            account.wait_for_eviction(cx.waker());
            if account.evicted() {
                return Poll::Ready(Err(Error::OverBudget));
            }
        }
        // A write that began to wait since brings a deadline this wait does not have yet.
        let stalled_since = seen.write_deadline.is_none() && self.stalled.is_some();
        if self.conn.state() != seen.state || stalled_since {
            return Poll::Ready(Ok(Input::StateChanged));
        }
        if self.unwritten() > 0 {
            match self.poll_flush(cx, Side::Reader) {
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending if self.conn.output_len() >= self.conn.limits().write_buffer_size => {
                    return Poll::Pending;
                }
                _ => {}
            }
        }
        self.poll_read_buf(cx, buf)
            .map_ok(|_| Input::Read)
            .map_err(Error::from)
    }
    // ANCHOR_END: poll_input
}

/// How a wait for input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    /// A read returned: bytes, or the end of the input.
    Read,
    /// The connection's state changed while waiting: the deadline is to be computed again.
    StateChanged,
}

/// The next message; see [`Receiver::recv`].
// ANCHOR: recv
pub(crate) async fn recv<S, L>(link: &mut L, me: &mut ReadState) -> Result<Option<Message>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    L: Link<S>,
{
    loop {
        if let Some(event) = me.ready.take() {
            return event.map(Some);
        }
        if me.done {
            return Ok(None);
        }
        let (event, state) = {
            let mut core = link.core();
            let event = core.conn.next_event().transpose();
            // A message taken is no longer held (and a reply may be queued).
            core.charge();
            (event, core.conn.state())
        };
        let ending = match &event {
            Some(Err(_)) => Some(Ending::Failed),
            Some(Ok(Message::Close(_))) => Some(Ending::CloseReceived),
            Some(Ok(_)) => None,
            // The closing handshake completed (the peer's Close was returned), or the
            // connection failed (the error was returned).
            None if state == State::Closed => Some(Ending::Finished),
            None => None,
        };
        if let Some(event) = event {
            me.ready = Some(event);
        }
        if let Some(ending) = ending {
            // Boxed: an ending runs once per connection, and inline its state would make
            // every connection's `recv` future, which an idle connection holds while it
            // waits, larger.
            Box::pin(closing::end(link, me, ending)).await;
        } else if me.ready.is_some() {
            write_replies(link).await;
        } else if let Err(error) = read_some(link, me).await {
            // Kept before the ending is written, as every event is: a `recv` cancelled
            // during it must not turn the error into a clean `None`.
            let notice = closing::notice(&error);
            // Cut off in the middle of a message: the peer is still sending it.
            let drain = matches!(error, Error::OverBudget | Error::MessageTimeout);
            me.ready = Some(Err(error));
            let ending = Ending::ReadFailed { notice, drain };
            Box::pin(closing::end(link, me, ending)).await;
        }
    }
}
// ANCHOR_END: recv

/// Writes what the last event queued (a Pong), as far as the socket takes it now. The rest,
/// if the socket is full, goes out while the next `recv` waits for input, or with the next
/// send; a write error shows up there too.
// ANCHOR: write_replies
async fn write_replies<S, L>(link: &mut L)
where
    S: AsyncRead + AsyncWrite + Unpin,
    L: Link<S>,
{
    if link.core().unwritten() > 0 {
        let _ = try_now(|cx| link.core().poll_flush(cx, Side::Reader)).await;
    }
}
// ANCHOR_END: write_replies

/// Reads once from the socket into the connection, within the deadline the clock gives.
// ANCHOR: read_some
async fn read_some<S, L>(link: &mut L, me: &mut ReadState) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    L: Link<S>,
{
    loop {
        let seen = {
            let core = link.core();
            if core.evicted() {
                return Err(Error::OverBudget);
            }
            Seen {
                state: core.conn.state(),
                receiving: core.conn.receiving().is_some(),
                write_deadline: core.write_deadline(),
            }
        };
        if let Some(error) = me
            .timers
            .overdue(&seen, &me.timeouts)
            .and_then(Expiry::error)
        {
            return Err(error);
        }
        let deadline = me.timers.next_deadline(&seen, &me.timeouts);
        let buffers = &mut me.buffers;
        if buffers.more_pending {
            // The last read filled its buffer: read big, but only if the bytes are there now.
            // The attempt is made once; if it would wait, the large buffer goes, and the wait
            // below is a small one (a peer that sends exactly 512 bytes and goes quiet must
            // not leave us holding 64 KiB). It goes through `poll_input` like every read, so
            // a peer that floods us is held to the same bound on our replies.
            if buffers.large.capacity() == 0 {
                buffers.large = Vec::with_capacity(READ_LARGE);
            }
            buffers.large.clear();
            let large = &mut buffers.large;
            match try_now(|cx| link.core().poll_input(cx, large, &seen)).await {
                Poll::Ready(Ok(Input::Read)) => {
                    hand_over(&mut link.core(), me, true);
                    return Ok(());
                }
                Poll::Ready(Ok(Input::StateChanged)) => continue,
                Poll::Ready(Err(error)) => return Err(error),
                Poll::Pending => {
                    buffers.large = Vec::new();
                    buffers.more_pending = false;
                }
            }
        }
        // A connection that had a burst keeps the large buffer while it waits, for a while:
        // a busy connection whose reads come back short between bursts would otherwise
        // allocate and free 64 KiB per burst, which the allocator makes expensive. One that
        // stays quiet for `LARGE_KEEP` gives it back.
        let deadline = match deadline {
            _ if buffers.large.capacity() == 0 => deadline,
            Some((at, _)) if at <= Instant::now() + LARGE_KEEP => deadline,
            _ => Some((Instant::now() + LARGE_KEEP, Expiry::Quiet)),
        };
        buffers.small.clear();
        let small = &mut buffers.small;
        let wait = poll_fn(|cx| link.core().poll_input(cx, small, &seen));
        let input = match deadline {
            None => wait.await,
            Some((deadline, expiry)) => match tokio::time::timeout_at(deadline, wait).await {
                Ok(input) => input,
                Err(_elapsed) => match expiry {
                    Expiry::Quiet => {
                        // The wait goes on, its deadline chosen again; a keep-alive interval
                        // then counts from here, at most `LARGE_KEEP` late, once per burst.
                        me.buffers.large = Vec::new();
                        continue;
                    }
                    Expiry::SendPing => {
                        // One lock for the check and the Ping: after a split, the sender may
                        // have sent a Close meanwhile, and nothing follows a Close.
                        let mut core = link.core();
                        if core.conn.state() == State::Open {
                            me.timers.ping(&mut core.conn, &me.timeouts)?;
                        }
                        continue;
                    }
                    // The socket took bytes meanwhile, and so moved the write deadline.
                    Expiry::WriteStalled
                        if link
                            .core()
                            .write_deadline()
                            .is_none_or(|at| at > Instant::now()) =>
                    {
                        continue;
                    }
                    expiry => return Err(expiry.error().unwrap_or(Error::CloseTimeout)),
                },
            },
        };
        match input? {
            Input::Read => {
                hand_over(&mut link.core(), me, false);
                return Ok(());
            }
            Input::StateChanged => continue,
        }
    }
}
// ANCHOR_END: read_some

/// Gives what a read put in the large or the small buffer to the connection (nothing: the
/// input has ended), notes whether it filled the buffer (then more is probably waiting), and
/// tells the budget, if any, what the connection holds now.
fn hand_over<S: AsyncWrite + Unpin>(core: &mut Core<S>, me: &mut ReadState, large: bool) {
    me.timers.heard_from_peer();
    let buffers = &mut me.buffers;
    let buf = if large {
        &buffers.large
    } else {
        &buffers.small
    };
    if buf.is_empty() {
        core.conn.receive_eof();
    } else {
        core.conn.receive(buf);
    }
    buffers.more_pending = buf.len() == buf.capacity();
    core.charge();
}

/// The receiving half of a [`WebSocket`](super::WebSocket), after
/// [`split`](super::WebSocket::split).
// ANCHOR: receiver_struct
pub struct Receiver<S> {
    pub(crate) shared: Arc<Mutex<Core<S>>>,
    pub(crate) state: ReadState,
}
// ANCHOR_END: receiver_struct

impl<S> std::fmt::Debug for Receiver<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("done", &self.state.done)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Receiver<S> {
    /// The next message: `Ok(Some(Close))` when the peer's Close arrives, then `Ok(None)` once
    /// the connection is over. An error means the connection failed and is over: its Close,
    /// with the error's close code, was written if the peer read it within
    /// `Timeouts::last_write`.
    ///
    /// The Pong for a received Ping is written before this returns if the socket has room,
    /// and otherwise while the next `recv` waits (or by the next send); the reply to the
    /// peer's Close is written before this returns it.
    ///
    /// Cancel-safe: a message (or error) taken from the connection is kept until it is
    /// returned. If `recv` is dropped while ending the connection, the next call returns it
    /// at once.
    pub async fn recv(&mut self) -> Result<Option<Message>, Error> {
        recv(&mut self.shared, &mut self.state).await
    }
}
