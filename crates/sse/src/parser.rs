//! The event-stream parser: bytes in, events out, no I/O.
//!
//! This is the HTML Standard's §9.2.5 "Parsing an event stream" and §9.2.6 "Interpreting an
//! event stream", written as an incremental state machine. Feed it chunks exactly as they come
//! off the network, in any sizes; the events that come out are the same however the bytes were
//! split, down to one byte at a time.
//!
//! ```
//! use sse::{Item, Parser, ParserConfig};
//!
//! let mut parser = Parser::new(ParserConfig::default());
//! parser.feed(b"id: 1\nevent: tick\ndata: hel");
//! assert!(parser.next_item().is_none()); // the event is not complete yet
//! parser.feed(b"lo\n\n");
//! let Some(Ok(Item::Event(event))) = parser.next_item() else { panic!() };
//! assert_eq!((event.event_type.as_str(), event.data.as_str()), ("tick", "hello"));
//! assert_eq!(&*event.last_event_id, "1");
//! ```
//!
//! How the spec's steps map onto this file:
//!
//! - **Decoding.** The stream is always UTF-8 (the `charset` parameter is ignored) and is
//!   decoded with the Encoding Standard's "UTF-8 decode": one leading byte order mark is
//!   dropped, and every invalid byte sequence becomes U+FFFD. Decoding never fails and never
//!   waits for bytes that will not come. We keep the raw bytes of the current line and decode
//!   the line when its end arrives. That is the same as decoding the stream as a whole: CR and
//!   LF are ASCII and can never sit inside a multi-byte sequence, and a truncated sequence
//!   before a CR or LF becomes U+FFFD in both cases (Rust's lossy decoder replaces maximal
//!   subparts, as the Encoding Standard does). A sequence split across two chunks is simply
//!   held in the line buffer until its last byte comes.
//! - **Lines.** A line ends at CRLF, at a lone LF or at a lone CR. [`LineSplitter`] ends the
//!   line as soon as it sees the CR, the way browsers do, and remembers that it did, so that an
//!   LF arriving next, even in the next chunk, is the second half of that CRLF and not an empty
//!   line. Waiting for the next byte instead would delay a CR-terminated event until the server
//!   sends more. The splitter is public, so that tools which show an event stream line by line
//!   cut it where the parser does.
//! - **Fields.** Each line is a comment, a field, or empty (which dispatches the event).
//! - **Buffers.** The spec's data buffer, event type buffer and last event ID buffer are fields
//!   of [`Parser`] with those names; "the event stream's reconnection time" becomes an
//!   [`Item::Retry`] for the I/O layer to act on.
//!
//! Every byte is looked at once: a chunk is scanned from where the previous scan stopped, so a
//! long line arriving in many small chunks costs linear, not quadratic, time.
//!
//! Memory is bounded by [`ParserConfig::max_event_bytes`], the one limit the spec leaves to us.
//! It covers what the parser keeps between lines: the line being received and the three
//! buffers, the last event ID buffer included, since an id lives as long as the stream.
//! Beyond it the parser keeps only the last event ID string of the latest dispatch, an id
//! that once fitted the bound. That id is shared, not copied: every event dispatched under
//! one id holds the same [`Arc<str>`], so a server cannot turn one long `id` and many tiny
//! events into gigabytes. The items waiting in the queue therefore take memory in proportion
//! to the input that produced them. One subtlety: decoding turns each invalid byte into U+FFFD, three bytes in
//! UTF-8, so a decoded line can be three times its raw size, and while one line is being
//! processed the parser briefly holds a small multiple of the bound (the raw line, its decoded
//! copy, the buffer it goes into). The buffers are checked against the bound after every
//! line, and freed at once when they break it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use crate::Error;

/// The UTF-8 byte order mark, EF BB BF (U+FEFF).
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

// ANCHOR: config
/// The parser's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserConfig {
    /// The most bytes the parser holds for one event: the line being received plus the data
    /// buffer, the event type buffer and the last event ID buffer. Default: 1 MiB (1,048,576
    /// bytes).
    ///
    /// The HTML Standard sets no limit, so without one a server that never ends a line, or
    /// never ends an event, makes the receiver buffer until it runs out of memory. Going past
    /// the bound yields [`Error::EventTooLarge`] and the parser ignores everything after it.
    pub max_event_bytes: usize,
}

impl Default for ParserConfig {
    fn default() -> Self {
        ParserConfig {
            max_event_bytes: 1024 * 1024,
        }
    }
}
// ANCHOR_END: config

// ANCHOR: items
/// A dispatched event: what the browser hands to `onmessage` as a `MessageEvent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEvent {
    /// The event type: the last `event` field's value, or `"message"` when it was absent or
    /// empty.
    pub event_type: String,
    /// The `data` fields' values, joined with LF.
    pub data: String,
    /// The last event ID at the time of dispatch (it persists across events), or `""`.
    /// Events dispatched under the same id share it, so a long id is held once, not once per
    /// event; `&*event.last_event_id` is the `&str`.
    pub last_event_id: Arc<str>,
}

/// One thing the parser found in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// An event was dispatched.
    Event(MessageEvent),
    /// A `retry` field set the reconnection time. It takes effect at once, not at the end of
    /// the event.
    Retry(Duration),
    /// A comment line (`: text`), without the colon and one leading space. The spec ignores
    /// comments; we report them because servers use them as keep-alives and tools show them.
    Comment(String),
}
// ANCHOR_END: items

// ANCHOR: bom
/// Where the parser is in the optional leading byte order mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bom {
    /// This many bytes of the BOM have been seen at the very start of the stream.
    Matched(usize),
    /// Past the start of the stream: no BOM is stripped from here on.
    Done,
}
// ANCHOR_END: bom

// ANCHOR: parser
/// The incremental event-stream parser. See the [module documentation](self).
#[derive(Debug)]
pub struct Parser {
    config: ParserConfig,
    bom: Bom,
    /// The raw bytes of the line being received, not yet decoded.
    line: Vec<u8>,
    /// Where lines end, across chunks.
    lines: LineSplitter,
    // HTML §9.2.6: "a data buffer, an event type buffer, and a last event ID buffer must be
    // associated with [the stream]. They must be initialized to the empty string."
    data_buffer: String,
    event_type_buffer: String,
    /// Replaced whole by each `id` field, so it can be shared with the events.
    last_event_id_buffer: Arc<str>,
    /// HTML §9.2.2: the `EventSource` object's "last event ID string", set at each dispatch.
    /// It is what a client sends as `Last-Event-ID` when it reconnects.
    last_event_id: Arc<str>,
    items: VecDeque<Result<Item, Error>>,
    /// The bound was exceeded or the stream ended: further input is ignored.
    stopped: bool,
}
// ANCHOR_END: parser

impl Parser {
    /// A parser for a new stream.
    pub fn new(config: ParserConfig) -> Self {
        Parser {
            config,
            bom: Bom::Matched(0),
            line: Vec::new(),
            lines: LineSplitter::new(),
            data_buffer: String::new(),
            event_type_buffer: String::new(),
            last_event_id_buffer: Arc::from(""),
            last_event_id: Arc::from(""),
            items: VecDeque::new(),
            stopped: false,
        }
    }

    // ANCHOR: with_last_event_id
    /// A parser for a stream that resumes an earlier one, whose last event ID was
    /// `last_event_id`.
    ///
    /// The spec starts each stream's last event ID buffer empty, but browsers (Chromium,
    /// Firefox) keep the `EventSource`'s last event ID across reconnections, so that an event
    /// without an `id` on the new connection still reports the id the client resumed from.
    /// [`crate::client`] uses this to behave like them.
    pub fn with_last_event_id(config: ParserConfig, last_event_id: &str) -> Self {
        let mut parser = Parser::new(config);
        parser.last_event_id_buffer = Arc::from(last_event_id);
        parser.last_event_id = Arc::clone(&parser.last_event_id_buffer);
        parser
    }
    // ANCHOR_END: with_last_event_id

    /// The last event ID string: the value of the last event ID buffer at the most recent
    /// dispatch (an `id` field followed by an empty line sets it even when there is no data).
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// How many bytes the parser holds for the event being received: the line being received,
    /// the data buffer, the event type buffer and the last event ID buffer. Whenever
    /// [`Parser::feed`] returns, never more than [`ParserConfig::max_event_bytes`].
    pub fn buffered_bytes(&self) -> usize {
        self.line.len()
            + self.data_buffer.len()
            + self.event_type_buffer.len()
            + self.last_event_id_buffer.len()
    }

    // req: sse/9.2.5/encoding
    // ANCHOR: feed
    /// Parses the next chunk of the stream. The results wait in a queue: take them with
    /// [`Parser::next_item`].
    pub fn feed(&mut self, mut chunk: &[u8]) {
        if self.stopped {
            return;
        }
        chunk = self.strip_bom(chunk);
        while !self.stopped {
            match self.lines.next_piece(&mut chunk) {
                None => return,
                Some(Piece::Continues(bytes)) => {
                    self.push_to_line(bytes);
                }
                Some(Piece::Ends(bytes)) => {
                    if !self.push_to_line(bytes) {
                        return;
                    }
                    let line = std::mem::take(&mut self.line);
                    self.process_line(&String::from_utf8_lossy(&line));
                    // Keep the allocation for the next line.
                    self.line = line;
                    self.line.clear();
                }
            }
        }
    }
    // ANCHOR_END: feed

    // req: sse/9.2.6/end-of-stream
    // ANCHOR: finish
    /// Ends the stream. HTML §9.2.6: "Once the end of the file is reached, any pending data
    /// must be discarded. (If the file ends in the middle of an event, before the final empty
    /// line, the incomplete event is not dispatched.)"
    ///
    /// A line that was never terminated is not a line, so it is discarded too, with one
    /// exception: a stream that ends right after a CR has already ended that line, so its
    /// field (a `retry`, say) has already been applied. After `finish` the parser is ready for
    /// nothing but [`Parser::next_item`].
    pub fn finish(&mut self) {
        self.line.clear();
        self.data_buffer.clear();
        self.event_type_buffer.clear();
        self.bom = Bom::Done;
        self.lines = LineSplitter::new();
        self.stopped = true;
    }
    // ANCHOR_END: finish

    // ANCHOR: next_item
    /// The next parsed item, in stream order, or `None` when more input is needed.
    ///
    /// An `Err` is always the last item: after it the parser ignores its input.
    pub fn next_item(&mut self) -> Option<Result<Item, Error>> {
        self.items.pop_front()
    }

    /// Every item parsed so far, draining the queue: `for item in parser.items() { .. }`.
    pub fn items(&mut self) -> impl Iterator<Item = Result<Item, Error>> + '_ {
        std::iter::from_fn(|| self.next_item())
    }
    // ANCHOR_END: next_item

    // req: sse/9.2.5/bom
    // ANCHOR: strip_bom
    /// Encoding Standard, "UTF-8 decode": one leading BOM is removed, even when its three bytes
    /// arrive in different chunks. A BOM later in the stream is data (it decodes to U+FEFF).
    fn strip_bom<'a>(&mut self, mut chunk: &'a [u8]) -> &'a [u8] {
        while let Bom::Matched(seen) = self.bom {
            let Some(&byte) = chunk.first() else {
                return chunk;
            };
            if byte == BOM[seen] {
                chunk = &chunk[1..];
                self.bom = if seen + 1 == BOM.len() {
                    Bom::Done
                } else {
                    Bom::Matched(seen + 1)
                };
            } else {
                // Not a BOM after all: the bytes we swallowed are the start of the first
                // line (none of them is a CR or LF). They will decode to U+FFFD.
                self.bom = Bom::Done;
                self.push_to_line(&BOM[..seen]);
            }
        }
        chunk
    }
    // ANCHOR_END: strip_bom

    // ANCHOR: bound
    /// Appends to the current line, unless that would break the bound.
    fn push_to_line(&mut self, bytes: &[u8]) -> bool {
        if self.buffered_bytes() + bytes.len() > self.config.max_event_bytes {
            self.fail();
            return false;
        }
        self.line.extend_from_slice(bytes);
        true
    }

    fn fail(&mut self) {
        self.stopped = true;
        self.line = Vec::new();
        self.data_buffer = String::new();
        self.event_type_buffer = String::new();
        // An `id` line can be what broke the bound; nothing will be dispatched any more.
        self.last_event_id_buffer = Arc::from("");
        self.items.push_back(Err(Error::EventTooLarge {
            limit: self.config.max_event_bytes,
        }));
    }
    // ANCHOR_END: bound

    // req: sse/9.2.6/blank-line sse/9.2.6/comment sse/9.2.6/field sse/9.2.6/field-no-colon
    // ANCHOR: process_line
    /// HTML §9.2.6: what each kind of line does.
    fn process_line(&mut self, line: &str) {
        match Line::parse(line) {
            Line::Blank => self.dispatch(),
            // EventSource ignores comments; this parser hands them on (servers send them to
            // keep connections alive, and a tool may want to show them), without the space
            // that conventionally follows the colon.
            Line::Comment(text) => {
                let text = text.strip_prefix(' ').unwrap_or(text);
                self.items.push_back(Ok(Item::Comment(text.to_owned())));
            }
            Line::Field { name, value } => self.process_field(name, value),
            Line::NameOnly(name) => self.process_field(name, ""),
        }
    }
    // ANCHOR_END: process_line

    // req: sse/9.2.6/event sse/9.2.6/data sse/9.2.6/id sse/9.2.6/retry sse/9.2.6/unknown
    // ANCHOR: process_field
    /// HTML §9.2.6, "Process the field". Field names are case-sensitive.
    fn process_field(&mut self, name: &str, value: &str) {
        match name {
            // "Set the event type buffer to field value."
            "event" => {
                self.event_type_buffer.clear();
                self.event_type_buffer.push_str(value);
            }
            // "Append the field value to the data buffer, then append a single U+000A LINE
            // FEED (LF) character to the data buffer."
            "data" => {
                self.data_buffer.push_str(value);
                self.data_buffer.push('\n');
            }
            // "If the field value does not contain U+0000 NULL, then set the last event ID
            // buffer to the field value. Otherwise, ignore the field."
            "id" if !value.contains('\0') => {
                self.last_event_id_buffer = Arc::from(value);
            }
            // "If the field value consists of only ASCII digits, then interpret the field
            // value as an integer in base ten, and set the event stream's reconnection time
            // to that integer. Otherwise, ignore the field." An empty value is not a number,
            // and a sign, a decimal point or a space is not a digit. A value too large for
            // u64 milliseconds (585 million years) saturates rather than overflow.
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                let millis = value.bytes().fold(0u64, |n, digit| {
                    n.saturating_mul(10).saturating_add(u64::from(digit - b'0'))
                });
                self.items
                    .push_back(Ok(Item::Retry(Duration::from_millis(millis))));
            }
            // "Otherwise: The field is ignored."
            _ => {}
        }
        // A buffer grew: the buffers count against the bound too.
        if self.buffered_bytes() > self.config.max_event_bytes {
            self.fail();
        }
    }
    // ANCHOR_END: process_field

    // req: sse/9.2.6/dispatch-id sse/9.2.6/dispatch-empty sse/9.2.6/dispatch-trailing-lf
    // req: sse/9.2.6/dispatch-type
    // ANCHOR: dispatch
    /// HTML §9.2.6, "dispatch the event".
    fn dispatch(&mut self) {
        // 1. "Set the last event ID string of the event source to the value of the last
        //    event ID buffer. The buffer does not get reset." (Sharing it, not copying it.)
        self.last_event_id = Arc::clone(&self.last_event_id_buffer);
        // 2. "If the data buffer is an empty string, set the data buffer and the event type
        //    buffer to the empty string and return."
        if self.data_buffer.is_empty() {
            self.event_type_buffer.clear();
            return;
        }
        // 3. "If the data buffer's last character is a U+000A LINE FEED (LF) character, then
        //    remove the last character from the data buffer." (It always is.)
        let mut data = std::mem::take(&mut self.data_buffer);
        if data.ends_with('\n') {
            data.pop();
        }
        // 4-5. The event's type is the event type buffer, or "message" when it is empty.
        let event_type = match std::mem::take(&mut self.event_type_buffer) {
            t if t.is_empty() => "message".to_owned(),
            t => t,
        };
        // 6. The buffers were reset by the two `take`s above.
        self.items.push_back(Ok(Item::Event(MessageEvent {
            event_type,
            data,
            last_event_id: Arc::clone(&self.last_event_id),
        })));
    }
    // ANCHOR_END: dispatch
}

/// One line of an event stream, sorted the way HTML §9.2.6 sorts lines. The parser acts on
/// it; `wirelab tap` shows it. One sorting for both, so what the tap shows a line to be is what
/// the parser takes it for.
// ANCHOR: line_kinds
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// "If the line is empty (a blank line): Dispatch the event."
    Blank,
    /// "If the line starts with a U+003A COLON character (:): Ignore the line." The text after
    /// the colon, as it is.
    Comment(&'a str),
    /// "If the line contains a U+003A COLON character: Collect the characters on the line
    /// before the first colon, and let field be that string. Collect the characters on the line
    /// after the first colon, and let value be that string. If value starts with a U+0020
    /// SPACE character, remove it from value."
    Field {
        /// Before the first colon (case-sensitive: `Data` is not `data`).
        name: &'a str,
        /// After it, one leading space removed.
        value: &'a str,
    },
    /// "Otherwise, the string is not empty but does not contain a colon: Process the field
    /// using the whole line as the field name, and the empty string as the field value."
    NameOnly(&'a str),
}

impl<'a> Line<'a> {
    /// Sorts one line (without its line ending).
    pub fn parse(line: &'a str) -> Line<'a> {
        if line.is_empty() {
            Line::Blank
        } else if let Some(text) = line.strip_prefix(':') {
            Line::Comment(text)
        } else if let Some((name, value)) = line.split_once(':') {
            Line::Field {
                name,
                value: value.strip_prefix(' ').unwrap_or(value),
            }
        } else {
            Line::NameOnly(line)
        }
    }
}
// ANCHOR_END: line_kinds

// req: sse/9.2.5/line-ends
// ANCHOR: lines
/// Cuts an event stream into lines as HTML §9.2.5 defines them: a line ends at CRLF, at a lone
/// LF or at a lone CR, and the CR and LF of one CRLF may arrive in different chunks.
///
/// It ends a line as soon as it sees the CR and remembers that it did, so that an LF arriving
/// next, even in the next chunk, is the second half of that CRLF and not an empty line. That
/// one bit is all it holds: it hands back pieces of the chunk it is given and keeps no bytes,
/// so the caller decides where a line's bytes go and how many of them it keeps. [`Parser`]
/// cuts lines with it, and so does `wirelab tap`, which shows an event stream line by line:
/// the tap and the parser cannot disagree on where a line ends.
///
/// ```
/// use sse::parser::{LineSplitter, Piece};
///
/// let mut lines = LineSplitter::new();
/// let mut chunk: &[u8] = b"data: a\r";
/// assert_eq!(lines.next_piece(&mut chunk), Some(Piece::Ends(b"data: a")));
/// assert_eq!(lines.next_piece(&mut chunk), None);
/// // The next chunk's LF is the rest of that CRLF, not an empty line.
/// let mut chunk: &[u8] = b"\ndata: b";
/// assert_eq!(lines.next_piece(&mut chunk), Some(Piece::Continues(b"data: b")));
/// assert!(chunk.is_empty());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineSplitter {
    /// The previous line ended with a CR, so an LF right now is the rest of a CRLF.
    after_cr: bool,
}

/// A piece of a chunk, as [`LineSplitter::next_piece`] cuts it. Neither kind includes the
/// line end itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// The last bytes of the current line (possibly none): its end came right after them.
    Ends(&'a [u8]),
    /// The rest of the chunk, all of it in the current line, whose end has not come yet.
    Continues(&'a [u8]),
}

impl LineSplitter {
    /// A splitter at the start of a stream.
    pub fn new() -> Self {
        LineSplitter { after_cr: false }
    }

    /// Takes the next piece off the front of `chunk`, or returns `None` once `chunk` is used
    /// up. Every byte is looked at once, so a long line costs linear time however it is cut.
    pub fn next_piece<'a>(&mut self, chunk: &mut &'a [u8]) -> Option<Piece<'a>> {
        // An empty chunk leaves `after_cr` as it is: the LF may still come.
        let (&first, rest) = chunk.split_first()?;
        if std::mem::take(&mut self.after_cr) && first == b'\n' {
            // HTML §9.2.5: CRLF is one line end, even when CR and LF arrive separately.
            *chunk = rest;
            if chunk.is_empty() {
                return None;
            }
        }
        match chunk.iter().position(|&b| b == b'\r' || b == b'\n') {
            Some(end) => {
                self.after_cr = chunk[end] == b'\r';
                let line = &chunk[..end];
                *chunk = &chunk[end + 1..];
                Some(Piece::Ends(line))
            }
            None => Some(Piece::Continues(std::mem::take(chunk))),
        }
    }
}
// ANCHOR_END: lines

// ANCHOR: parse_all
/// Parses a whole stream at once: every item, and the error that stopped it, if any.
///
/// ```
/// use sse::{parser, Item, ParserConfig};
///
/// let (items, error) = parser::parse_all(b"retry: 1000\ndata: hi\n\n", ParserConfig::default());
/// assert!(error.is_none());
/// assert_eq!(items.len(), 2);
/// assert!(matches!(&items[1], Item::Event(e) if e.data == "hi"));
/// ```
pub fn parse_all(stream: &[u8], config: ParserConfig) -> (Vec<Item>, Option<Error>) {
    let mut parser = Parser::new(config);
    parser.feed(stream);
    parser.finish();
    let mut items = Vec::new();
    for item in parser.items() {
        match item {
            Ok(item) => items.push(item),
            Err(error) => return (items, Some(error)),
        }
    }
    (items, None)
}
// ANCHOR_END: parse_all

#[cfg(test)]
mod tests {
    use super::*;

    fn events(stream: &[u8]) -> Vec<(String, String, String)> {
        let (items, error) = parse_all(stream, ParserConfig::default());
        assert!(error.is_none());
        items
            .into_iter()
            .filter_map(|item| match item {
                Item::Event(e) => Some((e.event_type, e.data, e.last_event_id.to_string())),
                _ => None,
            })
            .collect()
    }

    fn one(t: &str, d: &str, id: &str) -> (String, String, String) {
        (t.into(), d.into(), id.into())
    }

    // ANCHOR: test_cr_split
    #[test]
    fn a_cr_at_the_end_of_a_chunk_is_one_line_end_with_a_following_lf() {
        let mut parser = Parser::new(ParserConfig::default());
        for chunk in [&b"data: a\r"[..], b"\n", b"\r", b"\n", b"data: b\r\r"] {
            parser.feed(chunk);
        }
        let mut got = Vec::new();
        while let Some(Ok(Item::Event(e))) = parser.next_item() {
            got.push(e.data);
        }
        assert_eq!(got, ["a", "b"]);
    }
    // ANCHOR_END: test_cr_split

    #[test]
    fn id_without_data_updates_the_last_event_id_but_dispatches_nothing() {
        let mut parser = Parser::new(ParserConfig::default());
        parser.feed(b"id: 7\n\n");
        assert!(parser.next_item().is_none());
        assert_eq!(parser.last_event_id(), "7");
    }

    #[test]
    fn a_stream_ending_after_cr_applies_that_line() {
        let (items, _) = parse_all(b"retry: 5\r", ParserConfig::default());
        assert_eq!(items, [Item::Retry(Duration::from_millis(5))]);
        let (items, _) = parse_all(b"retry: 5", ParserConfig::default());
        assert!(items.is_empty());
    }

    #[test]
    fn a_huge_retry_saturates() {
        let (items, _) = parse_all(
            b"retry: 99999999999999999999999999\n",
            ParserConfig::default(),
        );
        assert_eq!(items, [Item::Retry(Duration::from_millis(u64::MAX))]);
    }

    #[test]
    fn a_broken_bom_start_is_data() {
        assert_eq!(events(b"\xEF\xBBdata: x\n\n"), []);
        assert_eq!(
            events(b"data: \xEF\xBB\n\n"),
            [one("message", "\u{FFFD}", "")]
        );
    }

    #[test]
    fn resuming_keeps_the_last_event_id() {
        let mut parser = Parser::with_last_event_id(ParserConfig::default(), "41");
        parser.feed(b"data: x\n\n");
        let Some(Ok(Item::Event(e))) = parser.next_item() else {
            panic!("no event");
        };
        assert_eq!(&*e.last_event_id, "41");
    }

    #[test]
    fn the_bound_counts_the_data_buffer_and_the_line() {
        let config = ParserConfig {
            max_event_bytes: 16,
        };
        let (items, error) = parse_all(b"data: 0123456789\n\n", config);
        assert!(error.is_none(), "11 bytes fit");
        assert_eq!(items.len(), 1);
        let (items, error) = parse_all(b"data: 01234567\ndata: 01234567\n\n", config);
        assert!(items.is_empty());
        assert!(matches!(error, Some(Error::EventTooLarge { limit: 16 })));
        let mut parser = Parser::new(config);
        for _ in 0..100 {
            parser.feed(b"xxxxxxx");
            assert!(parser.buffered_bytes() <= 16);
        }
        assert!(matches!(
            parser.next_item(),
            Some(Err(Error::EventTooLarge { .. }))
        ));
        assert!(parser.next_item().is_none(), "the error is reported once");
    }

    #[test]
    fn the_bound_counts_the_last_event_id_buffer() {
        let config = ParserConfig {
            max_event_bytes: 16,
        };
        // With a 4-byte id, an 11-byte line fits the bound of 16 and a 13-byte one does not.
        let (items, error) = parse_all(b"id: 0123\ndata: abcde\n\n", config);
        assert!(error.is_none());
        assert_eq!(items.len(), 1);
        let (items, error) = parse_all(b"id: 0123\ndata: abcdefg\n\n", config);
        assert!(items.is_empty());
        assert!(matches!(error, Some(Error::EventTooLarge { limit: 16 })));
        // Decoding can triple an id: 12 raw bytes, 24 decoded, past the bound, and freed.
        let mut parser = Parser::new(config);
        parser.feed(b"id: \xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\n");
        assert!(parser.buffered_bytes() <= 16);
        assert!(matches!(
            parser.next_item(),
            Some(Err(Error::EventTooLarge { .. }))
        ));
        // The id outlives its event, and keeps counting.
        let mut parser = Parser::new(config);
        parser.feed(b"id: 0123456789\n\n");
        assert_eq!(parser.buffered_bytes(), 10);
        parser.feed(b"data: abcdefg");
        assert!(parser.buffered_bytes() <= 16);
        assert!(matches!(
            parser.next_item(),
            Some(Err(Error::EventTooLarge { .. }))
        ));
    }

    #[test]
    fn a_long_id_is_shared_by_its_events_not_copied() {
        // 100 KB of id, then 16 KiB of tiny events: 2,730 events under that one id.
        let mut parser = Parser::new(ParserConfig::default());
        let mut id_line = b"id: ".to_vec();
        id_line.resize(4 + 100_000, b'x');
        id_line.push(b'\n');
        parser.feed(&id_line);
        parser.feed(&b"data\n\n".repeat(16 * 1024 / 6));
        let mut ids: Vec<Arc<str>> = Vec::new();
        for item in parser.items() {
            let Ok(Item::Event(event)) = item else {
                panic!("only events expected: {item:?}");
            };
            if !ids.iter().any(|id| Arc::ptr_eq(id, &event.last_event_id)) {
                ids.push(event.last_event_id);
            }
        }
        // Each distinct id is one allocation, whatever the number of events.
        let held: usize = ids.iter().map(|id| id.len()).sum();
        assert_eq!(held, 100_000);
    }
}
