//! The bytes the WebSocket suites send and read: frames built with the `websocket` crate's
//! sans-I/O encoder, and a TCP stream read as one HTTP head, then frames.
//!
//! The suites build frames the implementation under test must refuse, so nothing here
//! checks what it is asked to send; and they read the other side's frames with
//! [`Frame::decode`], so a frame that breaks a header rule is reported, not trusted.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use websocket::frame::{Frame, FrameHeader, OpCode};
use websocket::handshake::HeadBuffer;

/// The masking key of the frames the suites send as a client: fixed, so that a failing case
/// sends the same bytes every time.
pub const KEY: [u8; 4] = [0xde, 0xad, 0xbe, 0xef];

/// A frame's bytes: `opcode`, FIN as `fin`, `payload`, masked with [`KEY`] when `masked`.
pub fn frame(opcode: OpCode, fin: bool, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut frame = Frame::new(opcode, payload.to_vec());
    frame.header.fin = fin;
    if masked {
        frame = frame.masked(KEY);
    }
    let mut out = Vec::new();
    frame.encode(&mut out);
    out
}

/// A masked frame, as a client sends it.
pub fn client_frame(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    frame(opcode, fin, payload, true)
}

/// A Close frame's payload: the code, big-endian, then the reason (RFC 6455 §5.5.1).
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

/// An HTTP head from its lines (request or status line, then header lines): each line ended
/// with CRLF, then the empty line.
pub fn head_bytes<S: AsRef<str>>(lines: &[S]) -> Vec<u8> {
    let mut head = String::new();
    for line in lines {
        head.push_str(line.as_ref());
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// `lines` with the first line that starts with `prefix` (compared case-insensitively: a
/// header's name, or `GET`) replaced by `by`, or removed when `by` is `None`; unchanged when
/// no line starts so.
pub fn with_line(mut lines: Vec<String>, prefix: &str, by: Option<&str>) -> Vec<String> {
    let starts = |line: &String| {
        (line.get(..prefix.len())).is_some_and(|start| start.eq_ignore_ascii_case(prefix))
    };
    match (lines.iter().position(starts), by) {
        (Some(at), Some(line)) => lines[at] = line.to_owned(),
        (Some(at), None) => {
            lines.remove(at);
        }
        (None, _) => {}
    }
    lines
}

/// The code of a Close frame's payload, if it has one.
pub fn close_code(payload: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*payload.first()?, *payload.get(1)?]))
}

/// The largest HTTP head the suites read.
const MAX_HEAD: usize = 16 * 1024;

/// A TCP connection read as the suites read it: one HTTP head, then frames.
#[derive(Debug)]
pub struct Wire {
    /// The connection.
    pub tcp: TcpStream,
    buffer: Vec<u8>,
    /// The header of every frame read so far, in order (their masking keys, for one).
    pub headers: Vec<FrameHeader>,
}

/// Which side sent the frames a [`Wire`] reads: RFC 6455 §5.1 asks a client to mask every
/// frame, and a server to mask none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The implementation under test is a server.
    Server,
    /// The implementation under test is a client.
    Client,
}

/// A whole message: Text or Binary, and its payload with the fragments joined.
pub type Whole = (OpCode, Vec<u8>);

impl Wire {
    /// Wraps a connection.
    pub fn new(tcp: TcpStream) -> Wire {
        Wire {
            tcp,
            buffer: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Sends `bytes`.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        (self.tcp.write_all(bytes).await).map_err(|e| format!("sending: {e}"))
    }

    /// Reads more bytes into the buffer; `false` at the end of the stream (or a reset, which
    /// the suites treat as the same: the other side is gone).
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match self.tcp.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// The next HTTP head, through its empty line; what follows it stays buffered.
    pub async fn head(&mut self) -> Result<Vec<u8>, String> {
        let mut head = HeadBuffer::new(MAX_HEAD);
        let mut fed = 0;
        loop {
            let found = (head.push(&self.buffer[fed..])).map_err(|e| format!("the head: {e}"))?;
            fed = self.buffer.len();
            if let Some(end) = found {
                let rest = self.buffer.split_off(end);
                return Ok(std::mem::replace(&mut self.buffer, rest));
            }
            if !self.fill().await {
                return Err("the connection ended before a whole HTTP head".into());
            }
        }
    }

    /// The next frame, or `None` when the connection ends first (a partial frame is
    /// dropped). A frame that breaks a header rule is an error naming the rule.
    pub async fn next_frame(&mut self) -> Result<Option<Frame>, String> {
        loop {
            match Frame::decode(&self.buffer) {
                Ok(Some((frame, n))) => {
                    self.buffer.drain(..n);
                    self.headers.push(frame.header);
                    return Ok(Some(frame));
                }
                Ok(None) => {}
                Err(e) => return Err(format!("an invalid frame arrived: {e}")),
            }
            if !self.fill().await {
                return Ok(None);
            }
        }
    }

    /// The next frame of `sender`, masked as §5.1 asks of it; the end of the connection is an
    /// error here.
    pub async fn frame_from(&mut self, sender: Sender) -> Result<Frame, String> {
        let frame = (self.next_frame().await?).ok_or("the connection ended")?;
        let opcode = frame.header.opcode;
        match (sender, frame.header.mask) {
            (Sender::Client, None) => Err(format!(
                "an unmasked {opcode:?} frame from the client (§5.1: a client masks every frame)"
            )),
            (Sender::Server, Some(_)) => Err(format!(
                "a masked {opcode:?} frame from the server (§5.1: a server masks none)"
            )),
            _ => Ok(frame),
        }
    }

    /// The next whole message of `sender`, and the control frames that came before its end
    /// (a Pong, or a Ping, may come between fragments). A Close instead is an error naming
    /// its code.
    pub async fn message_from(&mut self, sender: Sender) -> Result<(Whole, Vec<Frame>), String> {
        let mut message: Option<Whole> = None;
        let mut controls = Vec::new();
        loop {
            let frame = self.frame_from(sender).await?;
            // A control frame between fragments does not end the message, FIN as it has.
            let ends = frame.header.fin && !frame.header.opcode.is_control();
            match (frame.header.opcode, &mut message) {
                (OpCode::Close, _) => {
                    let code =
                        close_code(&frame.payload).map_or("no code".into(), |c| c.to_string());
                    return Err(format!("a Close ({code}) came instead of the echo"));
                }
                (OpCode::Ping | OpCode::Pong, _) => controls.push(frame),
                (OpCode::Text | OpCode::Binary, None) => {
                    message = Some((frame.header.opcode, frame.payload));
                }
                (OpCode::Continuation, Some((_, payload))) => {
                    payload.extend_from_slice(&frame.payload)
                }
                (opcode, _) => return Err(format!("an out-of-place {opcode:?} frame")),
            }
            if ends && let Some(whole) = message.take() {
                return Ok((whole, controls));
            }
        }
    }

    /// Whether the connection ends (no more bytes, or a reset) before more data arrives;
    /// what arrives instead is an error naming it.
    pub async fn ends(&mut self) -> Result<(), String> {
        if !self.buffer.is_empty() || self.fill().await {
            let what = match Frame::decode(&self.buffer) {
                Ok(Some((frame, _))) => format!("a frame ({})", frame.header),
                _ => format!("{} more byte(s)", self.buffer.len()),
            };
            return Err(format!(
                "{what} arrived instead of the end of the connection"
            ));
        }
        Ok(())
    }
}

/// The value of header `name` (case-insensitive) in `headers`, if it is there once or more.
pub fn header<'a>(headers: &'a [websocket::handshake::Header], name: &str) -> Option<&'a [u8]> {
    (headers.iter())
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}
