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
//! Two more bound what a peer can make us hold, whatever it sends or does not read:
//!
//! - **the message deadline** (`Timeouts::message`): a message, from the first byte of its
//!   first frame to its last, must arrive within it (the connection says when one has
//!   started: `Connection::receiving`); a peer that trickles a large message ends with 1008;
//! - **the write deadline** (`Timeouts::write`): while our bytes wait for a socket that takes
//!   none of them (see `Core::stalled`), the reader stops reading past
//!   `Limits::write_buffer_size`, and this deadline ends the wait: 1013.
//!
//! Both are checked before every wait too, not only when one ends: a peer that floods us
//! never lets a wait last, yet must not escape them.
//!
//! A last end of a wait is not the protocol's but the reader's own: after a burst, a wait
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
    /// The message being received was not finished within `Timeouts::message`.
    MessageTooSlow,
    /// The socket has taken none of our bytes for `Timeouts::write`.
    WriteStalled,
}

impl Expiry {
    /// The error that ends the connection when this deadline passes, if it does end it.
    pub(crate) fn error(self) -> Option<Error> {
        match self {
            Expiry::SendPing | Expiry::Quiet => None,
            Expiry::NoAnswer => Some(Error::KeepaliveTimeout),
            Expiry::NoClose => Some(Error::CloseTimeout),
            Expiry::MessageTooSlow => Some(Error::MessageTimeout),
            Expiry::WriteStalled => Some(Error::WriteTimeout),
        }
    }
}

/// What the reader sees of the connection when a wait begins.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seen {
    pub(crate) state: State,
    /// A message has started arriving (`Connection::receiving`).
    pub(crate) receiving: bool,
    /// The write deadline, if our bytes wait for the socket (`Core::write_deadline`).
    pub(crate) write_deadline: Option<Instant>,
}

/// The deadlines in force.
// ANCHOR: timers
#[derive(Debug, Default)]
pub(crate) struct Timers {
    /// A keep-alive Ping is out and nothing has been received since: the peer has until then.
    pong: Option<Instant>,
    /// Our Close is out: the peer has until then to send its own.
    close: Option<Instant>,
    /// A message has started arriving: the peer has until then to finish it.
    message: Option<Instant>,
}
// ANCHOR_END: timers

impl Timers {
    /// A deadline that bounds what the peer makes us hold (the message's, the write's) and
    /// has passed already: the connection ends without waiting.
    pub(crate) fn overdue(&mut self, seen: &Seen, timeouts: &Timeouts) -> Option<Expiry> {
        self.bounds(seen, timeouts)
            .filter(|(at, _)| *at <= Instant::now())
            .map(|(_, expiry)| expiry)
    }

    /// The earlier of the message deadline and the write deadline, if either is in force.
    fn bounds(&mut self, seen: &Seen, timeouts: &Timeouts) -> Option<(Instant, Expiry)> {
        if seen.receiving {
            self.message
                .get_or_insert_with(|| Instant::now() + timeouts.message);
        } else {
            self.message = None;
        }
        let message = self.message.map(|at| (at, Expiry::MessageTooSlow));
        let write = seen.write_deadline.map(|at| (at, Expiry::WriteStalled));
        message.into_iter().chain(write).min_by_key(|(at, _)| *at)
    }

    /// The end of the next wait for input, and its meaning; `None`: wait as long as it takes.
    /// The earliest of the protocol's deadline (below) and the bounds above.
    pub(crate) fn next_deadline(
        &mut self,
        seen: &Seen,
        timeouts: &Timeouts,
    ) -> Option<(Instant, Expiry)> {
        let protocol = self.protocol_deadline(seen.state, timeouts);
        let bounds = self.bounds(seen, timeouts);
        protocol.into_iter().chain(bounds).min_by_key(|(at, _)| *at)
    }

    /// The deadline of the conversation: the closing handshake's, or keep-alive's.
    // ANCHOR: next_deadline
    fn protocol_deadline(
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
