//! HTTP/1.1 heads, and how the body that follows a head is framed (RFC 9112 §6).
//!
//! [`read_head`] is the one place the tap parses a head, with the same `http_head` functions
//! that the `websocket` and `sse` servers read their requests with; it keeps only what the
//! annotator needs, so the rest of the tap never sees a header list. A [`Body`] then takes
//! the bytes after the head: a `Content-Length`, chunked coding (see `chunked.rs`), or, for a
//! response with neither, everything until the connection closes.

use http_head::HeadBuffer;

use super::chunked::Chunked;
use super::event_stream::EventStream;
use super::show::{Sample, quote};
use super::{Direction, MAX_HEAD};

/// How many header lines the tap reads in a head; a head with more is not annotated.
const MAX_HEADERS: usize = 64;

/// What the tap needs from a head.
#[derive(Debug)]
pub(super) struct Head {
    /// The request's method or the response's status.
    pub(super) start: Start,
    /// `Content-Type` is `text/event-stream` (any parameters aside).
    event_stream: bool,
    /// `Transfer-Encoding` includes `chunked`.
    chunked: bool,
    /// `Content-Length`, when present and a number.
    content_length: Option<u64>,
    /// A request's `Accept-Encoding` takes gzip (`--fault no-flush-gzip` asks).
    pub(super) accepts_gzip: bool,
    /// A response's body already has a `Content-Encoding`.
    pub(super) encoded: bool,
}

/// The start line of a head.
#[derive(Debug)]
pub(super) enum Start {
    /// A request line.
    Request {
        /// The method, which decides whether the response has a body.
        method: String,
    },
    /// A status line.
    Response {
        /// The status code.
        status: u16,
    },
}

/// Collects a head from the front of one direction's bytes, across reads: the WebSocket
/// handshake's own buffer, which finds the end of a head without searching the same bytes
/// twice, and refuses to grow past [`MAX_HEAD`].
#[derive(Debug)]
pub(super) struct HeadReader(HeadBuffer);

/// What [`HeadReader::take`] made of its input.
pub(super) enum HeadRead {
    /// All of it belongs to a head that has not ended yet.
    More,
    /// The head ended after `used` bytes of the input.
    Done { used: usize, head: Vec<u8> },
    /// No end of head within [`MAX_HEAD`] bytes: not a head anyone would accept.
    TooLong,
}

impl HeadReader {
    pub(super) fn new() -> Self {
        HeadReader(HeadBuffer::new(MAX_HEAD))
    }

    /// How many bytes of an unfinished head it holds.
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.0.bytes().len()
    }

    /// Takes head bytes from the front of `input`.
    pub(super) fn take(&mut self, input: &[u8]) -> HeadRead {
        let held = self.0.bytes().len();
        match self.0.push(input) {
            Ok(None) => HeadRead::More,
            Ok(Some(end)) => {
                let head = self.0.bytes()[..end].to_vec();
                // The next head starts afresh: the bytes after this one are the caller's to
                // feed again, to whatever reads them.
                self.0 = HeadBuffer::new(MAX_HEAD);
                HeadRead::Done {
                    used: end - held,
                    head,
                }
            }
            Err(_) => {
                self.0 = HeadBuffer::new(MAX_HEAD);
                HeadRead::TooLong
            }
        }
    }
}

/// Parses a complete head (through its empty line) travelling in `direction`: a request
/// towards the server, a response towards the client. `None` if it is not a valid one.
pub(super) fn read_head(direction: Direction, bytes: &[u8]) -> Option<Head> {
    let (start, headers) = match direction {
        Direction::ToServer => {
            let request = http_head::parse_request(bytes, MAX_HEADERS).ok()?;
            let method = request.method;
            (Start::Request { method }, request.headers)
        }
        Direction::ToClient => {
            let response = http_head::parse_response(bytes, MAX_HEADERS).ok()?;
            let status = response.status;
            (Start::Response { status }, response.headers)
        }
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| String::from_utf8_lossy(value).to_ascii_lowercase())
    };
    Some(Head {
        start,
        event_stream: header("content-type")
            .is_some_and(|v| v.split(';').next().unwrap_or("").trim() == "text/event-stream"),
        chunked: header("transfer-encoding").is_some_and(|v| v.contains("chunked")),
        content_length: header("content-length").and_then(|v| v.trim().parse().ok()),
        accepts_gzip: headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("accept-encoding"))
            .any(|(_, value)| sse::gzip::accepts_gzip(value)),
        encoded: headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-encoding"))
            .any(|(_, value)| !value.trim_ascii().eq_ignore_ascii_case(b"identity")),
    })
}

// ANCHOR: head_body
impl Head {
    /// The body that follows this head, or `None` when the next bytes are another head
    /// (RFC 9112 §6.3). `answers` is, for a response, the method of the request it answers.
    pub(super) fn body(&self, answers: Option<&str>) -> Option<Body> {
        let response = match self.start {
            Start::Request { .. } => false,
            // The response to a HEAD, and a 1xx, 204 or 304 response, has no body whatever
            // its headers say.
            Start::Response { status } => {
                if answers == Some("HEAD") || matches!(status, 100..=199 | 204 | 304) {
                    return None;
                }
                true
            }
        };
        let framing = if self.chunked {
            Framing::Chunked(Chunked::new())
        } else if let Some(len) = self.content_length {
            if len == 0 {
                return None;
            }
            Framing::Length(len)
        } else if response {
            Framing::UntilClose
        } else {
            // A request with neither header has no body.
            return None;
        };
        let content = if self.event_stream {
            Content::EventStream(EventStream::default())
        } else {
            Content::Opaque(Sample::default())
        };
        Some(Body { framing, content })
    }
}
// ANCHOR_END: head_body

impl Head {
    /// The body is an event stream.
    pub(super) fn is_event_stream(&self) -> bool {
        self.event_stream
    }
}

/// The body after a head: how it is framed, and what it carries.
#[derive(Debug)]
pub(super) struct Body {
    framing: Framing,
    content: Content,
}

#[derive(Debug)]
enum Framing {
    /// `Content-Length`: this many bytes left.
    Length(u64),
    Chunked(Chunked),
    /// A response with no length: the body ends when the connection does.
    UntilClose,
}

/// What a body carries: shown as it arrives, or kept for a fault that rewrites it.
#[derive(Debug)]
pub(super) enum Content {
    /// An event stream, line by line.
    EventStream(EventStream),
    /// Anything else: its first bytes, and its size.
    Opaque(Sample),
    /// The bytes themselves, kept for the taker (`--fault no-flush-gzip` compresses them).
    Kept(Vec<u8>),
}

impl Body {
    /// This body, keeping its bytes (without their chunked framing) for
    /// [`Body::take_kept`] instead of describing them.
    pub(super) fn keeping(self) -> Body {
        Body {
            content: Content::Kept(Vec::new()),
            ..self
        }
    }

    /// The bytes kept since the last call (see [`Body::keeping`]).
    pub(super) fn take_kept(&mut self) -> Vec<u8> {
        match &mut self.content {
            Content::Kept(kept) => std::mem::take(kept),
            _ => Vec::new(),
        }
    }

    /// The body is framed with chunked coding.
    pub(super) fn is_chunked(&self) -> bool {
        matches!(self.framing, Framing::Chunked(_))
    }

    /// The body's chunked framing broke (a chunk-size line that was not one).
    pub(super) fn broken(&self) -> bool {
        matches!(&self.framing, Framing::Chunked(chunked) if chunked.broken())
    }

    /// The body has no `Content-Length`: chunked, or ended by the connection's end.
    pub(super) fn has_no_length(&self) -> bool {
        !matches!(self.framing, Framing::Length(_))
    }

    /// The body has ended, and the next bytes are a head.
    pub(super) fn done(&self) -> bool {
        match &self.framing {
            Framing::Length(left) => *left == 0,
            Framing::Chunked(chunked) => chunked.done(),
            Framing::UntilClose => false,
        }
    }

    /// Takes body bytes; returns how many of `input` belong to this body.
    pub(super) fn feed(&mut self, input: &[u8], lines: &mut Vec<String>) -> usize {
        match &mut self.framing {
            Framing::UntilClose => {
                self.content.feed(input, lines);
                input.len()
            }
            Framing::Length(left) => {
                let take = input
                    .len()
                    .min(usize::try_from(*left).unwrap_or(usize::MAX));
                *left -= take as u64;
                self.content.feed(&input[..take], lines);
                if *left == 0 {
                    self.content.finish(lines);
                }
                take
            }
            Framing::Chunked(chunked) => chunked.feed(input, &mut self.content, lines),
        }
    }
}

impl Content {
    /// Takes the body's next bytes, without any chunked framing.
    pub(super) fn feed(&mut self, bytes: &[u8], lines: &mut Vec<String>) {
        match self {
            Content::EventStream(stream) => stream.feed(bytes, lines),
            Content::Opaque(sample) => sample.push(bytes),
            Content::Kept(kept) => kept.extend_from_slice(bytes),
        }
    }

    /// The body ended: shows what is still untold.
    pub(super) fn finish(&mut self, lines: &mut Vec<String>) {
        match self {
            Content::EventStream(stream) => stream.finish(lines),
            Content::Opaque(sample) => {
                if sample.total() > 0 {
                    lines.push(format!(
                        "body: {} bytes: {}",
                        sample.total(),
                        quote(sample.kept(), sample.total())
                    ));
                }
                *sample = Sample::default();
            }
            Content::Kept(_) => {}
        }
    }
}

/// Shows a head as it was sent, one line each, and its size.
pub(super) fn show_head(head: &[u8], lines: &mut Vec<String>) {
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.is_empty() {
            lines.push(String::from_utf8_lossy(line).into_owned());
        }
    }
    lines.push(format!("(end of head, {} bytes)", head.len()));
}

/// The annotation that replaces a head the tap cannot read: the rest of its direction is
/// forwarded unread.
pub(super) fn unreadable_head(direction: Direction) -> String {
    match direction {
        Direction::ToServer => "(not a valid HTTP request head: rest not annotated)".to_owned(),
        Direction::ToClient => "(not a valid HTTP response head: rest not annotated)".to_owned(),
    }
}

/// The annotation for a head that never ends.
pub(super) fn endless_head() -> String {
    format!("(no end of head within {MAX_HEAD} bytes: rest not annotated)")
}

#[cfg(test)]
mod tests {
    use crate::tap::{Annotator, Direction, TapOptions};

    #[test]
    fn content_length_body_then_next_request() {
        let mut tap = Annotator::new(TapOptions::default());
        let lines = tap.feed(
            Direction::ToServer,
            b"POST /chat HTTP/1.1\r\ncontent-length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
        );
        assert_eq!(lines[3], "body: 5 bytes: \"hello\"");
        assert_eq!(lines[4], "(end of body)");
        assert_eq!(lines[5], "GET / HTTP/1.1");
    }

    #[test]
    fn responses_to_head_and_204_have_no_body() {
        let mut tap = Annotator::new(TapOptions::default());
        tap.feed(Direction::ToServer, b"HEAD / HTTP/1.1\r\n\r\n");
        tap.feed(Direction::ToServer, b"GET / HTTP/1.1\r\n\r\n");
        // The first response answers the HEAD: its content-length announces no bytes here,
        // and what follows it is the second response's head.
        let lines = tap.feed(
            Direction::ToClient,
            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n\
            HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc",
        );
        assert_eq!(
            lines[3..],
            [
                "HTTP/1.1 200 OK",
                "content-length: 3",
                "(end of head, 38 bytes)",
                "body: 3 bytes: \"abc\"",
                "(end of body)",
            ]
        );
        let lines = tap.feed(
            Direction::ToClient,
            b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1",
        );
        assert_eq!(lines[1], "(end of head, 27 bytes)");
        assert_eq!(lines.len(), 2, "{lines:?}");
    }

    #[test]
    fn an_interim_response_is_followed_by_the_final_one() {
        let mut tap = Annotator::new(TapOptions::default());
        tap.feed(
            Direction::ToServer,
            b"POST / HTTP/1.1\r\ncontent-length: 0\r\n\r\n",
        );
        let lines = tap.feed(
            Direction::ToClient,
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        );
        assert_eq!(lines[2], "HTTP/1.1 200 OK");
        assert_eq!(lines[5..], ["body: 2 bytes: \"ok\"", "(end of body)"]);
    }
}
