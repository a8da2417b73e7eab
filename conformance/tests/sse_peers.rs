//! The SSE server helper against real peers: curl and Python's httpx-sse.
//!
//! - `curl -N` receives exactly the bytes the encoder wrote, with the headers the server
//!   helper promises, and receives each event as soon as it is produced (the server waits for
//!   curl to print one event before it produces the next, so a buffering server would hang).
//! - `wirelab sse parse`, fed what curl received, prints the events.
//! - httpx-sse parses the stream to the same events as our parser.
//!
//! Peers are found with `wirelab_conformance::require`; a missing peer prints a `skipped:`
//! line (and fails under `WIRELAB_REQUIRE_PEERS=1`).
//!
//! Run: `WIRELAB_PYTHON=/path/to/venv/bin/python cargo test -p wirelab-conformance --test sse_peers`

mod sse_support;

use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use sse::server::{self, ServerConfig};
use sse::{Event, Item, ParserConfig};
use sse_support::{Iter, guarded, serve, sse_response};
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use wirelab_conformance::{Peer, require};

/// Representative events: comments, retry, multi-line data with each line end, types, ids,
/// an id reset, empty data, leading spaces, non-ASCII text.
fn sample() -> Vec<Event> {
    let valid = |e: Result<Event, sse::Error>| e.expect("valid event");
    vec![
        Event::new()
            .comment("hello from WireLab")
            .retry(Duration::from_millis(1500))
            .data("first"),
        valid(Event::new().data("multi\nline\r\ndata\rhere").id("1")),
        valid(
            Event::new()
                .data("{\"json\": true}")
                .event("update")
                .and_then(|e| e.id("2")),
        ),
        valid(
            Event::new()
                .data("  two leading spaces, caf\u{e9} \u{2713}")
                .event("update"),
        ),
        valid(Event::new().data("").id("")),
        Event::new().data("last"),
    ]
}

fn sample_bytes() -> Vec<u8> {
    sample().iter().flat_map(Event::to_bytes).collect()
}

/// Our parser's events for `bytes`, as `{type, data, id}`.
fn our_events(bytes: &[u8]) -> Vec<Value> {
    let (items, error) = sse::parser::parse_all(bytes, ParserConfig::default());
    assert!(error.is_none());
    items
        .into_iter()
        .filter_map(|item| match item {
            Item::Event(e) => {
                Some(json!({"type": e.event_type, "data": e.data, "id": &*e.last_event_id}))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn curl_receives_the_stream_as_sent() {
    let Some(curl) = require(Peer::Curl, "sse_peers::curl_receives_the_stream_as_sent") else {
        return;
    };
    let server = serve(|_| sse_response(Iter(sample().into_iter()))).await;
    let output = guarded(
        Command::new(curl)
            .args(["-N", "-s", "-i", "--max-time", "30"])
            .arg(server.url("/events"))
            .output(),
    )
    .await
    .expect("curl runs");
    assert!(output.status.success(), "curl: {output:?}");
    let split = output
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&output.stdout[..split]).to_lowercase();
    let body = &output.stdout[split + 4..];
    assert!(head.starts_with("http/1.1 200 ok"), "{head}");
    for header in [
        "content-type: text/event-stream",
        "cache-control: no-cache",
        "x-accel-buffering: no",
        "transfer-encoding: chunked",
    ] {
        assert!(
            head.lines().any(|l| l.trim() == header),
            "{header} in {head}"
        );
    }
    assert_eq!(body, sample_bytes().as_slice());

    // `curl -N URL | wirelab sse parse`
    let mut json_lines = Vec::new();
    wirelab::sse_cmd::parse(body, &mut json_lines).expect("parse");
    let json_lines = String::from_utf8(json_lines).expect("UTF-8");
    let expected = concat!(
        "{\"retry\":1500}\n",
        "{\"type\":\"message\",\"data\":\"first\",\"id\":\"\"}\n",
        "{\"type\":\"message\",\"data\":\"multi\\nline\\ndata\\nhere\",\"id\":\"1\"}\n",
        "{\"type\":\"update\",\"data\":\"{\\\"json\\\": true}\",\"id\":\"2\"}\n",
        "{\"type\":\"update\",\"data\":\"  two leading spaces, caf\u{e9} \u{2713}\",\"id\":\"2\"}\n",
        "{\"type\":\"message\",\"data\":\"\",\"id\":\"\"}\n",
        "{\"type\":\"message\",\"data\":\"last\",\"id\":\"\"}\n",
    );
    assert_eq!(json_lines, expected);
}

#[tokio::test]
async fn curl_receives_each_event_as_it_is_produced() {
    let Some(curl) = require(
        Peer::Curl,
        "sse_peers::curl_receives_each_event_as_it_is_produced",
    ) else {
        return;
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(1);
    let rx = Mutex::new(Some(rx));
    let server = serve(move |_| {
        let rx = rx.lock().expect("lock").take().expect("one request");
        let config = ServerConfig {
            keep_alive: None,
            shutdown: None,
            ..ServerConfig::default()
        };
        server::response(server::ReceiverStream(rx), config)
            .map(http_body_util::BodyExt::boxed_unsync)
    })
    .await;
    let mut child = Command::new(curl)
        .args(["-N", "-s", "--max-time", "30"])
        .arg(server.url("/events"))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("curl runs");
    let mut stdout = child.stdout.take().expect("piped");
    let mut received = Vec::new();
    guarded(async {
        for n in 1..=5 {
            let event = Event::new().data(format!("event {n}"));
            let expected_len = received.len() + event.to_bytes().len();
            tx.send(event).await.expect("server streams");
            // The next event is produced only once curl has printed this one.
            let mut buf = [0u8; 256];
            while received.len() < expected_len {
                let n = stdout.read(&mut buf).await.expect("read curl");
                assert!(n > 0, "curl ended early");
                received.extend_from_slice(&buf[..n]);
            }
        }
    })
    .await;
    drop(tx);
    let expected: Vec<u8> = (1..=5)
        .flat_map(|n| Event::new().data(format!("event {n}")).to_bytes())
        .collect();
    assert_eq!(received, expected);
    let status = guarded(child.wait()).await.expect("curl exits");
    assert!(status.success(), "curl: {status}");
}

/// Prints each event httpx-sse parses as one JSON line.
const HTTPX_SSE: &str = r#"
import json, sys
import httpx
from httpx_sse import connect_sse
with httpx.Client(timeout=30) as client:
    with connect_sse(client, "GET", sys.argv[1]) as source:
        assert source.response.headers["content-type"] == "text/event-stream"
        for e in source.iter_sse():
            print(json.dumps({"type": e.event, "data": e.data, "id": e.id}))
"#;

#[tokio::test]
async fn httpx_sse_parses_the_same_events() {
    let Some(python) = require(Peer::Python, "sse_peers::httpx_sse_parses_the_same_events") else {
        return;
    };
    let server = serve(|_| sse_response(Iter(sample().into_iter()))).await;
    let output = guarded(
        Command::new(python)
            .args(["-c", HTTPX_SSE])
            .arg(server.url("/events"))
            .output(),
    )
    .await
    .expect("python runs");
    assert!(
        output.status.success(),
        "httpx-sse: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: Vec<Value> = String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect();
    let ours = our_events(&sample_bytes());
    assert_eq!(ours.len(), 6);
    assert_eq!(theirs, ours);
}
