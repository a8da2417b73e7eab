//! `wirelab tap`: a loopback proxy that shows, annotated, every byte that crosses it.
//!
//! Put the tap between a client and a server and it prints what each protocol actually puts on
//! the wire, in both directions:
//!
//! - HTTP request and response heads, line by line;
//! - message bodies, with their `Transfer-Encoding: chunked` framing made visible: each HTTP
//!   chunk's size, then what it carried;
//! - an event stream (`Content-Type: text/event-stream`) field by field, each line in the HTTP
//!   chunk it arrived in, and the blank lines that dispatch events;
//! - after a `101 Switching Protocols`, WebSocket frames: FIN, RSV1-3, the opcode, the masking
//!   key, which of the three length encodings was used (7, 16 or 64 bits), and the payload as
//!   it was on the wire (masked) and as it was meant (unmasked);
//! - after HTTP/2's connection preface (h2c), HTTP/2 frames: SETTINGS by name, HEADERS with
//!   their fields decoded, DATA, WINDOW_UPDATE, RST_STREAM, GOAWAY, PING; and in the DATA of a
//!   stream opened by an extended CONNECT (RFC 8441), WebSocket frames.
//!
//! `--hex` adds a hex dump of every read, for when the annotations hide what you want to see.
//! `--svg DIR` also draws each connection, when it closes, as a sequence diagram
//! ([`diagram`]), made from the same lines.
//!
//! The tap is also how the book's wire listings are made: the tests run the examples through
//! it and keep its output as snapshots, so a listing in the book is what the code sent.
//!
//! # How it is built
//!
//! This file is the I/O shell: it accepts connections and pumps bytes. Everything else is
//! sans-I/O, like the protocol crates' wire layers, one layer a file:
//!
//! - `annotator.rs`: the state of one connection, which routes each direction's bytes to the
//!   layer that reads them;
//! - `http.rs`: HTTP heads, and how the body after a head is framed;
//! - `chunked.rs`: the `Transfer-Encoding: chunked` decoder;
//! - `event_stream.rs`: an event stream, line by line;
//! - `frames.rs`: WebSocket frames;
//! - `h2.rs`: HTTP/2 frames (HPACK decoding is the `loona-hpack` crate's);
//! - `show.rs`: how bytes are printed (quoted, in hex, as a hex dump);
//! - `diagram.rs`: the printed lines drawn as a sequence diagram.
//!
//! The annotator never changes the bytes; the proxy forwards exactly what it read, after
//! annotating it. Annotating before forwarding is what makes the output causal: the client
//! cannot have sent its first WebSocket frame before the tap has seen (and printed) the `101`
//! that allowed it.
//!
//! Where a protocol crate owns a rule, the tap asks it instead of knowing the rule twice:
//! frame headers are read by [`websocket::frame::FrameHeader::parse`], described by
//! `FrameHeader`'s `Display` and unmasked by [`websocket::mask::apply_mask`]; an event stream
//! is cut into lines by [`sse::parser::LineSplitter`], the parser's own splitter. The lines
//! themselves are shown raw, before any parser interprets them, because that is the point of
//! a tap.

mod annotator;
mod chunked;
pub mod diagram;
mod event_stream;
mod frames;
mod h2;
mod http;
mod show;

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub use annotator::Annotator;

/// How many payload bytes of a WebSocket frame or a body the tap shows; the rest is counted.
pub const SHOWN_PAYLOAD: usize = 64;

/// The longest HTTP head (and chunk-size, trailer or event-stream line) the tap collects; past
/// it, a head ends annotation of its direction, and a line is shown cut.
pub const MAX_HEAD: usize = 64 * 1024;

/// Which way bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client to the upstream server.
    ToServer,
    /// From the upstream server back to the client.
    ToClient,
}

impl Direction {
    fn other(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }

    fn arrow(self) -> &'static str {
        match self {
            Direction::ToServer => "C->S",
            Direction::ToClient => "S->C",
        }
    }
}

/// Options of the tap.
#[derive(Debug, Clone, Copy, Default)]
pub struct TapOptions {
    /// Also print a hex dump of every read.
    pub hex: bool,
}

/// Accepts connections on `listener`, connects each to `upstream`, forwards bytes both ways
/// unchanged, and sends the annotation lines to `out`, in order.
///
/// `out` is bounded on purpose: a reader of the lines that falls behind (a slow terminal, a
/// `--hex` dump) slows the forwarding down instead of letting the lines pile up in memory.
///
/// Runs until the listener fails; each connection ends when either side closes.
pub async fn run(
    listener: TcpListener,
    upstream: SocketAddr,
    options: TapOptions,
    out: mpsc::Sender<String>,
) -> std::io::Result<()> {
    let next_id = AtomicU64::new(1);
    loop {
        let (client, peer) = listener.accept().await?;
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let out = out.clone();
        tokio::spawn(async move {
            let _ = out
                .send(format!("#{id} open from {peer} to {upstream}"))
                .await;
            let server = match TcpStream::connect(upstream).await {
                Ok(server) => server,
                Err(e) => {
                    let _ = out
                        .send(format!("#{id} cannot reach upstream {upstream}: {e}"))
                        .await;
                    return;
                }
            };
            let annotator = Mutex::new(Annotator::new(options));
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            let up = pump(
                id,
                Direction::ToServer,
                client_read,
                server_write,
                &annotator,
                &out,
            );
            let down = pump(
                id,
                Direction::ToClient,
                server_read,
                client_write,
                &annotator,
                &out,
            );
            tokio::join!(up, down);
            let _ = out.send(format!("#{id} closed")).await;
        });
    }
}

// ANCHOR: pump
/// Moves bytes one way until EOF or an error, annotating each read before forwarding it.
async fn pump(
    id: u64,
    direction: Direction,
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    annotator: &Mutex<Annotator>,
    out: &mpsc::Sender<String>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // The lock is held for the annotation only, never across an await.
        let lines = match annotator.lock() {
            Ok(mut annotator) => annotator.feed(direction, &buf[..n]),
            Err(_) => Vec::new(),
        };
        for line in lines {
            let _ = out
                .send(format!("#{id} {} {line}", direction.arrow()))
                .await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = out
        .send(format!("#{id} {} end of stream", direction.arrow()))
        .await;
    // Pass the half-close on, so the other side sees EOF too.
    let _ = to.shutdown().await;
}
// ANCHOR_END: pump
