//! Check of exercise 5, fields and dispatch: `scripts/workshop check 5`, against the spec
//! vectors that WireLab's own parser passes (`conformance/tests/sse_vectors.rs`).

mod vectors;

use serde_json::{Value, json};
use wirelab_workshop::ex05_fields::parse;

#[test]
fn the_spec_vectors() {
    let vectors = vectors::load();
    assert!(vectors.len() >= 60);
    for vector in vectors {
        let parsed = parse(&vector.input);
        let events: Vec<Value> = parsed
            .events
            .iter()
            .map(|e| json!({"type": e.event_type, "data": e.data, "id": e.id}))
            .collect();
        let expected_events: Vec<Value> = vector
            .expect
            .iter()
            .filter(|item| item.get("type").is_some())
            .cloned()
            .collect();
        assert_eq!(events, expected_events, "{}: events", vector.name);
        let expected_retries: Vec<u64> = vector
            .expect
            .iter()
            .filter_map(|item| item.get("retry").and_then(Value::as_u64))
            .collect();
        assert_eq!(parsed.retries, expected_retries, "{}: retry", vector.name);
        if let Some(id) = &vector.last_event_id {
            assert_eq!(&parsed.last_event_id, id, "{}: last event ID", vector.name);
        }
    }
}
