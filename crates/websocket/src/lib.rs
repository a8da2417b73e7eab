//! WebSocket, following RFC 6455, written out by hand to be read.
//!
//! The crate has two layers:
//!
//! - the **wire layer**, sans-I/O, pure functions and state machines over bytes:
//!   [`handshake`] (the HTTP Upgrade), [`frame`] (the frame codec), [`mask`] (the XOR),
//!   [`utf8`] (incremental validation), [`connection`] (messages, control frames, the closing
//!   handshake), with [`Error`] and [`Config`];
//! - the **I/O layer** (feature `io`, on by default), tokio adapters that move bytes between a
//!   socket and the wire layer: [`io::accept`] for a server on a `TcpListener`,
//!   [`io::upgrade`] from a hyper request, [`io::connect`] for a client.
//!
//! The wire layer builds with `--no-default-features`: no tokio, no clock, no socket.

pub mod config;
pub mod connection;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod utf8;

#[cfg(feature = "io")]
pub mod io;

pub use config::Config;
pub use connection::{CloseFrame, Connection, Message, Role, State};
pub use error::Error;
