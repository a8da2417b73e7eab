//! How long the client waits before it reconnects: the reconnection time, plus exponential
//! backoff with jitter while reconnections keep failing.
//!
//! HTML §9.2.3 "Processing model", on reestablishing the connection: "Wait a delay equal to
//! the reconnection time of the event source. Optionally, wait some more. In particular, if
//! the previous attempt failed, then user agents might introduce an exponential backoff delay
//! to avoid overloading a potentially already overloaded server."
//!
//! The policy here, in one line: the delay before reconnection attempt *n* (counting attempts
//! since the last healthy connection, from 1) is the reconnection time, plus, from the second
//! attempt on, `min(max, base × 2^(n-2))` scaled by a random factor in [½, 1] ("equal jitter",
//! so that thousands of clients dropped at the same instant do not come back at the same
//! instant).
//!
//! A healthy connection resets the count. Following the spec's "if the previous attempt
//! failed", a connection is healthy when it was announced (opened) and then delivered at least
//! one event, or was ended cleanly by the server, or stayed open for `healthy_after` (a quiet
//! stream of keep-alive comments that finally dropped). So a polling-style server, which
//! answers each request with one event and ends the response, is reconnected to after just
//! the reconnection time, for ever; and one drop after an hour of service costs only the
//! reconnection time. What counts as failed: a connection that never opened (refused, reset,
//! timed out, a server error mid-handshake), or one that broke with a network error before
//! any event and before `healthy_after`.
//!
//! This module does no I/O and reads no clock: the caller passes the random word and the time
//! the connection lasted, so the policy is deterministic under test.

use std::time::Duration;

// ANCHOR: config
/// The backoff policy's knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// The extra delay of the second consecutive attempt; it doubles with each attempt after.
    /// Default: 1 s.
    pub base: Duration,
    /// The most extra delay, however many attempts failed. Default: 60 s.
    pub max: Duration,
    /// A connection that stays open this long counts as healthy and resets the backoff, even
    /// if it delivered no event. Default: 30 s.
    pub healthy_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            healthy_after: Duration::from_secs(30),
        }
    }
}
// ANCHOR_END: config

/// The backoff state: how many reconnection attempts in a row were not healthy.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    attempts: u32,
}

impl Backoff {
    /// A fresh policy: the first reconnection waits just the reconnection time.
    pub fn new(config: BackoffConfig) -> Self {
        Backoff {
            config,
            attempts: 0,
        }
    }

    /// Reconnection attempts since the last healthy connection.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    // ANCHOR: connection_ended
    /// Tells the policy how the connection that just ended went: how long it was open (`None`
    /// when it never opened), and whether it `succeeded`, that is, delivered at least one event
    /// or was ended cleanly by the server. A healthy connection resets the count of attempts.
    pub fn connection_ended(&mut self, open_for: Option<Duration>, succeeded: bool) {
        // HTML §9.2.3 backs off "if the previous attempt failed": an attempt that opened and
        // then did its job, or simply lasted, did not fail.
        let healthy = open_for.is_some_and(|d| succeeded || d >= self.config.healthy_after);
        if healthy {
            self.attempts = 0;
        }
    }
    // ANCHOR_END: connection_ended

    /// The delay before the next attempt, which it counts. `random` is any random word; it
    /// picks the jitter.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sse::backoff::{Backoff, BackoffConfig};
    ///
    /// let config = BackoffConfig { base: Duration::from_secs(1), ..BackoffConfig::default() };
    /// let mut backoff = Backoff::new(config);
    /// let retry = Duration::from_secs(3);
    /// assert_eq!(backoff.next_delay(retry, u32::MAX), Duration::from_secs(3));
    /// assert_eq!(backoff.next_delay(retry, u32::MAX), Duration::from_secs(4));
    /// assert_eq!(backoff.next_delay(retry, u32::MAX), Duration::from_secs(5));
    /// assert_eq!(backoff.next_delay(retry, 0), Duration::from_secs(3) + Duration::from_secs(2));
    /// ```
    // ANCHOR: next_delay
    pub fn next_delay(&mut self, reconnection_time: Duration, random: u32) -> Duration {
        self.attempts = self.attempts.saturating_add(1);
        let Some(doublings) = self.attempts.checked_sub(2) else {
            return reconnection_time;
        };
        let cap = self
            .config
            .base
            .checked_mul(1u32.checked_shl(doublings).unwrap_or(u32::MAX))
            .unwrap_or(self.config.max)
            .min(self.config.max);
        // Equal jitter: half of the cap for sure, the other half scaled by random / u32::MAX
        // (so `u32::MAX` gives the whole cap, which the doctest above uses).
        let half = cap / 2;
        let jitter = half.mul_f64(f64::from(random) / f64::from(u32::MAX));
        reconnection_time.saturating_add(cap - half + jitter)
    }
    // ANCHOR_END: next_delay
}

#[cfg(test)]
mod tests {
    use super::*;

    // ANCHOR: test_growth
    #[test]
    fn grows_to_the_cap_and_resets_after_a_healthy_connection() {
        let config = BackoffConfig {
            base: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            healthy_after: Duration::from_secs(10),
        };
        let mut backoff = Backoff::new(config);
        let zero = Duration::ZERO;
        let delays: Vec<_> = (0..8)
            .map(|_| backoff.next_delay(zero, u32::MAX).as_millis())
            .collect();
        assert_eq!(delays, [0, 100, 200, 400, 800, 1000, 1000, 1000]);
        backoff.connection_ended(Some(Duration::from_secs(1)), false);
        assert_eq!(backoff.attempts(), 8, "a short failure does not reset");
        backoff.connection_ended(Some(Duration::from_secs(10)), false);
        assert_eq!(backoff.next_delay(zero, 0), zero);
    }
    // ANCHOR_END: test_growth

    #[test]
    fn a_short_connection_that_succeeded_resets_but_one_that_never_opened_does_not() {
        let mut backoff = Backoff::new(BackoffConfig::default());
        let retry = Duration::from_millis(500);
        for _ in 0..3 {
            backoff.next_delay(retry, u32::MAX);
        }
        backoff.connection_ended(None, false);
        assert_eq!(backoff.attempts(), 3, "never opened: failed");
        backoff.connection_ended(Some(Duration::from_millis(1)), true);
        assert_eq!(backoff.attempts(), 0, "opened, and an event or a clean end");
        assert_eq!(backoff.next_delay(retry, u32::MAX), retry);
    }

    #[test]
    fn jitter_stays_within_half_and_full_cap_and_never_overflows() {
        let mut backoff = Backoff::new(BackoffConfig::default());
        for i in 0..200u32 {
            let delay = backoff.next_delay(Duration::MAX, i.wrapping_mul(2_654_435_761));
            assert_eq!(delay, Duration::MAX);
        }
        let mut backoff = Backoff::new(BackoffConfig::default());
        for i in 0..200u32 {
            let delay = backoff.next_delay(Duration::ZERO, i.wrapping_mul(2_654_435_761));
            assert!(delay <= Duration::from_secs(60));
            if i >= 1 {
                assert!(delay >= Duration::from_millis(500));
            }
        }
    }
}
