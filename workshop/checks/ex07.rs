//! Check of exercise 7, answering a Close: `scripts/workshop check 7`, with the close codes of
//! the Autobahn|Testsuite's section 7.

use wirelab_workshop::ex07_close::{Answer, answer_close};

fn payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

#[test]
fn empty_and_too_short() {
    assert_eq!(answer_close(&[]), Answer::Reply(Vec::new()));
    assert_eq!(answer_close(&[0x03]), Answer::Fail(1002));
}

#[test]
fn codes_that_may_be_sent_are_echoed() {
    for code in [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000,
        4999,
    ] {
        assert_eq!(
            answer_close(&payload(code, b"bye")),
            Answer::Reply(code.to_be_bytes().to_vec()),
            "{code}"
        );
    }
}

#[test]
fn codes_that_may_not_be_sent_fail_with_1002() {
    for code in [
        0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        assert_eq!(
            answer_close(&payload(code, b"")),
            Answer::Fail(1002),
            "{code}"
        );
    }
}

#[test]
fn a_reason_that_is_not_utf8_fails_with_1007() {
    assert_eq!(answer_close(&payload(1000, &[0xff])), Answer::Fail(1007));
    assert_eq!(
        answer_close(&payload(1000, &[0xce, 0xba, 0xe1])),
        Answer::Fail(1007)
    );
    assert_eq!(
        answer_close(&payload(1000, "κόσμε".as_bytes())),
        Answer::Reply(1000u16.to_be_bytes().to_vec())
    );
}
