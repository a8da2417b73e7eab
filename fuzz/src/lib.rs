//! The invariants the fuzz targets check, one function per target, run by the targets in
//! `fuzz_targets/` and by the stable replay test `conformance/tests/fuzz_corpus.rs`.
//!
//! Each function takes one fuzz input and panics when an invariant is broken. Except for
//! [`ws_frame`], whose input is the bytes of frames, the input's first byte chooses how the
//! rest is cut into pieces (see [`pieces`]), so that one input checks both the whole-input
//! result and the result of receiving it in pieces, as a socket delivers it.

use sse::Item;
use sse::parser::{self, Parser, ParserConfig};
use websocket::frame::{Frame, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use websocket::handshake::{self, ClientHandshake, ServerHandshake, ServerOptions};
use websocket::{Connection, Limits, Message, Role};

/// The SSE parser's bound on one event, small so that inputs of a few KiB reach it.
pub const SSE_MAX_EVENT_BYTES: usize = 512;

/// The pieces `input[1..]` is received in. `input[0]` chooses them: 0 gives the rest in one
/// piece; `n` > 0 gives pieces of 1 to `n` bytes, their sizes drawn from a generator seeded
/// with `n`, so that one byte of the input explores many cuttings.
pub fn pieces(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    let (max, mut rest) = match input.split_first() {
        Some((&max, rest)) => (usize::from(max), rest),
        None => (0, &[][..]),
    };
    // xorshift32: any nonzero seed will do; it need not be good, only deterministic.
    let mut state = 0x9E37_79B9_u32 ^ u32::from(input.first().copied().unwrap_or(0));
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = if max == 0 {
            rest.len()
        } else {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            1 + state as usize % max
        };
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        Some(piece)
    })
}

/// The bytes after the leading byte that chooses the pieces.
fn data(input: &[u8]) -> &[u8] {
    input.get(1..).unwrap_or_default()
}

/// `sse_parser`: the event-stream parser never panics; it yields the same items and error
/// whatever the cutting of its input, as `parse_all` does on the whole; an error is the last
/// thing it yields; it never holds more than its configured bound for one event, nor yields an
/// event larger than it, nor a comment larger than a line within it can decode to.
pub fn sse_parser(input: &[u8]) {
    let config = ParserConfig {
        max_event_bytes: SSE_MAX_EVENT_BYTES,
    };
    let (whole_items, whole_error) = parser::parse_all(data(input), config);

    let mut parser = Parser::new(config);
    let mut items = Vec::new();
    let mut error = None;
    for piece in pieces(input) {
        parser.feed(piece);
        assert!(
            parser.buffered_bytes() <= config.max_event_bytes,
            "the parser holds {} bytes, over its bound",
            parser.buffered_bytes()
        );
        drain_sse(&mut parser, &mut items, &mut error);
    }
    parser.finish();
    drain_sse(&mut parser, &mut items, &mut error);

    assert_eq!(items, whole_items, "the items depend on the cutting");
    assert_eq!(
        format!("{error:?}"),
        format!("{whole_error:?}"),
        "the error depends on the cutting"
    );
    for item in &items {
        match item {
            Item::Event(event) => assert!(
                event.data.len() + event.last_event_id.len() <= config.max_event_bytes,
                "an event over the bound"
            ),
            // A comment is not buffered: it is decoded from one line within the bound, and
            // decoding makes each invalid byte U+FFFD, three bytes.
            Item::Comment(text) => assert!(text.len() <= 3 * config.max_event_bytes),
            Item::Retry(_) => {}
        }
    }
}

/// Moves the parser's queued items into `items`, and its error into `error`.
fn drain_sse(parser: &mut Parser, items: &mut Vec<Item>, error: &mut Option<sse::Error>) {
    for item in parser.items() {
        assert!(error.is_none(), "an item after the error");
        match item {
            Ok(item) => items.push(item),
            Err(e) => *error = Some(e),
        }
    }
}

/// `ws_frame`: the frame decoder never panics; a parsed header is as long as it says, is not
/// reported from any shorter prefix, and re-encodes to the same bytes; and every frame that
/// decodes, one after another from the start, re-encodes to exactly the bytes it came from
/// (the decoder accepts only the minimal length form, so there is one encoding per frame).
pub fn ws_frame(bytes: &[u8]) {
    match FrameHeader::parse(bytes) {
        Ok(Some((header, len))) => {
            assert_eq!(len, header.encoded_len());
            let mut out = Vec::new();
            header.encode(&mut out);
            assert_eq!(out, bytes[..len], "the header re-encodes differently");
            for short in 0..len {
                assert!(
                    matches!(FrameHeader::parse(&bytes[..short]), Ok(None)),
                    "a prefix of a valid header is not reported as incomplete"
                );
            }
        }
        Ok(None) => assert!(bytes.len() < MAX_HEADER_LEN, "a whole header not parsed"),
        Err(_) => {}
    }
    let mut rest = bytes;
    while let Ok(Some((frame, len))) = Frame::decode(rest) {
        assert_eq!(frame.payload.len() as u64, frame.header.payload_len);
        let mut out = Vec::new();
        frame.encode(&mut out);
        assert_eq!(out, rest[..len], "the frame re-encodes differently");
        rest = &rest[len..];
    }
}

/// The handshake limits the handshake targets use: small, so that inputs reach them.
fn handshake_limits() -> Limits {
    Limits {
        max_handshake_size: 1024,
        max_headers: 16,
        ..Limits::default()
    }
}

/// Feeds a handshake `input` in the pieces its first byte chooses, until `receive` finishes
/// (with the head, whose bytes after it `rest` names, or with an error); the pieces after the
/// end are added to those bytes, so the outcome compares with one read of the whole input.
fn receive_in_pieces<T>(
    input: &[u8],
    mut receive: impl FnMut(&[u8]) -> Result<Option<T>, websocket::Error>,
    rest: impl Fn(&mut T) -> &mut Vec<u8>,
) -> Option<Result<T, websocket::Error>> {
    let mut pieces = pieces(input);
    for piece in &mut pieces {
        match receive(piece) {
            Ok(None) => {}
            Ok(Some(mut done)) => {
                pieces.for_each(|piece| rest(&mut done).extend_from_slice(piece));
                return Some(Ok(done));
            }
            Err(error) => return Some(Err(error)),
        }
    }
    None
}

/// `ws_handshake_server`: the server's handshake never panics; its outcome (the request and
/// the bytes after it, or the error) is the same whatever the cutting of its input; and
/// `check_request`, with and without an origin allow-list and a subprotocol choice, either
/// accepts with a `101` response or refuses with a 4xx or 5xx one.
pub fn ws_handshake_server(input: &[u8]) {
    let limits = handshake_limits();
    let whole = ServerHandshake::new(&limits).receive(data(input));
    let whole = whole.transpose();

    let mut handshake = ServerHandshake::new(&limits);
    let outcome = receive_in_pieces(input, |piece| handshake.receive(piece), |(_, rest)| rest);
    assert_eq!(
        format!("{outcome:?}"),
        format!("{whole:?}"),
        "the outcome depends on the cutting"
    );

    let request = match outcome {
        Some(Ok((request, _))) => request,
        Some(Err(error)) => {
            assert_refusal(&handshake::reject_response(&error));
            return;
        }
        None => return,
    };
    let strict = ServerOptions {
        allowed_origins: Some(vec!["https://example.com".to_owned()]),
        select_subprotocol: Some(std::sync::Arc::new(|offered: &[&str]| {
            offered
                .iter()
                .find(|p| **p == "chat")
                .map(|p| p.to_string())
        })),
        ..ServerOptions::default()
    };
    for options in [ServerOptions::default(), strict] {
        match handshake::check_request(&request, &options) {
            Ok(accepted) => {
                let response = accepted.response_bytes();
                assert!(response.starts_with(b"HTTP/1.1 101 "));
                assert!(response.ends_with(b"\r\n\r\n"));
            }
            Err(error) => assert_refusal(&handshake::reject_response(&error)),
        }
    }
}

/// A refusal is a whole 4xx or 5xx response head (505 refuses HTTP/1.0).
fn assert_refusal(response: &[u8]) {
    assert!(
        response.starts_with(b"HTTP/1.1 4") || response.starts_with(b"HTTP/1.1 5"),
        "a refusal that is not 4xx or 5xx"
    );
    assert!(
        response.windows(4).any(|w| w == b"\r\n\r\n"),
        "a refusal without the end of its head"
    );
}

/// The key of the client handshake target: RFC 6455 §1.3's sample nonce, so that seeds can
/// use the RFC's `Sec-WebSocket-Accept` value.
const CLIENT_KEY: [u8; 16] = *b"the sample nonce";

/// `ws_handshake_client`: the client's handshake never panics; its outcome (the response, the
/// subprotocol and the bytes after it, or the error) is the same whatever the cutting of its
/// input; and the subprotocol it accepts is one it offered.
pub fn ws_handshake_client(input: &[u8]) {
    let limits = handshake_limits();
    let offered = ["chat", "superchat"];
    let new = || ClientHandshake::with_key(CLIENT_KEY, "example.com", "/chat", &offered, &limits);
    let whole = new().0.receive(data(input)).transpose();

    let mut handshake = new().0;
    let outcome = receive_in_pieces(input, |piece| handshake.receive(piece), |(_, _, rest)| rest);
    assert_eq!(
        format!("{outcome:?}"),
        format!("{whole:?}"),
        "the outcome depends on the cutting"
    );
    if let Some(Ok((_, Some(protocol), _))) = &outcome {
        assert!(
            offered.contains(&protocol.as_str()),
            "a subprotocol not offered"
        );
    }
}

/// The limits of the connection target: small, so that inputs reach them.
fn connection_limits() -> Limits {
    Limits {
        max_frame_size: 1024,
        max_message_size: 2048,
        ..Limits::default()
    }
}

/// What a connection did with its input: the messages, the error, and the frames it sent
/// (headers without their masking keys, which are random, and payloads unmasked).
type Outcome = (Vec<Message>, Option<String>, Vec<(FrameHeader, Vec<u8>)>);

/// `ws_connection`: a server's and a client's connection, fed arbitrary bytes in arbitrary
/// pieces, never panic; after an error `next_event` returns nothing more and nothing more is
/// sent; no message is over the limits; each time their output is taken it is a sequence of
/// whole frames, masked exactly when the client sends them; and the messages, error and frames
/// are the same whatever the cutting.
pub fn ws_connection(input: &[u8]) {
    for role in [Role::Server, Role::Client] {
        let pieced = run_connection(role, pieces(input));
        let whole = run_connection(role, std::iter::once(data(input)));
        assert_eq!(pieced, whole, "the outcome depends on the cutting");
    }
}

/// Feeds `pieces` to a new connection, then the end of the stream; checks what it did.
fn run_connection<'a>(role: Role, pieces: impl Iterator<Item = &'a [u8]>) -> Outcome {
    let limits = connection_limits();
    let mut conn = Connection::new(role, limits);
    let mut messages = Vec::new();
    let mut error = None;
    let mut frames = Vec::new();
    for piece in pieces {
        let failed = error.is_some();
        conn.receive(piece);
        drain_connection(&mut conn, &mut messages, &mut error);
        let sent = take_frames(&mut conn, &mut frames);
        assert!(!(failed && sent), "frames sent after the error");
    }
    conn.receive_eof();
    drain_connection(&mut conn, &mut messages, &mut error);
    take_frames(&mut conn, &mut frames);

    for message in &messages {
        let len = match message {
            Message::Text(text) => text.len(),
            Message::Binary(data) => data.len(),
            Message::Ping(data) | Message::Pong(data) => {
                assert!(data.len() <= MAX_CONTROL_PAYLOAD);
                data.len()
            }
            Message::Close(_) => 0,
        };
        assert!(len <= limits.max_message_size, "a message over the limit");
    }
    (messages, error.map(|e| format!("{e:?}")), frames)
}

/// Takes the connection's output, which must be whole frames, masked exactly when a client
/// sends them, and appends them to `frames`; returns whether there were any.
fn take_frames(conn: &mut Connection, frames: &mut Vec<(FrameHeader, Vec<u8>)>) -> bool {
    let output = conn.take_output();
    let mut rest = &output[..];
    while !rest.is_empty() {
        let Ok(Some((frame, len))) = Frame::decode(rest) else {
            panic!("the output is not a sequence of whole frames: {rest:02x?}");
        };
        assert_eq!(
            frame.header.mask.is_some(),
            conn.role() == Role::Client,
            "only a client masks, and always"
        );
        frames.push((
            FrameHeader {
                mask: None,
                ..frame.header
            },
            frame.payload,
        ));
        rest = &rest[len..];
    }
    !output.is_empty()
}

/// Takes the connection's events until it needs more input; after an error, checks that
/// nothing follows.
fn drain_connection(
    conn: &mut Connection,
    messages: &mut Vec<Message>,
    error: &mut Option<websocket::Error>,
) {
    loop {
        match conn.next_event() {
            Ok(Some(message)) => {
                assert!(error.is_none(), "a message after the error");
                messages.push(message);
            }
            Ok(None) => return,
            Err(e) => {
                assert!(error.is_none(), "a second error after {error:?}: {e:?}");
                *error = Some(e);
            }
        }
    }
}
