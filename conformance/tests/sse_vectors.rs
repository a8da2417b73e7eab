//! The SSE parser against the spec vectors in `conformance/vectors/sse/parser.json`.
//!
//! Each vector is a stream and the items it must produce, written from the HTML Standard
//! (§9.2.5 "Parsing an event stream", §9.2.6 "Interpreting an event stream"), the Encoding
//! Standard's UTF-8 decoder and the web-platform-tests `eventsource/format-*` tests; each
//! names its source. Every vector runs whole, split in two at every byte offset, and one byte
//! at a time: an incremental parser must not care where the network cut the stream.
//!
//! The vectors are loaded by `wirelab_conformance::sse_vectors`, as the workshop's checks and
//! `wirelab check sse-parser -- CMD` (a parser in any language) load them.
//!
//! Run: `cargo test -p wirelab-conformance --test sse_vectors`

use serde_json::{Value, json};
use sse::{Item, Parser, ParserConfig};
use wirelab_conformance::sse_vectors::{Vector, vectors};

fn load() -> Vec<Vector> {
    vectors().expect("the vectors file is well formed")
}

/// Feeds `chunks`, ends the stream, and returns the items in the vectors' JSON form and the
/// last event ID.
fn run<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> (Vec<Value>, String) {
    let mut parser = Parser::new(ParserConfig::default());
    let mut items = Vec::new();
    let mut drain = |parser: &mut Parser| {
        while let Some(item) = parser.next_item() {
            items.push(match item.expect("no vector exceeds the bound") {
                Item::Event(e) => {
                    json!({"type": e.event_type, "data": e.data, "id": &*e.last_event_id})
                }
                Item::Retry(time) => {
                    json!({ "retry": u64::try_from(time.as_millis()).expect("saturated at u64") })
                }
                Item::Comment(text) => json!({ "comment": text }),
            });
        }
    };
    for chunk in chunks {
        parser.feed(chunk);
        drain(&mut parser);
    }
    parser.finish();
    drain(&mut parser);
    let last_event_id = parser.last_event_id().to_owned();
    (items, last_event_id)
}

fn check(vector: &Vector, how: &str, (items, last_event_id): (Vec<Value>, String)) {
    assert_eq!(items, vector.expect, "{}, {how}", vector.name);
    if let Some(expected) = &vector.last_event_id {
        assert_eq!(
            &last_event_id, expected,
            "{}, {how}: last event ID",
            vector.name
        );
    }
}

#[test]
fn there_are_vectors_for_every_rule() {
    let vectors = load();
    assert!(vectors.len() >= 60, "{} vectors", vectors.len());
}

// req: sse/9.2.5/encoding sse/9.2.5/bom sse/9.2.5/line-ends sse/9.2.6/blank-line sse/9.2.6/comment
// req: sse/9.2.6/field sse/9.2.6/field-no-colon sse/9.2.6/event sse/9.2.6/data sse/9.2.6/id
// req: sse/9.2.6/retry sse/9.2.6/unknown sse/9.2.6/end-of-stream sse/9.2.6/dispatch-id
// req: sse/9.2.6/dispatch-empty sse/9.2.6/dispatch-trailing-lf sse/9.2.6/dispatch-type
#[test]
fn whole() {
    for vector in load() {
        check(&vector, "whole", run([vector.input.as_slice()]));
    }
}

#[test]
fn split_at_every_offset() {
    for vector in load() {
        for at in 0..=vector.input.len() {
            let (a, b) = vector.input.split_at(at);
            check(&vector, &format!("split at {at}"), run([a, b]));
        }
    }
}

#[test]
fn one_byte_at_a_time() {
    for vector in load() {
        check(&vector, "byte by byte", run(vector.input.chunks(1)));
    }
}

#[test]
fn split_at_every_pair_of_offsets() {
    // Three chunks catch what two cannot: a BOM or a UTF-8 sequence in three pieces.
    for vector in load().iter().filter(|v| v.input.len() <= 40) {
        let n = vector.input.len();
        for i in 0..=n {
            for j in i..=n {
                let input = &vector.input;
                check(
                    vector,
                    &format!("split at {i} and {j}"),
                    run([&input[..i], &input[i..j], &input[j..]]),
                );
            }
        }
    }
}
