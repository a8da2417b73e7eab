//! Exercise 3: parsing a frame header (RFC 6455 §5.2), about 25 minutes.
//!
//! A header is 2 to 14 bytes: FIN, three reserved bits and a 4-bit opcode; the MASK bit and a
//! 7-bit length, which is the length itself (0 to 125), or 126 (a 16-bit length follows) or 127
//! (a 64-bit one follows); then the 4-byte masking key if MASK is set. Return `Ok(None)` while
//! `buf` holds only part of a header: bytes arrive in pieces, and the check feeds you every
//! prefix. Refuse what no frame may be:
//!
//! - an opcode that is not 0, 1, 2, 8, 9 or 10 ([`HeaderError::ReservedOpcode`]);
//! - a control frame (opcode 8 and up) with a length over 125 or without FIN
//!   ([`HeaderError::BadControlFrame`]);
//! - a length not written in its shortest form, or a 64-bit length with its top bit set
//!   ([`HeaderError::BadLength`]).
//!
//! Check: `scripts/workshop check 3`.

/// A parsed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The FIN bit.
    pub fin: bool,
    /// RSV1, RSV2 and RSV3, as the three low bits (RSV1 is 0b100).
    pub rsv: u8,
    /// The opcode.
    pub opcode: u8,
    /// The masking key, when MASK is set.
    pub mask: Option<[u8; 4]>,
    /// The payload's length.
    pub payload_len: u64,
}

/// Why a header is refused (each is close code 1002).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// An opcode RFC 6455 does not define.
    ReservedOpcode(u8),
    /// A control frame longer than 125 bytes, or fragmented.
    BadControlFrame,
    /// A length not in its shortest form, or with the 64-bit form's top bit set.
    BadLength,
}

#[cfg(not(feature = "solutions"))]
pub use start::parse_header;

#[cfg(feature = "solutions")]
pub use solution::parse_header;

#[cfg(not(feature = "solutions"))]
mod start {
    // The parameters are unused until the body is written.
    #![allow(unused_variables)]

    use super::{Header, HeaderError};

    /// The header at the start of `buf` and its length in bytes, or `None` if `buf` holds
    /// only part of it.
    pub fn parse_header(buf: &[u8]) -> Result<Option<(Header, usize)>, HeaderError> {
        panic!("exercise 3 is not written yet: see `scripts/workshop hint 3`")
    }
}

#[cfg(feature = "solutions")]
mod solution {
    use super::{Header, HeaderError};
    use websocket::Error;
    use websocket::frame::FrameHeader;

    /// The header at the start of `buf`: WireLab's `FrameHeader::parse`, in this exercise's
    /// types.
    pub fn parse_header(buf: &[u8]) -> Result<Option<(Header, usize)>, HeaderError> {
        let parsed = FrameHeader::parse(buf).map_err(|e| match e {
            Error::ReservedOpcode(op) => HeaderError::ReservedOpcode(op),
            Error::ControlFrameTooLong | Error::FragmentedControlFrame => {
                HeaderError::BadControlFrame
            }
            _ => HeaderError::BadLength,
        })?;
        Ok(parsed.map(|(h, len)| {
            let rsv = (u8::from(h.rsv1) << 2) | (u8::from(h.rsv2) << 1) | u8::from(h.rsv3);
            let header = Header {
                fin: h.fin,
                rsv,
                opcode: h.opcode.as_u8(),
                mask: h.mask,
                payload_len: h.payload_len,
            };
            (header, len)
        }))
    }
}
