//! Exercise 5: fields, and dispatching events (HTML §9.2.6), about 30 minutes.
//!
//! Turn a whole event stream into the events a browser would dispatch. Decode the bytes as
//! UTF-8 (invalid bytes become U+FFFD; `String::from_utf8_lossy` on each complete line does
//! it), skip one leading byte order mark, split lines as in exercise 4 (use your splitter),
//! then for each line, as §9.2.6 says:
//!
//! - an empty line dispatches the event;
//! - a line starting with `:` is a comment, ignored;
//! - otherwise the field name is what comes before the first `:` (the whole line if there is
//!   none) and the value what follows it, less one leading space;
//! - `event` sets the event type buffer, `data` appends the value and a LF to the data buffer,
//!   `id` sets the last event ID buffer unless the value contains U+0000, `retry` with only
//!   ASCII digits sets the reconnection time (a value too large for a `u64` of milliseconds
//!   saturates at `u64::MAX`), anything else is ignored.
//!
//! Dispatching sets the last event ID string from its buffer (even when nothing is
//! dispatched), and then, if the data buffer is not empty, drops its last LF and dispatches an
//! event of the event type (or `message`), with that data and the last event ID string;
//! either way the data and event type buffers are emptied. The last event ID buffer is not.
//! At the end of the stream, an event without its empty line is dropped.
//!
//! Check: `scripts/workshop check 5`, against the 62 spec vectors WireLab's parser passes.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event type: `message` unless an `event` field said otherwise.
    pub event_type: String,
    /// The data.
    pub data: String,
    /// The last event ID string when it was dispatched.
    pub id: String,
}

/// What a stream held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The events, in order.
    pub events: Vec<Event>,
    /// Every reconnection time a `retry` field set, in milliseconds, in order.
    pub retries: Vec<u64>,
    /// The last event ID string at the end.
    pub last_event_id: String,
}

#[cfg(not(feature = "solutions"))]
pub use start::parse;

#[cfg(feature = "solutions")]
pub use solution::parse;

#[cfg(not(feature = "solutions"))]
mod start {
    // The parameters are unused until the body is written.
    #![allow(unused_variables)]

    use super::Parsed;

    /// The events, retry values and last event ID of a whole stream.
    pub fn parse(stream: &[u8]) -> Parsed {
        panic!("exercise 5 is not written yet: see `scripts/workshop hint 5`")
    }
}

#[cfg(feature = "solutions")]
mod solution {
    use super::{Event, Parsed};
    use sse::{Item, Parser, ParserConfig};

    /// The events, retry values and last event ID of a whole stream: WireLab's parser.
    pub fn parse(stream: &[u8]) -> Parsed {
        let mut parser = Parser::new(ParserConfig::default());
        parser.feed(stream);
        parser.finish();
        let mut parsed = Parsed::default();
        for item in parser.items().flatten() {
            match item {
                Item::Event(e) => parsed.events.push(Event {
                    event_type: e.event_type,
                    data: e.data,
                    id: e.last_event_id.to_string(),
                }),
                Item::Retry(time) => parsed.retries.push(time.as_millis() as u64),
                Item::Comment(_) => {}
            }
        }
        parsed.last_event_id = parser.last_event_id().to_owned();
        parsed
    }
}
