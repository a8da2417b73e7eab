//! The examples, seen through `wirelab tap`: the book's wire listings.
//!
//! Each test serves one example on a loopback port, puts the tap in front of it, runs a
//! scripted client through the tap, and snapshots what the tap printed
//! (`conformance/tests/snapshots/tap_examples__*.snap`). The book includes those snapshots, so a
//! listing in the book is what the code put on the wire.
//!
//! To make every run print the same bytes:
//!
//! - the script does one thing at a time, and waits for the tap to show its effect before the
//!   next;
//! - the data holds still: a ticker that publishes three prices and stops, replayed from
//!   `Last-Event-ID: 0` or `?last_id=0`;
//! - what is random or depends on the machine is replaced: the `date` header, the
//!   WebSocket key and accept, masking keys and masked bytes, and port numbers;
//! - the lines are grouped by connection (each connection's lines stay in the order the tap
//!   printed them), because two connections' lines may interleave differently from run to run.
//!
//! SSE requests are written by hand (as `curl -N` would send them), WebSocket ones by the
//! `websocket` crate's client.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use websocket::Message;
use wirelab::tap::{self, TapOptions};
use wirelab_examples::chat::Chat;
use wirelab_examples::progress::Progress;
use wirelab_examples::seats::Seats;
use wirelab_examples::server::{self, Handler, Server};
use wirelab_examples::ticker::Ticker;

/// The hang guard of one wait for the tap.
const WAIT: Duration = Duration::from_secs(20);

/// An example behind a tap.
struct Tapped {
    /// Where clients connect: the tap.
    addr: SocketAddr,
    server: Server,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Tapped {
    async fn start(handler: Handler) -> Tapped {
        let (upstream, server) = server::spawn_local(handler).await.expect("bind");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        // Room for every line a scenario prints, so the tap never waits for the test to read.
        let (out, lines) = mpsc::channel(4096);
        tokio::spawn(tap::run(listener, upstream, TapOptions::default(), out));
        Tapped {
            addr,
            server,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads the tap's output until a line contains `needle` (the `count`-th such line, counting
    /// from the start).
    async fn wait_for_nth(&mut self, needle: &str, count: usize) {
        let found = |seen: &[String]| seen.iter().filter(|l| l.contains(needle)).count() >= count;
        let wait = async {
            while !found(&self.seen) {
                match self.lines.recv().await {
                    Some(line) => self.seen.push(line),
                    None => break,
                }
            }
        };
        if tokio::time::timeout(WAIT, wait).await.is_err() || !found(&self.seen) {
            panic!(
                "the tap never showed {needle:?} ({count}); it showed:\n{}",
                self.seen.join("\n")
            );
        }
    }

    async fn wait_for(&mut self, needle: &str) {
        self.wait_for_nth(needle, 1).await;
    }

    /// What the tap printed, normalized and grouped by connection.
    fn transcript(mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        let mut connections: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for line in &self.seen {
            let id = line
                .strip_prefix('#')
                .and_then(|rest| rest.split(' ').next())
                .and_then(|id| id.parse().ok())
                .unwrap_or(0);
            connections.entry(id).or_default().push(normalize(line));
        }
        connections
            .into_values()
            .map(|lines| lines.join("\n"))
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}

/// Replaces what differs from run to run.
fn normalize(line: &str) -> String {
    let line = replace_ports(line);
    // "#1 C->S " or "#1 S->C ": the annotation follows.
    let prefix_len = line.match_indices(' ').nth(1).map_or(0, |(i, _)| i + 1);
    let (prefix, rest) = line.split_at(prefix_len.min(line.len()));
    let lower = rest.to_ascii_lowercase();
    for (header, placeholder) in [
        ("date:", "<date>"),
        ("sec-websocket-key:", "<random key>"),
        ("sec-websocket-accept:", "<accept, from the key>"),
    ] {
        if lower.starts_with(header) {
            return format!("{prefix}{} {placeholder}", &rest[..header.len()]);
        }
    }
    if let Some(masked) = rest.strip_prefix("  masked:   ") {
        let bytes = masked.split(' ').next().unwrap_or_default().len() / 2;
        return format!("{prefix}  masked:   <{bytes} bytes: the payload XOR the key>");
    }
    match rest.find(" MASK=") {
        Some(at) if rest.starts_with("frame ") => {
            let end = (at + " MASK=".len() + 8).min(rest.len());
            format!("{prefix}{} MASK=<random>{}", &rest[..at], &rest[end..])
        }
        _ => format!("{prefix}{rest}"),
    }
}

/// `127.0.0.1:12345` becomes `127.0.0.1:PORT`. (Ephemeral ports have five digits on Linux and
/// macOS, so the head sizes the tap prints do not change with them.)
fn replace_ports(line: &str) -> String {
    const HOST: &str = "127.0.0.1:";
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(HOST) {
        out.push_str(&rest[..at + HOST.len()]);
        rest = &rest[at + HOST.len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("PORT");
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// Sends a request head (and body) by hand, as `curl` would.
async fn send_request(addr: SocketAddr, head: &str, body: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let request = head.replace("HOST", &addr.to_string()) + body;
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    stream
}

/// A ticker that has published exactly three prices and stopped.
async fn still_ticker() -> Handler {
    let ticker = Ticker::start_with(Duration::from_millis(1), Some(3));
    let mut replay = ticker.feed().subscribe(Some("0")).await;
    for _ in 0..3 {
        tokio::time::timeout(WAIT, replay.next())
            .await
            .expect("three prices")
            .expect("the hub lives");
    }
    server::handler(move |request, conn| ticker.clone().handle(request, conn))
}

#[tokio::test]
async fn ticker_over_sse() {
    let mut tap = Tapped::start(still_ticker().await).await;
    let stream = send_request(
        tap.addr,
        "GET /ticker/sse HTTP/1.1\r\nHost: HOST\r\nAccept: text/event-stream\r\nLast-Event-ID: 0\r\n\r\n",
        "",
    )
    .await;
    // The retry line's blank line, then the three prices'.
    tap.wait_for_nth("(blank line: dispatch)", 4).await;
    drop(stream);
    tap.wait_for("C->S end of stream").await;
    tap.server.cut();
    tap.wait_for("closed").await;
    insta::assert_snapshot!("ticker_sse", tap.transcript());
}

#[tokio::test]
async fn ticker_over_websocket() {
    let mut tap = Tapped::start(still_ticker().await).await;
    let url = format!("ws://{}/ticker/ws?last_id=0", tap.addr);
    let (mut ws, _) = websocket::io::connect(&url).await.expect("connect");
    for _ in 0..3 {
        let message = ws.recv().await.expect("recv");
        assert!(matches!(message, Some(Message::Text(_))), "{message:?}");
    }
    tap.wait_for_nth("S->C frame FIN - - - Text", 3).await;
    ws.send(Message::Text(r#"{"type":"ping","t":1}"#.into()))
        .await
        .expect("send");
    let pong = ws.recv().await.expect("recv");
    assert!(matches!(pong, Some(Message::Text(t)) if t.contains("pong")));
    tap.wait_for("pong").await;
    ws.close(1000, "bye").await.expect("close");
    tap.wait_for("closed").await;
    insta::assert_snapshot!("ticker_ws", tap.transcript());
}

#[tokio::test]
async fn chat_over_sse_and_post() {
    let chat = Chat::new();
    let mut tap = Tapped::start(server::handler(move |request, conn| {
        chat.clone().handle(request, conn)
    }))
    .await;
    let events = send_request(
        tap.addr,
        "GET /chat/events HTTP/1.1\r\nHost: HOST\r\nAccept: text/event-stream\r\n\r\n",
        "",
    )
    .await;
    // The response head and the retry line: the stream is open.
    tap.wait_for("retry").await;
    let mut post = send_request(
        tap.addr,
        "POST /chat/send?name=bo HTTP/1.1\r\nHost: HOST\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\n",
        "hello, room!",
    )
    .await;
    let mut response = Vec::new();
    post.read_to_end(&mut response).await.expect("read");
    assert!(response.starts_with(b"HTTP/1.1 204"));
    drop(post);
    tap.wait_for("#2 closed").await;
    tap.wait_for_nth("(blank line: dispatch)", 2).await;
    drop(events);
    tap.wait_for("#1 C->S end of stream").await;
    tap.server.cut();
    tap.wait_for("#1 closed").await;
    insta::assert_snapshot!("chat_sse_post", tap.transcript());
}

#[tokio::test]
async fn chat_over_websocket() {
    let chat = Chat::new();
    let mut tap = Tapped::start(server::handler(move |request, conn| {
        chat.clone().handle(request, conn)
    }))
    .await;
    let url = format!("ws://{}/chat/ws?name=ana", tap.addr);
    let (mut ws, _) = websocket::io::connect(&url).await.expect("connect");
    ws.send(Message::Text("hello, room!".into()))
        .await
        .expect("send");
    let echoed = ws.recv().await.expect("recv");
    assert!(matches!(echoed, Some(Message::Text(t)) if t.contains("hello, room!")));
    tap.wait_for("S->C   payload:").await;
    ws.close(1000, "bye").await.expect("close");
    tap.wait_for("closed").await;
    insta::assert_snapshot!("chat_ws", tap.transcript());
}

/// The tap's transcript of one whole progress or text stream, `GET path`, to its end.
async fn progress_transcript(path: &str) -> String {
    let progress = Progress {
        step: Duration::from_millis(1),
        token: Duration::from_millis(1),
    };
    let mut tap = Tapped::start(server::handler(move |request, conn| {
        progress.clone().handle(request, conn)
    }))
    .await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: HOST\r\nAccept: text/event-stream\r\n\r\n");
    let stream = send_request(tap.addr, &request, "").await;
    // Every event, the last one, and the end of the response.
    tap.wait_for("(end of body)").await;
    drop(stream);
    tap.wait_for("C->S end of stream").await;
    tap.server.cut();
    tap.wait_for("closed").await;
    tap.transcript()
}

#[tokio::test]
async fn progress_over_sse() {
    // The task's three steps, then `done`.
    let transcript = progress_transcript("/progress/events?steps=3").await;
    insta::assert_snapshot!("progress_sse", transcript);
}

#[tokio::test]
async fn text_streamed_over_sse() {
    let transcript = progress_transcript("/text/events").await;
    insta::assert_snapshot!("text_sse", transcript);
}

#[tokio::test]
async fn seats_over_websocket() {
    let seats = Seats::new();
    let mut tap = Tapped::start(server::handler(move |request, conn| {
        seats.clone().handle(request, conn)
    }))
    .await;
    let url = |name: &str| format!("ws://{}/seats/ws?name={name}", tap.addr);
    let text = |message: Option<Message>| match message {
        Some(Message::Text(text)) => text,
        other => panic!("text expected, got {other:?}"),
    };
    let (mut ana, _) = websocket::io::connect(&url("ana")).await.expect("connect");
    let state = text(ana.recv().await.expect("recv"));
    assert!(state.contains(r#""type":"state""#));
    ana.send(Message::Text(r#"{"type":"pick","seat":3}"#.into()))
        .await
        .expect("send");
    assert!(text(ana.recv().await.expect("recv")).contains("picked"));
    let (mut bo, _) = websocket::io::connect(&url("bo")).await.expect("connect");
    assert!(text(bo.recv().await.expect("recv")).contains(r#""ana""#));
    bo.send(Message::Text(r#"{"type":"pick","seat":3}"#.into()))
        .await
        .expect("send");
    assert!(text(bo.recv().await.expect("recv")).contains("refused"));
    ana.close(1000, "bye").await.expect("close");
    assert!(text(bo.recv().await.expect("recv")).contains("released"));
    tap.wait_for("#1 closed").await;
    tap.wait_for("released").await;
    bo.close(1000, "bye").await.expect("close");
    tap.wait_for("#2 closed").await;
    insta::assert_snapshot!("seats_ws", tap.transcript());
}

#[test]
fn normalization() {
    assert_eq!(
        normalize("#1 open from 127.0.0.1:50312 to 127.0.0.1:41234"),
        "#1 open from 127.0.0.1:PORT to 127.0.0.1:PORT"
    );
    assert_eq!(
        normalize("#2 S->C date: Mon, 23 Nov 2026 19:00:00 GMT"),
        "#2 S->C date: <date>"
    );
    assert_eq!(
        normalize(
            "#1 C->S frame FIN - - - Text MASK=37fa213d len=5 (7-bit length), 11 bytes on the wire"
        ),
        "#1 C->S frame FIN - - - Text MASK=<random> len=5 (7-bit length), 11 bytes on the wire"
    );
    assert_eq!(
        normalize("#1 C->S   masked:   7f9f4d5158"),
        "#1 C->S   masked:   <5 bytes: the payload XOR the key>"
    );
}
