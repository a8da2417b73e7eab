//! Masking throughput: the word-at-a-time `apply_mask` against the textbook byte loop, and
//! against `memcpy` of the same size (the floor: any pass over the bytes costs at least that).
//!
//! `cargo bench -p websocket --bench mask`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use websocket::mask::{apply_mask, apply_mask_bytewise};

fn masking(c: &mut Criterion) {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut group = c.benchmark_group("mask");
    for size in [16usize, 125, 1 << 10, 64 << 10, 1 << 20] {
        let source = vec![0xa5u8; size];
        let mut buf = vec![0u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("apply_mask", size), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), black_box(key), 0));
        });
        group.bench_function(BenchmarkId::new("bytewise", size), |b| {
            b.iter(|| apply_mask_bytewise(black_box(&mut buf), black_box(key), 0));
        });
        group.bench_function(BenchmarkId::new("memcpy", size), |b| {
            b.iter(|| black_box(&mut buf).copy_from_slice(black_box(&source)));
        });
        // An odd start: the slice begins one byte into the buffer, off any word boundary.
        group.bench_function(BenchmarkId::new("apply_mask_unaligned", size), |b| {
            b.iter(|| apply_mask(black_box(&mut buf[1..]), black_box(key), 1));
        });
    }
    group.finish();
}

// criterion's macros generate undocumented public functions.
#[allow(missing_docs)]
mod harness {
    criterion::criterion_group!(benches, super::masking);
}
criterion_main!(harness::benches);
