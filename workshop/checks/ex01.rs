//! Check of exercise 1, `Sec-WebSocket-Accept`: `scripts/workshop check 1`.

use wirelab_workshop::ex01_accept_key::accept_key;

#[test]
fn the_example_of_rfc_6455() {
    // RFC 6455 §1.3: the key of the example handshake, and the accept it gets.
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn the_key_is_hashed_as_received() {
    // Two spellings a base64 decoder may read alike are two different keys: the text is
    // hashed, not the bytes it stands for.
    assert_ne!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        accept_key("dGhlIHNhbXBsZSBub25jZR==")
    );
}

#[test]
fn more_keys_agree_with_wirelab() {
    for key in [
        "AAAAAAAAAAAAAAAAAAAAAA==",
        "/////////////////////w==",
        "x3JJHMbDL1EzLkh9GBhXDw==",
        "E4WSEcseoWr4csPLS2QJHA==",
    ] {
        assert_eq!(
            accept_key(key),
            websocket::handshake::accept_key(key.as_bytes()),
            "{key}"
        );
    }
}
