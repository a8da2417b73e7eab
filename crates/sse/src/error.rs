//! The crate's one error type. Each variant names the rule that was broken.

use std::fmt;

// ANCHOR: error
/// Everything that can go wrong in this crate, named after the broken rule.
///
/// The wire layer has only the first four variants, and none of them is caused by a well-formed
/// peer: the parser accepts every byte sequence (HTML §9.2.5 has no syntax errors) except one
/// that exceeds the configured memory bound.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The event being received grew past [`ParserConfig::max_event_bytes`](crate::ParserConfig).
    /// The HTML Standard sets no limit; a server that never sends a line end would otherwise
    /// make the parser buffer without end.
    EventTooLarge {
        /// The configured bound, in bytes.
        limit: usize,
    },
    /// An event type containing CR or LF cannot be written: the line would end early and the
    /// rest would be read as another field (HTML §9.2.5 ABNF: `any-char` excludes CR and LF).
    EventTypeHasLineBreak,
    /// An id containing CR or LF cannot be written, for the same reason as an event type.
    IdHasLineBreak,
    /// An id containing U+0000 NULL would be ignored by every receiver (HTML §9.2.6: "If the
    /// field value does not contain U+0000 NULL, then set the last event ID buffer"), so the
    /// encoder refuses it rather than send an id nobody keeps.
    IdHasNull,
    /// A socket or HTTP error (I/O layer only).
    #[cfg(any(feature = "io", feature = "http1"))]
    Io(std::io::Error),
    /// An HTTP protocol error reported by hyper (I/O layer only).
    #[cfg(feature = "io")]
    Http(hyper::Error),
    /// The TLS handshake failed: rustls refused the server's certificate (not signed by a
    /// trusted root, not for this name, expired), or the server sent an alert (I/O layer
    /// only).
    #[cfg(feature = "io")]
    Tls(rustls::Error),
    /// The URL given to the client is not an absolute `http://` or `https://` URL (I/O layer
    /// only).
    #[cfg(feature = "io")]
    InvalidUrl(String),
    /// The URL given to the client has credentials (`user:password@`). The client does not
    /// send them, and they must not leak into the `Host` header (I/O layer only).
    #[cfg(feature = "io")]
    UrlHasCredentials,
    /// A request head that [`http1::read_request`](crate::http1::read_request) refused, and
    /// the status it was answered with: 400 malformed (RFC 9112 §2, §3.2), 405 not `GET`,
    /// 408 not complete in time, 431 too large (RFC 6585 §5) (I/O layer only).
    #[cfg(feature = "http1")]
    RequestRejected {
        /// The status of the answer that was sent.
        status: http::StatusCode,
        /// The rule that was broken, also the answer's body.
        reason: &'static str,
    },
}
// ANCHOR_END: error

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::EventTooLarge { limit } => {
                write!(f, "event exceeds the bound of {limit} buffered bytes")
            }
            Error::EventTypeHasLineBreak => f.write_str("event type contains CR or LF"),
            Error::IdHasLineBreak => f.write_str("id contains CR or LF"),
            Error::IdHasNull => f.write_str("id contains U+0000 NULL"),
            #[cfg(any(feature = "io", feature = "http1"))]
            Error::Io(e) => write!(f, "I/O error: {e}"),
            #[cfg(feature = "io")]
            Error::Http(e) => write!(f, "HTTP error: {e}"),
            #[cfg(feature = "io")]
            Error::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            #[cfg(feature = "io")]
            Error::InvalidUrl(url) => {
                write!(f, "not an absolute http:// or https:// URL: {url:?}")
            }
            #[cfg(feature = "io")]
            Error::UrlHasCredentials => f.write_str(
                "the URL has credentials (user:password@), which this client does not send",
            ),
            #[cfg(feature = "http1")]
            Error::RequestRejected { status, reason } => {
                write!(f, "request refused with {status}: {reason}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            #[cfg(any(feature = "io", feature = "http1"))]
            Error::Io(e) => Some(e),
            #[cfg(feature = "io")]
            Error::Http(e) => Some(e),
            #[cfg(feature = "io")]
            Error::Tls(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(any(feature = "io", feature = "http1"))]
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

#[cfg(feature = "io")]
impl From<hyper::Error> for Error {
    fn from(e: hyper::Error) -> Self {
        Error::Http(e)
    }
}
