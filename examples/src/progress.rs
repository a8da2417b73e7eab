//! Progress of a long task, and text streamed piece by piece, over Server-Sent Events.
//!
//! Both are one-way and end: the server has a finite story to tell. That makes them a good fit
//! for an event stream, with one wrinkle: `EventSource` reconnects when a stream ends, as it
//! does when one breaks. So the server marks the end with an event of its own type, `done`,
//! and the client closes its `EventSource` when it sees it. A client that misses it (the
//! connection broke just then) reconnects with `Last-Event-ID`, and the server, seeing that
//! everything was sent, answers `204 No Content`, which stops `EventSource` for good.
//!
//! - `GET /progress/events?steps=N` (1 to 1000, default 20): `event: progress`, `id: k`,
//!   `data: {"done":k,"total":N}` for each step, then `event: done`. A reconnection resumes
//!   after the last step the client saw. (The task is simulated: step k is done `step` after
//!   step k-1, counted from the connection.)
//! - `GET /text/events`: a text sent a few characters at a time, as the LLM APIs stream
//!   tokens. Each token is the `data` of one event, raw: the event stream keeps spaces (the
//!   encoder writes `data: ` and the parser removes exactly one space) and line breaks (a
//!   token `"\n"` is sent as two `data:` lines, which the parser joins back into `"\n"`). So
//!   no JSON is needed around a token. The end is `event: done`, not a `data: [DONE]`
//!   sentinel as some APIs use, which a token could collide with.
//!
//! The LLM APIs send their streams in answer to a POST (the prompt is the body), which
//! `EventSource` cannot do: browsers read those with `fetch` and a stream parser. The format
//! on the wire is the same.

use std::time::Duration;

use http::{Method, StatusCode};
use sse::Event;
use tokio::sync::mpsc;

use crate::server::{self, Conn, Request, Response};

/// The reconnection time sent to clients.
pub const RETRY: Duration = Duration::from_millis(1000);

/// The event type that ends both streams.
pub const DONE: &str = "done";

/// The text that `/text/events` streams.
pub const TEXT: &str = "Server-Sent Events stream text to the browser over one long HTTP \
response. Each piece is an event: a few bytes of framing, then the words.\n\nWebSocket could \
carry the same pieces, but the page would have to number them, notice a dropped \
connection, reconnect and ask for the rest. EventSource does all of that by itself.";

// ANCHOR: tokens
/// Splits `text` into tokens the way a language model's tokenizer roughly would: each word
/// with the spaces before it, and each line break on its own.
pub fn tokens(text: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c == '\n' {
            if start < i {
                tokens.push(&text[start..i]);
            }
            tokens.push(&text[i..=i]);
            start = i + 1;
            in_word = false;
        } else if c == ' ' {
            if in_word {
                tokens.push(&text[start..i]);
                start = i;
                in_word = false;
            }
        } else {
            in_word = true;
        }
    }
    if start < text.len() {
        tokens.push(&text[start..]);
    }
    tokens
}
// ANCHOR_END: tokens

/// The two streams, and how fast they go.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Time per step of the task.
    pub step: Duration,
    /// Time per token of the text.
    pub token: Duration,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            step: Duration::from_millis(200),
            token: Duration::from_millis(60),
        }
    }
}

fn done_event(id: usize, data: String) -> Event {
    // A number and a constant type hold no line break: these cannot fail.
    Event::new()
        .data(data)
        .event(DONE)
        .and_then(|e| e.id(id.to_string()))
        .unwrap_or_default()
}

fn no_content() -> Response {
    let mut response = server::full(StatusCode::NO_CONTENT, "text/plain", "");
    response.headers_mut().remove(http::header::CONTENT_TYPE);
    response
}

impl Progress {
    /// Answers `GET /progress/events` and `GET /text/events`.
    pub async fn handle(self, request: Request, conn: Conn) -> Response {
        if request.method() != Method::GET {
            return server::not_found();
        }
        let path = request.uri().path();
        let (items, pause): (Vec<Event>, Duration) = match path {
            // ANCHOR: progress_events
            "/progress/events" => {
                let total = server::query_param(request.uri(), "steps")
                    .and_then(|s| s.parse::<usize>().ok())
                    .filter(|s| (1..=1000).contains(s))
                    .unwrap_or(20);
                let mut events: Vec<Event> = (1..=total)
                    .map(|k| {
                        Event::new()
                            .data(serde_json::json!({"done": k, "total": total}).to_string())
                            .event("progress")
                            .and_then(|e| e.id(k.to_string()))
                            .unwrap_or_default()
                    })
                    .collect();
                let done = serde_json::json!({"total": total}).to_string();
                events.push(done_event(total + 1, done));
                (events, self.step)
            }
            // ANCHOR_END: progress_events
            // ANCHOR: text_events
            "/text/events" => {
                let mut events: Vec<Event> = tokens(TEXT)
                    .into_iter()
                    .enumerate()
                    .map(|(i, token)| {
                        Event::new()
                            .data(token)
                            .id((i + 1).to_string())
                            .unwrap_or_default()
                    })
                    .collect();
                let count = events.len();
                events.push(done_event(count + 1, count.to_string()));
                (events, self.token)
            }
            // ANCHOR_END: text_events
            _ => return server::not_found(),
        };
        // ANCHOR: resume
        // Ids are 1, 2, ..., len: `Last-Event-ID: k` means "send from k+1".
        let seen = sse::server::last_event_id(&request)
            .and_then(|id| id.parse::<usize>().ok())
            .filter(|&id| id <= items.len())
            .unwrap_or(0);
        if seen == items.len() {
            return no_content();
        }
        let (sender, receiver) = mpsc::channel(4);
        tokio::spawn(async move {
            for event in items.into_iter().skip(seen) {
                tokio::time::sleep(pause).await;
                if sender.send(event).await.is_err() {
                    break;
                }
            }
        });
        server::sse(&conn, server::channel_stream(receiver), Some(RETRY))
        // ANCHOR_END: resume
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_rebuild_the_text() {
        let tokens = tokens(TEXT);
        assert_eq!(tokens.concat(), TEXT);
        assert!(tokens.contains(&"\n"));
        assert!(tokens.contains(&" Each"));
        assert_eq!(
            super::tokens("a  b\n\nc "),
            ["a", "  b", "\n", "\n", "c", " "]
        );
    }
}
