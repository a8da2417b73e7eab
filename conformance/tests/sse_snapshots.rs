//! The exact wire bytes of representative events, as insta snapshots.
//!
//! Each snapshot shows one line per wire line, with its line end written as `\n`, and any other
//! byte that is not printable ASCII escaped, so that nothing on the wire hides in the file
//! (`tests/snapshots/sse_snapshots__*.snap`). A change to the encoder shows up here as a diff
//! to review.
//!
//! Run: `cargo test -p wirelab-conformance --test sse_snapshots`
//! (after an intended change: `INSTA_UPDATE=always`, then review the diff)

use std::time::Duration;

use sse::Event;
use sse::history::{GAP_EVENT_TYPE, History};
use sse::server::KEEP_ALIVE;

/// One escaped line per wire line.
fn wire(bytes: &[u8]) -> String {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(|line| format!("{}\n", line.escape_ascii()))
        .collect()
}

#[test]
fn message() {
    insta::assert_snapshot!(wire(&Event::new().data("hello").to_bytes()));
}

#[test]
fn all_fields() {
    let event = Event::new()
        .comment("sent by WireLab")
        .retry(Duration::from_millis(2500))
        .id("42")
        .and_then(|e| e.event("tick"))
        .expect("valid")
        .data("{\"n\":42}");
    insta::assert_snapshot!(wire(&event.to_bytes()));
}

#[test]
fn multiline_data_with_every_line_end() {
    let event = Event::new().data("one\ntwo\r\nthree\rfour\n");
    insta::assert_snapshot!(wire(&event.to_bytes()));
}

#[test]
fn empty_data_and_leading_space() {
    let mut bytes = Event::new().data("").to_bytes();
    bytes.extend(Event::new().data(" indented").to_bytes());
    insta::assert_snapshot!(wire(&bytes));
}

#[test]
fn unicode_and_null_in_data() {
    let event = Event::new().data("caf\u{e9} \u{1F600} \0 \u{FEFF}");
    insta::assert_snapshot!(wire(&event.to_bytes()));
}

#[test]
fn id_reset_and_retry_only() {
    let mut bytes = Event::new().id("").expect("valid").to_bytes();
    bytes.extend(Event::new().retry(Duration::from_secs(10)).to_bytes());
    insta::assert_snapshot!(wire(&bytes));
}

#[test]
fn keep_alive_comment() {
    insta::assert_snapshot!(wire(KEEP_ALIVE));
}

#[test]
fn replay_with_a_gap_notice() {
    let mut history = History::new(2);
    for n in 1..=3 {
        history.push(Event::new().data(format!("event {n}")));
    }
    let replay = history.replay("0");
    assert_eq!(replay[0].event_type(), Some(GAP_EVENT_TYPE));
    let bytes: Vec<u8> = replay
        .iter()
        .flat_map(|event| event.wire().to_vec())
        .collect();
    insta::assert_snapshot!(wire(&bytes));
}
