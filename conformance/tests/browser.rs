//! A real browser runs the demo: headless Chromium, Debian's package, no WebDriver.
//!
//! Each test serves `wirelab demo` on a loopback port, starts Chromium on one page with
//! `?autotest=1`, and waits for the page's script to run its scenario and log one line,
//! `RESULT {json}`, to the console, which `--enable-logging=stderr` copies to Chromium's
//! standard error. Then it kills Chromium and checks the JSON. The page runs the browser's own
//! `EventSource` and `WebSocket`; the server's side of the story (the `Last-Event-ID` it
//! received, the bytes each connection carried) comes from the demo's `/stats`, which the
//! page includes in its result.
//!
//! Where Chromium is missing the tests print `skipped: ...` and pass, unless
//! `WIRELAB_REQUIRE_PEERS=1` (CI), where they fail.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;
use wirelab_conformance::{Peer, require};

/// The hang guard of one browser run: loading, the scenario, and the result.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// Serves the demo on a fresh loopback port; returns its base URL.
async fn start_demo() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(wirelab::demo::serve(listener, Default::default()));
    format!("http://{addr}")
}

/// Opens `url` in headless Chromium and returns the page's `RESULT` JSON.
async fn run_page(chromium: &Path, url: &str) -> Value {
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let profile = std::env::temp_dir().join(format!(
        "wirelab-chromium-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).expect("profile dir");
    let mut child = Command::new(chromium)
        .args(wirelab_conformance::CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group, so that the browser's helper processes go with it.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .expect("start chromium");
    let pid = child.id();
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    let found = tokio::time::timeout(BROWSER_TIMEOUT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(json) = result_json(&line) {
                return Some(json);
            }
            if seen.len() < 200 {
                seen.push(line);
            }
        }
        None
    })
    .await;
    if let Some(pid) = pid {
        // The whole group: the launcher's chromium and its renderer, GPU and zygote helpers.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
    }
    let _ = child.kill().await;
    let _ = std::fs::remove_dir_all(&profile);
    match found {
        Ok(Some(json)) => serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("RESULT is not JSON ({e}): {json}")),
        Ok(None) => panic!(
            "chromium exited without a RESULT line; its output:\n{}",
            seen.join("\n")
        ),
        Err(_) => panic!(
            "no RESULT line within {BROWSER_TIMEOUT:?}; chromium said:\n{}",
            seen.join("\n")
        ),
    }
}

/// The JSON of a console line `... "RESULT {json}", source: URL (line)`.
fn result_json(line: &str) -> Option<String> {
    let start = line.find("\"RESULT ")? + "\"RESULT ".len();
    let rest = &line[start..];
    let end = rest.rfind("\", source:").unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

fn u64_at(value: &Value, pointer: &str) -> u64 {
    value
        .pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {value}"))
}

fn seqs(value: &Value, key: &str) -> Vec<u64> {
    value[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {value}"))
        .iter()
        .map(|v| v.as_u64().expect("a number"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventsource_resumes_after_a_cut_and_websocket_does_not() {
    let Some(chromium) = require(Peer::Chromium, "browser: ticker") else {
        return;
    };
    let base = start_demo().await;
    let result = run_page(&chromium, &format!("{base}/ticker?autotest=1")).await;
    assert_eq!(result["ok"], true, "{result:#}");

    // EventSource: one reconnection, by itself, and every price exactly once, in order.
    let sse = seqs(&result, "sse_seqs");
    assert!(sse.len() >= 6, "{sse:?}");
    assert!(
        sse.windows(2).all(|w| w[1] == w[0] + 1),
        "a gap or a repeat: {sse:?}"
    );
    assert_eq!(result["sse_opens"], 2, "{result:#}");
    assert!(u64_at(&result, "/sse_errors") >= 1);
    // It sent Last-Event-ID: the id of the last price it had, as the server recorded it.
    let reopened_after = seqs(&result, "sse_reopened_after");
    assert_eq!(reopened_after.len(), 1);
    let ids = &result["stats"]["transports"]["sse"]["last_event_ids"];
    assert_eq!(
        ids,
        &serde_json::json!([reopened_after[0].to_string()]),
        "{result:#}"
    );
    assert_eq!(u64_at(&result, "/stats/transports/sse/connections"), 2);

    // WebSocket: closed with 1006 (no Close frame: the connection vanished), and that is all.
    assert_eq!(result["ws_closes"], serde_json::json!([1006]), "{result:#}");
    assert_eq!(result["ws_opens"], 1);
    assert_eq!(result["ws_messages_after_close"], 0);
    let ws = seqs(&result, "ws_seqs");
    assert!(
        ws.len() >= 3 && ws.windows(2).all(|w| w[1] == w[0] + 1),
        "{ws:?}"
    );
    assert_eq!(u64_at(&result, "/stats/transports/ws/connections"), 1);

    // The counters moved: the page counted what it received, the server the bytes each way.
    assert_eq!(
        u64_at(&result, "/counters/sse.messages"),
        sse.len() as u64,
        "{result:#}"
    );
    for transport in ["sse", "ws"] {
        let read = u64_at(&result, &format!("/stats/transports/{transport}/read"));
        let written = u64_at(&result, &format!("/stats/transports/{transport}/written"));
        // At least a request head up, and the response head plus three prices down.
        assert!(
            read > 100 && written > 200,
            "{transport}: {read} up, {written} down"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_echoes_text_and_binary() {
    let Some(chromium) = require(Peer::Chromium, "browser: echo") else {
        return;
    };
    let base = start_demo().await;
    let result = run_page(&chromium, &format!("{base}/echo?autotest=1")).await;
    assert_eq!(result["ok"], true, "{result:#}");
    assert_eq!(result["text_ok"], true, "{result:#}");
    assert_eq!(result["binary_ok"], true, "{result:#}");
    assert!(result.get("text_mismatch").is_none() && result.get("binary_mismatch").is_none());
    assert_eq!(u64_at(&result, "/counters/ws.messages"), 2);
    assert_eq!(result["rtts"].as_array().map(Vec::len), Some(2));
    // The server read both messages (the 256-byte one alone is 264 bytes with its header
    // and masking key) and wrote both back (260 + the text's frame), after the handshake.
    let read = u64_at(&result, "/stats/transports/ws/read");
    let written = u64_at(&result, "/stats/transports/ws/written");
    assert!(read > 264 + 100, "{read}");
    assert!(written > 260 + 100, "{written}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_users_on_sse_plus_post_and_on_websocket_hear_each_other() {
    let Some(chromium) = require(Peer::Chromium, "browser: chat") else {
        return;
    };
    let base = start_demo().await;
    let result = run_page(&chromium, &format!("{base}/chat?autotest=1")).await;
    assert_eq!(result["ok"], true, "{result:#}");
    let sse_name = result["names"]["sse"].as_str().expect("name");
    let ws_name = result["names"]["ws"].as_str().expect("name");
    // One room: both users heard both messages, in the same order.
    let expected = serde_json::json!([
        format!("{sse_name}: up by POST"),
        format!("{ws_name}: up by WebSocket")
    ]);
    assert_eq!(result["heard"]["sse"], expected, "{result:#}");
    assert_eq!(result["heard"]["ws"], expected, "{result:#}");
    // The SSE user's message went up as one POST on a connection of its own; the WebSocket
    // user's as a frame on the connection it already had.
    assert_eq!(u64_at(&result, "/stats/transports/post/connections"), 1);
    assert_eq!(u64_at(&result, "/stats/transports/ws/connections"), 1);
    assert_eq!(u64_at(&result, "/stats/transports/sse/connections"), 1);
    // A POST is a whole request: a request head (with the browser's headers) and the body.
    assert!(
        u64_at(&result, "/stats/transports/post/read") > 200,
        "{result:#}"
    );
    assert!(
        u64_at(&result, "/stats/transports/post/written") > 50,
        "{result:#}"
    );
}

/// The chat's round trip timed by the page itself (`performance.now()`), one message at a
/// time: up as a POST and back on the event stream, against up and back on the WebSocket. The
/// test checks that every message came back and prints the figures (the claims ledger's claim
/// 13 quotes them); it asserts no timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_round_trips_timed_by_the_page() {
    let Some(chromium) = require(Peer::Chromium, "browser: chat round trips") else {
        return;
    };
    let base = start_demo().await;
    let n = 50;
    let result = run_page(&chromium, &format!("{base}/chat?measure=rtt&n={n}")).await;
    assert_eq!(result["ok"], true, "{result:#}");
    for (panel, way) in [
        ("sse", "POST up, event down"),
        ("ws", "WebSocket frame up, frame down"),
    ] {
        let mut times: Vec<f64> = result["rtt"][panel]
            .as_array()
            .unwrap_or_else(|| panic!("no round trips for {panel}: {result:#}"))
            .iter()
            .map(|t| t.as_f64().expect("a number"))
            .collect();
        assert_eq!(times.len(), n, "{panel}: every message came back");
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
        eprintln!(
            "figure: Chromium chat round trip, {way}: p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms ({n} messages)",
            pct(0.5),
            pct(0.9),
            pct(1.0)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_room_positions_survive_a_server_stop_and_204_ends_eventsource() {
    let Some(chromium) = require(Peer::Chromium, "browser: waiting room") else {
        return;
    };
    let base = start_demo().await;
    let result = run_page(&chromium, &format!("{base}/waiting-room?autotest=1")).await;
    assert_eq!(result["ok"], true, "{result:#}");
    // Four people ahead: every position from the first one seen down to 0, once each, although
    // the server was stopped for 1.5 s on the way.
    let positions = seqs(&result, "positions");
    let first = *positions.first().expect("positions");
    assert_eq!(
        positions,
        (0..=first).rev().collect::<Vec<_>>(),
        "{result:#}"
    );
    // Connections: the first; one after the stop, if the stop came before the turn; and the
    // last, which told the server that the turn was seen, answered with 204.
    let stopped_before_the_end = u64_at(&result, "/paused_at") > 0;
    let connections = u64_at(&result, "/stats/transports/sse/connections");
    assert!(
        connections >= 2 + u64::from(stopped_before_the_end),
        "{result:#}"
    );
    let ids = result["stats"]["transports"]["sse"]["last_event_ids"]
        .as_array()
        .expect("ids")
        .clone();
    assert!(!ids.is_empty(), "{result:#}");
    // The last reconnection said "I saw my turn" (the id of the your-turn event).
    let ticket = u64_at(&result, "/counters/sse.ticket");
    assert_eq!(
        ids.last(),
        Some(&Value::from(ticket.to_string())),
        "{result:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_and_text_arrive_whole_across_a_cut() {
    let Some(chromium) = require(Peer::Chromium, "browser: progress") else {
        return;
    };
    let base = start_demo().await;
    let result = run_page(&chromium, &format!("{base}/progress?autotest=1")).await;
    assert_eq!(result["ok"], true, "{result:#}");
    assert_eq!(
        seqs(&result, "steps"),
        (1..=20).collect::<Vec<_>>(),
        "{result:#}"
    );
    assert_eq!(
        result["text"],
        wirelab_examples::progress::TEXT,
        "{result:#}"
    );
    // The cut made the progress stream reconnect by itself.
    assert!(u64_at(&result, "/opens/progress") >= 2, "{result:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seat_pickers_see_each_other_and_the_first_pick_wins() {
    let Some(chromium) = require(Peer::Chromium, "browser: seats") else {
        return;
    };
    let base = start_demo().await;
    let result = run_page(&chromium, &format!("{base}/seats?autotest=1")).await;
    assert_eq!(result["ok"], true, "{result:#}");
    let (ana, bo) = (&result["ana"], &result["bo"]);
    for seats in [&result["ana_seats"], &result["bo_seats"]] {
        assert_eq!(&seats[3], ana, "{result:#}");
        assert_eq!(&seats[4], bo, "{result:#}");
    }
    assert_eq!(result["bo_refused"], serde_json::json!([3]));
}
