//! Exercise 1: `Sec-WebSocket-Accept` (RFC 6455 §4.2.2), about 10 minutes.
//!
//! A server proves it read the client's handshake by hashing the client's `Sec-WebSocket-Key`:
//! the key *as received* (the base64 text, not the bytes it decodes to), followed by the GUID
//! `258EAFA5-E914-47DA-95CA-C5AB0DC85B11`, hashed with SHA-1, the 20-byte hash in base64.
//! The `sha1` and `base64` crates are dependencies of this crate.
//!
//! Check: `scripts/workshop check 1`.

#[cfg(not(feature = "solutions"))]
pub use start::accept_key;

#[cfg(feature = "solutions")]
pub use solution::accept_key;

#[cfg(not(feature = "solutions"))]
mod start {
    // The parameters are unused until the body is written.
    #![allow(unused_variables)]

    /// The `Sec-WebSocket-Accept` value that answers `key`.
    pub fn accept_key(key: &str) -> String {
        panic!("exercise 1 is not written yet: see `scripts/workshop hint 1`")
    }
}

#[cfg(feature = "solutions")]
mod solution {
    /// The `Sec-WebSocket-Accept` value that answers `key`: WireLab's own.
    pub fn accept_key(key: &str) -> String {
        websocket::handshake::accept_key(key.as_bytes())
    }
}
