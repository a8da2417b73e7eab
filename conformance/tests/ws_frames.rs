//! Property tests of the WebSocket wire layer (RFC 6455 §5): the frame codec, masking, and
//! the connection fed any bytes in any split; and any conversation echoed the same over every
//! transport (in memory, HTTP/1.1, HTTP/2).

mod ws_support;

use proptest::prelude::*;
use websocket::connection::{Connection, Message, Role};
use websocket::frame::{Frame, FrameHeader, OpCode};
use websocket::mask::{apply_mask, apply_mask_bytewise};
use websocket::{Error, Limits};

fn opcode() -> impl Strategy<Value = OpCode> {
    prop_oneof![
        Just(OpCode::Continuation),
        Just(OpCode::Text),
        Just(OpCode::Binary),
        Just(OpCode::Close),
        Just(OpCode::Ping),
        Just(OpCode::Pong),
    ]
}

/// Any frame the codec can carry: control frames final and at most 125 bytes (§5.5).
fn frame() -> impl Strategy<Value = Frame> {
    (
        opcode(),
        any::<bool>(),
        any::<[bool; 3]>(),
        proptest::option::of(any::<[u8; 4]>()),
        // Lengths around the 7-bit / 16-bit / 64-bit boundaries.
        prop_oneof![0usize..130, 65_530usize..65_540],
    )
        .prop_map(|(opcode, fin, [rsv1, rsv2, rsv3], mask, len)| {
            let control = opcode.is_control();
            let len = if control { len % 126 } else { len };
            let payload = (0..len).map(|i| (i * 31 + 7) as u8).collect::<Vec<u8>>();
            Frame {
                header: FrameHeader {
                    fin: fin || control,
                    rsv1,
                    rsv2,
                    rsv3,
                    opcode,
                    mask,
                    payload_len: payload.len() as u64,
                },
                payload,
            }
        })
}

/// A client's conversation: messages, some fragmented, with control frames between fragments.
#[derive(Debug, Clone)]
enum Step {
    Text(String, usize),
    Binary(Vec<u8>, usize),
    Ping(Vec<u8>),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (".{0,40}", 1usize..4).prop_map(|(s, n)| Step::Text(s, n)),
        (proptest::collection::vec(any::<u8>(), 0..300), 1usize..4)
            .prop_map(|(b, n)| Step::Binary(b, n)),
        proptest::collection::vec(any::<u8>(), 0..125).prop_map(Step::Ping),
    ]
}

/// Encodes a conversation as a client would (masked), with a Ping inside every fragmented
/// message, and returns the bytes and the events a server should see.
fn client_bytes(steps: &[Step]) -> (Vec<u8>, Vec<Message>) {
    let mut out = Vec::new();
    let mut expected = Vec::new();
    let mut key = 0u32;
    let mut push = |opcode, fin, payload: &[u8], out: &mut Vec<u8>| {
        key = key.wrapping_mul(2_654_435_761).wrapping_add(12_345);
        let mut frame = Frame::new(opcode, payload.to_vec()).masked(key.to_be_bytes());
        frame.header.fin = fin;
        frame.encode(out);
    };
    for step in steps {
        let (opcode, bytes, pieces) = match step {
            Step::Ping(p) => {
                push(OpCode::Ping, true, p, &mut out);
                expected.push(Message::Ping(p.clone()));
                continue;
            }
            Step::Text(s, n) => (OpCode::Text, s.as_bytes().to_vec(), *n),
            Step::Binary(b, n) => (OpCode::Binary, b.clone(), *n),
        };
        // Split anywhere, even inside a UTF-8 character: fragments need not be valid alone.
        let size = bytes.len().div_ceil(pieces).max(1);
        let chunks: Vec<&[u8]> = if bytes.is_empty() {
            vec![&[]]
        } else {
            bytes.chunks(size).collect()
        };
        for (i, chunk) in chunks.iter().enumerate() {
            let op = if i == 0 { opcode } else { OpCode::Continuation };
            let last = i + 1 == chunks.len();
            push(op, last, chunk, &mut out);
            if i == 0 && !last {
                push(OpCode::Ping, true, b"mid", &mut out);
                expected.push(Message::Ping(b"mid".to_vec()));
            }
        }
        expected.push(match step {
            Step::Text(s, _) => Message::Text(s.clone()),
            Step::Binary(b, _) => Message::Binary(b.clone()),
            Step::Ping(_) => unreachable!(),
        });
    }
    (out, expected)
}

/// Feeds `bytes` to a server connection in the given pieces; returns the events and the
/// error, if any.
fn feed(conn: &mut Connection, bytes: &[u8], cuts: &[usize]) -> (Vec<Message>, Option<Error>) {
    let mut events = Vec::new();
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(bytes.len());
    let mut start = 0;
    for end in cuts {
        conn.receive(&bytes[start..end]);
        start = end;
        loop {
            match conn.next_event() {
                Ok(Some(event)) => events.push(event),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
    }
    (events, None)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    // req: ws/5.2/minimal-length
    /// decode(encode(frame)) == frame, and the whole input is consumed.
    #[test]
    fn frame_round_trip(frame in frame()) {
        let mut bytes = Vec::new();
        frame.encode(&mut bytes);
        let decoded = Frame::decode(&bytes).unwrap();
        prop_assert_eq!(decoded, Some((frame, bytes.len())));
    }

    /// A header parses the same however its bytes are cut: `None` before it is whole, the same
    /// header after.
    #[test]
    fn header_parse_is_split_independent(frame in frame()) {
        let mut bytes = Vec::new();
        frame.header.encode(&mut bytes);
        for cut in 0..bytes.len() {
            prop_assert_eq!(FrameHeader::parse(&bytes[..cut]).unwrap(), None);
        }
        prop_assert_eq!(FrameHeader::parse(&bytes).unwrap(), Some((frame.header, bytes.len())));
    }

    /// Masking twice with the same key and offset is the identity, and the fast version agrees
    /// with the byte loop for any length, alignment and offset.
    #[test]
    fn masking_twice_is_identity(
        data in proptest::collection::vec(any::<u8>(), 0..600),
        key in any::<[u8; 4]>(),
        start in 0usize..16,
        offset in 0usize..8,
    ) {
        let start = start.min(data.len());
        let mut fast = data.clone();
        apply_mask(&mut fast[start..], key, offset);
        let mut slow = data.clone();
        apply_mask_bytewise(&mut slow[start..], key, offset);
        prop_assert_eq!(&fast, &slow);
        apply_mask(&mut fast[start..], key, offset);
        prop_assert_eq!(fast, data);
    }

    /// A conversation yields the same events however the bytes are split across reads.
    #[test]
    fn connection_is_split_independent(
        steps in proptest::collection::vec(step(), 0..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let (bytes, expected) = client_bytes(&steps);
        let mut conn = Connection::new(Role::Server, Limits::default());
        let (events, error) = feed(&mut conn, &bytes, &cuts);
        prop_assert!(error.is_none(), "{:?}", error);
        prop_assert_eq!(events, expected);
    }

    /// Any bytes, fed to either side in any split, never panic, and no message or frame
    /// past the limits is ever delivered: a header announcing too much fails with 1009 first.
    #[test]
    fn arbitrary_bytes_never_panic_nor_exceed_limits(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        server in any::<bool>(),
    ) {
        let config = Limits { max_frame_size: 64, max_message_size: 100, ..Limits::default() };
        let role = if server { Role::Server } else { Role::Client };
        let mut conn = Connection::new(role, config);
        let (events, error) = feed(&mut conn, &bytes, &cuts);
        for event in &events {
            let len = match event {
                Message::Text(t) => t.len(),
                Message::Binary(b) => b.len(),
                _ => 0,
            };
            prop_assert!(len <= 100);
        }
        if let Some(error) = error {
            prop_assert!(error.close_code().is_some(), "{:?}", error);
            // Failing queues at most one Close, then nothing more is produced.
            let _ = conn.take_output();
            prop_assert_eq!(conn.next_event().unwrap(), None);
            prop_assert_eq!(conn.output_len(), 0);
        }
    }

    /// The handshake parsers take any bytes without panicking, and stop at the size limit.
    #[test]
    fn handshake_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let config = Limits { max_handshake_size: 1024, ..Limits::default() };
        let mut server = websocket::handshake::ServerHandshake::new(&config);
        let (mut client, _) = websocket::handshake::ClientHandshake::with_key(
            [7; 16], "h", "/", &[], &config);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(bytes.len());
        let (mut start, mut server_done, mut client_done) = (0, false, false);
        for end in cuts {
            let piece = &bytes[start..end];
            start = end;
            if !server_done {
                server_done = !matches!(server.receive(piece), Ok(None));
            }
            if !client_done {
                client_done = !matches!(client.receive(piece), Ok(None));
            }
        }
        // More than the limit without a complete head is always an error, never a wait.
        if bytes.len() >= 1024 {
            prop_assert!(server_done && client_done);
        }
    }
}

/// What an echo server sends back for the events `expected`: a Pong for each Ping (§5.5.2),
/// each Text and Binary message as one frame, and the reply to a Close.
fn echo_of(expected: &[Message]) -> Vec<Frame> {
    let frame = |opcode, payload: &[u8]| Frame::new(opcode, payload.to_vec());
    (expected.iter())
        .filter_map(|event| match event {
            Message::Ping(p) => Some(frame(OpCode::Pong, p)),
            Message::Text(t) => Some(frame(OpCode::Text, t.as_bytes())),
            Message::Binary(b) => Some(frame(OpCode::Binary, b)),
            Message::Close(_) => Some(frame(OpCode::Close, &1000u16.to_be_bytes())),
            Message::Pong(_) => None,
        })
        .collect()
}

proptest! {
    // Each case opens a TCP connection per transport: fewer cases than the in-memory ones.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any conversation of the kind above, ended by a Close, gives the same messages to the
    /// server and the same frames back over every transport: the wire layer in memory, and a
    /// server of the I/O layer over HTTP/1.1 and over one HTTP/2 stream (RFC 8441).
    // ANCHOR: echoed_over_every_transport
    #[test]
    fn conversations_are_echoed_alike_over_every_transport(
        steps in proptest::collection::vec(step(), 0..8),
    ) {
        let (mut bytes, mut expected) = client_bytes(&steps);
        let mut close = Frame::new(OpCode::Close, 1000u16.to_be_bytes().to_vec()).masked([9; 4]);
        close.header.fin = true;
        close.encode(&mut bytes);
        expected.push(Message::Close(Some(websocket::CloseFrame { code: 1000, reason: String::new() })));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        for transport in ws_support::TRANSPORTS {
            let x = runtime.block_on(ws_support::exchange(transport, &bytes));
            prop_assert!(x.error.is_none(), "{:?}: {:?}", transport, x.error);
            prop_assert_eq!(&x.events, &expected, "{:?}", transport);
            prop_assert_eq!(&x.replies, &echo_of(&expected), "{:?}", transport);
        }
    }
    // ANCHOR_END: echoed_over_every_transport
}

#[test]
fn oversized_frame_fails_on_its_header() {
    // A server told 64-byte frames at most; a client announces 1 MiB and sends only the header.
    let config = Limits {
        max_frame_size: 64,
        ..Limits::default()
    };
    let mut conn = Connection::new(Role::Server, config);
    let mut bytes = Vec::new();
    FrameHeader {
        fin: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: OpCode::Binary,
        mask: Some([1, 2, 3, 4]),
        payload_len: 1 << 20,
    }
    .encode(&mut bytes);
    conn.receive(&bytes);
    let error = conn.next_event().unwrap_err();
    assert_eq!(error.close_code(), Some(1009), "{error}");
    // The Close we send says 1009.
    let close = Frame::decode(&conn.take_output()).unwrap().unwrap().0;
    assert_eq!(close.header.opcode, OpCode::Close);
    assert_eq!(close.payload[..2], 1009u16.to_be_bytes());
}

#[test]
fn fragmented_message_over_limit_fails_on_the_header_that_crosses_it() {
    let config = Limits {
        max_message_size: 10,
        ..Limits::default()
    };
    let mut conn = Connection::new(Role::Server, config);
    let mut bytes = Vec::new();
    let mut first = Frame::new(OpCode::Binary, vec![0; 8]).masked([9; 4]);
    first.header.fin = false;
    first.encode(&mut bytes);
    // The second fragment's header alone: 8 + 8 > 10.
    FrameHeader {
        fin: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: OpCode::Continuation,
        mask: Some([9; 4]),
        payload_len: 8,
    }
    .encode(&mut bytes);
    conn.receive(&bytes);
    let error = conn.next_event().unwrap_err();
    assert!(
        matches!(error, Error::MessageTooLarge { len: 16, max: 10 }),
        "{error}"
    );
}

/// Hex bytes, space-separated.
fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The frames of a short conversation, each as its bytes on the wire and what they mean: the
/// figures of the book's frame chapter.
#[test]
fn annotated_frames() {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut first_fragment = Frame::new(OpCode::Text, b"Hel".to_vec());
    first_fragment.header.fin = false;
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"bye");
    let frames = [
        (
            "server says Hello",
            Frame::new(OpCode::Text, b"Hello".to_vec()),
        ),
        (
            "client says Hello, masked",
            Frame::new(OpCode::Text, b"Hello".to_vec()).masked(key),
        ),
        ("first fragment", first_fragment),
        (
            "a Ping between fragments",
            Frame::new(OpCode::Ping, b"?".to_vec()),
        ),
        (
            "last fragment",
            Frame::new(OpCode::Continuation, b"lo".to_vec()),
        ),
        (
            "the Pong",
            Frame::new(OpCode::Pong, b"?".to_vec()).masked(key),
        ),
        (
            "256 bytes: 16-bit length",
            Frame::new(OpCode::Binary, vec![0; 256]),
        ),
        (
            "65536 bytes: 64-bit length",
            Frame::new(OpCode::Binary, vec![0; 65_536]),
        ),
        (
            "Close 1000 \"bye\"",
            Frame::new(OpCode::Close, close).masked(key),
        ),
    ];
    let mut out = String::new();
    for (what, frame) in frames {
        let mut bytes = Vec::new();
        frame.encode(&mut bytes);
        let (header, header_len) = FrameHeader::parse(&bytes).unwrap().unwrap();
        let payload = &bytes[header_len..];
        let shown = &payload[..payload.len().min(8)];
        let more = if payload.len() > 8 { " …" } else { "" };
        out.push_str(&format!(
            "# {what}\n{} | {}{more}\n  {header}\n",
            hex(&bytes[..header_len]),
            hex(shown)
        ));
    }
    insta::assert_snapshot!(out);
}
