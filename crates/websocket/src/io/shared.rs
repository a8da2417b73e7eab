//! What reading and writing share: the byte stream, the wire [`Connection`] and the bytes on
//! their way out, held by one [`WebSocket`](super::WebSocket), or by its two halves behind one
//! lock.
//!
//! A [`WebSocket`](super::WebSocket) that one task uses owns its [`Core`] outright: `recv` and
//! `send` take `&mut self`, so no lock is needed and none is taken. After
//! [`split`](super::WebSocket::split), a [`Receiver`](super::Receiver) and a
//! [`Sender`](super::Sender) in two tasks share the core behind one `std::sync::Mutex`. It is
//! held only inside a `poll` (to parse, to queue a message, to make the reads or writes one
//! poll makes until the socket would wait), never across an `.await`: a reader waiting for
//! bytes holds no lock, and neither does a sender waiting for the socket, so one half waits
//! for the other at most for the system calls of one poll, never for the peer.
//!
//! The reader and the writer are written once, against [`Link`]: "give me the core, briefly".
//! An owned core hands out `&mut Core`, a shared one a `MutexGuard`.

use std::ops::DerefMut;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use super::budget::Account;
use super::writer::{Outgoing, WriteWaiters};
use crate::connection::Connection;

/// The state of one connection that both directions need.
// ANCHOR: core
pub(crate) struct Core<S> {
    /// The socket (or any byte stream): read by the reader, written by either half.
    pub(crate) stream: S,
    /// The wire layer: bytes in, messages out; messages in, bytes out.
    pub(crate) conn: Connection,
    /// Bytes taken from the connection's output and not all written yet.
    pub(crate) out: Outgoing,
    /// After a split, who waits to write (see `writer`); `None` while one task owns the core.
    pub(crate) waiters: Option<WriteWaiters>,
    /// The reader has ended the connection: a sender waiting for the socket gives up.
    pub(crate) over: bool,
    /// Since when the socket has taken none of the bytes queued for it (`None`: it took the
    /// last ones offered, or nothing is queued). Both halves wait on it with the same
    /// deadline, `write_timeout` later (see `writer`).
    pub(crate) stalled: Option<Instant>,
    /// `Timeouts::write`.
    pub(crate) write_timeout: Duration,
    /// This connection's account with the process's memory budget, if it was given one.
    pub(crate) account: Option<Account>,
}
// ANCHOR_END: core

impl<S> Core<S> {
    pub(crate) fn new(stream: S, conn: Connection, write_timeout: Duration) -> Core<S> {
        Core {
            stream,
            conn,
            out: Outgoing::default(),
            waiters: None,
            over: false,
            stalled: None,
            write_timeout,
            account: None,
        }
    }

    /// The budget has closed this connection.
    pub(crate) fn evicted(&self) -> bool {
        self.account.as_ref().is_some_and(Account::evicted)
    }

    /// The write deadline in force: when the socket, stalled since `stalled`, is given up on.
    pub(crate) fn write_deadline(&self) -> Option<Instant> {
        self.stalled.map(|since| since + self.write_timeout)
    }
}

/// Access to the [`Core`], for as long as one step takes.
// ANCHOR: link
pub(crate) trait Link<S> {
    /// The core. Callers keep the result only within one `poll` or one synchronous step:
    /// for shared cores it is a lock.
    fn core(&mut self) -> impl DerefMut<Target = Core<S>> + '_;
}

/// One task owns the connection: no lock.
impl<S> Link<S> for Core<S> {
    fn core(&mut self) -> impl DerefMut<Target = Core<S>> + '_ {
        self
    }
}

/// Two halves share it.
impl<S> Link<S> for Arc<Mutex<Core<S>>> {
    fn core(&mut self) -> impl DerefMut<Target = Core<S>> + '_ {
        lock(self)
    }
}
// ANCHOR_END: link

/// Polls `step` once and returns what it gave, ready or not: for an attempt that is worth
/// making only if it can finish at once (the large read, a reply that fits in the socket).
/// Pending, it has registered the task's waker, which may then wake the task once for
/// nothing.
pub(crate) async fn try_now<T>(mut step: impl FnMut(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
    std::future::poll_fn(|cx| Poll::Ready(step(cx))).await
}

/// Takes the lock. A panic while it was held (a bug, not peer input: peer input never panics)
/// cannot leave the core half-updated in a way that matters more than the panic itself, so a
/// poisoned lock is taken anyway.
pub(crate) fn lock<S>(shared: &Mutex<Core<S>>) -> MutexGuard<'_, Core<S>> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
