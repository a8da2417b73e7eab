//! A bounded replay history, and a [`Hub`] that publishes events live and replays them.
//!
//! SSE's answer to a dropped connection is the last event ID: the client reconnects with a
//! `Last-Event-ID` header (HTML §9.2.4) carrying the id of the last event it received, and the
//! server sends what came after it. The spec leaves the server side to us; this module is one
//! way to do it:
//!
//! - [`History`] numbers the events it is given (1, 2, 3, ...) and keeps the newest
//!   `capacity` of them. Memory is bounded; the price is that a client away for too long
//!   cannot get everything back.
//! - Such a client is told so, clearly: its replay starts with an event of type
//!   [`GAP_EVENT_TYPE`] (`"history-gap"`) whose data is the id the client sent (at most
//!   [`MAX_ID_LEN`] bytes of it), followed by everything the history still holds. A client
//!   that does not listen for that type loses nothing by it (`EventSource` only calls
//!   `onmessage` for type `message`). An id the history could not have given out, from before
//!   a server restart or longer than any of its ids, is treated the same way.
//! - [`Hub`] puts a history beside a tokio broadcast channel, so that a subscriber gets the
//!   replay and then the live events with none lost or doubled in between. A subscriber too
//!   slow to keep up with the channel has its stream ended; its client reconnects with its
//!   last event ID and catches up from the history, which is exactly what SSE's reconnection
//!   is for.
//! - What the hub keeps and sends is a [`Published`] event: numbered, encoded once when it is
//!   published, and shared. A thousand subscribers cost a thousand reference counts, not a
//!   thousand encodings of the same bytes; the server hands the shared bytes to the socket as
//!   they are.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::broadcast;

use crate::Event;

// ANCHOR: gap_type
/// The event type of the notice that a replay is incomplete.
pub const GAP_EVENT_TYPE: &str = "history-gap";

/// The longest id a [`History`] gives out: its ids are `u64`s in decimal, and `u64::MAX` has
/// 20 digits. A `Last-Event-ID` any longer names none of its events, and the gap notice
/// repeats at most this many bytes of the id it answers.
pub const MAX_ID_LEN: usize = 20;
// ANCHOR_END: gap_type

// ANCHOR: published
/// An event as it was published: the [`Event`] and its wire form, encoded once and shared.
/// Cloning it copies a pointer. It reads as an [`Event`] (it derefs to one), and turns into
/// its wire bytes without a copy, which is what [`server::response`](crate::server::response)
/// sends.
#[derive(Debug, Clone)]
pub struct Published(Arc<(Event, Bytes)>);

impl Published {
    /// Encodes `event`.
    pub fn new(event: Event) -> Self {
        let wire = Bytes::from(event.to_bytes());
        Published(Arc::new((event, wire)))
    }

    /// The wire form: what the event stream carries for this event.
    pub fn wire(&self) -> &Bytes {
        &self.0.1
    }
}

impl std::ops::Deref for Published {
    type Target = Event;

    fn deref(&self) -> &Event {
        &self.0.0
    }
}

impl From<Published> for Bytes {
    fn from(published: Published) -> Bytes {
        // A reference count, not a copy.
        published.wire().clone()
    }
}
// ANCHOR_END: published

// ANCHOR: history
/// The newest events, each with the id the history gave it.
#[derive(Debug, Clone)]
pub struct History {
    capacity: usize,
    /// The id the next event gets. Ids start at 1, so no event ever has id 0, and "0" is a
    /// valid `Last-Event-ID` meaning "before the first event".
    next_id: u64,
    events: VecDeque<(u64, Published)>,
}
// ANCHOR_END: history

impl History {
    /// A history that keeps the newest `capacity` events.
    pub fn new(capacity: usize) -> Self {
        History {
            capacity,
            next_id: 1,
            events: VecDeque::with_capacity(capacity),
        }
    }

    // ANCHOR: push
    /// Numbers `event` with the next id (replacing any id it had), encodes it, keeps it, and
    /// returns it ready to send.
    pub fn push(&mut self, mut event: Event) -> Published {
        let id = self.next_id;
        self.next_id += 1;
        event.set_id_number(id);
        let event = Published::new(event);
        if self.capacity > 0 {
            if self.events.len() == self.capacity {
                self.events.pop_front();
            }
            self.events.push_back((id, event.clone()));
        }
        event
    }
    // ANCHOR_END: push

    // ANCHOR: replay
    /// What a client that last saw `last_event_id` has missed, in order. When the history can
    /// no longer tell (the id fell out of it, or is not one it could have given out), the
    /// replay starts with a [`GAP_EVENT_TYPE`] event and then holds every event still kept.
    pub fn replay(&self, last_event_id: &str) -> Vec<Published> {
        let newest = self.next_id - 1;
        let oldest = self.events.front().map_or(self.next_id, |(id, _)| *id);
        match issued(last_event_id) {
            // The client has seen everything up to `seen`, and we hold everything after it.
            Some(seen) if seen <= newest && seen + 1 >= oldest => self
                .events
                .iter()
                .filter(|(id, _)| *id > seen)
                .map(|(_, event)| event.clone())
                .collect(),
            _ => {
                // The notice names the id it answers, so that a client (or a person reading
                // the stream) sees which one could not be continued. Every id this history
                // could have given out fits whole; a longer one is cut to its first bytes,
                // enough to recognise it: echoing it whole would let a client make the server
                // write back whatever it sent (up to a request head's size, on every
                // reconnection), and the client knows its own id anyway.
                std::iter::once(gap_notice(last_event_id))
                    .chain(self.events.iter().map(|(_, event)| event.clone()))
                    .collect()
            }
        }
    }
    // ANCHOR_END: replay
}

/// The notice that a replay after `last_event_id` is incomplete: an event of type
/// [`GAP_EVENT_TYPE`] whose data is [`bounded_id`] of the id. A replay that cannot be complete
/// starts with it, whichever store kept the events.
pub fn gap_notice(last_event_id: &str) -> Published {
    let gap = Event::new()
        .data(bounded_id(last_event_id))
        .event(GAP_EVENT_TYPE)
        .unwrap_or_default();
    Published::new(gap)
}

/// At most [`MAX_ID_LEN`] bytes of `last_event_id`, cut at a character boundary: the whole id
/// whenever a [`History`] could have given it out. It is what the gap notice repeats, and what
/// a server that records the ids its clients send can keep without letting a client choose how
/// much it holds.
pub fn bounded_id(last_event_id: &str) -> &str {
    &last_event_id[..last_event_id.floor_char_boundary(MAX_ID_LEN)]
}

// ANCHOR: issued
/// The number `last_event_id` names if a history could have given it out: the decimal
/// form that [`History::push`] writes (and any store that numbers events the same way), so no sign, no leading zero, at most [`MAX_ID_LEN`]
/// digits. The HTML Standard lets an id be any string without NUL (§9.2.6), so a client may
/// send anything; an id we could not have sent is unknown, the same case as one older than
/// the history, and gets the gap notice rather than a guess at what it meant (`"05"` or
/// `"+5"` would parse as 5, but no event of ours was ever called that).
pub fn issued(last_event_id: &str) -> Option<u64> {
    if last_event_id.len() > MAX_ID_LEN {
        return None;
    }
    let seen = last_event_id.parse::<u64>().ok()?;
    (seen.to_string() == last_event_id).then_some(seen)
}
// ANCHOR_END: issued

/// Publishes events to any number of subscribers, live, with replay on reconnection.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use sse::{Event, history::Hub};
///
/// let hub = Hub::new(100, 16);
/// hub.publish(Event::new().data("one"));
/// hub.publish(Event::new().data("two"));
/// // A client that reconnects after event 1 gets event 2 first, then the live ones.
/// let mut events = hub.subscribe(Some("1"));
/// hub.publish(Event::new().data("three"));
/// assert_eq!(events.next().await.unwrap().data_ref(), Some("two"));
/// assert_eq!(events.next().await.unwrap().data_ref(), Some("three"));
/// # }
/// ```
// ANCHOR: hub
#[derive(Debug)]
pub struct Hub {
    history: Mutex<History>,
    live: broadcast::Sender<Published>,
}
// ANCHOR_END: hub

impl Hub {
    /// A hub that keeps `history` events for replay and lets a subscriber fall `lag` events
    /// behind the live stream before its stream is ended.
    pub fn new(history: usize, lag: usize) -> Self {
        Hub {
            history: Mutex::new(History::new(history)),
            live: broadcast::channel(lag.max(1)).0,
        }
    }

    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        // The history is consistent after every statement, so a panic elsewhere while the lock
        // was held leaves nothing half-done.
        self.history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    // ANCHOR: publish_subscribe
    /// Numbers `event`, keeps it, and sends it to every subscriber. Returns its id.
    pub fn publish(&self, event: Event) -> u64 {
        let mut history = self.history();
        let event = history.push(event);
        let id = history.next_id - 1;
        // Sent while the history is locked, so that `subscribe` sees each event exactly once:
        // either in the history or on the channel. No subscribers is not an error.
        let _ = self.live.send(event);
        id
    }

    /// The events for a client: what it missed after `last_event_id` (if it sent one), then
    /// the live events.
    pub fn subscribe(&self, last_event_id: Option<&str>) -> Subscription {
        let history = self.history();
        let replay = last_event_id
            .map(|id| history.replay(id))
            .unwrap_or_default();
        Subscription {
            replay: replay.into(),
            live: Live::Ready(self.live.subscribe()),
        }
    }
    // ANCHOR_END: publish_subscribe
}

type Recv = Pin<
    Box<
        dyn Future<
                Output = (
                    Result<Published, broadcast::error::RecvError>,
                    broadcast::Receiver<Published>,
                ),
            > + Send,
    >,
>;

/// A receiver's `recv`, owning the receiver so that it can be stored: boxed, because the
/// future borrows what it is stored beside.
fn recv(mut receiver: broadcast::Receiver<Published>) -> Recv {
    Box::pin(async move { (receiver.recv().await, receiver) })
}

/// One subscriber's events: a [`Stream`](futures_core::Stream) to hand to
/// [`server::response`](crate::server::response), or to read with [`Subscription::next`].
pub struct Subscription {
    replay: VecDeque<Published>,
    live: Live,
}

/// Where a subscription stands with the live channel.
enum Live {
    /// Not waiting: the next event is taken with `try_recv`, which costs no allocation. While
    /// events keep coming (a burst, a busy feed) this is where a subscriber stays.
    Ready(broadcast::Receiver<Published>),
    /// The channel was empty: waiting for the next event, in a boxed `recv`.
    Waiting(Recv),
    /// The hub is gone, or this subscriber fell too far behind.
    Ended,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("replay", &self.replay)
            .field("ended", &matches!(self.live, Live::Ended))
            .finish()
    }
}

impl Subscription {
    /// The next event, or `None` once the hub is gone or this subscriber fell too far behind.
    pub async fn next(&mut self) -> Option<Published> {
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *self), cx)).await
    }
}

// ANCHOR: subscription
impl futures_core::Stream for Subscription {
    type Item = Published;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Published>> {
        if let Some(event) = self.replay.pop_front() {
            return Poll::Ready(Some(event));
        }
        loop {
            match std::mem::replace(&mut self.live, Live::Ended) {
                Live::Ready(mut receiver) => match receiver.try_recv() {
                    Ok(event) => {
                        self.live = Live::Ready(receiver);
                        return Poll::Ready(Some(event));
                    }
                    Err(broadcast::error::TryRecvError::Empty) => {
                        // Nothing yet: wait for it (the loop polls the new future at once,
                        // which registers our waker).
                        self.live = Live::Waiting(recv(receiver));
                    }
                    // Lagged: this subscriber missed events; ending its stream makes its
                    // client reconnect and replay them from the history. Closed: the hub is
                    // gone.
                    Err(_) => return Poll::Ready(None),
                },
                Live::Waiting(mut next) => {
                    return match next.as_mut().poll(cx) {
                        Poll::Pending => {
                            self.live = Live::Waiting(next);
                            Poll::Pending
                        }
                        Poll::Ready((Ok(event), receiver)) => {
                            self.live = Live::Ready(receiver);
                            Poll::Ready(Some(event))
                        }
                        // Lagged or closed, as above.
                        Poll::Ready((Err(_), _)) => Poll::Ready(None),
                    };
                }
                Live::Ended => return Poll::Ready(None),
            }
        }
    }
}
// ANCHOR_END: subscription

#[cfg(test)]
mod tests {
    use super::*;

    fn data(events: &[Published]) -> Vec<(Option<&str>, Option<&str>)> {
        events
            .iter()
            .map(|e| (e.event_type(), e.data_ref()))
            .collect()
    }

    // ANCHOR: test_replay
    #[test]
    fn replay_after_a_known_id_and_a_gap_after_an_old_or_unknown_one() {
        let mut history = History::new(3);
        for n in 1..=5 {
            let event = history.push(Event::new().data(n.to_string()));
            assert_eq!(event.id_ref(), Some(n.to_string().as_str()));
        }
        // Kept: 3, 4, 5.
        assert_eq!(
            data(&history.replay("3")),
            [(None, Some("4")), (None, Some("5"))]
        );
        assert_eq!(
            data(&history.replay("2")).len(),
            3,
            "2 is just before the oldest"
        );
        assert!(history.replay("5").is_empty());
        // "03" and "+3" would parse as 3, but the history never wrote them.
        for lost in ["1", "6", "x", "", "03", "+3"] {
            let replay = history.replay(lost);
            assert_eq!(replay.len(), 4, "{lost:?}");
            assert_eq!(data(&replay)[0], (Some(GAP_EVENT_TYPE), Some(lost)));
        }
    }
    // ANCHOR_END: test_replay

    // ANCHOR: test_long_id
    #[test]
    fn a_long_unknown_id_gets_a_bounded_gap_notice_that_parses() {
        let mut history = History::new(2);
        history.push(Event::new().data("kept"));
        // Longer than any id the history gives out, digits or not. `é` is two bytes: ten of
        // them end at byte 20, and a leading `9` puts byte 20 inside the tenth, so the cut has
        // to step back to a character boundary.
        let long_ids = [
            "1".repeat(16 * 1024),
            "x".repeat(60 * 1024),
            "é".repeat(1000),
            format!("9{}", "é".repeat(1000)),
        ];
        for id in &long_ids {
            let replay = history.replay(id);
            let wire: Vec<u8> = replay.iter().flat_map(|e| e.wire().to_vec()).collect();
            let (items, error) = crate::parser::parse_all(&wire, crate::ParserConfig::default());
            assert!(error.is_none(), "{error:?}");
            let events: Vec<_> = items
                .into_iter()
                .filter_map(|item| match item {
                    crate::Item::Event(e) => Some((e.event_type, e.data)),
                    _ => None,
                })
                .collect();
            assert_eq!(events.len(), 2, "the notice, then the kept event");
            let (event_type, shown) = &events[0];
            assert_eq!(event_type, GAP_EVENT_TYPE);
            assert!(shown.len() <= MAX_ID_LEN && shown.len() > MAX_ID_LEN - 4);
            assert!(id.starts_with(shown.as_str()), "a prefix of the id");
            assert_eq!(events[1].1, "kept");
        }
        // The longest id the history could have given out is still read as a number.
        assert_eq!(u64::MAX.to_string().len(), MAX_ID_LEN);
        assert_eq!(issued(&u64::MAX.to_string()), Some(u64::MAX));
    }
    // ANCHOR_END: test_long_id

    #[test]
    fn a_published_event_is_encoded_once_and_shared() {
        let published = History::new(1).push(Event::new().data("hi"));
        assert_eq!(&published.wire()[..], b"id: 1\ndata: hi\n\n");
        assert_eq!(published.data_ref(), Some("hi"));
        let copy = published.clone();
        let bytes: Bytes = copy.into();
        assert_eq!(
            bytes.as_ptr(),
            published.wire().as_ptr(),
            "shared, not copied"
        );
    }

    #[tokio::test]
    async fn a_subscriber_gets_queued_events_in_order_and_is_ended_when_it_lags() {
        let hub = Hub::new(0, 2);
        let mut events = hub.subscribe(None);
        hub.publish(Event::new().data("1"));
        hub.publish(Event::new().data("2"));
        // Both are taken from the channel without waiting.
        assert_eq!(
            events.next().await.as_deref().and_then(Event::data_ref),
            Some("1")
        );
        assert_eq!(
            events.next().await.as_deref().and_then(Event::data_ref),
            Some("2")
        );
        // Three more into a channel of two: this subscriber has lost one, so its stream ends.
        for n in 3..=5 {
            hub.publish(Event::new().data(n.to_string()));
        }
        assert!(events.next().await.is_none());
        assert!(events.next().await.is_none(), "and stays ended");
    }
}
