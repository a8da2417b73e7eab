//! Replays the fuzz targets' checked-in seeds (and any local crash artifacts) through the same
//! checks the cargo-fuzz targets run, on the stable toolchain, so that the suite keeps every
//! input that once broke an invariant.
//!
//! The checks are compiled from `fuzz/src/lib.rs` itself, one copy for both: the fuzz crate
//! builds on nightly only and is outside the workspace, and its checks need nothing but `sse`
//! and `websocket`, which this crate already has.

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[path = "../../fuzz/src/lib.rs"]
pub mod checks;

/// Runs `check` over every file of `fuzz/seeds/<target>/` and `fuzz/artifacts/<target>/`
/// (cargo-fuzz's crash files, git-ignored: present only where a fuzzer ran), and names every
/// file that fails.
fn replay(target: &str, check: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let seeds = files(&fuzz.join("seeds").join(target));
    assert!(!seeds.is_empty(), "no seeds for {target}");
    let artifacts = files(&fuzz.join("artifacts").join(target));
    let failures: Vec<_> = seeds
        .iter()
        .chain(&artifacts)
        .filter(|path| {
            let input = fs::read(path).unwrap();
            panic::catch_unwind(AssertUnwindSafe(|| check(&input))).is_err()
        })
        .collect();
    assert!(failures.is_empty(), "{target} fails on {failures:?}");
}

/// The files of `dir`, sorted; none if it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn sse_parser() {
    replay("sse_parser", checks::sse_parser);
}

#[test]
fn ws_frame() {
    replay("ws_frame", checks::ws_frame);
}

#[test]
fn ws_handshake_server() {
    replay("ws_handshake_server", checks::ws_handshake_server);
}

#[test]
fn ws_handshake_client() {
    replay("ws_handshake_client", checks::ws_handshake_client);
}

#[test]
fn ws_connection() {
    replay("ws_connection", checks::ws_connection);
}

/// The cutting of [`checks::pieces`]: every byte once, in order, in pieces no longer than the
/// leading byte says.
#[test]
fn pieces_cover_the_input_in_bounded_pieces() {
    let data: Vec<u8> = (0..=255).collect();
    for max in [0u8, 1, 2, 7, 255] {
        let input: Vec<u8> = std::iter::once(max).chain(data.iter().copied()).collect();
        let pieces: Vec<&[u8]> = checks::pieces(&input).collect();
        assert_eq!(pieces.concat(), data);
        if max == 0 {
            assert_eq!(pieces.len(), 1);
        } else {
            assert!(
                pieces
                    .iter()
                    .all(|p| !p.is_empty() && p.len() <= usize::from(max))
            );
        }
    }
    assert_eq!(checks::pieces(&[]).count(), 0);
    assert_eq!(checks::pieces(&[3]).count(), 0);
}
