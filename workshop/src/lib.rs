//! WireLab's workshop: the pieces of both protocols to write by hand, one file each.
//!
//! Every exercise is a module here with the bodies to write removed: its functions compile and
//! panic with "not written yet" until you write them. Each has a check, a test in `checks/`
//! that holds your code to the same rules as WireLab's (the conformance suite's vectors and the
//! RFC's examples), and hints in three tiers in `hints/`:
//!
//! ```text
//! scripts/workshop list          the exercises, in order
//! scripts/workshop check 3       runs exercise 3's check against your code
//! scripts/workshop hint 3 [1-3]  a hint, from a nudge (1) to most of the answer (3)
//! scripts/workshop verify        every check fails on the starting code, passes on the solution
//! ```
//!
//! The reference solutions are WireLab's own code: with the `solutions` feature, each
//! exercise's functions call into the `websocket` and `sse` crates instead, and the book shows
//! that code beside each exercise. `cargo test` does not run the checks (they are test targets
//! with `test = false`), so the workspace's tests stay green while the exercises are unsolved.
//!
//! The path goes from the first line of code to a working pair of servers:
//!
//! | # | exercise | spec |
//! |---|---|---|
//! | 1 | [`ex01_accept_key`]: `Sec-WebSocket-Accept` | RFC 6455 §4.2.2 |
//! | 2 | [`ex02_mask`]: masking, then masking fast | RFC 6455 §5.3 |
//! | 3 | [`ex03_frame_header`]: parsing a frame header | RFC 6455 §5.2 |
//! | 4 | [`ex04_lines`]: event-stream lines across chunks | HTML §9.2.5 |
//! | 5 | [`ex05_fields`]: fields, and dispatching events | HTML §9.2.6 |
//! | 6 | [`ex06_reconnect`]: backoff and `Last-Event-ID` | HTML §9.2.3, RFC 6455 §7.2.3 |
//! | 7 | [`ex07_close`]: answering a Close | RFC 6455 §5.5.1, §7.4 |
//! | 8 | [`ex08_ticker`]: one ticker over both protocols | both |

pub mod ex01_accept_key;
pub mod ex02_mask;
pub mod ex03_frame_header;
pub mod ex04_lines;
pub mod ex05_fields;
pub mod ex06_reconnect;
pub mod ex07_close;
pub mod ex08_ticker;
