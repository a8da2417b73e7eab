//! Helpers shared by the SSE conformance tests that need a server: a hyper server on
//! 127.0.0.1 with a handler closure, and small stream adapters.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sse::Event;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The body type the test handlers return.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// The hang guard for every test: generous, never a measurement.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// A server on 127.0.0.1, stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `handler` over HTTP/1.1 on 127.0.0.1, port chosen by the system.
pub async fn serve<F>(handler: F) -> TestServer
where
    F: Fn(Request<Incoming>) -> Response<Body> + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let handler = Arc::new(handler);
    let task = tokio::spawn(async move {
        // Ends when the test drops the server (the task is aborted).
        while let Ok((tcp, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let response = handler(request);
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    TestServer { addr, task }
}

/// A plain response.
pub fn plain(status: StatusCode, content_type: &str, body: &'static str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from_static(body.as_bytes())).boxed_unsync())
        .expect("valid response")
}

/// An SSE response of `events` through the crate's server helper, without keep-alives.
pub fn sse_response<S>(events: S) -> Response<Body>
where
    S: Stream + Send + 'static,
    S::Item: Into<bytes::Bytes>,
{
    let config = sse::server::ServerConfig {
        keep_alive: None,
        shutdown: None,
        ..sse::server::ServerConfig::default()
    };
    sse::server::response(events, config).map(BodyExt::boxed_unsync)
}

/// A stream of the given events, then the end.
pub struct Iter(pub std::vec::IntoIter<Event>);

impl Stream for Iter {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Event>> {
        Poll::Ready(self.0.next())
    }
}

/// `first`, then at most `n` items of `stream`, then the end.
pub struct Take<S: Stream> {
    pub first: Vec<S::Item>,
    pub stream: Pin<Box<S>>,
    pub n: usize,
}

impl<S: Stream> Stream for Take<S>
where
    S::Item: Unpin,
{
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if !self.first.is_empty() {
            return Poll::Ready(Some(self.first.remove(0)));
        }
        if self.n == 0 {
            return Poll::Ready(None);
        }
        let next = self.stream.as_mut().poll_next(cx);
        if let Poll::Ready(Some(_)) = next {
            self.n -= 1;
        }
        next
    }
}

/// A client that reconnects fast: tests wait milliseconds, not seconds.
pub fn fast() -> sse::client::ClientConfig {
    sse::client::ClientConfig {
        reconnection_time: Duration::from_millis(5),
        backoff: sse::backoff::BackoffConfig {
            base: Duration::from_millis(1),
            max: Duration::from_millis(10),
            healthy_after: Duration::from_secs(30),
        },
        ..sse::client::ClientConfig::default()
    }
}

/// Runs `future` under the hang guard.
pub async fn guarded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, future)
        .await
        .expect("hang guard: the test did not finish in time")
}
