//! `wirelab check ws-client -- CMD ARGS...`: a WebSocket client, from the server's side of
//! the wire (RFC 6455).
//!
//! WireLab listens on a loopback port and runs the command with `ws://127.0.0.1:PORT/check`
//! as its last argument. The command connects and must send back every Text and Binary
//! message it receives, as it received it, until the server closes (as `wirelab ws --echo`
//! does, or Autobahn's clients). The suite reads the opening request with the `websocket`
//! crate's server handshake, answers it, and sends frames built with its encoder; it checks
//! that the client masks every frame with a fresh key, echoes, answers a Ping and the
//! closing handshake. Two more runs of the command check failures: a response with a wrong
//! `Sec-WebSocket-Accept`, which the client must refuse, and a masked frame from the
//! server, which it must answer with a Close 1002.

use std::time::Duration;

use tokio::net::TcpListener;
use websocket::frame::OpCode;
use websocket::handshake::{Request, ServerOptions, accept_key, check_request};

use super::program::{Program, Running};
use super::wire::{Sender, Wire, close_code, close_payload, frame, header};
use super::{Reporter, Verdict, bounded};

/// The listener and the command, for one run.
struct Session {
    listener: TcpListener,
    url: String,
    timeout: Duration,
}

impl Session {
    async fn new(timeout: Duration) -> Result<Session, String> {
        let listener =
            (TcpListener::bind("127.0.0.1:0").await).map_err(|e| format!("cannot listen: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        Ok(Session {
            listener,
            url: format!("ws://{addr}/check"),
            timeout,
        })
    }

    /// Runs the command and takes its connection and opening request.
    async fn start(
        &self,
        program: &Program,
    ) -> Result<(Running, Wire, Result<Request, String>), String> {
        let running = program.start(&self.url)?;
        let accepted = tokio::time::timeout(self.timeout, self.listener.accept()).await;
        let (tcp, _) = accepted
            .map_err(|_| {
                format!(
                    "the command did not connect within {} ms",
                    self.timeout.as_millis()
                )
            })?
            .map_err(|e| format!("accepting: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let mut wire = Wire::new(tcp);
        let head = tokio::time::timeout(self.timeout, wire.head())
            .await
            .map_err(|_| "no whole opening request in time".to_owned())?;
        let request = head.and_then(|h| {
            http_head::parse_request(&h, 100).map_err(|e| format!("the request: {e}"))
        });
        Ok((running, wire, request))
    }
}

fn options() -> ServerOptions {
    let mut options = ServerOptions::default();
    // Frames with RSV1 would need inflating; the suite's frames are plain.
    options.config.deflate.enabled = false;
    options
}

/// An unmasked frame, as a server sends it.
fn server_frame(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    frame(opcode, fin, payload, false)
}

async fn echo(wire: &mut Wire, bytes: &[u8], opcode: OpCode, payload: &[u8]) -> Verdict {
    wire.send(bytes).await?;
    let ((got, back), _) = wire.message_from(Sender::Client).await?;
    if (got, back.as_slice()) != (opcode, payload) {
        return Err(format!(
            "sent {opcode:?} of {} byte(s), {got:?} of {} byte(s) came back",
            payload.len(),
            back.len()
        ));
    }
    Ok(None)
}

/// The key alone, judged by the crate's own request check: the client's key in a request
/// that is otherwise valid.
fn check_key(request: &Request) -> Verdict {
    let key = header(&request.headers, "sec-websocket-key").ok_or("no Sec-WebSocket-Key")?;
    let key = String::from_utf8_lossy(key);
    let lines = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
    );
    let alone =
        http_head::parse_request(lines.as_bytes(), 100).map_err(|e| format!("the key: {e}"))?;
    match check_request(&alone, &options()) {
        Ok(_) => Ok(Some(format!("Sec-WebSocket-Key: {key}"))),
        Err(_) => Err(format!(
            "Sec-WebSocket-Key {key:?} is not 16 bytes in base64"
        )),
    }
}

fn check_version(request: &Request) -> Verdict {
    match header(&request.headers, "sec-websocket-version") {
        Some(b"13") => Ok(None),
        Some(other) => Err(format!(
            "Sec-WebSocket-Version: {}",
            String::from_utf8_lossy(other)
        )),
        None => Err("no Sec-WebSocket-Version".into()),
    }
}

/// The main run: the request, then echo, Ping, masking keys, and the closing handshake.
async fn main_run<W: std::io::Write>(
    program: &Program,
    timeout: Duration,
    reporter: &mut Reporter<W>,
) -> Result<(), String> {
    let session = Session::new(timeout).await?;
    let (_running, mut wire, request) = session.start(program).await?;
    let request = request?;
    let accepted = check_request(&request, &options());
    let valid: Verdict = match &accepted {
        Ok(_) => Ok(Some(format!("{} {}", request.method, request.path))),
        Err(e) => Err(format!("the request is refused: {e}")),
    };
    reporter.case(
        "the opening request is a valid GET with Host, Upgrade and Connection",
        "ws/4.1/request",
        valid,
    );
    reporter.case(
        "the request's Sec-WebSocket-Key is 16 bytes in base64",
        "ws/4.1/key",
        check_key(&request),
    );
    reporter.case(
        "the request asks for Sec-WebSocket-Version: 13",
        "ws/4.1/version",
        check_version(&request),
    );
    let accepted = accepted.map_err(|e| format!("cannot go on after a refused request: {e}"))?;
    wire.send(&accepted.response_bytes()).await?;

    let text = server_frame(OpCode::Text, true, "hello, client ✓".as_bytes());
    let verdict = bounded(
        timeout,
        echo(&mut wire, &text, OpCode::Text, "hello, client ✓".as_bytes()),
    )
    .await;
    reporter.case(
        "a Text message is echoed, in masked frames",
        "ws/5.1/client-masks",
        verdict,
    );

    let binary: Vec<u8> = (0..=255).rev().collect();
    let bytes = server_frame(OpCode::Binary, true, &binary);
    let verdict = bounded(timeout, echo(&mut wire, &bytes, OpCode::Binary, &binary)).await;
    reporter.case(
        "a Binary message of 256 bytes is echoed",
        "ws/6.2/receive",
        verdict,
    );

    let mut fragmented = server_frame(OpCode::Text, false, "κό".as_bytes());
    fragmented.extend(server_frame(OpCode::Ping, true, b"between"));
    fragmented.extend(server_frame(OpCode::Continuation, true, "σμε".as_bytes()));
    let verdict = bounded(
        timeout,
        echo(&mut wire, &fragmented, OpCode::Text, "κόσμε".as_bytes()),
    )
    .await;
    reporter.case(
        "a fragmented Text message, a Ping between its fragments, is echoed whole",
        "ws/5.4/control-in-middle",
        verdict,
    );

    let verdict = bounded(timeout, async {
        wire.send(&server_frame(OpCode::Ping, true, b"still there?"))
            .await?;
        loop {
            let frame = wire.frame_from(Sender::Client).await?;
            match frame.header.opcode {
                OpCode::Pong if frame.payload == b"still there?" => return Ok(None),
                OpCode::Pong => continue,
                other => return Err(format!("a {other:?} frame, not the Pong")),
            }
        }
    })
    .await;
    reporter.case(
        "a Ping is answered with a Pong carrying its payload",
        "ws/5.5.2/pong",
        verdict,
    );

    let keys: Vec<[u8; 4]> = wire.headers.iter().filter_map(|h| h.mask).collect();
    let mut distinct = keys.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let verdict = match keys.len() {
        0..=1 => Err(format!(
            "{} masked frame(s) seen: too few to compare",
            keys.len()
        )),
        n if distinct.len() == n => Ok(Some(format!("{n} frames, {n} different keys"))),
        n => Err(format!(
            "{n} frames, only {} different keys",
            distinct.len()
        )),
    };
    reporter.case(
        "every frame has a fresh masking key",
        "ws/5.3/fresh-key",
        verdict,
    );

    let verdict = bounded(timeout, async {
        wire.send(&server_frame(
            OpCode::Close,
            true,
            &close_payload(1000, b"done"),
        ))
        .await?;
        loop {
            let frame = wire.frame_from(Sender::Client).await?;
            if frame.header.opcode == OpCode::Close {
                return match close_code(&frame.payload) {
                    None | Some(1000) => Ok(None),
                    Some(code) => Err(format!(
                        "a Close with {code}; the reply echoes the code (1000)"
                    )),
                };
            }
        }
    })
    .await;
    reporter.case(
        "a Close is answered with a Close",
        "ws/5.5.1/reply-close",
        verdict,
    );
    Ok(())
}

/// A run whose 101 carries a wrong `Sec-WebSocket-Accept`: the client must end the
/// connection without echoing what follows.
async fn bad_accept(program: &Program, timeout: Duration) -> Verdict {
    let session = Session::new(timeout).await?;
    let (_running, mut wire, request) = session.start(program).await?;
    let accepted =
        check_request(&request?, &options()).map_err(|e| format!("the request is refused: {e}"))?;
    let response = String::from_utf8_lossy(&accepted.response_bytes()).into_owned();
    let wrong = accept_key(b"a key the client did not send");
    let start = response
        .find("Sec-WebSocket-Accept: ")
        .ok_or("no Accept in the response")?
        + 22;
    let end = start + response[start..].find("\r\n").ok_or("no end of line")?;
    let response = format!("{}{wrong}{}", &response[..start], &response[end..]);
    wire.send(response.as_bytes()).await?;
    wire.send(&server_frame(OpCode::Text, true, b"do not echo me"))
        .await?;
    bounded(timeout, async {
        loop {
            match wire.next_frame().await {
                Ok(None) | Err(_) => return Ok(None),
                Ok(Some(frame)) if matches!(frame.header.opcode, OpCode::Text | OpCode::Binary) => {
                    return Err(
                        "the client echoed a message over a connection it should have refused"
                            .into(),
                    );
                }
                // A Close is more than the rule asks, and harmless.
                Ok(Some(_)) => {}
            }
        }
    })
    .await
    .map_err(|e| {
        if e.starts_with("no answer") {
            format!("the connection stayed open: {e}")
        } else {
            e
        }
    })
}

/// A run where the server's first frame is masked: the client must fail the connection with
/// a Close 1002.
async fn masked_from_server(program: &Program, timeout: Duration) -> Verdict {
    let session = Session::new(timeout).await?;
    let (_running, mut wire, request) = session.start(program).await?;
    let accepted =
        check_request(&request?, &options()).map_err(|e| format!("the request is refused: {e}"))?;
    wire.send(&accepted.response_bytes()).await?;
    wire.send(&frame(OpCode::Text, true, b"masked", true))
        .await?;
    bounded(timeout, async {
        let frame =
            (wire.next_frame().await?).ok_or("the connection ended without a Close 1002")?;
        match (frame.header.opcode, close_code(&frame.payload)) {
            (OpCode::Close, Some(1002)) => Ok(None),
            (OpCode::Close, code) => Err(format!("a Close with {code:?}, not 1002")),
            (opcode, _) => Err(format!("a {opcode:?} frame came back, not a Close 1002")),
        }
    })
    .await
}

/// Runs the suite against `program`, each case bounded by `timeout`.
///
/// # Errors
///
/// When the command cannot be run, does not connect, or sends no request the suite can go on
/// from.
pub async fn run<W: std::io::Write>(
    program: &Program,
    timeout: Duration,
    reporter: &mut Reporter<W>,
) -> Result<(), String> {
    main_run(program, timeout, reporter).await?;
    let verdict = bad_accept(program, timeout).await;
    reporter.case(
        "a 101 with a wrong Sec-WebSocket-Accept is refused",
        "ws/4.1/check-accept",
        verdict,
    );
    let verdict = masked_from_server(program, timeout).await;
    reporter.case(
        "a masked frame from the server fails the connection with 1002",
        "ws/5.1/client-refuses-mask",
        verdict,
    );
    Ok(())
}
