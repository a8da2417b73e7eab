//! Incremental UTF-8 validation: fail at the first invalid byte, even mid-frame.
//!
//! RFC 6455 §5.6 says a text message carries UTF-8, and §8.1 says that an endpoint that finds
//! invalid UTF-8 MUST _Fail the WebSocket Connection_ (close code 1007). A text message may be
//! split into fragments, and each fragment may arrive from the socket in many reads; a
//! multi-byte character can be cut anywhere. Waiting for the whole message before validating
//! would be simple, but it lets a peer make us buffer megabytes of garbage, and it is what
//! Autobahn cases 6.4.1 to 6.4.4 mark NON-STRICT: they send a frame whose first part is already
//! invalid and check that the connection fails before the rest arrives.
//!
//! [`Utf8Validator`] keeps at most 3 bytes of an unfinished character between pieces. The
//! standard library's `std::str::from_utf8` does the real work: its error tells apart "invalid
//! here" (`error_len() == Some(_)`) from "valid so far, but the input ends inside a character"
//! (`error_len() == None`). It also rejects a truncated sequence as soon as its next byte cannot
//! continue it: `F4 90` fails at once, since no code point above U+10FFFF exists.

use std::str;

/// The bytes received were not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

/// Validates UTF-8 that arrives in pieces. See the [module documentation](self).
// ANCHOR: utf8_state
#[derive(Debug, Default, Clone)]
pub struct Utf8Validator {
    /// The start of a character cut by the end of the previous piece (0 to 3 bytes).
    partial: [u8; 4],
    partial_len: usize,
}
// ANCHOR_END: utf8_state

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    // req: ws/5.6/utf8
    /// Checks the next piece. Fails as soon as the bytes seen so far cannot start valid UTF-8.
    // ANCHOR: utf8_feed
    pub fn feed(&mut self, mut piece: &[u8]) -> Result<(), InvalidUtf8> {
        // First finish the character left over from the previous piece, one byte at a time
        // (at most 3 bytes, so this loop is short).
        while self.partial_len > 0 {
            let Some((&byte, rest)) = piece.split_first() else {
                return Ok(());
            };
            self.partial[self.partial_len] = byte;
            self.partial_len += 1;
            piece = rest;
            match str::from_utf8(&self.partial[..self.partial_len]) {
                Ok(_) => self.partial_len = 0,
                Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                Err(_) => {} // still incomplete: take another byte
            }
        }
        match str::from_utf8(piece) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(e) => {
                // Valid up to a character cut by the end of the piece: keep its start.
                let tail = &piece[e.valid_up_to()..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len();
                Ok(())
            }
        }
    }
    // ANCHOR_END: utf8_feed

    /// Ends the message: fails if it stops in the middle of a character.
    // ANCHOR: utf8_finish
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.partial_len == 0;
        self.partial_len = 0;
        if complete { Ok(()) } else { Err(InvalidUtf8) }
    }
    // ANCHOR_END: utf8_finish
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate_split(bytes: &[u8], at: usize) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::new();
        v.feed(&bytes[..at])?;
        v.feed(&bytes[at..])?;
        v.finish()
    }

    // req: ws/5.6/utf8
    #[test]
    fn agrees_with_std_for_every_split() {
        let samples: &[&[u8]] = &[
            "κόσμε".as_bytes(),
            "a€𝄞z".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x90\x80\x80",
            b"\xf0\x9d\x84",
            b"\xc0\xaf",
            b"\xff",
        ];
        for bytes in samples {
            for at in 0..=bytes.len() {
                assert_eq!(
                    validate_split(bytes, at).is_ok(),
                    str::from_utf8(bytes).is_ok(),
                    "{bytes:x?} split at {at}"
                );
            }
        }
    }

    // ANCHOR: test_utf8_fast
    #[test]
    fn fails_before_the_rest_arrives() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"\xce\xba\xf4"), Ok(()));
        assert_eq!(v.feed(b"\x90"), Err(InvalidUtf8));
    }
    // ANCHOR_END: test_utf8_fast
}
