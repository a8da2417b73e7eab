//! WebSocket frames in one direction, each described once its payload has passed.
//!
//! The `websocket` crate reads and describes the header: [`FrameHeader::parse`] says where a
//! frame's header ends (or that it is one no endpoint may accept), and `FrameHeader`'s
//! alternate `Display` is the frame's description line. The tap adds what only a tap shows:
//! the payload as it was on the wire and as it was meant.

use websocket::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use websocket::mask::apply_mask;

use super::show::{Sample, hex, hex_payload, quote};

/// The frames of one direction, taken in pieces as they arrive.
#[derive(Debug)]
pub(super) enum Frames {
    /// Collecting a header until [`FrameHeader::parse`] succeeds: at most
    /// [`MAX_HEADER_LEN`] bytes.
    Header(Vec<u8>),
    /// Counting a frame's payload, and keeping its first bytes.
    Payload {
        header: FrameHeader,
        left: u64,
        payload: Sample,
    },
    /// A header the crate refuses: the rest of the direction is not annotated.
    Broken,
}

impl Frames {
    /// The first frame's header comes next.
    pub(super) fn new() -> Self {
        Frames::Header(Vec::new())
    }

    // ANCHOR: frames_feed
    /// Takes the next bytes of this direction and describes each frame they complete.
    pub(super) fn feed(&mut self, input: &[u8], lines: &mut Vec<String>) {
        let mut used = 0;
        while used < input.len() {
            match self {
                Frames::Header(held) => {
                    // FrameHeader::parse is stateless and looks at no more than 14 bytes:
                    // offer it what has arrived, up to that.
                    let before = held.len();
                    let take = (MAX_HEADER_LEN - before).min(input.len() - used);
                    held.extend_from_slice(&input[used..used + take]);
                    match FrameHeader::parse(held) {
                        Ok(None) => used += take,
                        Ok(Some((header, header_len))) => {
                            used += header_len - before;
                            *self = Frames::Payload {
                                header,
                                left: header.payload_len,
                                payload: Sample::default(),
                            };
                        }
                        Err(e) => {
                            lines.push(format!("invalid frame header {}: {e}", hex(held)));
                            *self = Frames::Broken;
                            return;
                        }
                    }
                }
                Frames::Payload { left, payload, .. } => {
                    let take =
                        (input.len() - used).min(usize::try_from(*left).unwrap_or(usize::MAX));
                    payload.push(&input[used..used + take]);
                    *left -= take as u64;
                    used += take;
                }
                Frames::Broken => {
                    lines.push(format!(
                        "{} bytes after an invalid frame (not annotated)",
                        input.len() - used
                    ));
                    return;
                }
            }
            // A frame is complete when its payload is (at once, for an empty one).
            if let Frames::Payload {
                header,
                left: 0,
                payload,
            } = self
            {
                describe(header, payload.kept(), lines);
                *self = Frames::new();
            }
        }
    }
    // ANCHOR_END: frames_feed
}

// ANCHOR: describe_frame
/// A frame: its header in the `websocket` crate's words, then its payload, unmasked.
fn describe(header: &FrameHeader, kept: &[u8], lines: &mut Vec<String>) {
    lines.push(format!("frame {header:#}"));
    let len = header.payload_len;
    if len == 0 {
        return;
    }
    let mut unmasked = kept.to_vec();
    if let Some(key) = header.mask {
        lines.push(format!("  masked:   {}", hex_payload(kept, len)));
        apply_mask(&mut unmasked, key, 0);
    }
    match header.opcode {
        // RFC 6455 §5.5.1: a Close body starts with a 2-byte status code, then a UTF-8 reason.
        OpCode::Close if unmasked.len() >= 2 => {
            let code = u16::from_be_bytes([unmasked[0], unmasked[1]]);
            let reason = quote(&unmasked[2..], len - 2);
            lines.push(format!("  close code {code}, reason {reason}"));
        }
        OpCode::Binary => lines.push(format!("  payload:  {}", hex_payload(&unmasked, len))),
        _ => lines.push(format!("  payload:  {}", quote(&unmasked, len))),
    }
}
// ANCHOR_END: describe_frame

#[cfg(test)]
mod tests {
    use crate::tap::{Annotator, Direction, TapOptions};

    // ANCHOR: test_frames_after_101
    #[test]
    fn websocket_frames_after_101() {
        let mut tap = Annotator::new(TapOptions::default());
        tap.feed(
            Direction::ToServer,
            b"GET / HTTP/1.1\r\nupgrade: websocket\r\n\r\n",
        );
        let lines = tap.feed(
            Direction::ToClient,
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x02hi",
        );
        assert_eq!(
            lines[2],
            "(switching protocols: WebSocket frames follow, both ways)"
        );
        assert_eq!(
            lines[3],
            "frame FIN - - - Text len=2 (7-bit length), 4 bytes on the wire"
        );
        assert_eq!(lines[4], "  payload:  \"hi\"");
        // RFC 6455 §5.7: a masked "Hello", split inside its masking key.
        let lines: Vec<String> = [&b"\x81\x85\x37\xfa"[..], b"\x21\x3d\x7f\x9f\x4d\x51\x58"]
            .iter()
            .flat_map(|piece| tap.feed(Direction::ToServer, piece))
            .collect();
        assert_eq!(
            lines,
            [
                "frame FIN - - - Text MASK=37fa213d len=5 (7-bit length), 11 bytes on the wire",
                "  masked:   7f9f4d5158",
                "  payload:  \"Hello\"",
            ]
        );
        // A 16-bit length, and a Close with a code and a reason.
        let mut big = vec![0x82, 126, 0x01, 0x00];
        big.extend(std::iter::repeat_n(0xAB, 256));
        let lines = tap.feed(Direction::ToClient, &big);
        assert_eq!(
            lines[0],
            "frame FIN - - - Binary len=256 (16-bit length (126 + 2 bytes)), 260 bytes on the wire"
        );
        assert!(lines[1].ends_with("... (192 more bytes)"), "{lines:?}");
        let lines = tap.feed(Direction::ToClient, b"\x88\x04\x03\xe8ok");
        assert_eq!(lines[1], "  close code 1000, reason \"ok\"");
    }
    // ANCHOR_END: test_frames_after_101

    #[test]
    fn fragments_and_empty_frames_split_anywhere() {
        // A text message in two fragments with a Ping between them, then an empty Pong.
        let bytes = b"\x01\x03abc\x89\x00\x80\x02de\x8a\x00";
        let expected = [
            "frame - - - - Text len=3 (7-bit length), 5 bytes on the wire",
            "  payload:  \"abc\"",
            "frame FIN - - - Ping len=0 (7-bit length), 2 bytes on the wire",
            "frame FIN - - - Continuation len=2 (7-bit length), 4 bytes on the wire",
            "  payload:  \"de\"",
            "frame FIN - - - Pong len=0 (7-bit length), 2 bytes on the wire",
        ];
        for size in [1, 2, 3, usize::MAX] {
            let mut tap = Annotator::new(TapOptions::default());
            tap.feed(
                Direction::ToClient,
                b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
            );
            let lines: Vec<String> = bytes
                .chunks(size)
                .flat_map(|read| tap.feed(Direction::ToClient, read))
                .collect();
            assert_eq!(lines, expected, "reads of {size} bytes");
        }
    }

    #[test]
    fn invalid_frame_stops_annotation_but_not_forwarding() {
        let mut tap = Annotator::new(TapOptions::default());
        tap.feed(
            Direction::ToClient,
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        );
        let lines = tap.feed(Direction::ToServer, b"\x83\x00rest");
        assert!(
            lines[0].starts_with("invalid frame header 8300"),
            "{lines:?}"
        );
        assert_eq!(
            tap.feed(Direction::ToServer, b"more"),
            ["4 bytes after an invalid frame (not annotated)"]
        );
    }
}
