//! `wirelab sse URL` (the library function behind it, `wirelab::sse_cmd::watch`): events,
//! reconnections and the final state as JSON lines.
//!
//! Run: `cargo test -p wirelab-conformance --test sse_cli`

mod sse_support;

use std::sync::Arc;

use http::StatusCode;
use serde_json::{Value, json};
use sse::client::CloseReason;
use sse::history::Hub;
use sse::{Event, server};
use sse_support::{Take, fast, guarded, plain, serve, sse_response};
use wirelab::sse_cmd::{WatchError, watch};

fn lines(output: &[u8]) -> Vec<Value> {
    String::from_utf8(output.to_vec())
        .expect("UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect()
}

#[tokio::test]
async fn watch_prints_events_and_reconnections() {
    let hub = Arc::new(Hub::new(10, 10));
    for n in 1..=4 {
        hub.publish(Event::new().data(format!("event {n}")));
    }
    let server = serve(move |request| {
        let last = server::last_event_id(&request).unwrap_or("0");
        sse_response(Take {
            first: vec![],
            stream: Box::pin(hub.subscribe(Some(last))),
            n: 2,
        })
    })
    .await;
    let url = server.url("/events");
    let mut output = Vec::new();
    guarded(watch(&url, fast(), Some(4), &mut output))
        .await
        .expect("stops after 4 events");
    let mut got = lines(&output);
    // The delay is random (jitter); its presence is what counts.
    for line in &mut got {
        if let Some(delay) = line.get_mut("delay_ms") {
            assert!(delay.is_u64());
            *delay = json!("?");
        }
    }
    let event =
        |n: u32| json!({"type": "message", "data": format!("event {n}"), "id": n.to_string()});
    assert_eq!(
        got,
        [
            json!({"state": "connecting", "url": url}),
            json!({"state": "open", "http": "HTTP/1.1", "tcp_connections": 1}),
            event(1),
            event(2),
            json!({"state": "reconnecting", "reason": "the server ended the stream",
                   "delay_ms": "?", "last_event_id": "2", "attempt": 1}),
            json!({"state": "open", "http": "HTTP/1.1", "tcp_connections": 2}),
            event(3),
            event(4),
        ]
    );
}

#[tokio::test]
async fn watch_fails_when_the_client_closes_for_good() {
    let server = serve(|_| plain(StatusCode::NOT_FOUND, "text/plain", "")).await;
    let url = server.url("/missing");
    let mut output = Vec::new();
    let error = guarded(watch(&url, fast(), None, &mut output))
        .await
        .expect_err("404 is fatal");
    assert!(matches!(
        error,
        WatchError::Closed(CloseReason::Status(404))
    ));
    assert_eq!(
        lines(&output).last(),
        Some(&json!({"state": "closed", "reason": "HTTP status 404, not 200"}))
    );
    let error = guarded(watch("ftp://example.invalid/", fast(), None, &mut output))
        .await
        .expect_err("ftp is not supported");
    assert!(matches!(error, WatchError::Url(_)), "{error}");
}
