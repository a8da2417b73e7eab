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
//! - after a `101 Switching Protocols`, WebSocket frames: FIN, RSV1-3, opcode, the mask bit
//!   and masking key, which of the three length encodings was used (7, 16 or 64 bits), and the
//!   payload as it was on the wire (masked) and as it was meant (unmasked).
//!
//! `--hex` adds a hex dump of every read, for when the annotations hide what you want to see.
//!
//! The tap is also how the book's wire listings are made: the tests run the examples through
//! it and keep its output as snapshots, so a listing in the book is what the code sent.
//!
//! # How it is built
//!
//! [`Annotator`] is sans-I/O, like the protocol crates' wire layers: it is fed the bytes of one
//! connection, direction by direction, and returns the lines to print. It never changes the
//! bytes; the proxy forwards exactly what it read, after annotating it. Annotating before
//! forwarding is what makes the output causal: the client cannot have sent its first WebSocket
//! frame before the tap has seen (and printed) the `101` that allowed it.
//!
//! The tap reuses the protocol crates' own parsers where they fit: frame headers are read by
//! [`websocket::frame::FrameHeader::parse`] and unmasked by [`websocket::mask::apply_mask`].
//! HTTP heads are read with `httparse`. Event-stream lines are shown raw, before any parser
//! interprets them, because that is the point of a tap.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use websocket::frame::{FrameHeader, OpCode};
use websocket::handshake::HeadBuffer;

/// How many payload bytes of a WebSocket frame or a body the tap shows; the rest is counted.
pub const SHOWN_PAYLOAD: usize = 64;

/// The longest HTTP head (and chunk-size or trailer line) the tap collects; past it, the rest
/// of the connection is forwarded without annotation.
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

// ANCHOR: run
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
            let annotator = Arc::new(Mutex::new(Annotator::new(options)));
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
            let _ = tokio::join!(up, down);
            let _ = out.send(format!("#{id} closed")).await;
        });
    }
}
// ANCHOR_END: run

// ANCHOR: pump
/// Moves bytes one way until EOF or an error, annotating each read before forwarding it.
async fn pump(
    id: u64,
    direction: Direction,
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    annotator: &Mutex<Annotator>,
    out: &mpsc::Sender<String>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
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

// ANCHOR: annotator
/// The annotating state of one proxied connection: both directions, and what one direction
/// tells about the other (a `101` switches both to WebSocket; a HEAD request has a response
/// without a body).
#[derive(Debug)]
pub struct Annotator {
    options: TapOptions,
    to_server: Side,
    to_client: Side,
    /// Methods of requests whose responses have not been seen yet, oldest first.
    pending_methods: Vec<String>,
}
// ANCHOR_END: annotator

impl Annotator {
    /// A fresh connection: both directions start with an HTTP head.
    pub fn new(options: TapOptions) -> Self {
        Annotator {
            options,
            to_server: Side::new(),
            to_client: Side::new(),
            pending_methods: Vec::new(),
        }
    }

    // ANCHOR: feed
    /// Takes the next bytes read in `direction` and returns the lines that describe them.
    pub fn feed(&mut self, direction: Direction, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        if self.options.hex {
            hex_dump(bytes, &mut lines);
        }
        let mut input = bytes;
        while !input.is_empty() {
            let side = self.side(direction);
            let (used, head) = side.feed(input, &mut lines);
            if let Some(head) = head {
                self.on_head(direction, &head, &mut lines);
            }
            input = &input[used..];
            let side = self.side(direction);
            if let Phase::Body(body) = &side.phase
                && body.done()
            {
                lines.push("(end of body)".to_owned());
                side.phase = Phase::Head;
            }
        }
        lines
    }
    // ANCHOR_END: feed

    fn side(&mut self, direction: Direction) -> &mut Side {
        match direction {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        }
    }

    // ANCHOR: on_head
    fn on_head(&mut self, direction: Direction, head: &[u8], lines: &mut Vec<String>) {
        // Show the head as it was sent, one line each, before interpreting it.
        for line in head.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !line.is_empty() {
                lines.push(String::from_utf8_lossy(line).into_owned());
            }
        }
        lines.push(format!("(end of head, {} bytes)", head.len()));
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let next = match direction {
            Direction::ToServer => {
                let mut request = httparse::Request::new(&mut headers);
                match request.parse(head) {
                    Ok(httparse::Status::Complete(_)) => {
                        self.pending_methods
                            .push(request.method.unwrap_or("GET").to_owned());
                        body_phase(request.headers, false, None)
                    }
                    _ => {
                        lines.push("(not a valid HTTP request head: rest not annotated)".into());
                        Phase::Opaque
                    }
                }
            }
            Direction::ToClient => {
                let mut response = httparse::Response::new(&mut headers);
                match response.parse(head) {
                    Ok(httparse::Status::Complete(_)) => {
                        let status = response.code.unwrap_or(0);
                        if status == 101 {
                            lines.push(
                                "(switching protocols: WebSocket frames follow, both ways)".into(),
                            );
                            self.to_server.phase = Phase::WebSocket(Frames::new());
                            Phase::WebSocket(Frames::new())
                        } else if (100..200).contains(&status) {
                            // An interim response: the final one follows.
                            Phase::Head
                        } else {
                            let method = if self.pending_methods.is_empty() {
                                String::from("GET")
                            } else {
                                self.pending_methods.remove(0)
                            };
                            let no_body = method == "HEAD" || status == 204 || status == 304;
                            body_phase(response.headers, true, no_body.then_some(()))
                        }
                    }
                    _ => {
                        lines.push("(not a valid HTTP response head: rest not annotated)".into());
                        Phase::Opaque
                    }
                }
            }
        };
        self.side(direction).phase = next;
    }
    // ANCHOR_END: on_head
}

/// What comes after a head, from its framing headers (RFC 9112 §6.3).
fn body_phase(headers: &[httparse::Header<'_>], response: bool, no_body: Option<()>) -> Phase {
    if no_body.is_some() {
        return Phase::Head;
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
    };
    let event_stream = header("content-type").is_some_and(|v| {
        v.split(';')
            .next()
            .is_some_and(|t| t.trim() == "text/event-stream")
    });
    let content = if event_stream {
        Content::EventStream(SseLines::default())
    } else {
        Content::Opaque {
            shown: Vec::new(),
            total: 0,
        }
    };
    let framing = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        Framing::Chunked(ChunkState::Size(Vec::new()))
    } else if let Some(len) = header("content-length").and_then(|v| v.trim().parse::<u64>().ok()) {
        if len == 0 {
            return Phase::Head;
        }
        Framing::Length(len)
    } else if response {
        Framing::UntilClose
    } else {
        return Phase::Head;
    };
    Phase::Body(Body {
        framing,
        content,
        chunks: 0,
    })
}

#[derive(Debug)]
struct Side {
    phase: Phase,
    /// The head read so far; the WebSocket handshake's own buffer, which finds the end of a
    /// head without searching the same bytes twice, and refuses to grow past its bound.
    head: HeadBuffer,
}

impl Side {
    fn new() -> Self {
        Side {
            phase: Phase::Head,
            head: HeadBuffer::new(MAX_HEAD),
        }
    }

    /// Takes the next bytes in this direction: returns how many it used, and the head when
    /// one just completed (which the caller interprets, as it may concern both directions).
    fn feed(&mut self, input: &[u8], lines: &mut Vec<String>) -> (usize, Option<Vec<u8>>) {
        match &mut self.phase {
            Phase::Head => self.head_bytes(input, lines),
            Phase::Body(body) => (body.feed(input, lines), None),
            Phase::WebSocket(frames) => (frames.feed(input, lines), None),
            Phase::Opaque => {
                lines.push(format!("{} bytes (not annotated)", input.len()));
                (input.len(), None)
            }
        }
    }

    /// Collects head bytes; returns how many of `input` it used and the head once complete.
    fn head_bytes(&mut self, input: &[u8], lines: &mut Vec<String>) -> (usize, Option<Vec<u8>>) {
        let held = self.head.bytes().len();
        let mut head = std::mem::replace(&mut self.head, HeadBuffer::new(MAX_HEAD));
        match head.push(input) {
            Ok(Some(end)) => (end - held, Some(head.bytes()[..end].to_vec())),
            Ok(None) => {
                self.head = head;
                (input.len(), None)
            }
            Err(_) => {
                // Not a head a server would accept either: show no more of it.
                self.phase = Phase::Opaque;
                lines.push(format!(
                    "(no end of head within {MAX_HEAD} bytes: rest not annotated)"
                ));
                (input.len(), None)
            }
        }
    }
}

#[derive(Debug)]
enum Phase {
    Head,
    Body(Body),
    WebSocket(Frames),
    Opaque,
}

#[derive(Debug)]
struct Body {
    framing: Framing,
    content: Content,
    chunks: u64,
}

#[derive(Debug)]
enum Framing {
    Length(u64),
    Chunked(ChunkState),
    UntilClose,
}

#[derive(Debug)]
enum ChunkState {
    /// Reading the chunk-size line.
    Size(Vec<u8>),
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// The CRLF after a chunk's data; the count says how many of its 2 bytes were seen.
    DataEnd(u8),
    /// After the last (zero-size) chunk: trailer lines until an empty one.
    Trailer(Vec<u8>),
    Done,
}

#[derive(Debug)]
enum Content {
    EventStream(SseLines),
    Opaque { shown: Vec<u8>, total: u64 },
}

impl Body {
    fn done(&self) -> bool {
        matches!(
            self.framing,
            Framing::Length(0) | Framing::Chunked(ChunkState::Done)
        )
    }

    /// Takes body bytes; returns how many of `input` belong to this body.
    fn feed(&mut self, input: &[u8], lines: &mut Vec<String>) -> usize {
        match &mut self.framing {
            Framing::UntilClose => {
                self.content.feed(input, lines);
                input.len()
            }
            Framing::Length(left) => {
                let take = input
                    .len()
                    .min(usize::try_from(*left).unwrap_or(usize::MAX));
                *left -= take as u64;
                self.content.feed(&input[..take], lines);
                if *left == 0 {
                    self.content.finish(lines);
                }
                take
            }
            Framing::Chunked(_) => self.feed_chunked(input, lines),
        }
    }

    fn feed_chunked(&mut self, input: &[u8], lines: &mut Vec<String>) -> usize {
        let Framing::Chunked(state) = &mut self.framing else {
            return 0;
        };
        let mut used = 0;
        while used < input.len() {
            let rest = &input[used..];
            match state {
                ChunkState::Size(line) => {
                    let (taken, complete) = take_line(line, rest);
                    used += taken;
                    if !complete {
                        break;
                    }
                    let text = String::from_utf8_lossy(line).into_owned();
                    let digits = text.trim_end_matches('\r');
                    // RFC 9112 §7.1: chunk-size is hex, optionally followed by extensions.
                    let digits = digits.split(';').next().unwrap_or("").trim();
                    match u64::from_str_radix(digits, 16) {
                        Ok(0) => {
                            self.content.finish(lines);
                            lines.push("[last chunk: size 0]".to_owned());
                            *state = ChunkState::Trailer(Vec::new());
                        }
                        Ok(size) => {
                            self.chunks += 1;
                            lines.push(format!("[chunk {}: {size} bytes]", self.chunks));
                            *state = ChunkState::Data(size);
                        }
                        Err(_) => {
                            lines.push(format!("[bad chunk-size line {digits:?}]"));
                            *state = ChunkState::Done;
                        }
                    }
                }
                ChunkState::Data(left) => {
                    let take = rest.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    *left -= take as u64;
                    used += take;
                    self.content.feed(&rest[..take], lines);
                    if *left == 0 {
                        *state = ChunkState::DataEnd(0);
                    }
                }
                ChunkState::DataEnd(seen) => {
                    used += 1;
                    *seen += 1;
                    if *seen == 2 {
                        *state = ChunkState::Size(Vec::new());
                    }
                }
                ChunkState::Trailer(line) => {
                    let (taken, complete) = take_line(line, rest);
                    used += taken;
                    if !complete {
                        break;
                    }
                    if line.strip_suffix(b"\r").unwrap_or(line).is_empty() {
                        *state = ChunkState::Done;
                        break;
                    }
                    lines.push(format!(
                        "trailer: {}",
                        String::from_utf8_lossy(line).trim_end()
                    ));
                    line.clear();
                }
                ChunkState::Done => break,
            }
        }
        used
    }
}

/// Moves bytes of `rest` into `line` up to the next LF (which it takes but does not keep), and
/// says how many it took and whether the line is complete. A line longer than
/// [`MAX_HEAD`] is cut there: the tap shows what it can and never grows without bound.
fn take_line(line: &mut Vec<u8>, rest: &[u8]) -> (usize, bool) {
    let (taken, complete) = match rest.iter().position(|&b| b == b'\n') {
        Some(at) => (at + 1, true),
        None => (rest.len(), false),
    };
    let room = MAX_HEAD.saturating_sub(line.len());
    let content = &rest[..taken - usize::from(complete)];
    line.extend_from_slice(&content[..content.len().min(room)]);
    (taken, complete)
}

impl Content {
    fn feed(&mut self, bytes: &[u8], lines: &mut Vec<String>) {
        match self {
            Content::EventStream(sse) => sse.feed(bytes, lines),
            Content::Opaque { shown, total } => {
                *total += bytes.len() as u64;
                let room = SHOWN_PAYLOAD.saturating_sub(shown.len());
                shown.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
        }
    }

    fn finish(&mut self, lines: &mut Vec<String>) {
        match self {
            Content::EventStream(sse) => sse.finish(lines),
            Content::Opaque { shown, total } => {
                if *total > 0 {
                    lines.push(format!("body: {} bytes: {}", total, quote(shown, *total)));
                }
                shown.clear();
                *total = 0;
            }
        }
    }
}

/// Splits an event stream into its lines as the HTML Standard does (CR, LF or CRLF), and
/// shows each line raw: the field, the comment, or the blank line that dispatches.
#[derive(Debug, Default)]
struct SseLines {
    line: Vec<u8>,
    /// The previous byte was a CR: an LF right after it belongs to the same line end.
    after_cr: bool,
}

impl SseLines {
    fn feed(&mut self, bytes: &[u8], lines: &mut Vec<String>) {
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(lines);
                }
                b'\n' => self.end_line(lines),
                // Lines longer than MAX_HEAD are shown cut, never held whole.
                _ if self.line.len() < MAX_HEAD => self.line.push(b),
                _ => {}
            }
        }
    }

    // ANCHOR: sse_line
    fn end_line(&mut self, lines: &mut Vec<String>) {
        let line = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        lines.push(if line.is_empty() {
            "  (blank line: dispatch)".to_owned()
        } else if let Some(comment) = line.strip_prefix(':') {
            format!("  comment {comment:?}")
        } else {
            match line.split_once(':') {
                Some((field, value)) => {
                    format!("  {field}: {:?}", value.strip_prefix(' ').unwrap_or(value))
                }
                None => format!("  {line}: \"\" (a field with no colon)"),
            }
        });
    }
    // ANCHOR_END: sse_line

    fn finish(&mut self, lines: &mut Vec<String>) {
        if !self.line.is_empty() {
            lines.push(format!(
                "  {:?} (unterminated line at end of body: discarded)",
                String::from_utf8_lossy(&self.line)
            ));
            self.line.clear();
        }
    }
}

/// WebSocket frames in one direction, taken in pieces as they arrive.
#[derive(Debug)]
struct Frames {
    /// Header bytes collected until [`FrameHeader::parse`] succeeds (at most 14).
    header: Vec<u8>,
    /// The frame whose payload is being read.
    current: Option<CurrentFrame>,
    broken: bool,
}

#[derive(Debug)]
struct CurrentFrame {
    header: FrameHeader,
    header_len: usize,
    left: u64,
    /// The first [`SHOWN_PAYLOAD`] bytes, as they were on the wire.
    shown: Vec<u8>,
}

impl Frames {
    fn new() -> Self {
        Frames {
            header: Vec::new(),
            current: None,
            broken: false,
        }
    }

    // ANCHOR: frames_feed
    fn feed(&mut self, input: &[u8], lines: &mut Vec<String>) -> usize {
        if self.broken {
            lines.push(format!(
                "{} bytes after an invalid frame (not annotated)",
                input.len()
            ));
            return input.len();
        }
        let mut used = 0;
        while used < input.len() {
            if let Some(frame) = &mut self.current {
                let rest = &input[used..];
                let take = rest
                    .len()
                    .min(usize::try_from(frame.left).unwrap_or(usize::MAX));
                let room = SHOWN_PAYLOAD.saturating_sub(frame.shown.len());
                frame.shown.extend_from_slice(&rest[..take.min(room)]);
                frame.left -= take as u64;
                used += take;
                if frame.left == 0 {
                    describe_frame(frame, lines);
                    self.current = None;
                }
                continue;
            }
            // Collect header bytes one read at a time; FrameHeader::parse is stateless and
            // looks at no more than 14 bytes.
            let before = self.header.len();
            let room = websocket::frame::MAX_HEADER_LEN - before;
            let take = room.min(input.len() - used);
            self.header.extend_from_slice(&input[used..used + take]);
            match FrameHeader::parse(&self.header) {
                Ok(None) => used += take,
                Ok(Some((header, header_len))) => {
                    used += header_len - before;
                    self.header.clear();
                    let frame = CurrentFrame {
                        header,
                        header_len,
                        left: header.payload_len,
                        shown: Vec::new(),
                    };
                    if frame.left == 0 {
                        describe_frame(&frame, lines);
                    } else {
                        self.current = Some(frame);
                    }
                }
                Err(e) => {
                    lines.push(format!("invalid frame header {}: {e}", hex(&self.header)));
                    self.broken = true;
                    return input.len();
                }
            }
        }
        used
    }
    // ANCHOR_END: frames_feed
}

// ANCHOR: describe_frame
fn describe_frame(frame: &CurrentFrame, lines: &mut Vec<String>) {
    let h = &frame.header;
    let bit = |on: bool| if on { '1' } else { '0' };
    let encoding = match frame.header_len - if h.mask.is_some() { 4 } else { 0 } {
        2 => "7-bit length",
        4 => "16-bit length (126 + 2 bytes)",
        _ => "64-bit length (127 + 8 bytes)",
    };
    let mask = match h.mask {
        Some(key) => format!("MASK=1 key={}", hex(&key)),
        None => "MASK=0".to_owned(),
    };
    lines.push(format!(
        "frame FIN={} RSV={}{}{} opcode={:#x} ({}) {mask} len={} ({encoding}), {} bytes on the wire",
        bit(h.fin),
        bit(h.rsv1),
        bit(h.rsv2),
        bit(h.rsv3),
        h.opcode.as_u8(),
        opcode_name(h.opcode),
        h.payload_len,
        frame.header_len as u64 + h.payload_len,
    ));
    if h.payload_len == 0 {
        return;
    }
    let mut unmasked = frame.shown.clone();
    if let Some(key) = h.mask {
        lines.push(format!(
            "  masked:   {}",
            hex_payload(&frame.shown, h.payload_len)
        ));
        websocket::mask::apply_mask(&mut unmasked, key, 0);
    }
    match h.opcode {
        OpCode::Close if unmasked.len() >= 2 => {
            let code = u16::from_be_bytes([unmasked[0], unmasked[1]]);
            lines.push(format!(
                "  close code {code}, reason {}",
                quote(&unmasked[2..], h.payload_len - 2)
            ));
        }
        OpCode::Binary => lines.push(format!(
            "  payload:  {}",
            hex_payload(&unmasked, h.payload_len)
        )),
        _ => lines.push(format!("  payload:  {}", quote(&unmasked, h.payload_len))),
    }
}
// ANCHOR_END: describe_frame

fn opcode_name(opcode: OpCode) -> &'static str {
    match opcode {
        OpCode::Continuation => "continuation",
        OpCode::Text => "text",
        OpCode::Binary => "binary",
        OpCode::Close => "close",
        OpCode::Ping => "ping",
        OpCode::Pong => "pong",
    }
}

/// The shown bytes as a quoted string, with how many more there were.
fn quote(shown: &[u8], total: u64) -> String {
    let mut text = format!("{:?}", String::from_utf8_lossy(shown));
    if total > shown.len() as u64 {
        let _ = write!(text, " ... ({} more bytes)", total - shown.len() as u64);
    }
    text
}

fn hex_payload(shown: &[u8], total: u64) -> String {
    let mut text = hex(shown);
    if total > shown.len() as u64 {
        let _ = write!(text, " ... ({} more bytes)", total - shown.len() as u64);
    }
    text
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// 16 bytes a line: offset, hex, and the printable ASCII.
fn hex_dump(bytes: &[u8], lines: &mut Vec<String>) {
    lines.push(format!("read {} bytes:", bytes.len()));
    for (row, chunk) in bytes.chunks(16).enumerate() {
        let mut line = format!("  {:08x}  ", row * 16);
        for b in chunk {
            let _ = write!(line, "{b:02x} ");
        }
        for _ in chunk.len()..16 {
            line.push_str("   ");
        }
        line.push(' ');
        line.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        lines.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] =
        b"GET /events HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n";
    const RESPONSE: &[u8] =
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n\
        12\r\nid: 1\ndata: hello\n\r\n\
        10\r\n\ndata: a\r\n\r\n: x\n\r\n\
        0\r\n\r\n";

    fn annotate(splits: usize) -> Vec<String> {
        let mut tap = Annotator::new(TapOptions::default());
        let mut lines = Vec::new();
        for (direction, bytes) in [
            (Direction::ToServer, REQUEST),
            (Direction::ToClient, RESPONSE),
        ] {
            for piece in bytes.chunks(splits) {
                lines.extend(tap.feed(direction, piece));
            }
        }
        lines
    }

    #[test]
    fn event_stream_in_chunks() {
        let lines = annotate(usize::MAX);
        let expected = [
            "GET /events HTTP/1.1",
            "host: 127.0.0.1",
            "accept: text/event-stream",
            "(end of head, 68 bytes)",
            "HTTP/1.1 200 OK",
            "content-type: text/event-stream",
            "transfer-encoding: chunked",
            "(end of head, 80 bytes)",
            "[chunk 1: 18 bytes]",
            "  id: \"1\"",
            "  data: \"hello\"",
            "[chunk 2: 16 bytes]",
            "  (blank line: dispatch)",
            "  data: \"a\"",
            "  (blank line: dispatch)",
            "  comment \" x\"",
            "[last chunk: size 0]",
            "(end of body)",
        ];
        assert_eq!(lines, expected);
    }

    // ANCHOR: test_any_read_size
    #[test]
    fn same_annotation_for_any_read_size() {
        let whole = annotate(usize::MAX);
        for size in [1, 2, 3, 7, 50] {
            assert_eq!(annotate(size), whole, "reads of {size} bytes");
        }
    }
    // ANCHOR_END: test_any_read_size

    // ANCHOR: test_frames_after_101
    #[test]
    fn websocket_frames_after_101() {
        let mut tap = Annotator::new(TapOptions::default());
        tap.feed(
            Direction::ToServer,
            b"GET / HTTP/1.1\r\nupgrade: websocket\r\n\r\n",
        );
        let lines = tap.feed(
            Direction::ToClient,
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x02hi",
        );
        assert_eq!(
            lines[2],
            "(switching protocols: WebSocket frames follow, both ways)"
        );
        assert_eq!(
            lines[3],
            "frame FIN=1 RSV=000 opcode=0x1 (text) MASK=0 len=2 (7-bit length), 4 bytes on the wire"
        );
        assert_eq!(lines[4], "  payload:  \"hi\"");
        // RFC 6455 §5.7: a masked "Hello", split inside its masking key.
        let lines: Vec<String> = [&b"\x81\x85\x37\xfa"[..], b"\x21\x3d\x7f\x9f\x4d\x51\x58"]
            .iter()
            .flat_map(|piece| tap.feed(Direction::ToServer, piece))
            .collect();
        assert_eq!(
            lines,
            [
                "frame FIN=1 RSV=000 opcode=0x1 (text) MASK=1 key=37fa213d len=5 (7-bit length), 11 bytes on the wire",
                "  masked:   7f9f4d5158",
                "  payload:  \"Hello\"",
            ]
        );
        // A 16-bit length, and a Close with a code and a reason.
        let mut big = vec![0x82, 126, 0x01, 0x00];
        big.extend(std::iter::repeat_n(0xAB, 256));
        let lines = tap.feed(Direction::ToClient, &big);
        assert!(
            lines[0].contains("len=256 (16-bit length (126 + 2 bytes)), 260 bytes on the wire"),
            "{lines:?}"
        );
        assert!(lines[1].ends_with("... (192 more bytes)"), "{lines:?}");
        let lines = tap.feed(Direction::ToClient, b"\x88\x04\x03\xe8ok");
        assert_eq!(lines[1], "  close code 1000, reason \"ok\"");
    }
    // ANCHOR_END: test_frames_after_101

    #[test]
    fn invalid_frame_stops_annotation_but_not_forwarding() {
        let mut tap = Annotator::new(TapOptions::default());
        tap.feed(
            Direction::ToClient,
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        );
        let lines = tap.feed(Direction::ToServer, b"\x83\x00rest");
        assert!(
            lines[0].starts_with("invalid frame header 8300"),
            "{lines:?}"
        );
        assert_eq!(
            tap.feed(Direction::ToServer, b"more"),
            ["4 bytes after an invalid frame (not annotated)"]
        );
    }

    #[test]
    fn an_endless_head_is_bounded() {
        let mut tap = Annotator::new(TapOptions::default());
        let line = vec![b'a'; 1024];
        let mut lines = Vec::new();
        for _ in 0..MAX_HEAD / 1024 {
            lines.extend(tap.feed(Direction::ToServer, &line));
        }
        assert_eq!(
            lines,
            [format!(
                "(no end of head within {MAX_HEAD} bytes: rest not annotated)"
            )]
        );
        assert!(tap.to_server.head.bytes().is_empty());
        assert_eq!(
            tap.feed(Direction::ToServer, b"x"),
            ["1 bytes (not annotated)"]
        );
    }

    #[test]
    fn content_length_body_then_next_request() {
        let mut tap = Annotator::new(TapOptions::default());
        let lines = tap.feed(
            Direction::ToServer,
            b"POST /chat HTTP/1.1\r\ncontent-length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
        );
        assert_eq!(lines[3], "body: 5 bytes: \"hello\"");
        assert_eq!(lines[4], "(end of body)");
        assert_eq!(lines[5], "GET / HTTP/1.1");
    }
}
