//! An open event stream, whichever HTTP server carries it: the response's header fields,
//! keep-alive comments in the silences, and the end on shutdown.
//!
//! WireLab has two SSE servers: [`crate::server`] hands the stream to hyper as a response
//! body, and `crate::http1` writes it on a hand-written HTTP/1.1 path. What they send is the
//! same, and it is decided here, once, without hyper and without HTTP/1.1:
//!
//! - the header fields of the response ([`RESPONSE_HEADERS`]);
//! - the body's bytes ([`Outgoing`]): each event's wire form as the event stream yields it,
//!   and, while it yields nothing, a comment line every [`ServerConfig::keep_alive`], so that
//!   a proxy or a NAT that drops idle connections sees traffic and the server notices a
//!   vanished client at the next write (HTML §9.2.7 recommends a comment "every 15 seconds or
//!   so");
//! - the end, when the event stream ends or the [`Shutdown`](crate::shutdown::Shutdown) of
//!   [`ServerConfig::shutdown`] is triggered.
//!
//! Each server then only frames those bytes: hyper as body frames, `http1` as chunks.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http::Request;
use tokio::time::{Instant, Sleep};

use crate::shutdown::ShutdownSignal;

// ANCHOR: config
/// How an event stream is served, by either server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Send a keep-alive comment after this long without an event. `None` sends none.
    /// Default: 15 s, the figure HTML §9.2.7 suggests.
    pub keep_alive: Option<Duration>,
    /// Ends the stream when triggered. Default: none.
    pub shutdown: Option<ShutdownSignal>,
    /// The write deadline: how long one write of the stream's bytes (a batch of at most
    /// 64 KiB) may wait for a client that does not read. Past it the connection ends, without
    /// the last chunk; the client's reconnection, with `Last-Event-ID`, recovers what it
    /// missed, from the history. Default: 30 s, the WebSocket side's `Timeouts::write`.
    ///
    /// `crate::http1` applies it to each write. A hyper body cannot: hyper asks the body for
    /// more only once the socket has taken what it had, so a body is never polled while the
    /// client reads nothing. A hyper server applies it beneath hyper, on the connection's
    /// I/O, as the examples' server does.
    pub write_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            keep_alive: Some(Duration::from_secs(15)),
            shutdown: None,
            write_timeout: Duration::from_secs(30),
        }
    }
}
// ANCHOR_END: config

// ANCHOR: keep_alive
/// The keep-alive comment's wire form.
pub const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";
// ANCHOR_END: keep_alive

// req: sse/9.2.5/mime
// ANCHOR: response_headers
/// The header fields of an event-stream response, besides the framing each server adds.
///
/// - `Content-Type: text/event-stream`: HTML §9.2.5, "this event stream format's MIME type is
///   `text/event-stream`";
/// - `Cache-Control: no-cache`, so that no cache between server and client replays an old
///   recording of the stream;
/// - `X-Accel-Buffering: no`, which tells nginx-style reverse proxies not to hold the body
///   back until a buffer fills.
pub const RESPONSE_HEADERS: [(&str, &str); 3] = [
    ("Content-Type", "text/event-stream"),
    ("Cache-Control", "no-cache"),
    ("X-Accel-Buffering", "no"),
];
// ANCHOR_END: response_headers

// ANCHOR: last_event_id
/// The `Last-Event-ID` a reconnecting client sent (HTML §9.2.4), if any and not empty.
pub fn last_event_id<B>(request: &Request<B>) -> Option<&str> {
    let value = request.headers().get("last-event-id")?;
    std::str::from_utf8(value.as_bytes())
        .ok()
        .filter(|id| !id.is_empty())
}
// ANCHOR_END: last_event_id

// ANCHOR: outgoing
pin_project_lite::pin_project! {
    /// The body's bytes: each item of `events`, a [`KEEP_ALIVE`] comment after every silence
    /// of [`ServerConfig::keep_alive`], and the end when `events` ends or the shutdown
    /// signal fires.
    ///
    /// The silence is measured from the moment the event stream is found with nothing to
    /// give, so a burst of events restarts the clock once, not once per event.
    pub struct Outgoing<E, F> {
        #[pin]
        events: E,
        #[pin]
        silence: Sleep,
        keep_alive: Option<Duration>,
        // Whether anything was sent since `silence` was last set.
        sent: bool,
        #[pin]
        shutdown: F,
        state: State,
    }
}
// ANCHOR_END: outgoing

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// The event stream ended.
    Ended,
    /// The shutdown signal fired; its future has completed and must not be polled again.
    ShutDown,
}

/// What goes out for `events` under `config`. The shutdown wait is the second type parameter;
/// it holds only the signal, so the stream is `'static` whenever `events` is.
pub fn outgoing<E>(
    events: E,
    config: ServerConfig,
) -> Outgoing<E, impl Future<Output = ()> + use<E>> {
    Outgoing {
        events,
        silence: tokio::time::sleep(config.keep_alive.unwrap_or_default()),
        keep_alive: config.keep_alive,
        sent: false,
        shutdown: async move {
            match config.shutdown {
                Some(signal) => signal.wait().await,
                None => std::future::pending().await,
            }
        },
        state: State::Open,
    }
}

impl<E, F: Future<Output = ()>> Outgoing<E, F> {
    /// Whether the shutdown signal has fired. A server polls this while a write of the
    /// stream's bytes is pending, so that a client that stops reading cannot hold off the
    /// shutdown.
    pub fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        if *this.state == State::ShutDown {
            return Poll::Ready(());
        }
        let fired = this.shutdown.poll(cx);
        if fired.is_ready() {
            *this.state = State::ShutDown;
        }
        fired
    }
}

// ANCHOR: poll_next
impl<E, T, F> Stream for Outgoing<E, F>
where
    E: Stream<Item = T>,
    T: Into<Bytes>,
    F: Future<Output = ()>,
{
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.state != State::Open || self.as_mut().poll_shutdown(cx).is_ready() {
            return Poll::Ready(None);
        }
        let mut this = self.project();
        match this.events.poll_next(cx) {
            Poll::Ready(Some(event)) => {
                *this.sent = true;
                return Poll::Ready(Some(event.into()));
            }
            Poll::Ready(None) => {
                *this.state = State::Ended;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        let Some(every) = *this.keep_alive else {
            return Poll::Pending;
        };
        // The stream has just gone quiet: the silence starts now.
        if std::mem::take(this.sent) {
            this.silence.as_mut().reset(Instant::now() + every);
        }
        if this.silence.poll(cx).is_pending() {
            return Poll::Pending;
        }
        *this.sent = true;
        Poll::Ready(Some(Bytes::from_static(KEEP_ALIVE)))
    }
}
// ANCHOR_END: poll_next

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::future::poll_fn;
    use std::pin::pin;

    use super::*;
    use crate::shutdown::Shutdown;

    /// Yields its items at once, then nothing, forever.
    struct Burst(VecDeque<&'static str>);

    impl Stream for Burst {
        type Item = &'static str;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            match self.0.pop_front() {
                Some(item) => Poll::Ready(Some(item)),
                None => Poll::Pending,
            }
        }
    }

    async fn next<S: Stream<Item = Bytes>>(mut stream: Pin<&mut S>) -> Option<Bytes> {
        poll_fn(|cx| stream.as_mut().poll_next(cx)).await
    }

    #[tokio::test(start_paused = true)]
    async fn the_silence_is_counted_from_the_last_thing_sent() {
        let shutdown = Shutdown::new();
        let config = ServerConfig {
            keep_alive: Some(Duration::from_secs(15)),
            shutdown: Some(shutdown.signal()),
            ..ServerConfig::default()
        };
        let start = Instant::now();
        let burst = Burst(VecDeque::from(["data: a\n\n", "data: b\n\n"]));
        let mut stream = pin!(outgoing(burst, config));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            next(stream.as_mut()).await.as_deref(),
            Some(&b"data: a\n\n"[..])
        );
        assert_eq!(
            next(stream.as_mut()).await.as_deref(),
            Some(&b"data: b\n\n"[..])
        );
        // Paused time jumps to the next timer: 15 s after the burst, not after the start.
        assert_eq!(next(stream.as_mut()).await.as_deref(), Some(KEEP_ALIVE));
        assert_eq!(start.elapsed(), Duration::from_secs(25));
        assert_eq!(next(stream.as_mut()).await.as_deref(), Some(KEEP_ALIVE));
        assert_eq!(start.elapsed(), Duration::from_secs(40));
        shutdown.trigger();
        assert_eq!(next(stream.as_mut()).await, None);
        // Ended by the signal: polling again is still the end, and the signal still fired.
        assert_eq!(next(stream.as_mut()).await, None);
        poll_fn(|cx| stream.as_mut().poll_shutdown(cx)).await;
    }
}
