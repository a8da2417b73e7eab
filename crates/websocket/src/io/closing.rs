//! The endings of a connection, on the TCP side: what is written, shut down and drained once
//! the wire layer says the connection is over (RFC 6455 §7).
//!
//! Every wait here is bounded, so a peer that neither reads nor closes cannot keep an ending
//! connection: each last write (our Close, the shutdown of our write side) by
//! `Timeouts::last_write`, each drain of what the peer still sends by `Timeouts::linger`.
//!
//! - **The peer's Close arrived** (§5.5.1): the connection queued our reply; write it. A
//!   server then closes TCP at once (§7.1.1: the server closes first, so that TIME_WAIT stays
//!   on the server); a client waits for that in its next `recv` (the next ending).
//! - **The closing handshake is over, or the input ended** (§7.1.1): write our Close if it is
//!   still queued; a client waits, up to `linger`, for the server's FIN; shut down.
//! - **The connection failed** (§7.1.7): write the Close with the error's code, shut down,
//!   and read and drop what is still in flight for up to `linger`, so that the peer's stack
//!   does not answer our Close with a reset that could destroy it before it is read.
//! - **A read failed or timed out**: shut down; after a keep-alive timeout, first tell the peer
//!   why, in case it is only slow.
//!
//! Each ending first stops the sending: a [`Sender`](super::Sender) waiting for the socket gives
//! up with `AlreadyClosed`, leaving the socket to the last Close and the shutdown. Each but the
//! first also ends reading: `recv` returns `None` from then on.

use std::future::poll_fn;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::reader::ReadState;
use super::shared::{Core, Link};
use super::writer::Side;
use crate::connection::{CloseFrame, Message, Role};
use crate::error::Error;

/// Why the connection ends.
// ANCHOR: ending
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The peer's Close arrived; our reply is queued.
    CloseReceived,
    /// The closing handshake completed, or the input ended.
    Finished,
    /// The peer broke a rule; the Close with the error's code is queued.
    Failed,
    /// A read failed or timed out; `notice` is the Close that says why, if it is worth
    /// sending (see [`notice`]); `drain`: the peer is in the middle of a message, so what it
    /// still sends is read and dropped for `linger`, as after a failure.
    ReadFailed {
        notice: Option<(u16, &'static str)>,
        drain: bool,
    },
}
// ANCHOR_END: ending

// req: ws/5.5.1/close-tcp ws/7.1.1/server-first ws/7.1.1/clean-close ws/7.1.7/fail
/// Ends the connection on the TCP side. Failures are not reported: the application has the
/// reason already (the Close, or the error), and what is left is a courtesy to the peer.
// ANCHOR: end
pub(crate) async fn end<S, L>(link: &mut L, me: &mut ReadState, ending: Ending)
where
    S: AsyncRead + AsyncWrite + Unpin,
    L: Link<S>,
{
    // Nothing more may be sent either way; but after the peer's Close, `recv` still has the
    // last step of the closing handshake to take (the next ending), so it is not over yet.
    stop_sending(&mut link.core());
    if ending != Ending::CloseReceived {
        me.done = true;
    }
    let timeouts = me.timeouts;
    let role = link.core().conn.role();
    match ending {
        Ending::CloseReceived => {
            let _ = flush_within(link, timeouts.last_write).await;
            if role == Role::Server {
                shutdown_within(link, timeouts.last_write).await;
            }
        }
        Ending::Finished => {
            let _ = flush_within(link, timeouts.last_write).await;
            if role == Role::Client {
                drain(link, me, timeouts.linger).await;
            }
            shutdown_within(link, timeouts.last_write).await;
        }
        Ending::Failed => {
            let _ = flush_within(link, timeouts.last_write).await;
            shutdown_within(link, timeouts.last_write).await;
            drain(link, me, timeouts.linger).await;
        }
        Ending::ReadFailed { notice, drain } => {
            if let Some((code, reason)) = notice {
                let close = CloseFrame {
                    code,
                    reason: reason.into(),
                };
                let _ = link.core().conn.send(Message::Close(Some(close)));
                let _ = flush_within(link, timeouts.last_write).await;
            }
            shutdown_within(link, timeouts.last_write).await;
            if drain {
                self::drain(link, me, timeouts.linger).await;
            }
        }
    }
}
// ANCHOR_END: end

/// The Close that tells the peer why a read ended, when a deadline ended it: the peer may be
/// only slow, and may read it. (An I/O error or a peer that closed TCP gets none: there is
/// nobody to tell.)
// ANCHOR: notice
pub(crate) fn notice(error: &Error) -> Option<(u16, &'static str)> {
    match error {
        // 1011 is "internal error": §7.4.1 words it for servers, the IANA registry (§11.7) for
        // either side, and Python's websockets sends it for the same reason.
        Error::KeepaliveTimeout => Some((1011, "keep-alive ping timeout")),
        // 1013 is "try again later" (IANA registry, §11.7): the peer did nothing wrong that a
        // rule names, but this server will not hold it. Behind what the peer did not read, the
        // Close itself is usually never read: then the end of TCP is the answer.
        Error::WriteTimeout => Some((1013, "write deadline: the peer reads nothing")),
        Error::OverBudget => Some((1013, "server memory budget: largest holder closed")),
        // 1008 is "policy violation" (§7.4.1): the message was not too big, only too slow.
        Error::MessageTimeout => Some((1008, "message not finished in time")),
        _ => None,
    }
}
// ANCHOR_END: notice

/// No more messages can be sent: a [`Sender`](super::Sender) waiting for the socket gives up,
/// leaving it to the last Close and the shutdown.
pub(crate) fn stop_sending<S>(core: &mut Core<S>) {
    core.over = true;
    if let Some(waiters) = &core.waiters {
        waiters.wake_sender();
    }
}

/// Writes what is queued, giving up after `limit`.
pub(crate) async fn flush_within<S, L>(link: &mut L, limit: Duration) -> Result<(), Error>
where
    S: AsyncWrite + Unpin,
    L: Link<S>,
{
    let flush = poll_fn(|cx| link.core().poll_flush(cx, Side::Reader));
    tokio::time::timeout(limit, flush)
        .await
        .unwrap_or(Err(Error::CloseTimeout))
}

/// Shuts the write side down (after what is queued), waiting at most `limit`. The peer may be
/// gone already; there is nothing useful to do with that error.
pub(crate) async fn shutdown_within<S, L>(link: &mut L, limit: Duration)
where
    S: AsyncWrite + Unpin,
    L: Link<S>,
{
    let shutdown = poll_fn(|cx| link.core().poll_shutdown(cx));
    let _ = tokio::time::timeout(limit, shutdown).await;
}

/// Reads and drops input until the peer closes, or `limit` passes.
// ANCHOR: drain
async fn drain<S, L>(link: &mut L, me: &mut ReadState, limit: Duration)
where
    S: AsyncRead + AsyncWrite + Unpin,
    L: Link<S>,
{
    let buf = &mut me.buffers.small;
    let read_all = async {
        loop {
            buf.clear();
            let read = poll_fn(|cx| link.core().poll_read_buf(cx, buf)).await;
            if !matches!(read, Ok(1..)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(limit, read_all).await;
}
// ANCHOR_END: drain
