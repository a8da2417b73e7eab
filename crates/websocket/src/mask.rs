//! Masking: the XOR that every client-to-server payload goes through (RFC 6455 §5.3).
//!
//! A client picks a fresh 32-bit masking key for every frame and XORs payload byte `i` with key
//! byte `i % 4`. Masking is not encryption: the key travels in the frame header. It exists so
//! that a hostile page cannot make a browser emit bytes that a confused intermediary (a
//! transparent proxy that does not speak WebSocket) would read as an HTTP request it should
//! cache: the attacker cannot predict the bytes on the wire (RFC 6455 §10.3).
//!
//! XOR with the same key twice gives the input back, so one function masks and unmasks.
//!
//! # Speed without `unsafe`
//!
//! A byte-at-a-time loop is simple but slow. Since the key repeats every 4 bytes, 64 bytes can
//! be XORed with the key repeated sixteen times, in a loop of fixed length over plain bytes,
//! which the compiler turns into SIMD instructions: no `unsafe`, no intrinsics. Three details
//! make it as fast as the fastest Rust implementations (measured in `bench/`, see the book's
//! performance chapter): on large buffers the bytes before the first 16-byte boundary are
//! done one at a time, so that the wide accesses are aligned; the key is rotated as a `u32`,
//! not with a slice rotation; and the function is `#[inline]`, because most frames are small
//! and a call costs as much as masking 16 bytes. What is left after the 64-byte blocks goes
//! as 4-byte words, then single bytes.
//!
//! # Offsets
//!
//! Payloads arrive in pieces. A piece that starts at payload offset `offset` must use the key
//! rotated by `offset % 4`; [`apply_mask`] takes that offset so the caller never rotates by hand.

/// XORs `buf` with the masking `key`, as if `buf` started at byte `offset` of the payload.
///
/// Masking twice with the same key and offset restores the input.
///
/// ```
/// use websocket::mask::apply_mask;
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// // RFC 6455 §5.7: a masked "Hello".
/// let mut data = *b"Hello";
/// apply_mask(&mut data, key, 0);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// // The same bytes unmasked in two pieces: the second piece starts at offset 2.
/// let (a, b) = data.split_at_mut(2);
/// apply_mask(a, key, 0);
/// apply_mask(b, key, 2);
/// assert_eq!(&data, b"Hello");
/// ```
// ANCHOR: apply_mask
// Inlined across crates: masking runs once per frame, and most frames are small; for a
// 16-byte payload an out-of-line call costs about as much as the masking itself.
// req: ws/6.2/unmask ws/5.1/client-masks
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // The key as seen from buf[0].
    let mut k = rotate(key, offset);
    let mut rest = buf;
    if rest.len() >= 64 {
        // Bytes before the first 16-byte boundary go one at a time, so that every wide access
        // below is aligned: an unaligned 16-byte access that straddles a cache line touches
        // two lines. So an odd start costs its few head bytes, not a slower pass over the
        // whole buffer (the `unaligned` rows of `bench/benches/mask.rs`).
        let head_len = rest.as_ptr().align_offset(16).min(rest.len());
        let (head, body) = rest.split_at_mut(head_len);
        for (byte, k) in head.iter_mut().zip(k.iter().cycle()) {
            *byte ^= k;
        }
        k = rotate(k, head_len);
        // Then 64 bytes at a time against the key repeated 16 times. A loop of fixed length
        // over plain bytes is what the compiler turns into SIMD instructions (four 16-byte
        // XORs per block with SSE2), with no `unsafe` and no intrinsics.
        let wide = [k; 16];
        let wide = wide.as_flattened();
        let mut blocks = body.chunks_exact_mut(64);
        for block in &mut blocks {
            for (byte, k) in block.iter_mut().zip(wide) {
                *byte ^= k;
            }
        }
        rest = blocks.into_remainder();
    }
    // Every block was a multiple of 4 bytes long, so what is left starts at key byte 0 again:
    // 4-byte words, then up to three bytes. (Small frames are common; a byte loop here would
    // make a 15-byte payload much slower than a 16-byte one.)
    let narrow = u32::from_ne_bytes(k);
    let mut words = rest.chunks_exact_mut(4);
    for word in &mut words {
        let masked = u32::from_ne_bytes([word[0], word[1], word[2], word[3]]) ^ narrow;
        word.copy_from_slice(&masked.to_ne_bytes());
    }
    for (byte, k) in words.into_remainder().iter_mut().zip(k) {
        *byte ^= k;
    }
}

/// The key as seen from payload byte `offset`: `key` rotated left by `offset % 4` bytes.
fn rotate(key: [u8; 4], offset: usize) -> [u8; 4] {
    // A u32 rotation rather than `<[u8]>::rotate_left`, which is a call into a general slice
    // routine. Little-endian: byte 0 is the low byte, so moving bytes toward index 0 is a
    // right rotation.
    u32::from_le_bytes(key)
        .rotate_right(8 * (offset % 4) as u32)
        .to_le_bytes()
}
// ANCHOR_END: apply_mask

/// The textbook version, one byte at a time: the reference that [`apply_mask`] is tested and
/// benchmarked against.
// ANCHOR: apply_mask_bytewise
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}
// ANCHOR_END: apply_mask_bytewise

#[cfg(test)]
mod tests {
    use super::*;

    // req: ws/6.2/unmask
    // ANCHOR: test_mask
    #[test]
    fn matches_bytewise_for_every_length_and_offset() {
        let key = [0x12, 0x34, 0x56, 0x78];
        let input: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
        for start in 0..8 {
            for len in 0..(input.len() - start) {
                for offset in 0..5 {
                    let mut fast = input[start..start + len].to_vec();
                    let mut slow = fast.clone();
                    apply_mask(&mut fast, key, offset);
                    apply_mask_bytewise(&mut slow, key, offset);
                    assert_eq!(fast, slow, "start {start} len {len} offset {offset}");
                }
            }
        }
    }
    // ANCHOR_END: test_mask
}
