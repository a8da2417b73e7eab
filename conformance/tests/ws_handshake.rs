//! The opening handshake (RFC 6455 §4), both sides, as bytes: snapshots of the requests and
//! responses (accepted and every rejection), the client's checks of the response, and the
//! headers that must appear once, on both server paths (`accept` and the hyper `upgrade`).

use websocket::handshake::{
    ClientHandshake, Request, ServerHandshake, ServerOptions, accept_key, check_request,
    reject_response,
};
use websocket::{Error, Limits};
// Request heads as lines, edited a line at a time, as `wirelab check ws-server` sends them.
use wirelab::check::wire::{head_bytes as request, with_line};

/// RFC 6455 §1.3's example key and what it hashes to.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn valid_lines() -> Vec<String> {
    vec![
        "GET /chat HTTP/1.1".into(),
        "Host: server.example.com".into(),
        "Upgrade: websocket".into(),
        "Connection: keep-alive, Upgrade".into(),
        format!("Sec-WebSocket-Key: {KEY}"),
        "Origin: http://example.com".into(),
        "Sec-WebSocket-Protocol: chat, superchat".into(),
        "Sec-WebSocket-Version: 13".into(),
    ]
}

fn parse(bytes: &[u8]) -> Request {
    let mut server = ServerHandshake::new(&Limits::default());
    let (request, leftover) = server.receive(bytes).unwrap().expect("a whole head");
    assert!(leftover.is_empty());
    request
}

fn options() -> ServerOptions {
    ServerOptions {
        allowed_origins: Some(vec!["http://example.com".into()]),
        select_subprotocol: Some(std::sync::Arc::new(|offered: &[&str]| {
            offered
                .iter()
                .find(|p| **p == "chat")
                .map(|p| p.to_string())
        })),
        config: websocket::Config::default(),
    }
}

/// The server's answer to a request given as lines: the 101, or the rejection.
fn answer(lines: &[String]) -> String {
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let bytes = match check_request(&parse(&request(&lines)), &options()) {
        Ok(accepted) => accepted.response_bytes(),
        Err(error) => reject_response(&error),
    };
    String::from_utf8(bytes).unwrap()
}

fn with(replace: &str, by: Option<&str>) -> Vec<String> {
    with_line(valid_lines(), replace, by)
}

/// The valid request with the line that starts with `name` sent twice, the second time right
/// after the first.
fn repeated(name: &str) -> Vec<String> {
    let mut lines = valid_lines();
    let at = lines.iter().position(|l| l.starts_with(name)).unwrap();
    lines.insert(at + 1, lines[at].clone());
    lines
}

// req: ws/4.2.2/response
#[test]
fn accept_key_of_the_rfc() {
    assert_eq!(accept_key(KEY.as_bytes()), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

// req: ws/4.1/request ws/4.1/host ws/4.1/upgrade-connection ws/4.1/version ws/4.1/key
#[test]
fn client_request() {
    let key = *b"the sample nonce";
    let (_, request) = ClientHandshake::with_key(
        key,
        "server.example.com",
        "/chat",
        &["chat", "superchat"],
        &Limits::default(),
    );
    insta::assert_snapshot!(String::from_utf8(request).unwrap());
}

// req: ws/4.2.2/response
#[test]
fn server_accepts() {
    insta::assert_snapshot!(answer(&valid_lines()));
}

// req: ws/4.2.1/refuse ws/4.2.1/request ws/4.2.1/upgrade-connection ws/4.2.1/key ws/4.2.2/version
// req: ws/4.2.2/refuse-status ws/10.7/validate
#[test]
fn server_rejections_say_why() {
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("POST", with("GET", Some("POST /chat HTTP/1.1"))),
        ("HTTP/1.0", with("GET", Some("GET /chat HTTP/1.0"))),
        ("no Host", with("Host", None)),
        ("no Upgrade", with("Upgrade", None)),
        ("Upgrade: h2c", with("Upgrade", Some("Upgrade: h2c"))),
        (
            "Connection: close",
            with("Connection", Some("Connection: close")),
        ),
        (
            "version 8",
            with("Sec-WebSocket-Version", Some("Sec-WebSocket-Version: 8")),
        ),
        (
            "key of 15 bytes",
            with(
                "Sec-WebSocket-Key",
                Some("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA"),
            ),
        ),
        (
            "key not base64",
            with("Sec-WebSocket-Key", Some("Sec-WebSocket-Key: !!!!")),
        ),
        (
            "other origin",
            with("Origin", Some("Origin: http://evil.example")),
        ),
        ("two Hosts", repeated("Host")),
        ("two keys", repeated("Sec-WebSocket-Key")),
        ("two versions", repeated("Sec-WebSocket-Version")),
    ];
    let mut transcript = String::new();
    for (name, lines) in cases {
        transcript.push_str(&format!("==== {name}\n{}\n", answer(&lines)));
    }
    insta::assert_snapshot!(transcript);
}

// req: ws/4.2.1/upgrade-connection
#[test]
fn header_tokens_are_case_insensitive_lists() {
    let mut lines = with("Upgrade", Some("upgrade: WebSocket"));
    lines = lines
        .into_iter()
        .map(|l| {
            if l.starts_with("Connection") {
                "connection: UPGRADE".into()
            } else {
                l
            }
        })
        .collect();
    assert!(answer(&lines).starts_with("HTTP/1.1 101 "));
}

// req: ws/4.2.2/protocol
#[test]
fn no_subprotocol_unless_offered_and_chosen() {
    let lines = with(
        "Sec-WebSocket-Protocol",
        Some("Sec-WebSocket-Protocol: superchat"),
    );
    assert!(!answer(&lines).contains("Sec-WebSocket-Protocol"));
}

#[test]
fn head_split_anywhere_parses_the_same_and_keeps_the_frames_after_it() {
    let lines: Vec<String> = valid_lines();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut bytes = request(&lines);
    let head_len = bytes.len();
    bytes.extend_from_slice(&[0x81, 0x85, 1, 2, 3, 4]);
    let whole = parse(&bytes[..head_len]);
    for cut in 0..bytes.len() {
        let mut server = ServerHandshake::new(&Limits::default());
        let first = server.receive(&bytes[..cut]).unwrap();
        // Whatever followed the head in the read that completed it is returned as frames.
        let (request, leftover) = match first {
            Some((request, leftover)) => (request, [&leftover[..], &bytes[cut..]].concat()),
            None => server.receive(&bytes[cut..]).unwrap().expect("whole now"),
        };
        assert_eq!(request, whole);
        assert_eq!(leftover, [0x81, 0x85, 1, 2, 3, 4], "cut at {cut}");
    }
}

#[test]
fn head_size_and_header_count_are_bounded() {
    let config = Limits {
        max_handshake_size: 256,
        max_headers: 4,
        ..Limits::default()
    };
    // A head that never ends is refused once it passes the limit, fed a byte at a time.
    let mut server = ServerHandshake::new(&config);
    let mut refused = None;
    for (i, byte) in b"GET / HTTP/1.1\r\nX: "
        .iter()
        .chain([b'a'; 300].iter())
        .enumerate()
    {
        if let Err(e) = server.receive(&[*byte]) {
            refused = Some((i, e));
            break;
        }
    }
    let (at, error) = refused.expect("refused");
    assert_eq!(at, 255);
    assert!(matches!(error, Error::HandshakeTooLarge));
    assert_eq!(error.http_status(), Some(431));
    // Too many headers.
    let lines = valid_lines();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut server = ServerHandshake::new(&config);
    assert!(matches!(
        server.receive(&request(&lines)),
        Err(Error::HandshakeTooLarge)
    ));
}

/// The client's side: a response is checked against the request that was sent.
fn client_check(response: &str) -> Result<Option<String>, Error> {
    let (mut client, _) = ClientHandshake::with_key(
        *b"the sample nonce",
        "server.example.com",
        "/chat",
        &["chat"],
        &Limits::default(),
    );
    client
        .receive(response.as_bytes())
        .map(|done| done.expect("a whole head").1)
}

// req: ws/4.1/check-101 ws/4.1/check-upgrade ws/4.1/check-connection ws/4.1/check-accept
// req: ws/4.1/check-extensions
#[test]
fn client_checks_the_response() {
    let ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    assert_eq!(client_check(&format!("{ok}\r\n")).unwrap(), None);
    assert_eq!(
        client_check(&format!("{ok}Sec-WebSocket-Protocol: chat\r\n\r\n")).unwrap(),
        Some("chat".into())
    );
    assert!(matches!(
        client_check(&format!("{ok}Sec-WebSocket-Protocol: superchat\r\n\r\n")),
        Err(Error::UnofferedSubprotocol(p)) if p == "superchat"
    ));
    assert!(matches!(
        client_check(&format!(
            "{ok}Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
        )),
        Err(Error::UnofferedExtension)
    ));
    assert!(matches!(
        client_check("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        Err(Error::UnexpectedStatus(200))
    ));
    let wrong = ok.replace(
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    assert!(matches!(
        client_check(&format!("{wrong}\r\n")),
        Err(Error::BadAccept)
    ));
    let missing = ok.replace("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", "");
    assert!(matches!(
        client_check(&format!("{missing}\r\n")),
        Err(Error::BadAccept)
    ));
}

// req: ws/4.1/check-protocol
/// RFC 6455 §4.1: the response names one subprotocol, one the client offered. Two headers, or
/// a list in one, fail the handshake rather than pass as "no subprotocol".
#[test]
fn client_accepts_exactly_one_offered_subprotocol() {
    let ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    for chosen in [
        "Sec-WebSocket-Protocol: superchat\r\n",
        "Sec-WebSocket-Protocol: chat, superchat\r\n",
    ] {
        let result = client_check(&format!("{ok}{chosen}\r\n"));
        assert!(
            matches!(result, Err(Error::UnofferedSubprotocol(_))),
            "{chosen:?}: {result:?}"
        );
    }
}

// req: ws/4.1/uri-valid ws/4.1/protocol-tokens
/// What goes into the request line and the headers is checked: a CR LF in the path, the host
/// or a subprotocol would add a header of the caller's choosing.
#[test]
fn client_request_cannot_be_injected() {
    let config = Limits::default();
    let new = |host: &str, path: &str, protocols: &[&str]| {
        ClientHandshake::new(host, path, protocols, &config).map(|(_, request)| request)
    };
    assert!(matches!(new("h", "/a\r\nX: y", &[]), Err(Error::BadUrl(_))));
    assert!(matches!(new("h", "/a b", &[]), Err(Error::BadUrl(_))));
    assert!(matches!(new("h\r\nX: y", "/", &[]), Err(Error::BadUrl(_))));
    assert!(new("h", "/", &["chat\r\nX: y"]).is_err());
    assert!(new("h", "/", &["a b"]).is_err());
    assert!(new("[::1]:8080", "/a%20b?c=d", &["chat", "v2.chat"]).is_ok());
}

/// The two ways to reject (bytes on a fresh connection, a hyper response) carry the same
/// status-specific headers: one list, `rejection_headers`.
#[test]
fn both_rejections_carry_the_same_headers() {
    for (error, header) in [
        (Error::UnsupportedVersion, "Sec-WebSocket-Version: 13"),
        (Error::MethodNotGet("POST".into()), "Allow: GET"),
    ] {
        let bytes = String::from_utf8(websocket::handshake::reject_response(&error)).unwrap();
        assert!(bytes.contains(&format!("\r\n{header}\r\n")), "{bytes}");
        let response = websocket::io::rejection(&error);
        let (name, value) = header.split_once(": ").unwrap();
        assert_eq!(response.headers()[name], value, "{error}");
    }
}

// req: ws/4.1/key
#[test]
fn client_keys_are_fresh() {
    let config = Limits::default();
    let (_, a) = ClientHandshake::new("h", "/", &[], &config).unwrap();
    let (_, b) = ClientHandshake::new("h", "/", &[], &config).unwrap();
    assert_ne!(a, b);
}

// req: ws/10.2/origin
/// §4.2.2, §10.2: with an allow-list, two `Origin` headers are refused like a forbidden one,
/// even when both name an allowed origin (a browser never sends two).
#[test]
fn two_origins_are_refused() {
    let mut lines = valid_lines();
    lines.push("Origin: http://example.com".into());
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let error = check_request(&parse(&request(&lines)), &options()).expect_err("refused");
    assert!(matches!(error, Error::OriginNotAllowed(_)), "{error:?}");
    assert_eq!(error.http_status(), Some(403));
    // Without an allow-list the server reads no Origin, so two of them are as harmless as
    // none: RFC 6455 §11.3 does not list Origin, and RFC 6454 §7.3's "at most one" binds the
    // user agent, which only a server that checks the origin has a reason to enforce.
    let open = ServerOptions::default();
    assert!(check_request(&parse(&request(&lines)), &open).is_ok());
}

/// A slice far larger than the head bound is refused without being copied whole; a head
/// followed by frame data in the same slice keeps the frame data.
#[test]
fn one_huge_push_is_refused_without_copying_it() {
    let config = Limits {
        max_handshake_size: 256,
        ..Limits::default()
    };
    let mut buffer = websocket::handshake::HeadBuffer::new(config.max_handshake_size);
    let huge = vec![b'a'; 1 << 20];
    assert!(buffer.push(&huge).is_err());
    assert_eq!(buffer.bytes().len(), 256);

    let mut buffer = websocket::handshake::HeadBuffer::new(config.max_handshake_size);
    let mut bytes = b"GET / HTTP/1.1\r\n\r\n".to_vec();
    bytes.extend_from_slice(&huge);
    assert_eq!(buffer.push(&bytes).expect("a head"), Some(18));
    assert_eq!(buffer.bytes().len(), bytes.len());
}

// ---- Headers that appear once (RFC 6455 §11.3, RFC 9112 §3.2) ----
//
// A request that repeats one of them gets 400 naming the rule, on both server paths: the
// byte-level `accept` and the hyper `upgrade`. A response that repeats one fails the client's
// handshake.

/// Reads one HTTP response (head and `Content-Length` body) from `stream`, bounded in time.
async fn read_response<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> String {
    use tokio::io::AsyncReadExt as _;
    let read = async {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .and_then(|n| n.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if bytes.len() >= end + 4 + length {
                    return text;
                }
            }
            match stream.read(&mut buf).await.expect("read") {
                0 => return String::from_utf8_lossy(&bytes).into_owned(),
                n => bytes.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("an answer in time")
}

/// The answer of `websocket::io::accept` to `lines`, over an in-memory stream.
async fn answer_of_accept(lines: &[String]) -> String {
    use tokio::io::AsyncWriteExt as _;
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (mut client, server) = tokio::io::duplex(64 << 10);
    let accepting = tokio::spawn(async move {
        let _ = websocket::io::accept(server, &options()).await;
    });
    client.write_all(&request(&lines)).await.expect("write");
    let answer = read_response(&mut client).await;
    drop(client);
    accepting.await.expect("accept ran");
    answer
}

/// The answer of a hyper server that upgrades with `websocket::io::upgrade` to `lines`, over
/// an in-memory stream: hyper parses the head into its header map, and the check reads that.
async fn answer_of_upgrade(lines: &[String]) -> String {
    use tokio::io::AsyncWriteExt as _;
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (mut client, server) = tokio::io::duplex(64 << 10);
    let service = hyper::service::service_fn(|mut req: http::Request<hyper::body::Incoming>| {
        let response = match websocket::io::upgrade(&mut req, &options()) {
            Ok((response, _upgrading)) => response,
            Err(error) => websocket::io::rejection(&error),
        };
        async move { Ok::<_, std::convert::Infallible>(response) }
    });
    let serving = tokio::spawn(
        hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(server), service)
            .with_upgrades(),
    );
    client.write_all(&request(&lines)).await.expect("write");
    let answer = read_response(&mut client).await;
    drop(client);
    let _ = serving.await;
    answer
}

/// Asserts that `answer` is the 400 that names `rule` for `name`.
fn assert_refused_once(answer: &str, name: &str, rule: &str) {
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    let reason = format!("{rule}: {name} must not appear more than once");
    assert!(answer.contains(&reason), "{answer}");
    // Not taken for a version mismatch: a 426 would offer the version.
    assert!(!answer.contains("Sec-WebSocket-Version: 13"), "{answer}");
}

#[tokio::test]
async fn rfc9112_3_2_one_host_accept() {
    let answer = answer_of_accept(&repeated("Host")).await;
    assert_refused_once(&answer, "Host", "RFC 9112 §3.2");
}

#[tokio::test]
async fn rfc9112_3_2_one_host_upgrade() {
    let answer = answer_of_upgrade(&repeated("Host")).await;
    assert_refused_once(&answer, "Host", "RFC 9112 §3.2");
}

// req: ws/11.3/request-once
#[tokio::test]
async fn rfc6455_11_3_1_one_key_accept() {
    let answer = answer_of_accept(&repeated("Sec-WebSocket-Key")).await;
    assert_refused_once(&answer, "Sec-WebSocket-Key", "RFC 6455 §11.3.1");
}

#[tokio::test]
async fn rfc6455_11_3_1_one_key_upgrade() {
    let answer = answer_of_upgrade(&repeated("Sec-WebSocket-Key")).await;
    assert_refused_once(&answer, "Sec-WebSocket-Key", "RFC 6455 §11.3.1");
}

#[tokio::test]
async fn rfc6455_11_3_5_one_version_accept() {
    let answer = answer_of_accept(&repeated("Sec-WebSocket-Version")).await;
    assert_refused_once(&answer, "Sec-WebSocket-Version", "RFC 6455 §11.3.5");
}

// req: ws/11.3/request-once
#[tokio::test]
async fn rfc6455_11_3_5_one_version_upgrade() {
    let answer = answer_of_upgrade(&repeated("Sec-WebSocket-Version")).await;
    assert_refused_once(&answer, "Sec-WebSocket-Version", "RFC 6455 §11.3.5");
}

/// The headers that may repeat in a request still may, on both paths: subprotocols and
/// extensions are lists, and two list headers read as one list.
#[tokio::test]
async fn rfc6455_11_3_4_protocol_may_repeat_in_a_request() {
    let lines = with(
        "Sec-WebSocket-Protocol",
        Some("Sec-WebSocket-Protocol: superchat\r\nSec-WebSocket-Protocol: chat"),
    );
    for answer in [
        answer_of_accept(&lines).await,
        answer_of_upgrade(&lines).await,
    ] {
        assert!(answer.starts_with("HTTP/1.1 101 "), "{answer}");
        // hyper writes header names in lower case.
        let lower = answer.to_ascii_lowercase();
        assert!(
            lower.contains("sec-websocket-protocol: chat\r\n"),
            "{answer}"
        );
    }
}

/// Under an allow-list, two `Origin`s reach the check on the hyper path too, and get 403.
#[tokio::test]
async fn two_origins_are_refused_by_upgrade() {
    let answer = answer_of_upgrade(&repeated("Origin")).await;
    assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
}

const SWITCHED: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

// req: ws/11.3/response-once
#[test]
fn rfc6455_11_3_3_one_accept_in_response() {
    let twice = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    let result = client_check(&format!("{SWITCHED}{twice}\r\n"));
    assert!(
        matches!(
            result,
            Err(Error::RepeatedHeader {
                name: "Sec-WebSocket-Accept",
                rule: "RFC 6455 §11.3.3"
            })
        ),
        "{result:?}"
    );
}

// req: ws/11.3/response-once
#[test]
fn rfc6455_11_3_4_one_protocol_in_response() {
    for twice in [
        "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n",
        "Sec-WebSocket-Protocol: b\r\nSec-WebSocket-Protocol: c\r\n",
    ] {
        let result = client_check(&format!("{SWITCHED}{twice}\r\n"));
        assert!(
            matches!(
                result,
                Err(Error::RepeatedHeader {
                    name: "Sec-WebSocket-Protocol",
                    rule: "RFC 6455 §11.3.4"
                })
            ),
            "{twice:?}: {result:?}"
        );
    }
}

// req: ws/4.2.2/extensions
#[test]
fn an_offered_extension_is_not_answered() {
    let mut lines = valid_lines();
    // An extension this server does not implement: it must not appear in the answer.
    lines.push("Sec-WebSocket-Extensions: x-wirelab-unknown; level=3".into());
    let answer = answer(&lines);
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    assert!(
        !answer
            .to_ascii_lowercase()
            .contains("sec-websocket-extensions"),
        "{answer}"
    );
}
