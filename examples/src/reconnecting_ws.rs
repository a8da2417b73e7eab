//! A reconnecting WebSocket client: what an application must build itself to get what
//! `EventSource` gives for free.
//!
//! A WebSocket that drops stays dropped. The browser's `WebSocket` fires `close` (code 1006
//! when the connection just vanished) and that is all; the RFC has no reconnection, no event
//! ids and no resume. An application that needs them writes, at least:
//!
//! 1. **Detection**: notice the end (a Close, the end of the stream, an error).
//! 2. **Backoff**: wait before reconnecting, longer after each failure, up to a cap, so that a
//!    restarted server is not hit by every client at once in a tight loop.
//! 3. **Jitter**: a random part in each wait, so that clients cut at the same moment do not
//!    come back at the same moment (the "thundering herd").
//! 4. **Reset**: back to a short wait once a connection proved healthy (here: a message got
//!    through).
//! 5. **Resume**: remember the last message seen (its sequence number, which the application
//!    had to put in its messages in the first place) and ask for what came after it, in a way
//!    the server understands (here `?last_id=N`, which [`crate::ticker`] honours).
//! 6. **Duplicates**: drop a message already seen, in case the server's replay overlaps.
//! 7. **Giving up**: after too many failures in a row, stop, and say so.
//!
//! `EventSource` does 1 and 5 by itself (HTML §9.2.3: it reconnects after the reconnection
//! time and sends `Last-Event-ID`), and the `retry:` field lets the server set the wait. The
//! standard only allows 2 ("may apply exponential backoff") and says nothing of 3 and 4;
//! browsers never give up (7) while the server answers 200, and nothing in the format drops
//! duplicates (6): the server's replay must be exact. [`sse::client`] is the SSE side of the
//! same comparison, and does 1 to 5 and 7.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;
use websocket::Message;
use websocket::io::WebSocket;

// ANCHOR: policy
/// How the client waits between attempts.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The first wait. Default: 100 ms.
    pub base: Duration,
    /// The longest wait. Default: 5 s.
    pub max: Duration,
    /// Give up after this many failed attempts in a row. Default: 10.
    pub max_attempts: u32,
}
// ANCHOR_END: policy

impl Default for Policy {
    fn default() -> Self {
        Policy {
            base: Duration::from_millis(100),
            max: Duration::from_secs(5),
            max_attempts: 10,
        }
    }
}

// req: ws/7.2.3/backoff
// ANCHOR: delay
/// The wait before attempt number `attempt` (1 for the first reconnection): `base` doubled for
/// each earlier failure, capped at `max`, of which a random half ("equal jitter": half fixed,
/// half random, so a wait never collapses to zero).
pub fn delay(policy: &Policy, attempt: u32, random: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(20);
    let ceiling = policy.base.saturating_mul(1 << doublings).min(policy.max);
    let half = ceiling / 2;
    let spread = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
    let jitter = if spread == 0 {
        0
    } else {
        u64::from(random) % (spread + 1)
    };
    half + Duration::from_millis(jitter)
}
// ANCHOR_END: delay

// ANCHOR: event
/// What happened, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Connected to `url` (which carries `last_id` when resuming).
    Open {
        /// The URL dialled.
        url: String,
    },
    /// A message with sequence number `seq` (from its JSON `"seq"` field).
    Message {
        /// The sequence number.
        seq: u64,
        /// The whole message.
        text: String,
    },
    /// The server could not replay everything after `last_id`.
    Gap {
        /// The id the client asked to resume from.
        last_id: String,
    },
    /// The connection ended or could not be made; the next attempt comes after `delay`.
    Reconnecting {
        /// Failed attempts in a row, this one included.
        attempt: u32,
        /// The wait before it.
        delay: Duration,
        /// What ended the connection.
        reason: String,
    },
    /// [`Policy::max_attempts`] attempts failed in a row. Nothing follows.
    GaveUp {
        /// How many.
        attempts: u32,
    },
}
// ANCHOR_END: event

enum State {
    Connect,
    Wait(Instant),
    Open(Box<WebSocket<TcpStream>>),
    Closed,
}

/// The client. Drive it with [`ReconnectingWs::next`]; do not cancel that future half-way
/// (a WebSocket read is not cancel-safe).
pub struct ReconnectingWs {
    url: String,
    policy: Policy,
    state: State,
    last_seq: Option<u64>,
    attempt: u32,
    duplicates: u64,
}

impl std::fmt::Debug for ReconnectingWs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconnectingWs")
            .field("url", &self.url)
            .field("last_seq", &self.last_seq)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl ReconnectingWs {
    /// A client for `url` (`ws://...`); it connects on the first [`ReconnectingWs::next`].
    pub fn new(url: &str, policy: Policy) -> Self {
        ReconnectingWs {
            url: url.to_owned(),
            policy,
            state: State::Connect,
            last_seq: None,
            attempt: 0,
            duplicates: 0,
        }
    }

    /// The last sequence number seen.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// Messages dropped because they had been seen already.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    // ANCHOR: resume_url
    fn resume_url(&self) -> String {
        match self.last_seq {
            None => self.url.clone(),
            Some(seq) => {
                let joiner = if self.url.contains('?') { '&' } else { '?' };
                format!("{}{joiner}last_id={seq}", self.url)
            }
        }
    }
    // ANCHOR_END: resume_url

    // ANCHOR: lost
    /// The connection is gone: schedule the next attempt, or give up.
    fn lost(&mut self, reason: String) -> Event {
        self.attempt += 1;
        if self.attempt > self.policy.max_attempts {
            self.state = State::Closed;
            return Event::GaveUp {
                attempts: self.attempt - 1,
            };
        }
        let delay = delay(&self.policy, self.attempt, getrandom::u32().unwrap_or(0));
        self.state = State::Wait(Instant::now() + delay);
        Event::Reconnecting {
            attempt: self.attempt,
            delay,
            reason,
        }
    }
    // ANCHOR_END: lost

    // ANCHOR: next
    /// The next thing that happens; `None` after [`Event::GaveUp`].
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            match &mut self.state {
                State::Closed => return None,
                State::Wait(until) => {
                    tokio::time::sleep_until(*until).await;
                    self.state = State::Connect;
                }
                State::Connect => {
                    let url = self.resume_url();
                    return Some(match websocket::io::connect(&url).await {
                        Ok((ws, _response)) => {
                            self.state = State::Open(Box::new(ws));
                            Event::Open { url }
                        }
                        Err(e) => self.lost(format!("connect: {e}")),
                    });
                }
                State::Open(ws) => match ws.recv().await {
                    Ok(Some(Message::Text(text))) => {
                        let value: serde_json::Value =
                            serde_json::from_str(&text).unwrap_or_default();
                        if let Some(seq) = value.get("seq").and_then(serde_json::Value::as_u64) {
                            if self.last_seq.is_some_and(|last| seq <= last) {
                                self.duplicates += 1;
                                continue;
                            }
                            self.last_seq = Some(seq);
                            // A message got through: the connection is healthy.
                            self.attempt = 0;
                            return Some(Event::Message { seq, text });
                        }
                        if value.get("type").and_then(serde_json::Value::as_str) == Some("gap") {
                            let last_id = value["last_id"].as_str().unwrap_or_default().to_owned();
                            return Some(Event::Gap { last_id });
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => return Some(self.lost("the connection ended".into())),
                    Err(e) => return Some(self.lost(e.to_string())),
                },
            }
        }
    }
    // ANCHOR_END: next
}

#[cfg(test)]
mod tests {
    use super::*;

    // req: ws/7.2.3/backoff
    // ANCHOR: test_delays
    #[test]
    fn delays_double_to_the_cap_with_half_of_each_random() {
        let policy = Policy::default();
        let ms = |attempt, random| delay(&policy, attempt, random).as_millis();
        assert_eq!((ms(1, 0), ms(1, 50), ms(1, 51)), (50, 100, 50));
        assert_eq!((ms(2, 0), ms(3, 0), ms(4, 0)), (100, 200, 400));
        assert_eq!((ms(7, 0), ms(7, 2500), ms(1000, 2500)), (2500, 5000, 5000));
        for attempt in 1..100 {
            for random in [0, 1, 12345, u32::MAX] {
                let d = delay(&policy, attempt, random);
                assert!(
                    d >= Duration::from_millis(50) && d <= policy.max,
                    "{attempt} {random}"
                );
            }
        }
    }
    // ANCHOR_END: test_delays
}
