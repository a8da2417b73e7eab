//! Fuzzes the SSE parser: no panic, the same items whatever the chunking (the first byte
//! chooses it) as `parse_all` on the whole input, and never more held than its event bound.
//! The checks are in `wirelab_fuzz::sse_parser` (fuzz/src/lib.rs), shared with the stable replay
//! test `conformance/tests/fuzz_corpus.rs`.

#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| wirelab_fuzz::sse_parser(input));
