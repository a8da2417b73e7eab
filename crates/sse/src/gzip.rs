//! gzip on an event stream (`Content-Encoding: gzip`, RFC 9110 §8.4.1.3), flushed after every
//! event so that compression never holds an event back.
//!
//! An event stream is a long response whose parts must arrive when they are written. A gzip
//! compressor does the opposite by default: it keeps input until it has enough to emit a
//! block, tens of kilobytes, so a stream of small events reaches the client minutes late, or
//! when the stream ends. (This is the failure mode of compressing middleware and proxies that
//! were written for pages: HTML §9.2.7 warns about layers "unaware of the timing
//! requirements".) [`GzipEncoder`] ends each event with a *sync flush*, which closes the
//! current DEFLATE block on a byte boundary: every byte of the event can then be inflated by
//! the client at once, at a cost of a few bytes per event (the empty stored block
//! `00 00 ff ff`, RFC 1951 §3.2.4). [`Flush::Never`] is there to show the failure: the test
//! `a_compressor_that_does_not_flush_holds_events_back` counts what a client can decode.
//!
//! Off by default ([`StreamEncoding::Identity`], the option of
//! [`server::response_for`](crate::server::response_for)), because events are usually small and compress little one by one; the stream as a whole does (the
//! compressor's window carries over from event to event) but then each open stream holds a
//! compressor, about 256 KiB with zlib's defaults, for as long as it is open. And the
//! compression-oracle risk of WebSocket's permessage-deflate applies here too: do not compress
//! a stream that mixes a secret with text an attacker can choose.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use futures_core::Stream;

/// What an event-stream server may encode its body with.
// ANCHOR: stream_encoding
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StreamEncoding {
    /// The body as it is. The default: see the [module docs](self) for why.
    #[default]
    Identity,
    /// gzip, flushed after every event, for clients whose `Accept-Encoding` takes it.
    Gzip,
}
// ANCHOR_END: stream_encoding

/// Whether an `Accept-Encoding` header value accepts gzip (RFC 9110 §12.5.3): `gzip` (or its
/// alias `x-gzip`) with a weight other than `q=0`, or, when neither is named, `*` with such a
/// weight (`*` stands for the codings the field does not name, so `gzip;q=0, *` refuses gzip).
// ANCHOR: accepts_gzip
pub fn accepts_gzip(accept_encoding: &[u8]) -> bool {
    let Ok(value) = std::str::from_utf8(accept_encoding) else {
        return false;
    };
    let (mut named, mut any) = (None, None);
    for item in value.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or_default();
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .or_else(|| p.strip_prefix("Q="))
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        if ["gzip", "x-gzip"]
            .iter()
            .any(|c| coding.eq_ignore_ascii_case(c))
        {
            // Named twice, one acceptance is enough.
            named = Some(named.unwrap_or(false) || !refused);
        } else if coding == "*" {
            any = Some(any.unwrap_or(false) || !refused);
        }
    }
    named.or(any).unwrap_or(false)
}
// ANCHOR_END: accepts_gzip

/// When the encoder hands its output over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// After every event (a sync flush): what an event stream needs.
    EveryEvent,
    /// Only when the compressor's buffers are full, or at the end: what a compressor made for
    /// files does, and the reason an event stream behind one arrives late.
    Never,
}

/// A gzip compressor for one event stream.
pub struct GzipEncoder {
    compress: Compress,
    flush: Flush,
}

impl std::fmt::Debug for GzipEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipEncoder")
            .field("flush", &self.flush)
            .field("total_in", &self.compress.total_in())
            .field("total_out", &self.compress.total_out())
            .finish()
    }
}

impl GzipEncoder {
    /// A compressor at zlib's default level (6) and window (32 KiB), writing the gzip header
    /// with its first output.
    pub fn new(flush: Flush) -> GzipEncoder {
        GzipEncoder {
            compress: Compress::new_gzip(Compression::default(), 15),
            flush,
        }
    }

    /// Compresses one event's bytes; returns what may go on the wire now (with
    /// [`Flush::Never`], often nothing).
    // ANCHOR: encode
    pub fn encode(&mut self, event: &[u8]) -> Bytes {
        let flush = match self.flush {
            Flush::EveryEvent => FlushCompress::Sync,
            Flush::Never => FlushCompress::None,
        };
        Bytes::from(self.run(event, flush))
    }
    // ANCHOR_END: encode

    /// The end of the stream: the last block and gzip's trailer (CRC-32 and length).
    pub fn finish(&mut self) -> Bytes {
        Bytes::from(self.run(&[], FlushCompress::Finish))
    }

    fn run(&mut self, input: &[u8], flush: FlushCompress) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len() / 2 + 64);
        let mut consumed = 0;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(64));
            }
            let before = self.compress.total_in();
            // Cannot fail: a valid stream, and a flush that is valid at any point.
            let status = self
                .compress
                .compress_vec(&input[consumed..], &mut out, flush);
            consumed += (self.compress.total_in() - before) as usize;
            let finished = matches!(status, Ok(Status::StreamEnd));
            let done = consumed == input.len() && out.len() < out.capacity();
            if finished || (done && !matches!(flush, FlushCompress::Finish)) {
                return out;
            }
        }
    }
}

/// A stream of body pieces, gzip-compressed by a [`GzipEncoder`]: each piece in, what may go
/// on the wire out (pieces that yield nothing now are skipped), and gzip's trailer at the end.
pub struct Gzipped<S> {
    inner: Pin<Box<S>>,
    encoder: GzipEncoder,
    ended: bool,
}

impl<S> Gzipped<S> {
    /// Compresses the pieces of `inner`.
    pub fn new(inner: S, flush: Flush) -> Gzipped<S> {
        Gzipped {
            inner: Box::pin(inner),
            encoder: GzipEncoder::new(flush),
            ended: false,
        }
    }
}

impl<S> std::fmt::Debug for Gzipped<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gzipped")
            .field("encoder", &self.encoder)
            .finish_non_exhaustive()
    }
}

impl<S: Stream<Item = Bytes>> Stream for Gzipped<S> {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = &mut *self;
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(piece)) => {
                    let out = this.encoder.encode(&piece);
                    if !out.is_empty() {
                        return Poll::Ready(Some(out));
                    }
                }
                Poll::Ready(None) => {
                    this.ended = true;
                    return Poll::Ready(Some(this.encoder.finish()));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// A gzip decoder for a client that offered gzip and got it.
pub struct GzipDecoder {
    decompress: Decompress,
}

impl std::fmt::Debug for GzipDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipDecoder")
            .field("total_in", &self.decompress.total_in())
            .finish()
    }
}

impl Default for GzipDecoder {
    fn default() -> Self {
        GzipDecoder {
            decompress: Decompress::new_gzip(15),
        }
    }
}

impl GzipDecoder {
    /// Inflates a piece of the body onto `out`, in steps of at most 16 KiB, so a small piece
    /// that inflates to a lot is handed over in bounded parts (`each` gets every part, and
    /// the parser bounds what it keeps). An error means the body is not gzip.
    pub fn decode(
        &mut self,
        mut input: &[u8],
        mut each: impl FnMut(&[u8]),
    ) -> Result<(), std::io::Error> {
        let mut out = Vec::with_capacity(16 << 10);
        loop {
            out.clear();
            let before = self.decompress.total_in();
            let status = self
                .decompress
                .decompress_vec(input, &mut out, FlushDecompress::None)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            input = &input[(self.decompress.total_in() - before) as usize..];
            if !out.is_empty() {
                each(&out);
            }
            let full = out.len() == out.capacity();
            if matches!(status, Status::StreamEnd) || (input.is_empty() && !full) {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Item, Parser, ParserConfig};

    fn events_decoded(wire: &[u8]) -> usize {
        let mut decoder = GzipDecoder::default();
        let mut parser = Parser::new(ParserConfig::default());
        decoder
            .decode(wire, |plain| parser.feed(plain))
            .expect("gzip");
        std::iter::from_fn(|| parser.next_item())
            .filter(|item| matches!(item, Ok(Item::Event(_))))
            .count()
    }

    fn tick(i: usize) -> Vec<u8> {
        Event::new()
            .data(format!(
                "{{\"symbol\":\"WLAB\",\"price\":{}.25}}",
                100 + i % 9
            ))
            .id(i.to_string())
            .expect("a valid id")
            .to_bytes()
    }

    /// With a flush after every event, the client can decode every event written so far, at
    /// every step; without it, after 50 events it can decode none of them: the compressor
    /// has sent the 10-byte gzip header and holds the rest.
    // ANCHOR: test_flush
    #[test]
    fn a_compressor_that_does_not_flush_holds_events_back() {
        let mut flushing = GzipEncoder::new(Flush::EveryEvent);
        let mut holding = GzipEncoder::new(Flush::Never);
        let (mut sent_flushing, mut sent_holding) = (Vec::new(), Vec::new());
        for i in 0..50 {
            sent_flushing.extend_from_slice(&flushing.encode(&tick(i)));
            sent_holding.extend_from_slice(&holding.encode(&tick(i)));
            assert_eq!(events_decoded(&sent_flushing), i + 1, "flushed: all so far");
        }
        assert_eq!(events_decoded(&sent_holding), 0, "held back: none");
        assert_eq!(sent_holding.len(), 10, "only the gzip header went out");
        // At the end of the stream, everything comes out at once.
        sent_holding.extend_from_slice(&holding.finish());
        assert_eq!(events_decoded(&sent_holding), 50);
    }
    // ANCHOR_END: test_flush

    #[test]
    fn accept_encoding() {
        assert!(accepts_gzip(b"gzip, deflate, br"));
        assert!(accepts_gzip(b"br;q=1.0, GZIP;q=0.5"));
        assert!(accepts_gzip(b"*"));
        assert!(!accepts_gzip(b"gzip;q=0, br"));
        assert!(!accepts_gzip(b"gzip;q=0, *"));
        assert!(!accepts_gzip(b"*;q=0"));
        assert!(accepts_gzip(b"br, *;q=0.1"));
        assert!(accepts_gzip(b"x-gzip, *;q=0"));
        assert!(!accepts_gzip(b"identity"));
        assert!(!accepts_gzip(b""));
    }

    /// The flushed stream is one ordinary gzip member: after `finish`, a plain decoder reads
    /// all of it, and its compressed size shows what the window saves on repetitive events.
    #[test]
    fn the_stream_is_ordinary_gzip() {
        let mut encoder = GzipEncoder::new(Flush::EveryEvent);
        let mut wire = Vec::new();
        let mut plain = Vec::new();
        for i in 0..200 {
            plain.extend_from_slice(&tick(i));
            wire.extend_from_slice(&encoder.encode(&tick(i)));
        }
        wire.extend_from_slice(&encoder.finish());
        let mut back = Vec::new();
        GzipDecoder::default()
            .decode(&wire, |p| back.extend_from_slice(p))
            .expect("gzip");
        assert_eq!(back, plain);
        assert!(
            wire.len() * 2 < plain.len(),
            "{} of {}",
            wire.len(),
            plain.len()
        );
    }
}
