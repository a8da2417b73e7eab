//! Exercise 7: answering a Close (RFC 6455 §5.5.1, §7.4), about 20 minutes.
//!
//! A Close frame's payload is empty, or a two-byte status code (big-endian) followed by a
//! UTF-8 reason. Given the payload of a Close that arrived (we had not sent one), decide:
//!
//! - an empty payload is answered with an empty Close;
//! - a one-byte payload fails the connection with 1002;
//! - a code that may not be sent fails it with 1002. Valid are 1000 to 1003, 1007 to 1014
//!   (1012 to 1014 were registered with IANA after the RFC) and 3000 to 4999; 1004 is reserved,
//!   1005, 1006 and 1015 are for reporting only, everything else is unassigned;
//! - a reason that is not UTF-8 fails it with 1007;
//! - otherwise the answer echoes the code, with no reason.
//!
//! Check: `scripts/workshop check 7`, with the close codes the Autobahn|Testsuite sends.

/// What to do with a Close that arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Send a Close with this payload, then close.
    Reply(Vec<u8>),
    /// Fail the connection with this close code.
    Fail(u16),
}

#[cfg(not(feature = "solutions"))]
pub use start::answer_close;

#[cfg(feature = "solutions")]
pub use solution::answer_close;

#[cfg(not(feature = "solutions"))]
mod start {
    // The parameters are unused until the body is written.
    #![allow(unused_variables)]

    use super::Answer;

    /// The answer to a Close whose payload is `payload`.
    pub fn answer_close(payload: &[u8]) -> Answer {
        panic!("exercise 7 is not written yet: see `scripts/workshop hint 7`")
    }
}

#[cfg(feature = "solutions")]
mod solution {
    use super::Answer;
    use websocket::Limits;
    use websocket::connection::{Connection, Message, Role};
    use websocket::frame::{Frame, OpCode};

    /// The answer to a Close: what WireLab's server `Connection` does with it.
    pub fn answer_close(payload: &[u8]) -> Answer {
        let mut conn = Connection::new(Role::Server, Limits::default());
        let mut frame = Vec::new();
        Frame::new(OpCode::Close, payload.to_vec())
            .masked([1, 2, 3, 4])
            .encode(&mut frame);
        conn.receive(&frame);
        match conn.next_event() {
            Ok(Some(Message::Close(_))) => {
                let out = conn.take_output();
                let (reply, _) = Frame::decode(&out)
                    .ok()
                    .flatten()
                    .expect("the connection queued its Close");
                Answer::Reply(reply.payload)
            }
            Err(error) => Answer::Fail(error.close_code().unwrap_or(1002)),
            Ok(other) => unreachable!("a Close gives a Close, not {other:?}"),
        }
    }
}
