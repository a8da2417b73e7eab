//! `wirelab check sse-parser -- CMD ARGS...`: the event-stream vectors against a parser
//! given as a command.
//!
//! The vectors are the conformance suite's (`conformance/vectors/sse/parser.json`, built into
//! the binary): each is a stream and what parsing it must produce, with its source in the
//! HTML Standard (§9.2.5, §9.2.6) or the web-platform-tests. They are loaded by
//! [`wirelab_conformance::sse_vectors`], as the conformance test `sse_vectors` and the
//! workshop's checks load them, so the command is held to the same vectors as WireLab's own
//! parser and a learner's Rust.
//!
//! # The contract
//!
//! The command runs once per vector. It reads the stream as bytes on standard input until
//! the end, and writes one JSON object per line on standard output, in order:
//!
//! - `{"type":T,"data":D,"id":I}` for each dispatched event: `T` the event type (`message`
//!   unless an `event:` field set it), `D` the data, `I` the last event ID at dispatch (`""`
//!   when none);
//! - `{"retry":N}` each time a `retry:` field sets the reconnection time, in milliseconds.
//!
//! Comments are not printed. Key order and spaces do not matter; empty lines are ignored.
//! A `retry` too large for 64 bits may be printed as it is or saturated
//! (18446744073709551615).
//! The stream ends with standard input: an event not yet dispatched is discarded. The
//! command exits with status 0. `wirelab sse parse` is a parser to this contract.

use std::time::Duration;

use serde_json::Value;

use wirelab_conformance::sse_vectors::{Vector, vectors};

use super::program::Program;
use super::{Reporter, json_lines, same_items};

/// `{"retry":N}` with `N` beyond 64 bits (a float to serde_json) as the vectors write it,
/// saturated: the contract lets a parser print the number as it is or saturated.
fn saturated(mut item: Value) -> Value {
    if let Some(retry) = item.get_mut("retry")
        && retry.as_u64().is_none()
        && retry.as_f64().is_some_and(|n| n >= u64::MAX as f64)
    {
        *retry = Value::from(u64::MAX);
    }
    item
}

/// What a parser to the contract prints for `vector`: its items without the comments.
pub fn printed(vector: &Vector) -> Vec<Value> {
    (vector.expect.iter())
        .filter(|item| item.get("comment").is_none())
        .cloned()
        .collect()
}

/// Runs every vector through `program`, each bounded by `timeout`, and reports a case each.
pub async fn run<W: std::io::Write>(
    program: &Program,
    timeout: Duration,
    reporter: &mut Reporter<W>,
) -> Result<(), String> {
    for vector in vectors()? {
        let verdict = check(program, &vector, timeout).await;
        reporter.case(&vector.name, &vector.source, verdict);
    }
    Ok(())
}

async fn check(program: &Program, vector: &Vector, timeout: Duration) -> super::Verdict {
    let finished = program.run_with_input(&vector.input, timeout).await?;
    if !finished.success {
        return Err(format!("exited with an error: {}", finished.stderr));
    }
    let stdout = String::from_utf8(finished.stdout)
        .map_err(|_| "its output is not UTF-8 (JSON escapes what it must)".to_owned())?;
    let got = json_lines(stdout.lines())?;
    let got: Vec<Value> = got.into_iter().map(saturated).collect();
    same_items("item", &printed(vector), &got)
}
