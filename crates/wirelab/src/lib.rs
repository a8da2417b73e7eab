//! The library side of the `wirelab` tool: each subcommand's work, callable from tests.
//!
//! | module | subcommand | what it does |
//! |---|---|---|
//! | [`check`] | `wirelab check` | WireLab's conformance suites against another implementation |
//! | [`demo`] | `wirelab demo` | the side-by-side demo server: a page per example, both transports |
//! | [`tap`] | `wirelab tap` | a loopback proxy that annotates what crosses it |
//! | [`echo`] | `wirelab echo` | a WebSocket echo server over HTTP/1.1 and h2c (the Autobahn fuzzingclient target) |
//! | [`h2c`] | (`echo`) | telling HTTP/2 in clear text from HTTP/1.1 by the first bytes |
//! | [`ws_cmd`] | `wirelab ws` | a WebSocket client for the terminal (and Autobahn's client mode) |
//! | [`sse_cmd`] | `wirelab sse` | an EventSource-like client, and `sse parse` for piped streams |
//! | [`tls`] | `--tls`, `--cert`, `--key`, `--ca` | certificates for the servers, roots for the clients |

pub mod check;
pub mod demo;
pub mod echo;
pub mod h2c;
pub mod sse_cmd;
pub mod tap;
pub mod tls;
pub mod ws_cmd;
