//! The frame codec (RFC 6455 §5.2): decoding and encoding many frames of 16 B, 125 B and
//! 4 KiB, masked (client to server) and unmasked (server to client), WireLab against
//! tungstenite and fastwebsockets.
//!
//! Each peer is driven through its public API, so each side does what it would do on a real
//! connection:
//!
//! - `wirelab/frame`: `Frame::decode` (header, then the payload copied out and unmasked);
//! - `wirelab/connection`: the whole receive path, `Connection::receive` then `next_event`
//!   (frames reassembled into messages, control frames answered), the level tungstenite's
//!   public API works at;
//! - `tungstenite`: `WebSocket::from_raw_socket` over an in-memory `Cursor`, `read()` per
//!   message (its frame decoder is private);
//! - `fastwebsockets`: `WebSocket::read_frame` over an in-memory reader, polled by a
//!   current-thread tokio runtime (its decoder is reachable only through `read_frame`).
//!
//! Setup (building the peer's socket object and its buffers) is outside the timed part.
//!
//! `cargo bench -p wirelab-bench --bench frame`

use std::hint::black_box;
use std::io::Cursor;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_main};
use websocket::frame::{Frame, OpCode};
use websocket::{Connection, Limits, Role};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// The payload sizes: one 7-bit length, the largest 7-bit one, a 16-bit one.
const SIZES: [usize; 3] = [16, 125, 4096];
/// Frames per iteration.
const FRAMES: usize = 100;

/// `FRAMES` binary frames of `size` bytes, masked or not, back to back.
fn stream(size: usize, masked: bool) -> Vec<u8> {
    let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
    let mut frame = Frame::new(OpCode::Binary, payload);
    if masked {
        frame = frame.masked(KEY);
    }
    let mut out = Vec::new();
    for _ in 0..FRAMES {
        frame.encode(&mut out);
    }
    out
}

fn decode(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let mut group = c.benchmark_group("frame_decode");
    for (direction, masked) in [("masked", true), ("unmasked", false)] {
        // A server reads masked frames; a client reads unmasked ones.
        let (ours, tung, fast) = if masked {
            (
                Role::Server,
                tungstenite::protocol::Role::Server,
                fastwebsockets::Role::Server,
            )
        } else {
            (
                Role::Client,
                tungstenite::protocol::Role::Client,
                fastwebsockets::Role::Client,
            )
        };
        for size in SIZES {
            let bytes = stream(size, masked);
            group.throughput(Throughput::Bytes(bytes.len() as u64));
            let id = |name: &str| BenchmarkId::new(format!("{name}/{direction}"), size);
            group.bench_function(id("wirelab"), |b| {
                b.iter(|| {
                    let mut rest = black_box(&bytes[..]);
                    while let Some((frame, used)) = Frame::decode(rest).expect("valid frames") {
                        black_box(&frame);
                        rest = &rest[used..];
                    }
                })
            });
            group.bench_function(id("wirelab_connection"), |b| {
                b.iter_batched_ref(
                    || Connection::new(ours, Limits::default()),
                    |conn| {
                        conn.receive(black_box(&bytes));
                        for _ in 0..FRAMES {
                            black_box(conn.next_event().expect("valid").expect("a message"));
                        }
                    },
                    BatchSize::SmallInput,
                )
            });
            group.bench_function(id("tungstenite"), |b| {
                b.iter_batched_ref(
                    || {
                        tungstenite::WebSocket::from_raw_socket(
                            Cursor::new(bytes.clone()),
                            tung,
                            None,
                        )
                    },
                    |ws| {
                        for _ in 0..FRAMES {
                            black_box(ws.read().expect("a message"));
                        }
                    },
                    BatchSize::SmallInput,
                )
            });
            group.bench_function(id("fastwebsockets"), |b| {
                b.iter_batched_ref(
                    || {
                        let io = tokio::io::join(Cursor::new(bytes.clone()), tokio::io::sink());
                        fastwebsockets::WebSocket::after_handshake(io, fast)
                    },
                    |ws| {
                        runtime.block_on(async {
                            for _ in 0..FRAMES {
                                black_box(ws.read_frame().await.expect("a frame").payload.len());
                            }
                        })
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame_encode");
    for (direction, masked) in [("masked", true), ("unmasked", false)] {
        let key = masked.then_some(KEY);
        for size in SIZES {
            let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
            group.throughput(Throughput::Bytes((size * FRAMES) as u64));
            let id = |name: &str| BenchmarkId::new(format!("{name}/{direction}"), size);
            let mut out = Vec::with_capacity((size + 14) * FRAMES);
            group.bench_function(id("wirelab"), |b| {
                b.iter(|| {
                    out.clear();
                    for _ in 0..FRAMES {
                        let mut frame = Frame::new(OpCode::Binary, black_box(&payload).clone());
                        frame.header.mask = key;
                        frame.encode(&mut out);
                    }
                    black_box(&out);
                })
            });
            group.bench_function(id("tungstenite"), |b| {
                b.iter(|| {
                    out.clear();
                    for _ in 0..FRAMES {
                        let mut frame = tungstenite::protocol::frame::Frame::message(
                            black_box(&payload).clone(),
                            tungstenite::protocol::frame::coding::OpCode::Data(
                                tungstenite::protocol::frame::coding::Data::Binary,
                            ),
                            true,
                        );
                        frame.header_mut().mask = key;
                        frame.format(&mut out).expect("a Vec takes every write");
                    }
                    black_box(&out);
                })
            });
            let mut scratch = Vec::new();
            group.bench_function(id("fastwebsockets"), |b| {
                b.iter(|| {
                    out.clear();
                    for _ in 0..FRAMES {
                        let mut frame = fastwebsockets::Frame::new(
                            true,
                            fastwebsockets::OpCode::Binary,
                            key,
                            fastwebsockets::Payload::Owned(black_box(&payload).clone()),
                        );
                        if masked {
                            frame.mask();
                        }
                        out.extend_from_slice(frame.write(&mut scratch));
                    }
                    black_box(&out);
                })
            });
        }
    }
    group.finish();
}

// criterion's macros generate undocumented public functions.
#[allow(missing_docs)]
mod harness {
    criterion::criterion_group!(benches, super::decode, super::encode);
}
criterion_main!(harness::benches);
