//! Event-stream responses for handlers: the `sse` crate's response, paced by the server's
//! slow-down control.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http_body_util::BodyExt as _;
use tokio::sync::mpsc;
use tokio::time::Sleep;

use super::{Conn, Response, Server};

// ANCHOR: sse
/// An event-stream response that sends `events` (each an `sse::Event`, or a hub's shared
/// `Published` one), each after [`Conn::pace`], starting with a `retry:` line when `retry` is
/// set. Keep-alive comments every 15 s.
pub fn sse<S, T>(conn: &Conn, events: S, retry: Option<Duration>) -> Response
where
    S: Stream<Item = T> + Send + Unpin + 'static,
    T: Into<Bytes>,
{
    let paced = Paced {
        first: retry.map(|retry| Bytes::from(sse::Event::new().retry(retry))),
        events,
        server: conn.server.clone(),
        waiting: None,
    };
    sse::server::response(paced, sse::server::ServerConfig::default()).map(|b| b.boxed_unsync())
}
// ANCHOR_END: sse

/// A stream of the events sent on a channel, for handlers that produce events in a task.
pub fn channel_stream(receiver: mpsc::Receiver<sse::Event>) -> sse::server::ReceiverStream {
    sse::server::ReceiverStream(receiver)
}

/// A stream of events, as their wire bytes, delayed by the server's slow-down setting.
struct Paced<S> {
    first: Option<Bytes>,
    events: S,
    server: Server,
    waiting: Option<(Bytes, Pin<Box<Sleep>>)>,
}

// ANCHOR: paced
impl<S: Stream<Item = T> + Unpin, T: Into<Bytes>> Stream for Paced<S> {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = &mut *self;
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(first));
        }
        if this.waiting.is_none() {
            let Some(event) = ready!(Pin::new(&mut this.events).poll_next(cx)) else {
                return Poll::Ready(None);
            };
            let event = event.into();
            let delay = this.server.slow();
            if delay.is_zero() {
                return Poll::Ready(Some(event));
            }
            this.waiting = Some((event, Box::pin(tokio::time::sleep(delay))));
        }
        if let Some((_, sleep)) = this.waiting.as_mut() {
            ready!(sleep.as_mut().poll(cx));
        }
        Poll::Ready(this.waiting.take().map(|(event, _)| event))
    }
}
// ANCHOR_END: paced

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream of two events, ready at once.
    struct Two(u8);

    impl Stream for Two {
        type Item = sse::Event;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<sse::Event>> {
            if self.0 == 2 {
                return Poll::Ready(None);
            }
            self.0 += 1;
            Poll::Ready(Some(sse::Event::new().data(self.0.to_string())))
        }
    }

    async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
        std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
    }

    #[tokio::test(start_paused = true)]
    async fn slow_delays_each_event_but_not_the_retry_line() {
        let server = Server::new();
        server.set_slow(Duration::from_secs(1));
        let mut paced = Paced {
            first: Some(sse::Event::new().retry(Duration::from_millis(500)).into()),
            events: Two(0),
            server: server.clone(),
            waiting: None,
        };
        let start = tokio::time::Instant::now();
        let retry = next(&mut paced).await.expect("retry");
        assert_eq!(retry, "retry: 500\n\n");
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(next(&mut paced).await.as_deref(), Some(&b"data: 1\n\n"[..]));
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        server.set_slow(Duration::ZERO);
        assert!(next(&mut paced).await.is_some());
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        assert!(next(&mut paced).await.is_none());
    }
}
