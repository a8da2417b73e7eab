//! Exercise 8: one ticker over both protocols, about 40 minutes.
//!
//! The last exercise puts the pieces together with WireLab's crates, as an application does:
//! a server on one port that sends the same prices as an event stream (`GET /sse`) and over a
//! WebSocket (`GET /ws`), and lets a client that reconnects resume where it stopped. The
//! server's loop and its routing are written below; write the two functions it calls:
//!
//! - [`sse_response`]: an event stream with one event per price after `last_event_id` (the
//!   `Last-Event-ID` header of a reconnecting `EventSource`): its `id` the price's sequence
//!   number, its data the price as JSON, `{"seq":1,"price":100.5}` (see [`Price::json`]). The
//!   response ends after the last price. Use `sse::Event` and `sse::server::response` (its
//!   events can come from a `tokio::sync::mpsc` channel, wrapped in
//!   `sse::server::ReceiverStream`).
//! - [`ws_session`]: the prices after `last_id` (the `?last_id=N` an application's own
//!   reconnecting client sends, since WebSocket has no such header) as Text messages with the
//!   same JSON, then a Close with code 1000.
//!
//! Check: `scripts/workshop check 8`: the `sse` crate's client and the `websocket` crate's
//! client read the ticker both ways, from the start and resuming after the second price.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A response body: an event stream, a 101, or a refusal.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// One price of the ticker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Its sequence number, from 1.
    pub seq: u64,
    /// The price.
    pub price: f64,
}

impl Price {
    /// The price as the ticker sends it: `{"seq":1,"price":100.5}`.
    pub fn json(&self) -> String {
        format!(r#"{{"seq":{},"price":{}}}"#, self.seq, self.price)
    }
}

/// Serves `prices` on `listener`: `GET /sse` as an event stream, `GET /ws` as a WebSocket.
/// Runs until the listener fails.
pub async fn serve(listener: TcpListener, prices: Arc<Vec<Price>>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let prices = prices.clone();
        let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
            let prices = prices.clone();
            async move { Ok::<_, Infallible>(route(&mut request, prices)) }
        });
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let _ = connection.await;
        });
    }
}

/// Sends a request to the function that answers it.
fn route(request: &mut http::Request<Incoming>, prices: Arc<Vec<Price>>) -> http::Response<Body> {
    let not_found = || {
        let mut response = http::Response::new(http_body_util::Empty::new().boxed_unsync());
        *response.status_mut() = http::StatusCode::NOT_FOUND;
        response
    };
    match request.uri().path() {
        "/sse" => {
            let last = sse::server::last_event_id(request).and_then(|id| id.parse().ok());
            sse_response(&prices, last)
        }
        "/ws" => {
            let last_id = request.uri().query().and_then(|q| {
                q.split('&')
                    .find_map(|pair| pair.strip_prefix("last_id="))
                    .and_then(|n| n.parse().ok())
            });
            let options = websocket::handshake::ServerOptions::default();
            match websocket::io::upgrade(request, &options) {
                Ok((response, upgrading)) => {
                    tokio::spawn(async move {
                        if let Ok(ws) = upgrading.finish().await {
                            ws_session(ws, &prices, last_id).await;
                        }
                    });
                    response.map(|body| body.map_err(|never| match never {}).boxed_unsync())
                }
                Err(error) => websocket::io::rejection(&error)
                    .map(|body| body.map_err(|never| match never {}).boxed_unsync()),
            }
        }
        _ => not_found(),
    }
}

/// The WebSocket this server runs over.
pub type WebSocket = websocket::io::WebSocket<TokioIo<hyper::upgrade::Upgraded>>;

#[cfg(not(feature = "solutions"))]
pub use start::{sse_response, ws_session};

#[cfg(feature = "solutions")]
pub use solution::{sse_response, ws_session};

#[cfg(not(feature = "solutions"))]
mod start {
    // The parameters are unused until the bodies are written.
    #![allow(unused_variables)]

    use super::{Body, Price, WebSocket};

    /// The event stream of the prices after `last_event_id` (all of them if `None`).
    pub fn sse_response(prices: &[Price], last_event_id: Option<u64>) -> http::Response<Body> {
        panic!("exercise 8 is not written yet: see `scripts/workshop hint 8`")
    }

    /// Sends the prices after `last_id` (all of them if `None`) on `ws`, then closes it.
    pub async fn ws_session(ws: WebSocket, prices: &[Price], last_id: Option<u64>) {
        panic!("exercise 8 is not written yet: see `scripts/workshop hint 8`")
    }
}

#[cfg(feature = "solutions")]
mod solution {
    use http_body_util::BodyExt as _;

    use super::{Body, Price, WebSocket};

    // ANCHOR: solution
    /// The event stream of the prices after `last_event_id` (all of them if `None`).
    pub fn sse_response(prices: &[Price], last_event_id: Option<u64>) -> http::Response<Body> {
        let after = last_event_id.unwrap_or(0);
        let (events, stream) = tokio::sync::mpsc::channel(prices.len().max(1));
        for price in prices.iter().filter(|p| p.seq > after) {
            // A number is always a valid id (no line break, no NULL).
            let Ok(event) = sse::Event::new()
                .data(price.json())
                .id(price.seq.to_string())
            else {
                continue;
            };
            // The channel has room for every price, and the receiver is still here.
            let _ = events.try_send(event);
        }
        // Dropping the sender ends the stream once its events are sent, and the response.
        drop(events);
        let stream = sse::server::ReceiverStream(stream);
        sse::server::response(stream, sse::server::ServerConfig::default())
            .map(|body| body.boxed_unsync())
    }

    /// Sends the prices after `last_id` (all of them if `None`) on `ws`, then closes it.
    pub async fn ws_session(mut ws: WebSocket, prices: &[Price], last_id: Option<u64>) {
        let after = last_id.unwrap_or(0);
        for price in prices.iter().filter(|p| p.seq > after) {
            if ws
                .send(websocket::Message::Text(price.json()))
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = ws.close(1000, "that is all").await;
    }
    // ANCHOR_END: solution
}
