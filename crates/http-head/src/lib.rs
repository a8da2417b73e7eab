//! The HTTP/1.1 message head, the part of the protocol that SSE and WebSocket share.
//!
//! An event stream begins with a `GET` request and a `200` response; a WebSocket begins with a
//! `GET` request and a `101` response. Either way the first bytes on the connection are an
//! HTTP/1.1 *head* (RFC 9112 §2.1): a start line, header lines, and an empty line. This crate
//! is that head and nothing more, without I/O, as the protocol crates' wire layers are: bytes
//! in, a parsed head out; a response description in, bytes out.
//!
//! - [`HeadBuffer`] collects a head that arrives in pieces and says where it ends, scanning
//!   each byte once, within a size bound;
//! - [`parse_request`] and [`parse_response`] read a complete head into an owned
//!   [`RequestHead`] or [`ResponseHead`], within a header-count bound;
//! - [`write_response_head`] writes a status line and header lines, and [`Refusal`] is a
//!   complete answer to a request that is refused: both protocols' servers write their
//!   refusals with it.
//!
//! # Where a head ends
//!
//! RFC 9112 §2.1 ends the head with an empty line, and §2.2 says which line ends count: "a
//! recipient MAY recognize a single LF as a line terminator and ignore any preceding CR". This
//! crate does, so the head ends at an LF followed by either LF or CR LF. The reason is
//! agreement: `httparse`, which parses the head, accepts a bare LF at the end of every line.
//! A buffer that looked only for CR LF CR LF would disagree with its own parser about
//! `GET / HTTP/1.1\nHost: a\n\n`: the parser would call it complete while the buffer went on
//! waiting for an end that never comes, until the size bound or a timeout answered the client
//! with the wrong error. With one rule for both, the end the buffer finds is the end the parser
//! reads. Accepting the bare LF adds no new reading of the bytes: the parser already reads the
//! lines that way, and the rule only makes the buffer agree with it.

mod buffer;
mod parse;
mod write;

pub use buffer::HeadBuffer;
pub use parse::{Header, RequestHead, ResponseHead, parse_request, parse_response};
pub use write::{Refusal, reason_phrase, write_response_head};

/// Why a head was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The head had not ended when it reached this many bytes (431 for a request).
    TooLarge {
        /// The bound, in bytes.
        max: usize,
    },
    /// The head has more header lines than this (431 for a request).
    TooManyHeaders {
        /// The bound, in header lines.
        max: usize,
    },
    /// The head is not an HTTP/1.x head: the part of RFC 9112 §2-§5 that it breaks (400 for
    /// a request).
    Malformed(&'static str),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::TooLarge { max } => write!(f, "HTTP head not complete within {max} bytes"),
            Error::TooManyHeaders { max } => write!(f, "more than {max} header fields"),
            Error::Malformed(what) => write!(f, "malformed HTTP head: {what}"),
        }
    }
}

impl std::error::Error for Error {}
