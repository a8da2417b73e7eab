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
/// set. Keep-alive comments every 15 s. Over HTTP/2 the events ready at one moment go out
/// together, in one DATA frame of at most 16 KiB.
pub fn sse<S, T>(conn: &Conn, events: S, retry: Option<Duration>) -> Response
where
    S: Stream<Item = T> + Send + Unpin + 'static,
    T: Into<Bytes>,
{
    let http2 = conn
        .protocol()
        .is_some_and(|protocol| protocol.version == http::Version::HTTP_2);
    let paced = Paced {
        first: retry.map(|retry| Bytes::from(sse::Event::new().retry(retry))),
        events,
        server: conn.server.clone(),
        waiting: None,
        batch: http2,
        ended: false,
    };
    sse::server::response(paced, sse::server::ServerConfig::default()).map(|b| b.boxed_unsync())
}
// ANCHOR_END: sse

/// A stream of the events sent on a channel, for handlers that produce events in a task.
pub fn channel_stream(receiver: mpsc::Receiver<sse::Event>) -> sse::server::ReceiverStream {
    sse::server::ReceiverStream(receiver)
}

/// The most bytes of events [`sse`] puts in one item over HTTP/2.
///
/// hyper sends each item of a body as a DATA frame of its own, and an HTTP/2 client budgets
/// the small frames it holds unread: the `h2` crate ends the whole connection with `GOAWAY
/// ENHANCE_YOUR_CALM` once a client falls a few thousand small frames behind. Events that are
/// ready together go out together instead, as `sse::http1` writes them with one system call;
/// 16 KiB is HTTP/2's default largest frame (RFC 9113 §4.2).
const MAX_BATCH: usize = 16 * 1024;

/// A stream of events, as their wire bytes, delayed by the server's slow-down setting, and
/// over HTTP/2 (`batch`) gathered while more are ready.
struct Paced<S> {
    first: Option<Bytes>,
    events: S,
    server: Server,
    waiting: Option<(Bytes, Pin<Box<Sleep>>)>,
    batch: bool,
    /// The events ended while a batch was gathered: the next poll says so.
    ended: bool,
}

// ANCHOR: paced
impl<S: Stream<Item = T> + Unpin, T: Into<Bytes>> Stream for Paced<S> {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = &mut *self;
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(first));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        if this.waiting.is_none() {
            let Some(event) = ready!(Pin::new(&mut this.events).poll_next(cx)) else {
                return Poll::Ready(None);
            };
            let event = event.into();
            let delay = this.server.slow();
            if delay.is_zero() {
                if !this.batch {
                    return Poll::Ready(Some(event));
                }
                let mut batch = bytes::BytesMut::from(&event[..]);
                while batch.len() < MAX_BATCH {
                    match Pin::new(&mut this.events).poll_next(cx) {
                        Poll::Ready(Some(next)) => batch.extend_from_slice(&next.into()),
                        Poll::Ready(None) => {
                            this.ended = true;
                            break;
                        }
                        Poll::Pending => break,
                    }
                }
                return Poll::Ready(Some(batch.freeze()));
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
            batch: false,
            ended: false,
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

    #[tokio::test]
    async fn over_http2_the_events_ready_together_go_out_together() {
        let mut paced = Paced {
            first: None,
            events: Two(0),
            server: Server::new(),
            waiting: None,
            batch: true,
            ended: false,
        };
        assert_eq!(
            next(&mut paced).await.as_deref(),
            Some(&b"data: 1\n\ndata: 2\n\n"[..])
        );
        assert!(next(&mut paced).await.is_none());
    }
}
