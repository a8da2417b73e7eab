//! permessage-deflate (RFC 7692) at the wire level: the negotiation's bad inputs get the right
//! answer (400, a declined offer, a failed client handshake), and a connection's bad inputs get
//! the right close code (1002 for RSV1 where it does not belong, 1007 for data that does not
//! inflate, 1009 for a message that inflates past the limit).

use websocket::connection::{Connection, Message, Role};
use websocket::deflate::PerMessageDeflate;
use websocket::frame::{Frame, OpCode};
use websocket::handshake::{ClientHandshake, ServerHandshake, ServerOptions, check_request};
use websocket::{Config, DeflateConfig, Error, Limits};

/// A request offering `extensions`, as a server reads it.
fn request_with(extensions: &str) -> websocket::handshake::Request {
    let head = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: {extensions}\r\n\r\n"
    );
    let (request, _) = ServerHandshake::new(&Limits::default())
        .receive(head.as_bytes())
        .expect("a valid head")
        .expect("whole");
    request
}

fn deflating_server() -> ServerOptions {
    ServerOptions {
        config: Config {
            deflate: DeflateConfig::on(),
            ..Config::default()
        },
        ..ServerOptions::default()
    }
}

/// What the server answers an offer with: `Ok(None)` declined, `Ok(Some(value))` accepted.
fn server_answer(extensions: &str) -> Result<Option<String>, Error> {
    let accepted = check_request(&request_with(extensions), &deflating_server())?;
    Ok(accepted.extensions_value())
}

// req: ws/9.1/malformed ws/4.3/ext-param
#[test]
fn an_invalid_extension_header_is_refused_with_400() {
    for bad in [
        "permessage-deflate;",
        "permessage-deflate; client_max_window_bits=\"1 0\"",
        "permessage-deflate server_no_context_takeover",
    ] {
        let error = server_answer(bad).unwrap_err();
        assert!(matches!(error, Error::BadExtensionHeader(_)), "{bad:?}");
        assert_eq!(error.http_status(), Some(400));
    }
}

// req: pmd/7/decline pmd/5/accept-name ws/9/params pmd/7.1.2.1/value
#[test]
fn offers_with_bad_parameters_are_declined_and_a_good_one_after_them_is_taken() {
    for declined in [
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=0",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits=10; client_max_window_bits=11",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; unknown_parameter",
        // zlib cannot compress with a 256-byte window: declined, not broken.
        "permessage-deflate; server_max_window_bits=8",
        "x-webkit-deflate-frame",
    ] {
        assert_eq!(server_answer(declined).unwrap(), None, "{declined:?}");
    }
    let answer = server_answer(
        "permessage-deflate; server_max_window_bits=16, permessage-deflate; \
                       client_max_window_bits; server_max_window_bits=\"12\"",
    )
    .unwrap();
    assert_eq!(
        answer.as_deref(),
        Some("permessage-deflate; server_max_window_bits=12")
    );
    // The response carries it, and nothing when the server has the extension off.
    let accepted = check_request(&request_with("permessage-deflate"), &deflating_server()).unwrap();
    let head = String::from_utf8(accepted.response_bytes()).unwrap();
    assert!(
        head.contains("\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"),
        "{head}"
    );
    let off = check_request(
        &request_with("permessage-deflate"),
        &ServerOptions::default(),
    );
    assert_eq!(off.unwrap().deflate, None);
}

/// The client's checks of the answer: each bad one fails the handshake.
// req: pmd/7/fail-response pmd/5/offer-name pmd/5/invalid-response pmd/5/client-fails-conflict
// req: ws/9.1/offer-only ws/9.1/malformed
#[test]
fn a_client_fails_answers_it_may_not_accept() {
    let config = Config {
        deflate: DeflateConfig {
            server_max_window_bits: 12,
            ..DeflateConfig::on()
        },
        ..Config::default()
    };
    let answer = |extensions: &str| {
        let (mut handshake, request) =
            ClientHandshake::with_config("h", "/", &[], &config).expect("valid");
        let request = String::from_utf8(request).unwrap();
        assert!(request.contains(
            "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; \
             client_max_window_bits\r\n"
        ));
        let key = request
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap();
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n{extensions}\r\n",
            websocket::handshake::accept_key(key.as_bytes())
        );
        handshake
            .receive(response.as_bytes())
            .map(|_| handshake.deflate())
    };
    assert_eq!(answer("").unwrap(), None, "declined");
    let agreed =
        answer("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n")
            .unwrap()
            .unwrap();
    assert_eq!(agreed.server_max_window_bits, 9);
    for bad in [
        "Sec-WebSocket-Extensions: permessage-deflate\r\n", // 15 > the 12 asked for
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=16\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9; \
         server_max_window_bits=9\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9; \
         client_max_window_bits=8\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9; x=1\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate;\r\n",
        "Sec-WebSocket-Extensions: x-unknown\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9, x-other\r\n",
    ] {
        assert!(answer(bad).is_err(), "{bad:?}");
    }
}

fn agreed() -> PerMessageDeflate {
    PerMessageDeflate {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    }
}

fn pair(limits: Limits) -> (Connection, Connection) {
    let mut client = Connection::new(Role::Client, limits);
    let mut server = Connection::new(Role::Server, limits);
    client.set_deflate(agreed(), 6);
    server.set_deflate(agreed(), 6);
    (client, server)
}

/// A masked client frame with the RSV1 bit as given.
fn frame(opcode: OpCode, fin: bool, rsv1: bool, payload: &[u8]) -> Vec<u8> {
    let mut frame = Frame::new(opcode, payload.to_vec()).masked([1, 2, 3, 4]);
    frame.header.fin = fin;
    frame.header.rsv1 = rsv1;
    let mut out = Vec::new();
    frame.encode(&mut out);
    out
}

/// Feeds `bytes` to `server`; returns the error and the code of the Close it sent.
fn failure(server: &mut Connection, bytes: &[u8]) -> (Error, u16) {
    server.receive(bytes);
    let error = loop {
        match server.next_event() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the bytes did not fail the connection"),
            Err(error) => break error,
        }
    };
    let out = server.take_output();
    let close = out
        .windows(2)
        .position(|w| w[0] == 0x88)
        .map(|at| u16::from_be_bytes([out[at + 2], out[at + 3]]))
        .expect("a Close was sent");
    (error, close)
}

// req: pmd/6/rsv1-fail
#[test]
fn rsv1_where_the_extension_does_not_own_it_is_1002() {
    let compressed = {
        let (mut client, _) = pair(Limits::default());
        client.send(Message::Text("Hello".into())).unwrap();
        client.take_output()
    };
    // Without negotiation, the very frame a deflating client sends is a protocol error.
    let mut plain = Connection::new(Role::Server, Limits::default());
    let (error, code) = failure(&mut plain, &compressed);
    assert!(matches!(error, Error::ReservedBits), "{error:?}");
    assert_eq!(code, 1002);

    let cases: [(&str, Vec<u8>); 3] = [
        ("continuation", {
            let mut b = frame(OpCode::Text, false, true, &[0xf2, 0x48]);
            b.extend(frame(
                OpCode::Continuation,
                true,
                true,
                &[0xcd, 0xc9, 0xc9, 0x07, 0x00],
            ));
            b
        }),
        ("ping", frame(OpCode::Ping, true, true, b"")),
        (
            "close",
            frame(OpCode::Close, true, true, &1000u16.to_be_bytes()),
        ),
    ];
    for (name, bytes) in cases {
        let (_, mut server) = pair(Limits::default());
        let (error, code) = failure(&mut server, &bytes);
        assert!(matches!(error, Error::ReservedBits), "{name}: {error:?}");
        assert_eq!(code, 1002, "{name}");
    }
    // RSV2 and RSV3 stay reserved.
    let mut bytes = frame(
        OpCode::Text,
        true,
        true,
        &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
    );
    bytes[0] |= 0x20;
    let (_, mut server) = pair(Limits::default());
    assert_eq!(failure(&mut server, &bytes).1, 1002);
}

#[test]
fn data_that_does_not_inflate_is_1007() {
    let (_, mut server) = pair(Limits::default());
    let (error, code) = failure(&mut server, &frame(OpCode::Binary, true, true, &[0xff; 12]));
    assert!(matches!(error, Error::BadCompressedData), "{error:?}");
    assert_eq!(code, 1007);
    // Valid DEFLATE that inflates to invalid UTF-8 in a Text message is 1007 too.
    let (mut client, mut server) = pair(Limits::default());
    client.send(Message::Binary(vec![0xc3, 0x28])).unwrap();
    let mut bytes = client.take_output();
    bytes[0] = (bytes[0] & 0xf0) | 0x1; // the same payload, as Text
    let (error, code) = failure(&mut server, &bytes);
    assert!(matches!(error, Error::InvalidUtf8), "{error:?}");
    assert_eq!(code, 1007);
}

/// 64 MiB of zeros compress to 64 KiB, well under a 1 MiB limit; inflating them fails with
/// 1009 once the message passes 1 MiB, and the message buffer never holds more.
#[test]
fn an_inflation_bomb_is_1009_before_the_memory_is_spent() {
    let limits = Limits {
        max_message_size: 1 << 20,
        ..Limits::default()
    };
    let (mut client, _) = pair(Limits {
        max_frame_size: 64 << 20,
        max_message_size: 64 << 20,
        ..limits
    });
    client.send(Message::Binary(vec![0; 64 << 20])).unwrap();
    let bomb = client.take_output();
    assert!(bomb.len() < 128 << 10, "{} bytes", bomb.len());
    let (_, mut server) = pair(limits);
    let (error, code) = failure(&mut server, &bomb);
    assert!(
        matches!(error, Error::MessageTooLarge { len, max } if len <= (1 << 20) + 1 && max == 1 << 20),
        "{error:?}"
    );
    assert_eq!(code, 1009);
}

/// A compressed message in three frames, with a Ping between them (§5.4 still holds), then
/// messages that repeat: with context takeover the repeats cost a few bytes each.
// req: pmd/7.2.2/takeover pmd/6/rsv1-first-only
#[test]
fn fragmented_compressed_messages_and_context_takeover() {
    let (mut client, mut server) = pair(Limits::default());
    let text = "permessage-deflate ".repeat(20);
    client.send(Message::Text(text.clone())).unwrap();
    let whole = client.take_output();
    let first = Frame::decode(&whole).unwrap().unwrap().0;
    assert!(first.header.rsv1);
    let p = &first.payload;
    let (a, rest) = p.split_at(p.len() / 3);
    let (b, c) = rest.split_at(rest.len() / 2);
    let mut bytes = frame(OpCode::Text, false, true, a);
    bytes.extend(frame(OpCode::Ping, true, false, b"mid"));
    bytes.extend(frame(OpCode::Continuation, false, false, b));
    bytes.extend(frame(OpCode::Continuation, true, false, c));
    server.receive(&bytes);
    assert_eq!(
        server.next_event().unwrap(),
        Some(Message::Ping(b"mid".to_vec()))
    );
    assert_eq!(
        server.next_event().unwrap(),
        Some(Message::Text(text.clone()))
    );
    // Control frames are never compressed.
    let pong = server.take_output();
    assert_eq!(pong[0], 0x8A, "FIN, no RSV1, Pong");

    // The client's context holds the message already: the second copy is tiny.
    client.send(Message::Text(text.clone())).unwrap();
    let again = client.take_output();
    assert!(again.len() < 16, "{} bytes", again.len());
    server.receive(&again);
    assert_eq!(server.next_event().unwrap(), Some(Message::Text(text)));
}

/// What a deflating client sends: RSV1 on the frame of a compressed message and on no other
/// (a message sent in fragments goes uncompressed; a Ping and a Close never compress), and
/// the server reads each frame as it was meant.
// req: pmd/6/rsv1-first-only
#[test]
fn rsv1_is_sent_on_a_compressed_messages_first_frame_only() {
    let (mut client, mut server) = pair(Limits::default());
    client.send(Message::Text("Hello".into())).unwrap();
    client.send_fragment(OpCode::Text, b"Hel", false).unwrap();
    client.send(Message::Ping(b"mid".to_vec())).unwrap();
    client
        .send_fragment(OpCode::Continuation, b"lo", true)
        .unwrap();
    client.send(Message::Close(None)).unwrap();
    let bytes = client.take_output();
    let (mut rest, mut sent) = (&bytes[..], Vec::new());
    while let Some((frame, used)) = Frame::decode(rest).unwrap() {
        sent.push((frame.header.opcode, frame.header.rsv1));
        rest = &rest[used..];
    }
    assert_eq!(
        sent,
        [
            (OpCode::Text, true),
            (OpCode::Text, false),
            (OpCode::Ping, false),
            (OpCode::Continuation, false),
            (OpCode::Close, false),
        ]
    );
    server.receive(&bytes);
    for expected in [
        Message::Text("Hello".into()),
        Message::Ping(b"mid".to_vec()),
        Message::Text("Hello".into()),
        Message::Close(None),
    ] {
        assert_eq!(server.next_event().unwrap(), Some(expected));
    }
}

/// RFC 7692 §7.2.3.1 and §7.2.3.2 as a server's frames: FIN, RSV1 and Text (`c1`), the
/// length, and the compressed bytes; the second "Hello" is a back-reference into the first.
// req: pmd/5/agreed
#[test]
fn hello_twice_on_the_wire() {
    let (_, mut server) = pair(Limits::default());
    server.send(Message::Text("Hello".into())).unwrap();
    assert_eq!(
        server.take_output(),
        [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    );
    server.send(Message::Text("Hello".into())).unwrap();
    assert_eq!(
        server.take_output(),
        [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]
    );
}
