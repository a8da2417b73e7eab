//! Check of exercise 2, masking: `scripts/workshop check 2`.

use wirelab_workshop::ex02_mask::apply_mask;

/// The rule itself, a byte at a time: what every faster version must agree with.
fn by_definition(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(offset + i) % 4];
    }
}

#[test]
fn the_example_of_rfc_6455() {
    // RFC 6455 §5.7: "Hello" masked with the key 37 fa 21 3d.
    let mut hello = *b"Hello";
    apply_mask(&mut hello, [0x37, 0xfa, 0x21, 0x3d], 0);
    assert_eq!(hello, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
}

#[test]
fn every_length_at_every_offset() {
    let key = [0x12, 0x34, 0x56, 0x78];
    for len in 0..100 {
        for offset in 0..8 {
            let original: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut expected = original.clone();
            by_definition(&mut expected, key, offset);
            let mut yours = original.clone();
            apply_mask(&mut yours, key, offset);
            assert_eq!(yours, expected, "length {len}, offset {offset}");
            apply_mask(&mut yours, key, offset);
            assert_eq!(yours, original, "masking twice restores, length {len}");
        }
    }
}

#[test]
fn a_payload_masked_in_pieces_is_masked_as_a_whole() {
    let key = [0xa1, 0xb2, 0xc3, 0xd4];
    let payload: Vec<u8> = (0..50u8).collect();
    let mut whole = payload.clone();
    by_definition(&mut whole, key, 0);
    for cut in 0..payload.len() {
        let mut pieces = payload.clone();
        let (first, second) = pieces.split_at_mut(cut);
        apply_mask(first, key, 0);
        apply_mask(second, key, cut);
        assert_eq!(pieces, whole, "cut at {cut}");
    }
}
