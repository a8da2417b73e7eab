//! `wirelab check ws-server URL`: a WebSocket server's opening handshake, frame rules,
//! echo and closing handshake (RFC 6455), from a client's side of the wire.
//!
//! Each case opens its own TCP connection to the URL (loopback addresses only) and sends
//! bytes built with the `websocket` crate's sans-I/O pieces: the client's opening request
//! ([`ClientHandshake::with_key`]), frames ([`Frame::encode`](websocket::frame::Frame::encode)
//! with a masking key), and, for the cases that must be refused, those same bytes with one
//! rule broken. Refusals are judged by what the server sends back: the HTTP status and
//! headers of a refused handshake, the code of the Close frame that fails the connection,
//! and that the server then ends the TCP connection (after the suite's Close in reply).
//!
//! The server must echo every Text and Binary message (as `wirelab echo` and the Autobahn
//! fuzzingclient's targets do): the echo cases send messages, whole and fragmented, and wait
//! for the same message back, in frames of the server's choosing.

use std::time::Duration;

use tokio::net::TcpStream;
use websocket::frame::{Frame, OpCode};
use websocket::handshake::ClientHandshake;
use websocket::{Limits, handshake};

use super::wire::{
    Sender, Wire, client_frame, close_code, close_payload, frame, head_bytes, header, with_line,
};
use super::{Reporter, Verdict, bounded};

/// Where the server is: a loopback address and the request target.
#[derive(Debug, Clone)]
pub struct Target {
    /// The address to connect to.
    pub addr: std::net::SocketAddr,
    /// The `Host` header's value.
    pub host: String,
    /// The request target (`/` when the URL has no path).
    pub path: String,
}

/// Parses a `ws://host:port/path` URL whose host is a loopback address (or resolves to one).
///
/// # Errors
///
/// A URL that is not `ws://`, has no host, or names a host that is not loopback: the suites
/// send broken bytes on purpose, to implementations on this machine only.
pub async fn target(url: &str) -> Result<Target, String> {
    let rest = (url.strip_prefix("ws://"))
        .ok_or_else(|| format!("{url}: a ws:// URL is needed (wss:// is not checked)"))?;
    let (host, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    if host.is_empty() {
        return Err(format!("{url}: no host"));
    }
    let with_port = if host.ends_with(']') || !host.contains(':') {
        format!("{host}:80")
    } else {
        host.to_owned()
    };
    let addrs = (tokio::net::lookup_host(&with_port).await)
        .map_err(|e| format!("{url}: cannot resolve {host}: {e}"))?;
    let addr = (addrs.into_iter().find(|a| a.ip().is_loopback())).ok_or_else(|| {
        format!("{url}: {host} is not a loopback address; checks run on this machine only")
    })?;
    Ok(Target {
        addr,
        host: host.to_owned(),
        path: path.to_owned(),
    })
}

/// RFC 6455 §1.3's example key: a fixed key makes a failing case's bytes reproducible.
const KEY: [u8; 16] = *b"the sample nonce";

/// The client's opening request as lines, without the final empty line.
fn request_lines(target: &Target) -> Vec<String> {
    let (_, request) =
        ClientHandshake::with_key(KEY, &target.host, &target.path, &[], &Limits::default());
    let text = String::from_utf8_lossy(&request).into_owned();
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn connect(target: &Target) -> Result<Wire, String> {
    let tcp = (TcpStream::connect(target.addr).await)
        .map_err(|e| format!("cannot connect to {}: {e}", target.addr))?;
    // Small frames, sent at once: the cases wait for answers to single frames.
    let _ = tcp.set_nodelay(true);
    Ok(Wire::new(tcp))
}

/// Opens a WebSocket with a valid handshake, checked as a client checks it (§4.1).
async fn open(target: &Target) -> Result<Wire, String> {
    let mut wire = connect(target).await?;
    let (mut client, request) =
        ClientHandshake::with_key(KEY, &target.host, &target.path, &[], &Limits::default());
    wire.send(&request).await?;
    let head = wire.head().await?;
    match client.receive(&head) {
        Ok(Some(_)) => Ok(wire),
        Ok(None) => Err("the response head did not parse as whole".into()),
        Err(e) => Err(format!("the opening handshake failed: {e}")),
    }
}

/// Sends a request made of `lines` and returns the response's head.
async fn answer(target: &Target, lines: &[String]) -> Result<handshake::Response, String> {
    let mut wire = connect(target).await?;
    wire.send(&head_bytes(lines)).await?;
    let head = wire.head().await?;
    http_head::parse_response(&head, 100).map_err(|e| format!("the response: {e}"))
}

/// The handshake is refused with a 4xx status (§4.2.1: "such as 400 Bad Request").
async fn refused(target: &Target, lines: &[String]) -> Verdict {
    let response = answer(target, lines).await?;
    match response.status {
        400..=499 => Ok(Some(format!("{} {}", response.status, response.reason))),
        status => Err(format!(
            "answered {status} {}, not a 4xx refusal",
            response.reason
        )),
    }
}

async fn version_refused(target: &Target) -> Verdict {
    let lines = with_line(
        request_lines(target),
        "Sec-WebSocket-Version",
        Some("Sec-WebSocket-Version: 8"),
    );
    let response = answer(target, &lines).await?;
    if !(400..=499).contains(&response.status) {
        return Err(format!(
            "answered {} {}, not a refusal",
            response.status, response.reason
        ));
    }
    let versions = header(&response.headers, "sec-websocket-version").map(String::from_utf8_lossy);
    match versions {
        Some(v) if v.split(',').any(|t| t.trim() == "13") => Ok(Some(format!(
            "{} {} with Sec-WebSocket-Version: {v}",
            response.status, response.reason
        ))),
        Some(v) => Err(format!(
            "{} with Sec-WebSocket-Version: {v}, without 13",
            response.status
        )),
        None => Err(format!(
            "{} {} without Sec-WebSocket-Version",
            response.status, response.reason
        )),
    }
}

// ANCHOR: fails_with
/// After a valid handshake, `bytes` must fail the connection with a Close of `code` (§7.1.7);
/// the suite answers that Close, and the server must then end the TCP connection.
async fn fails_with(target: &Target, bytes: &[u8], code: u16) -> Verdict {
    let mut wire = open(target).await?;
    wire.send(bytes).await?;
    let Some(reply) = wire.next_frame().await? else {
        return Err(format!("the connection ended without a Close {code}"));
    };
    if reply.header.opcode != OpCode::Close {
        return Err(format!(
            "a {:?} frame came back, not a Close {code}",
            reply.header.opcode
        ));
    }
    let got = close_code(&reply.payload);
    if got != Some(code) {
        let got = got.map_or("no code".to_owned(), |c| c.to_string());
        return Err(format!("a Close with {got}, not {code}"));
    }
    // §5.5.1: a Close received is answered with a Close; then the server closes TCP first.
    wire.send(&client_frame(
        OpCode::Close,
        true,
        &close_payload(code, b""),
    ))
    .await?;
    wire.ends().await?;
    Ok(None)
}
// ANCHOR_END: fails_with

/// Sends `bytes` and expects `opcode` with `payload` back; closes with 1000 after.
async fn echoes(target: &Target, bytes: &[u8], opcode: OpCode, payload: &[u8]) -> Verdict {
    let mut wire = open(target).await?;
    wire.send(bytes).await?;
    let ((got, back), _) = wire.message_from(Sender::Server).await?;
    say_goodbye(&mut wire).await;
    if (got, back.as_slice()) != (opcode, payload) {
        return Err(format!(
            "sent {opcode:?} of {} byte(s), {got:?} of {} byte(s) came back{}",
            payload.len(),
            back.len(),
            if got == opcode {
                " (different bytes)"
            } else {
                ""
            }
        ));
    }
    Ok(None)
}

/// Ends a case's connection politely, without judging how: the case is already decided.
async fn say_goodbye(wire: &mut Wire) {
    let close = client_frame(OpCode::Close, true, &close_payload(1000, b""));
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        wire.send(&close).await?;
        while wire.next_frame().await?.is_some() {}
        Ok::<(), String>(())
    })
    .await;
}

/// A fragmented Text message with a Ping between its fragments (§5.4: control frames may be
/// injected in the middle of a fragmented message): the Pong, then the whole message.
async fn ping_between_fragments(target: &Target) -> Verdict {
    let mut wire = open(target).await?;
    let mut bytes = client_frame(OpCode::Text, false, b"frag");
    bytes.extend(client_frame(OpCode::Ping, true, b"between"));
    bytes.extend(client_frame(OpCode::Continuation, true, b"mented"));
    wire.send(&bytes).await?;
    let ((opcode, payload), controls) = wire.message_from(Sender::Server).await?;
    say_goodbye(&mut wire).await;
    if (opcode, payload.as_slice()) != (OpCode::Text, b"fragmented".as_slice()) {
        return Err(format!(
            "{opcode:?} {:?} came back, not Text \"fragmented\"",
            String::from_utf8_lossy(&payload)
        ));
    }
    let pong = Frame::new(OpCode::Pong, b"between".to_vec());
    if controls != [pong] {
        return Err(format!(
            "{} control frame(s) before the echo, not one Pong with the Ping's payload",
            controls.len()
        ));
    }
    Ok(None)
}

async fn pong(target: &Target) -> Verdict {
    let mut wire = open(target).await?;
    wire.send(&client_frame(OpCode::Ping, true, b"are you there?"))
        .await?;
    let reply = wire.next_frame().await?;
    say_goodbye(&mut wire).await;
    match reply {
        Some(Frame { header, payload }) if header.opcode == OpCode::Pong => {
            if payload == b"are you there?" {
                Ok(None)
            } else {
                Err(format!(
                    "a Pong with {} byte(s), not the Ping's payload",
                    payload.len()
                ))
            }
        }
        Some(frame) => Err(format!("a {:?} frame, not a Pong", frame.header.opcode)),
        None => Err("the connection ended without a Pong".into()),
    }
}

/// The closing handshake started by the client (§5.5.1, §7.1.1): the server's Close comes
/// back with the code, and then the server ends the TCP connection.
async fn close_echoed(target: &Target) -> Verdict {
    let mut wire = open(target).await?;
    wire.send(&client_frame(
        OpCode::Close,
        true,
        &close_payload(1000, b"bye"),
    ))
    .await?;
    let Some(reply) = wire.next_frame().await? else {
        return Err("the connection ended without a Close in reply".into());
    };
    if reply.header.opcode != OpCode::Close {
        return Err(format!("a {:?} frame, not a Close", reply.header.opcode));
    }
    let code = close_code(&reply.payload);
    if code.is_some_and(|c| c != 1000) {
        return Err(format!(
            "a Close with {code:?}; the reply echoes the code (1000)"
        ));
    }
    wire.ends().await?;
    Ok(None)
}

/// One case of the suite.
struct Case {
    name: &'static str,
    rule: &'static str,
    kind: Kind,
}

enum Kind {
    Handshake,
    Refused(Vec<String>),
    Version,
    Fails(Vec<u8>, u16),
    Echo(Vec<u8>, OpCode, Vec<u8>),
    PingBetweenFragments,
    Pong,
    CloseEchoed,
}

fn with_opcode(mut bytes: Vec<u8>, opcode: u8) -> Vec<u8> {
    bytes[0] = (bytes[0] & 0xf0) | opcode;
    bytes
}

fn with_bits(mut bytes: Vec<u8>, bits: u8) -> Vec<u8> {
    bytes[0] |= bits;
    bytes
}

fn close_with(payload: &[u8]) -> Vec<u8> {
    client_frame(OpCode::Close, true, payload)
}

fn cases(target: &Target) -> Vec<Case> {
    use Kind::*;
    let lines = request_lines(target);
    let text = |fin, p: &[u8]| client_frame(OpCode::Text, fin, p);
    let mut fragmented = text(false, "κό".as_bytes());
    fragmented.extend(client_frame(
        OpCode::Continuation,
        false,
        &"σμε".as_bytes()[..3],
    ));
    fragmented.extend(client_frame(
        OpCode::Continuation,
        true,
        &"σμε".as_bytes()[3..],
    ));
    let mut interleaved = text(false, b"one");
    interleaved.extend(text(true, b"two"));
    let binary: Vec<u8> = (0..=255).collect();
    vec![
        Case {
            name: "a valid opening handshake gets 101 and the right Sec-WebSocket-Accept",
            rule: "ws/4.2.2/response",
            kind: Handshake,
        },
        Case {
            name: "a request without Sec-WebSocket-Key is refused with a 4xx",
            rule: "ws/4.2.1/key",
            kind: Refused(with_line(lines.clone(), "Sec-WebSocket-Key", None)),
        },
        Case {
            name: "a Sec-WebSocket-Key that is not 16 bytes in base64 is refused with a 4xx",
            rule: "ws/4.2.1/key",
            kind: Refused(with_line(
                lines.clone(),
                "Sec-WebSocket-Key",
                Some("Sec-WebSocket-Key: c2hvcnQ="),
            )),
        },
        Case {
            name: "a request without Upgrade: websocket is refused with a 4xx",
            rule: "ws/4.2.1/upgrade-connection",
            kind: Refused(with_line(lines.clone(), "Upgrade", None)),
        },
        Case {
            name: "Sec-WebSocket-Version: 8 is refused (426) with Sec-WebSocket-Version: 13",
            rule: "ws/4.2.2/version",
            kind: Version,
        },
        Case {
            name: "an unmasked client frame fails the connection with 1002",
            rule: "ws/5.1/server-requires-mask",
            kind: Fails(frame(OpCode::Text, true, b"hi", false), 1002),
        },
        Case {
            name: "RSV1 set, no extension agreed: 1002",
            rule: "ws/5.2/rsv",
            kind: Fails(with_bits(text(true, b"x"), 0x40), 1002),
        },
        Case {
            name: "RSV2 and RSV3 set: 1002",
            rule: "ws/5.2/rsv",
            kind: Fails(with_bits(text(true, b"x"), 0x30), 1002),
        },
        Case {
            name: "reserved data opcode 0x3: 1002",
            rule: "ws/5.2/opcode",
            kind: Fails(with_opcode(text(true, b"x"), 0x3), 1002),
        },
        Case {
            name: "reserved control opcode 0xB: 1002",
            rule: "ws/5.2/opcode",
            kind: Fails(
                with_opcode(client_frame(OpCode::Ping, true, b""), 0xb),
                1002,
            ),
        },
        Case {
            name: "a fragmented Ping: 1002",
            rule: "ws/5.4/control-unfragmented",
            kind: Fails(client_frame(OpCode::Ping, false, b"p"), 1002),
        },
        Case {
            name: "a Ping with 126 bytes of payload: 1002",
            rule: "ws/5.5/control-125",
            kind: Fails(client_frame(OpCode::Ping, true, &[b'p'; 126]), 1002),
        },
        Case {
            name: "a Continuation with no message started: 1002",
            rule: "ws/5.4/fragment-types",
            kind: Fails(client_frame(OpCode::Continuation, true, b"x"), 1002),
        },
        Case {
            name: "a new Text message before the fragmented one ends: 1002",
            rule: "ws/5.4/no-interleave",
            kind: Fails(interleaved, 1002),
        },
        Case {
            name: "invalid UTF-8 in a Text message: 1007",
            rule: "ws/8.1/utf8-fail",
            kind: Fails(text(true, b"caf\xc3\x28"), 1007),
        },
        Case {
            name: "a Text message is echoed, in unmasked frames",
            rule: "ws/5.1/server-no-mask",
            kind: Echo(
                text(true, "héllo".as_bytes()),
                OpCode::Text,
                "héllo".as_bytes().to_vec(),
            ),
        },
        Case {
            name: "a Binary message of 256 bytes is echoed",
            rule: "ws/6.2/receive",
            kind: Echo(
                client_frame(OpCode::Binary, true, &binary),
                OpCode::Binary,
                binary.clone(),
            ),
        },
        Case {
            name: "a Text message in three fragments, UTF-8 cut between them, is echoed whole",
            rule: "ws/5.4/fragmented",
            kind: Echo(fragmented, OpCode::Text, "κόσμε".as_bytes().to_vec()),
        },
        Case {
            name: "a Ping between fragments is answered at once, the message echoed after",
            rule: "ws/5.4/control-in-middle",
            kind: PingBetweenFragments,
        },
        Case {
            name: "a Ping is answered with a Pong carrying its payload",
            rule: "ws/5.5.2/pong",
            kind: Pong,
        },
        Case {
            name: "a Close is answered with a Close, then the server ends TCP",
            rule: "ws/5.5.1/reply-close",
            kind: CloseEchoed,
        },
        Case {
            name: "a Close with a 1-byte payload: 1002",
            rule: "ws/5.5.1/close-code",
            kind: Fails(close_with(&[0x03]), 1002),
        },
        Case {
            name: "a Close with code 999: 1002",
            rule: "ws/7.4.1/reserved-codes",
            kind: Fails(close_with(&close_payload(999, b"")), 1002),
        },
        Case {
            name: "a Close with code 1005 (never sent on the wire): 1002",
            rule: "ws/7.4.1/reserved-codes",
            kind: Fails(close_with(&close_payload(1005, b"")), 1002),
        },
        Case {
            name: "a Close with code 1015 (never sent on the wire): 1002",
            rule: "ws/7.4.1/reserved-codes",
            kind: Fails(close_with(&close_payload(1015, b"")), 1002),
        },
    ]
}

/// Runs every case against the server at `url`, each bounded by `timeout`.
///
/// # Errors
///
/// A URL that cannot be checked (see [`target`]).
pub async fn run<W: std::io::Write>(
    url: &str,
    timeout: Duration,
    reporter: &mut Reporter<W>,
) -> Result<(), String> {
    let target = target(url).await?;
    // One line saying nothing listens, rather than every case failing the same way.
    connect(&target).await?;
    for case in cases(&target) {
        let t = &target;
        let verdict = bounded(timeout, async {
            match case.kind {
                Kind::Handshake => open(t).await.map(|_| None),
                Kind::Refused(lines) => refused(t, &lines).await,
                Kind::Version => version_refused(t).await,
                Kind::Fails(bytes, code) => fails_with(t, &bytes, code).await,
                Kind::Echo(bytes, opcode, payload) => echoes(t, &bytes, opcode, &payload).await,
                Kind::PingBetweenFragments => ping_between_fragments(t).await,
                Kind::Pong => pong(t).await,
                Kind::CloseEchoed => close_echoed(t).await,
            }
        })
        .await;
        reporter.case(case.name, case.rule, verdict);
    }
    Ok(())
}
