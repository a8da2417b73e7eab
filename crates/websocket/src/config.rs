//! The knobs of a connection, in one place, with their defaults and the reasons for them:
//! [`Limits`] say how many bytes a peer may make us hold, [`Timeouts`] how long it may make us
//! wait, and [`Config`] carries both to the functions that open a connection.
//!
//! A WebSocket peer chooses how much it sends: a frame header can announce a payload of
//! 2^63 - 1 bytes, and a message can have any number of fragments. Without limits a peer can make
//! us allocate whatever it likes. RFC 6455 §10.4 asks implementations to impose limits; the
//! close code for "too big" is 1009 (§7.4.1). Limits are checked when a frame header arrives,
//! before any of its payload is stored.
//!
//! The wire layer knows only the limits: it has no clock. The timeouts are the I/O layer's,
//! each with one job, so that the book (and a reader tuning a server) can say which wait each
//! one ends.

use std::time::Duration;

pub use crate::deflate::DeflateConfig;

/// How many bytes a peer may make us hold. `Limits::default()` documents each default.
// ANCHOR: limits
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload of one frame, in bytes. Default: 16 MiB.
    pub max_frame_size: usize,
    /// Largest message (all fragments together), in bytes. Default: 16 MiB.
    ///
    /// 16 MiB is the largest message Autobahn|Testsuite sends (cases 9.1.6 and 9.2.6). A server
    /// holding N connections can be made to hold N times this much: lower it when the peers are
    /// not trusted and large messages are not needed (Python's `websockets` uses 1 MiB).
    pub max_message_size: usize,
    /// Largest opening handshake head (request or response line plus headers), in bytes.
    /// Default: 16 KiB, room for a browser's cookies.
    pub max_handshake_size: usize,
    /// Most headers accepted in the opening handshake. Default: 64.
    pub max_headers: usize,
    /// Bytes of outgoing frames queued before a send waits for the socket (the I/O layer
    /// applies it: `Sender::feed` writes once the queue passes it, and the reader stops reading
    /// while its own replies, Pongs, pile up past it). Default: 128 KiB.
    pub write_buffer_size: usize,
}
// ANCHOR_END: limits

// ANCHOR: limits_default
impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_size: 16 << 20,
            max_message_size: 16 << 20,
            max_handshake_size: 16 << 10,
            max_headers: 64,
            write_buffer_size: 128 << 10,
        }
    }
}
// ANCHOR_END: limits_default

impl Limits {
    /// The limits of an echo server used as a test target: 64 MiB frames and messages, well
    /// above Autobahn's 16 MiB cases.
    // ANCHOR: limits_echo
    pub fn echo() -> Self {
        Limits {
            max_frame_size: 64 << 20,
            max_message_size: 64 << 20,
            ..Limits::default()
        }
    }
    // ANCHOR_END: limits_echo
}

/// How long a peer may make us wait, one field per wait. `Timeouts::default()` documents each
/// default. Used by the I/O layer only.
// ANCHOR: timeouts
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// How long the opening handshake may take, from the connection to the end of its head.
    /// Default: 10 s.
    pub handshake: Duration,
    /// The closing handshake: after our Close is sent, how long in all the peer has to send
    /// its own (counted from the first read after it), however much else it sends meanwhile.
    /// `WebSocket::close` gives up after this long. Default: 5 s.
    pub close: Duration,
    /// After the last message: how long a client waits for the server to close TCP first
    /// (§7.1.1), and how long a failed connection reads and drops what the peer still sends,
    /// so that the peer's stack does not answer our Close with a reset. Default: 5 s.
    pub linger: Duration,
    /// How long each last write of an ending connection (the Close, the shutdown of the write
    /// side) may wait for a peer that does not read. Default: 5 s.
    pub last_write: Duration,
    /// Send a Ping after this long without receiving anything. Default: `None` (no
    /// keep-alive). The timer runs while `Receiver::recv` waits for input, so an application
    /// that wants keep-alive keeps a task in `recv` (most do: it is how messages and Close
    /// frames arrive).
    pub ping_interval: Option<Duration>,
    /// With `ping_interval`, how long the peer has, from the keep-alive Ping, to send anything
    /// at all. Writing the Ping counts too, so a peer that stops reading is found as well as
    /// one that vanished: `recv` then fails with `KeepaliveTimeout`. Default: 20 s.
    pub ping_timeout: Duration,
    /// How long the socket may take none of our bytes while some are queued (the write
    /// deadline). Past it, a `send` fails with `WriteTimeout`, and so does `recv`, which then
    /// queues Close 1013 and ends the connection; a peer that reads nothing never reads that
    /// Close either, and gets the end of TCP. Any progress restarts the clock: it finds a peer
    /// that stopped reading, and a slow reader is held to `Limits::write_buffer_size` and, for
    /// the whole process, to a `Budget`. Default: 30 s, longer than a mobile network's
    /// ordinary stalls and short enough that a few thousand never-readers, each with a full
    /// kernel send queue, do not pile up.
    pub write: Duration,
    /// How long a message may take from its first byte to its last (a frame header or a
    /// first fragment starts it). Past it, `recv` fails with `MessageTimeout` and the
    /// connection is closed with 1008: a peer cannot hold a half-sent message, and the memory
    /// it takes, for as long as it likes. Default: 60 s, time for a 16 MiB message at about
    /// 2 Mbit/s.
    pub message: Duration,
}
// ANCHOR_END: timeouts

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            handshake: Duration::from_secs(10),
            close: Duration::from_secs(5),
            linger: Duration::from_secs(5),
            last_write: Duration::from_secs(5),
            ping_interval: None,
            ping_timeout: Duration::from_secs(20),
            write: Duration::from_secs(30),
            message: Duration::from_secs(60),
        }
    }
}

/// Both: what `accept`, `upgrade` and `connect` take to open a connection.
// ANCHOR: config
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Config {
    /// Bytes (the wire layer's [`Connection`](crate::Connection) and handshakes enforce them).
    pub limits: Limits,
    /// Waits (the I/O layer's).
    pub timeouts: Timeouts,
    /// permessage-deflate (RFC 7692): offered by a client, accepted by a server. Off by
    /// default; [`DeflateConfig`] says why.
    pub deflate: DeflateConfig,
}
// ANCHOR_END: config

impl Config {
    /// The configuration of an echo server used as a test target: [`Limits::echo`] with the
    /// default timeouts, and permessage-deflate accepted when offered.
    pub fn echo() -> Self {
        Config {
            limits: Limits::echo(),
            timeouts: Timeouts::default(),
            deflate: DeflateConfig::on(),
        }
    }
}
