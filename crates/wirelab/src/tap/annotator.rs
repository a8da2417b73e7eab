//! The annotating state of one proxied connection, which routes each direction's bytes to the
//! layer that reads them: a head, a body, WebSocket frames, or nothing.

use std::collections::VecDeque;

use super::frames::Frames;
use super::h2::Http2;
use super::http::{self, Body, HeadRead, HeadReader, Start};
use super::show::hex_dump;
use super::{Direction, TapOptions};

// ANCHOR: annotator
/// The annotating state of one proxied connection: both directions, and what one direction
/// tells about the other (a `101` switches both to WebSocket; a HEAD request has a response
/// without a body).
#[derive(Debug)]
pub struct Annotator {
    options: TapOptions,
    to_server: Side,
    to_client: Side,
    /// Methods of requests whose responses have not been seen yet, oldest first.
    pending_methods: VecDeque<String>,
}
// ANCHOR_END: annotator

/// The first part of HTTP/2's client connection preface, which a head reader sees as a head.
pub(super) const PREFACE_HEAD: &[u8] = b"PRI * HTTP/2.0\r\n\r\n";

/// One direction: which layer reads its next bytes.
#[derive(Debug)]
struct Side {
    phase: Phase,
    /// The head read so far.
    head: HeadReader,
}

#[derive(Debug)]
enum Phase {
    /// An HTTP head comes next.
    Head,
    Body(Body),
    WebSocket(Frames),
    /// HTTP/2 frames, after a client's connection preface.
    Http2(Box<Http2>),
    /// Something the tap could not read: the rest is counted, not annotated.
    Opaque,
}

impl Annotator {
    /// A fresh connection: both directions start with an HTTP head.
    pub fn new(options: TapOptions) -> Self {
        Annotator {
            options,
            to_server: Side::new(),
            to_client: Side::new(),
            pending_methods: VecDeque::new(),
        }
    }

    // ANCHOR: feed
    /// Takes the next bytes read in `direction` and returns the lines that describe them.
    pub fn feed(&mut self, direction: Direction, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        if self.options.hex {
            hex_dump(bytes, &mut lines);
        }
        let mut input = bytes;
        while !input.is_empty() {
            let side = self.side(direction);
            let used = match &mut side.phase {
                Phase::Head => match side.take_head(input) {
                    HeadRead::More => input.len(),
                    HeadRead::Done { used, head } => {
                        self.on_head(direction, &head, &mut lines);
                        used
                    }
                    HeadRead::TooLong => {
                        lines.push(http::endless_head());
                        side.phase = Phase::Opaque;
                        input.len()
                    }
                },
                Phase::Body(body) => {
                    let used = body.feed(input, &mut lines);
                    if body.done() {
                        lines.push("(end of body)".to_owned());
                        side.phase = Phase::Head;
                    }
                    used
                }
                Phase::WebSocket(frames) => {
                    frames.feed(input, &mut lines);
                    input.len()
                }
                Phase::Http2(h2) => {
                    // What one direction learns about a stream, the other needs too.
                    for learned in h2.feed(input, &mut lines) {
                        if let Phase::Http2(other) = &mut self.side(direction.other()).phase {
                            other.learn(learned);
                        }
                    }
                    input.len()
                }
                Phase::Opaque => {
                    lines.push(format!("{} bytes (not annotated)", input.len()));
                    input.len()
                }
            };
            input = &input[used..];
        }
        lines
    }
    // ANCHOR_END: feed

    fn side(&mut self, direction: Direction) -> &mut Side {
        match direction {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        }
    }

    // ANCHOR: on_head
    /// Shows a complete head, and sets what its direction (and, for a `101`, the other
    /// direction too) reads next.
    fn on_head(&mut self, direction: Direction, bytes: &[u8], lines: &mut Vec<String>) {
        // RFC 9113 §3.4: a client with prior knowledge of HTTP/2 opens with a preface whose
        // first part reads as a head; frames follow, both ways.
        if direction == Direction::ToServer && bytes == PREFACE_HEAD {
            lines.push(
                "HTTP/2 connection preface: PRI * HTTP/2.0, SM (h2c, prior knowledge)".into(),
            );
            self.to_server.phase = Phase::Http2(Box::new(Http2::client()));
            self.to_client.phase = Phase::Http2(Box::new(Http2::server()));
            return;
        }
        // Show the head as it was sent before interpreting it.
        http::show_head(bytes, lines);
        let Some(head) = http::read_head(direction, bytes) else {
            lines.push(http::unreadable_head(direction));
            self.side(direction).phase = Phase::Opaque;
            return;
        };
        let next = match head.start {
            Start::Request { ref method } => {
                self.pending_methods.push_back(method.clone());
                head.body(None).map_or(Phase::Head, Phase::Body)
            }
            Start::Response { status: 101 } => {
                lines.push("(switching protocols: WebSocket frames follow, both ways)".into());
                self.to_server.phase = Phase::WebSocket(Frames::new());
                Phase::WebSocket(Frames::new())
            }
            // An interim response: the final one, which answers the request, follows.
            Start::Response { status: 100..=199 } => Phase::Head,
            Start::Response { .. } => {
                let answers = self.pending_methods.pop_front();
                head.body(answers.as_deref())
                    .map_or(Phase::Head, Phase::Body)
            }
        };
        self.side(direction).phase = next;
    }
    // ANCHOR_END: on_head
}

impl Side {
    fn new() -> Self {
        Side {
            phase: Phase::Head,
            head: HeadReader::new(),
        }
    }

    /// Collects head bytes from the front of `input`.
    fn take_head(&mut self, input: &[u8]) -> HeadRead {
        self.head.take(input)
    }
}

#[cfg(test)]
mod tests {
    use super::super::MAX_HEAD;
    use super::*;

    #[test]
    fn an_endless_head_is_bounded() {
        let mut tap = Annotator::new(TapOptions::default());
        let line = vec![b'a'; 1024];
        let mut lines = Vec::new();
        for _ in 0..MAX_HEAD / 1024 {
            lines.extend(tap.feed(Direction::ToServer, &line));
        }
        assert_eq!(
            lines,
            [format!(
                "(no end of head within {MAX_HEAD} bytes: rest not annotated)"
            )]
        );
        assert!(tap.to_server.head.held() == 0, "the head is freed");
        assert_eq!(
            tap.feed(Direction::ToServer, b"x"),
            ["1 bytes (not annotated)"]
        );
    }

    #[test]
    fn hex_dump_comes_before_the_annotation() {
        let mut tap = Annotator::new(TapOptions {
            hex: true,
            ..TapOptions::default()
        });
        let lines = tap.feed(Direction::ToServer, b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(
            lines,
            [
                "read 18 bytes:",
                "  00000000  47 45 54 20 2f 20 48 54 54 50 2f 31 2e 31 0d 0a  GET / HTTP/1.1..",
                "  00000010  0d 0a                                            ..",
                "GET / HTTP/1.1",
                "(end of head, 18 bytes)",
            ]
        );
    }
}
