//! WebSocket, following RFC 6455, written out by hand to be read.
//!
//! The crate has two layers:
//!
//! - the **wire layer**, sans-I/O, pure functions and state machines over bytes:
//!   [`handshake`] (the HTTP Upgrade, and RFC 8441's extended CONNECT in
//!   [`handshake::http2`]), [`frame`] (the frame codec), [`mask`] (the XOR),
//!   [`utf8`] (incremental validation), [`message`] (reassembly of fragmented messages),
//!   [`connection`] (the state machine: control frames, the closing handshake), with [`Error`]
//!   and the [`Limits`] of [`config`]; and one extension, [`deflate`] (RFC 7692's
//!   permessage-deflate), which a reader of the core can skip;
//! - the **I/O layer** (feature `io`, on by default), tokio adapters that move bytes between a
//!   socket and the wire layer: [`io::accept`] for a server on a `TcpListener`,
//!   [`io::upgrade`] from a hyper request (HTTP/1.1 or HTTP/2), [`io::connect`] for a client,
//!   [`io::Http2Connection`] for WebSockets over HTTP/2 (RFC 8441).
//!
//! The wire layer builds with `--no-default-features`: no tokio, no clock, no socket.
//!
//! # A whole conversation, without a socket
//!
//! Both ends of a connection, wired to each other by hand: the handshake as bytes, then a
//! message each way, then the closing handshake.
//!
//! ```
//! use websocket::handshake::{ClientHandshake, ServerHandshake, ServerOptions, check_request};
//! use websocket::{CloseFrame, Connection, Limits, Message, Role, State};
//!
//! # fn main() -> Result<(), websocket::Error> {
//! let limits = Limits::default();
//! // The client's request; the server reads it and answers 101.
//! let (mut client_hs, request) = ClientHandshake::new("example.com", "/chat", &[], &limits)?;
//! let (req, _) = ServerHandshake::new(&limits).receive(&request)?.expect("whole head");
//! let accepted = check_request(&req, &ServerOptions::default())?;
//! let (response, _subprotocol, leftover) =
//!     client_hs.receive(&accepted.response_bytes())?.expect("whole head");
//! assert_eq!((response.status, leftover.len()), (101, 0));
//!
//! // Frames both ways.
//! let mut client = Connection::new(Role::Client, limits);
//! let mut server = Connection::new(Role::Server, limits);
//! client.send(Message::Text("hello".into()))?;
//! server.receive(&client.take_output());
//! assert_eq!(server.next_event()?, Some(Message::Text("hello".into())));
//!
//! // The server closes; the client answers; both are done.
//! server.send(Message::Close(Some(CloseFrame { code: 1000, reason: "bye".into() })))?;
//! client.receive(&server.take_output());
//! assert!(matches!(client.next_event()?, Some(Message::Close(Some(_)))));
//! server.receive(&client.take_output());
//! assert!(matches!(server.next_event()?, Some(Message::Close(Some(_)))));
//! assert_eq!((client.state(), server.state()), (State::Closed, State::Closed));
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod connection;
pub mod deflate;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod message;
pub mod utf8;

#[cfg(feature = "io")]
pub mod io;

pub use config::{Config, DeflateConfig, Limits, Timeouts};
pub use connection::{CloseFrame, Connection, Message, Role, State};
pub use error::Error;
