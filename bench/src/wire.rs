//! Bytes on the wire, counted from real exchanges with WireLab's servers on 127.0.0.1.
//!
//! The client here sends and reads raw bytes, so what it counts is exactly the TCP payload
//! both ways. Every byte is also fed, in order and direction by direction, to the tap's
//! sans-I/O [`Annotator`] (the engine of `wirelab tap`), and the tap's description of each
//! unit (the frame header, the HTTP chunk) is reported next to the count, so the figure and
//! what it consists of come from the same bytes.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use websocket::frame::{Frame, FrameHeader, OpCode};
use wirelab::tap::{Annotator, Direction, TapOptions};

use crate::load::{Result, Server};

/// One measured unit.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct WireRow {
    /// What crossed: "WebSocket handshake", "SSE event", ...
    pub(crate) what: String,
    /// Application payload bytes in it (0 for a handshake).
    pub(crate) payload: usize,
    /// Bytes client to server.
    pub(crate) to_server: usize,
    /// Bytes server to client.
    pub(crate) to_client: usize,
    /// The tap's first annotation line of the unit, for each direction that carried bytes.
    pub(crate) tap: Vec<String>,
}

/// A connection whose every byte is counted and annotated.
struct Tapped {
    stream: TcpStream,
    annotator: Annotator,
    to_server: usize,
    to_client: usize,
    lines: Vec<String>,
}

impl Tapped {
    async fn connect(addr: &str) -> Result<Tapped> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Tapped {
            stream,
            annotator: Annotator::new(TapOptions::default()),
            to_server: 0,
            to_client: 0,
            lines: Vec::new(),
        })
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).await?;
        self.to_server += bytes.len();
        let lines = self.annotator.feed(Direction::ToServer, bytes);
        self.keep(lines);
        Ok(())
    }

    /// Reads until `complete(received so far)` holds.
    async fn receive_until(&mut self, complete: impl Fn(&[u8]) -> bool) -> Result<Vec<u8>> {
        let mut received = Vec::new();
        let mut buf = [0u8; 64 << 10];
        while !complete(&received) {
            let read = self.stream.read(&mut buf);
            let n = tokio::time::timeout(std::time::Duration::from_secs(10), read).await??;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            received.extend_from_slice(&buf[..n]);
            let lines = self.annotator.feed(Direction::ToClient, &buf[..n]);
            self.keep(lines);
        }
        self.to_client += received.len();
        Ok(received)
    }

    /// Keeps the tap's lines that describe a unit: a request or status line, an HTTP chunk's
    /// size, a WebSocket frame header.
    fn keep(&mut self, lines: Vec<String>) {
        let wanted = |l: &str| l.contains("HTTP/1.1") || l.contains("chunk") || l.contains("len=");
        self.lines.extend(lines.into_iter().filter(|l| wanted(l)));
    }

    /// The counts since the last call, as a row.
    fn row(&mut self, what: impl Into<String>, payload: usize) -> WireRow {
        let row = WireRow {
            what: what.into(),
            payload,
            to_server: self.to_server,
            to_client: self.to_client,
            tap: std::mem::take(&mut self.lines),
        };
        self.to_server = 0;
        self.to_client = 0;
        row
    }
}

fn head_complete(bytes: &[u8]) -> bool {
    bytes.windows(4).any(|w| w == b"\r\n\r\n")
}

fn whole_frame(bytes: &[u8]) -> bool {
    matches!(FrameHeader::parse(bytes), Ok(Some((h, n))) if bytes.len() >= n + h.payload_len as usize)
}

/// The payload sizes measured: a short chat message and a large one.
pub(crate) const SIZES: [usize; 2] = [20, 16 << 10];

/// Measures the WebSocket handshake and one message each way per size, and the SSE handshake,
/// one event per size and one HTTP POST per size (the SSE way for a client to send).
pub(crate) async fn measure() -> Result<Vec<WireRow>> {
    let mut rows = Vec::new();

    // WebSocket: handshake, then one echo per size (masked up, unmasked down).
    let server = Server::start(&["serve-ws".into(), "--impl".into(), "wirelab".into()]).await?;
    let mut ws = Tapped::connect(&server.addr).await?;
    let config = websocket::Limits::default();
    let (_, request) = websocket::handshake::ClientHandshake::new(&server.addr, "/", &[], &config)?;
    ws.send(&request).await?;
    ws.receive_until(head_complete).await?;
    rows.push(ws.row("WebSocket opening handshake", 0));
    for size in SIZES {
        let mut frame = Vec::new();
        Frame::new(OpCode::Text, "a".repeat(size).into_bytes())
            .masked([0x37, 0xfa, 0x21, 0x3d])
            .encode(&mut frame);
        ws.send(&frame).await?;
        ws.receive_until(whole_frame).await?;
        rows.push(ws.row(
            format!("WebSocket text message, {size} B (masked up, unmasked down)"),
            size,
        ));
    }
    server.stop().await;

    // SSE: one server per event size, each publishing one event when its client arrives.
    for size in SIZES {
        let args = [
            "serve-sse",
            "--impl",
            "wirelab",
            "--clients",
            "1",
            "--events",
            "1",
            "--data-len",
            &size.to_string(),
        ]
        .map(String::from);
        let server = Server::start(&args).await?;
        let mut sse = Tapped::connect(&server.addr).await?;
        let request = format!(
            "GET /events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
            server.addr
        );
        sse.send(request.as_bytes()).await?;
        // The server publishes as soon as the subscriber is in, so the event may share a
        // read with the response head: read both, then split the count at the head's end.
        let received = sse
            .receive_until(|b| b.windows(4).any(|w| w == b"\n\n\r\n"))
            .await?;
        let head_len = received
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("no response head")?
            + 4;
        let mut head_row = sse.row("SSE request and response head", 0);
        head_row.to_client = head_len;
        let (chunk_lines, head_lines) =
            head_row.tap.into_iter().partition(|l| l.contains("[chunk"));
        head_row.tap = head_lines;
        rows.push(WireRow {
            what: format!("SSE event, {size} B of data (HTTP/1.1 chunked)"),
            payload: size,
            to_server: 0,
            to_client: received.len() - head_len,
            tap: chunk_lines,
        });
        if size == SIZES[0] {
            rows.insert(rows.len() - 1, head_row);
        }

        // The SSE way up: an HTTP POST per client message, on its own keep-alive connection.
        let mut post = Tapped::connect(&server.addr).await?;
        let body = "a".repeat(size);
        let request = format!(
            "POST /publish HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            server.addr,
            body.len()
        );
        post.send(request.as_bytes()).await?;
        post.receive_until(head_complete).await?;
        rows.push(post.row(format!("HTTP POST, {size} B body, answered 204"), size));
        server.stop().await;
    }
    Ok(rows)
}

/// One binary payload, sent both ways a server can push it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct BinaryRow {
    /// What the payload is.
    pub(crate) what: String,
    /// Its size in bytes.
    pub(crate) payload: usize,
    /// Server to client, as one WebSocket Binary frame.
    pub(crate) websocket: usize,
    /// Server to client, as Base64 in one SSE `data:` line (one event, HTTP/1.1 chunked).
    pub(crate) sse_base64: usize,
    /// The tap's line for each.
    pub(crate) tap: Vec<String>,
}

/// A real image: a screenshot of the demo's ticker page, as Chromium saved it (PNG, already
/// compressed, so it is as incompressible as most binary payloads).
const IMAGE: &[u8] = include_bytes!("../data/demo-ticker.png");

/// Pseudo-random bytes (xorshift), the same on every run: binary data with no structure.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The payloads measured by [`measure_binary`].
fn binary_payloads() -> Vec<(String, Vec<u8>)> {
    let mut payloads: Vec<(String, Vec<u8>)> = [16, 256, 4 << 10, 64 << 10]
        .into_iter()
        .map(|len| (format!("{len} random bytes"), noise(len)))
        .collect();
    payloads.push(("a PNG screenshot (bench/data)".into(), IMAGE.to_vec()));
    payloads
}

/// Binary payloads pushed by a server: as a WebSocket Binary frame (echoed by the WebSocket
/// server, so the bytes counted are the server's frame) and as Base64 in one event's `data:`
/// line (published with a POST, so the bytes counted are the server's event and its chunk
/// framing). Both counted as they arrive at the client.
pub(crate) async fn measure_binary() -> Result<Vec<BinaryRow>> {
    use base64::Engine as _;
    let payloads = binary_payloads();
    let mut rows = Vec::new();

    let ws_server = Server::start(&["serve-ws".into(), "--impl".into(), "wirelab".into()]).await?;
    let mut ws = Tapped::connect(&ws_server.addr).await?;
    let limits = websocket::Limits::default();
    let (_, request) =
        websocket::handshake::ClientHandshake::new(&ws_server.addr, "/", &[], &limits)?;
    ws.send(&request).await?;
    ws.receive_until(head_complete).await?;
    ws.row("handshake", 0);

    // `--clients 0`: the server publishes only what is POSTed to it.
    let sse_server =
        Server::start(&["serve-sse".into(), "--impl".into(), "wirelab".into()]).await?;
    let mut sse = Tapped::connect(&sse_server.addr).await?;
    let request = format!(
        "GET /events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        sse_server.addr
    );
    sse.send(request.as_bytes()).await?;
    sse.receive_until(head_complete).await?;
    sse.row("head", 0);

    for (what, payload) in payloads {
        let mut frame = Vec::new();
        Frame::new(OpCode::Binary, payload.clone())
            .masked([0x37, 0xfa, 0x21, 0x3d])
            .encode(&mut frame);
        ws.send(&frame).await?;
        ws.receive_until(whole_frame).await?;
        let ws_row = ws.row("", payload.len());

        let text = base64::engine::general_purpose::STANDARD.encode(&payload);
        let mut post = Tapped::connect(&sse_server.addr).await?;
        let request = format!(
            "POST /publish HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{text}",
            sse_server.addr,
            text.len()
        );
        post.send(request.as_bytes()).await?;
        post.receive_until(head_complete).await?;
        sse.receive_until(|b| b.ends_with(b"\n\n\r\n")).await?;
        let sse_row = sse.row("", payload.len());

        rows.push(BinaryRow {
            what,
            payload: payload.len(),
            websocket: ws_row.to_client,
            sse_base64: sse_row.to_client,
            // The server's side only: the client's masked frame up is not what is compared.
            tap: ws_row
                .tap
                .into_iter()
                .filter(|line| !line.contains("MASK="))
                .chain(sse_row.tap)
                .collect(),
        });
    }
    ws_server.stop().await;
    sse_server.stop().await;
    Ok(rows)
}
