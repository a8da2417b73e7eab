//! The crate's one error type. Each variant names the rule that was broken; [`Error::close_code`]
//! gives the close code that failing the connection for it sends (RFC 6455 §7.4.1), and
//! [`Error::http_status`] gives the HTTP status a server answers a rejected handshake with.

use std::fmt;

/// Everything that can go wrong, from the opening handshake to the closing one.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    // ---- Opening handshake (RFC 6455 §4) ----
    /// The request or response head is not valid HTTP/1.1 (400).
    MalformedHttp(String),
    /// The head is larger than `Config::max_handshake_size`, or has more headers than
    /// `Config::max_headers` (431).
    HandshakeTooLarge,
    /// §4.2.1 (1): the method must be GET (405).
    MethodNotGet(String),
    /// §4.2.1 (1): the version must be HTTP/1.1 or later (505).
    HttpVersionTooOld,
    /// §4.2.1 (2): a Host header (400).
    BadHost,
    /// A header that must appear at most once appeared more often (400 for a server, a failed
    /// handshake for a client): RFC 6455 §11.3 for `Sec-WebSocket-Key` and
    /// `Sec-WebSocket-Version` in a request and `Sec-WebSocket-Accept` and
    /// `Sec-WebSocket-Protocol` in a response, RFC 9112 §3.2 for `Host`.
    RepeatedHeader {
        /// The header's name.
        name: &'static str,
        /// The rule that allows it once, such as `RFC 6455 §11.3.1`.
        rule: &'static str,
    },
    /// §4.2.1 (3): an `Upgrade` header listing `websocket` (400 for a server, a failed
    /// handshake for a client).
    MissingUpgradeWebsocket,
    /// §4.2.1 (4): a `Connection` header listing `upgrade`.
    MissingConnectionUpgrade,
    /// §4.2.1 (5): `Sec-WebSocket-Key` must be base64 of exactly 16 bytes (400).
    BadKey,
    /// §4.2.1 (6): `Sec-WebSocket-Version` must be 13 (426, with `Sec-WebSocket-Version: 13`).
    UnsupportedVersion,
    /// §4.2.2: the `Origin` is not on the server's allow-list (403).
    OriginNotAllowed(String),
    /// The handshake did not complete: the connection ended before its head did, or
    /// `Timeouts::handshake` passed before the head was read or the `101` written.
    HandshakeIncomplete,
    /// §4.1: the server answered with a status other than 101 (the client's side).
    UnexpectedStatus(u16),
    /// §4.1: `Sec-WebSocket-Accept` is missing or is not the one our key asks for.
    BadAccept,
    /// §4.1: the server chose a subprotocol the client did not offer, or more than one.
    UnofferedSubprotocol(String),
    /// §4.1: the server answered with an extension the client did not offer.
    UnofferedExtension,
    /// RFC 8441 §4: over HTTP/2, a WebSocket is opened with CONNECT (405, with
    /// `Allow: CONNECT`).
    MethodNotConnect(String),
    /// RFC 8441 §4, §5: the CONNECT has no `:protocol`, or one other than `websocket` (400).
    NotWebSocketProtocol(Option<String>),
    /// RFC 8441 §4: an extended CONNECT carries `:scheme`, `:path` and `:authority`; the named
    /// one is missing or empty (400).
    MissingPseudoHeader(&'static str),
    /// RFC 8441 §3: the server did not send `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`, so a client
    /// may not send it an extended CONNECT (the client's side).
    ExtendedConnectNotEnabled,
    /// RFC 8441 §5: the server answered the extended CONNECT with a status other than 200 (the
    /// client's side).
    ConnectRefused(u16),
    /// §9.1: a `Sec-WebSocket-Extensions` value that breaks the header's grammar (400).
    BadExtensionHeader(String),
    /// RFC 7692 §7.1: the server's permessage-deflate answer is not one the client may accept
    /// (a parameter repeated, unknown, out of range, or not what was asked for).
    BadExtensionResponse(&'static str),
    /// The URL is not `ws://host[:port][/path][?query]`, or has characters that RFC 3986 does
    /// not allow there (a space, CR LF, non-ASCII: percent-encode them).
    BadUrl(String),
    /// A `wss://` URL given to a function that dials TCP only: TLS is the caller's layer (see
    /// `io::handshake_over`).
    WssNeedsTls,

    // ---- Framing (RFC 6455 §5), close code 1002 ----
    /// §5.2: RSV1-3 must be 0 unless an extension defines them (permessage-deflate defines
    /// RSV1, on the first frame of a data message only: RFC 7692 §6).
    ReservedBits,
    /// §5.2: opcodes 3-7 and 0xB-0xF are reserved.
    ReservedOpcode(u8),
    /// §5.1: a client must mask every frame; a server must not mask any.
    WrongMasking,
    /// §5.2: the length must use the fewest bytes, and a 64-bit length must have its top bit 0.
    NonMinimalLength,
    /// §5.5: a control frame's payload is at most 125 bytes.
    ControlFrameTooLong,
    /// §5.5: control frames must not be fragmented.
    FragmentedControlFrame,
    /// §5.4: a continuation frame arrived with no fragmented message in progress.
    UnexpectedContinuation,
    /// §5.4: a new Text or Binary frame arrived before the previous message's last fragment.
    ExpectedContinuation,
    /// §5.5.1: a Close payload of 1 byte (a close code is 2 bytes).
    CloseFrameTooShort,
    /// §7.4: a close code that must not appear on the wire (1004-1006, 1015, 0-999, 1016-2999,
    /// 5000 and above).
    InvalidCloseCode(u16),

    // ---- Close code 1007 ----
    /// §8.1: a Text message is not valid UTF-8.
    InvalidUtf8,
    /// §5.5.1: a Close frame's reason is not valid UTF-8.
    InvalidCloseReason,
    /// RFC 7692 §6.2: a compressed message's payload is not valid DEFLATE data.
    BadCompressedData,

    // ---- Close code 1009 ----
    /// A frame's payload is larger than `Config::max_frame_size`.
    FrameTooLarge {
        /// The payload length the header announced.
        len: u64,
        /// The configured limit.
        max: usize,
    },
    /// A message is larger than `Config::max_message_size`.
    MessageTooLarge {
        /// The size the message would reach.
        len: u64,
        /// The configured limit.
        max: usize,
    },

    // ---- The connection ended ----
    /// §7.1.5: the TCP connection ended without a Close frame (close code 1006, never sent).
    AbnormalClosure,
    /// The peer did not answer a keep-alive Ping in time (close code 1011).
    KeepaliveTimeout,
    /// The peer did not complete the closing handshake in time (close code 1006).
    CloseTimeout,
    /// The socket took none of our bytes for `Timeouts::write`: the peer does not read (close
    /// code 1013, "try again later", which such a peer may never read).
    WriteTimeout,
    /// A message the peer started was not finished within `Timeouts::message` (close code
    /// 1008, "policy violation").
    MessageTimeout,
    /// The process's [`Budget`](crate::io::Budget) for bytes held in unfinished messages and
    /// send queues ran out, and this connection held the most (close code 1013).
    OverBudget,
    /// A message was sent after the Close frame (§5.5.1 forbids data frames after it, and this
    /// crate sends no frame at all after it), or after the
    /// connection ended; or the connection ended while a `Sender` waited to write it.
    AlreadyClosed,
    /// The application asked for something the protocol forbids: a control payload over 125
    /// bytes, a close code that must not be sent, a continuation with no message started.
    InvalidSend(&'static str),
    /// The operating system's random source failed (masking keys, handshake keys).
    Random,
    /// A socket error.
    Io(std::io::Error),
}

impl Error {
    /// The close code that failing the connection for this error sends (or, for 1006, reports).
    /// `None` for handshake errors and local mistakes, which happen before or outside the
    /// WebSocket conversation.
    // ANCHOR: close_code
    pub fn close_code(&self) -> Option<u16> {
        use Error::*;
        match self {
            ReservedBits
            | ReservedOpcode(_)
            | WrongMasking
            | NonMinimalLength
            | ControlFrameTooLong
            | FragmentedControlFrame
            | UnexpectedContinuation
            | ExpectedContinuation
            | CloseFrameTooShort
            | InvalidCloseCode(_) => Some(1002),
            InvalidUtf8 | InvalidCloseReason | BadCompressedData => Some(1007),
            FrameTooLarge { .. } | MessageTooLarge { .. } => Some(1009),
            KeepaliveTimeout => Some(1011),
            MessageTimeout => Some(1008),
            WriteTimeout | OverBudget => Some(1013),
            AbnormalClosure | CloseTimeout | Io(_) => Some(1006),
            _ => None,
        }
    }
    // ANCHOR_END: close_code

    /// The HTTP status a server answers a rejected opening handshake with.
    // ANCHOR: http_status
    pub fn http_status(&self) -> Option<u16> {
        use Error::*;
        match self {
            MalformedHttp(_)
            | BadHost
            | RepeatedHeader { .. }
            | MissingUpgradeWebsocket
            | MissingConnectionUpgrade
            | BadKey
            | NotWebSocketProtocol(_)
            | MissingPseudoHeader(_) => Some(400),
            BadExtensionHeader(_) => Some(400),
            HandshakeTooLarge => Some(431),
            MethodNotGet(_) | MethodNotConnect(_) => Some(405),
            HttpVersionTooOld => Some(505),
            UnsupportedVersion => Some(426),
            OriginNotAllowed(_) => Some(403),
            _ => None,
        }
    }
    // ANCHOR_END: http_status
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        match self {
            MalformedHttp(why) => write!(f, "malformed HTTP head: {why}"),
            HandshakeTooLarge => write!(f, "handshake head too large or too many headers"),
            MethodNotGet(m) => write!(f, "RFC 6455 §4.2.1: method must be GET, not {m}"),
            HttpVersionTooOld => write!(f, "RFC 6455 §4.2.1: HTTP/1.1 or later required"),
            BadHost => write!(f, "RFC 6455 §4.2.1: a Host header required"),
            RepeatedHeader { name, rule } => {
                write!(f, "{rule}: {name} must not appear more than once")
            }
            MissingUpgradeWebsocket => write!(f, "RFC 6455 §4.2.1: `Upgrade: websocket` required"),
            MissingConnectionUpgrade => {
                write!(f, "RFC 6455 §4.2.1: `Connection: Upgrade` required")
            }
            BadKey => write!(
                f,
                "RFC 6455 §4.2.1: Sec-WebSocket-Key must be base64 of 16 bytes"
            ),
            UnsupportedVersion => write!(f, "RFC 6455 §4.2.1: Sec-WebSocket-Version must be 13"),
            OriginNotAllowed(o) => write!(f, "RFC 6455 §4.2.2: origin {o:?} not allowed"),
            HandshakeIncomplete => write!(f, "connection ended during the opening handshake"),
            UnexpectedStatus(s) => write!(f, "RFC 6455 §4.1: expected status 101, got {s}"),
            BadAccept => write!(f, "RFC 6455 §4.1: missing or wrong Sec-WebSocket-Accept"),
            UnofferedSubprotocol(p) => {
                write!(
                    f,
                    "RFC 6455 §4.1: server chose subprotocol {p:?}, not offered"
                )
            }
            UnofferedExtension => write!(f, "RFC 6455 §4.1: server chose an extension not offered"),
            MethodNotConnect(m) => {
                write!(
                    f,
                    "RFC 8441 §4: over HTTP/2 the method must be CONNECT, not {m}"
                )
            }
            NotWebSocketProtocol(None) => {
                write!(
                    f,
                    "RFC 8441 §4: an extended CONNECT with `:protocol = websocket` required"
                )
            }
            NotWebSocketProtocol(Some(p)) => {
                write!(f, "RFC 8441 §5: `:protocol` must be websocket, not {p:?}")
            }
            MissingPseudoHeader(name) => {
                write!(
                    f,
                    "RFC 8441 §4: an extended CONNECT needs a {name} pseudo-header"
                )
            }
            ExtendedConnectNotEnabled => write!(
                f,
                "RFC 8441 §3: the server did not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL"
            ),
            ConnectRefused(s) => write!(f, "RFC 8441 §5: expected status 200, got {s}"),
            BadExtensionHeader(v) => {
                write!(f, "RFC 6455 §9.1: malformed Sec-WebSocket-Extensions {v:?}")
            }
            BadExtensionResponse(why) => write!(f, "RFC 7692 §7.1: bad answer: {why}"),
            BadUrl(u) => write!(f, "not a ws:// URL: {u}"),
            WssNeedsTls => write!(
                f,
                "a wss:// URL needs TLS, which the websocket crate leaves to its caller \
                 (make the TLS stream, then run handshake_over on it)"
            ),
            ReservedBits => write!(f, "RFC 6455 §5.2: an RSV bit no extension defines here"),
            ReservedOpcode(op) => write!(f, "RFC 6455 §5.2: reserved opcode {op:#x}"),
            WrongMasking => write!(
                f,
                "RFC 6455 §5.1: clients must mask frames, servers must not"
            ),
            NonMinimalLength => write!(
                f,
                "RFC 6455 §5.2: payload length not in its minimal form, or top bit set"
            ),
            ControlFrameTooLong => write!(f, "RFC 6455 §5.5: control frame over 125 bytes"),
            FragmentedControlFrame => write!(f, "RFC 6455 §5.5: fragmented control frame"),
            UnexpectedContinuation => write!(f, "RFC 6455 §5.4: continuation with no message"),
            ExpectedContinuation => {
                write!(f, "RFC 6455 §5.4: new message before the last fragment")
            }
            CloseFrameTooShort => write!(f, "RFC 6455 §5.5.1: close payload of 1 byte"),
            InvalidCloseCode(c) => write!(f, "RFC 6455 §7.4: invalid close code {c}"),
            InvalidUtf8 => write!(f, "RFC 6455 §8.1: text message is not valid UTF-8"),
            InvalidCloseReason => write!(f, "RFC 6455 §5.5.1: close reason is not valid UTF-8"),
            BadCompressedData => write!(f, "RFC 7692 §6.2: compressed data does not inflate"),
            FrameTooLarge { len, max } => write!(f, "frame of {len} bytes over the {max} limit"),
            MessageTooLarge { len, max } => {
                write!(f, "message of {len} bytes over the {max} limit")
            }
            AbnormalClosure => write!(f, "connection closed without a Close frame (1006)"),
            KeepaliveTimeout => write!(f, "no answer to a keep-alive ping"),
            CloseTimeout => write!(f, "closing handshake timed out"),
            WriteTimeout => write!(f, "the peer read nothing within the write deadline"),
            MessageTimeout => write!(f, "message not finished within the deadline"),
            OverBudget => write!(f, "the server's memory budget is spent"),
            AlreadyClosed => write!(f, "the connection is closed: nothing may be sent"),
            InvalidSend(why) => write!(f, "cannot send: {why}"),
            Random => write!(f, "the operating system's random source failed"),
            Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}
