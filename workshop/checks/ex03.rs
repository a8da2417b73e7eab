//! Check of exercise 3, frame headers: `scripts/workshop check 3`.

use wirelab_workshop::ex03_frame_header::{Header, HeaderError, parse_header};

fn header(fin: bool, opcode: u8, mask: Option<[u8; 4]>, payload_len: u64) -> Header {
    Header {
        fin,
        rsv: 0,
        opcode,
        mask,
        payload_len,
    }
}

/// Valid headers: the bytes, and what they say.
fn valid() -> Vec<(Vec<u8>, Header)> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut long = vec![0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0];
    long.extend(key);
    vec![
        // RFC 6455 §5.7: an unmasked text "Hello", and the masked one.
        (vec![0x81, 0x05], header(true, 1, None, 5)),
        (
            vec![0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d],
            header(true, 1, Some(key), 5),
        ),
        // A first fragment, a continuation, a Ping.
        (vec![0x01, 0x03], header(false, 1, None, 3)),
        (vec![0x80, 0x02], header(true, 0, None, 2)),
        (vec![0x89, 0x00], header(true, 9, None, 0)),
        // §5.7: 256 bytes in the 16-bit form, 65536 in the 64-bit form (masked).
        (vec![0x82, 0x7e, 0x01, 0x00], header(true, 2, None, 256)),
        (long, header(true, 2, Some(key), 65536)),
        // The largest 7-bit length, the smallest 16-bit one.
        (vec![0x82, 0x7d], header(true, 2, None, 125)),
        (vec![0x82, 0x7e, 0x00, 0x7e], header(true, 2, None, 126)),
    ]
}

#[test]
fn valid_headers_are_read() {
    for (bytes, expected) in valid() {
        let parsed = parse_header(&bytes);
        assert_eq!(parsed, Ok(Some((expected, bytes.len()))), "{bytes:02x?}");
        // What follows the header is not the header's business.
        let mut more = bytes.clone();
        more.extend_from_slice(b"payload");
        assert_eq!(parse_header(&more), Ok(Some((expected, bytes.len()))));
    }
}

#[test]
fn a_partial_header_asks_for_more() {
    for (bytes, _) in valid() {
        for end in 0..bytes.len() {
            assert_eq!(
                parse_header(&bytes[..end]),
                Ok(None),
                "{:02x?}",
                &bytes[..end]
            );
        }
    }
}

#[test]
fn reserved_bits_are_reported() {
    let parsed = parse_header(&[0xf1, 0x00]).map(|h| h.map(|(h, _)| (h.fin, h.rsv, h.opcode)));
    assert_eq!(parsed, Ok(Some((true, 0b111, 1))));
    let parsed = parse_header(&[0xc1, 0x00]).map(|h| h.map(|(h, _)| h.rsv));
    assert_eq!(parsed, Ok(Some(0b100)), "RSV1 is the high bit of the three");
}

#[test]
fn what_no_frame_may_be_is_refused() {
    let mut top_bit = vec![0x82, 0x7f, 0x80];
    top_bit.extend([0; 7]);
    let cases: Vec<(Vec<u8>, HeaderError)> = vec![
        (vec![0x83, 0x00], HeaderError::ReservedOpcode(3)),
        (vec![0x8b, 0x00], HeaderError::ReservedOpcode(0xb)),
        (vec![0x89, 0x7e, 0x00, 0x7e], HeaderError::BadControlFrame),
        (vec![0x09, 0x00], HeaderError::BadControlFrame),
        (vec![0x82, 0x7e, 0x00, 0x05], HeaderError::BadLength),
        (
            vec![0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
            HeaderError::BadLength,
        ),
        (top_bit, HeaderError::BadLength),
    ];
    for (bytes, error) in cases {
        assert_eq!(parse_header(&bytes), Err(error), "{bytes:02x?}");
    }
}
