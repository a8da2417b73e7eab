//! Writing: frames from the connection's output to the socket, in order, with backpressure,
//! and the [`Sender`] half.
//!
//! # Backpressure
//!
//! [`Sender::feed`] queues a message and writes only when the queue passes
//! `Limits::write_buffer_size`; [`Sender::flush`] writes what is queued; [`Sender::send`] does
//! both. Each waits for the socket, so a slow peer slows the sender down instead of growing a
//! buffer without bound.
//!
//! # Cancellation
//!
//! Bytes taken from the connection go into `Outgoing`, which lives in the shared core, not in
//! a local variable of a flush: a flush dropped half-way (a timeout around `send`, a `select!`
//! around `recv`) leaves the rest of its frame to the next flush, from either half. Dropped,
//! it would cut a frame short and corrupt the stream. A cancelled `send` has queued its
//! message already, and the next flush sends it.
//!
//! # Two writers
//!
//! After a split both halves write: the sender its messages, the reader its Pongs and its
//! answer to a Close. Order is never in question (there is one queue, and every write takes
//! from its front under the lock), but waking is: a stream remembers only the last task that
//! waited for it to take bytes, so if both wait, one would never be woken. `WriteWaiters`
//! is the answer: after a split every write waits with one waker that wakes both halves, each
//! of which then tries again. Reads need no such care: only the reader reads, and a read of
//! the streams used here (TCP, hyper's upgraded connection, an in-memory pipe) only ever waits
//! for bytes to arrive, never for room to write.

use std::pin::Pin;
use std::sync::{Arc, Mutex};

use std::task::{Context, Poll, Wake, Waker};

use atomic_waker::AtomicWaker;
use tokio::io::AsyncWrite;
use tokio::time::Instant;

use super::shared::{Core, Link, lock};
use crate::connection::{CloseFrame, Message};
use crate::error::Error;
use crate::frame::OpCode;

/// Bytes taken from the connection's output, and how much of them is written.
// ANCHOR: outgoing
#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    pending: Vec<u8>,
    written: usize,
}
// ANCHOR_END: outgoing

/// Which half is writing: each has its own waker slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Reader,
    Sender,
}

/// After a split: the halves waiting for the stream to take bytes, and the one waker, given
/// to the stream, that wakes them both.
///
/// The slots are atomic and shared through their own `Arc`, so waking takes no lock. It must
/// not: a stream may call the waker synchronously inside `poll_write` (tokio does when the
/// task's cooperative budget is spent), while the writing half holds the core's lock, and a
/// `std::sync::Mutex` is not reentrant.
// ANCHOR: write_waiters
#[derive(Debug)]
pub(crate) struct WriteWaiters {
    slots: Arc<Slots>,
    both: Waker,
}

/// One waker slot per half, for writes, and one for the reader's wait for input.
#[derive(Debug, Default)]
struct Slots {
    reader: AtomicWaker,
    sender: AtomicWaker,
    /// The reader, waiting for input with a deadline set for the state it started in: the
    /// sender's Close changes the state (Open to Closing) and so the deadline, and so does a
    /// sender's write that starts to wait (the write deadline); a wait already under way would
    /// not notice without a wake-up. (Woken under the lock, as the write slots are: an
    /// `AtomicWaker` takes no lock of ours.)
    input: AtomicWaker,
}

impl WriteWaiters {
    pub(crate) fn new() -> WriteWaiters {
        let slots = Arc::new(Slots::default());
        WriteWaiters {
            both: Waker::from(slots.clone()),
            slots,
        }
    }

    fn slot(&self, side: Side) -> &AtomicWaker {
        match side {
            Side::Reader => &self.slots.reader,
            Side::Sender => &self.slots.sender,
        }
    }

    /// Wakes the sender, if it waits: the reader has ended the connection.
    pub(crate) fn wake_sender(&self) {
        self.slots.sender.wake();
    }

    /// The reader waits for input: wake it with `waker` if the state changes meanwhile.
    pub(crate) fn wait_for_close(&self, waker: &Waker) {
        self.slots.input.register(waker);
    }

    /// The reader's waker, if it waits for input: the sender has changed the state. Taken
    /// here and woken once the lock is released.
    fn take_input_waiter(&self) -> Option<Waker> {
        self.slots.input.take()
    }
}

impl Wake for Slots {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.reader.wake();
        self.sender.wake();
    }
}
// ANCHOR_END: write_waiters

/// Calls `write` with the context a write must wait with: the caller's own while one task owns
/// the core, the waker of both halves after a split.
fn with_write_waker<S: Unpin, T>(
    stream: &mut S,
    waiters: Option<&WriteWaiters>,
    side: Side,
    cx: &mut Context<'_>,
    write: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    match waiters {
        None => write(Pin::new(stream), cx),
        Some(waiters) => {
            waiters.slot(side).register(cx.waker());
            write(Pin::new(stream), &mut Context::from_waker(&waiters.both))
        }
    }
}

impl<S: AsyncWrite + Unpin> Core<S> {
    /// Bytes queued and not written yet: what a flush has left, plus the connection's output.
    pub(crate) fn unwritten(&self) -> usize {
        self.out.pending.len() - self.out.written + self.conn.output_len()
    }

    /// Tells the budget, if any, what this connection holds now: the message it is receiving
    /// and the bytes queued for the socket.
    pub(crate) fn charge(&self) {
        if let Some(account) = &self.account {
            account.set(self.conn.receiving().unwrap_or(0) + self.unwritten());
        }
    }

    /// Writes everything queued, then flushes the stream; the budget, if any, learns what the
    /// queue holds after.
    pub(crate) fn poll_flush(
        &mut self,
        cx: &mut Context<'_>,
        side: Side,
    ) -> Poll<Result<(), Error>> {
        let polled = self.poll_write_out(cx, side);
        self.charge();
        polled
    }

    /// Writes everything queued, then flushes the stream.
    // ANCHOR: poll_flush
    fn poll_write_out(&mut self, cx: &mut Context<'_>, side: Side) -> Poll<Result<(), Error>> {
        let Core {
            stream,
            conn,
            out,
            waiters,
            stalled,
            ..
        } = self;
        let waiters = waiters.as_ref();
        // The write deadline's clock: it starts when the socket first takes nothing, and
        // any byte it takes restarts it (see `Timeouts::write`).
        // The reader, waiting for input with no write deadline, is woken to take this one.
        let waiting = |stalled: &mut Option<Instant>| {
            if stalled.is_none() {
                *stalled = Some(Instant::now());
                if let Some(waiters) = waiters.filter(|_| side == Side::Sender) {
                    waiters.slots.input.wake();
                }
            }
            Poll::Pending
        };
        loop {
            if out.written == out.pending.len() {
                // Two buffers take turns: the written one goes back to the connection for its
                // next frames, and what it queued meanwhile comes out.
                conn.swap_output(&mut out.pending);
                out.written = 0;
                if out.pending.is_empty() {
                    break;
                }
            }
            let unwritten = &out.pending[out.written..];
            let Poll::Ready(n) = with_write_waker(stream, waiters, side, cx, |s, cx| {
                s.poll_write(cx, unwritten)
            }) else {
                return waiting(stalled);
            };
            let n = n?;
            if n == 0 {
                return Poll::Ready(Err(Error::Io(std::io::ErrorKind::WriteZero.into())));
            }
            *stalled = None;
            out.written += n;
        }
        let Poll::Ready(flushed) =
            with_write_waker(stream, waiters, side, cx, |s, cx| s.poll_flush(cx))
        else {
            return waiting(stalled);
        };
        flushed?;
        *stalled = None;
        // The other half may have waited on bytes that this flush wrote: let it see that.
        if let Some(waiters) = waiters {
            let other = match side {
                Side::Reader => Side::Sender,
                Side::Sender => Side::Reader,
            };
            waiters.slot(other).wake();
        }
        Poll::Ready(Ok(()))
    }
    // ANCHOR_END: poll_flush

    /// Shuts the stream's write side down (TCP's FIN) now, whatever is still queued: the
    /// endings call it after a flush of their own, which has its own bound (`last_write`), and
    /// a peer that did not read what we wrote within that gets our FIN all the same.
    pub(crate) fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let shut = with_write_waker(
            &mut self.stream,
            self.waiters.as_ref(),
            Side::Reader,
            cx,
            |s, cx| s.poll_shutdown(cx),
        );
        shut.map_err(Error::from)
    }
}

/// Writes everything queued, as the sender: gives up with [`Error::AlreadyClosed`] if the
/// reader ends the connection while it waits, and with [`Error::WriteTimeout`] once the
/// socket has taken nothing for `Timeouts::write`, rather than wait on a peer that does not
/// read. (What it had not written stays queued, and the reader's last flush may still write
/// it; the reader, waiting on the same deadline, ends the connection with 1013.)
///
/// The deadline moves whenever the socket takes bytes, so each wait is made with the one in
/// force when it began, and is begun again when the clock restarts. No timer is set until a
/// write has to wait: a send that the socket takes at once costs no clock.
// ANCHOR: flush
pub(crate) async fn flush<S, L>(link: &mut L) -> Result<(), Error>
where
    S: AsyncWrite + Unpin,
    L: Link<S>,
{
    loop {
        let (since, deadline) = {
            let core = link.core();
            (core.stalled, core.write_deadline())
        };
        let attempt = std::future::poll_fn(|cx| {
            let mut core = link.core();
            match core.poll_flush(cx, Side::Sender) {
                Poll::Pending if core.over => Poll::Ready(Err(Error::AlreadyClosed)),
                Poll::Pending if core.evicted() => Poll::Ready(Err(Error::OverBudget)),
                // The clock started or restarted: wait again, with the new deadline.
                Poll::Pending if core.stalled != since => Poll::Ready(Ok(false)),
                Poll::Pending => Poll::Pending,
                Poll::Ready(flushed) => Poll::Ready(flushed.map(|()| true)),
            }
        });
        let done = match deadline {
            None => attempt.await?,
            Some(deadline) => tokio::time::timeout_at(deadline, attempt)
                .await
                .unwrap_or(Err(Error::WriteTimeout))?,
        };
        if done {
            return Ok(());
        }
    }
}
// ANCHOR_END: flush

/// Queues a message and writes everything queued.
// ANCHOR: send
pub(crate) async fn send<S, L>(link: &mut L, message: Message) -> Result<(), Error>
where
    S: AsyncWrite + Unpin,
    L: Link<S>,
{
    {
        let mut core = link.core();
        core.conn.send(message)?;
        core.charge();
    }
    flush(link).await
}
// ANCHOR_END: send

/// The sending half of a [`WebSocket`](super::WebSocket), after
/// [`split`](super::WebSocket::split).
pub struct Sender<S> {
    pub(crate) shared: Arc<Mutex<Core<S>>>,
}

impl<S> std::fmt::Debug for Sender<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<S: AsyncWrite + Unpin> Sender<S> {
    /// Queues a message and writes everything queued. Waits for the socket as long as the
    /// peer takes to read, unless the receiver ends the connection meanwhile
    /// ([`Error::AlreadyClosed`]).
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.queue(message)?;
        flush(&mut self.shared).await
    }

    /// Queues a message; writes only if the queue has passed `Limits::write_buffer_size`.
    // ANCHOR: sender_feed
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        if self.queue(message)? {
            flush(&mut self.shared).await?;
        }
        Ok(())
    }
    // ANCHOR_END: sender_feed

    /// Queues a message; returns whether the queue has passed `Limits::write_buffer_size`.
    ///
    /// A Close starts the closing handshake, and the [`Receiver`](super::Receiver) may be
    /// waiting for input already, with a deadline set for an open connection: it is woken, so
    /// that its wait takes the closing deadline (`Timeouts::close`) instead. The waker is
    /// called after the lock is released, since waking may run code that takes it.
    fn queue(&mut self, message: Message) -> Result<bool, Error> {
        let (full, reader) = {
            let mut core = lock(&self.shared);
            let before = core.conn.state();
            core.conn.send(message)?;
            core.charge();
            let reader = match &core.waiters {
                Some(waiters) if core.conn.state() != before => waiters.take_input_waiter(),
                _ => None,
            };
            (
                core.unwritten() >= core.conn.limits().write_buffer_size,
                reader,
            )
        };
        if let Some(reader) = reader {
            reader.wake();
        }
        Ok(full)
    }

    /// Queues one fragment of a message (see
    /// [`Connection::send_fragment`](crate::Connection::send_fragment)) and writes it.
    pub async fn send_fragment(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        {
            let mut core = lock(&self.shared);
            core.conn.send_fragment(opcode, payload, fin)?;
            core.charge();
        }
        flush(&mut self.shared).await
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        flush(&mut self.shared).await
    }

    /// Starts the closing handshake. The [`Receiver`](super::Receiver) sees the peer's Close,
    /// then `None`.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), Error> {
        let frame = CloseFrame {
            code,
            reason: reason.to_owned(),
        };
        self.send(Message::Close(Some(frame))).await
    }
}
