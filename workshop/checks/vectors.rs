//! The SSE spec vectors of the conformance suite, `conformance/vectors/sse/parser.json`, for
//! the checks of exercises 4 and 5.

use serde_json::Value;

/// One vector: its name, its stream, and the items it must produce.
pub struct Vector {
    pub name: String,
    pub input: Vec<u8>,
    pub expect: Vec<Value>,
    pub last_event_id: Option<String>,
}

pub fn load() -> Vec<Vector> {
    let path = wirelab_conformance::workspace_root().join("conformance/vectors/sse/parser.json");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the vectors")).expect("JSON");
    doc["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .map(|v| Vector {
            name: v["name"].as_str().expect("name").to_owned(),
            input: match (&v["input"], &v["input_hex"]) {
                (Value::String(s), _) => s.clone().into_bytes(),
                (_, Value::String(hex)) => (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                    .collect(),
                _ => panic!("a vector without input"),
            },
            expect: v["expect"].as_array().expect("expect").clone(),
            last_event_id: v["last_event_id"].as_str().map(str::to_owned),
        })
        .collect()
}
