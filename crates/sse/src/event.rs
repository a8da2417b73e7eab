//! The encoder: an [`Event`] builder that can only produce valid streams.
//!
//! HTML §9.2.5 gives the grammar of an event stream:
//!
//! ```text
//! stream        = [ bom ] *event
//! event         = *( comment / field ) end-of-line
//! comment       = colon *any-char end-of-line
//! field         = 1*name-char [ colon [ space ] *any-char ] end-of-line
//! any-char      = %x0000-0009 / %x000B-000C / %x000E-10FFFF  ; anything but CR and LF
//! ```
//!
//! A value is one line, so it cannot hold CR or LF. For `data` that is no loss: the receiver
//! joins several `data` lines with LF, so we split the text at every CRLF, CR and LF and write
//! one `data:` line per piece. (A CR or CRLF in the data comes back as LF: the format cannot
//! carry it, and this is the one way the encoding changes text.) For the event type and the
//! id there is no such trick, so a line break there is an error value, and so is a NULL in an
//! id, which every receiver ignores (§9.2.6). Comments are split into several comment lines,
//! like data.
//!
//! Every line is written `name: value`, with the space that the parser strips, so that a value
//! which itself starts with a space survives the round trip.
//!
//! ```
//! use sse::Event;
//!
//! let event = Event::new().data("hello\nworld").event("greeting")?.id("42")?;
//! assert_eq!(event.to_string(), "id: 42\nevent: greeting\ndata: hello\ndata: world\n\n");
//! assert!(Event::new().id("4\n2").is_err());
//! # Ok::<(), sse::Error>(())
//! ```

use std::fmt;
use std::time::Duration;

use crate::Error;

// ANCHOR: event_struct
/// One event to send, built field by field. Its [`Display`](fmt::Display) form is its wire
/// form, ending with the empty line that dispatches it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    comment: Option<String>,
    retry: Option<Duration>,
    id: Option<String>,
    event_type: Option<String>,
    data: Option<String>,
}
// ANCHOR_END: event_struct

impl Event {
    // ANCHOR: data
    /// An event with no fields. Sent as is, it is one empty line, which dispatches nothing.
    pub fn new() -> Self {
        Event::default()
    }

    /// Sets the data. Any text is allowed: line breaks become separate `data:` lines.
    /// `data("")` sends an event whose data is empty; an event without `data` is not
    /// dispatched at all by the receiver (it can still set the id or the retry time).
    pub fn data(mut self, data: impl Into<String>) -> Self {
        self.data = Some(data.into());
        self
    }
    // ANCHOR_END: data

    // ANCHOR: event_and_id
    /// Sets the event type (the receiver's default is `"message"`).
    ///
    /// # Errors
    ///
    /// [`Error::EventTypeHasLineBreak`] when `event_type` contains CR or LF.
    pub fn event(mut self, event_type: impl Into<String>) -> Result<Self, Error> {
        let event_type = event_type.into();
        if event_type.contains(['\r', '\n']) {
            return Err(Error::EventTypeHasLineBreak);
        }
        self.event_type = Some(event_type);
        Ok(self)
    }

    /// Sets the id, which the receiver keeps as its last event ID (an empty id clears it).
    ///
    /// # Errors
    ///
    /// [`Error::IdHasLineBreak`] when `id` contains CR or LF, [`Error::IdHasNull`] when it
    /// contains U+0000.
    pub fn id(mut self, id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        if id.contains(['\r', '\n']) {
            return Err(Error::IdHasLineBreak);
        }
        if id.contains('\0') {
            return Err(Error::IdHasNull);
        }
        self.id = Some(id);
        Ok(self)
    }
    // ANCHOR_END: event_and_id

    // ANCHOR: retry_comment
    /// Sets the receiver's reconnection time, in whole milliseconds (the wire format has no
    /// fractions; anything finer is truncated).
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Adds a comment, which receivers ignore (servers send them as keep-alives).
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }
    // ANCHOR_END: retry_comment

    /// The data, if set.
    pub fn data_ref(&self) -> Option<&str> {
        self.data.as_deref()
    }

    /// The event type, if set.
    pub fn event_type(&self) -> Option<&str> {
        self.event_type.as_deref()
    }

    /// The id, if set.
    pub fn id_ref(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Sets a numeric id, which needs no check (used by [`crate::history`]).
    #[cfg(feature = "io")]
    pub(crate) fn set_id_number(&mut self, id: u64) {
        self.id = Some(id.to_string());
    }

    /// The wire form as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(self.encoded_len_estimate());
        self.encode(&mut out);
        out.into_bytes()
    }

    /// Enough room for the usual event in one allocation: each value plus its field name.
    fn encoded_len_estimate(&self) -> usize {
        let len = |value: &Option<String>| value.as_ref().map_or(0, |v| v.len() + 8);
        len(&self.comment) + len(&self.id) + len(&self.event_type) + len(&self.data) + 24
    }

    // req: sse/9.2.5/encoding
    // ANCHOR: encode
    /// Appends the wire form to `out`. The one place the format is written: `Display` and
    /// `to_bytes` both come here. (Plain appends, not `write!`: an event is encoded once per
    /// publish, and the formatting machinery would cost more than the copying.)
    pub fn encode(&self, out: &mut String) {
        if let Some(comment) = &self.comment {
            // A comment line is a colon and text; the field name is empty.
            push_lines(out, "", comment);
        }
        if let Some(retry) = self.retry {
            use std::fmt::Write as _;
            // Writing to a String cannot fail.
            let _ = writeln!(out, "retry: {}", retry.as_millis());
        }
        if let Some(id) = &self.id {
            push_line(out, "id", id);
        }
        if let Some(event_type) = &self.event_type {
            push_line(out, "event", event_type);
        }
        if let Some(data) = &self.data {
            push_lines(out, "data", data);
        }
        // The empty line that dispatches the event (HTML §9.2.6).
        out.push('\n');
    }
    // ANCHOR_END: encode
}

// ANCHOR: write_lines
/// Appends one `name: value` line.
fn push_line(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push('\n');
}

/// Appends `name: value` lines, one for each line of `value` (split at CRLF, CR and LF).
fn push_lines(out: &mut String, name: &str, value: &str) {
    let mut rest = value;
    loop {
        match rest.find(['\r', '\n']) {
            Some(end) => {
                push_line(out, name, &rest[..end]);
                let skip = if rest[end..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = &rest[end + skip..];
            }
            None => return push_line(out, name, rest),
        }
    }
}
// ANCHOR_END: write_lines

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(self.encoded_len_estimate());
        self.encode(&mut out);
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ANCHOR: test_line_breaks
    #[test]
    fn data_is_split_at_every_kind_of_line_break() {
        let event = Event::new().data("a\rb\r\nc\nd\n");
        assert_eq!(
            event.to_string(),
            "data: a\ndata: b\ndata: c\ndata: d\ndata: \n\n"
        );
    }
    // ANCHOR_END: test_line_breaks

    #[test]
    fn invalid_ids_and_types_are_errors() {
        assert!(matches!(
            Event::new().event("a\rb"),
            Err(Error::EventTypeHasLineBreak)
        ));
        assert!(matches!(
            Event::new().id("a\nb"),
            Err(Error::IdHasLineBreak)
        ));
        assert!(matches!(Event::new().id("a\0b"), Err(Error::IdHasNull)));
    }

    #[test]
    fn all_fields_in_order() {
        let event = Event::new()
            .comment("hi\nthere")
            .retry(Duration::from_millis(1500))
            .data(" x")
            .event("t")
            .and_then(|e| e.id(""))
            .expect("valid");
        assert_eq!(
            event.to_string(),
            ": hi\n: there\nretry: 1500\nid: \nevent: t\ndata:  x\n\n"
        );
    }
}
