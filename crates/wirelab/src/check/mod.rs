//! `wirelab check`: WireLab's conformance suites, run against another implementation.
//!
//! A workshop in Python, JavaScript or Go can hold its own code to the same rules as
//! WireLab's: each suite drives the implementation under test from the outside (a command, or
//! a URL) and prints one line per case, with the rule the case checks and where the spec
//! states it, then `N of M cases passed`.
//!
//! | suite | the implementation under test | module |
//! |---|---|---|
//! | `sse-parser` | a command: the event stream on stdin, events as JSON lines on stdout | [`sse_parser`] |
//! | `ws-server` | a WebSocket echo server, given as a `ws://` URL | [`ws_server`] |
//! | `ws-client` | a command that connects to the URL it is given and echoes | [`ws_client`] |
//! | `sse-client` | a command that follows the URL it is given and prints events | [`sse_client`] |
//!
//! Every case is bounded by a timeout, every connection is to or from loopback, and every
//! command started is killed when its case ends.

pub mod program;
pub mod sse_client;
pub mod sse_parser;
pub mod wire;
pub mod ws_client;
pub mod ws_server;

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

/// How long one case may take unless told otherwise (`--timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The outcome of one case: passed, with an optional note (a measurement), or failed, with why.
pub type Verdict = Result<Option<String>, String>;

/// Prints each case's line as it finishes and counts them.
pub struct Reporter<W: Write> {
    out: W,
    passed: usize,
    total: usize,
}

impl<W: Write> Reporter<W> {
    /// A reporter that writes to `out`.
    pub fn new(out: W) -> Reporter<W> {
        Reporter {
            out,
            passed: 0,
            total: 0,
        }
    }

    /// Records the case `name`, which checks `rule`, and prints its line:
    /// `PASS  name  [rule]` or `FAIL  name  [rule]`, and the note or the reason indented on
    /// the next line.
    ///
    /// A rule given as a requirement ID of WireLab's catalogues (`ws/5.2/rsv`,
    /// `sse/9.2.4/last-event-id`) is printed with the section of its spec.
    pub fn case(&mut self, name: &str, rule: &str, verdict: Verdict) {
        self.total += 1;
        let (word, detail) = match verdict {
            Ok(note) => {
                self.passed += 1;
                ("PASS", note)
            }
            Err(why) => ("FAIL", Some(why)),
        };
        // A reporter that cannot print has nowhere to say so; the exit status still tells.
        let _ = writeln!(self.out, "{word}  {name}  [{}]", describe_rule(rule));
        if let Some(detail) = detail {
            let _ = writeln!(self.out, "      {detail}");
        }
        let _ = self.out.flush();
    }

    /// Prints `N of M cases passed` and returns whether all did.
    pub fn finish(mut self) -> bool {
        let _ = writeln!(self.out, "{} of {} cases passed", self.passed, self.total);
        let _ = self.out.flush();
        self.passed == self.total
    }
}

/// `ws/5.2/rsv` becomes `ws/5.2/rsv, RFC 6455 §5.2`; `sse/9.2.6/id` becomes
/// `sse/9.2.6/id, HTML §9.2.6`; any other text is kept as it is (a vector's source).
pub fn describe_rule(rule: &str) -> String {
    let spec = if rule.starts_with("ws/") {
        "RFC 6455"
    } else if rule.starts_with("sse/") {
        "HTML Standard"
    } else {
        return rule.to_owned();
    };
    match rule.split('/').nth(1) {
        Some(section) => format!("{rule}, {spec} §{section}"),
        None => rule.to_owned(),
    }
}

/// Runs `case` under `timeout`, a slow case failing with what it was waiting for.
pub async fn bounded<F>(timeout: Duration, case: F) -> Verdict
where
    F: Future<Output = Verdict>,
{
    match tokio::time::timeout(timeout, case).await {
        Ok(verdict) => verdict,
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

/// At most `max` characters of `text`, for failure lines that quote what a peer sent.
pub fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

/// The JSON objects of a command's output, one a line; empty lines are skipped.
///
/// # Errors
///
/// The first line that is not JSON, quoted.
pub fn json_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Vec<Value>, String> {
    let lines = lines.into_iter().filter(|l| !l.trim().is_empty());
    lines
        .map(|line| {
            serde_json::from_str(line)
                .map_err(|e| format!("not a JSON line ({e}): {}", excerpt(line, 80)))
        })
        .collect()
}

/// Passes when `got` is `want`; otherwise fails naming the first `noun` (item, event) that
/// differs, both sides quoted.
pub fn same_items(noun: &str, want: &[Value], got: &[Value]) -> Verdict {
    if got == want {
        return Ok(None);
    }
    let at = (got.iter().zip(want))
        .position(|(g, w)| g != w)
        .unwrap_or(got.len().min(want.len()));
    let show = |items: &[Value]| items.get(at).map_or("nothing".to_owned(), Value::to_string);
    Err(format!(
        "{noun} {} of {}: expected {}, got {} ({} printed)",
        at + 1,
        want.len(),
        excerpt(&show(want), 120),
        excerpt(&show(got), 120),
        got.len()
    ))
}
