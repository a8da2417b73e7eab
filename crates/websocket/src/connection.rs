//! The connection: a state machine that turns received bytes into messages, and messages into
//! bytes to send (RFC 6455 §5 to §8). No sockets, no clocks: the I/O layer, a test or a
//! simulation moves the bytes.
//!
//! ```text
//!   receive(bytes) ──► [ input ] ──► next_event() ──► Text / Binary / Ping / Pong / Close
//!                                        │ (a Pong for each Ping, a Close in reply, a Close
//!                                        ▼  with the error's code when the peer breaks a rule)
//!   send(message)  ────────────────► [ output ] ──► take_output() ──► socket
//! ```
//!
//! # Receiving
//!
//! [`Connection::next_event`] parses a frame header as soon as its 2 to 14 bytes are in, and
//! checks it against the connection's state before any payload is stored: the masking
//! direction (§5.1), RSV bits (§5.2), continuation order (§5.4) and the size limits (1009).
//! Then it consumes the payload *as it arrives*, unmasking each piece at its offset and, for
//! text, feeding it to the incremental UTF-8 validator: a message that goes bad in its first
//! bytes fails there (close code 1007), not after its last fragment.
//!
//! Control frames (Ping, Pong, Close) may arrive between the fragments of a message (§5.4);
//! their payload goes to a separate 125-byte buffer, so the message being assembled is
//! untouched.
//!
//! # Closing
//!
//! Either side starts the closing handshake by sending a Close; the other answers with one
//! Close. §5.5.1 forbids data frames after a Close; this connection sends no frame at all after
//! its Close, not even a Pong, which the RFC would allow: the peer is leaving, and one rule is
//! simpler to hold and to test. The server then closes the TCP
//! connection first (§7.1.1), so that the TIME_WAIT state stays on the server; the client
//! waits for that, with a timeout (the I/O layer's job). A rule broken by the peer _Fails the
//! WebSocket Connection_ (§7.1.7): we send a Close with the error's code and stop reading.
//! When the bytes end without a Close, the connection closed abnormally: code 1006, which is
//! reported but never sent (§7.4.1).
//!
//! # Where extensions plug in
//!
//! RSV bits are checked in one place (`check_header`) against the bits a negotiated
//! extension owns, and a data message is reassembled in one type, [`IncompleteMessage`]: the
//! one extension this crate has, RFC 7692's permessage-deflate ([`crate::deflate`]), claims
//! RSV1 in the first and inflates the message in the second, and compresses a whole message in
//! [`Connection::send`] before it is framed. The frame layer stays unaware of it.

use crate::config::Limits;
use crate::deflate::{Deflate, PerMessageDeflate};
use crate::error::Error;
use crate::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, OpCode, encode_frame};
use crate::mask::apply_mask;
pub use crate::message::{IncompleteMessage, Message};

/// Which end of the connection this is: it decides who masks (RFC 6455 §5.1).
// ANCHOR: role
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The side that sent the opening handshake; masks every frame it sends.
    Client,
    /// The side that accepted it; never masks, and closes the TCP connection first.
    Server,
}
// ANCHOR_END: role

/// The payload of a Close frame: a status code and a UTF-8 reason (RFC 6455 §5.5.1).
// ANCHOR: close_frame
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code (§7.4).
    pub code: u16,
    /// Why, for humans; at most 123 bytes so the payload fits in 125.
    pub reason: String,
}
// ANCHOR_END: close_frame

/// Where the connection stands, in the words of RFC 6455 §7 (the same three states as the
/// browser API's `readyState` after CONNECTING, which ends with the opening handshake).
// ANCHOR: state_enum
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// _The WebSocket Connection is Established_ (§4): messages flow both ways.
    Open,
    /// We sent a Close, _The WebSocket Closing Handshake is Started_ (§7.1.3), and wait for
    /// the peer's. Nothing more is sent; what arrives is still read.
    Closing,
    /// Both Close frames were exchanged (_The WebSocket Closing Handshake is Completed_), or we
    /// had to _Fail the WebSocket Connection_ (§7.1.7), or the bytes ended: nothing more is sent
    /// or received.
    Closed,
}
// ANCHOR_END: state_enum

/// Is this close code allowed in a Close frame on the wire? (RFC 6455 §7.4.)
///
/// 1000-1003 and 1007-1011 are defined by §7.4.1; 1012-1014 were registered with IANA later
/// (service restart, try again later, bad gateway) and are sent by real servers. 1004 is
/// reserved, and 1005, 1006 and 1015 are for reporting only: they must never be sent.
/// 3000-3999 are registered by libraries and frameworks, 4000-4999 are private use.
/// Everything else (0-999, 1016-2999, 5000 and up) is invalid.
// req: ws/7.4.1/reserved-codes
// ANCHOR: close_codes
pub fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}
// ANCHOR_END: close_codes

/// Input buffer capacity kept between reads; a larger one is freed once it is consumed.
const INPUT_KEEP: usize = 1024;

/// Output buffer capacity lent back for reuse (see [`Connection::swap_output`]).
const OUTPUT_KEEP: usize = 1024;

/// The frame whose payload is being received.
#[derive(Debug)]
struct InFrame {
    header: FrameHeader,
    received: u64,
}

/// A WebSocket connection after the opening handshake. See the [module docs](self).
// ANCHOR: connection_struct
#[derive(Debug)]
pub struct Connection {
    role: Role,
    limits: Limits,
    state: State,
    /// Received bytes not yet parsed, from `input_pos` on.
    input: Vec<u8>,
    input_pos: usize,
    /// The peer closed TCP: no more bytes will come.
    eof: bool,
    /// Bytes to send.
    output: Vec<u8>,
    /// The frame whose payload is arriving.
    frame: Option<InFrame>,
    /// The data message being reassembled, between its first frame and the one with FIN.
    message: Option<IncompleteMessage>,
    /// The payload of the control frame arriving (at most 125 bytes, §5.5).
    control: Vec<u8>,
    /// Whether we are in the middle of sending a fragmented message.
    sending_fragmented: bool,
    /// Only a client masks, so only a client's connection allocates the pool, on its first
    /// frame: a server's idle connection does not carry 128 unused bytes.
    keys: Option<Box<KeyPool>>,
    /// permessage-deflate, when the handshake agreed on it (boxed: a connection without it
    /// carries one pointer).
    deflate: Option<Box<Deflate>>,
}
// ANCHOR_END: connection_struct

/// Random bytes for masking keys, fetched from the OS 32 keys at a time: a client sends one
/// key per frame, and a system call per frame would cost more than the masking. Its `Debug`
/// does not show the bytes: they are the next frames' keys.
// ANCHOR: key_pool
struct KeyPool {
    bytes: [u8; 128],
    used: usize,
}
// ANCHOR_END: key_pool

impl std::fmt::Debug for KeyPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyPool { .. }")
    }
}

impl Connection {
    /// A connection whose opening handshake is done.
    pub fn new(role: Role, limits: Limits) -> Connection {
        Connection {
            role,
            limits,
            state: State::Open,
            input: Vec::new(),
            input_pos: 0,
            eof: false,
            output: Vec::new(),
            frame: None,
            message: None,
            control: Vec::new(),
            sending_fragmented: false,
            keys: None,
            deflate: None,
        }
    }

    /// Turns on permessage-deflate with the parameters the handshake agreed on, compressing
    /// at zlib `level` (0 to 9). Call it before any frame is exchanged.
    pub fn set_deflate(&mut self, params: PerMessageDeflate, level: u8) {
        self.deflate = Some(Box::new(Deflate::new(self.role, params, level)));
    }

    /// The permessage-deflate state, if it was negotiated.
    pub fn deflate(&self) -> Option<&Deflate> {
        self.deflate.as_deref()
    }

    /// This side's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Where the connection stands. Once the peer has closed TCP it is `Closed`, even before
    /// the events still in the input have been taken.
    // ANCHOR: state_fn
    pub fn state(&self) -> State {
        if self.eof { State::Closed } else { self.state }
    }
    // ANCHOR_END: state_fn

    /// Hands over bytes received from the peer. Call [`Connection::next_event`] until it
    /// returns `Ok(None)` before handing over more: that keeps the input buffer small.
    pub fn receive(&mut self, data: &[u8]) {
        self.input.extend_from_slice(data);
    }

    /// Tells the connection that the peer closed the TCP connection (no more bytes will come).
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    /// Bytes waiting to be sent.
    pub fn output_len(&self) -> usize {
        self.output.len()
    }

    /// What the peer has started sending and not finished: `Some` with the bytes held for it
    /// (the input's buffer, where a frame's beginning waits, and the data message being
    /// reassembled, as allocated) once a frame has begun to arrive, until its message is
    /// complete; `None` between messages. The I/O layer's deadline for finishing a message and
    /// its memory budget read it.
    pub fn receiving(&self) -> Option<usize> {
        let started =
            self.frame.is_some() || self.message.is_some() || self.input_pos < self.input.len();
        started.then(|| self.input.capacity() + self.message.as_ref().map_or(0, |m| m.capacity()))
    }

    /// Takes the bytes to send, leaving the output buffer empty.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Takes the bytes to send into `buf`, and lends the connection `buf`'s allocation, cleared,
    /// for the next ones: two buffers take turns, so a busy connection allocates nothing per
    /// message. A buffer that a large message grew past 1 KiB is dropped instead of lent, so
    /// that a connection gone quiet does not keep it.
    pub fn swap_output(&mut self, buf: &mut Vec<u8>) {
        buf.clear();
        if buf.capacity() > OUTPUT_KEEP {
            *buf = Vec::new();
        }
        std::mem::swap(&mut self.output, buf);
    }

    /// The next message, `Ok(None)` when more bytes are needed (or nothing more will come),
    /// or the error that failed the connection (whose Close is then queued).
    // ANCHOR: next_event
    pub fn next_event(&mut self) -> Result<Option<Message>, Error> {
        match self.parse() {
            Ok(event) => Ok(event),
            Err(error) => {
                self.fail(&error);
                Err(error)
            }
        }
    }
    // ANCHOR_END: next_event

    // req: ws/6.2/receive ws/6.2/unmask ws/7.1.7/stop
    // ANCHOR: receive_loop
    fn parse(&mut self) -> Result<Option<Message>, Error> {
        // §5.5.1: after the peer's Close, nothing it sends is data; after a failure we stop.
        while self.state != State::Closed {
            let Some(frame) = &mut self.frame else {
                let Some((header, len)) = FrameHeader::parse(&self.input[self.input_pos..])? else {
                    return self.need_more();
                };
                self.input_pos += len;
                self.check_header(&header)?;
                self.frame = Some(InFrame {
                    header,
                    received: 0,
                });
                continue;
            };
            let header = frame.header;
            let remaining = header.payload_len - frame.received;
            let available = self.input.len() - self.input_pos;
            // `remaining` may exceed usize on 32-bit targets; `available` never does.
            let take = usize::try_from(remaining).map_or(available, |r| r.min(available));
            if take == 0 && remaining > 0 {
                return self.need_more();
            }
            let piece = &mut self.input[self.input_pos..self.input_pos + take];
            if let Some(key) = header.mask {
                // The key's phase continues from where the previous piece stopped.
                apply_mask(piece, key, (frame.received % 4) as usize);
            }
            frame.received += take as u64;
            self.input_pos += take;
            if header.opcode.is_control() {
                self.control.extend_from_slice(piece);
            } else if let Some(message) = &mut self.message {
                let last = header.fin && frame.received == header.payload_len;
                match &mut self.deflate {
                    // RFC 7692 §6.2: inflate as the payload arrives, within the limit.
                    Some(deflate) if message.is_compressed() => {
                        message
                            .extend_with(take, |out, max| deflate.inflate(piece, last, out, max))?;
                    }
                    _ => message.extend(piece, last && message.is_empty())?,
                }
            }
            if frame.received == header.payload_len {
                self.frame = None;
                if let Some(message) = self.finish_frame(&header)? {
                    return Ok(Some(message));
                }
            }
        }
        Ok(None)
    }
    // ANCHOR_END: receive_loop

    /// No complete event in the input: compact it, and report a peer that vanished.
    // req: ws/7.2.1/lost
    // ANCHOR: need_more
    fn need_more(&mut self) -> Result<Option<Message>, Error> {
        self.input.drain(..self.input_pos);
        self.input_pos = 0;
        // An idle connection should not keep the buffer of its last large read.
        if self.input.is_empty() && self.input.capacity() > INPUT_KEEP {
            self.input = Vec::new();
        }
        if self.eof {
            // §7.1.5: the TCP connection closed with no Close frame: 1006.
            return Err(Error::AbnormalClosure);
        }
        Ok(None)
    }
    // ANCHOR_END: need_more

    /// The checks a header must pass before its payload is read.
    // req: ws/5.1/server-requires-mask ws/5.1/client-refuses-mask ws/5.2/rsv ws/5.8/negotiated
    // req: pmd/6/rsv1-fail
    // req: ws/5.4/fragmented ws/5.4/no-interleave ws/5.4/fragment-types ws/10.4/limits
    // ANCHOR: check_header
    fn check_header(&mut self, header: &FrameHeader) -> Result<(), Error> {
        // §5.1: "a client MUST mask all frames that it sends to the server", and "a server
        // MUST NOT mask any frames that it sends to the client"; both sides fail otherwise.
        let must_be_masked = self.role == Role::Server;
        if header.mask.is_some() != must_be_masked {
            return Err(Error::WrongMasking);
        }
        // §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated that defines meanings".
        // permessage-deflate defines RSV1, on the first frame of a data message only (RFC 7692
        // §6: a continuation's or a control frame's RSV1 is an error).
        let first_of_message = matches!(header.opcode, OpCode::Text | OpCode::Binary);
        let rsv1_allowed = self.deflate.is_some() && first_of_message;
        if header.rsv2 || header.rsv3 || (header.rsv1 && !rsv1_allowed) {
            return Err(Error::ReservedBits);
        }
        if header.payload_len > self.limits.max_frame_size as u64 {
            return Err(Error::FrameTooLarge {
                len: header.payload_len,
                max: self.limits.max_frame_size,
            });
        }
        match header.opcode {
            OpCode::Close | OpCode::Ping | OpCode::Pong => self.control.clear(),
            OpCode::Continuation => {
                // §5.4: a continuation belongs to a message started by Text or Binary.
                let Some(message) = &self.message else {
                    return Err(Error::UnexpectedContinuation);
                };
                message.check_continuation(header.payload_len)?;
            }
            OpCode::Text | OpCode::Binary => {
                // §5.4: fragments of different messages must not interleave.
                if self.message.is_some() {
                    return Err(Error::ExpectedContinuation);
                }
                let arrived = self.input.len() - self.input_pos;
                let mut message = IncompleteMessage::new(
                    header.opcode,
                    header.payload_len,
                    arrived,
                    self.limits.max_message_size,
                )?;
                if header.rsv1 {
                    message.set_compressed();
                }
                self.message = Some(message);
            }
        }
        Ok(())
    }
    // ANCHOR_END: check_header

    /// A frame's payload is complete: act on it, and return a message if one is done.
    // req: ws/5.5.2/pong ws/5.5.1/reply-close ws/5.4/control-in-middle
    // ANCHOR: finish_frame
    fn finish_frame(&mut self, header: &FrameHeader) -> Result<Option<Message>, Error> {
        let payload = std::mem::take(&mut self.control);
        match header.opcode {
            OpCode::Ping => {
                // §5.5.2: answer a Ping with a Pong carrying the same payload, unless our
                // Close is already sent: §5.5.1 forbids only data frames after a Close, but this
                // connection sends nothing after its own (see "Closing" above).
                if self.state == State::Open {
                    self.write_frame(OpCode::Pong, true, false, &payload)?;
                }
                Ok(Some(Message::Ping(payload)))
            }
            OpCode::Pong => Ok(Some(Message::Pong(payload))),
            OpCode::Close => {
                let close = parse_close_payload(&payload)?;
                if self.state == State::Open {
                    // §5.5.1: reply with one Close, echoing the status code (§7.4.1 defines no
                    // code for "no code"; an empty Close is answered with an empty one).
                    let reply = close.as_ref().map(|c| CloseFrame {
                        code: c.code,
                        reason: String::new(),
                    });
                    self.send_close_frame(reply.as_ref())?;
                }
                // Both Closes are out: the closing handshake is complete.
                self.state = State::Closed;
                Ok(Some(Message::Close(close)))
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                if !header.fin {
                    return Ok(None);
                }
                match self.message.take() {
                    Some(message) => message.finish().map(Some),
                    None => Ok(None),
                }
            }
        }
    }
    // ANCHOR_END: finish_frame

    /// §7.1.7 _Fail the WebSocket Connection_: send a Close with the error's code (if the
    /// connection can still carry one) and stop reading.
    // req: ws/7.1.7/fail ws/10.7/validate ws/7.4.1/reason
    // ANCHOR: fail
    fn fail(&mut self, error: &Error) {
        self.message = None;
        self.frame = None;
        let code = error.close_code().filter(|&c| is_valid_close_code(c));
        if let (Some(code), State::Open) = (code, self.state) {
            let mut reason = error.to_string();
            truncate_to_char_boundary(&mut reason, MAX_CONTROL_PAYLOAD - 2);
            // Cannot fail: the code is valid and the reason fits.
            let _ = self.send_close_frame(Some(&CloseFrame { code, reason }));
        }
        self.state = State::Closed;
    }
    // ANCHOR_END: fail

    /// Queues a whole message.
    // ANCHOR: send
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        match message {
            Message::Text(text) => self.send_data(OpCode::Text, text.as_bytes()),
            Message::Binary(data) => self.send_data(OpCode::Binary, &data),
            Message::Ping(data) => self.send_control(OpCode::Ping, &data),
            Message::Pong(data) => self.send_control(OpCode::Pong, &data),
            Message::Close(frame) => self.send_close_frame(frame.as_ref()),
        }
    }
    // ANCHOR_END: send

    /// Queues one fragment of a message (RFC 6455 §5.4): the first with `Text` or `Binary`,
    /// the next ones with `Continuation`, the last with `fin` set. Control messages may be
    /// sent between fragments with [`Connection::send`]. The caller is responsible for the
    /// UTF-8 of a text message as a whole.
    // req: ws/6.1/frames ws/5.4/no-interleave ws/5.4/control-unfragmented
    // req: pmd/6/rsv1-first-only
    // ANCHOR: send_fragment
    pub fn send_fragment(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        match (opcode, self.sending_fragmented) {
            (OpCode::Text | OpCode::Binary, false) | (OpCode::Continuation, true) => {}
            (OpCode::Continuation, false) => {
                return Err(Error::InvalidSend("continuation with no message started"));
            }
            (OpCode::Text | OpCode::Binary, true) => {
                return Err(Error::InvalidSend(
                    "previous fragmented message not finished",
                ));
            }
            _ => return Err(Error::InvalidSend("control frames cannot be fragmented")),
        }
        self.write_frame(opcode, fin, false, payload)?;
        self.sending_fragmented = !fin;
        Ok(())
    }
    // ANCHOR_END: send_fragment

    // req: pmd/6/rsv1-first-only pmd/5/agreed
    fn send_data(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), Error> {
        if self.sending_fragmented {
            return Err(Error::InvalidSend("a fragmented message is being sent"));
        }
        // RFC 7692 §6.1: a whole message compressed, RSV1 on its (one) frame. Control frames
        // never are (§6.1: only data messages).
        if let (Some(deflate), State::Open) = (&mut self.deflate, self.state) {
            let mut compressed = Vec::new();
            deflate.compress(payload, &mut compressed);
            return self.write_frame(opcode, true, true, &compressed);
        }
        self.write_frame(opcode, true, false, payload)
    }

    // req: ws/5.5/control-125
    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), Error> {
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(Error::InvalidSend("control payload over 125 bytes"));
        }
        self.write_frame(opcode, true, false, payload)
    }

    /// Queues our Close, after which nothing more is sent.
    // req: ws/7.1.2/start ws/7.4.1/reserved-codes
    // ANCHOR: send_close_frame
    fn send_close_frame(&mut self, frame: Option<&CloseFrame>) -> Result<(), Error> {
        let mut payload = Vec::new();
        if let Some(frame) = frame {
            if !is_valid_close_code(frame.code) {
                return Err(Error::InvalidSend("close code not allowed on the wire"));
            }
            if frame.reason.len() > MAX_CONTROL_PAYLOAD - 2 {
                return Err(Error::InvalidSend("close reason over 123 bytes"));
            }
            payload.extend_from_slice(&frame.code.to_be_bytes());
            payload.extend_from_slice(frame.reason.as_bytes());
        }
        self.write_frame(OpCode::Close, true, false, &payload)?;
        self.state = State::Closing;
        Ok(())
    }
    // ANCHOR_END: send_close_frame

    /// §5.3: "a fresh masking key", "derived from a strong source of entropy", for every frame.
    // req: ws/5.3/fresh-key
    // ANCHOR: next_mask_key
    fn next_mask_key(&mut self) -> Result<[u8; 4], Error> {
        let pool = self.keys.get_or_insert_with(|| {
            Box::new(KeyPool {
                bytes: [0; 128],
                used: 128,
            })
        });
        if pool.used == pool.bytes.len() {
            getrandom::fill(&mut pool.bytes).map_err(|_| Error::Random)?;
            pool.used = 0;
        }
        let k = &pool.bytes[pool.used..pool.used + 4];
        pool.used += 4;
        Ok([k[0], k[1], k[2], k[3]])
    }
    // ANCHOR_END: next_mask_key

    /// Appends one frame to the output, masked with a fresh key if we are the client. `rsv1`
    /// marks a compressed message (only `send_data` sets it).
    // req: ws/5.1/client-masks ws/5.1/server-no-mask ws/5.5.1/no-data-after-close ws/6.1/open
    // ANCHOR: write_frame
    fn write_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv1: bool,
        payload: &[u8],
    ) -> Result<(), Error> {
        // §5.5.1: "the endpoint MUST NOT send any more data frames after sending a Close"; this
        // connection holds the stricter rule of sending no frame at all after it.
        if self.state != State::Open {
            return Err(Error::AlreadyClosed);
        }
        let mask = match self.role {
            Role::Server => None,
            Role::Client => Some(self.next_mask_key()?),
        };
        let header = FrameHeader {
            fin,
            rsv1,
            rsv2: false,
            rsv3: false,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        encode_frame(&mut self.output, &header, payload);
        Ok(())
    }
    // ANCHOR_END: write_frame
}

/// Reads a Close payload: nothing, or a valid code and a UTF-8 reason (§5.5.1, §7.4).
// req: ws/5.5.1/close-code ws/8.1/utf8-fail
// ANCHOR: parse_close_payload
fn parse_close_payload(payload: &[u8]) -> Result<Option<CloseFrame>, Error> {
    match payload {
        [] => Ok(None),
        [_] => Err(Error::CloseFrameTooShort),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_valid_close_code(code) {
                return Err(Error::InvalidCloseCode(code));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| Error::InvalidCloseReason)?;
            Ok(Some(CloseFrame {
                code,
                reason: reason.to_owned(),
            }))
        }
    }
}
// ANCHOR_END: parse_close_payload

fn truncate_to_char_boundary(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header announcing 65,535 bytes, followed by three of them: the message buffer holds
    /// what arrived, not what was announced (a peer must not make us hold 64 KiB with 8 bytes).
    #[test]
    fn a_header_alone_does_not_reserve_the_announced_length() {
        let mut conn = Connection::new(Role::Server, Limits::default());
        conn.receive(&[0x82, 0xFE, 0xFF, 0xFF, 1, 2, 3, 4, 9, 9, 9]);
        assert!(matches!(conn.next_event(), Ok(None)));
        let Some(message) = &conn.message else {
            panic!("the message has started");
        };
        assert_eq!(message.len(), 3);
        assert!(message.capacity() < 1024, "{}", message.capacity());
    }

    /// The two output buffers take turns; one grown past 1 KiB is not lent back.
    #[test]
    fn swap_output_lends_small_buffers_back_and_drops_large_ones() {
        let mut conn = Connection::new(Role::Server, Limits::default());
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(b"old, already written");
        let lent = buf.as_ptr();
        conn.send(Message::Text("hi".into())).expect("open");
        conn.swap_output(&mut buf);
        assert_eq!(buf, [0x81, 2, b'h', b'i']);
        assert_eq!(conn.output.as_ptr(), lent, "the old buffer is reused");
        assert!(conn.output.is_empty());

        let mut big = Vec::with_capacity(64 << 10);
        conn.swap_output(&mut big);
        assert_eq!(
            conn.output.capacity(),
            0,
            "a large buffer is dropped, not kept"
        );
    }
}
