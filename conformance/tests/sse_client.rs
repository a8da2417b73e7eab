//! The SSE client and server helpers against each other and against misbehaving servers.
//!
//! - A server that drops the connection every few events: the client receives every event
//!   exactly once, in order, and its `Last-Event-ID` headers are the expected ones; both with
//!   clean ends of the response and with connections cut in the middle of an event.
//! - 204, 404 and a wrong content type: the client stops for good, with the reason, after
//!   exactly one request.
//! - Redirects are followed, up to the limit, and reported once even when a `next()` is
//!   cancelled in the middle of them.
//! - An endless line hits the parser's bound and the client closes with a clear error.
//! - Requests carry `Accept: text/event-stream`, `Cache-Control: no-cache`, and
//!   `Last-Event-ID` once an id is known.
//! - Only failed attempts back off: a connection that delivered an event, or ended cleanly,
//!   resets the count, so a polling-style server is never given up on.
//! - Keep-alive comments arrive while the stream is idle; a graceful shutdown ends the
//!   stream and the client reconnects; a client too far behind is told about the gap.
//!
//! Run: `cargo test -p wirelab-conformance --test sse_client`

mod sse_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::StatusCode;
use sse::backoff::BackoffConfig;
use sse::client::{Client, ClientConfig, ClientEvent, CloseReason, Disconnect};
use sse::history::{GAP_EVENT_TYPE, Hub, Published};
use sse::server::{self, ServerConfig, Shutdown};
use sse::{Error, Event, ParserConfig};
use sse_support::{Iter, Take, guarded, plain, serve, sse_response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A client that reconnects fast: tests wait milliseconds, not seconds.
fn fast() -> ClientConfig {
    ClientConfig {
        reconnection_time: Duration::from_millis(5),
        backoff: BackoffConfig {
            base: Duration::from_millis(1),
            max: Duration::from_millis(20),
            healthy_after: Duration::from_secs(30),
        },
        max_attempts: Some(50),
        ..ClientConfig::default()
    }
}

/// Reads messages until `count` arrived; returns them and every reconnection seen.
async fn collect(
    client: &mut Client,
    count: usize,
) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let mut messages = Vec::new();
    let mut reconnects = Vec::new();
    while messages.len() < count {
        match client.next().await.expect("the client does not close") {
            ClientEvent::Message(m) => messages.push((m.data, m.last_event_id.to_string())),
            ClientEvent::Reconnecting {
                reason,
                last_event_id,
                ..
            } => reconnects.push((reason.to_string(), last_event_id)),
            ClientEvent::Closed(reason) => panic!("closed: {reason}"),
            _ => {}
        }
    }
    (messages, reconnects)
}

fn expected_messages(total: u64) -> Vec<(String, String)> {
    (1..=total)
        .map(|n| (format!("event {n}"), n.to_string()))
        .collect()
}

// req: sse/9.2.2/end-of-body sse/9.2.3/reestablish sse/9.2.4/last-event-id
#[tokio::test]
async fn every_event_once_in_order_across_clean_drops() {
    const TOTAL: u64 = 20;
    const PER_CONNECTION: usize = 3;
    let hub = Arc::new(Hub::new(100, 100));
    for n in 1..=TOTAL {
        hub.publish(Event::new().data(format!("event {n}")));
    }
    let seen_headers = Arc::new(Mutex::new(Vec::new()));
    let server = serve({
        let seen_headers = seen_headers.clone();
        move |request| {
            let last = server::last_event_id(&request).map(str::to_owned);
            seen_headers.lock().expect("lock").push(last.clone());
            // "0": a new client replays from the first event.
            let events = hub.subscribe(Some(last.as_deref().unwrap_or("0")));
            sse_response(Take {
                first: vec![Published::new(Event::new().retry(Duration::from_millis(5)))],
                stream: Box::pin(events),
                n: PER_CONNECTION,
            })
        }
    })
    .await;
    let mut client = Client::new(&server.url("/events"), fast()).expect("url");
    let (messages, reconnects) = guarded(collect(&mut client, TOTAL as usize)).await;
    assert_eq!(messages, expected_messages(TOTAL));
    let expected_headers: Vec<Option<String>> = std::iter::once(None)
        .chain((1..7).map(|k| Some((k * PER_CONNECTION).to_string())))
        .collect();
    assert_eq!(*seen_headers.lock().expect("lock"), expected_headers);
    assert_eq!(reconnects.len(), 6);
    for (reason, _) in &reconnects {
        assert_eq!(reason, &Disconnect::EndOfStream.to_string());
    }
}

/// A hand-written HTTP/1.1 server that sends three events after the client's
/// `Last-Event-ID`, then half of the fourth, then closes the socket: with chunked coding
/// that is a network error, with a close-delimited body a clean end. Either way the half
/// event must be discarded, and the client must resume after the third.
async fn cut_mid_event(chunked: bool) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/events", listener.local_addr().expect("address"));
    let seen_headers = Arc::new(Mutex::new(Vec::new()));
    let server = tokio::spawn({
        let seen_headers = seen_headers.clone();
        async move {
            for _ in 0..20 {
                let (mut tcp, _) = listener.accept().await.expect("accept");
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    tcp.read_exact(&mut byte).await.expect("request");
                    head.push(byte[0]);
                }
                let head = String::from_utf8(head).expect("ASCII head");
                let last: Option<u64> = head
                    .lines()
                    .find_map(|l| l.strip_prefix("last-event-id: "))
                    .map(|v| v.parse().expect("numeric id"));
                seen_headers.lock().expect("lock").push(last);
                let start = last.unwrap_or(0);
                let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n".to_vec();
                out.extend_from_slice(if chunked {
                    &b"transfer-encoding: chunked\r\n\r\n"[..]
                } else {
                    &b"connection: close\r\n\r\n"[..]
                });
                for n in start + 1..=start + 4 {
                    let event = format!("id: {n}\ndata: event {n}\n\n");
                    // The fourth event is cut after its data field's first bytes.
                    let sent = if n == start + 4 { &event[..14] } else { &event };
                    if chunked {
                        out.extend(format!("{:x}\r\n", event.len()).bytes());
                        out.extend(sent.bytes());
                        if n != start + 4 {
                            out.extend(b"\r\n");
                        }
                    } else {
                        out.extend(sent.bytes());
                    }
                }
                tcp.write_all(&out).await.expect("write");
                // Dropping the socket closes it.
            }
        }
    });
    let mut client = Client::new(&url, fast()).expect("url");
    let (messages, reconnects) = guarded(collect(&mut client, 12)).await;
    assert_eq!(messages, expected_messages(12));
    let headers = seen_headers.lock().expect("lock").clone();
    assert_eq!(&headers[..4], [None, Some(3), Some(6), Some(9)]);
    for (reason, _) in &reconnects {
        let clean = reason == &Disconnect::EndOfStream.to_string();
        assert_eq!(clean, !chunked, "{reason}");
    }
    server.abort();
}

#[tokio::test]
async fn half_events_are_discarded_when_a_chunked_response_is_cut() {
    cut_mid_event(true).await;
}

#[tokio::test]
async fn half_events_are_discarded_when_a_close_delimited_response_ends() {
    cut_mid_event(false).await;
}

/// Runs a client against a server that answers `/` with `response`, expecting it to close
/// for good after exactly one request.
async fn closes_after_one_request(
    response: fn() -> http::Response<sse_support::Body>,
) -> CloseReason {
    let requests = Arc::new(Mutex::new(0));
    let server = serve({
        let requests = requests.clone();
        move |_| {
            *requests.lock().expect("lock") += 1;
            response()
        }
    })
    .await;
    let mut client = Client::new(&server.url("/"), fast()).expect("url");
    let reason = guarded(async {
        loop {
            match client.next().await.expect("a Closed event comes first") {
                ClientEvent::Closed(reason) => break reason,
                ClientEvent::Reconnecting { reason, .. } => panic!("retried after {reason}"),
                _ => {}
            }
        }
    })
    .await;
    assert!(client.next().await.is_none(), "nothing after Closed");
    assert_eq!(client.ready_state(), sse::client::ReadyState::Closed);
    // The client has no background task: once closed, no request can follow.
    assert_eq!(*requests.lock().expect("lock"), 1);
    reason
}

// req: sse/9.2.2/status-type sse/9.2.3/fail
#[tokio::test]
async fn no_content_stops_without_retrying() {
    let reason = closes_after_one_request(|| plain(StatusCode::NO_CONTENT, "text/plain", "")).await;
    assert!(matches!(reason, CloseReason::NoContent), "{reason}");
}

#[tokio::test]
async fn not_found_stops_without_retrying() {
    let reason =
        closes_after_one_request(|| plain(StatusCode::NOT_FOUND, "text/plain", "no")).await;
    assert!(matches!(reason, CloseReason::Status(404)), "{reason}");
}

#[tokio::test]
async fn server_error_stops_without_retrying() {
    let reason =
        closes_after_one_request(|| plain(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "")).await;
    assert!(matches!(reason, CloseReason::Status(503)), "{reason}");
}

/// Fetch §2.2.6: only 301, 302, 303, 307 and 308 are redirects; a 300 with a `Location` is a
/// final, non-200 answer.
#[tokio::test]
async fn multiple_choices_is_not_a_redirect() {
    let reason = closes_after_one_request(|| {
        let mut response = plain(StatusCode::MULTIPLE_CHOICES, "text/plain", "");
        response
            .headers_mut()
            .insert(http::header::LOCATION, http::HeaderValue::from_static("/"));
        response
    })
    .await;
    assert!(matches!(reason, CloseReason::Status(300)), "{reason}");
}

// req: sse/9.2.2/status-type
#[tokio::test]
async fn wrong_content_type_stops_without_retrying() {
    let reason =
        closes_after_one_request(|| plain(StatusCode::OK, "text/plain", "data: x\n\n")).await;
    assert!(
        matches!(&reason, CloseReason::ContentType(t) if t == "text/plain"),
        "{reason}"
    );
}

// req: sse/9.2.2/announce sse/9.2.3/announce
#[tokio::test]
async fn content_type_parameters_and_case_are_accepted() {
    let server = serve(|_| {
        plain(
            StatusCode::OK,
            "Text/Event-Stream; charset=windows-1252",
            "data: ok\u{2026}\n\n",
        )
    })
    .await;
    let mut client = Client::new(&server.url("/"), fast()).expect("url");
    let (messages, _) = guarded(collect(&mut client, 1)).await;
    // HTML §9.2.5: always UTF-8, whatever the charset parameter says (WPT format-utf-8).
    assert_eq!(messages[0].0, "ok\u{2026}");
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let server = serve(|request| match request.uri().path() {
        "/moved" => http::Response::builder()
            .status(StatusCode::TEMPORARY_REDIRECT)
            .header("location", "/events")
            .body(sse_support::Body::default())
            .expect("valid"),
        "/loop" => http::Response::builder()
            .status(StatusCode::FOUND)
            .header("location", "/loop")
            .body(sse_support::Body::default())
            .expect("valid"),
        _ => sse_response(Iter(vec![Event::new().data("arrived")].into_iter())),
    })
    .await;
    let mut client = Client::new(&server.url("/moved"), fast()).expect("url");
    let first = guarded(client.next()).await;
    assert!(
        matches!(&first, Some(ClientEvent::Redirect { status: 307, location }) if location == "/events"),
        "{first:?}"
    );
    assert!(matches!(
        guarded(client.next()).await,
        Some(ClientEvent::Open)
    ));
    let (messages, _) = guarded(collect(&mut client, 1)).await;
    assert_eq!(messages[0].0, "arrived");

    let config = ClientConfig {
        max_redirects: 3,
        ..fast()
    };
    let mut client = Client::new(&server.url("/loop"), config).expect("url");
    let mut redirects = 0;
    let reason = guarded(async {
        loop {
            match client.next().await.expect("closes") {
                ClientEvent::Redirect { .. } => redirects += 1,
                ClientEvent::Closed(reason) => break reason,
                other => panic!("{other:?}"),
            }
        }
    })
    .await;
    assert_eq!(redirects, 3);
    assert!(
        matches!(reason, CloseReason::TooManyRedirects(3)),
        "{reason}"
    );
}

#[tokio::test]
async fn a_cancelled_next_does_not_report_a_redirect_twice() {
    // `/start` redirects to `/slow`; the first request for `/slow` never gets an answer, the
    // later ones get the stream. The test drops `next()` while that first request hangs, the
    // redirect already followed, then calls `next()` again.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/start", listener.local_addr().expect("address"));
    let slow_reached = Arc::new(tokio::sync::Notify::new());
    let server = tokio::spawn({
        let slow_reached = slow_reached.clone();
        async move {
            let mut hanging = Vec::new();
            loop {
                let (mut tcp, _) = listener.accept().await.expect("accept");
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    tcp.read_exact(&mut byte).await.expect("request");
                    head.push(byte[0]);
                }
                let response: &[u8] = if head.starts_with(b"GET /start ") {
                    b"HTTP/1.1 307 Temporary Redirect\r\nlocation: /slow\r\ncontent-length: 0\r\n\r\n"
                } else if hanging.is_empty() {
                    hanging.push(tcp);
                    slow_reached.notify_one();
                    continue;
                } else {
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: hi\n\n"
                };
                tcp.write_all(response).await.expect("write");
            }
        }
    });
    let mut client = Client::new(&url, fast()).expect("url");
    guarded(async {
        tokio::select! {
            event = client.next() => panic!("nothing is ready while /slow hangs: {event:?}"),
            () = slow_reached.notified() => {}
        }
    })
    .await;
    let mut seen = Vec::new();
    guarded(async {
        loop {
            match client.next().await.expect("open") {
                ClientEvent::Redirect { location, .. } => seen.push(format!("redirect {location}")),
                ClientEvent::Open => seen.push("open".to_owned()),
                ClientEvent::Message(m) => break seen.push(format!("message {}", m.data)),
                other => panic!("{other:?}"),
            }
        }
    })
    .await;
    assert_eq!(seen, ["redirect /slow", "open", "message hi"]);
    server.abort();
}

#[tokio::test]
async fn an_endless_line_hits_the_bound_and_closes_with_a_clear_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.expect("accept");
        let mut request = [0u8; 1024];
        let _ = tcp.read(&mut request).await;
        let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: ";
        tcp.write_all(head).await.expect("write");
        let chunk = vec![b'x'; 16 * 1024];
        // At most 64 MiB: far past the client's bound, and the loop ends by itself.
        for _ in 0..4096 {
            if tcp.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    let config = ClientConfig {
        parser: ParserConfig {
            max_event_bytes: 64 * 1024,
        },
        ..fast()
    };
    let mut client = Client::new(&url, config).expect("url");
    let reason = guarded(async {
        loop {
            match client.next().await.expect("closes") {
                ClientEvent::Closed(reason) => break reason,
                ClientEvent::Open => {}
                other => panic!("{other:?}"),
            }
        }
    })
    .await;
    assert!(
        matches!(
            reason,
            CloseReason::Protocol(Error::EventTooLarge { limit: 65536 })
        ),
        "{reason}"
    );
    assert_eq!(
        reason.to_string(),
        "event exceeds the bound of 65536 buffered bytes"
    );
    // The client dropped the connection: the server's writes fail and its loop ends.
    guarded(server).await.expect("server task");
}

// req: sse/9.2.5/mime
#[tokio::test]
async fn keep_alive_comments_while_idle() {
    let (_tx, rx) = tokio::sync::mpsc::channel::<Event>(1);
    let rx = Mutex::new(Some(rx));
    let server = serve(move |_| {
        let config = ServerConfig {
            keep_alive: Some(Duration::from_millis(20)),
            shutdown: None,
            ..ServerConfig::default()
        };
        let events = server::ReceiverStream(rx.lock().expect("lock").take().expect("one request"));
        server::response(events, config).map(http_body_util::BodyExt::boxed_unsync)
    })
    .await;
    let mut client = Client::new(&server.url("/"), fast()).expect("url");
    let mut comments = 0;
    guarded(async {
        while comments < 3 {
            match client.next().await.expect("open") {
                ClientEvent::Comment(text) => {
                    assert_eq!(text, "keep-alive");
                    comments += 1;
                }
                ClientEvent::Open => {}
                other => panic!("{other:?}"),
            }
        }
    })
    .await;
}

#[tokio::test]
async fn graceful_shutdown_ends_open_streams() {
    let shutdown = Shutdown::new();
    let signal = shutdown.signal();
    let server = serve(move |_| {
        let config = ServerConfig {
            keep_alive: None,
            shutdown: Some(signal.clone()),
            ..ServerConfig::default()
        };
        // Only the shutdown can end this stream: it never yields after the first event.
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let _ = tx.try_send(Event::new().data("hello"));
        tokio::spawn(async move {
            tx.closed().await;
        });
        server::response(server::ReceiverStream(rx), config)
            .map(http_body_util::BodyExt::boxed_unsync)
    })
    .await;
    let config = ClientConfig {
        max_attempts: Some(1),
        ..fast()
    };
    let mut client = Client::new(&server.url("/"), config).expect("url");
    let (messages, _) = guarded(collect(&mut client, 1)).await;
    assert_eq!(messages[0].0, "hello");
    shutdown.trigger();
    let next = guarded(client.next()).await;
    assert!(
        matches!(
            next,
            Some(ClientEvent::Reconnecting {
                reason: Disconnect::EndOfStream,
                ..
            })
        ),
        "{next:?}"
    );
}

#[tokio::test]
async fn a_client_whose_id_fell_out_of_the_history_is_told() {
    let hub = Arc::new(Hub::new(3, 16));
    for n in 1..=10 {
        hub.publish(Event::new().data(format!("event {n}")));
    }
    let server =
        serve(move |request| sse_response(hub.subscribe(server::last_event_id(&request)))).await;
    let config = ClientConfig {
        last_event_id: "2".to_owned(),
        ..fast()
    };
    let mut client = Client::new(&server.url("/"), config).expect("url");
    let mut got = Vec::new();
    guarded(async {
        while got.len() < 4 {
            if let ClientEvent::Message(m) = client.next().await.expect("open") {
                got.push((m.event_type, m.data, m.last_event_id.to_string()));
            }
        }
    })
    .await;
    let gap = (GAP_EVENT_TYPE.to_owned(), "2".to_owned(), "2".to_owned());
    let kept = (8..=10).map(|n| ("message".to_owned(), format!("event {n}"), n.to_string()));
    assert_eq!(got, std::iter::once(gap).chain(kept).collect::<Vec<_>>());
}

// req: sse/9.2.2/network-error
#[tokio::test]
async fn connection_refused_is_retried_with_backoff_then_given_up() {
    // Bind and drop: nothing listens on the port any more.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    drop(listener);
    let config = ClientConfig {
        max_attempts: Some(4),
        ..fast()
    };
    let mut client = Client::new(&url, config).expect("url");
    let mut attempts = Vec::new();
    let reason = guarded(async {
        loop {
            match client.next().await.expect("closes") {
                ClientEvent::Reconnecting {
                    attempt, reason, ..
                } => {
                    assert!(
                        matches!(reason, Disconnect::Network(Error::Io(_))),
                        "{reason}"
                    );
                    attempts.push(attempt);
                }
                ClientEvent::Closed(reason) => break reason,
                other => panic!("{other:?}"),
            }
        }
    })
    .await;
    assert_eq!(attempts, [1, 2, 3, 4]);
    assert!(
        matches!(reason, CloseReason::GaveUp { attempts: 4 }),
        "{reason}"
    );
}

/// Reads until `count` messages arrived; returns each reconnection's attempt number, delay,
/// and whether the server had ended the stream cleanly. Panics if the client closes.
async fn reconnections_for(client: &mut Client, count: usize) -> Vec<(u32, Duration, bool)> {
    let mut messages = 0;
    let mut reconnections = Vec::new();
    while messages < count {
        match client.next().await.expect("the client does not close") {
            ClientEvent::Message(_) => messages += 1,
            ClientEvent::Reconnecting {
                attempt,
                delay,
                reason,
                ..
            } => {
                let clean = matches!(reason, Disconnect::EndOfStream);
                reconnections.push((attempt, delay, clean));
            }
            ClientEvent::Closed(reason) => panic!("closed after {messages} messages: {reason}"),
            _ => {}
        }
    }
    reconnections
}

#[tokio::test]
async fn a_polling_server_that_answers_every_request_is_never_backed_off() {
    // Each response: one event, then a clean end, as a long-polling server does.
    let server = serve(|_| {
        sse_response(Iter(
            vec![Event::new().retry(Duration::from_millis(5)).data("tick")].into_iter(),
        ))
    })
    .await;
    let config = ClientConfig {
        max_attempts: Some(3),
        ..fast()
    };
    let mut client = Client::new(&server.url("/poll"), config).expect("url");
    let reconnections = guarded(reconnections_for(&mut client, 10)).await;
    // Every connection succeeded: each reconnection is attempt 1 and waits the reconnection
    // time, no backoff, and max_attempts never runs out.
    assert_eq!(reconnections, [(1, Duration::from_millis(5), true); 9]);
}

#[tokio::test]
async fn a_connection_that_delivered_an_event_then_broke_resets_the_backoff() {
    // Each response: one event, then the socket closes in the middle of the chunked body, a
    // network error for the client, but only after the connection did its job.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/events", listener.local_addr().expect("address"));
    let server = tokio::spawn(async move {
        loop {
            let (mut tcp, _) = listener.accept().await.expect("accept");
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                tcp.read_exact(&mut byte).await.expect("request");
                head.push(byte[0]);
            }
            let event = "retry: 5\ndata: tick\n\n";
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                 transfer-encoding: chunked\r\n\r\n{:x}\r\n{event}\r\n",
                event.len()
            );
            tcp.write_all(response.as_bytes()).await.expect("write");
        }
    });
    let config = ClientConfig {
        max_attempts: Some(3),
        ..fast()
    };
    let mut client = Client::new(&url, config).expect("url");
    let reconnections = guarded(reconnections_for(&mut client, 10)).await;
    assert_eq!(reconnections, [(1, Duration::from_millis(5), false); 9]);
    server.abort();
}

#[tokio::test]
async fn a_hostile_stream_neither_panics_nor_stalls_the_client() {
    // Broken UTF-8, a BOM in the wrong place, NULs, bare CRs, ids with NUL, fields with no
    // name, and a retry too large for any clock: every well-formed event arrives.
    let body: &'static [u8] = b"\xEF\xBB\xBF\xEF\xBB\xBFdata: lost\n\n\
        data: \xFF\xC0\xAF\xED\xA0\x80\xE2\x82\r\r\
        :\0\0\0\n:\xFF\n: data: not data\n\
        id: 1\0\nid: 7\n:\ndata\0: no\n\x00\n\rdata:\rdata:\0\r\n\r\n\
        retry: 99999999999999999999999999\nretry: -1\nretry: 1e3\n\
        event: \xC3\n\ndata: kept\n\ndata: unterminated";
    let server = serve(move |_| {
        http::Response::builder()
            .header("content-type", "text/event-stream")
            .body(http_body_util::BodyExt::boxed_unsync(
                http_body_util::Full::new(bytes::Bytes::from_static(body)),
            ))
            .expect("valid")
    })
    .await;
    let mut client = Client::new(&server.url("/"), fast()).expect("url");
    let mut messages = Vec::new();
    let (delay, last_event_id) = guarded(async {
        loop {
            match client.next().await.expect("open") {
                ClientEvent::Message(m) => {
                    messages.push((m.event_type, m.data, m.last_event_id.to_string()));
                }
                ClientEvent::Reconnecting {
                    delay,
                    last_event_id,
                    ..
                } => break (delay, last_event_id),
                ClientEvent::Closed(reason) => panic!("closed: {reason}"),
                _ => {}
            }
        }
    })
    .await;
    let owned = |t: &str, d: &str, i: &str| (t.to_owned(), d.to_owned(), i.to_owned());
    assert_eq!(
        messages,
        [
            owned("message", &"\u{FFFD}".repeat(7), ""),
            owned("message", "\n\0", "7"),
            owned("message", "kept", "7"),
        ]
    );
    // The retry saturated at u64::MAX milliseconds; the wait is capped, not overflowed.
    assert!(
        delay >= Duration::from_secs(60 * 60 * 24 * 365),
        "{delay:?}"
    );
    assert_eq!(last_event_id, "7");
}

// req: sse/9.2.2/request sse/9.2.4/last-event-id
#[tokio::test]
async fn requests_carry_the_eventsource_headers() {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let server = serve({
        let requests = requests.clone();
        move |request| {
            let header = |name: &str| {
                request
                    .headers()
                    .get(name)
                    .map(|v| v.to_str().expect("ASCII").to_owned())
            };
            requests.lock().expect("lock").push((
                request.method().to_string(),
                header("accept"),
                header("cache-control"),
                header("last-event-id"),
            ));
            let id = requests.lock().expect("lock").len().to_string();
            sse_response(Iter(
                vec![Event::new().data("x").id(id).expect("numeric id")].into_iter(),
            ))
        }
    })
    .await;
    let mut client = Client::new(&server.url("/"), fast()).expect("url");
    guarded(collect(&mut client, 2)).await;
    let requests = requests.lock().expect("lock").clone();
    let expected = |last: Option<&str>| {
        (
            "GET".to_owned(),
            Some("text/event-stream".to_owned()),
            Some("no-cache".to_owned()),
            last.map(str::to_owned),
        )
    };
    assert_eq!(requests[..2], [expected(None), expected(Some("1"))]);
}

#[tokio::test]
async fn a_silent_connection_times_out_and_is_reestablished() {
    let server = serve(|_| {
        // One event, then silence: the stream never ends and never sends a keep-alive.
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let _ = tx.try_send(Event::new().data("then silence"));
        tokio::spawn(async move { tx.closed().await });
        sse_response(server::ReceiverStream(rx))
    })
    .await;
    let config = ClientConfig {
        timeout: Some(Duration::from_millis(300)),
        ..fast()
    };
    let mut client = Client::new(&server.url("/"), config).expect("url");
    let (messages, _) = guarded(collect(&mut client, 1)).await;
    assert_eq!(messages[0].0, "then silence");
    let next = guarded(client.next()).await;
    let Some(ClientEvent::Reconnecting {
        reason: Disconnect::Network(Error::Io(error)),
        ..
    }) = next
    else {
        panic!("{next:?}");
    };
    assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(error.to_string(), "nothing received for 300 ms");
    // And it reconnects: the same event again, from a new connection.
    let (messages, _) = guarded(collect(&mut client, 1)).await;
    assert_eq!(messages[0].0, "then silence");
}
