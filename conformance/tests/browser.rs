//! Real browsers run the demo: headless Chromium and Firefox ESR, Debian's packages, no
//! WebDriver.
//!
//! Each test serves `wirelab demo` on a loopback port, starts each browser in turn on one page
//! with `?autotest=1`, and waits for the page's script to run its scenario and log one line,
//! `RESULT {json}`, to the console. Chromium copies console lines to its standard error
//! (`--enable-logging=stderr`), Firefox to its standard output (the profile's
//! `devtools.console.stdout.content` preference). Then the test kills the browser and checks
//! the JSON; both engines must pass the same assertions. The page runs the browser's own
//! `EventSource` and `WebSocket`; the server's side of the story (the `Last-Event-ID` it
//! received, the bytes each connection carried) comes from the demo's `/stats`, which the
//! page includes in its result.
//!
//! One more page, `browser_pages/what-a-page-sends.html`, is served by a recording server in
//! this file instead of the demo: it tries every way the two constructors offer to send
//! something (a `headers` member, cookies, the query string, subprotocols), and the server
//! keeps each request head as it arrived. Beside it, Python's httpx-sse and `websockets`
//! send the same requests with headers of their own, which no page can.
//!
//! The HTTP/2 experiments, Chromium only, run their own server over TLS too: eight
//! `EventSource`s against the six-connection limit (`six_connections.html`), and a page whose
//! event streams and `wss://` WebSocket share one HTTP/2 connection
//! (`browser_pages/one-connection.html`, RFC 8441).
//!
//! Where a browser (or, for the Python test, the peers' Python) is missing, the test prints
//! `skipped: ...` for it and runs the rest, unless `WIRELAB_REQUIRE_PEERS=1` (CI), where a
//! missing peer fails the test.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;
use wirelab_conformance::{Peer, require, workspace_root};
use wirelab_examples::server::tls::{ALPN_H2_HTTP1, ALPN_HTTP1_ONLY, DevCert};
use wirelab_examples::server::{self, Conn, Server};

/// The hang guard of one browser run: loading, the scenario, and the result.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// Serves the demo on a fresh loopback port; returns its base URL.
async fn start_demo() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(wirelab::demo::serve(listener, Default::default()));
    format!("http://{addr}")
}

/// A browser engine the tests drive, headless, from its Debian package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Chromium,
    Firefox,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Chromium => "chromium",
            Engine::Firefox => "firefox",
        }
    }
}

/// An engine, and the program that runs it.
#[derive(Debug, Clone)]
struct Browser {
    engine: Engine,
    path: PathBuf,
}

/// The engines present here, Chromium first. Each missing one reports its skip (or, under
/// `WIRELAB_REQUIRE_PEERS=1`, fails the test).
fn browsers(test: &str) -> Vec<Browser> {
    [
        (Engine::Chromium, Peer::Chromium),
        (Engine::Firefox, Peer::Firefox),
    ]
    .into_iter()
    .filter_map(|(engine, peer)| {
        let path = require(peer, &format!("{test} in {}", engine.name()))?;
        Some(Browser { engine, path })
    })
    .collect()
}

/// Firefox's preferences for a test profile: console messages copied to standard output (the
/// `RESULT` line), and none of the background traffic to outside hosts (updates, telemetry,
/// safe browsing, captive-portal and connectivity checks, region lookup, remote settings).
/// Anything else that is not for loopback goes to a proxy on 127.0.0.1's discard port, which
/// refuses it, so that no request leaves the machine. The remote settings server can only be
/// changed with `MOZ_REMOTE_SETTINGS_DEVTOOLS=1` in the environment, which the test sets.
const FIREFOX_PREFS: &str = r#"user_pref("devtools.console.stdout.content", true);
user_pref("app.update.enabled", false);
user_pref("app.normandy.enabled", false);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.prefetch-next", false);
user_pref("services.settings.server", "http://127.0.0.1:9/");
user_pref("browser.region.update.enabled", false);
user_pref("browser.region.network.url", "");
user_pref("geo.provider.network.url", "");
user_pref("network.proxy.type", 1);
user_pref("network.proxy.http", "127.0.0.1");
user_pref("network.proxy.http_port", 9);
user_pref("network.proxy.ssl", "127.0.0.1");
user_pref("network.proxy.ssl_port", 9);
user_pref("network.proxy.no_proxies_on", "127.0.0.1, [::1], localhost");
user_pref("network.proxy.failover_direct", false);
user_pref("media.gmp-manager.updateEnabled", false);
"#;

/// Opens `url` in `browser` and returns the page's `RESULT` JSON, with the engine's name added
/// under `engine`, so that a failed assertion that prints the JSON says which engine it was.
async fn run_page(browser: &Browser, url: &str) -> Value {
    run_page_with(browser, url, &[]).await
}

/// Chromium alone, for the tests that depend on its flags or on what it alone is measured
/// doing; its skip is reported as for [`browsers`].
fn chromium(test: &str) -> Option<Browser> {
    let path = require(Peer::Chromium, test)?;
    Some(Browser {
        engine: Engine::Chromium,
        path,
    })
}

/// [`run_page`], with more command-line flags for Chromium (`flags` must be empty for
/// Firefox, whose settings live in its profile).
async fn run_page_with(browser: &Browser, url: &str, flags: &[String]) -> Value {
    assert!(
        flags.is_empty() || browser.engine == Engine::Chromium,
        "flags are Chromium's"
    );
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let name = browser.engine.name();
    let profile = std::env::temp_dir().join(format!(
        "wirelab-{name}-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).expect("profile dir");
    let mut command = Command::new(&browser.path);
    match browser.engine {
        Engine::Chromium => {
            command
                .args(wirelab_conformance::CHROMIUM_FLAGS)
                .arg(format!("--user-data-dir={}", profile.display()))
                .args(flags)
                // Chromium copies console lines to its standard error.
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
        }
        Engine::Firefox => {
            std::fs::write(profile.join("user.js"), FIREFOX_PREFS).expect("prefs");
            command
                .args(["--headless", "--no-remote", "--profile"])
                .arg(&profile)
                // Firefox writes under $HOME too: the profile's folder keeps that in the test.
                .env("HOME", &profile)
                .env("MOZ_REMOTE_SETTINGS_DEVTOOLS", "1")
                // With devtools.console.stdout.content, console lines go to standard output.
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
        }
    }
    let mut child = command
        .arg(url)
        .stdin(Stdio::null())
        // Its own process group, so that the browser's helper processes go with it.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    let pid = child.id();
    let console: Box<dyn tokio::io::AsyncRead + Unpin + Send> = match browser.engine {
        Engine::Chromium => Box::new(child.stderr.take().expect("piped stderr")),
        Engine::Firefox => Box::new(child.stdout.take().expect("piped stdout")),
    };
    let mut lines = BufReader::new(console).lines();
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
        // The whole group: the browser and its content, GPU and zygote helpers.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
    }
    let _ = child.kill().await;
    let _ = std::fs::remove_dir_all(&profile);
    let mut result: Value = match found {
        Ok(Some(json)) => serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("{name}: RESULT is not JSON ({e}): {json}")),
        Ok(None) => panic!(
            "{name} exited without a RESULT line; its output:\n{}",
            seen.join("\n")
        ),
        Err(_) => panic!(
            "no RESULT line from {name} within {BROWSER_TIMEOUT:?}; it said:\n{}",
            seen.join("\n")
        ),
    };
    if let Value::Object(fields) = &mut result {
        fields.insert("engine".into(), name.into());
    }
    result
}

/// The JSON of a console line: Chromium's `... "RESULT {json}", source: URL (line)`, or
/// Firefox's `console.log: "RESULT {json}"`, whose message is a quoted string with its
/// quotes escaped.
fn result_json(line: &str) -> Option<String> {
    if let Some(quoted) = line.strip_prefix("console.log: ") {
        let message: String = serde_json::from_str(quoted).ok()?;
        return message.strip_prefix("RESULT ").map(str::to_owned);
    }
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
    for browser in browsers("browser: ticker") {
        let base = start_demo().await;
        let result = run_page(&browser, &format!("{base}/ticker?autotest=1")).await;
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

        // The wire view: the page received its own connections' bytes, annotated as the tap
        // annotates them, both transports, both directions, and nothing of other connections.
        let wire: Vec<&str> = result["wire"]
            .as_array()
            .expect("wire lines")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for expected in [
            " sse C->S GET /ticker/sse?",
            " sse S->C HTTP/1.1 200 OK",
            " sse S->C   data: \"{\\\"seq\\\":",
            " ws C->S GET /ticker/ws?",
            " ws S->C HTTP/1.1 101 Switching Protocols",
            " ws S->C frame FIN - - - Text len=",
            " ws S->C   payload:  \"{\\\"seq\\\":",
        ] {
            assert!(
                wire.iter().any(|l| l.contains(expected)),
                "{}: no {expected:?} in the wire view:\n{}",
                browser.engine.name(),
                wire.join("\n")
            );
        }
        assert!(
            wire.iter()
                .all(|l| l.contains(" sse ") || l.contains(" ws ")),
            "a line of another connection: {wire:#?}"
        );
        // The plots: bytes per price for both transports, and the arrival of the same price.
        for plot in ["bytes", "arrival"] {
            for transport in ["sse", "ws"] {
                let points = result["plots"][plot][transport].as_array();
                assert!(
                    points.is_some_and(|p| !p.is_empty()),
                    "{plot} {transport}: {:#}",
                    result["plots"]
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_echoes_text_and_binary() {
    for browser in browsers("browser: echo") {
        let base = start_demo().await;
        let result = run_page(&browser, &format!("{base}/echo?autotest=1")).await;
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
}

/// The echo page through `wirelab tap`, which records the handshake: Chromium offers
/// permessage-deflate, the demo's echo accepts it, and the messages round-trip compressed.
// req: pmd/5/agreed pmd/5/accept-name
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_echo_negotiates_permessage_deflate() {
    let Some(chromium) = chromium("browser: echo with permessage-deflate") else {
        return;
    };
    let base = start_demo().await;
    let upstream = base
        .trim_start_matches("http://")
        .parse()
        .expect("host:port");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tapped = listener.local_addr().unwrap();
    let (out, mut lines) = tokio::sync::mpsc::channel(1024);
    let options = wirelab::tap::TapOptions::default();
    tokio::spawn(wirelab::tap::run(listener, upstream, options, out));
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = heads.clone();
    tokio::spawn(async move {
        while let Some(line) = lines.recv().await {
            if line
                .to_ascii_lowercase()
                .contains("sec-websocket-extensions")
            {
                record.lock().unwrap().push(line);
            }
        }
    });
    let result = run_page(&chromium, &format!("http://{tapped}/echo?autotest=1")).await;
    assert_eq!(result["ok"], true, "{result:#}");
    assert_eq!(result["text_ok"], true, "{result:#}");
    assert_eq!(result["binary_ok"], true, "{result:#}");
    let answer = result["extensions"].as_str().unwrap_or_default();
    assert!(answer.starts_with("permessage-deflate"), "{result:#}");
    // The offer (C->S) and the answer (S->C), as the tap printed them.
    let heads = heads.lock().unwrap().clone();
    let _ = writeln!(std::io::stderr(), "recorded: {heads:#?}");
    let offer = heads.iter().find(|l| l.contains("C->S")).expect("an offer");
    let accepted = heads
        .iter()
        .find(|l| l.contains("S->C"))
        .expect("an answer");
    assert!(offer.contains("permessage-deflate"), "{offer}");
    assert!(accepted.contains(answer), "{accepted} vs {answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_users_on_sse_plus_post_and_on_websocket_hear_each_other() {
    for browser in browsers("browser: chat") {
        let base = start_demo().await;
        let result = run_page(&browser, &format!("{base}/chat?autotest=1")).await;
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
}

/// The chat's round trip timed by the page itself (`performance.now()`), one message at a
/// time: up as a POST and back on the event stream, against up and back on the WebSocket. The
/// test checks that every message came back and prints the figures (the claims ledger's claim
/// 13 quotes them); it asserts no timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_round_trips_timed_by_the_page() {
    let Some(chromium) = chromium("browser: chat round trips") else {
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
    for browser in browsers("browser: waiting room") {
        let base = start_demo().await;
        let result = run_page(&browser, &format!("{base}/waiting-room?autotest=1")).await;
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_and_text_arrive_whole_across_a_cut() {
    for browser in browsers("browser: progress") {
        let base = start_demo().await;
        let result = run_page(&browser, &format!("{base}/progress?autotest=1")).await;
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seat_pickers_see_each_other_and_the_first_pick_wins() {
    for browser in browsers("browser: seats") {
        let base = start_demo().await;
        let result = run_page(&browser, &format!("{base}/seats?autotest=1")).await;
        assert_eq!(result["ok"], true, "{result:#}");
        let (ana, bo) = (&result["ana"], &result["bo"]);
        for seats in [&result["ana_seats"], &result["bo_seats"]] {
            assert_eq!(&seats[3], ana, "{result:#}");
            assert_eq!(&seats[4], bo, "{result:#}");
        }
        assert_eq!(result["bo_refused"], serde_json::json!([3]));
    }
}

/// One request head as the recording server received it: the request target and every
/// header line, names lower-cased.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The page that tries every way its constructors offer to send something.
const WHAT_A_PAGE_SENDS: &str = include_str!("browser_pages/what-a-page-sends.html");

/// What the recording server saw: every request head, and every WebSocket Close received.
#[derive(Debug, Default)]
struct Recorded {
    heads: Vec<Seen>,
    closes: Vec<websocket::CloseFrame>,
}

/// The recording server's log, shared with its connections.
type Log = std::sync::Arc<std::sync::Mutex<Recorded>>;

/// The subprotocol the recording server picks when a client offers it.
const SUBPROTOCOL: &str = "wirelab.v1";

/// A test-only HTTP/1.1 server that records every request head it receives, on a fresh
/// loopback port. It serves the page at `/page` with an HttpOnly cookie, one event at
/// `/events` (then holds the stream open until the client leaves), and a WebSocket at `/ws`
/// that picks [`SUBPROTOCOL`], sends `welcome` and answers the client's Close.
async fn start_recorder() -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let seen = Log::default();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                // Every connection ends within the hang guard, whatever the client does.
                let _ = tokio::time::timeout(BROWSER_TIMEOUT, record_one(stream, log)).await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// Reads one request head, records it, and answers it.
async fn record_one(mut stream: tokio::net::TcpStream, log: Log) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use websocket::handshake::{ServerHandshake, ServerOptions, check_request};

    let limits = websocket::Limits::default();
    let mut head = ServerHandshake::new(&limits);
    let mut buf = vec![0u8; 4096];
    let (request, leftover) = loop {
        let Ok(n @ 1..) = stream.read(&mut buf).await else {
            return;
        };
        match head.receive(&buf[..n]) {
            Ok(Some(done)) => break done,
            Ok(None) => {}
            Err(_) => return,
        }
    };
    let headers = request
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.to_ascii_lowercase(),
                String::from_utf8_lossy(value).into_owned(),
            )
        })
        .collect();
    log.lock().expect("log").heads.push(Seen {
        path: request.path.clone(),
        headers,
    });
    let route = request.path.split('?').next().unwrap_or_default();
    match route {
        "/page" => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Set-Cookie: wl_server=from-server; Path=/; HttpOnly; SameSite=Strict\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                WHAT_A_PAGE_SENDS.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(WHAT_A_PAGE_SENDS.as_bytes()).await;
        }
        "/events" => {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                      Cache-Control: no-store\r\nConnection: close\r\n\r\ndata: hello\n\n",
                )
                .await;
            // The body ends when the connection does: wait for the client to close it.
            while let Ok(1..) = stream.read(&mut buf).await {}
        }
        "/ws" => {
            let options = ServerOptions {
                select_subprotocol: Some(std::sync::Arc::new(|offered: &[&str]| {
                    offered
                        .contains(&SUBPROTOCOL)
                        .then(|| SUBPROTOCOL.to_owned())
                })),
                ..ServerOptions::default()
            };
            let Ok(accepted) = check_request(&request, &options) else {
                let _ = stream
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    .await;
                return;
            };
            if stream.write_all(&accepted.response_bytes()).await.is_err() {
                return;
            }
            let mut ws = websocket::io::WebSocket::from_stream(
                stream,
                websocket::Role::Server,
                options.config,
                &leftover,
                accepted.subprotocol,
            );
            if ws
                .send(websocket::Message::Text("welcome".into()))
                .await
                .is_ok()
            {
                // Reading on answers the client's Close (the crate queues the reply).
                while let Ok(Some(message)) = ws.recv().await {
                    if let websocket::Message::Close(Some(close)) = message {
                        log.lock().expect("log").closes.push(close);
                    }
                }
            }
        }
        _ => {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
        }
    }
}

/// The requests whose target starts with `prefix`.
fn requests_to(seen: &[Seen], prefix: &str) -> Vec<Seen> {
    seen.iter()
        .filter(|s| s.path.starts_with(prefix))
        .cloned()
        .collect()
}

/// Every header a browser may put on these requests by itself: Fetch's forbidden request
/// headers (a page cannot set them even with `fetch`), the `Sec-` and `Proxy-` families, and
/// those the HTML and WebSockets standards or the browser add (`Accept`, `Cache-Control`,
/// `Pragma`, `User-Agent`, `Accept-Language`, `Last-Event-ID`).
fn set_by_the_browser(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "connection",
        "content-length",
        "cookie",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
        "accept",
        "accept-language",
        "cache-control",
        "pragma",
        "user-agent",
        "last-event-id",
        // RFC 9218's request priority, which Firefox sends on every request.
        "priority",
    ];
    NAMES.contains(&name) || name.starts_with("sec-") || name.starts_with("proxy-")
}

/// Prints a request head the way it arrived, for the book's listing.
fn print_head(what: &str, seen: &Seen) {
    let mut out = format!("{what}: GET {}\n", seen.path);
    for (name, value) in &seen.headers {
        out.push_str(&format!("    {name}: {value}\n"));
    }
    eprint!("{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_page_can_send_cookies_and_the_query_but_no_header() {
    for browser in browsers("browser: what a page can send") {
        let (base, seen) = start_recorder().await;
        let result = run_page(&browser, &format!("{base}/page")).await;
        assert_eq!(result["ok"], true, "{result:#}");
        let (seen, closes) = {
            let log = seen.lock().expect("log");
            (log.heads.clone(), log.closes.clone())
        };
        let version = seen
            .iter()
            .find_map(|s| s.header("user-agent"))
            .unwrap_or_default()
            .to_owned();
        eprintln!("{} user agent: {version}", browser.engine.name());

        // The page: the script sees its own cookie, never the HttpOnly one.
        assert_eq!(result["cookies_seen_by_script"], "wl_script=from-script");

        // EventSource: both requests carry the token in the query and both cookies; neither
        // carries the `headers` member the page passed, nor any header the page chose.
        let streams = requests_to(&seen, "/events");
        assert_eq!(streams.len(), 2, "{streams:#?}");
        assert_eq!(result["events"], serde_json::json!(["hello", "hello"]));
        assert_eq!(result["with_credentials"], serde_json::json!([false, true]));
        assert_eq!(result["eventsource_states"], serde_json::json!([1, 1]));
        assert_eq!(
            result["eventsource_states_after_close"],
            serde_json::json!([2, 2])
        );
        // The WebSocket: the object in place of the subprotocols was refused before any request;
        // the real one offered both subprotocols and got the first.
        assert_eq!(result["headers_option_error"], "SyntaxError", "{result:#}");
        let sockets = requests_to(&seen, "/ws");
        assert_eq!(sockets.len(), 1, "{sockets:#?}");
        let socket = &sockets[0];
        assert_eq!(
            socket.header("sec-websocket-protocol"),
            Some("wirelab.v1, wirelab.v2")
        );
        assert_eq!(result["protocol"], SUBPROTOCOL);
        assert_eq!(result["extensions"], "", "no extension was accepted");
        assert_eq!(socket.header("origin"), Some(base.as_str()));
        assert_eq!(result["welcome"], "welcome");
        assert_eq!(result["close_1001_error"], "InvalidAccessError");
        // The page's Close reached the server with its reason. The close event reports the
        // server's Close, which echoed the code and sent no reason.
        assert_eq!(
            closes
                .iter()
                .map(|c| (c.code, c.reason.as_str()))
                .collect::<Vec<_>>(),
            [(4000, "done here")]
        );
        assert_eq!(
            result["close"],
            serde_json::json!({"code": 4000, "reason": "", "wasClean": true})
        );

        for (what, request) in streams
            .iter()
            .map(|s| ("EventSource", s))
            .chain([("WebSocket", socket)])
        {
            print_head(what, request);
            assert!(request.path.contains("token=t0ken"), "{request:?}");
            let cookie = request.header("cookie").unwrap_or_default();
            assert!(
                cookie.contains("wl_server=from-server")
                    && cookie.contains("wl_script=from-script"),
                "{what}: cookies {cookie:?}"
            );
            for (name, value) in &request.headers {
                assert!(
                    set_by_the_browser(name),
                    "{what}: the page set {name}: {value}"
                );
                assert!(!value.contains("Bearer"), "{what}: {name}: {value}");
            }
        }
    }
}

/// Connects with httpx-sse and with `websockets`, each sending an `Authorization` header and
/// a header of its own; prints what each received.
const PYTHON_WITH_HEADERS: &str = r#"
import sys
import httpx
from httpx_sse import connect_sse
from websockets.sync.client import connect
base = sys.argv[1]
headers = {"Authorization": "Bearer t0ken", "X-WireLab-Client": "python"}
with httpx.Client(timeout=10) as client:
    # A copy: connect_sse adds its Accept and Cache-Control to the dict it is given.
    with connect_sse(client, "GET", base + "/events", headers=dict(headers)) as source:
        print(next(source.iter_sse()).data)
ws_url = base.replace("http://", "ws://") + "/ws"
with connect(ws_url, additional_headers=headers, subprotocols=["wirelab.v1"]) as ws:
    print(ws.recv(timeout=10))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_outside_a_browser_send_any_header() {
    let Some(python) = require(Peer::Python, "browser: clients outside a browser") else {
        return;
    };
    let (base, seen) = start_recorder().await;
    let output = tokio::time::timeout(
        BROWSER_TIMEOUT,
        Command::new(python)
            .args(["-c", PYTHON_WITH_HEADERS, &base])
            .output(),
    )
    .await
    .expect("python within the guard")
    .expect("python runs");
    assert!(
        output.status.success(),
        "python: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hello\nwelcome\n");
    let seen = seen.lock().expect("log").heads.clone();
    let streams = requests_to(&seen, "/events");
    let sockets = requests_to(&seen, "/ws");
    assert_eq!((streams.len(), sockets.len()), (1, 1), "{seen:#?}");
    for (what, request) in [("httpx-sse", &streams[0]), ("websockets", &sockets[0])] {
        print_head(what, request);
        assert_eq!(
            request.header("authorization"),
            Some("Bearer t0ken"),
            "{what}"
        );
        assert_eq!(request.header("x-wirelab-client"), Some("python"), "{what}");
    }
    assert_eq!(
        sockets[0].header("sec-websocket-protocol"),
        Some(SUBPROTOCOL)
    );
}

/// Events, then nothing: an event stream that stays open.
struct ThenWait(Option<sse::Event>);

impl futures_core::Stream for ThenWait {
    type Item = sse::Event;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<sse::Event>> {
        match self.0.take() {
            Some(event) => std::task::Poll::Ready(Some(event)),
            None => std::task::Poll::Pending,
        }
    }
}

/// The experiments' server, over TLS offering `alpn`: `page` at `/`, event streams at `/es/N`,
/// a WebSocket echo at `/ws`, `/ping`, `/records`, the server's own record of its
/// connections, and `/requests`, every request it received with the connection that carried
/// it (`:protocol` is RFC 8441's pseudo-header, present on an extended CONNECT).
async fn start_experiment(dev: &DevCert, alpn: &[&[u8]], page: &'static str) -> String {
    let server = Server::new();
    server.use_tls(dev.identity.acceptor(alpn).expect("acceptor"));
    let records = server.clone();
    let log = Arc::new(Mutex::new(Vec::new()));
    let handler = server::handler(move |mut request: server::Request, conn: Conn| {
        let records = records.clone();
        let log = log.clone();
        async move {
            let protocol = request.extensions().get::<hyper::ext::Protocol>();
            log.lock().expect("log").push(serde_json::json!({
                "conn": conn.id(),
                "method": request.method().as_str(),
                "protocol": protocol.map(|p| p.as_str().to_owned()),
                "path": request.uri().path(),
                "http": format!("{:?}", request.version()),
            }));
            let path = request.uri().path().to_owned();
            if path == "/" {
                return server::full(http::StatusCode::OK, "text/html; charset=utf-8", page);
            }
            if path.starts_with("/es/") {
                let event = sse::Event::new().data(path);
                return server::sse(&conn, ThenWait(Some(event)), None);
            }
            if path == "/ws" {
                return server::websocket(&mut request, &conn, |ws, _conn| async move {
                    let _ = wirelab::echo::echo(ws).await;
                });
            }
            if path == "/requests" {
                let requests = Value::from(log.lock().expect("log").clone());
                return server::json(http::StatusCode::OK, &requests);
            }
            if path == "/records" {
                let conns: Vec<Value> = records
                    .connections()
                    .iter()
                    .filter(|c| c.requests > 0)
                    .map(|c| {
                        let protocol = c.protocol.as_ref();
                        serde_json::json!({
                            "id": c.id,
                            "http": protocol.map(|p| format!("{:?}", p.version)),
                            "alpn": protocol.and_then(|p| p.alpn.clone()),
                            "requests": c.requests,
                        })
                    })
                    .collect();
                return server::json(http::StatusCode::OK, &Value::from(conns));
            }
            server::full(http::StatusCode::OK, "text/plain", "pong")
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(server::serve(listener, server, handler));
    format!("https://{addr}/")
}

const SIX_CONNECTIONS: &str = include_str!("six_connections.html");

// ANCHOR: six_connections
/// Issue 11's experiment: eight `EventSource`s to one origin, then a `fetch`. Over HTTP/1.1
/// (TLS, ALPN `http/1.1`) Chromium opens six connections and no more: the seventh and eighth
/// streams and the fetch wait until an `EventSource` closes. Over HTTP/2 (TLS, ALPN `h2`) all
/// eight open at once and the fetch does not wait, all on one TCP connection, as the server's
/// own record shows. The measured times go to `target/experiments/six-connections.json`:
/// `cargo test -p wirelab-conformance --test browser eight_eventsources`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_eventsources_over_http1_and_over_http2() {
    let Some(chromium) = chromium("browser: six connections") else {
        return;
    };
    let dev = DevCert::generate().expect("certificate");
    // This certificate's key, and no other, is accepted: the test is about the protocols.
    let trust = vec![format!(
        "--ignore-certificate-errors-spki-list={}",
        dev.spki_sha256
    )];
    let http1 = run_page_with(
        &chromium,
        &start_experiment(&dev, ALPN_HTTP1_ONLY, SIX_CONNECTIONS).await,
        &trust,
    )
    .await;
    let http2 = run_page_with(
        &chromium,
        &start_experiment(&dev, ALPN_H2_HTTP1, SIX_CONNECTIONS).await,
        &trust,
    )
    .await;
    let dir = workspace_root().join("target/experiments");
    std::fs::create_dir_all(&dir).expect("target/experiments");
    let measured = serde_json::json!({ "http1": http1, "http2": http2 });
    std::fs::write(dir.join("six-connections.json"), format!("{measured:#}\n"))
        .expect("write the figures");

    // HTTP/1.1: six streams, and the fetch waits behind them.
    assert_eq!(http1["openBeforeFetch"], 6, "{http1:#}");
    assert_eq!(http1["fetchWaited"], true, "{http1:#}");
    let all_opened = |result: &Value| {
        result["opened"]
            .as_array()
            .is_some_and(|o| o.iter().all(Value::is_u64))
    };
    assert!(all_opened(&http1), "{http1:#}");
    let records = http1["records"].as_array().expect("records");
    assert!(records.iter().all(|r| r["http"] == "HTTP/1.1"), "{http1:#}");
    assert!(records.len() >= 7, "{http1:#}");
    // HTTP/2: eight streams and the fetch at once, on one connection.
    assert_eq!(http2["openBeforeFetch"], 8, "{http2:#}");
    assert_eq!(http2["fetchWaited"], false, "{http2:#}");
    assert!(all_opened(&http2), "{http2:#}");
    let records = http2["records"].as_array().expect("records");
    assert_eq!(records.len(), 1, "{http2:#}");
    assert_eq!(records[0]["http"], "HTTP/2.0", "{http2:#}");
    assert_eq!(records[0]["alpn"], "h2", "{http2:#}");
    // The page, eight streams, the fetch and `/records` itself, at least.
    assert!(u64_at(&records[0], "/requests") >= 11, "{http2:#}");
}
// ANCHOR_END: six_connections

/// A screenshot of the ticker page with its wire view, after six seconds of traffic, taken by
/// headless Chromium into `target/experiments/demo-wire-view.png`;
/// `WIRELAB_BLESS=1` also copies it to the book (`book/src/images/demo-wire-view.png`). The
/// test checks that Chromium wrote a picture; what it shows is for a reader to judge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_wire_view_in_a_screenshot() {
    let Some(chromium) = chromium("browser: the wire view's screenshot") else {
        return;
    };
    let base = start_demo().await;
    let dir = workspace_root().join("target/experiments");
    std::fs::create_dir_all(&dir).expect("target/experiments");
    let png = dir.join("demo-wire-view.png");
    let _ = std::fs::remove_file(&png);
    let profile = std::env::temp_dir().join(format!("wirelab-shot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let status = Command::new(&chromium.path)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,1900",
            // With `?hold=1` the page never finishes loading: the timeout stops it and the
            // picture is taken then.
            "--timeout=6000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("{base}/ticker?hold=1"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .status();
    let status = tokio::time::timeout(Duration::from_secs(60), status)
        .await
        .expect("Chromium took a screenshot within a minute")
        .expect("run Chromium");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(status.success(), "{status}");
    let bytes = std::fs::read(&png).expect("the screenshot");
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
    if std::env::var_os("WIRELAB_BLESS").is_some() {
        let book = workspace_root().join("book/src/images/demo-wire-view.png");
        std::fs::create_dir_all(book.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&book, &bytes).expect("copy to the book");
    }
}
// ANCHOR: one_connection
/// Issue 11's RFC 8441 experiment: a page on `https://` opens three `EventSource`s, then a
/// `wss://` WebSocket that echoes, all to its own origin, over TLS with ALPN `h2`. Chromium
/// opens the WebSocket as an extended CONNECT on the HTTP/2 connection it already has,
/// because the server's SETTINGS carry `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`: the server's
/// own records show one TCP connection carrying the page, the three streams, the WebSocket
/// and the page's fetches. The result goes to `target/experiments/rfc8441.json`:
/// `cargo test -p wirelab-conformance --test browser one_http2_connection`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventsources_and_a_websocket_share_one_http2_connection() {
    let Some(chromium) = chromium("browser: RFC 8441") else {
        return;
    };
    let dev = DevCert::generate().expect("certificate");
    let trust = vec![format!(
        "--ignore-certificate-errors-spki-list={}",
        dev.spki_sha256
    )];
    let page = include_str!("browser_pages/one-connection.html");
    let url = start_experiment(&dev, ALPN_H2_HTTP1, page).await;
    let result = run_page_with(&chromium, &url, &trust).await;
    let dir = workspace_root().join("target/experiments");
    std::fs::create_dir_all(&dir).expect("target/experiments");
    std::fs::write(dir.join("rfc8441.json"), format!("{result:#}\n")).expect("write the figures");

    assert_eq!(result["pageProtocol"], "h2", "{result:#}");
    assert_eq!(result["wsError"], Value::Null, "{result:#}");
    assert_eq!(result["echoed"], result["sent"], "{result:#}");
    // One TCP connection, HTTP/2 by ALPN, has carried every request so far.
    let records = result["records"].as_array().expect("records");
    assert_eq!(records.len(), 1, "{result:#}");
    assert_eq!(records[0]["http"], "HTTP/2.0", "{result:#}");
    assert_eq!(records[0]["alpn"], "h2", "{result:#}");
    let requests = result["requests"].as_array().expect("requests");
    assert!(
        requests.iter().all(|r| r["conn"] == records[0]["id"]),
        "{result:#}"
    );
    let count = |method: &str, path: &str| {
        (requests.iter())
            .filter(|r| {
                r["method"] == method && r["path"].as_str().is_some_and(|p| p.starts_with(path))
            })
            .count()
    };
    assert_eq!(count("GET", "/es/"), 3, "{result:#}");
    // The WebSocket: an extended CONNECT (RFC 8441 §4), not a GET with Upgrade.
    let sockets: Vec<&Value> = requests.iter().filter(|r| r["path"] == "/ws").collect();
    assert_eq!(sockets.len(), 1, "{result:#}");
    assert_eq!(sockets[0]["method"], "CONNECT", "{result:#}");
    assert_eq!(sockets[0]["protocol"], "websocket", "{result:#}");
    assert_eq!(sockets[0]["http"], "HTTP/2.0", "{result:#}");
}
// ANCHOR_END: one_connection
