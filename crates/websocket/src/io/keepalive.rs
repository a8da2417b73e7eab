//! The reader's clock: how long each wait for input may last, and what it means when it ends.
//!
//! Two things bound a wait for the peer's bytes:
//!
//! - **keep-alive** (`Timeouts::ping_interval`, `ping_timeout`): after `ping_interval` with
//!   nothing received, the reader sends a Ping (RFC 6455 §5.5.2: "a Ping frame MAY serve
//!   either as a keepalive or as a means to verify that the remote endpoint is still
//!   responsive"); from then on, the peer has `ping_timeout` to send anything at all. Writing
//!   the Ping happens during that wait too, so a peer that stops reading is found as surely
//!   as one that vanished;
//! - **the closing handshake** (`Timeouts::close`): once our Close is out, the peer has that
//!   long in all to send its own, however much else it sends meanwhile (one deadline for the
//!   whole wait, not one per read).
//!
//! A third end of a wait is not the protocol's but the reader's own: after a burst, a wait
//! that lasts a second gives the large read buffer back (`Expiry::Quiet`, see `reader`), and
//! goes on.
//!
//! No timer runs while the reader is not waiting: the clock is read only when a wait begins.

use tokio::time::Instant;

use crate::config::Timeouts;
use crate::connection::{Connection, Message, State};
use crate::error::Error;

/// What the end of a wait for input means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// Quiet for `ping_interval`: ask the peer whether it is still there.
    SendPing,
    /// A keep-alive Ping went unanswered for `ping_timeout`.
    NoAnswer,
    /// Our Close went unanswered for `Timeouts::close`.
    NoClose,
    /// Quiet long enough after a burst to give the large read buffer back (the reader's
    /// memory rule, not a protocol deadline: the wait goes on after it).
    Quiet,
}

/// The deadlines in force.
// ANCHOR: timers
#[derive(Debug, Default)]
pub(crate) struct Timers {
    /// A keep-alive Ping is out and nothing has been received since: the peer has until then.
    pong: Option<Instant>,
    /// Our Close is out: the peer has until then to send its own.
    close: Option<Instant>,
}
// ANCHOR_END: timers

impl Timers {
    /// The end of the next wait for input, and its meaning; `None`: wait as long as it takes.
    // ANCHOR: next_deadline
    pub(crate) fn next_deadline(
        &mut self,
        state: State,
        timeouts: &Timeouts,
    ) -> Option<(Instant, Expiry)> {
        if state == State::Closing {
            let close = *self
                .close
                .get_or_insert_with(|| Instant::now() + timeouts.close);
            return Some((close, Expiry::NoClose));
        }
        if let Some(pong) = self.pong {
            return Some((pong, Expiry::NoAnswer));
        }
        let interval = timeouts.ping_interval?;
        Some((Instant::now() + interval, Expiry::SendPing))
    }
    // ANCHOR_END: next_deadline

    /// Quiet for `ping_interval`: queues the keep-alive Ping on `conn` (the reader's next wait
    /// writes it, and the writing counts against the answer's time) and gives the peer
    /// `ping_timeout` from now to send anything at all.
    // ANCHOR: ping
    pub(crate) fn ping(&mut self, conn: &mut Connection, timeouts: &Timeouts) -> Result<(), Error> {
        conn.send(Message::Ping(b"keepalive".to_vec()))?;
        self.pong = Some(Instant::now() + timeouts.ping_timeout);
        Ok(())
    }
    // ANCHOR_END: ping

    /// Bytes arrived: the peer is there.
    pub(crate) fn heard_from_peer(&mut self) {
        self.pong = None;
    }
}
