//! Fuzzes the WebSocket connection state machine in both roles: no panic, nothing after an
//! error, output made of whole frames, the same outcome whatever the chunking (the first byte).
//! The checks are in `wirelab_fuzz::ws_connection` (fuzz/src/lib.rs), shared with the stable replay
//! test `conformance/tests/fuzz_corpus.rs`.

#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| wirelab_fuzz::ws_connection(input));
