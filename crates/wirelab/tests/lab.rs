//! The lab's experiments, with real processes: redis-server, `wirelab demo` instances, nginx
//! and HAProxy (configured by `deploy/nginx.conf` and `deploy/haproxy.cfg`), each on a
//! loopback port of its own.
//!
//! Each test starts what it needs, runs a scenario bounded in time, and asserts on what the
//! clients received, never on how fast; the delays it measures are printed for the book
//! (`cargo test -p wirelab --test lab -- --nocapture`). Without redis-server, nginx or HAProxy
//! a test that needs them reports a skip (a failure under `WIRELAB_REQUIRE_PEERS=1`).

mod lab_support;

use std::time::{Duration, Instant};

use lab_support::{Browser, Front, LabDir, Proc, Programs, open_on, request};
use sse::client::{Client, ClientConfig, ClientEvent};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use websocket::Message;

/// The longest any scenario waits for what it expects.
const WAIT: Duration = Duration::from_secs(15);

fn client_config() -> ClientConfig {
    ClientConfig {
        reconnection_time: Duration::from_millis(300),
        timeout: Some(Duration::from_secs(20)),
        ..ClientConfig::default()
    }
}

/// What an event-stream client saw: the data of every message, the gap notices, and how
/// many times it reconnected.
#[derive(Debug, Default)]
struct Seen {
    data: Vec<String>,
    gaps: usize,
    reconnections: usize,
}

/// Reads `client` until `done` holds or `within` has passed.
async fn follow(
    client: &mut Client,
    seen: &mut Seen,
    within: Duration,
    done: impl Fn(&Seen) -> bool,
) {
    let deadline = tokio::time::Instant::now() + within;
    while !done(seen) {
        let Ok(Some(event)) = tokio::time::timeout_at(deadline, client.next()).await else {
            return;
        };
        match event {
            ClientEvent::Message(message) if message.event_type == "history-gap" => seen.gaps += 1,
            ClientEvent::Message(message) => seen.data.push(message.data),
            ClientEvent::Reconnecting { .. } => seen.reconnections += 1,
            _ => {}
        }
    }
}

/// Waits until `client` is open.
async fn opened(client: &mut Client) {
    let wait = async {
        while let Some(event) = client.next().await {
            if matches!(event, ClientEvent::Open) {
                return;
            }
        }
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .expect("the stream opens");
}

/// Posts chat message `text` through `proxy`.
async fn post(proxy: &Proc, text: &str) {
    let response = request(&proxy.addr(), "POST", "/chat/send?name=lab", text).await;
    assert!(response.starts_with("HTTP/1.1 204"), "{response}");
}

/// The chat texts of the messages seen.
fn texts(seen: &Seen) -> Vec<String> {
    seen.data
        .iter()
        .filter_map(|data| serde_json::from_str::<serde_json::Value>(data).ok())
        .filter_map(|json| json["text"].as_str().map(str::to_owned))
        .collect()
}

// ANCHOR: fail_over
/// A chat stream followed through `front`; messages posted before, during and after the
/// instance it is on is killed. Returns what the client saw.
async fn fail_over(programs: &Programs, front: Front, with_redis: bool) -> (Seen, Vec<String>) {
    let dir = LabDir::new("fail-over");
    let redis = with_redis.then(|| programs.redis(&dir));
    let mut a = programs.demo(redis.as_ref());
    let mut b = programs.demo(redis.as_ref());
    let nginx = programs.front(front, &dir, &[a.addr(), b.addr()]);

    let url = format!(
        "http://{}/chat/events?session=fo&transport=sse",
        nginx.addr()
    );
    let mut client = Client::new(&url, client_config()).expect("url");
    let mut seen = Seen::default();
    opened(&mut client).await;
    let sent: Vec<String> = (1..=8).map(|n| format!("m{n}")).collect();
    for text in &sent[..4] {
        post(&nginx, text).await;
    }
    follow(&mut client, &mut seen, Duration::from_secs(2), |s| {
        texts(s).len() >= 4
    })
    .await;

    // Kill the instance the stream is on, as a crash would: no goodbye.
    let on_a = open_on(&a, "fo", "sse").await > 0;
    let on_b = open_on(&b, "fo", "sse").await > 0;
    assert!(on_a != on_b, "the stream is on exactly one instance");
    if on_a {
        a.kill()
    } else {
        b.kill()
    }
    for text in &sent[4..] {
        post(&nginx, text).await;
    }
    follow(&mut client, &mut seen, Duration::from_secs(8), |s| {
        s.reconnections > 0 && texts(s).len() >= sent.len()
    })
    .await;
    (seen, sent)
}
// ANCHOR_END: fail_over

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_over_through_nginx_resumes_from_redis_with_nothing_lost_or_repeated() {
    let Some(programs) = Programs::find("fail_over_resumes_from_redis") else {
        return;
    };
    fail_over_resumes(&programs, Front::Nginx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_over_through_haproxy_resumes_from_redis_with_nothing_lost_or_repeated() {
    let Some(programs) = Programs::with_haproxy("fail_over_through_haproxy") else {
        return;
    };
    fail_over_resumes(&programs, Front::Haproxy).await;
}

async fn fail_over_resumes(programs: &Programs, front: Front) {
    let (seen, sent) = fail_over(programs, front, true).await;
    println!(
        "{front:?} with Redis: sent {sent:?}, received {:?}, {} reconnection(s)",
        texts(&seen),
        seen.reconnections
    );
    assert!(seen.reconnections >= 1, "the client was cut and came back");
    assert_eq!(texts(&seen), sent, "every message once, in order");
    assert_eq!(seen.gaps, 0);
}

// ANCHOR: ws_fail_over
/// The resuming WebSocket client of `examples/src/reconnecting_ws.rs` on the ticker through
/// `front`, and the instance it is on killed after four prices. Returns the sequence numbers
/// it received, its reconnections and its gap notices.
async fn ws_fail_over(programs: &Programs, front: Front) -> (Vec<u64>, usize, usize) {
    use wirelab_examples::reconnecting_ws::{Event, Policy, ReconnectingWs};

    let dir = LabDir::new("ws-fail-over");
    let redis = programs.redis(&dir);
    let mut a = programs.demo(Some(&redis));
    let mut b = programs.demo(Some(&redis));
    let proxy = programs.front(front, &dir, &[a.addr(), b.addr()]);
    let url = format!("ws://{}/ticker/ws?session=wsfo&transport=ws", proxy.addr());
    let mut client = ReconnectingWs::new(&url, Policy::default());
    let (mut seqs, mut reconnections, mut gaps, mut killed) = (Vec::new(), 0, 0, false);
    let deadline = tokio::time::Instant::now() + WAIT;
    // Ten prices after the kill: the lease's holder may have been the one killed, and the
    // prices pause until its lease expires (3 s).
    while !(killed && reconnections > 0 && seqs.len() >= 14) {
        match tokio::time::timeout_at(deadline, client.next()).await {
            Ok(Some(Event::Message { seq, .. })) => seqs.push(seq),
            Ok(Some(Event::Gap { .. })) => gaps += 1,
            Ok(Some(Event::Reconnecting { .. })) => reconnections += 1,
            Ok(Some(Event::Open { .. })) => {}
            Ok(Some(Event::GaveUp { .. }) | None) | Err(_) => break,
        }
        if seqs.len() == 4 && !killed {
            killed = true;
            if open_on(&a, "wsfo", "ws").await > 0 {
                a.kill();
            } else {
                b.kill();
            }
        }
    }
    (seqs, reconnections, gaps)
}
// ANCHOR_END: ws_fail_over

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resuming_websocket_fails_over_and_resumes_from_redis_through_both_proxies() {
    let Some(programs) = Programs::with_haproxy("ws_fail_over") else {
        return;
    };
    for front in [Front::Nginx, Front::Haproxy] {
        let (seqs, reconnections, gaps) = ws_fail_over(&programs, front).await;
        println!("{front:?}: prices {seqs:?}, {reconnections} reconnection(s), {gaps} gap(s)");
        assert!(
            reconnections >= 1,
            "{front:?}: the client was cut and came back"
        );
        assert!(seqs.len() >= 14, "{front:?}: {seqs:?}");
        assert!(
            seqs.windows(2).all(|pair| pair[1] == pair[0] + 1),
            "{front:?}: every price once, in order: {seqs:?}"
        );
        assert_eq!(gaps, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_over_without_redis_loses_messages() {
    let Some(programs) = Programs::find("fail_over_without_redis") else {
        return;
    };
    let (seen, sent) = fail_over(&programs, Front::Nginx, false).await;
    let received = texts(&seen);
    let lost: Vec<&String> = sent.iter().filter(|m| !received.contains(m)).collect();
    println!(
        "without Redis: sent {sent:?}, received {received:?}, lost {lost:?}, {} gap notice(s)",
        seen.gaps
    );
    // Each instance has a room of its own: what was posted to the other one before the
    // fail-over never reaches this client.
    assert!(seen.reconnections >= 1);
    assert!(!lost.is_empty(), "two rooms, not one");
}

// ANCHOR: fan_out
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_across_two_instances_reaches_every_client() {
    let Some(programs) = Programs::find("fan_out_across_two_instances") else {
        return;
    };
    let dir = LabDir::new("fan-out");
    let redis = programs.redis(&dir);
    let a = programs.demo(Some(&redis));
    let b = programs.demo(Some(&redis));
    let nginx = programs.nginx(&dir, &[a.addr(), b.addr()], &[]);
    const CLIENTS: usize = 10;
    const MESSAGES: usize = 20;

    // Event-stream clients and WebSocket clients, spread over the instances by nginx.
    let mut streams = Vec::new();
    for _ in 0..CLIENTS {
        let url = format!(
            "http://{}/chat/events?session=fan&transport=sse",
            nginx.addr()
        );
        let mut client = Client::new(&url, client_config()).expect("url");
        opened(&mut client).await;
        streams.push(client);
    }
    let mut sockets = Vec::new();
    for _ in 0..CLIENTS {
        let url = format!(
            "ws://{}/chat/ws?name=fan&session=fan&transport=ws",
            nginx.addr()
        );
        let (ws, _) = websocket::io::connect(&url)
            .await
            .expect("WebSocket through nginx");
        sockets.push(ws);
    }
    let on_a = open_on(&a, "fan", "sse").await + open_on(&a, "fan", "ws").await;
    let on_b = open_on(&b, "fan", "sse").await + open_on(&b, "fan", "ws").await;
    println!("clients on instance A: {on_a}, on B: {on_b}");
    assert!(on_a > 0 && on_b > 0, "both instances serve clients");

    let sent: Vec<String> = (1..=MESSAGES).map(|n| format!("f{n}")).collect();
    for text in &sent {
        post(&nginx, text).await;
    }
    let mut delivered = 0;
    for client in &mut streams {
        let mut seen = Seen::default();
        follow(client, &mut seen, WAIT, |s| texts(s).len() >= MESSAGES).await;
        assert_eq!(
            texts(&seen),
            sent,
            "an event stream got every message once, in order"
        );
        delivered += seen.data.len();
    }
    for ws in &mut sockets {
        let mut got = Vec::new();
        while got.len() < MESSAGES {
            match tokio::time::timeout(WAIT, ws.recv()).await {
                Ok(Ok(Some(Message::Text(text)))) => {
                    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                    got.push(json["text"].as_str().unwrap_or_default().to_owned());
                }
                Ok(Ok(Some(_))) => {}
                other => panic!("WebSocket ended early: {other:?}"),
            }
        }
        assert_eq!(got, sent, "a WebSocket got every message once, in order");
        delivered += got.len();
    }
    println!(
        "{MESSAGES} messages x {} clients: {delivered} deliveries",
        2 * CLIENTS
    );
    assert_eq!(delivered, MESSAGES * 2 * CLIENTS);
}
// ANCHOR_END: fan_out

/// The first JSON text message of a WebSocket.
async fn next_json(ws: &mut websocket::io::WebSocket<tokio::net::TcpStream>) -> serde_json::Value {
    loop {
        match tokio::time::timeout(WAIT, ws.recv()).await {
            Ok(Ok(Some(Message::Text(text)))) => {
                return serde_json::from_str(&text).expect("JSON");
            }
            Ok(Ok(Some(_))) => {}
            other => panic!("no message: {other:?}"),
        }
    }
}

/// Ana picks seat 3 on instance A, then Bo, on instance B, looks at the map and picks the same
/// seat. Returns what Bo saw for seat 3 and what his pick got.
async fn seats_on_two_instances(
    programs: &Programs,
    with_redis: bool,
) -> (serde_json::Value, serde_json::Value) {
    let dir = LabDir::new("seats");
    let redis = with_redis.then(|| programs.redis(&dir));
    let a = programs.demo(redis.as_ref());
    let b = programs.demo(redis.as_ref());
    let url =
        |instance: &Proc, name: &str| format!("ws://{}/seats/ws?name={name}", instance.addr());
    let (mut ana, _) = websocket::io::connect(&url(&a, "ana"))
        .await
        .expect("connect");
    assert_eq!(next_json(&mut ana).await["type"], "state");
    ana.send(Message::Text(r#"{"type":"pick","seat":3}"#.into()))
        .await
        .expect("send");
    assert_eq!(next_json(&mut ana).await["type"], "picked");

    let (mut bo, _) = websocket::io::connect(&url(&b, "bo"))
        .await
        .expect("connect");
    let state = next_json(&mut bo).await;
    bo.send(Message::Text(r#"{"type":"pick","seat":3}"#.into()))
        .await
        .expect("send");
    let answer = next_json(&mut bo).await;
    (state["seats"][3].clone(), answer)
}

// ANCHOR: bounded_history
/// The chat's stream keeps 200 messages (`MAXLEN`). 205 are posted on instance A; clients of
/// instance B resume from ids 150 (kept: the rest, no notice) and 2 (gone: the notice, then
/// everything kept).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_older_than_the_stream_keeps_gets_the_gap_notice_on_any_instance() {
    let Some(programs) = Programs::find("bounded_history_on_redis") else {
        return;
    };
    let dir = LabDir::new("bounded-history");
    let redis = programs.redis(&dir);
    let a = programs.demo(Some(&redis));
    let b = programs.demo(Some(&redis));
    let sent: Vec<String> = (1..=205).map(|n| format!("p{n}")).collect();
    for text in &sent {
        post(&a, text).await;
    }
    for (last_event_id, gaps, from) in [("150", 0, 150), ("2", 1, 5)] {
        let url = format!("http://{}/chat/events", b.addr());
        let config = ClientConfig {
            last_event_id: last_event_id.to_owned(),
            ..client_config()
        };
        let mut client = Client::new(&url, config).expect("url");
        let mut seen = Seen::default();
        follow(&mut client, &mut seen, WAIT, |s| {
            texts(s).last() == sent.last()
        })
        .await;
        println!(
            "Last-Event-ID {last_event_id} on the other instance: {} gap notice(s), {} messages from {:?}",
            seen.gaps,
            texts(&seen).len(),
            texts(&seen).first()
        );
        assert_eq!(seen.gaps, gaps, "Last-Event-ID {last_event_id}");
        assert_eq!(texts(&seen), sent[from..], "Last-Event-ID {last_event_id}");
    }
}
// ANCHOR_END: bounded_history

// ANCHOR: sticky
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_in_memory_need_sticky_sessions_and_on_redis_do_not() {
    let Some(programs) = Programs::find("seats_sticky_sessions") else {
        return;
    };
    // In memory, each instance has its own map: Bo sees the seat free and gets it too.
    let (seen, answer) = seats_on_two_instances(&programs, false).await;
    println!("in memory: Bo sees seat 3 as {seen}, his pick: {answer}");
    assert_eq!(seen, serde_json::Value::Null);
    assert_eq!(answer["type"], "picked", "the seat is sold twice");

    // On Redis, one map: Bo sees Ana's seat and is refused.
    let (seen, answer) = seats_on_two_instances(&programs, true).await;
    println!("on Redis: Bo sees seat 3 as {seen}, his pick: {answer}");
    assert_eq!(seen, "ana");
    assert_eq!(answer["type"], "refused");
    assert_eq!(answer["by"], "ana");
}
// ANCHOR_END: sticky

/// Reads `stream` until `needle` has arrived or `within` has passed; returns when it arrived.
async fn arrival(
    stream: &mut tokio::net::TcpStream,
    needle: &str,
    within: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if String::from_utf8_lossy(&received).contains(needle) {
            return Some(start.elapsed());
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => received.extend_from_slice(&buffer[..n]),
            _ => return None,
        }
    }
}

async fn get(proxy: &Proc, target: &str) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(proxy.addr())
        .await
        .expect("connect");
    let head = format!("GET {target} HTTP/1.1\r\nHost: lab\r\nAccept: text/event-stream\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("write");
    stream
}

/// A change to `deploy/nginx.conf`: this text becomes that one.
type Edit<'a> = (&'a str, &'a str);

// ANCHOR: buffering
/// When the first event of the ticker (one every 500 ms) reaches a client of nginx with
/// `edits`, if it does within 3 s.
async fn first_event_through(
    programs: &Programs,
    instance: &Proc,
    edits: &[(&str, &str)],
) -> Option<Duration> {
    let dir = LabDir::new("buffering");
    let nginx = programs.nginx(&dir, &[instance.addr()], edits);
    let mut stream = get(&nginx, "/ticker/sse").await;
    arrival(&mut stream, "data:", Duration::from_secs(3)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_holds_an_event_stream_back_unless_told_not_to_buffer() {
    let Some(programs) = Programs::find("nginx_buffering") else {
        return;
    };
    let instance = programs.demo(None);
    let http_10 = ("proxy_http_version 1.1;", "");
    let ignore = (
        "proxy_buffering on;",
        "proxy_buffering on;\n            proxy_ignore_headers X-Accel-Buffering;",
    );
    let cases: [(&str, &[Edit<'_>], bool); 4] = [
        (
            "deploy/nginx.conf (HTTP/1.1 upstream, header honoured)",
            &[],
            true,
        ),
        (
            "HTTP/1.0 upstream (nginx's default), header honoured",
            &[http_10],
            true,
        ),
        (
            "HTTP/1.0 upstream, header ignored: nginx's defaults",
            &[http_10, ignore],
            false,
        ),
        ("HTTP/1.1 upstream, header ignored", &[ignore], true),
    ];
    for (case, edits, flows) in cases {
        let first = first_event_through(&programs, &instance, edits).await;
        println!("{case}: first event after {first:?} (None: not within 3 s)");
        assert_eq!(first.is_some(), flows, "{case}");
    }
}
// ANCHOR_END: buffering

// ANCHOR: idle
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_proxy_read_timeout_cuts_quiet_streams_and_only_the_event_stream_comes_back() {
    let Some(programs) = Programs::find("proxy_read_timeout") else {
        return;
    };
    let dir = LabDir::new("idle");
    let instance = programs.demo(None);
    let nginx = programs.nginx(
        &dir,
        &[instance.addr()],
        &[("proxy_read_timeout 60s;", "proxy_read_timeout 2s;")],
    );
    // A quiet event stream (no one chats; keep-alive comments come every 15 s).
    let url = format!("http://{}/chat/events", nginx.addr());
    let mut client = Client::new(&url, client_config()).expect("url");
    let mut seen = Seen::default();
    let start = Instant::now();
    follow(&mut client, &mut seen, WAIT, |s| s.reconnections >= 2).await;
    println!(
        "event stream: cut and reconnected twice in {:?}",
        start.elapsed()
    );
    assert!(seen.reconnections >= 2, "cut, and back by itself");

    // A quiet WebSocket (the server's Ping comes every 30 s): cut, and nothing brings it back.
    let url = format!("ws://{}/chat/ws?name=quiet", nginx.addr());
    let (mut ws, _) = websocket::io::connect(&url)
        .await
        .expect("WebSocket through nginx");
    let start = Instant::now();
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match ws.recv().await {
                Ok(Some(_)) => {}
                other => return other,
            }
        }
    })
    .await;
    println!("WebSocket: ended after {:?}: {ended:?}", start.elapsed());
    assert!(ended.is_ok(), "the WebSocket was cut within {WAIT:?}");
}
// ANCHOR_END: idle

// ANCHOR: upgrade_hop
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_upgrade_headers_the_websocket_fails_and_the_event_stream_does_not() {
    let Some(programs) = Programs::find("upgrade_hop") else {
        return;
    };
    let dir = LabDir::new("upgrade");
    let instance = programs.demo(None);
    let nginx = programs.nginx(
        &dir,
        &[instance.addr()],
        &[
            ("proxy_set_header Upgrade $http_upgrade;", ""),
            ("proxy_set_header Connection $connection_upgrade;", ""),
        ],
    );
    let url = format!("ws://{}/echo/ws", nginx.addr());
    let refused = websocket::io::connect(&url).await.map(drop);
    println!("WebSocket without the Upgrade hop: {refused:?}");
    assert!(
        matches!(refused, Err(websocket::Error::UnexpectedStatus(status)) if status != 101),
        "{refused:?}"
    );

    let mut stream = get(&nginx, "/ticker/sse").await;
    let delay = arrival(&mut stream, "data:", Duration::from_secs(5)).await;
    assert!(delay.is_some(), "the event stream needs no Upgrade");
}
// ANCHOR_END: upgrade_hop

// ANCHOR: http_1_0
/// An `sse::http1` server (the hand-written path) behind nginx with its default
/// `proxy_http_version 1.0`: the request arrives as HTTP/1.0 and the stream flows, unchunked,
/// nginx re-framing it as chunked for its own HTTP/1.1 client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hand_written_server_streams_to_nginx_over_http_1_0() {
    let Some(programs) = Programs::find("http_1_0_upstream") else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let upstream = listener.local_addr().expect("address").to_string();
    let (versions, mut seen_versions) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let versions = versions.clone();
            tokio::spawn(async move {
                let config = sse::http1::Http1Config::default();
                let Ok(request) = sse::http1::read_request(&mut socket, &config).await else {
                    return;
                };
                let _ = versions.send(request.version());
                // Two events, and the stream stays open while `sender` lives.
                let (sender, receiver) = tokio::sync::mpsc::channel(2);
                for data in ["one", "two"] {
                    let _ = sender.send(sse::Event::new().data(data)).await;
                }
                let events = sse::server::ReceiverStream(receiver);
                let config = sse::streaming::ServerConfig::default();
                let _ = sse::http1::serve_version(socket, request.version(), events, config).await;
                drop(sender);
            });
        }
    });
    let dir = LabDir::new("http-1-0");
    let nginx = programs.nginx(&dir, &[upstream], &[("proxy_http_version 1.1;", "")]);
    let mut stream = get(&nginx, "/events").await;
    let delay = arrival(&mut stream, "data: two", Duration::from_secs(5)).await;
    let version = seen_versions.recv().await;
    println!("nginx's default upstream version: {version:?}; both events after {delay:?}");
    assert_eq!(version, Some(http::Version::HTTP_10));
    assert!(delay.is_some(), "the events came through");
}
// ANCHOR_END: http_1_0

// ANCHOR: keep_alive
/// Behind nginx with a 2 s `proxy_read_timeout`, an event stream with keep-alive comments
/// every 500 ms (the hand-written server, `ServerConfig::keep_alive`) and a WebSocket with
/// Pings every 500 ms (the client's `Timeouts::ping_interval`, answered by the instance's
/// Pongs, which nginx reads) both outlive the timeout: what they carry after 5 s of silence
/// arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_comments_and_pings_outlive_a_short_proxy_read_timeout() {
    let Some(programs) = Programs::find("keep_alive_under_proxy_read_timeout") else {
        return;
    };
    const SILENCE: Duration = Duration::from_secs(5);
    let short = ("proxy_read_timeout 60s;", "proxy_read_timeout 2s;");

    // The event stream: one event, after five seconds of nothing but keep-alive comments.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let upstream = listener.local_addr().expect("address").to_string();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let config = sse::http1::Http1Config::default();
                let Ok(request) = sse::http1::read_request(&mut socket, &config).await else {
                    return;
                };
                let (sender, receiver) = tokio::sync::mpsc::channel(1);
                tokio::spawn(async move {
                    tokio::time::sleep(SILENCE).await;
                    let _ = sender.send(sse::Event::new().data("late")).await;
                    // Open until the client leaves.
                    sender.closed().await;
                });
                let events = sse::server::ReceiverStream(receiver);
                let config = sse::streaming::ServerConfig {
                    keep_alive: Some(Duration::from_millis(500)),
                    ..sse::streaming::ServerConfig::default()
                };
                let _ = sse::http1::serve_version(socket, request.version(), events, config).await;
            });
        }
    });
    let dir = LabDir::new("keep-alive");
    let nginx = programs.nginx(&dir, &[upstream], &[short]);
    let mut stream = get(&nginx, "/events").await;
    let late = arrival(&mut stream, "data: late", WAIT).await;
    println!("event stream with comments every 500 ms: the event after {late:?}");
    assert!(late.is_some_and(|late| late >= SILENCE), "{late:?}");

    // The WebSocket: a chat message posted after five seconds of nothing but Pings and Pongs.
    let instance = programs.demo(None);
    let dir = LabDir::new("keep-alive-ws");
    let nginx = programs.nginx(&dir, &[instance.addr()], &[short]);
    let mut options = websocket::io::ClientOptions::default();
    options.config.timeouts.ping_interval = Some(Duration::from_millis(500));
    let url = format!("ws://{}/chat/ws?name=pinger", nginx.addr());
    let (mut ws, _) = websocket::io::connect_with(&url, &options)
        .await
        .expect("WebSocket through nginx");
    let start = Instant::now();
    let address = nginx.addr();
    tokio::spawn(async move {
        tokio::time::sleep(SILENCE).await;
        request(&address, "POST", "/chat/send?name=lab", "still here").await
    });
    let got = tokio::time::timeout(WAIT, async {
        loop {
            match ws.recv().await {
                Ok(Some(Message::Text(text))) if text.contains("still here") => return Ok(()),
                Ok(Some(_)) => {}
                other => return Err(format!("{other:?}")),
            }
        }
    })
    .await;
    println!(
        "WebSocket with Pings every 500 ms: {got:?} after {:?}",
        start.elapsed()
    );
    assert_eq!(got, Ok(Ok(())), "the WebSocket outlived the timeout");
}
// ANCHOR_END: keep_alive

// ANCHOR: redis_dies
/// Redis killed under a running instance, then started again, empty, on the same port: the
/// instance logs it and stays up; the event stream ends and its client reconnects, the
/// WebSocket is closed with 1013, a post is answered 503; once Redis is back the client gets
/// the gap notice (its last id is from before the restart), then the new messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_dying_mid_run_gives_closes_and_a_gap_notice_never_silence() {
    let Some(programs) = Programs::find("redis_dies_mid_run") else {
        return;
    };
    let dir = LabDir::new("redis-dies");
    let mut redis = programs.redis(&dir);
    let log = dir.path().join("demo.log");
    let instance = lab_support::demo(Some(&redis), Some(&log));
    let url = format!(
        "http://{}/chat/events?session=rd&transport=sse",
        instance.addr()
    );
    let mut client = Client::new(&url, client_config()).expect("url");
    opened(&mut client).await;
    let (mut ws, _) = websocket::io::connect(&format!("ws://{}/chat/ws?name=rd", instance.addr()))
        .await
        .expect("WebSocket");
    post(&instance, "before").await;
    let mut seen = Seen::default();
    follow(&mut client, &mut seen, WAIT, |s| texts(s).len() == 1).await;
    assert_eq!(texts(&seen), ["before"]);

    let port = redis.port;
    redis.kill();
    let start = Instant::now();
    let close = tokio::time::timeout(WAIT, async {
        loop {
            match ws.recv().await {
                Ok(Some(Message::Close(frame))) => return frame.map(|f| f.code),
                Ok(Some(_)) => {}
                _ => return None,
            }
        }
    })
    .await;
    println!(
        "WebSocket after Redis died: Close {close:?} after {:?}",
        start.elapsed()
    );
    assert_eq!(close, Ok(Some(1013)), "Try Again Later");
    follow(&mut client, &mut seen, WAIT, |s| s.reconnections >= 1).await;
    println!("event stream: reconnecting after {:?}", start.elapsed());
    assert!(
        seen.reconnections >= 1,
        "the stream ended, the client came back"
    );
    let refused = request(&instance.addr(), "POST", "/chat/send?name=lab", "away").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");

    let _redis = programs.redis_on(&dir, port);
    follow(&mut client, &mut seen, WAIT, |s| s.gaps >= 1).await;
    println!("gap notice after {:?}", start.elapsed());
    assert_eq!(seen.gaps, 1, "the client is told it may have missed events");
    // The instance's command connection notices the restart on its first command.
    let deadline = Instant::now() + WAIT;
    while !request(&instance.addr(), "POST", "/chat/send?name=lab", "after")
        .await
        .starts_with("HTTP/1.1 204")
    {
        assert!(Instant::now() < deadline, "posting works again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    follow(&mut client, &mut seen, WAIT, |s| texts(s).len() == 2).await;
    assert_eq!(texts(&seen), ["before", "after"]);

    let log = std::fs::read_to_string(&log).expect("log");
    println!("the instance's log:\n{log}");
    assert!(log.contains("wirelab: feed chat:"), "{log}");
    assert!(log.contains("following again"), "{log}");
}
// ANCHOR_END: redis_dies

// ANCHOR: redis_restarts_empty
/// Redis restarted without its data has lost the feed's counter as well as its entries. The
/// instance goes on numbering from the highest id it had seen, so an id is never given out
/// twice: a client whose last id is the newest from before the restart gets the new message
/// and nothing else, one whose last id is older gets the gap notice first (what it missed was
/// lost with Redis's data).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_redis_restarts_empty_ids_go_on_from_the_highest_seen() {
    let Some(programs) = Programs::find("redis_restarts_empty") else {
        return;
    };
    let dir = LabDir::new("redis-restarts-empty");
    let mut redis = programs.redis(&dir);
    let instance = programs.demo(Some(&redis));
    let url = format!("http://{}/chat/events", instance.addr());
    // The instance's follower has seen 1 to 3 once a client has them.
    let mut client = Client::new(&url, client_config()).expect("url");
    opened(&mut client).await;
    for text in ["m1", "m2", "m3"] {
        post(&instance, text).await;
    }
    let mut seen = Seen::default();
    follow(&mut client, &mut seen, WAIT, |s| texts(s).len() == 3).await;
    assert_eq!(texts(&seen), ["m1", "m2", "m3"]);
    drop(client);

    let port = redis.port;
    redis.kill();
    let _redis = programs.redis_on(&dir, port);
    let deadline = Instant::now() + WAIT;
    while !request(&instance.addr(), "POST", "/chat/send?name=lab", "m4")
        .await
        .starts_with("HTTP/1.1 204")
    {
        assert!(Instant::now() < deadline, "posting works again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // (event type, data's text, id) of what a client resuming from `last_id` receives first.
    let resume = async |last_id: &str, count: usize| {
        let config = ClientConfig {
            last_event_id: last_id.to_owned(),
            ..client_config()
        };
        let mut client = Client::new(&url, config).expect("url");
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        while got.len() < count {
            let Ok(Some(event)) = tokio::time::timeout_at(deadline, client.next()).await else {
                break;
            };
            if let ClientEvent::Message(message) = event {
                let text = serde_json::from_str::<serde_json::Value>(&message.data)
                    .ok()
                    .and_then(|json| json["text"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                got.push((message.event_type, text, message.last_event_id.to_string()));
            }
        }
        got
    };
    let from_newest = resume("3", 1).await;
    println!("resumed from 3 after the restart: {from_newest:?}");
    assert_eq!(
        from_newest,
        [("message".to_owned(), "m4".to_owned(), "4".to_owned())],
        "the next id, not 1 again"
    );
    let from_older = resume("1", 2).await;
    println!("resumed from 1 after the restart: {from_older:?}");
    assert_eq!(from_older.len(), 2, "{from_older:?}");
    assert_eq!(from_older[0].0, "history-gap", "{from_older:?}");
    assert_eq!(from_older[1].1, "m4", "{from_older:?}");
}
// ANCHOR_END: redis_restarts_empty

// ANCHOR: redis_silent
/// `wirelab demo --redis URL` where nothing answers: a refused port, and a port that accepts
/// and then says nothing. Either way the command ends with an error that names the URL,
/// within Redis's start timeout (3 s), before it listens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_url_that_does_not_answer_is_an_error_at_start_not_a_hang() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let refused = lab_support::free_port();
    for (case, port) in [
        ("refused", refused),
        ("silent", silent.local_addr().expect("address").port()),
    ] {
        let url = format!("redis://127.0.0.1:{port}");
        let start = Instant::now();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wirelab"))
            .args(["demo", "--addr", "127.0.0.1:0", "--redis", &url])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("wirelab");
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        println!(
            "{case}: {status:?} after {:?}: {}",
            start.elapsed(),
            stderr.trim()
        );
        let status = status.expect("it ended by itself within 10 s");
        assert!(!status.success(), "{case}");
        assert!(
            stderr.contains(&url) && stderr.contains("did not answer"),
            "{case}: {stderr}"
        );
    }
}
// ANCHOR_END: redis_silent

/// Chromium, for `test`, or a skip.
fn chromium(test: &str) -> Option<std::path::PathBuf> {
    wirelab_conformance::require(wirelab_conformance::Peer::Chromium, test)
}

// ANCHOR: chromium_fail_over
/// The page of the Chromium fail-over: an `EventSource` on the chat that logs every text it
/// receives, with how many times it opened.
const FAIL_OVER_PAGE: &str = r#"<!doctype html><script>
const got = []; let opens = 0;
const source = new EventSource('/chat/events?session=cfo&transport=sse');
source.onopen = () => { opens++; console.log('OPEN ' + opens); };
source.onmessage = (event) => {
  const text = JSON.parse(event.data).text;
  if (text) { got.push(text); console.log('GOT ' + JSON.stringify({ got, opens })); }
};
</script>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_eventsource_fails_over_through_nginx_and_resumes_from_redis() {
    let Some(programs) = Programs::find("chromium_fail_over") else {
        return;
    };
    let Some(chromium) = chromium("chromium_fail_over") else {
        return;
    };
    let dir = LabDir::new("chromium-fail-over");
    let redis = programs.redis(&dir);
    let mut a = programs.demo(Some(&redis));
    let mut b = programs.demo(Some(&redis));
    let (from, to) = lab_support::lab_page(&dir, FAIL_OVER_PAGE);
    let nginx = programs.nginx(&dir, &[a.addr(), b.addr()], &[(from, &to)]);
    let mut browser = Browser::open(&chromium, &format!("http://{}/lab.html", nginx.addr()));
    assert!(
        browser
            .console("OPEN", Duration::from_secs(60))
            .await
            .is_some(),
        "the page's EventSource opened"
    );
    let sent: Vec<String> = (1..=8).map(|n| format!("c{n}")).collect();
    // What the page reported last, once it has `count` texts.
    async fn until(browser: &mut Browser, count: usize) -> serde_json::Value {
        let mut last = serde_json::Value::Null;
        while last["got"].as_array().map_or(0, Vec::len) < count {
            let Some(line) = browser.console("GOT", WAIT).await else {
                break;
            };
            last = serde_json::from_str(&line).expect("JSON");
        }
        last
    }
    for text in &sent[..4] {
        post(&nginx, text).await;
    }
    until(&mut browser, 4).await;
    let start = Instant::now();
    if open_on(&a, "cfo", "sse").await > 0 {
        a.kill();
    } else {
        b.kill();
    }
    for text in &sent[4..] {
        post(&nginx, text).await;
    }
    let last = until(&mut browser, 8).await;
    println!(
        "Chromium through nginx on Redis: {last} ({:?} after the kill)",
        start.elapsed()
    );
    assert_eq!(
        last["got"],
        serde_json::json!(sent),
        "every message once, in order"
    );
    assert!(
        last["opens"].as_u64() >= Some(2),
        "it reconnected by itself"
    );
}
// ANCHOR_END: chromium_fail_over

// ANCHOR: chromium_upgrade_hop
/// The page of the Chromium Upgrade hop: a WebSocket and an event stream through the same
/// nginx, and what came of each.
const UPGRADE_PAGE: &str = r#"<!doctype html><script>
const result = {};
const done = () => { if (result.ws && result.sse) console.log('RESULT ' + JSON.stringify(result)); };
const ws = new WebSocket('ws://' + location.host + '/echo/ws');
ws.onopen = () => { result.ws = 'open'; done(); };
ws.onclose = (event) => { result.ws = result.ws || 'closed'; result.code = event.code; done(); };
const source = new EventSource('/ticker/sse');
source.onmessage = () => { result.sse = 'message'; source.close(); done(); };
</script>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_sees_the_websocket_fail_without_the_upgrade_hop_and_the_event_stream_flow() {
    let Some(programs) = Programs::find("chromium_upgrade_hop") else {
        return;
    };
    let Some(chromium) = chromium("chromium_upgrade_hop") else {
        return;
    };
    let dir = LabDir::new("chromium-upgrade");
    let instance = programs.demo(None);
    let (from, to) = lab_support::lab_page(&dir, UPGRADE_PAGE);
    let nginx = programs.nginx(
        &dir,
        &[instance.addr()],
        &[
            ("proxy_set_header Upgrade $http_upgrade;", ""),
            ("proxy_set_header Connection $connection_upgrade;", ""),
            (from, &to),
        ],
    );
    let mut browser = Browser::open(&chromium, &format!("http://{}/lab.html", nginx.addr()));
    let result = browser
        .console("RESULT", Duration::from_secs(60))
        .await
        .expect("the page's result");
    println!("Chromium without the Upgrade hop: {result}");
    let result: serde_json::Value = serde_json::from_str(&result).expect("JSON");
    assert_eq!(result["ws"], "closed", "the WebSocket never opened");
    assert_eq!(
        result["code"], 1006,
        "closed abnormally: the handshake failed"
    );
    assert_eq!(result["sse"], "message", "the event stream flowed");
}
// ANCHOR_END: chromium_upgrade_hop

// ANCHOR: haproxy_h2c
/// HAProxy's HTTP/2 frontend without TLS: curl speaks HTTP/2 to it (prior knowledge), and the
/// ticker's event stream arrives, HAProxy asking the instance in HTTP/1.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_serves_the_event_stream_to_an_http2_client() {
    let Some(programs) = Programs::with_haproxy("haproxy_h2c") else {
        return;
    };
    let Some(curl) = wirelab_conformance::require(wirelab_conformance::Peer::Curl, "haproxy_h2c")
    else {
        return;
    };
    let dir = LabDir::new("h2c");
    let instance = programs.demo(None);
    let (_haproxy, h2c) = programs.haproxy_with_h2c(&dir, &[instance.addr()]);
    let url = format!("http://127.0.0.1:{h2c}/ticker/sse");
    // curl stops itself after 3 s (exit code 28); what it printed until then is the answer.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(curl)
            .args(["-sN", "--http2-prior-knowledge", "--max-time", "3"])
            .args(["-w", "\nhttp_version %{http_version}\n", &url])
            .output()
            .expect("curl")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let events = stdout.lines().filter(|l| l.starts_with("data:")).count();
    let version = stdout.lines().find_map(|l| l.strip_prefix("http_version "));
    println!("curl over h2c through HAProxy: HTTP version {version:?}, {events} events in 3 s");
    assert_eq!(version, Some("2"));
    assert!(events >= 2, "{stdout}");
}
// ANCHOR_END: haproxy_h2c
