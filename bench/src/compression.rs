//! What compression does to the examples' traffic: bytes per message on both protocols with
//! and without it, CPU per message, memory per idle connection of permessage-deflate's state,
//! and messages/s of a compressed echo against WireLab's own server, yawc's and Python's
//! `websockets`.
//!
//! The corpora are the examples' own messages: the ticker's JSON ticks
//! (`wirelab_examples::ticker::tick_json` over its price walk), chat lines as the chat example
//! relays them (`chat::message_json`), and the streamed text's tokens (`progress::tokens`).
//! Bytes are counted by the wire layers themselves, server to client: a WebSocket frame from
//! `websocket::Connection` (with the extension set as negotiated), an SSE event from
//! `sse::Event::to_bytes` inside its HTTP/1.1 chunk, gzip'd by `sse::gzip` when compressed.

use std::time::{Duration, Instant};

use clap::ValueEnum;
use serde_json::json;
use websocket::deflate::{Deflate, PerMessageDeflate};
use websocket::{Connection, Limits, Message, Role};
use wirelab_examples::{chat, progress, ticker};

use crate::load::{Result, Server};

/// One of the three corpora.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CorpusName {
    /// 1,000 ticks of the ticker.
    Ticker,
    /// 300 chat lines.
    Chat,
    /// The streamed text's tokens, 10 times over.
    Text,
}

fn corpus(name: CorpusName) -> Vec<String> {
    match name {
        CorpusName::Ticker => ticker::Prices::default()
            .take(1000)
            .enumerate()
            .map(|(seq, cents)| ticker::tick_json(seq as u64, cents))
            .collect(),
        CorpusName::Chat => {
            let lines = [
                "hello everyone",
                "is the ticker live for you too?",
                "yes, 101.25 here",
                "reconnecting after a cut works on SSE",
                "the WebSocket one needs a refresh",
                "who wants to pair on the exercise?",
            ];
            (0..300)
                .map(|i| {
                    let from = format!("guest-{}", i % 7 + 1);
                    let sent = json!({"text": lines[i % lines.len()], "t": 1_700_000_000 + i});
                    chat::message_json(&from, &sent.to_string())
                })
                .collect()
        }
        CorpusName::Text => (0..10)
            .flat_map(|_| progress::tokens(progress::TEXT))
            .map(str::to_owned)
            .collect(),
    }
}

fn agreed(bits: u8, takeover: bool) -> PerMessageDeflate {
    PerMessageDeflate {
        server_no_context_takeover: !takeover,
        client_no_context_takeover: !takeover,
        server_max_window_bits: bits,
        client_max_window_bits: bits,
    }
}

/// One row of `compression`: a corpus, a protocol and an encoding.
#[derive(Debug)]
pub(crate) struct Row {
    corpus: CorpusName,
    what: &'static str,
    messages: usize,
    payload: usize,
    wire: usize,
    /// Nanoseconds per message to encode (compress) and decode (inflate), if compressed.
    encode_ns: Option<f64>,
    decode_ns: Option<f64>,
}

impl Row {
    pub(crate) fn json(&self) -> serde_json::Value {
        json!({
            "kind": "compression",
            "corpus": format!("{:?}", self.corpus).to_lowercase(),
            "what": self.what,
            "messages": self.messages,
            "payload_per_message": self.payload as f64 / self.messages as f64,
            "wire_per_message": self.wire as f64 / self.messages as f64,
            "encode_ns": self.encode_ns,
            "decode_ns": self.decode_ns,
        })
    }
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} {}: {:.1} B payload, {:.1} B on the wire per message",
            self.corpus,
            self.what,
            self.payload as f64 / self.messages as f64,
            self.wire as f64 / self.messages as f64
        )?;
        if let (Some(e), Some(d)) = (self.encode_ns, self.decode_ns) {
            write!(f, ", {e:.0} ns to compress, {d:.0} ns to inflate")?;
        }
        Ok(())
    }
}

/// Every corpus through every encoding; the CPU figures average `rounds` passes.
pub(crate) fn measure(rounds: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    for name in [CorpusName::Ticker, CorpusName::Chat, CorpusName::Text] {
        let messages = corpus(name);
        let payload: usize = messages.iter().map(String::len).sum();
        let row = |what, wire, encode_ns, decode_ns| Row {
            corpus: name,
            what,
            messages: messages.len(),
            payload,
            wire,
            encode_ns,
            decode_ns,
        };
        rows.push(row(
            "websocket",
            websocket_bytes(&messages, None),
            None,
            None,
        ));
        for (what, takeover) in [
            ("websocket+deflate", true),
            ("websocket+deflate, no context takeover", false),
        ] {
            let params = Some(agreed(15, takeover));
            let wire = websocket_bytes(&messages, params);
            let (encode, decode) = deflate_cpu(&messages, agreed(15, takeover), rounds);
            rows.push(row(what, wire, Some(encode), Some(decode)));
        }
        rows.push(row("sse", sse_bytes(&messages, false), None, None));
        let (encode, decode) = gzip_cpu(&messages, rounds);
        let wire = sse_bytes(&messages, true);
        rows.push(row("sse+gzip", wire, Some(encode), Some(decode)));
    }
    rows
}

/// What a server's connection writes for the corpus, one Text message each.
fn websocket_bytes(messages: &[String], deflate: Option<PerMessageDeflate>) -> usize {
    let mut conn = Connection::new(Role::Server, Limits::default());
    if let Some(params) = deflate {
        conn.set_deflate(params, 6);
    }
    let mut total = 0;
    for message in messages {
        conn.send(Message::Text(message.clone())).expect("open");
        total += conn.take_output().len();
    }
    total
}

/// What an SSE server writes for the corpus, one event each (with an id, as the examples
/// send them), each in its HTTP/1.1 chunk.
fn sse_bytes(messages: &[String], gzip: bool) -> usize {
    let mut encoder = gzip.then(|| sse::gzip::GzipEncoder::new(sse::gzip::Flush::EveryEvent));
    messages
        .iter()
        .enumerate()
        .map(|(i, message)| {
            let event = sse_event(i, message);
            let body = match &mut encoder {
                Some(encoder) => encoder.encode(&event).len(),
                None => event.len(),
            };
            format!("{body:x}\r\n").len() + body + 2
        })
        .sum()
}

fn sse_event(i: usize, message: &str) -> Vec<u8> {
    sse::Event::new()
        .data(message)
        .id(i.to_string())
        .expect("a valid id")
        .to_bytes()
}

fn per_message(elapsed: Duration, messages: usize) -> f64 {
    elapsed.as_nanos() as f64 / messages as f64
}

/// Nanoseconds per message to compress (server side) and to inflate (client side).
fn deflate_cpu(messages: &[String], params: PerMessageDeflate, rounds: usize) -> (f64, f64) {
    let mut compressed = Vec::with_capacity(messages.len());
    let started = Instant::now();
    for _ in 0..rounds {
        // A fresh context each round: each round's output is what one connection sends.
        let mut sender = Deflate::new(Role::Server, params, 6);
        compressed.clear();
        for message in messages {
            let mut out = Vec::new();
            sender.compress(message.as_bytes(), &mut out);
            compressed.push(out);
        }
    }
    let encode = per_message(started.elapsed(), rounds * messages.len());
    let started = Instant::now();
    for _ in 0..rounds {
        let mut receiver = Deflate::new(Role::Client, params, 6);
        for piece in &compressed {
            let mut out = Vec::new();
            receiver
                .inflate(piece, true, &mut out, 1 << 20)
                .expect("inflates");
        }
    }
    (
        encode,
        per_message(started.elapsed(), rounds * messages.len()),
    )
}

/// The same for SSE with gzip, flushed per event.
fn gzip_cpu(messages: &[String], rounds: usize) -> (f64, f64) {
    let events: Vec<Vec<u8>> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| sse_event(i, m))
        .collect();
    let mut wire = Vec::new();
    let started = Instant::now();
    for _ in 0..rounds {
        let mut encoder = sse::gzip::GzipEncoder::new(sse::gzip::Flush::EveryEvent);
        wire.clear();
        for event in &events {
            wire.push(encoder.encode(event));
        }
    }
    let encode = per_message(started.elapsed(), rounds * events.len());
    let started = Instant::now();
    for _ in 0..rounds {
        let mut decoder = sse::gzip::GzipDecoder::default();
        for piece in &wire {
            decoder.decode(piece, |_| {}).expect("gzip");
        }
    }
    (
        encode,
        per_message(started.elapsed(), rounds * events.len()),
    )
}

/// The memory figure of one configuration.
#[derive(Debug)]
pub(crate) struct MemoryRow {
    bits: u8,
    takeover: bool,
    connections: usize,
    bytes_per_connection: f64,
}

impl MemoryRow {
    pub(crate) fn json(&self) -> serde_json::Value {
        json!({
            "kind": "deflate-memory",
            "bits": self.bits,
            "takeover": self.takeover,
            "connections": self.connections,
            "bytes_per_connection": self.bytes_per_connection,
        })
    }
}

impl std::fmt::Display for MemoryRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "deflate state, window bits {}, context takeover {}: {:.1} KiB per idle connection",
            self.bits,
            self.takeover,
            self.bytes_per_connection / 1024.0
        )
    }
}

fn rss() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or("no VmRSS in /proc/self/status")?;
    Ok(kib * 1024)
}

/// `connections` server connections that agreed on the extension at `bits`, each after one
/// message each way (so the state a connection keeps is allocated and touched), then idle:
/// what this process's resident memory grew by, per connection, beyond the connections
/// themselves (measured the same way without the extension and subtracted).
pub(crate) fn memory(bits: u8, takeover: bool, connections: usize) -> Result<MemoryRow> {
    let message = corpus(CorpusName::Chat).concat();
    let grow = |deflate: bool| -> Result<(u64, Vec<Connection>)> {
        let before = rss()?;
        let mut held = Vec::with_capacity(connections);
        for _ in 0..connections {
            // Each connection's own peer, whose context its messages assume.
            let mut peer = Connection::new(Role::Client, Limits::default());
            if deflate {
                peer.set_deflate(agreed(bits, takeover), 6);
            }
            let mut conn = Connection::new(Role::Server, Limits::default());
            if deflate {
                conn.set_deflate(agreed(bits, takeover), 6);
            }
            peer.send(Message::Text(message.clone()))?;
            conn.receive(&peer.take_output());
            conn.next_event()?;
            conn.send(Message::Text(message.clone()))?;
            conn.take_output();
            held.push(conn);
        }
        Ok((rss()?.saturating_sub(before), held))
    };
    let (plain, plain_held) = grow(false)?;
    let (with, held) = grow(true)?;
    drop((plain_held, held));
    Ok(MemoryRow {
        bits,
        takeover,
        connections,
        bytes_per_connection: with.saturating_sub(plain) as f64 / connections as f64,
    })
}

/// The echo peer of `deflate-echo`, each accepting the offer of WireLab's client
/// (`permessage-deflate; client_max_window_bits`) with its own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Peer {
    /// `wirelab-bench serve-ws --impl wirelab-deflate`: `DeflateConfig::on()`, level 6,
    /// context takeover, 15-bit windows both ways.
    Wirelab,
    /// `wirelab-bench serve-ws --impl yawc-deflate`: set to the same as WireLab's
    /// (`servers::yawc_options`).
    Yawc,
    /// `bench/deflate_echo.py`, Python's `websockets` (`$WIRELAB_PYTHON`, else `python3`) with
    /// its defaults: level 6, context takeover, 12-bit windows both ways, `memLevel` 5.
    Python,
}

impl Peer {
    /// What the peer must agree to for its row to mean what the book says of it: the two Rust
    /// servers are compared at WireLab's settings; Python's `websockets` runs at its defaults,
    /// whatever its version makes them (the row shows them).
    fn expected(self) -> Option<PerMessageDeflate> {
        match self {
            Peer::Wirelab | Peer::Yawc => Some(agreed(15, true)),
            Peer::Python => None,
        }
    }
}

/// The extension the handshake agreed, or why the measurement cannot go on: an echo without
/// compression, or at other settings than the comparison assumes, would be a different
/// measurement under the same name.
fn check_agreed(peer: Peer, negotiated: Option<PerMessageDeflate>) -> Result<PerMessageDeflate> {
    let Some(negotiated) = negotiated else {
        return Err(format!("the {peer:?} server did not agree to permessage-deflate").into());
    };
    match peer.expected() {
        Some(expected) if negotiated != expected => Err(format!(
            "the {peer:?} server agreed to {negotiated:?}, the comparison expects {expected:?}"
        )
        .into()),
        _ => Ok(negotiated),
    }
}

/// The result of `deflate-echo`.
#[derive(Debug)]
pub(crate) struct EchoRow {
    peer: Peer,
    corpus: CorpusName,
    extensions: String,
    messages: u64,
    seconds: f64,
    server_cpu_ns: f64,
}

impl EchoRow {
    pub(crate) fn json(&self) -> serde_json::Value {
        json!({
            "kind": "deflate-echo",
            "peer": format!("{:?}", self.peer).to_lowercase(),
            "corpus": format!("{:?}", self.corpus).to_lowercase(),
            "extensions": self.extensions,
            "messages": self.messages,
            "messages_per_second": self.messages as f64 / self.seconds,
            "server_cpu_ns_per_message": self.server_cpu_ns,
        })
    }
}

impl std::fmt::Display for EchoRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "deflate echo, {:?} peer, {:?}: {:.0} messages/s, {:.0} ns of server CPU each ({})",
            self.peer,
            self.corpus,
            self.messages as f64 / self.seconds,
            self.server_cpu_ns,
            self.extensions
        )
    }
}

/// One client connection offering permessage-deflate sends the corpus round and round, one
/// message at a time, for `seconds` or `max_messages`, checking every echo.
pub(crate) async fn echo(
    peer: Peer,
    name: CorpusName,
    seconds: f64,
    max_messages: u64,
) -> Result<EchoRow> {
    let server = match peer {
        Peer::Wirelab | Peer::Yawc => {
            let which = if peer == Peer::Wirelab {
                "wirelab-deflate"
            } else {
                "yawc-deflate"
            };
            let args = ["serve-ws", "--impl", which, "--max-seconds", "600"];
            Server::start(&args.map(String::from)).await?
        }
        Peer::Python => {
            let python = std::env::var_os("WIRELAB_PYTHON").unwrap_or_else(|| "python3".into());
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/deflate_echo.py");
            Server::start_program(std::path::Path::new(&python), &[script.to_owned()]).await?
        }
    };
    let mut options = websocket::io::ClientOptions::default();
    options.config.deflate = websocket::DeflateConfig::on();
    let url = format!("ws://{}/", server.addr);
    let (mut ws, _) = websocket::io::connect_with(&url, &options).await?;
    let extensions = check_agreed(peer, ws.deflate())?.response_value();
    let messages = corpus(name);
    let cpu_before = server.cpu()?;
    let started = Instant::now();
    let limit = Duration::from_secs_f64(seconds);
    let mut sent = 0u64;
    while started.elapsed() < limit && sent < max_messages {
        let message = Message::Text(messages[sent as usize % messages.len()].clone());
        ws.send(message.clone()).await?;
        match ws.recv().await? {
            Some(echoed) if echoed == message => sent += 1,
            other => return Err(format!("a wrong echo: {other:?}").into()),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = server.cpu()?.saturating_sub(cpu_before);
    let _ = ws.close(1000, "").await;
    server.stop().await;
    Ok(EchoRow {
        peer,
        corpus: name,
        extensions,
        messages: sent,
        seconds: elapsed,
        server_cpu_ns: cpu.as_nanos() as f64 / sent.max(1) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use websocket::DeflateConfig;
    use websocket::deflate::negotiate::{check_response, offer_value, parse_extensions};

    /// yawc's answer to the offer `deflate-echo`'s client sends, as that client reads it.
    fn yawc_answer(options: yawc::Options) -> Option<PerMessageDeflate> {
        let mut request = http::Request::get("/")
            .header("host", "127.0.0.1")
            .header("upgrade", "websocket")
            .header("connection", "upgrade")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
            .header(
                "sec-websocket-extensions",
                offer_value(&DeflateConfig::on()),
            )
            .body(())
            .expect("a valid request");
        let (response, _) =
            yawc::WebSocket::upgrade_with_options(&mut request, options).expect("accepted");
        let answer = response
            .headers()
            .get_all("sec-websocket-extensions")
            .iter()
            .map(|v| v.as_bytes());
        let answer = parse_extensions(answer).expect("a valid answer");
        check_response(&answer, &DeflateConfig::on()).expect("an answer WireLab accepts")
    }

    #[test]
    fn yawc_agrees_to_wirelab_settings_and_only_with_its_windows_set() {
        let answer = yawc_answer(crate::servers::yawc_options());
        assert_eq!(
            check_agreed(Peer::Yawc, answer).ok(),
            Some(agreed(15, true))
        );
        // yawc's own default for a bare `client_max_window_bits` offer is 9 bits, which the
        // comparison refuses rather than measuring other work under the same name.
        let default = yawc_answer(yawc::Options::default().with_balanced_compression());
        assert_eq!(default.map(|d| d.client_max_window_bits), Some(9));
        assert!(check_agreed(Peer::Yawc, default).is_err());
    }

    #[test]
    fn an_echo_without_the_extension_is_refused_for_every_peer() {
        for peer in [Peer::Wirelab, Peer::Yawc, Peer::Python] {
            assert!(check_agreed(peer, None).is_err(), "{peer:?}");
        }
        // Python's `websockets` runs at its own defaults, which the row reports.
        assert_eq!(
            check_agreed(Peer::Python, Some(agreed(12, true))).ok(),
            Some(agreed(12, true))
        );
        assert!(check_agreed(Peer::Wirelab, Some(agreed(12, true))).is_err());
    }
}
