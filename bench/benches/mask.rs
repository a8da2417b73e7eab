//! Masking (RFC 6455 §5.3): WireLab's `apply_mask` against the textbook byte loop,
//! fastwebsockets' `unmask`, and `memcpy` of the same size, the physical limit of any pass
//! over the bytes. Each at 16 B, 1 KiB, 64 KiB and 1 MiB, with the buffer starting on a
//! 16-byte boundary ("aligned") and one byte past it ("unaligned").
//!
//! tungstenite's masking function is private (only reachable through its frame encoder), so
//! tungstenite appears in the `frame` bench, where its encoder masks a client frame.
//!
//! `cargo bench -p wirelab-bench --bench mask`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use websocket::mask::{apply_mask, apply_mask_bytewise};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// From a small message, where the cost of a call shows, to 1 MiB, where only the pass over
/// the bytes counts: the sizes the performance chapter's targets are set at.
const SIZES: [usize; 4] = [16, 1 << 10, 64 << 10, 1 << 20];

/// A byte buffer with a known alignment: `slice(start, len)` begins `start` bytes past a
/// 16-byte boundary.
struct AlignedBuf {
    bytes: Vec<u8>,
    /// Where the first 16-byte boundary is in `bytes`.
    pad: usize,
}

impl AlignedBuf {
    fn new(len: usize) -> Self {
        let bytes = vec![0x5au8; len + 32];
        let pad = bytes.as_ptr().align_offset(16);
        AlignedBuf { bytes, pad }
    }

    fn slice(&mut self, start: usize, len: usize) -> &mut [u8] {
        &mut self.bytes[self.pad + start..self.pad + start + len]
    }
}

fn masking(c: &mut Criterion) {
    let mut group = c.benchmark_group("masking");
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        for (alignment, start) in [("aligned", 0usize), ("unaligned", 1)] {
            let mut buf = AlignedBuf::new(size + 16);
            let source = vec![0xa5u8; size];
            let id = |name: &str| BenchmarkId::new(format!("{name}/{alignment}"), size);
            group.bench_function(id("wirelab"), |b| {
                b.iter(|| apply_mask(black_box(buf.slice(start, size)), black_box(KEY), 0));
            });
            group.bench_function(id("fastwebsockets"), |b| {
                b.iter(|| {
                    fastwebsockets::unmask(black_box(buf.slice(start, size)), black_box(KEY))
                });
            });
            group.bench_function(id("bytewise"), |b| {
                b.iter(|| {
                    apply_mask_bytewise(black_box(buf.slice(start, size)), black_box(KEY), 0)
                });
            });
            group.bench_function(id("memcpy"), |b| {
                b.iter(|| black_box(buf.slice(start, size)).copy_from_slice(black_box(&source)));
            });
        }
    }
    group.finish();
}

// criterion's macros generate undocumented public functions.
#[allow(missing_docs)]
mod harness {
    criterion::criterion_group!(benches, super::masking);
}
criterion_main!(harness::benches);
