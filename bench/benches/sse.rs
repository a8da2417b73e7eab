//! The event-stream parser and encoder (HTML §9.2.5-§9.2.7): WireLab's `Parser` against
//! eventsource-stream, on a stream of small events and one of large events, fed in one-byte
//! chunks (the worst case for an incremental parser) and in 64 KiB chunks (a busy socket).
//!
//! eventsource-stream is a `Stream` adapter; it is polled here with a no-op waker, which is
//! all it needs since its input stream (an iterator of chunks) is always ready. It has no
//! encoder, so the encode group measures WireLab's `Event::to_bytes` alone.
//!
//! `cargo bench -p wirelab-bench --bench sse`

use std::convert::Infallible;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use eventsource_stream::Eventsource as _;
use futures_util::Stream;
use sse::{Event, Parser, ParserConfig};

/// A stream of `count` events, each with an id, an event type and `data_len` bytes of data
/// split into lines of at most 64 bytes.
fn event_stream(count: usize, data_len: usize) -> Vec<u8> {
    let line = "x".repeat(63) + "\n";
    let data: String = line.repeat(data_len / 64) + &"y".repeat(data_len % 64);
    let mut out = Vec::new();
    for n in 0..count {
        let event = Event::new()
            .data(data.clone())
            .event("tick")
            .and_then(|e| e.id(n.to_string()))
            .expect("a valid event");
        out.extend_from_slice(&event.to_bytes());
    }
    out
}

/// The inputs: (name, stream, events in it).
fn inputs() -> Vec<(&'static str, Vec<u8>, usize)> {
    vec![
        ("small_events", event_stream(2000, 20), 2000),
        ("large_events", event_stream(64, 4096), 64),
    ]
}

fn wirelab_parse(bytes: &[u8], chunk: usize) -> usize {
    let mut parser = Parser::new(ParserConfig::default());
    let mut events = 0;
    for piece in bytes.chunks(chunk) {
        parser.feed(piece);
        for item in parser.items() {
            black_box(item.expect("a valid stream"));
            events += 1;
        }
    }
    events
}

fn eventsource_stream_parse(bytes: &[u8], chunk: usize) -> usize {
    let chunks = futures_util::stream::iter(bytes.chunks(chunk).map(Ok::<_, Infallible>));
    let mut stream = pin!(chunks.eventsource());
    let mut cx = Context::from_waker(Waker::noop());
    let mut events = 0;
    while let Poll::Ready(Some(event)) = stream.as_mut().poll_next(&mut cx) {
        black_box(event.expect("a valid stream"));
        events += 1;
    }
    events
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("sse_parse");
    for (name, bytes, count) in inputs() {
        assert_eq!(wirelab_parse(&bytes, 1 << 16), count);
        assert_eq!(eventsource_stream_parse(&bytes, 1 << 16), count);
        // One-byte chunks cost far more per byte: a shorter prefix keeps the run short.
        for (chunking, chunk, len) in [
            ("1B", 1usize, bytes.len().min(64 << 10)),
            ("64KiB", 1 << 16, bytes.len()),
        ] {
            let input = &bytes[..len];
            group.throughput(Throughput::Bytes(len as u64));
            let id = |parser: &str| BenchmarkId::new(format!("{parser}/{chunking}"), name);
            group.bench_function(id("wirelab"), |b| {
                b.iter(|| wirelab_parse(black_box(input), chunk))
            });
            group.bench_function(id("eventsource_stream"), |b| {
                b.iter(|| eventsource_stream_parse(black_box(input), chunk))
            });
        }
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("sse_encode");
    for (name, data_len) in [("small_events", 20usize), ("large_events", 4096)] {
        let data = "x".repeat(data_len);
        group.throughput(Throughput::Bytes(data_len as u64));
        group.bench_function(BenchmarkId::new("wirelab", name), |b| {
            b.iter(|| {
                let event = Event::new()
                    .data(black_box(&data).clone())
                    .id("12345")
                    .expect("a valid id");
                black_box(event.to_bytes())
            })
        });
    }
    group.finish();
}

// criterion's macros generate undocumented public functions.
#[allow(missing_docs)]
mod harness {
    criterion::criterion_group!(benches, super::parse, super::encode);
}
criterion_main!(harness::benches);
