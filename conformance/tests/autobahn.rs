//! The Autobahn|Testsuite, in both directions.
//!
//! - **fuzzingclient**: the suite is the client and drives `wirelab echo` (the server side of
//!   the `websocket` crate) through every case of sections 1 to 10.
//! - **fuzzingserver**: the suite is the server, and the `websocket` crate's client connects to
//!   it once per case and echoes everything until the suite closes.
//!
//! Each case ends with a verdict: OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED or FAILED. The
//! tests fail on any FAILED or NON-STRICT case, and compare the whole per-case listing with the
//! committed snapshot (`snapshots/autobahn__*.snap`), so a verdict that changes in either
//! direction is noticed. Sections 12 and 13 test permessage-deflate (RFC 7692), which
//! `wirelab echo` accepts and `wirelab ws` offers; they run apart (`*_deflate`), with their
//! own bound and snapshots. Reports stay in `target/autobahn/<mode>/reports` (open
//! `index.html`).
//!
//! `wstest` comes from `scripts/autobahn` (a private Python 2.7; see `scripts/test`). Without
//! it, the tests print `skipped:` and why.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use wirelab_conformance::{Peer, require, workspace_root};

/// Sections 1-10: framing, ping/pong, reserved bits, opcodes, fragmentation, UTF-8, closing,
/// limits (section 8 does not exist in the suite).
const CASES: &[&str] = &[
    "1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*",
];
/// Sections 12 and 13: permessage-deflate (RFC 7692), message sizes and kinds with the default
/// parameters (12), then every combination of context takeover and window bits the suite
/// offers or answers (13). A run of their own, with snapshots of their own: they take most of
/// the suite's time (1,000 messages of up to 128 KiB per case, compressed by `wstest` in
/// Python), so sections 1 to 10 keep their quick, separately bounded run.
const DEFLATE_CASES: &[&str] = &["12.*", "13.*"];
const AGENT: &str = "wirelab";
/// A correct peer finishes sections 1-10 in either direction in under a minute; a broken one
/// makes each failing case wait for a timeout. Past this bound the run is stopped and the test
/// fails.
const RUN_BOUND: Duration = Duration::from_secs(600);
/// The same for sections 12 and 13, which take some 5 minutes of CPU per direction (two
/// processes taking turns) and more on a loaded machine.
const DEFLATE_RUN_BOUND: Duration = Duration::from_secs(1800);
/// Bound for one fuzzingserver case, as seen from the client.
const CASE_BOUND: Duration = Duration::from_secs(60);

/// Who runs when. Sections 1 to 10 run alone (a write turn): their cases time closing
/// handshakes and failures, and a machine busy with another run would make those timeouts
/// meaningless. Sections 12 and 13 time nothing tight, so their two directions share a turn
/// (a read turn, [`permessage_deflate_both_ways`]): each is a Python process and this test
/// taking turns, and together they keep both cores of a two-core machine busy, which halves
/// the suite's longest wait.
static TURN: RwLock<()> = RwLock::new(());

/// The turn a run of `cases` takes (see [`TURN`]), held until it is dropped.
fn turn(
    cases: &[&str],
) -> (
    Option<RwLockReadGuard<'static, ()>>,
    Option<RwLockWriteGuard<'static, ()>>,
) {
    if cases == DEFLATE_CASES {
        (Some(TURN.read().unwrap_or_else(|e| e.into_inner())), None)
    } else {
        (None, Some(TURN.write().unwrap_or_else(|e| e.into_inner())))
    }
}

// req: ws/5.1/server-requires-mask ws/5.2/rsv ws/5.2/opcode ws/5.4/fragmented
// req: ws/5.4/control-in-middle ws/5.4/no-interleave ws/5.4/fragment-types ws/5.5/control-125
// req: ws/5.5.2/pong ws/5.5.1/reply-close ws/5.6/utf8 ws/8.1/utf8-fail ws/7.4.1/reserved-codes
// req: ws/6.2/unmask ws/10.4/limits
#[test]
fn fuzzingclient_against_wirelab_echo() {
    fuzzingclient("fuzzingclient", CASES, RUN_BOUND);
}

// req: ws/5.1/client-masks ws/4.1/check-accept ws/5.4/fragmented ws/5.5.2/pong ws/5.6/utf8
#[test]
fn fuzzingserver_against_wirelab_client() {
    fuzzingserver("fuzzingserver", CASES, RUN_BOUND);
}

/// Sections 12 and 13 in both directions at once, in two threads of one test: the test
/// harness runs as many tests at a time as the machine has cores, so two tests could not be
/// sure to run together. Each direction keeps its own report directory and snapshot
/// (`fuzzingclient_deflate`, `fuzzingserver_deflate`).
// req: pmd/5/agreed pmd/5/accept-name pmd/5/offer-name pmd/7.2.1/no-context-takeover
// req: pmd/7.2.1/max-window pmd/7.2.2/takeover
#[test]
fn permessage_deflate_both_ways() {
    std::thread::scope(|scope| {
        scope.spawn(|| fuzzingclient("fuzzingclient_deflate", DEFLATE_CASES, DEFLATE_RUN_BOUND));
        scope.spawn(|| fuzzingserver("fuzzingserver_deflate", DEFLATE_CASES, DEFLATE_RUN_BOUND));
    });
}

/// The suite drives `wirelab echo` through `cases`; `mode` names the report directory and
/// the snapshot.
fn fuzzingclient(mode: &str, cases: &[&str], bound: Duration) {
    let Some(wstest) = require(Peer::Wstest, &format!("autobahn {mode}")) else {
        return;
    };
    let _turn = turn(cases);
    let dir = fresh_dir(mode);

    let runtime = runtime();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1");
    let port = listener.local_addr().expect("local addr").port();
    runtime.spawn(wirelab::echo::serve(listener));

    let spec = serde_json::json!({
        "outdir": dir.join("reports"),
        "servers": [{ "agent": AGENT, "url": format!("ws://127.0.0.1:{port}") }],
        "cases": cases,
        "exclude-cases": [],
        "exclude-agent-cases": {},
    });
    let spec_path = dir.join("fuzzingclient.json");
    std::fs::write(&spec_path, spec.to_string()).expect("write spec");

    let mut child = Command::new(&wstest)
        .args(["-m", "fuzzingclient", "-s"])
        .arg(&spec_path)
        .current_dir(&dir)
        .stdout(log_file(&dir))
        .stderr(log_file(&dir))
        .spawn()
        .expect("start wstest");
    let status = wait_bounded(&mut child, bound);
    assert!(
        status.is_some_and(|s| s.success()),
        "wstest fuzzingclient did not finish cleanly within {bound:?} ({status:?}); see {}",
        dir.join("wstest.log").display()
    );
    drop(runtime);

    check(mode, &dir);
}

/// The suite is the server, and `wirelab ws --echo`'s code connects once per case of `cases`.
fn fuzzingserver(mode: &str, cases: &[&str], bound: Duration) {
    let Some(wstest) = require(Peer::Wstest, &format!("autobahn {mode}")) else {
        return;
    };
    let _turn = turn(cases);
    let dir = fresh_dir(mode);
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}");

    let spec = serde_json::json!({
        "url": url,
        "outdir": dir.join("reports"),
        "cases": cases,
        "exclude-cases": [],
        "exclude-agent-cases": {},
    });
    let spec_path = dir.join("fuzzingserver.json");
    std::fs::write(&spec_path, spec.to_string()).expect("write spec");

    // The fuzzingserver never exits by itself: it is stopped below, and on every early return
    // by this guard.
    let server = KillOnDrop(
        Command::new(&wstest)
            .args(["-m", "fuzzingserver", "-u", "0", "-s"])
            .arg(&spec_path)
            .current_dir(&dir)
            .stdout(log_file(&dir))
            .stderr(log_file(&dir))
            .spawn()
            .expect("start wstest"),
    );

    let runtime = runtime();
    let started = Instant::now();
    let count = runtime.block_on(async {
        // Wait for the fuzzingserver to listen, then ask it how many cases it has.
        loop {
            let answer = wirelab::ws_cmd::read_one_text(&format!("{url}/getCaseCount")).await;
            match answer {
                Ok(Some(text)) => break text,
                _ if started.elapsed() < Duration::from_secs(60) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => panic!("the fuzzingserver did not answer /getCaseCount: {other:?}"),
            }
        }
    });
    let count: usize = count.trim().parse().expect("case count is a number");
    assert!(count > 0, "the fuzzingserver has no cases");

    runtime.block_on(async {
        for case in 1..=count {
            assert!(
                started.elapsed() < bound,
                "fuzzingserver run exceeded {bound:?}"
            );
            let case_url = format!("{url}/runCase?case={case}&agent={AGENT}");
            // Many cases end in a protocol error on purpose: the verdict is the suite's to give,
            // from what it saw on the wire, not this loop's.
            let _ = tokio::time::timeout(CASE_BOUND, wirelab::ws_cmd::echo_until_closed(&case_url))
                .await;
        }
        let reports = format!("{url}/updateReports?agent={AGENT}");
        wirelab::ws_cmd::echo_until_closed(&reports)
            .await
            .expect("ask the fuzzingserver to write its reports");
    });
    drop(server);

    check(mode, &dir);
}

/// Reads the suite's verdicts, prints the summary, fails on FAILED and NON-STRICT cases, and
/// compares the per-case listing with the committed snapshot.
fn check(mode: &str, dir: &Path) {
    let index = dir.join("reports").join("index.json");
    let text = std::fs::read_to_string(&index)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", index.display()));
    let json: serde_json::Value = serde_json::from_str(&text).expect("index.json is JSON");
    let cases = json
        .get(AGENT)
        .and_then(|v| v.as_object())
        .unwrap_or_else(|| panic!("index.json has no results for agent {AGENT}"));

    let mut verdicts: Vec<(Vec<u32>, String, String)> = cases
        .iter()
        .map(|(id, result)| {
            let behavior = result["behavior"].as_str().unwrap_or("MISSING").to_owned();
            let key = id
                .split('.')
                .map(|n| n.parse().unwrap_or(u32::MAX))
                .collect();
            (key, id.clone(), behavior)
        })
        .collect();
    verdicts.sort();

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, behavior) in &verdicts {
        *counts.entry(behavior.as_str()).or_default() += 1;
    }
    let summary = format!(
        "autobahn {mode}: {} cases: {}",
        verdicts.len(),
        counts
            .iter()
            .map(|(behavior, n)| format!("{n} {behavior}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Straight to the terminal, so the counts show even when the test passes.
    let _ = writeln!(std::io::stderr().lock(), "{summary}");
    std::fs::write(dir.join("summary.txt"), format!("{summary}\n")).expect("write summary");

    let bad: Vec<String> = verdicts
        .iter()
        .filter(|(_, _, b)| b == "FAILED" || b == "NON-STRICT" || b == "MISSING")
        .map(|(_, id, b)| format!("{id} {b}"))
        .collect();
    assert!(
        bad.is_empty(),
        "{mode}: cases not OK: {bad:?}; see {}",
        dir.join("reports/index.html").display()
    );

    let listing: String = verdicts
        .iter()
        .map(|(_, id, behavior)| format!("{id} {behavior}\n"))
        .collect();
    insta::assert_snapshot!(mode, listing);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn fresh_dir(mode: &str) -> PathBuf {
    let dir = workspace_root().join("target").join("autobahn").join(mode);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create report dir");
    dir
}

fn log_file(dir: &Path) -> Stdio {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("wstest.log"))
        .expect("open wstest.log");
    Stdio::from(log)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// Waits for `child` at most `bound`, then kills it; `None` when it had to be killed.
fn wait_bounded(child: &mut Child, bound: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + bound;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
