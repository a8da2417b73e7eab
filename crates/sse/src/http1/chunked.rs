//! The chunked transfer coding (RFC 9112 §7.1), the body framing of an event stream.

use std::io::Write as _;

/// The last chunk, with no trailer fields: the body's end (RFC 9112 §7.1).
pub(super) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

// ANCHOR: push_chunk
/// Appends `data` as one chunk (RFC 9112 §7.1: `chunk-size CRLF chunk-data CRLF`, the size in
/// hexadecimal). Empty data is skipped: a chunk of size zero is the last chunk.
pub(super) fn push_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.reserve(data.len() + 12);
    let _ = write!(out, "{:x}\r\n", data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}
// ANCHOR_END: push_chunk

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_is_size_crlf_data_crlf_and_empty_data_is_no_chunk() {
        let mut out = Vec::new();
        push_chunk(&mut out, b"data: hi\n\n");
        push_chunk(&mut out, b"");
        push_chunk(&mut out, &[b'x'; 300]);
        let mut expected = b"a\r\ndata: hi\n\n\r\n12c\r\n".to_vec();
        expected.extend_from_slice(&[b'x'; 300]);
        expected.extend_from_slice(b"\r\n");
        assert_eq!(out, expected);
    }
}
