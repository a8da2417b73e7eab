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
//! `websocket` crate's client. One test puts the tap in front of `wirelab echo` instead, over
//! HTTP/2 (RFC 8441).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use websocket::Message;
use websocket::io::{ClientOptions, connect_http2};
use wirelab::tap::{self, TapOptions};
use wirelab_examples::chat::Chat;
use wirelab_examples::progress::Progress;
use wirelab_examples::seats::Seats;
use wirelab_examples::server::{self, Handler, Server};
use wirelab_examples::ticker::Ticker;

/// The hang guard of one wait for the tap.
const WAIT: Duration = Duration::from_secs(20);

/// An example (or any server) behind a tap.
struct Tapped {
    /// Where clients connect: the tap.
    addr: SocketAddr,
    /// The example's server, when the upstream is one (`cut` ends its connections).
    server: Option<Server>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Tapped {
    async fn start(handler: Handler) -> Tapped {
        let (upstream, server) = server::spawn_local(handler).await.expect("bind");
        Tapped::in_front_of(upstream, Some(server)).await
    }

    async fn in_front_of(upstream: SocketAddr, server: Option<Server>) -> Tapped {
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

    /// Ends the example server's connections.
    fn cut(&self) {
        if let Some(server) = &self.server {
            server.cut();
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

    /// What the tap printed about connection 1, normalized, one direction after the other,
    /// each up to and with its first Close frame. Over HTTP/2 the two directions of one
    /// connection interleave differently from run to run (each side writes when it is ready),
    /// and after the Close frames the END_STREAMs and a reset race each other; each direction
    /// alone, up to its Close, is the same every time.
    fn directions_until_close(mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        let mut out = Vec::new();
        for (arrow, title) in [("C->S", "client to server"), ("S->C", "server to client")] {
            out.push(format!("{title}:"));
            let prefix = format!("#1 {arrow} ");
            for line in self.seen.iter().filter(|l| l.starts_with(&prefix)) {
                out.push(normalize(line));
                if line.contains("  close code ") {
                    break;
                }
            }
            out.push(String::new());
        }
        out.join("\n")
    }

    /// What the tap printed, normalized and grouped by connection.
    fn transcript(self) -> String {
        self.transcript_lines()
            .split(|line| line.is_empty())
            .map(|lines| lines.join("\n"))
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    /// [`Tapped::transcript`]'s lines, with an empty line between connections.
    fn transcript_lines(mut self) -> Vec<String> {
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
        let mut lines = Vec::new();
        for (n, connection) in connections.into_values().enumerate() {
            if n > 0 {
                lines.push(String::new());
            }
            lines.extend(connection);
        }
        lines
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
    tap.cut();
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
    tap.cut();
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
    tap.cut();
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

/// Compares a diagram with the book's copy, `book/src/diagrams/NAME.svg`;
/// `WIRELAB_BLESS=1` writes it instead.
fn assert_diagram(name: &str, title: &str, lines: &[String]) {
    let lines: Vec<String> = lines.iter().filter(|l| !l.is_empty()).cloned().collect();
    let svg = tap::diagram::svg(title, &lines);
    let path = wirelab_conformance::workspace_root().join(format!("book/src/diagrams/{name}.svg"));
    if std::env::var_os("WIRELAB_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, &svg).expect("write the diagram");
        return;
    }
    let book = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        book == svg,
        "{} is not what the tap drew: run `WIRELAB_BLESS=1 cargo test -p wirelab-conformance \
         --test tap_examples` and review the diff",
        path.display()
    );
}

/// The lines from the first one containing `from` to the first one after it containing `to`.
fn slice(lines: &[String], from: &str, to: &str) -> Vec<String> {
    let start = lines
        .iter()
        .position(|l| l.contains(from))
        .unwrap_or_else(|| panic!("no {from:?}"));
    let end = lines[start..]
        .iter()
        .position(|l| l.contains(to))
        .unwrap_or_else(|| panic!("no {to:?} after {from:?}"));
    lines[start..=start + end].to_vec()
}

/// A WebSocket session with `wirelab echo`, through the tap: the opening handshake, a message
/// sent in two fragments with a Ping between them, and the closing handshake. Three of the
/// book's sequence diagrams are drawn from it.
#[tokio::test]
async fn websocket_session_diagrams() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let upstream = listener.local_addr().expect("address");
    tokio::spawn(wirelab::echo::serve(listener));
    let mut tap = Tapped::in_front_of(upstream, None).await;
    let (ws, _) = websocket::io::connect(&format!("ws://{}/", tap.addr))
        .await
        .expect("connect");
    let (mut receiver, mut sender) = ws.split();
    sender
        .send_fragment(websocket::frame::OpCode::Text, b"Hel", false)
        .await
        .expect("first fragment");
    sender
        .send(Message::Ping(b"still there?".to_vec()))
        .await
        .expect("ping");
    // The Pong before the last fragment, so that the picture is the same on every run.
    let pong = receiver.recv().await.expect("recv");
    assert!(matches!(pong, Some(Message::Pong(p)) if p == b"still there?"));
    tap.wait_for("S->C frame FIN - - - Pong").await;
    sender
        .send_fragment(websocket::frame::OpCode::Continuation, b"lo", true)
        .await
        .expect("last fragment");
    let echo = receiver.recv().await.expect("recv");
    assert!(matches!(echo, Some(Message::Text(t)) if t == "Hello"));
    tap.wait_for("payload:  \"Hello\"").await;
    sender.close(1000, "bye").await.expect("close");
    while let Ok(Some(_)) = receiver.recv().await {}
    tap.wait_for("closed").await;
    let lines = tap.transcript_lines();
    assert_diagram(
        "ws-opening-handshake",
        "The WebSocket opening handshake",
        &slice(&lines, "open from", "(switching protocols"),
    );
    assert_diagram(
        "ws-fragmented-ping",
        "A message in two fragments, with a Ping between them",
        &slice(&lines, "frame - - - - Text", "payload:  \"Hello\""),
    );
    assert_diagram(
        "ws-closing-handshake",
        "The WebSocket closing handshake",
        &slice(&lines, "Close MASK", " closed"),
    );
}

/// An event stream cut by the server and resumed by the `sse` crate's client with
/// `Last-Event-ID`, through the tap: the book's reconnection diagram.
#[tokio::test]
async fn sse_reconnection_diagram() {
    let hub = std::sync::Arc::new(sse::history::Hub::new(16, 16));
    let serving = hub.clone();
    let mut tap = Tapped::start(server::handler(move |request, conn| {
        let events = serving.subscribe(sse::server::last_event_id(&request));
        async move { server::sse(&conn, events, Some(Duration::from_millis(200))) }
    }))
    .await;
    let config = sse::client::ClientConfig {
        reconnection_time: Duration::from_millis(200),
        ..Default::default()
    };
    let mut client =
        sse::client::Client::new(&format!("http://{}/events", tap.addr), config).expect("client");
    let (got, mut messages) = mpsc::unbounded_channel();
    let driving = tokio::spawn(async move {
        while let Some(event) = client.next().await {
            if let sse::client::ClientEvent::Message(message) = event {
                let _ = got.send(message.data);
            }
        }
    });
    tap.wait_for("retry: \"200\"").await;
    hub.publish(sse::Event::new().data("one"));
    hub.publish(sse::Event::new().data("two"));
    tap.wait_for("id: \"2\"").await;
    tap.cut();
    tap.wait_for("#1 closed").await;
    // The client comes back by itself, saying where it stopped.
    tap.wait_for("#2 C->S (end of head").await;
    hub.publish(sse::Event::new().data("three"));
    tap.wait_for("id: \"3\"").await;
    let mut received = Vec::new();
    while received.len() < 3 {
        let data = tokio::time::timeout(WAIT, messages.recv()).await;
        received.push(data.expect("in time").expect("a message"));
    }
    assert_eq!(received, ["one", "two", "three"]);
    driving.abort();
    tap.wait_for("#2 C->S end of stream").await;
    tap.cut();
    tap.wait_for("#2 closed").await;
    let lines = tap.transcript_lines();
    assert!(
        lines.iter().any(|l| l == "#2 C->S last-event-id: 2"),
        "{lines:#?}"
    );
    assert_diagram(
        "sse-reconnection",
        "An event stream cut, and resumed with Last-Event-ID",
        &lines,
    );
}

/// `wirelab echo` over HTTP/2 in clear text (RFC 8441): the preface, both SETTINGS, the
/// extended CONNECT and its `200` as HEADERS decoded, the WebSocket frames inside DATA, then a
/// second WebSocket on the same connection, whose HEADERS HPACK has made small.
#[tokio::test]
async fn echo_over_http2() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let upstream = listener.local_addr().expect("address");
    tokio::spawn(wirelab::echo::serve(listener));
    let mut tap = Tapped::in_front_of(upstream, None).await;
    let options = ClientOptions::default();
    let url = format!("ws://{}/chat", tap.addr);
    let (mut first, _, h2) = connect_http2(&url, &options).await.expect("connect");
    first
        .send(Message::Text("hello".into()))
        .await
        .expect("send");
    assert_eq!(
        first.recv().await.expect("recv"),
        Some(Message::Text("hello".into()))
    );
    tap.wait_for("S->C   payload:  \"hello\"").await;
    let (mut second, _) = h2
        .websocket("/chat", &options)
        .await
        .expect("a second WebSocket");
    second
        .send(Message::Text("again".into()))
        .await
        .expect("send");
    assert_eq!(
        second.recv().await.expect("recv"),
        Some(Message::Text("again".into()))
    );
    tap.wait_for("S->C   payload:  \"again\"").await;
    first.close(1000, "bye").await.expect("close");
    tap.wait_for_nth("close code 1000", 2).await;
    insta::assert_snapshot!("echo_http2", tap.directions_until_close());
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
