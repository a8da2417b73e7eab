//! A price ticker, over Server-Sent Events and over WebSocket, from one feed.
//!
//! A ticker is the textbook push-only application: the server has news, the client only
//! listens. One task publishes a price every `interval` into an [`sse::history::Hub`]; each
//! client, whichever transport it chose, subscribes to the same hub, so a page that opens both
//! sees the same prices side by side.
//!
//! - `GET /ticker/sse` is an event stream. Each price is an event whose `id` is its sequence
//!   number. When the connection drops, `EventSource` reconnects by itself and sends
//!   `Last-Event-ID`; the hub replays what the client missed, and the client's code never
//!   knows anything happened.
//! - `GET /ticker/ws` is a WebSocket. Each price is one text message carrying the same JSON.
//!   WebSocket has no event ids and no reconnection: the sequence number inside the JSON is
//!   the application's own, and a client that wants to resume reconnects itself with
//!   `?last_id=N` (see [`crate::reconnecting_ws`]), which this endpoint honours with the same
//!   hub. A replay that cannot be complete starts with `{"type":"gap","last_id":"N"}`.
//!
//! What each costs on the wire, from the snapshots of `conformance/tests/tap_examples.rs`
//! (`tap_examples__ticker_sse.snap`, `tap_examples__ticker_ws.snap`): for a 39-byte price, the
//! SSE event is 53 bytes (`id: 1\n`, `data: `, the JSON, `\n\n`), sent as one HTTP/1.1 chunk
//! with 6 more bytes of chunk framing, 59 in all; the WebSocket frame is 41 (a 2-byte header).
//! Opening costs about the same: a 165-byte response head for the stream, 166 for the `101`;
//! the requests are what the client makes them (96 bytes for the hand-written stream request
//! there, 173 for the `websocket` crate's upgrade request, more from a browser).
//!
//! The WebSocket endpoint answers `{"type":"ping","t":T}` with a pong, for latency; the event
//! stream has no way back to answer on.

use std::sync::{Arc, Weak};
use std::time::Duration;

use http::{Method, StatusCode};
use sse::Event;
use sse::history::GAP_EVENT_TYPE;
use websocket::Message;

use crate::backbone::redis::RedisFeed;
use crate::backbone::{Backbone, Feed};
use crate::server::{self, Conn, Request, Response, Ws};

/// How long a browser waits before reconnecting an event stream (sent as `retry:`).
pub const RETRY: Duration = Duration::from_millis(1000);

/// The Redis lease (`wirelab:ticker:producer`) whose holder publishes the prices.
pub const LEASE: &str = "ticker:producer";
/// How long the lease lasts unless renewed: how long the prices stop when its holder dies.
pub const LEASE_TTL: Duration = Duration::from_secs(3);

/// The feed: a publishing task and the feed it publishes into.
#[derive(Debug)]
pub struct Ticker {
    feed: Feed,
}

/// The deterministic random walk of the price, in cents, so that runs (and the book's wire
/// listings) repeat exactly.
#[derive(Debug, Clone)]
pub struct Prices {
    state: u64,
    cents: i64,
}

impl Default for Prices {
    fn default() -> Self {
        Prices {
            state: 42,
            cents: 10_000,
        }
    }
}

impl Prices {
    /// The walk continued from price `cents` after `seq` prices: what an instance that takes
    /// over publishing continues from.
    pub fn resume(seq: u64, cents: i64) -> Self {
        Prices {
            state: 42 ^ seq,
            cents,
        }
    }
}

impl Iterator for Prices {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        // A 64-bit linear congruential generator (Knuth's MMIX constants): not random, but
        // repeatable, which is what a teaching feed wants.
        self.state = self
            .state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let step = i64::try_from((self.state >> 33) % 101).unwrap_or(0) - 50;
        self.cents = (self.cents + step).max(100);
        Some(self.cents)
    }
}

// ANCHOR: tick_json
/// The JSON of one price: `{"seq":7,"symbol":"WLB","price":101.27}`.
pub fn tick_json(seq: u64, cents: i64) -> String {
    format!(
        r#"{{"seq":{seq},"symbol":"WLB","price":{}.{:02}}}"#,
        cents / 100,
        cents % 100
    )
}
// ANCHOR_END: tick_json

impl Ticker {
    /// Starts publishing a price every `interval`. The task stops when the ticker is dropped.
    pub fn start(interval: Duration) -> Arc<Ticker> {
        Ticker::start_with(interval, None)
    }

    // ANCHOR: publish
    /// Like [`Ticker::start`], but stops after `ticks` prices when it is `Some`: a feed that
    /// holds still, for the wire listings, where every byte must be the same on every run.
    pub fn start_with(interval: Duration, ticks: Option<u64>) -> Arc<Ticker> {
        let ticker = Arc::new(Ticker {
            feed: Backbone::Memory.feed("ticker", 1000, 64),
        });
        let weak: Weak<Ticker> = Arc::downgrade(&ticker);
        tokio::spawn(async move {
            let mut prices = Prices::default();
            let mut clock = tokio::time::interval(interval);
            clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for seq in 1..=ticks.unwrap_or(u64::MAX) {
                clock.tick().await;
                let Some(ticker) = weak.upgrade() else { break };
                let cents = prices.next().unwrap_or_default();
                // The hub numbers events 1, 2, 3, ... too, so `seq` and the SSE id agree.
                let _ = ticker
                    .feed
                    .publish(Event::new().data(tick_json(seq, cents)))
                    .await;
            }
        });
        ticker
    }
    // ANCHOR_END: publish

    /// Starts the ticker on `backbone`. On Redis every instance runs a ticker, but only the
    /// one holding the lease [`LEASE`] publishes (its loop, `produce`, says how).
    pub fn start_on(backbone: &Backbone, interval: Duration) -> Arc<Ticker> {
        let feed = match backbone.feed("ticker", 1000, 64) {
            Feed::Redis(feed) => feed,
            Feed::Memory(_) => return Ticker::start(interval),
        };
        let ticker = Arc::new(Ticker {
            feed: Feed::Redis(feed),
        });
        tokio::spawn(Ticker::produce(Arc::downgrade(&ticker), interval));
        ticker
    }

    // ANCHOR: produce
    /// The prices on Redis, produced once however many instances run. At every tick each
    /// instance tries to take or renew the lease (`SET NX PX`, in [`Redis::hold`]); the one
    /// that holds it publishes, with a script that appends only while the lease is still its
    /// own. When the holder dies, its lease expires after [`LEASE_TTL`] and the next instance
    /// to tick takes it, continuing from the newest price in the stream: the prices stop for
    /// at most that long, and none is published twice.
    ///
    /// [`Redis::hold`]: crate::backbone::Redis::hold
    async fn produce(weak: Weak<Ticker>, interval: Duration) {
        let mut clock = tokio::time::interval(interval);
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // `Some` while this instance holds the lease: the last seq and the walk.
        let mut producing: Option<(u64, Prices)> = None;
        let mut failing = false;
        loop {
            clock.tick().await;
            let Some(ticker) = weak.upgrade() else { break };
            let Feed::Redis(feed) = &ticker.feed else {
                break;
            };
            let outcome = Ticker::tick(feed, &mut producing).await;
            match &outcome {
                Err(e) if !failing => eprintln!("wirelab: ticker: {e}; not publishing"),
                Ok(()) if failing => eprintln!("wirelab: ticker: Redis answers again"),
                _ => {}
            }
            failing = outcome.is_err();
        }
    }

    /// One tick of [`Ticker::produce`]: renew or take the lease, and publish if it is ours.
    async fn tick(
        feed: &RedisFeed,
        producing: &mut Option<(u64, Prices)>,
    ) -> Result<(), crate::backbone::RedisError> {
        let held = feed.redis().hold(LEASE, LEASE_TTL).await;
        if !held.as_ref().is_ok_and(|held| *held) {
            if producing.take().is_some() && held.is_ok() {
                eprintln!("wirelab: ticker: lease lost; another instance publishes");
            }
            return held.map(drop);
        }
        let (seq, prices) = match producing {
            Some(producing) => producing,
            None => {
                // Continue the walk from the newest price, whoever published it.
                let (seq, prices) = match feed.newest().await? {
                    Some((seq, data)) => {
                        let cents = cents_of(&data).unwrap_or(10_000);
                        (seq, Prices::resume(seq, cents))
                    }
                    None => (0, Prices::default()),
                };
                eprintln!("wirelab: ticker: this instance publishes the prices, after {seq}");
                producing.insert((seq, prices))
            }
        };
        let cents = prices.next().unwrap_or_default();
        match feed
            .publish_holding(LEASE, &tick_json(*seq + 1, cents))
            .await?
        {
            Some(id) => *seq = id,
            None => *producing = None,
        }
        Ok(())
    }
    // ANCHOR_END: produce

    /// The feed the prices go to.
    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    // ANCHOR: handle
    /// Answers `GET /ticker/sse` and `GET /ticker/ws`.
    pub async fn handle(self: Arc<Self>, mut request: Request, conn: Conn) -> Response {
        if request.method() != Method::GET {
            return server::full(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                "GET only\n",
            );
        }
        match request.uri().path() {
            "/ticker/sse" => {
                let events = self
                    .feed
                    .subscribe(sse::server::last_event_id(&request))
                    .await;
                server::sse(&conn, events, Some(RETRY))
            }
            "/ticker/ws" => {
                let last_id = server::query_param(request.uri(), "last_id");
                server::websocket(&mut request, &conn, move |ws, conn| {
                    self.ws_session(ws, conn, last_id)
                })
            }
            _ => server::not_found(),
        }
    }
    // ANCHOR_END: handle

    // ANCHOR: ws_session
    async fn ws_session(self: Arc<Self>, ws: Ws, conn: Conn, last_id: Option<String>) {
        let mut ticks = self.feed.subscribe(last_id.as_deref()).await;
        let (mut receiver, mut sender) = ws.split();
        loop {
            let reply = tokio::select! {
                tick = ticks.next() => match tick {
                    Some(tick) => ws_text(&tick),
                    // Too slow for the live feed, or the backbone is away: say so with a
                    // Close (1013, "Try Again Later", from the IANA registry that RFC 6455
                    // §11.7 created; the RFC itself does not define it), and let the client
                    // resume from its last id.
                    None => {
                        let why = self.feed.ended_because("too slow for the live feed");
                        let _ = server::close(&mut sender, 1013, why).await;
                        break;
                    }
                },
                message = receiver.recv() => match message {
                    Ok(Some(Message::Text(text))) => match server::pong_for(&text) {
                        Some(pong) => pong,
                        None => continue,
                    },
                    Ok(Some(Message::Close(_)) | None) | Err(_) => break,
                    Ok(Some(_)) => continue,
                },
            };
            conn.pace().await;
            if server::send(&mut sender, Message::Text(reply))
                .await
                .is_err()
            {
                break;
            }
        }
    }
    // ANCHOR_END: ws_session
}

/// The price in cents of a tick's JSON.
fn cents_of(json: &str) -> Option<i64> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let price = value.get("price")?.as_f64()?;
    // Two decimals: rounding undoes the binary fraction.
    Some((price * 100.0).round() as i64)
}

// ANCHOR: ws_text
/// The WebSocket message for a hub event: its data, or a gap notice.
pub fn ws_text(event: &Event) -> String {
    let data = event.data_ref().unwrap_or_default();
    if event.event_type() == Some(GAP_EVENT_TYPE) {
        serde_json::json!({"type": "gap", "last_id": data}).to_string()
    } else {
        data.to_owned()
    }
}
// ANCHOR_END: ws_text

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_repeat_and_stay_positive() {
        let a: Vec<i64> = Prices::default().take(1000).collect();
        let b: Vec<i64> = Prices::default().take(1000).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|&c| c >= 100));
        assert!(a.windows(2).all(|w| (w[0] - w[1]).abs() <= 50));
        assert_eq!(
            tick_json(3, 10_105),
            r#"{"seq":3,"symbol":"WLB","price":101.05}"#
        );
    }
}
