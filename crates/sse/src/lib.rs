//! Server-Sent Events, following the WHATWG HTML Standard, section 9.2 "Server-sent events".
//!
//! An event stream is the simplest push protocol on the web: the server answers one HTTP
//! request with `Content-Type: text/event-stream` and never finishes the body. Each event is a
//! few `field: value` lines followed by an empty line:
//!
//! ```text
//! id: 42
//! event: tick
//! data: hello
//! data: world
//!
//! ```
//!
//! The browser's `EventSource` turns that into a `MessageEvent { type: "tick", data:
//! "hello\nworld", lastEventId: "42" }`, and when the connection drops it reconnects by itself,
//! sending `Last-Event-ID: 42` so that the server can replay what the client missed.
//!
//! This crate is built in two layers, as DESIGN.md describes:
//!
//! - the **wire layer**, with no I/O at all (it builds with `--no-default-features`):
//!   - [`parser`]: bytes in, events out ("Parsing an event stream", HTML §9.2.5, and
//!     "Interpreting an event stream", §9.2.6);
//!   - [`event`]: the encoder, events in, bytes out (§9.2.7 "Authoring notes" and the ABNF);
//! - the **I/O layer**, on tokio:
//!   - [`streaming`]: what an open event stream sends, whichever server carries it: its
//!     header fields, keep-alive comments, and the end on [`shutdown`];
//!   - [`server`] (feature `io`, on by default): a hyper 1.x response body that streams
//!     events;
//!   - [`http1`] (feature `http1`, on by default): the same response without hyper, on a
//!     hand-written HTTP/1.1 path that holds far less memory per idle connection;
//!   - [`history`]: a bounded replay history, so a reconnecting client gets what it missed;
//!   - [`client`]: an `EventSource`-like reconnecting client (§9.2.2, the constructor, and §9.2.3,
//!     "Processing model");
//!   - [`backoff`]: the reconnection delay policy the client uses.
//!
//! The errors of every layer are one enum, [`Error`].

mod error;
pub mod event;
pub mod parser;

#[cfg(feature = "io")]
pub mod backoff;
#[cfg(feature = "io")]
pub mod client;
#[cfg(feature = "io")]
pub mod gzip;
#[cfg(feature = "io")]
pub mod history;
#[cfg(feature = "http1")]
pub mod http1;
#[cfg(feature = "io")]
pub mod server;
#[cfg(any(feature = "io", feature = "http1"))]
pub mod shutdown;
#[cfg(any(feature = "io", feature = "http1"))]
pub mod streaming;

pub use error::Error;
pub use event::Event;
pub use parser::{Item, MessageEvent, Parser, ParserConfig};
