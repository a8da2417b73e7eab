//! `wirelab check` against WireLab's own implementations (every case passes), against
//! deliberately broken ones (cases fail, and the exit status says so), and against
//! implementations from outside the workspace: Python's `websockets` and a JavaScript parser
//! (`conformance/peers/`), found the conformance suite's way (skipped when missing, unless
//! `WIRELAB_REQUIRE_PEERS=1`).
//!
//! Run: `cargo test -p wirelab --test check`

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;
use wirelab_conformance::{Peer, require, workspace_root};

const WIRELAB: &str = env!("CARGO_BIN_EXE_wirelab");

/// What one `wirelab check` run printed, and how it exited.
struct Run {
    stdout: String,
    success: bool,
}

impl Run {
    /// The names of the cases that failed.
    fn failed(&self) -> Vec<&str> {
        (self.stdout.lines())
            .filter_map(|l| l.strip_prefix("FAIL  "))
            .map(|l| l.split("  [").next().unwrap_or(l))
            .collect()
    }

    /// `(passed, total)` from the summary line.
    fn summary(&self) -> (usize, usize) {
        let last = self.stdout.lines().last().unwrap_or_default();
        let words: Vec<&str> = last.split(' ').collect();
        assert!(
            last.ends_with("cases passed"),
            "a summary line: {}",
            self.stdout
        );
        (words[0].parse().unwrap(), words[2].parse().unwrap())
    }

    /// Every case passed, the summary says so, and the exit status is 0.
    fn assert_all_passed(&self, at_least: usize) {
        let (passed, total) = self.summary();
        assert!(self.failed().is_empty(), "{}", self.stdout);
        assert_eq!(passed, total, "{}", self.stdout);
        assert!(total >= at_least, "{total} cases: {}", self.stdout);
        assert!(self.success, "exit status 0 when all pass");
    }

    /// Some cases failed, counted right, and the exit status is not 0.
    fn assert_failed(&self) {
        let (passed, total) = self.summary();
        assert!(!self.failed().is_empty(), "{}", self.stdout);
        assert_eq!(total - passed, self.failed().len(), "{}", self.stdout);
        assert!(!self.success, "a failure makes the exit status non-zero");
    }
}

/// Runs `wirelab check ARGS`, bounded.
async fn check(args: &[&str]) -> Run {
    let run = Command::new(WIRELAB)
        .arg("check")
        .args(args)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("wirelab check finished in time")
        .expect("wirelab runs");
    Run {
        stdout: String::from_utf8(output.stdout).expect("UTF-8"),
        success: output.status.success(),
    }
}

fn peer_file(name: &str) -> PathBuf {
    workspace_root().join("conformance/peers").join(name)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

// --- sse-parser ---

#[tokio::test]
async fn sse_parser_wirelab_passes_every_vector() {
    let vectors = wirelab_conformance::sse_vectors::vectors().unwrap();
    let run = check(&["sse-parser", "--", WIRELAB, "sse", "parse"]).await;
    run.assert_all_passed(vectors.len());
    // One line per vector, each naming its source.
    for vector in &vectors {
        assert!(
            run.stdout
                .contains(&format!("PASS  {}  [{}]", vector.name, vector.source))
        );
    }
}

#[tokio::test]
async fn sse_parser_that_ignores_cr_fails_the_cr_cases_only() {
    // Deleting every CR before WireLab's parser sees the stream: CRLF still ends lines, a
    // lone CR no longer does.
    let broken = format!("tr -d '\\r' | {WIRELAB} sse parse");
    let run = check(&["sse-parser", "--", "sh", "-c", &broken]).await;
    run.assert_failed();
    let vectors = wirelab_conformance::sse_vectors::vectors().unwrap();
    for name in run.failed() {
        let vector = vectors.iter().find(|v| v.name == name).unwrap();
        assert!(vector.input.contains(&b'\r'), "{name} has a CR");
    }
}

#[tokio::test]
async fn sse_parser_that_hangs_is_killed_at_the_timeout() {
    let run = check(&["--timeout", "0.3", "sse-parser", "--", "sleep", "10"]).await;
    run.assert_failed();
    assert!(
        run.stdout.contains("still running after 300 ms: killed"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn sse_parser_in_javascript() {
    let Some(node) = require(Peer::Node, "sse_parser_in_javascript") else {
        return;
    };
    let script = peer_file("sse_parser.js");
    let run = check(&["sse-parser", "--", path(&node), path(&script)]).await;
    run.assert_all_passed(60);
    let broken = check(&[
        "sse-parser",
        "--",
        path(&node),
        path(&script),
        "--ignore-cr",
    ])
    .await;
    broken.assert_failed();
}

// --- ws-server ---

/// `wirelab echo`'s server on a loopback port, for as long as the test runs.
async fn wirelab_echo() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(wirelab::echo::serve_with(
        listener,
        wirelab::echo::options(),
    ));
    format!("ws://{addr}/")
}

#[tokio::test]
async fn ws_server_wirelab_echo_passes() {
    let url = wirelab_echo().await;
    check(&["ws-server", &url]).await.assert_all_passed(20);
}

/// A server that answers the opening handshake right and then sends every byte back as it
/// came: it checks no frame rule, and echoes masked frames.
async fn mirror() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let limits = websocket::Limits::default();
                let mut handshake = websocket::handshake::ServerHandshake::new(&limits);
                let mut buf = vec![0; 4096];
                let (request, leftover) = loop {
                    let n = tcp.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    if let Ok(Some(done)) = handshake.receive(&buf[..n]) {
                        break done;
                    }
                };
                let options = websocket::handshake::ServerOptions::default();
                let answer = match websocket::handshake::check_request(&request, &options) {
                    Ok(accepted) => accepted.response_bytes(),
                    Err(e) => websocket::handshake::reject_response(&e),
                };
                let _ = tcp.write_all(&answer).await;
                let _ = tcp.write_all(&leftover).await;
                let (mut read, mut write) = tcp.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    format!("ws://{addr}/")
}

#[tokio::test]
async fn ws_server_mirror_fails_the_frame_rules() {
    let url = mirror().await;
    let run = check(&["--timeout", "1", "ws-server", &url]).await;
    run.assert_failed();
    let failed = run.failed();
    // The handshake is WireLab's, and passes; what comes after it does not.
    assert!(
        !failed.iter().any(|n| n.contains("handshake")),
        "{}",
        run.stdout
    );
    assert!(failed.contains(&"an unmasked client frame fails the connection with 1002"));
    assert!(failed.contains(&"a Text message is echoed, in unmasked frames"));
}

#[tokio::test]
async fn ws_server_refuses_a_url_off_this_machine() {
    let run = Command::new(WIRELAB)
        .args(["check", "ws-server", "ws://192.0.2.1:9/"])
        .output()
        .await
        .unwrap();
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
}

/// Starts `conformance/peers/ws_echo_server.py` and returns its URL; the server stops when
/// its stdin (held in the returned child) closes.
async fn python_echo(python: &Path) -> (tokio::process::Child, String) {
    let mut child = Command::new(python)
        .arg(peer_file("ws_echo_server.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the port in time")
        .unwrap()
        .expect("a port line");
    (child, format!("ws://127.0.0.1:{}/", port.trim()))
}

#[tokio::test]
async fn ws_server_python_websockets() {
    let Some(python) = require(Peer::Python, "ws_server_python_websockets") else {
        return;
    };
    let (_server, url) = python_echo(&python).await;
    let run = check(&["ws-server", &url]).await;
    // websockets 17 answers a wrong version with 400 and no Sec-WebSocket-Version header
    // (RFC 6455 §4.2.2 asks for the header); every other case passes.
    assert_eq!(
        run.failed(),
        ["Sec-WebSocket-Version: 8 is refused (426) with Sec-WebSocket-Version: 13"],
        "{}",
        run.stdout
    );
    assert!(!run.success);
}

// --- ws-client ---

#[tokio::test]
async fn ws_client_wirelab_ws_echo_passes() {
    check(&["ws-client", "--", WIRELAB, "ws", "--echo"])
        .await
        .assert_all_passed(10);
}

#[tokio::test]
async fn ws_client_that_does_not_echo_fails_the_echo_cases() {
    // `wirelab ws` without --echo sends stdin's lines (none: stdin is closed) and closes.
    let run = check(&["--timeout", "1", "ws-client", "--", WIRELAB, "ws"]).await;
    run.assert_failed();
    assert!(
        run.failed()
            .contains(&"a Text message is echoed, in masked frames"),
        "{}",
        run.stdout
    );
    // What it does do right still passes.
    assert!(
        run.stdout
            .contains("PASS  the request's Sec-WebSocket-Key is 16 bytes in base64")
    );
}

#[tokio::test]
async fn ws_client_that_never_connects_is_an_error() {
    let output = Command::new(WIRELAB)
        .args([
            "check",
            "--timeout",
            "0.5",
            "ws-client",
            "--",
            "sleep",
            "10",
        ])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("did not connect within 500 ms"), "{stderr}");
}

#[tokio::test]
async fn ws_client_python_websockets() {
    let Some(python) = require(Peer::Python, "ws_client_python_websockets") else {
        return;
    };
    let script = peer_file("ws_echo_client.py");
    check(&["ws-client", "--", path(&python), path(&script)])
        .await
        .assert_all_passed(10);
}

// --- sse-client ---

#[tokio::test]
async fn sse_client_wirelab_sse_passes() {
    let run = check(&["sse-client", "--", WIRELAB, "sse"]).await;
    run.assert_all_passed(7);
    // The delay is reported, not asserted tightly.
    assert!(run.stdout.contains("reconnected after "), "{}", run.stdout);
}

#[tokio::test]
async fn sse_client_that_stops_after_one_event_fails_the_reconnection_cases() {
    let run = check(&[
        "--timeout",
        "1",
        "sse-client",
        "--",
        WIRELAB,
        "sse",
        "--max-events",
        "1",
    ])
    .await;
    run.assert_failed();
    let failed = run.failed();
    assert!(
        failed.contains(&"the client reconnects when the stream ends"),
        "{}",
        run.stdout
    );
    assert!(
        failed.contains(&"the reconnection sends Last-Event-ID: 2"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("PASS  the request is a GET with Accept: text/event-stream")
    );
}

// --- the rules named ---

#[test]
fn every_rule_the_suites_name_is_in_the_catalogues() {
    let root = workspace_root();
    let mut catalogue = String::new();
    for file in ["rfc6455.txt", "html-sse.txt"] {
        let path = root.join("conformance/requirements").join(file);
        catalogue.push_str(&std::fs::read_to_string(path).unwrap());
    }
    let listed = |id: &str| catalogue.lines().any(|l| l.starts_with(&format!("{id} |")));
    let mut named = 0;
    for entry in std::fs::read_dir(root.join("crates/wirelab/src/check")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        // Rule IDs appear in the source as string literals: "ws/5.2/rsv", "sse/9.2.4/...".
        for piece in text.split('"').skip(1).step_by(2) {
            let is_id = (piece.starts_with("ws/") || piece.starts_with("sse/9"))
                && piece.split('/').count() == 3
                && !piece.contains(' ');
            if is_id {
                assert!(listed(piece), "{piece} is not in conformance/requirements");
                named += 1;
            }
        }
    }
    assert!(named >= 30, "{named} rule IDs found");
}

#[tokio::test]
async fn sse_client_that_misreads_events_fails_the_events_case_only() {
    // `wirelab sse`, its output rewritten: every event type "tick" becomes "tock". The URL
    // the suite appends is the shell's $0.
    let broken = format!("{WIRELAB} sse \"$0\" | sed -u s/tick/tock/");
    let run = check(&["sse-client", "--", "sh", "-c", &broken]).await;
    run.assert_failed();
    assert_eq!(run.failed().len(), 1, "{}", run.stdout);
    assert!(
        run.failed()[0].starts_with("the events' types and data"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn sse_client_npm_eventsource() {
    let test = "sse_client_npm_eventsource";
    let Some(node) = require(Peer::Node, test) else {
        return;
    };
    let modules = std::env::var_os("WIRELAB_NODE_MODULES").map(PathBuf::from);
    let Some(modules) = modules.filter(|m| m.join("eventsource").is_dir()) else {
        wirelab_conformance::skip(
            test,
            "WIRELAB_NODE_MODULES has no eventsource (scripts/test installs it)",
        );
        return;
    };
    let script = peer_file("sse_client.mjs");
    let output = Command::new(WIRELAB)
        .args(["check", "sse-client", "--", path(&node), path(&script)])
        .env("WIRELAB_NODE_MODULES", &modules)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), output)
        .await
        .unwrap()
        .unwrap();
    let run = Run {
        stdout: String::from_utf8(output.stdout).unwrap(),
        success: output.status.success(),
    };
    // eventsource 4.1 gives an event without an `id:` field the lastEventId "", where the
    // HTML Standard gives it the last event ID string (which it does send as Last-Event-ID
    // when it reconnects); every other case passes.
    let case = "every event carries the last event ID, also without an id: field and after \
                the reconnection";
    assert_eq!(run.failed(), [case], "{}", run.stdout);
    let detail = "event ID 3 of 4: expected \"2\", got \"\"";
    assert!(run.stdout.contains(detail), "{}", run.stdout);
}

#[tokio::test]
async fn ws_client_that_does_not_mask_fails_the_masking_cases() {
    let Some(python) = require(Peer::Python, "ws_client_that_does_not_mask_fails") else {
        return;
    };
    let script = peer_file("ws_unmasked_client.py");
    let run = check(&[
        "--timeout",
        "2",
        "ws-client",
        "--",
        path(&python),
        path(&script),
    ])
    .await;
    run.assert_failed();
    let failed = run.failed();
    assert!(
        failed.contains(&"a Text message is echoed, in masked frames"),
        "{}",
        run.stdout
    );
    assert!(
        failed.contains(&"every frame has a fresh masking key"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("an unmasked Text frame from the client"),
        "{}",
        run.stdout
    );
}
