//! Messages, and the one being reassembled from its fragments (RFC 6455 §5.4, §5.6, §8.1).
//!
//! A data message arrives as one frame or as a Text or Binary frame followed by Continuation
//! frames, the last with FIN set. [`IncompleteMessage`] holds what has arrived so far and keeps
//! three rules while it grows: the message stays within `Limits::max_message_size` (1009), a
//! Text message is valid UTF-8 from its first byte on (1007, as soon as a byte goes bad, not
//! after the last fragment), and the buffer grows with what arrives, not with what a header
//! announces, and never past the limit. The connection feeds it payload pieces as they are
//! unmasked and asks it for the [`Message`] at FIN; it is also the one place a message-level
//! extension (RFC 7692's permessage-deflate inflates whole messages) stands between the frames
//! and the application.

use crate::connection::CloseFrame;
use crate::error::Error;
use crate::frame::OpCode;
use crate::utf8::Utf8Validator;

/// A message received or to send.
// ANCHOR: message
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A whole text message, validated UTF-8.
    Text(String),
    /// A whole binary message.
    Binary(Vec<u8>),
    /// A Ping. When received, the Pong is already queued.
    Ping(Vec<u8>),
    /// A Pong.
    Pong(Vec<u8>),
    /// A Close, with its code and reason if it had any. When received, our reply is queued.
    Close(Option<CloseFrame>),
}
// ANCHOR_END: message

/// A data message whose last fragment has not arrived: its kind, its payload so far, and
/// (for Text) the UTF-8 validator's state between pieces.
// ANCHOR: incomplete_message
#[derive(Debug)]
pub struct IncompleteMessage {
    text: bool,
    payload: Vec<u8>,
    utf8: Utf8Validator,
    /// `Limits::max_message_size`: the buffer never grows past it.
    max_size: usize,
    /// Payload bytes received on the wire: the same as `payload.len()`, unless the message is
    /// compressed (RFC 7692), whose payload holds what they inflated to.
    wire_len: u64,
    /// RSV1 was set on the first frame: a permessage-deflate message.
    compressed: bool,
}
// ANCHOR_END: incomplete_message

// The methods are `#[inline]`: the connection's parse loop calls them for every frame, and
// without the hint rustc may put them in another codegen unit and call them out of line,
// which made decoding small frames through a `Connection` a quarter slower
// (`cargo bench -p wirelab-bench --bench frame -- frame_decode/wirelab_connection`).
impl IncompleteMessage {
    /// A message started by a Text or Binary frame whose header announced `first_len` bytes,
    /// of which `arrived` are already in the input.
    ///
    /// Room is made for what has arrived, not for what the header announces: a peer that sends
    /// a header and nothing more must not make us hold the announced size. The rest grows by
    /// doubling (see [`IncompleteMessage::extend`]).
    // ANCHOR: incomplete_new
    #[inline]
    pub fn new(
        opcode: OpCode,
        first_len: u64,
        arrived: usize,
        max_size: usize,
    ) -> Result<IncompleteMessage, Error> {
        check_size(first_len, max_size)?;
        let reserve = usize::try_from(first_len).map_or(arrived, |len| len.min(arrived));
        Ok(IncompleteMessage {
            text: opcode == OpCode::Text,
            payload: Vec::with_capacity(reserve),
            utf8: Utf8Validator::new(),
            max_size,
            wire_len: 0,
            compressed: false,
        })
    }
    // ANCHOR_END: incomplete_new

    /// Marks the message as compressed (RSV1 on its first frame, RFC 7692 §6): its pieces go
    /// through [`IncompleteMessage::extend_with`], which inflates them.
    #[inline]
    pub fn set_compressed(&mut self) {
        self.compressed = true;
    }

    /// Whether the message is compressed.
    #[inline]
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// Checks, when a Continuation frame's header arrives, that its `len` bytes still fit.
    #[inline]
    pub fn check_continuation(&self, len: u64) -> Result<(), Error> {
        // The bytes on the wire are bounded even when compressed: a stream of empty DEFLATE
        // blocks inflates to nothing, however long it is.
        check_size(self.wire_len + len, self.max_size)
    }

    /// Bytes received so far.
    #[inline]
    pub fn len(&self) -> usize {
        self.payload.len()
    }

    /// Whether nothing has been received yet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    // req: ws/5.6/utf8 ws/8.1/utf8-fail
    /// Appends an unmasked piece of payload. `whole` says that the piece is the entire
    /// message (one frame with FIN, arrived in one read): its UTF-8 is checked once, when it
    /// becomes a `String`, rather than twice.
    // ANCHOR: incomplete_extend
    #[inline]
    pub fn extend(&mut self, piece: &[u8], whole: bool) -> Result<(), Error> {
        if self.text && !whole {
            // §8.1: fail at the first invalid byte, even inside this frame.
            self.utf8.feed(piece).map_err(|_| Error::InvalidUtf8)?;
        }
        // Grow by doubling as `Vec` does, but never past the limit: a message just over half
        // the limit must not cost twice its size. (The header checks have made sure that the
        // piece fits.)
        let needed = self.payload.len() + piece.len();
        if needed > self.payload.capacity() {
            let target = needed
                .max(self.payload.capacity().saturating_mul(2))
                .min(self.max_size.max(needed));
            self.payload.reserve_exact(target - self.payload.len());
        }
        self.payload.extend_from_slice(piece);
        self.wire_len += piece.len() as u64;
        Ok(())
    }
    // ANCHOR_END: incomplete_extend

    /// Appends what `write` adds to the payload: an extension's output for `wire_len` bytes
    /// received (permessage-deflate inflates them). `write` gets the payload and the limit,
    /// and must not let the payload pass the limit; a text message's new bytes are then
    /// checked as UTF-8 (§8.1: from their first bad byte on).
    // ANCHOR: incomplete_extend_with
    pub fn extend_with(
        &mut self,
        wire_len: usize,
        write: impl FnOnce(&mut Vec<u8>, usize) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let start = self.payload.len();
        self.wire_len += wire_len as u64;
        write(&mut self.payload, self.max_size)?;
        if self.text {
            let added = &self.payload[start..];
            self.utf8.feed(added).map_err(|_| Error::InvalidUtf8)?;
        }
        Ok(())
    }
    // ANCHOR_END: incomplete_extend_with

    /// The last fragment has arrived: the message, or `InvalidUtf8` if a text message ends in
    /// the middle of a character.
    // ANCHOR: incomplete_finish
    #[inline]
    pub fn finish(mut self) -> Result<Message, Error> {
        if !self.text {
            return Ok(Message::Binary(self.payload));
        }
        self.utf8.finish().map_err(|_| Error::InvalidUtf8)?;
        // A message that arrived whole was not fed to the validator: this is its check. (For
        // the others it is a second one, which safe Rust cannot skip; it runs at memory speed.)
        let text =
            String::from_utf8(std::mem::take(&mut self.payload)).map_err(|_| Error::InvalidUtf8)?;
        Ok(Message::Text(text))
    }
    // ANCHOR_END: incomplete_finish

    /// The payload's buffer as it stands (tests of the memory rules).
    pub fn capacity(&self) -> usize {
        self.payload.capacity()
    }
}

// req: ws/10.4/limits
/// §10.4 asks for limits; 1009 says "too big" (§7.4.1).
#[inline]
fn check_size(len: u64, max: usize) -> Result<(), Error> {
    if len > max as u64 {
        return Err(Error::MessageTooLarge { len, max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // req: ws/8.1/utf8-fail
    #[test]
    fn text_fails_at_the_first_bad_byte_not_at_the_end() {
        let mut message = IncompleteMessage::new(OpCode::Text, 4, 0, 100).expect("fits");
        message.extend(b"ok", false).expect("valid so far");
        assert!(matches!(
            message.extend(&[0xFF], false),
            Err(Error::InvalidUtf8)
        ));
    }

    #[test]
    fn a_text_message_may_not_end_inside_a_character() {
        let mut message = IncompleteMessage::new(OpCode::Text, 1, 0, 100).expect("fits");
        message.extend(&[0xC3], false).expect("a valid start");
        assert!(matches!(message.finish(), Err(Error::InvalidUtf8)));
    }

    #[test]
    fn a_header_alone_reserves_nothing() {
        // A peer that announces 1 MiB and sends only the header holds no memory for it.
        let message = IncompleteMessage::new(OpCode::Binary, 1 << 20, 0, 16 << 20).expect("fits");
        assert_eq!(message.capacity(), 0);
        // What has arrived is reserved, and no more than the header announced.
        let message = IncompleteMessage::new(OpCode::Binary, 100, 4096, 16 << 20).expect("fits");
        assert_eq!(message.capacity(), 100);
    }

    #[test]
    fn growth_stops_at_the_limit() {
        let mut message = IncompleteMessage::new(OpCode::Binary, 60, 60, 100).expect("fits");
        message.extend(&[1; 60], false).expect("fits");
        message.check_continuation(40).expect("exactly the limit");
        assert!(message.check_continuation(41).is_err());
        message.extend(&[2; 40], false).expect("fits");
        assert_eq!(
            message.capacity(),
            100,
            "not 120: doubling stops at the limit"
        );
        assert_eq!(message.finish().expect("binary"), {
            let mut all = vec![1; 60];
            all.extend([2; 40]);
            Message::Binary(all)
        });
    }
}
