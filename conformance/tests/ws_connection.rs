//! The connection state machine's rules (RFC 6455 §5 to §8), one test per rule: frames in,
//! messages and frames out. Each failure checks the close code sent.
//!
//! The rules a peer's bytes exercise run over every transport of [`ws_support`]: the wire
//! layer in memory, then a server of the I/O layer over HTTP/1.1 and over HTTP/2 (RFC 8441),
//! which echoes Text and Binary messages. The same bytes must give the same messages and the
//! same frames back on each: framing, masking and closing do not depend on what carries them.

mod ws_support;

use websocket::connection::{Connection, Message, Role, State};
use websocket::frame::{Frame, FrameHeader, OpCode};
use websocket::{CloseFrame, Error, Limits};
// The frames a client sends, masked, built as `wirelab check ws-server` builds them.
use wirelab::check::wire::{KEY, client_frame as client, close_payload};
use ws_support::{Exchange, TRANSPORTS, Transport, exchange};

fn server() -> Connection {
    Connection::new(Role::Server, Limits::default())
}

/// Feeds bytes; returns every event up to the first error.
fn run(conn: &mut Connection, bytes: &[u8]) -> Result<Vec<Message>, Error> {
    conn.receive(bytes);
    let mut events = Vec::new();
    while let Some(event) = conn.next_event()? {
        events.push(event);
    }
    Ok(events)
}

/// The frames the connection sent, decoded (the server's are unmasked).
fn sent(conn: &mut Connection) -> Vec<Frame> {
    ws_support::decode(&conn.take_output())
}

/// Sends bytes that must fail the connection over `transport`; returns the error and the close
/// code sent, after checking that the server sent exactly that one Close, and then nothing.
async fn fails(transport: Transport, bytes: &[u8]) -> (Error, u16) {
    let Exchange { error, replies, .. } = exchange(transport, bytes).await;
    let error = error.unwrap_or_else(|| panic!("{transport:?}: the connection fails"));
    assert_eq!(replies.len(), 1, "{transport:?}: exactly one Close");
    assert_eq!(replies[0].header.opcode, OpCode::Close);
    let code = u16::from_be_bytes([replies[0].payload[0], replies[0].payload[1]]);
    assert_eq!(Some(code), error.close_code(), "{transport:?}");
    (error, code)
}

/// A Close with 1000, as a client sends it: what ends a conversation that breaks no rule.
fn client_close() -> Vec<u8> {
    client(OpCode::Close, true, &close_payload(1000, b""))
}

fn normal_close() -> Message {
    Message::Close(Some(CloseFrame {
        code: 1000,
        reason: String::new(),
    }))
}

// req: ws/5.4/control-in-middle ws/5.4/fragmented ws/6.2/receive ws/6.2/unmask
#[tokio::test]
async fn fragments_with_control_frames_between() {
    let mut bytes = client(OpCode::Text, false, "κό".as_bytes());
    bytes.extend(client(OpCode::Ping, true, b"p"));
    bytes.extend(client(OpCode::Continuation, false, &"σμε".as_bytes()[..3]));
    bytes.extend(client(OpCode::Pong, true, b""));
    bytes.extend(client(OpCode::Continuation, true, &"σμε".as_bytes()[3..]));
    bytes.extend(client_close());
    for transport in TRANSPORTS {
        let x = exchange(transport, &bytes).await;
        assert_eq!(
            x.events,
            [
                Message::Ping(b"p".to_vec()),
                Message::Pong(vec![]),
                Message::Text("κόσμε".into()),
                normal_close(),
            ],
            "{transport:?}"
        );
        // §5.5.2: the Pong answers the Ping with its payload, unmasked from a server, before
        // the message it interrupted is whole (and echoed).
        assert_eq!(
            x.replies,
            [
                Frame::new(OpCode::Pong, b"p".to_vec()),
                Frame::new(OpCode::Text, "κόσμε".as_bytes().to_vec()),
                Frame::new(OpCode::Close, close_payload(1000, b"")),
            ],
            "{transport:?}"
        );
    }
}

// req: ws/5.2/rsv ws/5.8/negotiated ws/5.2/opcode ws/5.1/server-requires-mask ws/5.4/fragment-types
// req: ws/5.4/no-interleave ws/5.4/control-unfragmented ws/5.5/control-125 ws/5.2/minimal-length
// req: ws/7.1.7/fail ws/10.7/validate
// req: ws/8.1/utf8-fail ws/5.6/utf8
#[tokio::test]
async fn protocol_errors_close_with_1002() {
    for t in TRANSPORTS {
        let mut rsv = client(OpCode::Text, true, b"x");
        rsv[0] |= 0x40;
        assert!(matches!(fails(t, &rsv).await, (Error::ReservedBits, 1002)));
        assert!(matches!(
            fails(t, &[0x83, 0x80, 0, 0, 0, 0]).await,
            (Error::ReservedOpcode(3), 1002)
        ));
        assert!(matches!(
            fails(t, &[0x8b, 0x80, 0, 0, 0, 0]).await,
            (Error::ReservedOpcode(0xb), 1002)
        ));
        // §5.1: a client's frame must be masked.
        assert!(matches!(
            fails(t, &[0x81, 0x01, b'x']).await,
            (Error::WrongMasking, 1002)
        ));
        assert!(matches!(
            fails(t, &client(OpCode::Continuation, true, b"x")).await,
            (Error::UnexpectedContinuation, 1002)
        ));
        let mut two_starts = client(OpCode::Text, false, b"a");
        two_starts.extend(client(OpCode::Text, true, b"b"));
        assert!(matches!(
            fails(t, &two_starts).await,
            (Error::ExpectedContinuation, 1002)
        ));
        assert!(matches!(
            fails(t, &client(OpCode::Ping, false, b"")).await,
            (Error::FragmentedControlFrame, 1002)
        ));
        assert!(matches!(
            fails(t, &client(OpCode::Ping, true, &[0; 126])).await,
            (Error::ControlFrameTooLong, 1002)
        ));
        // §5.2: 5 written in the 16-bit form.
        assert!(matches!(
            fails(t, &[0x82, 0xfe, 0, 5, 0, 0, 0, 0]).await,
            (Error::NonMinimalLength, 1002)
        ));
    }
}

#[tokio::test]
async fn invalid_utf8_fails_at_the_first_bad_byte_before_the_frame_ends() {
    // A 20-byte text frame whose 4th byte (0xF4 0x90: above U+10FFFF) is already invalid.
    let mut payload = b"ab\xf4\x90".to_vec();
    payload.resize(20, b'z');
    let bytes = client(OpCode::Text, true, &payload);
    for t in TRANSPORTS {
        // Header (6 bytes) and the first 4 payload bytes only: the rest has not arrived.
        assert!(matches!(
            fails(t, &bytes[..10]).await,
            (Error::InvalidUtf8, 1007)
        ));
    }
}

// req: ws/5.6/utf8
#[tokio::test]
async fn utf8_may_be_cut_between_fragments_but_not_end_cut() {
    let euro = "€".as_bytes();
    let mut bytes = client(OpCode::Text, false, &euro[..1]);
    bytes.extend(client(OpCode::Continuation, true, &euro[1..]));
    bytes.extend(client_close());
    let truncated = client(OpCode::Text, true, &euro[..2]);
    for t in TRANSPORTS {
        let x = exchange(t, &bytes).await;
        assert_eq!(x.events, [Message::Text("€".into()), normal_close()]);
        assert!(matches!(
            fails(t, &truncated).await,
            (Error::InvalidUtf8, 1007)
        ));
    }
}

// req: ws/5.5.1/reply-close ws/5.5.1/no-data-after-close ws/7.1.7/stop
#[tokio::test]
async fn closing_handshake_replies_once_and_then_nothing() {
    let mut bytes = client(OpCode::Close, true, &close_payload(1001, b"away"));
    // Whatever follows the Close is not read, and nothing more is sent.
    bytes.extend(client(OpCode::Ping, true, b""));
    bytes.extend(client(OpCode::Text, true, b"late"));
    for t in TRANSPORTS {
        let x = exchange(t, &bytes).await;
        let close = CloseFrame {
            code: 1001,
            reason: "away".into(),
        };
        assert_eq!(x.events, [Message::Close(Some(close))], "{t:?}");
        assert_eq!(
            x.replies,
            [Frame::new(OpCode::Close, close_payload(1001, b""))],
            "{t:?}"
        );
        assert!(x.error.is_none(), "{t:?}");
    }
}

// req: ws/5.5.1/reply-close
#[tokio::test]
async fn empty_close_is_answered_with_an_empty_close() {
    for t in TRANSPORTS {
        let x = exchange(t, &client(OpCode::Close, true, b"")).await;
        assert_eq!(x.events, [Message::Close(None)], "{t:?}");
        assert_eq!(x.replies, [Frame::new(OpCode::Close, vec![])], "{t:?}");
    }
}

// req: ws/7.1.2/start ws/5.5.2/pong
#[test]
fn we_close_first_and_wait_for_the_reply() {
    let mut conn = server();
    conn.send(Message::Close(Some(CloseFrame {
        code: 1000,
        reason: "done".into(),
    })))
    .unwrap();
    assert_eq!(conn.state(), State::Closing);
    assert_eq!(
        sent(&mut conn),
        [Frame::new(OpCode::Close, close_payload(1000, b"done"))]
    );
    // Data may still arrive before the peer's Close; Pings are no longer answered.
    let mut bytes = client(OpCode::Text, true, b"late");
    bytes.extend(client(OpCode::Ping, true, b""));
    bytes.extend(client(OpCode::Close, true, &close_payload(1000, b"")));
    let events = run(&mut conn, &bytes).unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(conn.output_len(), 0);
}

// req: ws/7.4.1/reserved-codes ws/5.5.1/close-code
#[tokio::test]
async fn close_codes() {
    for t in TRANSPORTS {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
        ] {
            let x = exchange(t, &client(OpCode::Close, true, &close_payload(code, b""))).await;
            assert_eq!(x.events.len(), 1, "{t:?}: {code} is valid");
            // §5.5.1: the reply echoes the code.
            assert_eq!(x.replies[0].payload, code.to_be_bytes(), "{t:?}");
        }
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            let bytes = client(OpCode::Close, true, &close_payload(code, b""));
            let (error, sent_code) = fails(t, &bytes).await;
            assert!(matches!(error, Error::InvalidCloseCode(c) if c == code));
            assert_eq!(sent_code, 1002);
        }
        assert!(matches!(
            fails(t, &client(OpCode::Close, true, &[3])).await,
            (Error::CloseFrameTooShort, 1002)
        ));
        let bad_reason = close_payload(1000, b"\xce\xba\xed\xa0\x80");
        assert!(matches!(
            fails(t, &client(OpCode::Close, true, &bad_reason)).await,
            (Error::InvalidCloseReason, 1007)
        ));
    }
}

// req: ws/10.4/limits
#[test]
fn limits_fail_with_1009_before_the_payload() {
    let config = Limits {
        max_frame_size: 100,
        max_message_size: 150,
        ..Limits::default()
    };
    let mut conn = Connection::new(Role::Server, config);
    let mut header = Vec::new();
    FrameHeader {
        fin: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: OpCode::Binary,
        mask: Some(KEY),
        payload_len: u64::MAX >> 1,
    }
    .encode(&mut header);
    let error = run(&mut conn, &header).unwrap_err();
    assert!(matches!(error, Error::FrameTooLarge { .. }));
    assert_eq!(error.close_code(), Some(1009));
}

// req: ws/7.2.1/lost
#[test]
fn the_peer_vanishing_is_1006_and_nothing_is_sent() {
    let mut conn = server();
    conn.receive(&client(OpCode::Text, true, b"hello")[..4]);
    assert_eq!(conn.next_event().unwrap(), None);
    conn.receive_eof();
    let error = conn.next_event().unwrap_err();
    assert!(matches!(error, Error::AbnormalClosure));
    assert_eq!(error.close_code(), Some(1006));
    assert_eq!(conn.output_len(), 0, "1006 is never sent");
}

// req: ws/5.1/client-masks ws/5.1/client-refuses-mask
#[test]
fn client_masks_and_rejects_masked_frames() {
    let mut conn = Connection::new(Role::Client, Limits::default());
    conn.send(Message::Text("Hello".into())).unwrap();
    let bytes = conn.take_output();
    let (frame, _) = Frame::decode(&bytes).unwrap().unwrap();
    assert!(frame.header.mask.is_some());
    assert_eq!(frame.payload, b"Hello");
    // §5.1: a client fails on a masked frame from the server.
    conn.receive(&client(OpCode::Text, true, b"x"));
    assert!(matches!(conn.next_event(), Err(Error::WrongMasking)));
}

// req: ws/6.1/frames ws/6.1/open ws/5.5/control-125 ws/5.4/control-unfragmented
// req: ws/7.4.1/reserved-codes
#[test]
fn sending_rules() {
    let mut conn = server();
    assert!(matches!(
        conn.send(Message::Ping(vec![0; 126])),
        Err(Error::InvalidSend(_))
    ));
    let bad = CloseFrame {
        code: 1005,
        reason: String::new(),
    };
    assert!(matches!(
        conn.send(Message::Close(Some(bad))),
        Err(Error::InvalidSend(_))
    ));
    assert!(matches!(
        conn.send_fragment(OpCode::Continuation, b"x", true),
        Err(Error::InvalidSend(_))
    ));
    conn.send_fragment(OpCode::Binary, b"a", false).unwrap();
    assert!(matches!(
        conn.send(Message::Text("x".into())),
        Err(Error::InvalidSend(_))
    ));
    conn.send(Message::Ping(b"between".to_vec())).unwrap();
    conn.send_fragment(OpCode::Continuation, b"b", true)
        .unwrap();
    let frames = sent(&mut conn);
    let kinds: Vec<(OpCode, bool)> = frames
        .iter()
        .map(|f| (f.header.opcode, f.header.fin))
        .collect();
    assert_eq!(
        kinds,
        [
            (OpCode::Binary, false),
            (OpCode::Ping, true),
            (OpCode::Continuation, true)
        ]
    );
}

#[test]
fn message_memory_stays_within_the_limit() {
    // 600 bytes arriving about 100 at a time, limit 700: plain doubling would reach 736.
    let config = Limits {
        max_message_size: 700,
        ..Limits::default()
    };
    let mut conn = Connection::new(Role::Server, config);
    let mut bytes = client(OpCode::Binary, false, &[7; 300]);
    bytes.extend(client(OpCode::Continuation, true, &[7; 300]));
    let mut events = Vec::new();
    for piece in bytes.chunks(100) {
        events.extend(run(&mut conn, piece).unwrap());
    }
    let [Message::Binary(payload)] = &events[..] else {
        panic!("one binary message, got {events:?}");
    };
    assert_eq!(payload.len(), 600);
    assert!(payload.capacity() <= 700, "capacity {}", payload.capacity());
}

// req: ws/5.3/fresh-key
#[test]
fn every_client_frame_has_its_own_masking_key() {
    let mut conn = Connection::new(Role::Client, Limits::default());
    for _ in 0..64 {
        conn.send(Message::Binary(vec![0; 8])).unwrap();
    }
    let keys: std::collections::HashSet<[u8; 4]> = sent(&mut conn)
        .iter()
        .map(|f| f.header.mask.expect("a client masks"))
        .collect();
    // 64 keys drawn from 2^32: a repeat would mean the keys are not fresh (a chance of about
    // one in ten million for a good source).
    assert_eq!(keys.len(), 64);
}

// req: ws/7.4.1/reason
#[test]
fn a_failure_says_why_in_the_close_reason() {
    let mut conn = server();
    let mut rsv = client(OpCode::Text, true, b"x");
    rsv[0] |= 0x40;
    let error = run(&mut conn, &rsv).unwrap_err();
    let frames = sent(&mut conn);
    let reason = std::str::from_utf8(&frames[0].payload[2..]).expect("a UTF-8 reason");
    assert!(!reason.is_empty());
    assert_eq!(reason, error.to_string());
}
