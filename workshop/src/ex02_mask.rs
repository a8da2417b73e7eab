//! Exercise 2: masking (RFC 6455 §5.3), about 15 minutes, then 15 more to make it fast.
//!
//! Every frame a client sends is masked: byte `i` of the payload is XORed with byte `i % 4`
//! of the frame's 4-byte masking key. A payload may arrive in pieces, so the function takes the
//! offset of `buf` within the payload: the key's position continues where the last piece
//! stopped. Masking twice with the same key restores the bytes, so one function masks and
//! unmasks.
//!
//! First make it right, a byte at a time. Then make it fast: XOR eight bytes at a time with the
//! key repeated in a `u64` (rotated to the offset), and the ends byte by byte. The check runs
//! every length from 0 to 100 at every offset, so both versions are held to the same rule.
//!
//! Check: `scripts/workshop check 2`.

#[cfg(not(feature = "solutions"))]
pub use start::apply_mask;

#[cfg(feature = "solutions")]
pub use solution::apply_mask;

#[cfg(not(feature = "solutions"))]
mod start {
    // The parameters are unused until the body is written.
    #![allow(unused_variables)]

    /// Masks (or unmasks) `buf` in place, `buf` starting `offset` bytes into the payload.
    pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
        panic!("exercise 2 is not written yet: see `scripts/workshop hint 2`")
    }
}

#[cfg(feature = "solutions")]
mod solution {
    /// Masks (or unmasks) `buf` in place: WireLab's own, a word at a time.
    pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
        websocket::mask::apply_mask(buf, key, offset);
    }
}
