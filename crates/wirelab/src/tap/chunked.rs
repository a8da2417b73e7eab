//! The `Transfer-Encoding: chunked` decoder (RFC 9112 §7.1), which shows each chunk's size.
//!
//! A chunked body is a sequence of chunks, each a hexadecimal size line, that many bytes of
//! data and a CRLF, ended by a chunk of size 0 and optional trailer lines:
//!
//! ```text
//! 12\r\n                       <- chunk-size, in hex (chunk extensions may follow a ';')
//! id: 1\ndata: hello\n\r\n     <- 0x12 = 18 bytes of data, then CRLF
//! 0\r\n                        <- the last chunk
//! \r\n                         <- the end of the (empty) trailer section
//! ```
//!
//! The decoder takes the body in pieces of any size and hands each chunk's data, without
//! the framing, to the body's [`Content`].

use super::MAX_HEAD;
use super::http::Content;

/// A chunked body being decoded.
#[derive(Debug)]
pub(super) struct Chunked {
    state: State,
    /// Chunks of data seen so far, to number them.
    chunks: u64,
    /// It ended at a chunk-size line that was not one, not at its last chunk.
    broken: bool,
}

#[derive(Debug)]
enum State {
    /// Reading the chunk-size line.
    Size(Vec<u8>),
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// The CRLF after a chunk's data; the count says how many of its 2 bytes were seen.
    DataEnd(u8),
    /// After the last (zero-size) chunk: trailer lines until an empty one.
    Trailer(Vec<u8>),
    Done,
}

impl Chunked {
    /// A body whose first chunk-size line comes next.
    pub(super) fn new() -> Self {
        Chunked {
            state: State::Size(Vec::new()),
            chunks: 0,
            broken: false,
        }
    }

    /// The body has ended: after its trailer, or at a chunk-size line that was not one.
    pub(super) fn done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The body ended at a chunk-size line that was not one: what follows is not a head.
    pub(super) fn broken(&self) -> bool {
        self.broken
    }

    /// Takes body bytes, passes the chunks' data to `content` and describes the framing.
    /// Returns how many bytes of `input` belong to the body: it stops at the body's end.
    pub(super) fn feed(
        &mut self,
        input: &[u8],
        content: &mut Content,
        lines: &mut Vec<String>,
    ) -> usize {
        let mut used = 0;
        while used < input.len() {
            let rest = &input[used..];
            match &mut self.state {
                State::Size(line) => {
                    let (taken, complete) = take_line(line, rest);
                    used += taken;
                    if !complete {
                        break;
                    }
                    match chunk_size(line) {
                        Ok(0) => {
                            content.finish(lines);
                            lines.push("[last chunk: size 0]".to_owned());
                            self.state = State::Trailer(Vec::new());
                        }
                        Ok(size) => {
                            self.chunks += 1;
                            lines.push(format!("[chunk {}: {size} bytes]", self.chunks));
                            self.state = State::Data(size);
                        }
                        Err(digits) => {
                            lines.push(format!("[bad chunk-size line {digits:?}]"));
                            self.state = State::Done;
                            self.broken = true;
                        }
                    }
                }
                State::Data(left) => {
                    let take = rest.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    *left -= take as u64;
                    used += take;
                    content.feed(&rest[..take], lines);
                    if *left == 0 {
                        self.state = State::DataEnd(0);
                    }
                }
                State::DataEnd(seen) => {
                    used += 1;
                    *seen += 1;
                    if *seen == 2 {
                        self.state = State::Size(Vec::new());
                    }
                }
                State::Trailer(line) => {
                    let (taken, complete) = take_line(line, rest);
                    used += taken;
                    if !complete {
                        break;
                    }
                    if line.strip_suffix(b"\r").unwrap_or(line).is_empty() {
                        self.state = State::Done;
                        break;
                    }
                    lines.push(format!(
                        "trailer: {}",
                        String::from_utf8_lossy(line).trim_end()
                    ));
                    line.clear();
                }
                State::Done => break,
            }
        }
        used
    }
}

/// RFC 9112 §7.1: `chunk-size = 1*HEXDIG`, optionally followed by `;` and extensions. Returns
/// the size, or the text that was not one.
fn chunk_size(line: &[u8]) -> Result<u64, String> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches('\r');
    let digits = text.split(';').next().unwrap_or("").trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(digits.to_owned());
    }
    u64::from_str_radix(digits, 16).map_err(|_| digits.to_owned())
}

/// Moves bytes of `rest` into `line` up to the next LF (which it takes but does not keep), and
/// says how many it took and whether the line is complete. A line longer than [`MAX_HEAD`] is
/// cut there: the tap shows what it can and never grows without bound.
fn take_line(line: &mut Vec<u8>, rest: &[u8]) -> (usize, bool) {
    let (taken, complete) = match rest.iter().position(|&b| b == b'\n') {
        Some(at) => (at + 1, true),
        None => (rest.len(), false),
    };
    let room = MAX_HEAD.saturating_sub(line.len());
    let content = &rest[..taken - usize::from(complete)];
    line.extend_from_slice(&content[..content.len().min(room)]);
    (taken, complete)
}

#[cfg(test)]
mod tests {
    use crate::tap::{Annotator, Direction, TapOptions};

    #[test]
    fn chunk_sizes_extensions_and_trailers() {
        let mut tap = Annotator::new(TapOptions::default());
        tap.feed(Direction::ToServer, b"GET / HTTP/1.1\r\n\r\n");
        let response = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
            5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n\
            0\r\nexpires: never\r\n\r\n";
        let whole = tap.feed(Direction::ToClient, response);
        assert_eq!(
            whole[3..],
            [
                "[chunk 1: 5 bytes]",
                "[chunk 2: 26 bytes]",
                "body: 31 bytes: \"helloabcdefghijklmnopqrstuvwxyz\"",
                "[last chunk: size 0]",
                "trailer: expires: never",
                "(end of body)",
            ]
        );
        let mut tap = Annotator::new(TapOptions::default());
        tap.feed(Direction::ToServer, b"GET / HTTP/1.1\r\n\r\n");
        let by_bytes: Vec<String> = response
            .chunks(1)
            .flat_map(|byte| tap.feed(Direction::ToClient, byte))
            .collect();
        assert_eq!(by_bytes, whole);
    }

    #[test]
    fn a_bad_chunk_size_ends_the_body() {
        let mut tap = Annotator::new(TapOptions::default());
        tap.feed(Direction::ToServer, b"GET / HTTP/1.1\r\n\r\n");
        let lines = tap.feed(
            Direction::ToClient,
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n+5\r\nhello\r\n",
        );
        assert_eq!(
            lines[3..5],
            ["[bad chunk-size line \"+5\"]", "(end of body)"]
        );
    }
}
