//! A chat room, over WebSocket, and over Server-Sent Events plus HTTP POST: one room, two ways
//! in, so that a WebSocket user and an SSE user talk to each other.
//!
//! Chat is two-way, and this is where the two transports part:
//!
//! - `GET /chat/ws?name=N`: a WebSocket. A message goes up as one frame on the open
//!   connection, and comes back down to everyone as one frame.
//! - `GET /chat/events`: an event stream of the room (with `Last-Event-ID` resume, like the
//!   ticker); `POST /chat/send?name=N` with the text as the body sends a message. Every message
//!   up is a whole HTTP request: a request line and headers, the body, and a response head
//!   back, where the WebSocket spends a 6-byte frame header (2 bytes plus the 4-byte masking
//!   key a client must add). The snapshots of `conformance/tests/tap_examples.rs` show it for
//!   "hello, room!": a 136-byte POST (with a minimal hand-written head) and an 83-byte `204`
//!   back, against an 18-byte frame; from headless Chromium, whose requests carry its own
//!   headers, the demo's counters (`conformance/tests/browser.rs`) show a POST of several
//!   hundred bytes.
//!
//! Messages are JSON, `{"from":"ana","text":"hi","t":12.5}` (`t` is any number the sender
//! chose; the demo puts a timestamp there and measures the round trip when its own message
//! comes back). What the clients send may be that JSON (`text` and `t` are used) or plain text.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::{Method, StatusCode};
use sse::Event;
use websocket::Message;

use crate::backbone::{Backbone, Feed, RedisError};

use crate::server::{self, Conn, Request, Response, Ws};

/// The reconnection time sent to event-stream clients.
pub const RETRY: Duration = Duration::from_millis(1000);
/// The longest message text, in characters; longer ones are cut.
pub const MAX_TEXT: usize = 1000;
/// The longest name, in characters.
pub const MAX_NAME: usize = 24;

/// The room.
#[derive(Debug)]
pub struct Chat {
    /// The room's messages: on Redis, the room is the same on every instance.
    feed: Feed,
    guests: AtomicU64,
}

impl Default for Chat {
    fn default() -> Self {
        Chat::with(&Backbone::Memory)
    }
}

/// The JSON that goes down to every client for a message `sent` by `from`.
pub fn message_json(from: &str, sent: &str) -> String {
    let (text, t) = match serde_json::from_str::<serde_json::Value>(sent) {
        Ok(serde_json::Value::Object(object))
            if object.get("text").is_some_and(|t| t.is_string()) =>
        {
            (
                object["text"].as_str().unwrap_or_default().to_owned(),
                object.get("t").filter(|t| t.is_number()).cloned(),
            )
        }
        _ => (sent.to_owned(), None),
    };
    let text: String = text.chars().take(MAX_TEXT).collect();
    let mut out = serde_json::json!({"from": from, "text": text});
    if let Some(t) = t {
        out["t"] = t;
    }
    out.to_string()
}

impl Chat {
    /// An empty room.
    pub fn new() -> Arc<Chat> {
        Arc::new(Chat::default())
    }

    /// The room on `backbone`.
    pub fn on(backbone: &Backbone) -> Arc<Chat> {
        Arc::new(Chat::with(backbone))
    }

    fn with(backbone: &Backbone) -> Chat {
        Chat {
            feed: backbone.feed("chat", 200, 256),
            guests: AtomicU64::new(0),
        }
    }

    /// Sends `text` (JSON or plain) to the room as `from`.
    ///
    /// # Errors
    ///
    /// When the room is on Redis and Redis cannot be reached.
    pub async fn say(&self, from: &str, text: &str) -> Result<(), RedisError> {
        self.feed
            .publish(Event::new().data(message_json(from, text)))
            .await
            .map(drop)
    }

    fn name(&self, request: &Request) -> String {
        let name: String = server::query_param(request.uri(), "name")
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_NAME)
            .collect();
        if name.trim().is_empty() {
            format!("guest-{}", self.guests.fetch_add(1, Ordering::Relaxed) + 1)
        } else {
            name
        }
    }

    // ANCHOR: handle
    /// Answers `GET /chat/ws`, `GET /chat/events` and `POST /chat/send`.
    pub async fn handle(self: Arc<Self>, mut request: Request, conn: Conn) -> Response {
        match (request.method(), request.uri().path()) {
            (&Method::GET, "/chat/ws") => {
                let name = self.name(&request);
                server::websocket(&mut request, &conn, move |ws, conn| {
                    self.ws_session(ws, conn, name)
                })
            }
            (&Method::GET, "/chat/events") => {
                let events = self
                    .feed
                    .subscribe(sse::server::last_event_id(&request))
                    .await;
                server::sse(&conn, events, Some(RETRY))
            }
            (&Method::POST, "/chat/send") => {
                let name = self.name(&request);
                let body = match server::read_body(request, 16 << 10).await {
                    Ok(body) => body,
                    Err(response) => return response,
                };
                conn.pace().await;
                if let Err(e) = self.say(&name, &String::from_utf8_lossy(&body)).await {
                    return server::full(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain; charset=utf-8",
                        format!("{e}\n"),
                    );
                }
                let mut response = server::full(StatusCode::NO_CONTENT, "text/plain", "");
                response.headers_mut().remove(http::header::CONTENT_TYPE);
                response
            }
            _ => server::not_found(),
        }
    }
    // ANCHOR_END: handle

    // ANCHOR: ws_session
    async fn ws_session(self: Arc<Self>, ws: Ws, conn: Conn, name: String) {
        let mut room = self.feed.subscribe(None).await;
        let (mut receiver, mut sender) = ws.split();
        loop {
            let reply = tokio::select! {
                event = room.next() => match event {
                    Some(event) => event.data_ref().unwrap_or_default().to_owned(),
                    // Too slow for the room, or the backbone is away: close with 1013 ("try
                    // again later").
                    None => {
                        let why = self.feed.ended_because("too slow for the room");
                        let _ = server::close(&mut sender, 1013, why).await;
                        break;
                    }
                },
                message = receiver.recv() => match message {
                    Ok(Some(Message::Text(text))) => match server::pong_for(&text) {
                        Some(pong) => pong,
                        None => match self.say(&name, &text).await {
                            Ok(()) => continue,
                            Err(e) => serde_json::json!({"error": e.to_string()}).to_string(),
                        },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_json_whatever_was_sent() {
        assert_eq!(message_json("ana", "hi"), r#"{"from":"ana","text":"hi"}"#);
        assert_eq!(
            message_json("ana", r#"{"text":"hi","t":5}"#),
            r#"{"from":"ana","t":5,"text":"hi"}"#
        );
        assert_eq!(
            message_json("bo", r#"{"t":5}"#),
            r#"{"from":"bo","text":"{\"t\":5}"}"#
        );
        assert_eq!(message_json("bo", &"x".repeat(5000)).len(), 1000 + 23);
    }
}
