//! Limits and timeouts, in one place, with their defaults and the reasons for them.
//!
//! A WebSocket peer chooses how much it sends: a frame header can announce a payload of
//! 2^63 - 1 bytes, and a message can have any number of fragments. Without limits a peer can make
//! us allocate whatever it likes. RFC 6455 §10.4 asks implementations to impose limits; the
//! close code for "too big" is 1009 (§7.4.1). Limits are checked when a frame header arrives,
//! before any of its payload is stored.

use std::time::Duration;

/// The limits and timeouts of one connection. `Config::default()` documents each default.
// ANCHOR: config
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
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
    /// (I/O layer) How long the opening handshake may take. Default: 10 s.
    pub handshake_timeout: Duration,
    /// (I/O layer) Bytes of outgoing frames buffered before a send waits for the socket.
    /// Default: 128 KiB.
    pub write_buffer_size: usize,
    /// (I/O layer) After our Close is sent, how long in all to wait for the peer's Close
    /// (counted from the first read after it); as a client, how long to wait for the server
    /// to close the TCP connection; also how long each of the last writes of a closing or
    /// failed connection (our Close, the shutdown) may wait. `WebSocket::close` gives up
    /// after this long. Default: 5 s.
    pub close_timeout: Duration,
    /// (I/O layer) Send a Ping after this long without receiving anything. Default: `None`
    /// (no keep-alive). The timer runs while `Receiver::recv` waits for input, so an
    /// application that wants keep-alive keeps a task in `recv` (most do: it is how messages
    /// and Close frames arrive).
    pub ping_interval: Option<Duration>,
    /// (I/O layer) With `ping_interval`, how long the peer has, from the keep-alive Ping, to
    /// send anything at all. Writing the Ping counts too, so a peer that stops reading is
    /// found as well as one that vanished: `recv` then fails with `KeepaliveTimeout`.
    /// Default: 20 s.
    pub ping_timeout: Duration,
}
// ANCHOR_END: config

// ANCHOR: config_default
impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 16 << 20,
            max_handshake_size: 16 << 10,
            max_headers: 64,
            handshake_timeout: Duration::from_secs(10),
            write_buffer_size: 128 << 10,
            close_timeout: Duration::from_secs(5),
            ping_interval: None,
            ping_timeout: Duration::from_secs(20),
        }
    }
}
// ANCHOR_END: config_default

impl Config {
    /// The configuration of an echo server used as a test target: 64 MiB frames and messages,
    /// well above Autobahn's 16 MiB cases.
    // ANCHOR: config_echo
    pub fn echo() -> Self {
        Config {
            max_frame_size: 64 << 20,
            max_message_size: 64 << 20,
            ..Config::default()
        }
    }
    // ANCHOR_END: config_echo
}
