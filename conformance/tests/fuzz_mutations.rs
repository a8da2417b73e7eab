//! A short fuzzing run on the stable toolchain, bounded in count, in every `cargo test` (and so
//! in CI, which has no nightly for cargo-fuzz): each fuzz target's checked-in seeds, mutated
//! as libFuzzer mutates its corpus, through the same checks the cargo-fuzz targets run.
//!
//! It is no substitute for the long coverage-guided runs (`fuzz/README.md`): it has no
//! coverage feedback, and it runs `WIRELAB_FUZZ_CASES` inputs per target (default 10,000),
//! in seconds. What it adds to the replay of the seeds (`fuzz_corpus.rs`) is the neighbourhood
//! of every seed, new on every run: proptest picks a fresh random seed each time and, on a
//! failure, shrinks the mutations to the fewest that still fail and prints the input in hex,
//! to be added to `fuzz/seeds/<target>/` so that the replay keeps it.
//!
//! The mutations are libFuzzer's simplest: flip a bit, set a byte (often to one that protocol
//! parsers treat specially), insert bytes, remove a range, repeat a range, and splice in a
//! piece of another seed of the same target.

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

#[path = "../../fuzz/src/lib.rs"]
pub mod checks;

/// Bytes that the parsers under test give a meaning to: line ends, the field colon, the
/// lengths' and opcodes' edges, UTF-8's lead and continuation bytes.
const SPECIAL: &[u8] = &[
    0x00, b'\n', b'\r', b':', b' ', 0x7e, 0x7f, 0x80, 0x81, 0x88, 0x89, 0x8a, 0xc0, 0xe0, 0xef,
    0xf0, 0xf4, 0xff,
];

/// One change to an input; positions and lengths are taken modulo what the input has then.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit {
        at: usize,
        bit: u8,
    },
    SetByte {
        at: usize,
        byte: u8,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Remove {
        at: usize,
        len: usize,
    },
    Repeat {
        at: usize,
        len: usize,
        times: u8,
    },
    Splice {
        seed: usize,
        from: usize,
        len: usize,
        at: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![any::<u8>(), prop::sample::select(SPECIAL)];
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        (any::<usize>(), byte.clone()).prop_map(|(at, byte)| Mutation::SetByte { at, byte }),
        (any::<usize>(), prop::collection::vec(byte, 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Remove { at, len }),
        (any::<usize>(), 1usize..32, 1u8..8).prop_map(|(at, len, times)| Mutation::Repeat {
            at,
            len,
            times
        }),
        (any::<usize>(), any::<usize>(), 1usize..128, any::<usize>()).prop_map(
            |(seed, from, len, at)| Mutation::Splice {
                seed,
                from,
                len,
                at
            }
        ),
    ]
}

/// `seeds[pick]` with `mutations` applied in order.
fn mutate(seeds: &[Vec<u8>], pick: usize, mutations: &[Mutation]) -> Vec<u8> {
    let mut input = seeds[pick % seeds.len()].clone();
    // A position in (or just after) the input as it is now.
    let place = |at: usize, input: &Vec<u8>| at % (input.len() + 1);
    for mutation in mutations {
        match mutation {
            Mutation::FlipBit { at, bit } if !input.is_empty() => {
                let at = at % input.len();
                input[at] ^= 1 << bit;
            }
            Mutation::SetByte { at, byte } if !input.is_empty() => {
                let at = at % input.len();
                input[at] = *byte;
            }
            Mutation::Insert { at, bytes } => {
                let at = place(*at, &input);
                input.splice(at..at, bytes.iter().copied());
            }
            Mutation::Remove { at, len } if !input.is_empty() => {
                let at = at % input.len();
                let end = (at + len).min(input.len());
                input.drain(at..end);
            }
            Mutation::Repeat { at, len, times } if !input.is_empty() => {
                let at = at % input.len();
                let piece = input[at..(at + len).min(input.len())].to_vec();
                for _ in 0..*times {
                    input.splice(at..at, piece.iter().copied());
                }
            }
            Mutation::Splice {
                seed,
                from,
                len,
                at,
            } => {
                let other = &seeds[seed % seeds.len()];
                if !other.is_empty() {
                    let from = from % other.len();
                    let piece = &other[from..(from + len).min(other.len())];
                    let at = place(*at, &input);
                    input.splice(at..at, piece.iter().copied());
                }
            }
            _ => {}
        }
    }
    input
}

/// The checked-in seeds of `target`.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut paths: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    paths.iter().map(|path| fs::read(path).unwrap()).collect()
}

/// Runs `check` over mutations of `target`'s seeds.
fn fuzz(target: &str, check: fn(&[u8])) {
    let seeds = seeds(target);
    assert!(!seeds.is_empty(), "no seeds for {target}");
    let cases = std::env::var("WIRELAB_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let config = Config {
        cases,
        // A failure is printed, to be made a seed; no regression file is written.
        failure_persistence: None,
        ..Config::default()
    };
    let strategy = (any::<usize>(), prop::collection::vec(mutation(), 1..8));
    let mut runner = TestRunner::new(config);
    // The checks report a broken invariant by panicking; its message is kept in the report.
    let outcome = runner.run(&strategy, |(pick, mutations)| {
        let input = mutate(&seeds, pick, &mutations);
        panic::catch_unwind(AssertUnwindSafe(|| check(&input))).map_err(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            TestCaseError::fail(format!("{message}\ninput (hex): {}", hex(&input)))
        })
    });
    if let Err(failure) = outcome {
        panic!("{target}: {failure}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn sse_parser() {
    fuzz("sse_parser", checks::sse_parser);
}

#[test]
fn ws_frame() {
    fuzz("ws_frame", checks::ws_frame);
}

#[test]
fn ws_handshake_server() {
    fuzz("ws_handshake_server", checks::ws_handshake_server);
}

#[test]
fn ws_handshake_client() {
    fuzz("ws_handshake_client", checks::ws_handshake_client);
}

#[test]
fn ws_connection() {
    fuzz("ws_connection", checks::ws_connection);
}

/// The mutator itself: every kind of change does what it says, and none panics on an empty
/// input.
#[test]
fn mutations_change_what_they_say() {
    let seeds = vec![b"abcdef".to_vec(), b"XYZ".to_vec(), Vec::new()];
    let one = |m: Mutation| mutate(&seeds, 0, &[m]);
    assert_eq!(one(Mutation::FlipBit { at: 1, bit: 0 }), b"accdef");
    assert_eq!(one(Mutation::SetByte { at: 7, byte: b'!' }), b"a!cdef");
    let inserted = one(Mutation::Insert {
        at: 6,
        bytes: b"gh".to_vec(),
    });
    assert_eq!(inserted, b"abcdefgh");
    assert_eq!(one(Mutation::Remove { at: 2, len: 100 }), b"ab");
    let repeated = one(Mutation::Repeat {
        at: 0,
        len: 2,
        times: 2,
    });
    assert_eq!(repeated, b"abababcdef");
    let spliced = one(Mutation::Splice {
        seed: 1,
        from: 1,
        len: 5,
        at: 3,
    });
    assert_eq!(spliced, b"abcYZdef");
    for m in [
        Mutation::FlipBit { at: 0, bit: 7 },
        Mutation::Remove { at: 0, len: 1 },
        Mutation::Repeat {
            at: 0,
            len: 1,
            times: 1,
        },
    ] {
        assert!(mutate(&seeds, 2, &[m]).is_empty());
    }
}
