//! An event stream, shown line by line: each field, comment and dispatching blank line, raw.
//!
//! Lines are cut by [`LineSplitter`], the `sse` parser's own splitter, so the tap ends a line
//! exactly where the parser does (CR, LF or CRLF, HTML §9.2.5), even when a CRLF is split
//! between two reads. What a line means is left to the reader: the tap shows each line as it
//! was sent and builds no events, because the details a parser hides are what a tap is for.

use sse::parser::{Line, LineSplitter, Piece};

use super::MAX_HEAD;

/// The event-stream lines of one body.
#[derive(Debug, Default)]
pub(super) struct EventStream {
    lines: LineSplitter,
    /// The line being received. Lines longer than [`MAX_HEAD`] are shown cut, never held whole.
    line: Vec<u8>,
}

impl EventStream {
    // ANCHOR: event_stream_feed
    /// Takes the next body bytes, and describes each line they end.
    pub(super) fn feed(&mut self, mut bytes: &[u8], lines: &mut Vec<String>) {
        while let Some(piece) = self.lines.next_piece(&mut bytes) {
            match piece {
                Piece::Continues(part) => self.keep(part),
                Piece::Ends(part) => {
                    self.keep(part);
                    lines.push(describe_line(&String::from_utf8_lossy(&self.line)));
                    self.line.clear();
                }
            }
        }
    }
    // ANCHOR_END: event_stream_feed

    /// The body ended: a line without its end is not a line, and the parser discards it.
    pub(super) fn finish(&mut self, lines: &mut Vec<String>) {
        if !self.line.is_empty() {
            lines.push(format!(
                "  {:?} (unterminated line at end of body: discarded)",
                String::from_utf8_lossy(&self.line)
            ));
            self.line.clear();
        }
    }

    fn keep(&mut self, part: &[u8]) {
        let room = MAX_HEAD.saturating_sub(self.line.len());
        self.line.extend_from_slice(&part[..part.len().min(room)]);
    }
}

// ANCHOR: sse_line
/// One line, sorted by the `sse` parser's own [`Line::parse`] (HTML §9.2.6).
fn describe_line(line: &str) -> String {
    match Line::parse(line) {
        Line::Blank => "  (blank line: dispatch)".to_owned(),
        Line::Comment(text) => format!("  comment {text:?}"),
        Line::Field { name, value } => format!("  {name}: {value:?}"),
        Line::NameOnly(name) => format!("  {name}: \"\" (a field with no colon)"),
    }
}
// ANCHOR_END: sse_line

#[cfg(test)]
mod tests {
    use crate::tap::{Annotator, Direction, TapOptions};

    const REQUEST: &[u8] =
        b"GET /events HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n";
    const RESPONSE: &[u8] =
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n\
        12\r\nid: 1\ndata: hello\n\r\n\
        10\r\n\ndata: a\r\n\r\n: x\n\r\n\
        0\r\n\r\n";

    fn annotate(splits: usize) -> Vec<String> {
        let mut tap = Annotator::new(TapOptions::default());
        let mut lines = Vec::new();
        for (direction, bytes) in [
            (Direction::ToServer, REQUEST),
            (Direction::ToClient, RESPONSE),
        ] {
            for piece in bytes.chunks(splits) {
                lines.extend(tap.feed(direction, piece));
            }
        }
        lines
    }

    #[test]
    fn event_stream_in_chunks() {
        let lines = annotate(usize::MAX);
        let expected = [
            "GET /events HTTP/1.1",
            "host: 127.0.0.1",
            "accept: text/event-stream",
            "(end of head, 68 bytes)",
            "HTTP/1.1 200 OK",
            "content-type: text/event-stream",
            "transfer-encoding: chunked",
            "(end of head, 80 bytes)",
            "[chunk 1: 18 bytes]",
            "  id: \"1\"",
            "  data: \"hello\"",
            "[chunk 2: 16 bytes]",
            "  (blank line: dispatch)",
            "  data: \"a\"",
            "  (blank line: dispatch)",
            "  comment \" x\"",
            "[last chunk: size 0]",
            "(end of body)",
        ];
        assert_eq!(lines, expected);
    }

    // ANCHOR: test_any_read_size
    #[test]
    fn same_annotation_for_any_read_size() {
        let whole = annotate(usize::MAX);
        for size in [1, 2, 3, 7, 50] {
            assert_eq!(annotate(size), whole, "reads of {size} bytes");
        }
    }
    // ANCHOR_END: test_any_read_size

    #[test]
    fn lines_end_where_the_parser_ends_them() {
        // A CRLF split between two reads, a lone CR, a field with no colon, and a line the
        // body's end cuts off: the same lines whatever the reads.
        let body = b"data: a\r\nretry\rdata:b\n\nid: 9";
        let mut head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n\
            content-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        head.extend_from_slice(body);
        let expected = [
            "  data: \"a\"",
            "  retry: \"\" (a field with no colon)",
            "  data: \"b\"",
            "  (blank line: dispatch)",
            "  \"id: 9\" (unterminated line at end of body: discarded)",
            "(end of body)",
        ];
        for size in [1, 2, 8, usize::MAX] {
            let mut tap = Annotator::new(TapOptions::default());
            let lines: Vec<String> = head
                .chunks(size)
                .flat_map(|read| tap.feed(Direction::ToClient, read))
                .skip_while(|line| !line.starts_with("(end of head"))
                .skip(1)
                .collect();
            assert_eq!(lines, expected, "reads of {size} bytes");
        }
    }
}
