//! Fuzzes the client's opening handshake (`ClientHandshake::receive`): no panic, the same
//! outcome whatever the chunking (the first byte chooses it), only an offered subprotocol.
//! The checks are in `wirelab_fuzz::ws_handshake_client` (fuzz/src/lib.rs), shared with the stable replay
//! test `conformance/tests/fuzz_corpus.rs`.

#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| wirelab_fuzz::ws_handshake_client(input));
