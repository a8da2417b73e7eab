//! A hand-written HTTP/1.1 server path for one event stream per connection, without hyper.
//!
//! [`crate::server`] streams events through hyper, and that is the right choice for an
//! application that serves pages, JSON and event streams from one router. But an event stream
//! is a very small piece of HTTP: the client sends one `GET` and then nothing, and the server
//! sends one response head and then, for as long as the connection lives, body chunks. This
//! module is that piece and nothing more, in three calls:
//!
//! ```no_run
//! use futures_core::Stream;
//! use sse::http1::{self, Http1Config};
//! use sse::streaming::{self, ServerConfig};
//! use tokio::net::TcpStream;
//!
//! /// One connection: `subscribe` turns a `Last-Event-ID` into the events to send.
//! async fn connection<E>(mut socket: TcpStream, subscribe: impl FnOnce(Option<&str>) -> E)
//! where
//!     E: Stream<Item = bytes::Bytes>,
//! {
//!     // A refused head (400, 405, 408, 431) has been answered already.
//!     let Ok(request) = http1::read_request(&mut socket, &Http1Config::default()).await else {
//!         return;
//!     };
//!     if request.uri().path() != "/events" {
//!         let _ = http1::respond_error(&mut socket, http::StatusCode::NOT_FOUND).await;
//!         return;
//!     }
//!     let events = subscribe(streaming::last_event_id(&request));
//!     let version = request.version();
//!     // The request is not needed while streaming: an idle connection should not keep it.
//!     drop(request);
//!     let _ = http1::serve_version(socket, version, events, ServerConfig::default()).await;
//! }
//! ```
//!
//! The module is laid out by job, as hyper's `proto/h1` is: [`read_request`] (the request, in
//! `request.rs`), [`respond_error`] (refusals, `refuse.rs`), [`serve`] (the response,
//! `serve.rs`), with the chunked coding in `chunked.rs` and the `Date` header in `date.rs`.
//! What the stream sends (header fields, keep-alive comments, the end on shutdown) is
//! [`crate::streaming`]'s, shared with the hyper server; the HTTP head is read and refusals
//! written with the `http_head` crate, shared with WebSocket.
//!
//! # Why not hyper
//!
//! Memory, at many idle connections. hyper keeps a read buffer of at least 8 KiB per
//! connection for as long as the connection lives (its `max_buf_size` cannot go lower), because
//! a general HTTP/1.1 server must be ready to read the next request. An event-stream client
//! sends nothing after its request, so this path reads the head into a buffer that is freed
//! before [`read_request`] returns, and afterwards reads only to notice that the client left.
//! The performance chapter of the book measures both per idle connection.
//!
//! # What an idle connection holds
//!
//! While [`serve`] waits for the next event it holds, inside its own future: the socket
//! handle, the event stream, the keep-alive timer (a tokio `Sleep`), the shutdown wait (a
//! `watch` receiver and its notification slot), an empty `Vec` header for the output buffer,
//! and a 64-byte scratch array for close detection (the unit test `idle_future_is_small`
//! prints the future's size). On top come what tokio keeps per socket and per task, whatever
//! the event stream itself points to, and the kernel's socket buffers, as for any server.
//! Nothing else: no read buffer, and the output buffer exists only while events flow,
//! released each time the event stream has nothing more to give.
//!
//! # The request
//!
//! [`read_request`] reads one head, bounded in size ([`Http1Config::max_head_size`]), header
//! count and time. Only `GET` is served: `EventSource` always sends `GET` (HTML §9.2.2); HTTP/2
//! is hyper's, through [`crate::server`]. A refused head is answered, never just dropped: 400
//! malformed, 405 not `GET` (with `Allow: GET`, RFC 9110 §15.5.6), 408 not complete in time,
//! 431 too large (RFC 6585 §5).
//!
//! `HEAD` is refused with 405 as well. RFC 9110 §9.1 asks *general-purpose* servers to support
//! it; this is not one, and a `HEAD` of an endless stream would answer headers that describe a
//! body that never comes. Answering it would also need [`serve`] to know the method, for one
//! response no `EventSource` ever asks for. HTTP/1.0 is served, without chunked coding, which
//! it does not have: [`serve_version`] sends the events as they are and the close ends the
//! body. Browsers speak HTTP/1.1; the HTTP/1.0 client is nginx, whose default
//! `proxy_http_version` is 1.0.
//!
//! Bytes that follow the head (a body, or a pipelined second request) are never interpreted:
//! the response says `Connection: close`, so there is no second request to read, and [`serve`]
//! reads and discards whatever the client sends.
//!
//! # The response
//!
//! [`serve`] writes the head with [`crate::streaming`]'s header fields, plus
//! `Transfer-Encoding: chunked`, `Connection: close` (RFC 9112 §9.3: a server that does not
//! keep connections open "MUST send the close connection option in every response") and
//! `Date` (RFC 9110 §6.6.1). Then each event is one chunk (RFC 9112 §7.1: the size in hex,
//! CRLF, the bytes, CRLF), so chunk boundaries are event boundaries, as [`crate::server`]
//! explains with HTML §9.2.7. When several events are ready at once they are written with one
//! system call, still one chunk each. The body ends with the last chunk `0\r\n\r\n` when the
//! event stream ends or the shutdown signal fires.

use std::time::Duration;

mod chunked;
mod date;
mod refuse;
mod request;
mod serve;

pub use refuse::respond_error;
pub use request::read_request;
pub use serve::{serve, serve_version};

/// The limits on reading one request head ([`read_request`]).
#[derive(Debug, Clone)]
pub struct Http1Config {
    /// The largest request head accepted, request line and header lines together; a larger
    /// one is answered 431. Default: 8 KiB, about what nginx and Apache allow for one header line
    /// (browsers send well under 2 KiB). The head is read 1 KiB at a time up to this, and its
    /// buffer is freed before [`read_request`] returns.
    pub max_head_size: usize,
    /// The most header lines accepted; more are answered 431. Default: 64. The parser needs a
    /// slot of 32 bytes per header while it runs, so this also bounds that memory.
    pub max_headers: usize,
    /// How long the whole head may take to arrive; after that the client is answered 408.
    /// Default: 10 s. Without it a client that opens connections and sends nothing would hold
    /// them forever.
    pub head_timeout: Duration,
}

impl Default for Http1Config {
    fn default() -> Self {
        Http1Config {
            max_head_size: 8 * 1024,
            max_headers: 64,
            head_timeout: Duration::from_secs(10),
        }
    }
}
