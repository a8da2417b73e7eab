//! Fuzzes the WebSocket frame decoder: no panic, and every header and frame that decodes
//! re-encodes to the bytes it came from.
//! The checks are in `wirelab_fuzz::ws_frame` (fuzz/src/lib.rs), shared with the stable replay
//! test `conformance/tests/fuzz_corpus.rs`.

#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| wirelab_fuzz::ws_frame(input));
