//! How the tap prints bytes: quoted as text, in hex, or as a hex dump, cut to what fits a line.

use std::fmt::Write as _;

use super::SHOWN_PAYLOAD;

/// The first [`SHOWN_PAYLOAD`] bytes of a body or payload, and how many bytes there were in
/// all: a long payload is counted, never held.
#[derive(Debug, Default)]
pub(super) struct Sample {
    kept: Vec<u8>,
    total: u64,
}

impl Sample {
    /// Counts `bytes`, keeping them while there is room.
    pub(super) fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = SHOWN_PAYLOAD.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// The bytes kept, at most [`SHOWN_PAYLOAD`].
    pub(super) fn kept(&self) -> &[u8] {
        &self.kept
    }

    /// How many bytes were pushed in all.
    pub(super) fn total(&self) -> u64 {
        self.total
    }
}

/// The shown bytes as a quoted string, with how many more there were.
pub(super) fn quote(shown: &[u8], total: u64) -> String {
    let mut text = format!("{:?}", String::from_utf8_lossy(shown));
    more(&mut text, shown, total);
    text
}

/// The shown bytes in hex, with how many more there were.
pub(super) fn hex_payload(shown: &[u8], total: u64) -> String {
    let mut text = hex(shown);
    more(&mut text, shown, total);
    text
}

fn more(text: &mut String, shown: &[u8], total: u64) {
    if total > shown.len() as u64 {
        let _ = write!(text, " ... ({} more bytes)", total - shown.len() as u64);
    }
}

/// Two hex digits a byte, nothing between them.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// 16 bytes a line: offset, hex, and the printable ASCII.
pub(super) fn hex_dump(bytes: &[u8], lines: &mut Vec<String>) {
    lines.push(format!("read {} bytes:", bytes.len()));
    for (row, chunk) in bytes.chunks(16).enumerate() {
        let mut line = format!("  {:08x}  ", row * 16);
        for b in chunk {
            let _ = write!(line, "{b:02x} ");
        }
        for _ in chunk.len()..16 {
            line.push_str("   ");
        }
        line.push(' ');
        line.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        lines.push(line);
    }
}
