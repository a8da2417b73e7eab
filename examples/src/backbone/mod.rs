//! The backbone the examples' feeds run on: this process's memory, or Redis shared by every
//! instance.
//!
//! One process keeps its feeds in an [`sse::history::Hub`]: the events live in its memory and
//! their ids (1, 2, 3, ...) mean something only to it. Two processes behind a load balancer
//! need more: a client whose connection moved to the other instance sends the `Last-Event-ID`
//! the first one gave it, and must be understood there. [`Backbone::Redis`] gives every feed a
//! Redis Stream, so that the history, the ids and the live events are the same on every
//! instance ([`redis`] says how).
//!
//! The seam is [`Feed`]: an example publishes into it and subscribes to it, and does not know
//! which backbone it is on. A subscription is the same [`Published`] events either way,
//! replayed after a `Last-Event-ID` and then live, with the same `history-gap` notice when the
//! replay cannot be complete. What differs is what can fail: memory cannot go away, Redis can.
//! When it does, subscriptions end (an event stream's `EventSource` reconnects by itself, a
//! WebSocket is closed with 1013, "try again later") and publishing returns an error; the
//! backbone logs it, reconnects with backoff, and clients resume from their last id.

pub mod redis;
pub mod seat_map;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use sse::Event;
use sse::history::{Hub, Published};
use tokio::sync::mpsc;

pub use self::redis::{Redis, RedisError};

/// Where the examples keep their feeds and shared state.
#[derive(Debug, Clone, Default)]
pub enum Backbone {
    /// In this process: the default, which needs nothing installed.
    #[default]
    Memory,
    /// On a Redis server shared by every instance.
    Redis(Arc<Redis>),
}

impl Backbone {
    /// Connects to the Redis server at `url` (`redis://127.0.0.1:6379`).
    ///
    /// # Errors
    ///
    /// When the URL is invalid or the server does not answer within
    /// [`redis::START_TIMEOUT`].
    pub async fn redis(url: &str) -> Result<Backbone, RedisError> {
        Ok(Backbone::Redis(Redis::connect(url).await?))
    }

    /// A feed called `name` that keeps `history` events for replay and lets a subscriber fall
    /// `lag` events behind before its subscription ends.
    pub fn feed(&self, name: &str, history: usize, lag: usize) -> Feed {
        match self {
            Backbone::Memory => Feed::Memory(Hub::new(history, lag)),
            Backbone::Redis(redis) => Feed::Redis(redis.feed(name, history, lag)),
        }
    }
}

// ANCHOR: feed
/// A feed of events with replay: in memory, or on a Redis Stream.
#[derive(Debug)]
pub enum Feed {
    /// A hub in this process.
    Memory(Hub),
    /// A Redis Stream, shared by every instance.
    Redis(redis::RedisFeed),
}

impl Feed {
    /// Numbers `event` (its data is what is kept), keeps it and sends it to every subscriber,
    /// on every instance. Returns its id.
    ///
    /// # Errors
    ///
    /// When the feed is on Redis and Redis cannot be reached.
    pub async fn publish(&self, event: Event) -> Result<u64, RedisError> {
        match self {
            Feed::Memory(hub) => Ok(hub.publish(event)),
            Feed::Redis(feed) => feed.publish(event.data_ref().unwrap_or_default()).await,
        }
    }

    /// The events for a client: what it missed after `last_event_id` (if it sent one), then
    /// the live ones. On Redis, when Redis cannot be reached, the subscription is empty and
    /// already ended, so that the client comes back later with the same id.
    pub async fn subscribe(&self, last_event_id: Option<&str>) -> Subscription {
        match self {
            Feed::Memory(hub) => Subscription::Memory(hub.subscribe(last_event_id)),
            Feed::Redis(feed) => Subscription::Redis(feed.subscribe(last_event_id).await),
        }
    }

    /// Why a subscription that ended did, in words for a WebSocket's 1013 Close: a feed
    /// whose backbone is away says so; otherwise the subscriber fell behind, and `lagging`
    /// says it.
    pub fn ended_because(&self, lagging: &'static str) -> &'static str {
        match self {
            Feed::Redis(feed) if !feed.is_live() => "live feed unavailable",
            _ => lagging,
        }
    }
}
// ANCHOR_END: feed

/// One subscriber's events, from either backbone: a [`Stream`] to hand to an event-stream
/// response, or to read with [`Subscription::next`].
#[derive(Debug)]
pub enum Subscription {
    /// From a hub in this process.
    Memory(sse::history::Subscription),
    /// From a Redis feed, through a task that replays and then follows the stream.
    Redis(mpsc::Receiver<Published>),
}

impl Subscription {
    /// The next event, or `None` once the subscription ended: the subscriber fell too far
    /// behind, or the backbone went away.
    pub async fn next(&mut self) -> Option<Published> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for Subscription {
    type Item = Published;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Published>> {
        match &mut *self {
            Subscription::Memory(events) => Pin::new(events).poll_next(cx),
            Subscription::Redis(events) => events.poll_recv(cx),
        }
    }
}
