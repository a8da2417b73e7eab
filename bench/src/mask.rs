//! Masking compared round by round: WireLab's `apply_mask`, fastwebsockets' `unmask` and
//! `memcpy`, interleaved.
//!
//! criterion (`bench/benches/mask.rs`) measures each function for seconds on end, one after
//! the other; on a shared machine, other work that starts or stops in between moves one
//! function's figure and not the other's. Here the three take turns, a few milliseconds
//! each, for many rounds, so that each round's ratio compares functions measured under the
//! same conditions. The ratios' median and range over the rounds are what the targets use.

use std::hint::black_box;
use std::time::Instant;

/// One size and start, measured.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct MaskRow {
    /// Bytes masked per call.
    pub(crate) size: usize,
    /// "aligned" (the buffer starts on a 16-byte boundary) or "unaligned" (one byte past).
    pub(crate) start: &'static str,
    /// Per round: WireLab's speed over fastwebsockets'.
    pub(crate) vs_fastwebsockets: Vec<f64>,
    /// Per round: WireLab's speed over memcpy's.
    pub(crate) vs_memcpy: Vec<f64>,
    /// WireLab's best round, GB/s.
    pub(crate) wirelab_gbps: f64,
}

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Measures every size of `bench/benches/mask.rs`, both starts, over `rounds` rounds.
pub(crate) fn compare(rounds: usize) -> Vec<MaskRow> {
    let mut rows = Vec::new();
    for size in [16usize, 1 << 10, 64 << 10, 1 << 20] {
        for (start, offset) in [("aligned", 0usize), ("unaligned", 1)] {
            let mut bytes = vec![0x5au8; size + 64];
            let pad = bytes.as_ptr().align_offset(16);
            let source = vec![0xa5u8; size];
            // About 16 MiB of bytes per turn: long enough for the clock, short enough to
            // interleave finely.
            let calls = ((16 << 20) / size).max(1);
            let mut row = MaskRow {
                size,
                start,
                vs_fastwebsockets: Vec::new(),
                vs_memcpy: Vec::new(),
                wirelab_gbps: 0.0,
            };
            for _ in 0..rounds {
                let mut ns = [0f64; 3];
                for (which, slot) in ns.iter_mut().enumerate() {
                    let buf = &mut bytes[pad + offset..pad + offset + size];
                    let started = Instant::now();
                    for _ in 0..calls {
                        match which {
                            0 => websocket::mask::apply_mask(black_box(&mut *buf), KEY, 0),
                            1 => fastwebsockets::unmask(black_box(&mut *buf), KEY),
                            _ => black_box(&mut *buf).copy_from_slice(black_box(&source)),
                        }
                    }
                    *slot = started.elapsed().as_nanos() as f64 / calls as f64;
                }
                row.vs_fastwebsockets.push(ns[1] / ns[0]);
                row.vs_memcpy.push(ns[2] / ns[0]);
                row.wirelab_gbps = row.wirelab_gbps.max(size as f64 / ns[0]);
            }
            rows.push(row);
        }
    }
    rows
}
