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
//! use sse::server::{self, ServerConfig};
//! use tokio::net::TcpStream;
//!
//! /// One connection: `subscribe` turns a `Last-Event-ID` into the events to send.
//! async fn connection<E>(mut socket: TcpStream, subscribe: impl FnOnce(Option<&str>) -> E)
//! where
//!     E: Stream<Item = bytes::Bytes>,
//! {
//!     // A refused head (400, 405, 408, 431, 505) has been answered already.
//!     let Ok(request) = http1::read_request(&mut socket, &Http1Config::default()).await else {
//!         return;
//!     };
//!     if request.uri().path() != "/events" {
//!         let _ = http1::respond_error(&mut socket, http::StatusCode::NOT_FOUND).await;
//!         return;
//!     }
//!     let events = subscribe(server::last_event_id(&request));
//!     // The request is not needed while streaming: an idle connection should not keep it.
//!     drop(request);
//!     let _ = http1::serve(socket, events, ServerConfig::default()).await;
//! }
//! ```
//!
//! # Why not hyper
//!
//! Memory, at many idle connections. hyper keeps a read buffer of at least 8 KiB per
//! connection for as long as the connection lives (its `max_buf_size` cannot go lower), because
//! a general HTTP/1.1 server must be ready to read the next request. Measured at 10,000 idle
//! event streams, a hyper server holds about 11.5 KB per connection. An event-stream client
//! sends nothing after its request, so this path reads the head into a buffer that is freed
//! before [`read_request`] returns, and afterwards reads only to notice that the client left.
//!
//! # What an idle connection holds
//!
//! While [`serve`] waits for the next event it holds, inside its own future: the socket
//! handle, the event stream, the keep-alive timer (a tokio `Sleep`), the shutdown wait (a
//! `watch` receiver and its notification slot), an empty `Vec` header for the output buffer,
//! and a 64-byte scratch array for close detection. With a `TcpStream` and a small stream
//! type that is 656 bytes (rustc 1.95; 40 of them the `TcpStream`, 112 the `Sleep`: the unit
//! test `idle_future_is_small` prints the figures), plus what tokio keeps per socket and per
//! task (a registration of about a hundred bytes, and the task header around the future), plus
//! whatever the event stream itself points to. Nothing else: no read buffer, and the output
//! buffer exists only while events flow, released each time the event stream has nothing more
//! to give. The kernel's socket buffers come on top, as for any server.
//!
//! # The request
//!
//! [`read_request`] reads one head, bounded in size ([`Http1Config::max_head_size`]), header
//! count and time, and finds its end by scanning each new byte once (re-parsing the whole
//! buffer after every read would let a client that sends one byte at a time cost quadratic
//! work). Only `GET` over HTTP/1.1 is served: `EventSource` always sends `GET` (HTML §9.2.3),
//! and every client of event streams speaks HTTP/1.1. A refused head is answered, never just
//! dropped: 400 malformed, 405 not `GET` (with `Allow: GET`, RFC 9110 §15.5.6), 408 not
//! complete in time, 431 too large (RFC 6585 §5), 505 not HTTP/1.1.
//!
//! `HEAD` is refused with 405 as well. RFC 9110 §9.1 asks *general-purpose* servers to support
//! it; this is not one, and a `HEAD` of an endless stream would answer headers that describe a
//! body that never comes. Answering it would also need [`serve`] to know the method, for one
//! response no `EventSource` ever asks for. HTTP/1.0 is refused because it cannot carry
//! chunked coding (RFC 9112 §6.1: a server "MUST NOT send a response containing
//! Transfer-Encoding unless the corresponding request indicates HTTP/1.1").
//!
//! Bytes that follow the head (a body, or a pipelined second request) are never interpreted:
//! the response says `Connection: close`, so there is no second request to read, and [`serve`]
//! reads and discards whatever the client sends.
//!
//! # The response
//!
//! [`serve`] writes the head of [`crate::server`]'s response, plus `Transfer-Encoding:
//! chunked`, `Connection: close` (RFC 9112 §9.3: a server that does not keep connections open
//! "MUST send the close connection option in every response") and `Date` (RFC 9110 §6.6.1).
//! Then each event is one chunk (RFC 9112 §7.1: the size in hex, CRLF, the bytes, CRLF), so
//! chunk boundaries are event boundaries, as [`crate::server`] explains with HTML §9.2.7.
//! When several events are ready at once they are written with one system call, still one
//! chunk each. The body ends with the last chunk `0\r\n\r\n` when the event stream ends or the
//! shutdown signal fires.

use std::future::poll_fn;
use std::io::Write as _;
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_core::Stream;
use http::{Method, Request, StatusCode, Uri, Version};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::time::Instant;

use crate::Error;
use crate::server::{KEEP_ALIVE, ServerConfig};

// ANCHOR: config
/// The limits on reading one request head ([`read_request`]).
#[derive(Debug, Clone)]
pub struct Http1Config {
    /// The largest request head accepted, request line and header lines together; a larger
    /// one is answered 431. Default: 8 KiB, about what nginx and Apache allow for one header line
    /// (browsers send well under 2 KiB). The head buffer grows by 1 KiB reads up to this, and
    /// is freed before [`read_request`] returns.
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
// ANCHOR_END: config

/// How long a refused client's remaining bytes are read and discarded after the answer (RFC
/// 9112 §9.6, "tear-down"), and at most how many.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024;

/// How many bytes the head is read by at a time: a browser's request fits in one step.
const HEAD_READ_STEP: usize = 1024;

/// Events ready at once are gathered into one write up to about this many bytes, and at most
/// this many events (the count bounds a stream that yields only empty items).
const MAX_BATCH: usize = 64 * 1024;
const MAX_BATCH_EVENTS: usize = 1024;

/// How many reads of unexpected client bytes one wake-up discards before yielding to other
/// tasks, so that a client that floods the socket cannot monopolise a worker thread.
const MAX_DISCARD_READS: usize = 16;

/// How many bytes a client may send after its request, over the connection's life, before
/// [`serve`] ends the connection. An event-stream client sends none; a client that streams
/// bytes at us would otherwise cost a system call per 64 bytes for as long as it liked.
const MAX_DISCARD_BYTES: usize = 64 * 1024;

// ANCHOR: read_request
/// Reads one request head from `stream` and returns it as an [`http::Request`], so that
/// [`server::last_event_id`](crate::server::last_event_id) and routing by
/// [`uri()`](http::Request::uri) work as with hyper.
///
/// A head that is refused (see the [module documentation](self)) is answered with its status,
/// the write side is shut down, and the result is [`Error::RequestRejected`]. A client that
/// closes before its head is complete gets no answer: [`Error::Io`] with
/// [`UnexpectedEof`](std::io::ErrorKind::UnexpectedEof).
pub async fn read_request<S>(stream: &mut S, config: &Http1Config) -> Result<Request<()>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let read = tokio::time::timeout(config.head_timeout, read_head(stream, config)).await;
    // The head buffer lives only inside `read_head` and `parse_head`: whatever the outcome,
    // it is freed here, before any answer is written.
    let refusal = match read {
        Err(_elapsed) => Refusal(
            StatusCode::REQUEST_TIMEOUT,
            "request head not received in time",
        ),
        Ok(Err(HeadError::Io(error))) => return Err(Error::Io(error)),
        Ok(Err(HeadError::Refused(refusal))) => refusal,
        Ok(Ok(request)) => return Ok(request),
    };
    let Refusal(status, reason) = refusal;
    // The client hears why; if it has gone meanwhile, the refusal is still the error.
    let _ = send_error(stream, status, reason).await;
    Err(Error::RequestRejected { status, reason })
}
// ANCHOR_END: read_request

/// A status to answer with, and the rule that was broken.
#[derive(Debug)]
struct Refusal(StatusCode, &'static str);

#[derive(Debug)]
enum HeadError {
    Io(std::io::Error),
    Refused(Refusal),
}

// ANCHOR: read_head
/// Reads until the blank line that ends the head, then parses it.
async fn read_head<S>(stream: &mut S, config: &Http1Config) -> Result<Request<()>, HeadError>
where
    S: AsyncRead + Unpin,
{
    let too_large = || {
        HeadError::Refused(Refusal(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request head too large",
        ))
    };
    let mut buf = Vec::new();
    let mut scanned: usize = 0;
    loop {
        let filled = buf.len();
        let room = config.max_head_size.saturating_sub(filled);
        if room == 0 {
            return Err(too_large());
        }
        buf.resize(filled + room.min(HEAD_READ_STEP), 0);
        let n = match stream.read(buf.get_mut(filled..).unwrap_or_default()).await {
            Ok(0) => {
                let eof = std::io::ErrorKind::UnexpectedEof;
                return Err(HeadError::Io(eof.into()));
            }
            Ok(n) => n,
            Err(error) => return Err(HeadError::Io(error)),
        };
        buf.truncate(filled + n);
        // The end may straddle two reads: look back two bytes, no further.
        if let Some(end) = head_end(&buf, scanned.saturating_sub(2)) {
            // Bytes after `end` (a body, a pipelined request) are dropped with `buf`.
            let head = buf.get(..end).unwrap_or_default();
            return parse_head(head, config.max_headers).map_err(HeadError::Refused);
        }
        scanned = buf.len();
    }
}
// ANCHOR_END: read_head

// ANCHOR: head_end
/// The length of the head in `buf` if its end has arrived, searching from `from`.
///
/// RFC 9112 §2.2: the head ends with an empty line; "a recipient MAY recognize a single LF as
/// a line terminator and ignore any preceding CR", as httparse does, so the end is a LF
/// followed by either LF or CR LF.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let lf = at + buf.get(at..)?.iter().position(|&b| b == b'\n')?;
        match (buf.get(lf + 1), buf.get(lf + 2)) {
            (Some(b'\n'), _) => return Some(lf + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(lf + 3),
            _ => at = lf + 1,
        }
    }
}
// ANCHOR_END: head_end

// ANCHOR: parse_head
/// Parses a complete head (ending with its empty line) and applies this server's rules.
fn parse_head(head: &[u8], max_headers: usize) -> Result<Request<()>, Refusal> {
    let malformed = |reason| Refusal(StatusCode::BAD_REQUEST, reason);
    let mut headers = vec![httparse::EMPTY_HEADER; max_headers];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(malformed("incomplete request head")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "too many header fields",
            ));
        }
        Err(_) => return Err(malformed("malformed request head (RFC 9112 §2)")),
    }
    // httparse reads only HTTP/1.0 and HTTP/1.1; anything else failed above.
    if parsed.version != Some(1) {
        return Err(Refusal(
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "an event stream needs HTTP/1.1 (chunked coding, RFC 9112 §6.1)",
        ));
    }
    let method = parsed.method.unwrap_or_default();
    if method != "GET" {
        return Err(Refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            "an event stream is read with GET",
        ));
    }
    let uri = Uri::try_from(parsed.path.unwrap_or_default())
        .map_err(|_| malformed("malformed request target (RFC 9112 §3.2)"))?;
    let mut request = Request::new(());
    *request.method_mut() = Method::GET;
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    let map = request.headers_mut();
    for header in parsed.headers.iter() {
        let name = http::HeaderName::from_bytes(header.name.as_bytes())
            .map_err(|_| malformed("malformed header name"))?;
        let value = http::HeaderValue::from_bytes(header.value)
            .map_err(|_| malformed("malformed header value"))?;
        map.append(name, value);
    }
    // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any
    // HTTP/1.1 request message that lacks a Host header field and to any request message that
    // contains more than one Host header field line".
    if map.get_all(http::header::HOST).iter().count() != 1 {
        return Err(malformed(
            "an HTTP/1.1 request has exactly one Host (RFC 9112 §3.2)",
        ));
    }
    Ok(request)
}
// ANCHOR_END: parse_head

// ANCHOR: respond_error
/// Answers with `status` and a one-line text body (`Connection: close`), shuts the write side
/// down, then reads and discards what the client still sends until it closes, for at most
/// one second (RFC 9112 §9.6: closing at once with unread bytes makes the kernel reset the
/// connection, which can destroy the answer before the client reads it).
///
/// For the answers a caller gives after [`read_request`], such as 404 for an unknown path.
pub async fn respond_error<S>(stream: &mut S, status: StatusCode) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    send_error(stream, status, status.canonical_reason().unwrap_or("error")).await
}
// ANCHOR_END: respond_error

async fn send_error<S>(stream: &mut S, status: StatusCode, detail: &str) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream.write_all(&error_response(status, detail)).await?;
    stream.flush().await?;
    stream.shutdown().await?;
    // On the heap: an array here would be part of `read_request`'s future, and so of every
    // connection's task for its whole life.
    let mut sink = vec![0u8; 256];
    let drain = async {
        let mut total = 0;
        while total < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
    Ok(())
}

/// A complete error response: status line, headers, and `detail` as a text body.
fn error_response(status: StatusCode, detail: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let reason = status.canonical_reason().unwrap_or("");
    let _ = write!(out, "HTTP/1.1 {} {reason}\r\n", status.as_u16());
    write_date(&mut out, SystemTime::now());
    if status == StatusCode::METHOD_NOT_ALLOWED {
        // RFC 9110 §15.5.6: "The origin server MUST generate an Allow header field in a 405".
        out.extend_from_slice(b"Allow: GET\r\n");
    }
    let _ = write!(
        out,
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{detail}\n",
        detail.len() + 1
    );
    out
}

// ANCHOR: response_head
/// The event-stream response head, less its `Date` line and final empty line.
const RESPONSE_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\n\
    Content-Type: text/event-stream\r\n\
    Cache-Control: no-cache\r\n\
    X-Accel-Buffering: no\r\n\
    Transfer-Encoding: chunked\r\n\
    Connection: close\r\n";

/// The last chunk, with no trailer fields: the body's end (RFC 9112 §7.1).
const LAST_CHUNK: &[u8] = b"0\r\n\r\n";
// ANCHOR_END: response_head

/// What the waiting step of [`serve`] found.
enum Step {
    /// The output buffer holds chunks to write.
    Write,
    /// The event stream ended or the shutdown signal fired: write the buffer and the last
    /// chunk.
    End,
    /// The client closed its side or the socket failed while reading.
    ClientGone,
}

// ANCHOR: serve
/// Writes the event-stream response to `stream`: the `200 OK` head, then each item of `events`
/// as one HTTP/1.1 chunk, with a keep-alive comment after [`ServerConfig::keep_alive`] of
/// silence.
///
/// It returns:
/// - `Ok(())` after the last chunk, when `events` ends or [`ServerConfig::shutdown`] fires
///   (the write side is shut down too);
/// - `Ok(())` when the client closes its side: a read returns end-of-file or an error, and
///   there is nobody left to write to;
/// - the error of a write that fails.
///
/// Empty items are skipped: an empty chunk would be the last chunk. Dropping the future at any
/// point simply ends the connection.
///
/// Two consequences of HTTP/1.1 itself. A client that half-closes (shuts down only its sending
/// side) after its request is taken for gone: no event-stream client does that, and a server
/// cannot tell the two apart without writing. And a client that stops reading without closing
/// leaves a write pending once the socket's send buffer is full; while it is pending a close is
/// not noticed, but the shutdown signal still ends the connection (without the last chunk).
/// A client that sends more than 64 KiB after its request is not an event-stream client, and
/// its connection ends.
pub async fn serve<S, E, T>(mut stream: S, events: E, config: ServerConfig) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    E: Stream<Item = T>,
    T: Into<Bytes>,
{
    let mut events = pin!(events);
    let keep_alive = config.keep_alive;
    let mut silence = pin!(tokio::time::sleep(keep_alive.unwrap_or_default()));
    let mut shutdown = pin!(async move {
        match config.shutdown {
            Some(signal) => signal.wait().await,
            None => std::future::pending().await,
        }
    });
    let mut probe = [0u8; 64];
    let mut discarded_bytes = 0;
    // The head goes out with whatever events are ready already, in one write.
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(RESPONSE_HEAD);
    write_date(&mut out, SystemTime::now());
    out.extend_from_slice(b"\r\n");
    loop {
        let step = poll_fn(|cx| {
            // A finished shutdown future is never polled again: `End` returns below.
            if shutdown.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Step::End);
            }
            // Set when a bound below stops work that is still ready: the task must then
            // wake itself, since nothing has registered to wake it for that work.
            let mut more = false;
            // The client sends nothing after its request, so a readable socket means bytes
            // to discard, or the end of the connection.
            let mut discarded = 0;
            loop {
                let mut scratch = ReadBuf::new(&mut probe);
                match Pin::new(&mut stream).poll_read(cx, &mut scratch) {
                    Poll::Ready(Ok(())) if scratch.filled().is_empty() => {
                        return Poll::Ready(Step::ClientGone);
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(Step::ClientGone),
                    Poll::Ready(Ok(())) => {
                        discarded += 1;
                        discarded_bytes += scratch.filled().len();
                        if discarded_bytes > MAX_DISCARD_BYTES {
                            // Not an event-stream client: end the connection.
                            return Poll::Ready(Step::ClientGone);
                        }
                    }
                    Poll::Pending => break,
                }
                if discarded == MAX_DISCARD_READS {
                    more = true;
                    break;
                }
            }
            // Gather the events that are ready, up to the batch bounds.
            let mut gathered = 0;
            while out.len() < MAX_BATCH {
                if gathered == MAX_BATCH_EVENTS {
                    more = true;
                    break;
                }
                match events.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => {
                        push_chunk(&mut out, &item.into());
                        gathered += 1;
                    }
                    Poll::Ready(None) => return Poll::Ready(Step::End),
                    Poll::Pending => break,
                }
            }
            if !out.is_empty() {
                return Poll::Ready(Step::Write);
            }
            if keep_alive.is_some() && silence.as_mut().poll(cx).is_ready() {
                push_chunk(&mut out, KEEP_ALIVE);
                return Poll::Ready(Step::Write);
            }
            if more {
                cx.waker().wake_by_ref();
            } else {
                // Idle: hold no buffer while waiting.
                out = Vec::new();
            }
            Poll::Pending
        })
        .await;
        match step {
            Step::ClientGone => return Ok(()),
            Step::Write => {
                // A client that stops reading leaves this write pending once the socket's
                // buffer is full; the shutdown signal still ends the connection then.
                let write = async {
                    stream.write_all(&out).await?;
                    stream.flush().await
                };
                tokio::select! {
                    written = write => written?,
                    () = shutdown.as_mut() => return Ok(()),
                }
                out.clear();
                if let Some(every) = keep_alive {
                    silence.as_mut().reset(Instant::now() + every);
                }
            }
            Step::End => {
                out.extend_from_slice(LAST_CHUNK);
                stream.write_all(&out).await?;
                stream.flush().await?;
                stream.shutdown().await?;
                return Ok(());
            }
        }
    }
}
// ANCHOR_END: serve

// ANCHOR: push_chunk
/// Appends `data` as one chunk (RFC 9112 §7.1: `chunk-size CRLF chunk-data CRLF`, the size in
/// hexadecimal). Empty data is skipped: a chunk of size zero is the last chunk.
fn push_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.reserve(data.len() + 12);
    let _ = write!(out, "{:x}\r\n", data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}
// ANCHOR_END: push_chunk

// ANCHOR: date
/// Appends a `Date` header line in the IMF-fixdate form, such as `Sun, 06 Nov 1994 08:49:37
/// GMT` (RFC 9110 §5.6.7). RFC 9110 §6.6.1: "An origin server with a clock ... MUST generate
/// a Date header field in all 2xx, 3xx, and 4xx responses".
fn write_date(out: &mut Vec<u8>, now: SystemTime) {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let (year, month, day) = civil_from_days(days);
    let _ = write!(
        out,
        "Date: {}, {day:02} {} {year} {:02}:{:02}:{:02} GMT\r\n",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for non-negative counts): (year, month 1..=12, day 1..=31).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}
// ANCHOR_END: date

#[cfg(test)]
mod tests {
    use super::*;

    fn date(secs: u64) -> String {
        let mut out = Vec::new();
        write_date(&mut out, SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        String::from_utf8(out).expect("ASCII")
    }

    #[test]
    fn date_is_imf_fixdate() {
        // The example of RFC 9110 §5.6.7.
        assert_eq!(date(784_111_777), "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
        assert_eq!(date(0), "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n");
        assert_eq!(date(951_782_400), "Date: Tue, 29 Feb 2000 00:00:00 GMT\r\n");
        assert_eq!(
            date(1_767_225_599),
            "Date: Wed, 31 Dec 2025 23:59:59 GMT\r\n"
        );
    }

    #[test]
    fn head_end_accepts_crlf_and_bare_lf() {
        assert_eq!(
            head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest", 0),
            Some(27)
        );
        assert_eq!(head_end(b"GET / HTTP/1.1\nHost: a\n\nrest", 0), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\nHost: a\n\r\n", 0), Some(25));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r", 0), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n", 0), None);
        assert_eq!(head_end(b"", 0), None);
        assert_eq!(head_end(b"\n", 5), None);
    }

    #[test]
    fn head_end_finds_an_end_split_across_reads() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nafter";
        // Feed the bytes in two reads split at every point, as `read_head` does.
        for split in 0..head.len() {
            let first = head.get(..split).expect("in range");
            let found = head_end(first, 0).or_else(|| head_end(head, split.saturating_sub(2)));
            assert_eq!(found, Some(27), "split at {split}");
        }
    }

    fn parse(head: &str) -> Result<Request<()>, StatusCode> {
        parse_head(head.as_bytes(), Http1Config::default().max_headers).map_err(|r| r.0)
    }

    #[test]
    fn parse_head_applies_the_rules() {
        let request = parse("GET /events?x=1 HTTP/1.1\r\nHost: a\r\nLast-Event-ID: 7\r\n\r\n")
            .expect("valid");
        assert_eq!(request.uri().path(), "/events");
        assert_eq!(request.uri().query(), Some("x=1"));
        assert_eq!(crate::server::last_event_id(&request), Some("7"));
        let status = |head| parse(head).err();
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Some(StatusCode::METHOD_NOT_ALLOWED)
        );
        assert_eq!(
            status("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Some(StatusCode::METHOD_NOT_ALLOWED)
        );
        assert_eq!(
            status("GET / HTTP/1.0\r\nHost: a\r\n\r\n"),
            Some(StatusCode::HTTP_VERSION_NOT_SUPPORTED)
        );
        assert_eq!(
            status("GET / HTTP/1.1\r\n\r\n"),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            status("GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(status("GET\r\n\r\n"), Some(StatusCode::BAD_REQUEST));
        assert_eq!(status("\u{1}\r\n\r\n"), Some(StatusCode::BAD_REQUEST));
        let many = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", "X: y\r\n".repeat(64));
        assert_eq!(
            status(&many),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
    }

    #[test]
    fn a_chunk_is_size_crlf_data_crlf_and_empty_data_is_no_chunk() {
        let mut out = Vec::new();
        push_chunk(&mut out, b"data: hi\n\n");
        push_chunk(&mut out, b"");
        push_chunk(&mut out, &[b'x'; 300]);
        let mut expected = b"a\r\ndata: hi\n\n\r\n12c\r\n".to_vec();
        expected.extend_from_slice(&[b'x'; 300]);
        expected.extend_from_slice(b"\r\n");
        assert_eq!(out, expected);
    }

    #[test]
    fn error_responses_are_complete() {
        let out = error_response(StatusCode::METHOD_NOT_ALLOWED, "use GET");
        let text = String::from_utf8(out).expect("ASCII");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        assert!(
            head.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nAllow: GET\r\n"), "{head}");
        assert!(head.contains("\r\nConnection: close"), "{head}");
        assert!(head.contains("\r\nContent-Length: 8"), "{head}");
        assert_eq!(body, "use GET\n");
    }

    /// A stream that never yields, like an idle subscription.
    struct Idle;

    impl Stream for Idle {
        type Item = Bytes;
        fn poll_next(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> Poll<Option<Bytes>> {
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn idle_future_is_small() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let socket = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let shutdown = crate::server::Shutdown::new();
        let config = ServerConfig {
            keep_alive: Some(Duration::from_secs(15)),
            shutdown: Some(shutdown.signal()),
        };
        let future = serve(socket, Idle, config);
        let size = std::mem::size_of_val(&future);
        println!(
            "serve future over a TcpStream: {size} bytes (of which TcpStream {}, Sleep {})",
            std::mem::size_of::<tokio::net::TcpStream>(),
            std::mem::size_of::<tokio::time::Sleep>(),
        );
        // What the module documentation promises, with room for compiler changes.
        assert!(size <= 1024, "{size} bytes");
    }
}
