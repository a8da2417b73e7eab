//! The SSE parser vectors (`conformance/vectors/sse/parser.json`), loaded once for everyone
//! who runs them: the conformance test `sse_vectors` (WireLab's parser, split every way), the
//! workshop's checks of exercises 4 and 5 (a learner's Rust), and `wirelab check sse-parser`
//! (a parser in any language, given as a command).
//!
//! The file is built into the crate, so that the `wirelab` binary carries the vectors
//! wherever it is copied. Its format is described by its own `about` field: each vector is a
//! stream (`input`, or `input_hex` for bytes that are not UTF-8), the items parsing it must
//! produce, and the rule or web-platform-tests file it comes from.

use serde_json::Value;

/// One vector: a stream and the items it must produce.
#[derive(Debug, Clone)]
pub struct Vector {
    /// What it checks, in a few words.
    pub name: String,
    /// The rule or test it comes from.
    pub source: String,
    /// The stream's bytes.
    pub input: Vec<u8>,
    /// The items, in order: `{type,data,id}`, `{retry}`, and `{comment}` (which parsers to
    /// the command's contract do not print).
    pub expect: Vec<Value>,
    /// The last event ID after the end of the stream, when the vector states it.
    pub last_event_id: Option<String>,
}

const VECTORS: &str = include_str!("../vectors/sse/parser.json");

/// The vectors built into the binary, from `conformance/vectors/sse/parser.json`.
///
/// # Errors
///
/// What is wrong with the file: a vector without a name, source or expected items, or
/// without exactly one of `input` and `input_hex`.
pub fn vectors() -> Result<Vec<Vector>, String> {
    let doc: Value = serde_json::from_str(VECTORS).map_err(|e| format!("vectors: {e}"))?;
    let vectors = doc["vectors"]
        .as_array()
        .ok_or("vectors: no vectors array")?;
    vectors.iter().map(vector).collect()
}

fn vector(v: &Value) -> Result<Vector, String> {
    let name = v["name"]
        .as_str()
        .ok_or("a vector without a name")?
        .to_owned();
    let source = (v["source"].as_str())
        .ok_or_else(|| format!("{name}: every vector cites a source"))?
        .to_owned();
    let input = match (&v["input"], &v["input_hex"]) {
        (Value::String(s), Value::Null) => s.clone().into_bytes(),
        (Value::Null, Value::String(hex)) => from_hex(hex).ok_or_else(|| format!("{name}: hex"))?,
        _ => return Err(format!("{name}: exactly one of input and input_hex")),
    };
    Ok(Vector {
        expect: (v["expect"].as_array())
            .ok_or_else(|| format!("{name}: no expect"))?
            .clone(),
        last_event_id: v["last_event_id"].as_str().map(str::to_owned),
        input,
        source,
        name,
    })
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    let digits = hex.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    (digits.chunks(2))
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}
