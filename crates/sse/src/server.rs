//! The server side: a hyper response whose body is a stream of events.
//!
//! An SSE endpoint is an ordinary HTTP handler that answers `200 OK` with
//! `Content-Type: text/event-stream` (HTML §9.2.5: "this event stream format's MIME type is
//! `text/event-stream`") and then never finishes its body. [`response`] builds that response
//! from any [`Stream`] of [`Event`]s, or of anything else that turns into an event's wire
//! bytes, such as the [`Published`](crate::history::Published) events of a
//! [`Hub`](crate::history::Hub), encoded once for all their subscribers:
//!
//! - `Cache-Control: no-cache`, so that no cache between server and client replays an old
//!   recording of the stream, and `X-Accel-Buffering: no`, which tells nginx-style reverse
//!   proxies not to hold the body back until a buffer fills;
//! - each event is one body frame, handed to hyper as soon as the stream yields it, and hyper
//!   writes each frame to the socket as one chunk at once (HTTP/1.1 chunked transfer coding).
//!   HTML §9.2.7 cautions that chunking "can have unexpected negative effects on the
//!   reliability of this protocol, in particular if the chunking is done by a different layer
//!   unaware of the timing requirements"; here the chunks are the events, so no event waits
//!   for a buffer to fill (the conformance suite checks this with `curl -N`);
//! - while the stream is idle, a comment line every [`ServerConfig::keep_alive`]: a proxy or a
//!   NAT that drops idle connections sees traffic, and the server notices a vanished client
//!   at the next write (HTML §9.2.7 recommends a comment "every 15 seconds or so");
//! - on [`Shutdown::trigger`] every open stream ends, so that hyper's graceful shutdown, which
//!   waits for responses to finish, can finish. Clients reconnect elsewhere or later, and
//!   with [`crate::history`] they lose nothing.
//!
//! ```no_run
//! # async fn handler(request: http::Request<hyper::body::Incoming>, hub: &sse::history::Hub) {
//! use sse::server::{self, ServerConfig};
//!
//! let events = hub.subscribe(server::last_event_id(&request));
//! let response = server::response(events, ServerConfig::default());
//! # }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderValue, Request, Response, header};
use http_body::{Body, Frame};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, Sleep};

use crate::Event;

// ANCHOR: config
/// How [`response`] streams.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Send a keep-alive comment after this long without an event. `None` sends none.
    /// Default: 15 s, the figure HTML §9.2.7 suggests.
    pub keep_alive: Option<Duration>,
    /// Ends the stream when triggered. Default: none.
    pub shutdown: Option<ShutdownSignal>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            keep_alive: Some(Duration::from_secs(15)),
            shutdown: None,
        }
    }
}
// ANCHOR_END: config

// ANCHOR: keep_alive
/// The keep-alive comment's wire form.
pub const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";
// ANCHOR_END: keep_alive

// ANCHOR: last_event_id
/// The `Last-Event-ID` a reconnecting client sent (HTML §9.2.4), if any and not empty.
pub fn last_event_id<B>(request: &Request<B>) -> Option<&str> {
    let value = request.headers().get("last-event-id")?;
    std::str::from_utf8(value.as_bytes())
        .ok()
        .filter(|id| !id.is_empty())
}
// ANCHOR_END: last_event_id

/// An event's wire form, as [`Event::to_bytes`] writes it.
impl From<Event> for Bytes {
    fn from(event: Event) -> Bytes {
        Bytes::from(event.to_bytes())
    }
}

// ANCHOR: response
/// A `200 OK` event-stream response whose body sends `events` as they come: [`Event`]s, a
/// hub's [`Published`](crate::history::Published) events, or anything else that turns into
/// bytes. Only the first two are valid by construction: other bytes (a `Bytes`, a `String`)
/// go on the wire as they are, unchecked, which is what a relay of an already-encoded stream
/// wants and what a handler formatting events by hand must not do.
pub fn response<S, T>(events: S, config: ServerConfig) -> Response<SseBody>
where
    S: Stream<Item = T> + Send + 'static,
    T: Into<Bytes>,
{
    let mut response = Response::new(SseBody {
        events: Some(Box::pin(WireBytes(Box::pin(events)))),
        keep_alive: config
            .keep_alive
            .map(|every| (every, Box::pin(tokio::time::sleep(every)))),
        shutdown: config
            .shutdown
            .map(|signal| Box::pin(signal.wait()) as BoxFuture),
    });
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
// ANCHOR_END: response

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A stream of events, as their wire bytes. The inner stream is boxed to pin it (it may be
/// `!Unpin`, and this crate has no unsafe code to pin it in place).
struct WireBytes<S>(Pin<Box<S>>);

impl<S, T> Stream for WireBytes<S>
where
    S: Stream<Item = T>,
    T: Into<Bytes>,
{
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.0
            .as_mut()
            .poll_next(cx)
            .map(|event| event.map(Into::into))
    }
}

// ANCHOR: body
/// The body of an event-stream response: one frame per event or keep-alive comment.
pub struct SseBody {
    /// Each event's wire bytes; `None` once the stream has ended.
    events: Option<Pin<Box<dyn Stream<Item = Bytes> + Send>>>,
    keep_alive: Option<(Duration, Pin<Box<Sleep>>)>,
    shutdown: Option<BoxFuture>,
}
// ANCHOR_END: body

impl std::fmt::Debug for SseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseBody")
            .field("ended", &self.events.is_none())
            .finish_non_exhaustive()
    }
}

// ANCHOR: poll_frame
impl Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        if let Some(shutdown) = this.shutdown.as_mut()
            && shutdown.as_mut().poll(cx).is_ready()
        {
            // A finished future must not be polled again: drop it with the stream.
            this.shutdown = None;
            this.events = None;
        }
        let Some(events) = this.events.as_mut() else {
            return Poll::Ready(None);
        };
        let bytes = match events.as_mut().poll_next(cx) {
            Poll::Ready(Some(wire)) => wire,
            Poll::Ready(None) => {
                this.events = None;
                return Poll::Ready(None);
            }
            Poll::Pending => {
                let Some((_, sleep)) = this.keep_alive.as_mut() else {
                    return Poll::Pending;
                };
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                Bytes::from_static(KEEP_ALIVE)
            }
        };
        // Anything sent restarts the idle clock.
        if let Some((every, sleep)) = this.keep_alive.as_mut() {
            sleep.as_mut().reset(Instant::now() + *every);
        }
        Poll::Ready(Some(Ok(Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        self.events.is_none()
    }
}
// ANCHOR_END: poll_frame

// ANCHOR: shutdown
/// The trigger of a graceful shutdown: [`Shutdown::trigger`] ends every stream whose
/// [`ServerConfig::shutdown`] came from [`Shutdown::signal`]. (A hand-written cousin of
/// tokio-util's `CancellationToken`, on a `watch` channel.)
#[derive(Debug)]
pub struct Shutdown {
    sender: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A trigger not yet pulled.
    pub fn new() -> Self {
        Shutdown {
            sender: watch::channel(false).0,
        }
    }

    /// A signal that fires when this trigger is pulled (or dropped).
    pub fn signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            receiver: self.sender.subscribe(),
        }
    }

    /// Ends every stream watching this trigger.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }
}

/// The receiving half of a [`Shutdown`].
#[derive(Debug, Clone)]
pub struct ShutdownSignal {
    receiver: watch::Receiver<bool>,
}

impl ShutdownSignal {
    /// Completes when the shutdown is triggered, or its trigger is dropped.
    pub async fn wait(mut self) {
        let _ = self.receiver.wait_for(|triggered| *triggered).await;
    }
}
// ANCHOR_END: shutdown

// ANCHOR: receiver_stream
/// A [`Stream`] of the events sent on a tokio `mpsc` channel: the simplest way to feed
/// [`response`] from another task.
#[derive(Debug)]
pub struct ReceiverStream(pub mpsc::Receiver<Event>);

impl Stream for ReceiverStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.0.poll_recv(cx)
    }
}
// ANCHOR_END: receiver_stream

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    // ANCHOR: test_keep_alive
    #[tokio::test(start_paused = true)]
    async fn events_then_keep_alives_then_shutdown() {
        let (tx, rx) = mpsc::channel(4);
        let shutdown = Shutdown::new();
        let config = ServerConfig {
            keep_alive: Some(Duration::from_secs(15)),
            shutdown: Some(shutdown.signal()),
        };
        let response = response(ReceiverStream(rx), config);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        assert_eq!(response.headers()["cache-control"], "no-cache");
        assert_eq!(response.headers()["x-accel-buffering"], "no");
        let mut body = response.into_body();
        tx.send(Event::new().data("one")).await.expect("open");
        let frame = body.frame().await.expect("frame").expect("infallible");
        assert_eq!(frame.into_data().expect("data"), "data: one\n\n");
        // Paused time auto-advances to the keep-alive deadline when nothing else is ready.
        let frame = body.frame().await.expect("frame").expect("infallible");
        assert_eq!(frame.into_data().expect("data"), KEEP_ALIVE);
        shutdown.trigger();
        assert!(body.frame().await.is_none());
        assert!(body.is_end_stream());
    }
    // ANCHOR_END: test_keep_alive

    #[tokio::test(start_paused = true)]
    async fn polling_again_after_shutdown_is_still_the_end() {
        let (_tx, rx) = mpsc::channel(4);
        let shutdown = Shutdown::new();
        let config = ServerConfig {
            keep_alive: Some(Duration::from_secs(15)),
            shutdown: Some(shutdown.signal()),
        };
        let mut body = response(ReceiverStream(rx), config).into_body();
        shutdown.trigger();
        assert!(body.frame().await.is_none());
        // The shutdown future has completed; polling it again would panic.
        assert!(body.frame().await.is_none());
    }
}
