//! The frame: WebSocket's unit on the wire (RFC 6455 §5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```
//!
//! A header is 2 to 14 bytes. [`FrameHeader::parse`] looks at the bytes received so far and
//! either returns the header and its length, or `None` when more bytes are needed: it keeps no
//! state, so a header split at any byte offset parses the same once it is whole (at most 14
//! bytes are looked at again, never the payload).
//!
//! The payload is not part of the header on purpose: the connection takes it in pieces as it
//! arrives (see `connection.rs`), so that a 16 MiB frame never needs 16 MiB before it can be
//! checked, and invalid UTF-8 is caught in its first bytes.
//!
//! What the header parser enforces is what holds for every frame, whoever sends it: known
//! opcodes (§5.2), the payload length in its minimal form with the 64-bit form's top bit clear
//! (§5.2: "the minimal number of bytes MUST be used"; we enforce it, as a peer that breaks a
//! MUST is not one to trust, and no real client sends otherwise), and control frames short and
//! unfragmented (§5.5). What depends on the connection is left to it: which side must mask
//! (§5.1), and which RSV bits a negotiated extension has given a meaning (§5.2, §9).
//!
//! # The extension hook
//!
//! RSV1-3 are parsed and encoded as plain booleans and never checked here. An extension such
//! as permessage-deflate (RFC 7692) is negotiated in the handshake and then claims RSV1 for
//! "this message is compressed"; the frame layer needs no change for it, only the connection's
//! RSV check and its message assembly.

use std::fmt;

use crate::error::Error;
use crate::mask::apply_mask;

/// The frame's opcode (RFC 6455 §5.2, §11.8). Reserved values are rejected when parsed.
// ANCHOR: opcode
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: a later fragment of a Text or Binary message.
    Continuation,
    /// 0x1: the first (or only) frame of a UTF-8 text message.
    Text,
    /// 0x2: the first (or only) frame of a binary message.
    Binary,
    /// 0x8: the closing handshake (§5.5.1).
    Close,
    /// 0x9: a Ping, which the peer answers with a Pong (§5.5.2).
    Ping,
    /// 0xA: a Pong (§5.5.3).
    Pong,
}
// ANCHOR_END: opcode

impl OpCode {
    /// The opcode for a 4-bit value, or [`Error::ReservedOpcode`].
    pub fn from_u8(value: u8) -> Result<OpCode, Error> {
        Ok(match value {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            other => return Err(Error::ReservedOpcode(other)),
        })
    }

    /// The 4-bit value on the wire.
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Control frames (Close, Ping, Pong) have the high bit of the opcode set (§5.5).
    // ANCHOR: is_control
    pub fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }
    // ANCHOR_END: is_control
}

/// A control frame's payload is at most 125 bytes (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest header: 2 bytes, an 8-byte length, a 4-byte masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// A parsed frame header: everything before the payload.
// ANCHOR: frame_header
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the last fragment of its message (always set on control frames).
    pub fin: bool,
    /// RSV1: reserved for extensions; permessage-deflate's "compressed" bit (RFC 7692 §6).
    pub rsv1: bool,
    /// RSV2: reserved for extensions.
    pub rsv2: bool,
    /// RSV3: reserved for extensions.
    pub rsv3: bool,
    /// What the payload is.
    pub opcode: OpCode,
    /// The masking key, present exactly when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload's length in bytes (at most 2^63 - 1).
    pub payload_len: u64,
}
// ANCHOR_END: frame_header

impl FrameHeader {
    /// Parses a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds only part of a header, and `Ok(Some((header, n)))`
    /// when the header is the first `n` bytes.
    // req: ws/5.2/opcode ws/5.2/length-msb ws/5.2/minimal-length ws/5.5/control-125
    // req: ws/5.4/control-unfragmented
    // ANCHOR: parse_header
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, Error> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        let fin = b0 & 0x80 != 0;
        let opcode = OpCode::from_u8(b0 & 0x0F)?;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7F;
        // §5.5: control frames carry at most 125 bytes (so always use the 7-bit length) and
        // are never fragmented. Checked before reading further: no need to wait for more bytes.
        if opcode.is_control() {
            if len7 > 125 {
                return Err(Error::ControlFrameTooLong);
            }
            if !fin {
                return Err(Error::FragmentedControlFrame);
            }
        }
        let (payload_len, mut pos) = match len7 {
            126 => {
                let Some(bytes) = buf.get(2..4) else {
                    return Ok(None);
                };
                let len = u16::from_be_bytes([bytes[0], bytes[1]]);
                // §5.2: the 16-bit form is for lengths 126 to 65535.
                if len < 126 {
                    return Err(Error::NonMinimalLength);
                }
                (u64::from(len), 4)
            }
            127 => {
                let Some(bytes) = buf.get(2..10) else {
                    return Ok(None);
                };
                let mut be = [0u8; 8];
                be.copy_from_slice(bytes);
                let len = u64::from_be_bytes(be);
                // §5.2: "the most significant bit MUST be 0", and the 64-bit form is for
                // lengths above 65535.
                if len >> 63 != 0 || len <= 0xFFFF {
                    return Err(Error::NonMinimalLength);
                }
                (len, 10)
            }
            small => (u64::from(small), 2),
        };
        let mask = if masked {
            let Some(bytes) = buf.get(pos..pos + 4) else {
                return Ok(None);
            };
            pos += 4;
            Some([bytes[0], bytes[1], bytes[2], bytes[3]])
        } else {
            None
        };
        let header = FrameHeader {
            fin,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, pos)))
    }
    // ANCHOR_END: parse_header

    // req: ws/5.2/minimal-length
    /// Appends the header's bytes to `out`, with the length in its minimal form.
    // ANCHOR: encode_header
    pub fn encode(&self, out: &mut Vec<u8>) {
        let b0 = u8::from(self.fin) << 7
            | u8::from(self.rsv1) << 6
            | u8::from(self.rsv2) << 5
            | u8::from(self.rsv3) << 4
            | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        out.push(b0);
        match self.payload_len {
            len @ 0..=125 => out.push(mask_bit | len as u8),
            len @ 126..=0xFFFF => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&len.to_be_bytes());
            }
        }
        if let Some(key) = self.mask {
            out.extend_from_slice(&key);
        }
    }
    // ANCHOR_END: encode_header

    /// Whether any RSV bit is set.
    pub fn any_rsv(&self) -> bool {
        self.rsv1 || self.rsv2 || self.rsv3
    }

    /// The header's size on the wire, 2 to 14 bytes: 2, then 2 or 8 more when the payload
    /// length needs the 16- or 64-bit form, then 4 for a masking key. §5.2 requires the
    /// minimal length form, which [`FrameHeader::parse`] enforces and
    /// [`FrameHeader::encode`] writes, so the size follows from the fields.
    pub fn encoded_len(&self) -> usize {
        let extended = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + extended + if self.mask.is_some() { 4 } else { 0 }
    }
}

/// A header and its payload, whole: what an application sends, and what tests compare.
/// The payload is kept unmasked; masking happens in [`Frame::encode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header; its `payload_len` must equal `payload.len()`.
    pub header: FrameHeader,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

impl Frame {
    /// A final, unmasked, extension-free frame; [`Frame::masked`] adds a key.
    pub fn new(opcode: OpCode, payload: Vec<u8>) -> Frame {
        Frame {
            header: FrameHeader {
                fin: true,
                rsv1: false,
                rsv2: false,
                rsv3: false,
                opcode,
                mask: None,
                payload_len: payload.len() as u64,
            },
            payload,
        }
    }

    /// The same frame with a masking key, as a client sends it.
    pub fn masked(mut self, key: [u8; 4]) -> Frame {
        self.header.mask = Some(key);
        self
    }

    /// Appends the frame's bytes to `out`, masking the payload if the header has a key.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_frame(out, &self.header, &self.payload);
    }

    /// Parses one whole frame from the start of `buf`, unmasking its payload.
    ///
    /// Returns `Ok(None)` until the whole frame is in `buf`, then the frame and the number of
    /// bytes it took. (The connection does not use this: it takes payloads in pieces.)
    pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, Error> {
        let Some((header, header_len)) = FrameHeader::parse(buf)? else {
            return Ok(None);
        };
        let Ok(len) = usize::try_from(header.payload_len) else {
            return Err(Error::FrameTooLarge {
                len: header.payload_len,
                max: usize::MAX,
            });
        };
        let Some(payload) = buf.get(header_len..).and_then(|rest| rest.get(..len)) else {
            return Ok(None);
        };
        let mut payload = payload.to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        Ok(Some((Frame { header, payload }, header_len + len)))
    }
}

/// Appends a whole frame to `out`: `header`, with its length set to `payload.len()`, then the
/// payload, masked if the header has a key. The one encoder of frames: [`Frame::encode`] and
/// the connection's sends both use it.
// ANCHOR: encode_frame
pub fn encode_frame(out: &mut Vec<u8>, header: &FrameHeader, payload: &[u8]) {
    let header = FrameHeader {
        payload_len: payload.len() as u64,
        ..*header
    };
    header.encode(out);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = header.mask {
        apply_mask(&mut out[start..], key, 0);
    }
}
// ANCHOR_END: encode_frame

/// One line per header, the way the book annotates frames: `FIN - - - Text MASK=37fa213d len=5`
/// (FIN, RSV1-3, the opcode, the masking key when there is one, the payload length).
///
/// The alternate form, `{:#}`, adds what the header says about the bytes on the wire: which
/// length encoding it used and the size of the whole frame, header and payload, as
/// `wirelab tap` shows each frame:
/// `FIN - - - Text MASK=37fa213d len=5 (7-bit length), 11 bytes on the wire`.
impl fmt::Display for FrameHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = |on: bool, name: &'static str| if on { name } else { "-" };
        write!(
            f,
            "{} {} {} {} {:?}",
            flag(self.fin, "FIN"),
            flag(self.rsv1, "RSV1"),
            flag(self.rsv2, "RSV2"),
            flag(self.rsv3, "RSV3"),
            self.opcode
        )?;
        if let Some(k) = self.mask {
            write!(f, " MASK={:02x}{:02x}{:02x}{:02x}", k[0], k[1], k[2], k[3])?;
        }
        write!(f, " len={}", self.payload_len)?;
        if f.alternate() {
            let len = self.encoded_len();
            let encoding = match len - if self.mask.is_some() { 4 } else { 0 } {
                2 => "7-bit length",
                4 => "16-bit length (126 + 2 bytes)",
                _ => "64-bit length (127 + 8 bytes)",
            };
            let total = len as u64 + self.payload_len;
            write!(f, " ({encoding}), {total} bytes on the wire")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        // RFC 6455 §5.7: a single-frame unmasked text message "Hello".
        let bytes = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let (frame, n) = Frame::decode(&bytes).unwrap().unwrap();
        assert_eq!(
            (frame.header.opcode, &frame.payload[..], n),
            (OpCode::Text, &b"Hello"[..], 7)
        );
        // A single-frame masked text message "Hello".
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (frame, _) = Frame::decode(&masked).unwrap().unwrap();
        assert_eq!(frame.payload, b"Hello");
        let mut out = Vec::new();
        frame.encode(&mut out);
        assert_eq!(out, masked);
        // 256 bytes binary message in a single unmasked frame: 16-bit length.
        let (h, n) = FrameHeader::parse(&[0x82, 0x7E, 0x01, 0x00])
            .unwrap()
            .unwrap();
        assert_eq!((h.payload_len, n), (256, 4));
    }

    #[test]
    fn display_names_each_field_and_the_wire_size() {
        let (masked, n) = FrameHeader::parse(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d])
            .unwrap()
            .unwrap();
        assert_eq!((masked.encoded_len(), n), (6, 6));
        assert_eq!(masked.to_string(), "FIN - - - Text MASK=37fa213d len=5");
        assert_eq!(
            format!("{masked:#}"),
            "FIN - - - Text MASK=37fa213d len=5 (7-bit length), 11 bytes on the wire"
        );
        let mut bytes = vec![0x42, 0x7F];
        bytes.extend(65_536u64.to_be_bytes());
        let (big, n) = FrameHeader::parse(&bytes).unwrap().unwrap();
        assert_eq!((big.encoded_len(), n), (10, 10));
        assert_eq!(
            format!("{big:#}"),
            "- RSV1 - - Binary len=65536 (64-bit length (127 + 8 bytes)), 65546 bytes on the wire"
        );
        let (ping, _) = FrameHeader::parse(&[0x89, 0x00]).unwrap().unwrap();
        assert_eq!(
            format!("{ping:#}"),
            "FIN - - - Ping len=0 (7-bit length), 2 bytes on the wire"
        );
        let header = |len| FrameHeader {
            payload_len: len,
            ..big
        };
        for (len, size) in [(125, 2), (126, 4), (0xFFFF, 4), (0x1_0000, 10)] {
            let mut out = Vec::new();
            header(len).encode(&mut out);
            assert_eq!(
                (header(len).encoded_len(), out.len()),
                (size, size),
                "len {len}"
            );
        }
    }

    // req: ws/5.2/opcode ws/5.2/length-msb ws/5.2/minimal-length ws/5.5/control-125
    // req: ws/5.4/control-unfragmented
    // ANCHOR: test_rejects
    #[test]
    fn rejects_what_no_frame_may_be() {
        let err = |b: &[u8]| FrameHeader::parse(b).unwrap_err().close_code();
        assert_eq!(err(&[0x83, 0x00]), Some(1002)); // reserved opcode
        assert_eq!(err(&[0x89, 0x7E]), Some(1002)); // ping with a 16-bit length
        assert_eq!(err(&[0x09, 0x00]), Some(1002)); // fragmented ping
        assert_eq!(err(&[0x82, 0x7E, 0x00, 0x05]), Some(1002)); // 5 in 16 bits
        let mut top = vec![0x82, 0x7F, 0x80];
        top.extend([0; 7]);
        assert_eq!(err(&top), Some(1002));
    }
    // ANCHOR_END: test_rejects
}
