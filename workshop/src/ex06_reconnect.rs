//! Exercise 6: reconnection, with backoff and `Last-Event-ID` (HTML §9.2.3, RFC 6455 §7.2.3),
//! about 20 minutes.
//!
//! A client that lost its connection waits, then asks again, saying where it stopped:
//!
//! - [`delay`]: the wait before attempt number `attempt` (1 for the first reconnection) is
//!   `base` doubled for each failure before it, capped at `max`, of which the upper half is
//!   random ("equal jitter": a wait is never less than half its ceiling, so clients that lost
//!   the same server at once do not come back at once). `random` is a uniformly random `u32`
//!   from the caller: take it modulo the half's milliseconds, plus one.
//! - [`request_headers`]: the headers of the reconnection's `GET`, as `EventSource` sends
//!   them: `Accept: text/event-stream`, `Cache-Control: no-cache`, and `Last-Event-ID` with
//!   the last event ID string unless that is empty.
//!
//! Check: `scripts/workshop check 6`.

use std::time::Duration;

#[cfg(not(feature = "solutions"))]
pub use start::{delay, request_headers};

#[cfg(feature = "solutions")]
pub use solution::{delay, request_headers};

/// Used by the check, and by [`request_headers`]' callers: a header's name and value.
pub type HeaderPair = (&'static str, String);

#[cfg(not(feature = "solutions"))]
mod start {
    // The parameters are unused until the body is written.
    #![allow(unused_variables)]

    use super::{Duration, HeaderPair};

    /// The wait before reconnection attempt `attempt` (1 for the first).
    pub fn delay(attempt: u32, base: Duration, max: Duration, random: u32) -> Duration {
        panic!("exercise 6 is not written yet: see `scripts/workshop hint 6`")
    }

    /// The headers of a reconnection's request.
    pub fn request_headers(last_event_id: &str) -> Vec<HeaderPair> {
        panic!("exercise 6 is not written yet: see `scripts/workshop hint 6`")
    }
}

#[cfg(feature = "solutions")]
mod solution {
    use super::{Duration, HeaderPair};
    use wirelab_examples::reconnecting_ws::{Policy, delay as policy_delay};

    /// The wait before reconnection attempt `attempt`: the reconnecting client's of the
    /// examples.
    pub fn delay(attempt: u32, base: Duration, max: Duration, random: u32) -> Duration {
        let policy = Policy {
            base,
            max,
            ..Policy::default()
        };
        policy_delay(&policy, attempt, random)
    }

    /// The headers of a reconnection's request, as the `sse` crate's client sends them.
    pub fn request_headers(last_event_id: &str) -> Vec<HeaderPair> {
        let mut headers = vec![
            ("Accept", "text/event-stream".to_owned()),
            ("Cache-Control", "no-cache".to_owned()),
        ];
        if !last_event_id.is_empty() {
            headers.push(("Last-Event-ID", last_event_id.to_owned()));
        }
        headers
    }
}
