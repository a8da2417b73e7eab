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
//! A byte-at-a-time loop is simple but slow. Since the key repeats every 4 bytes, a 16-byte
//! chunk can be XORed with the key repeated four times, as one `u128`. `chunks_exact_mut(16)`
//! gives fixed-size chunks with no bounds checks in the loop body, and `u128::from_ne_bytes`
//! compiles to a plain load: the compiler turns the loop into SIMD instructions. Alignment does
//! not matter for correctness, only for speed, and unaligned loads are cheap on current CPUs.
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
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // Rotate the key so that its first byte applies to buf[0].
    let mut k = key;
    k.rotate_left(offset % 4);
    let mut repeated = [0u8; 16];
    for (slot, byte) in repeated.iter_mut().zip(k.iter().cycle()) {
        *slot = *byte;
    }
    let wide = u128::from_ne_bytes(repeated);
    let mut chunks = buf.chunks_exact_mut(16);
    for chunk in &mut chunks {
        // A chunk of exactly 16 bytes: the conversion cannot fail, and the compiler knows it.
        let mut word = [0u8; 16];
        word.copy_from_slice(chunk);
        let masked = u128::from_ne_bytes(word) ^ wide;
        chunk.copy_from_slice(&masked.to_ne_bytes());
    }
    // Every chunk was a multiple of 4 bytes long, so the tail starts at key byte 0 again:
    // up to three 4-byte words, then up to three bytes. (Small frames are common; a byte loop
    // here would make a 15-byte payload slower than a 16-byte one.)
    let narrow = u32::from_ne_bytes(k);
    let mut words = chunks.into_remainder().chunks_exact_mut(4);
    for word in &mut words {
        let masked = u32::from_ne_bytes([word[0], word[1], word[2], word[3]]) ^ narrow;
        word.copy_from_slice(&masked.to_ne_bytes());
    }
    for (byte, k) in words.into_remainder().iter_mut().zip(k) {
        *byte ^= k;
    }
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
