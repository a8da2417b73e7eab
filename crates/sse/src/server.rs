//! The server side on hyper: a response whose body is a stream of events.
//!
//! An SSE endpoint is an ordinary HTTP handler that answers `200 OK` with
//! `Content-Type: text/event-stream` and then never finishes its body. [`response`] builds that
//! response from any [`Stream`] of [`Event`]s, or of anything else that turns into an event's
//! wire bytes, such as the [`Published`](crate::history::Published) events of a
//! [`Hub`](crate::history::Hub), encoded once for all their subscribers. What the response
//! carries is [`crate::streaming`]'s, shared with the hand-written HTTP/1.1 path: its header
//! fields, keep-alive comments while the stream is idle, and the end on [`Shutdown::trigger`].
//! What this module adds is hyper's framing: each event is one body frame, handed to hyper as
//! soon as the stream yields it, and hyper writes each frame to the socket as one chunk at once
//! (HTTP/1.1 chunked transfer coding). HTML §9.2.7 cautions that chunking "can have unexpected
//! negative effects on the reliability of this protocol, in particular if the chunking is done
//! by a different layer unaware of the timing requirements"; here the chunks are the events,
//! so no event waits for a buffer to fill (the conformance suite checks this with `curl -N`).
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
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderValue, Response};
use http_body::{Body, Frame};
use tokio::sync::mpsc;

use crate::Event;
use crate::gzip::{Flush, Gzipped, StreamEncoding, accepts_gzip};
use crate::streaming::{RESPONSE_HEADERS, outgoing};

pub use crate::shutdown::{Shutdown, ShutdownSignal};
pub use crate::streaming::{KEEP_ALIVE, ServerConfig, last_event_id};

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
        bytes: Some(Box::pin(outgoing(events, config))),
    });
    for (name, value) in RESPONSE_HEADERS {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    response
}
// ANCHOR_END: response

// ANCHOR: response_for
/// Like [`response`], with the body gzip-compressed when `encoding` is
/// [`StreamEncoding::Gzip`] and `request`'s `Accept-Encoding` takes gzip: then the response
/// says `Content-Encoding: gzip`, and every event is flushed as it is written
/// ([`crate::gzip`] says why that matters, and why compression is off by default). Either way
/// it says `Vary: Accept-Encoding`, so that a cache keeps the two apart.
pub fn response_for<B, S, T>(
    request: &http::Request<B>,
    events: S,
    config: ServerConfig,
    encoding: StreamEncoding,
) -> Response<SseBody>
where
    S: Stream<Item = T> + Send + 'static,
    T: Into<Bytes>,
{
    let accepted = request
        .headers()
        .get_all(http::header::ACCEPT_ENCODING)
        .iter()
        .any(|value| accepts_gzip(value.as_bytes()));
    let gzip = encoding == StreamEncoding::Gzip && accepted;
    let mut response = response(events, config);
    if gzip && let Some(plain) = response.body_mut().bytes.take() {
        response.body_mut().bytes = Some(Box::pin(Gzipped::new(plain, Flush::EveryEvent)));
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_ENCODING,
            HeaderValue::from_static("gzip"),
        );
    }
    response.headers_mut().insert(
        http::header::VARY,
        HeaderValue::from_static("accept-encoding"),
    );
    response
}
// ANCHOR_END: response_for

// ANCHOR: body
/// The body of an event-stream response: one frame per event or keep-alive comment.
pub struct SseBody {
    /// What [`crate::streaming::Outgoing`] sends, pinned on the heap since it may be
    /// `!Unpin`; `None` once it has ended.
    bytes: Option<Pin<Box<dyn Stream<Item = Bytes> + Send>>>,
}
// ANCHOR_END: body

impl std::fmt::Debug for SseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseBody")
            .field("ended", &self.bytes.is_none())
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
        let Some(bytes) = self.bytes.as_mut() else {
            return Poll::Ready(None);
        };
        match bytes.as_mut().poll_next(cx) {
            Poll::Ready(Some(bytes)) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
            Poll::Ready(None) => {
                self.bytes = None;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.bytes.is_none()
    }
}
// ANCHOR_END: poll_frame

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
    use std::time::Duration;

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
            ..ServerConfig::default()
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
            ..ServerConfig::default()
        };
        let mut body = response(ReceiverStream(rx), config).into_body();
        shutdown.trigger();
        assert!(body.frame().await.is_none());
        // The shutdown future has completed; polling it again would panic.
        assert!(body.frame().await.is_none());
    }
}
