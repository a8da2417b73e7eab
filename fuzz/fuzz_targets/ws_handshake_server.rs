//! Fuzzes the server's opening handshake (`ServerHandshake::receive` and `check_request`):
//! no panic, the same outcome whatever the chunking (the first byte chooses it), 101 or 4xx/5xx.
//! The checks are in `wirelab_fuzz::ws_handshake_server` (fuzz/src/lib.rs), shared with the stable replay
//! test `conformance/tests/fuzz_corpus.rs`.

#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| wirelab_fuzz::ws_handshake_server(input));
