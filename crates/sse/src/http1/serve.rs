//! Writing the event-stream response: the head, then one chunk per event, until the end (or,
//! to an HTTP/1.0 client, the events as they are, until the connection closes).

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use futures_core::Stream;
use http::Version;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};

use super::chunked::{LAST_CHUNK, push_chunk};
use super::date::http_date;
use crate::Error;
use crate::streaming::{Outgoing, RESPONSE_HEADERS, ServerConfig, outgoing};

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
/// not noticed, but the shutdown signal still ends the connection (without the last chunk), and
/// so does [`ServerConfig::write_timeout`] (with a `TimedOut` error).
/// A client that sends more than 64 KiB after its request is not an event-stream client, and
/// its connection ends.
///
/// This is the response to an HTTP/1.1 request. [`read_request`](super::read_request)
/// accepts HTTP/1.0 too; a server that may be asked in HTTP/1.0 (one behind nginx, say)
/// answers with [`serve_version`] and the request's version.
pub async fn serve<S, E, T>(stream: S, events: E, config: ServerConfig) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    E: Stream<Item = T>,
    T: Into<Bytes>,
{
    serve_version(stream, Version::HTTP_11, events, config).await
}
// ANCHOR_END: serve

// ANCHOR: serve_version
/// Like [`serve`], for a request of HTTP `version` (the request's
/// [`version`](http::Request::version)). To HTTP/1.1 the body is chunked; to HTTP/1.0, which
/// has no chunked coding (RFC 9112 §6.1: a server "MUST NOT send a response containing
/// Transfer-Encoding unless the corresponding request indicates HTTP/1.1"), the events go as
/// they are and the body ends when the connection closes (RFC 9112 §6.3, the last rule). The
/// connection closes after the stream either way, so nothing else changes. An HTTP/1.0
/// client cannot tell a clean end from a cut, which an event-stream client treats alike
/// anyway: it reconnects. The client this is for is a reverse proxy: nginx speaks HTTP/1.0
/// to upstreams unless configured with `proxy_http_version 1.1`.
pub async fn serve_version<S, E, T>(
    mut stream: S,
    version: Version,
    events: E,
    config: ServerConfig,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    E: Stream<Item = T>,
    T: Into<Bytes>,
{
    let chunked = version != Version::HTTP_10;
    let mut connection = Connection {
        write_timeout: config.write_timeout,
        // Borrowed, not moved: a moved argument would occupy the future twice.
        stream: &mut stream,
        outgoing: pin!(outgoing(events, config)),
        out: response_head(chunked),
        chunked,
        probe: [0; 64],
        discarded: 0,
    };
    // The head goes out with whatever events are ready already, in one write.
    loop {
        match poll_fn(|cx| connection.poll_step(cx)).await {
            Step::Write => {
                if !connection.write().await? {
                    return Ok(());
                }
            }
            Step::End => return connection.finish().await,
            Step::ClientGone => return Ok(()),
        }
    }
}
// ANCHOR_END: serve_version

/// The response head: status line, the event stream's header fields, this path's framing
/// (chunked, or none: the close ends the body), and `Date` (RFC 9110 §6.6.1).
fn response_head(chunked: bool) -> Vec<u8> {
    let date = http_date(SystemTime::now());
    let chunked = chunked.then_some(("Transfer-Encoding", "chunked"));
    let framing = [
        // RFC 9112 §9.3: a server that does not keep connections open "MUST send the close
        // connection option in every response".
        ("Connection", "close"),
        ("Date", date.as_str()),
    ];
    let mut out = Vec::with_capacity(256);
    let fields = RESPONSE_HEADERS.into_iter().chain(chunked).chain(framing);
    http_head::write_response_head(&mut out, 200, fields);
    out
}

/// What [`Connection::poll_step`] found to do next.
enum Step {
    /// The output buffer holds chunks to write.
    Write,
    /// The event stream ended or the shutdown signal fired: write the buffer and the last
    /// chunk.
    End,
    /// The client closed its side, the socket failed while reading, or the client sent far
    /// more than an event-stream client ever does.
    ClientGone,
}

/// What reading from the client found.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    /// It closed, the read failed, or it sent more than [`MAX_DISCARD_BYTES`].
    Gone,
    /// Nothing more to read now.
    Quiet,
    /// Bytes still waiting when [`MAX_DISCARD_READS`] were done.
    StillSending,
}

/// What gathering events found.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gathered {
    /// The stream has ended (events done or shutdown).
    End,
    /// Nothing more is ready now.
    Waiting,
    /// More may be ready, but the batch is full.
    Full,
}

/// One served connection: the socket, what goes out on it, and the output buffer.
struct Connection<'a, S, O> {
    stream: &'a mut S,
    outgoing: Pin<&'a mut O>,
    /// Chunks gathered for the next write; released while idle.
    out: Vec<u8>,
    /// Whether the body is chunked (HTTP/1.1) or ends with the connection (HTTP/1.0).
    chunked: bool,
    /// Scratch space for reads that only look for the client's end.
    probe: [u8; 64],
    /// Bytes the client sent after its request, over the connection's life.
    discarded: usize,
    /// [`ServerConfig::write_timeout`].
    write_timeout: std::time::Duration,
}

impl<S, E, F> Connection<'_, S, Outgoing<E, F>>
where
    S: AsyncRead + AsyncWrite + Unpin,
    Outgoing<E, F>: Stream<Item = Bytes>,
    F: Future<Output = ()>,
{
    // ANCHOR: poll_step
    /// Waits for the next thing to do: notice the client leaving, gather the events that are
    /// ready, and otherwise sleep without holding the output buffer.
    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        let client = self.discard_client_bytes(cx);
        if client == Client::Gone {
            return Poll::Ready(Step::ClientGone);
        }
        let gathered = self.gather(cx);
        if gathered == Gathered::End {
            return Poll::Ready(Step::End);
        }
        if !self.out.is_empty() {
            return Poll::Ready(Step::Write);
        }
        if client == Client::StillSending || gathered == Gathered::Full {
            // A bound stopped work that is still ready, and nothing has registered to wake
            // the task for it: wake it now, after other tasks have had their turn.
            cx.waker().wake_by_ref();
        } else {
            // Idle: hold no buffer while waiting.
            self.out = Vec::new();
        }
        Poll::Pending
    }
    // ANCHOR_END: poll_step

    /// Reads and discards what the client sends. It sends nothing after its request, so a
    /// readable socket means stray bytes, or the end of the connection.
    fn discard_client_bytes(&mut self, cx: &mut Context<'_>) -> Client {
        for _ in 0..MAX_DISCARD_READS {
            let mut scratch = ReadBuf::new(&mut self.probe);
            match Pin::new(&mut *self.stream).poll_read(cx, &mut scratch) {
                Poll::Pending => return Client::Quiet,
                Poll::Ready(Err(_)) => return Client::Gone,
                Poll::Ready(Ok(())) if scratch.filled().is_empty() => return Client::Gone,
                Poll::Ready(Ok(())) => {
                    self.discarded += scratch.filled().len();
                    if self.discarded > MAX_DISCARD_BYTES {
                        return Client::Gone;
                    }
                }
            }
        }
        Client::StillSending
    }

    /// Appends the events (and keep-alive comments) that are ready, one chunk each, up to the
    /// batch bounds.
    fn gather(&mut self, cx: &mut Context<'_>) -> Gathered {
        for _ in 0..MAX_BATCH_EVENTS {
            if self.out.len() >= MAX_BATCH {
                return Gathered::Full;
            }
            match self.outgoing.as_mut().poll_next(cx) {
                Poll::Ready(Some(bytes)) if self.chunked => push_chunk(&mut self.out, &bytes),
                Poll::Ready(Some(bytes)) => self.out.extend_from_slice(&bytes),
                Poll::Ready(None) => return Gathered::End,
                Poll::Pending => return Gathered::Waiting,
            }
        }
        Gathered::Full
    }

    /// Writes the gathered chunks. Returns `false` if the shutdown signal fired first: a
    /// client that stops reading leaves the write pending once the socket's buffer is full,
    /// and the signal must still end the connection. A write that the client has not taken
    /// within [`ServerConfig::write_timeout`] fails with `TimedOut`: the connection ends, and
    /// the client's reconnection recovers what it missed.
    // ANCHOR: write
    async fn write(&mut self) -> Result<bool, Error> {
        let Connection {
            stream,
            outgoing,
            out,
            write_timeout,
            ..
        } = self;
        let write = async {
            stream.write_all(out).await?;
            stream.flush().await
        };
        tokio::select! {
            written = tokio::time::timeout(*write_timeout, write) => match written {
                Ok(written) => written?,
                Err(_elapsed) => return Err(Error::Io(std::io::ErrorKind::TimedOut.into())),
            },
            () = poll_fn(|cx| outgoing.as_mut().poll_shutdown(cx)) => return Ok(false),
        }
        out.clear();
        Ok(true)
    }
    // ANCHOR_END: write

    /// Ends the body with the last chunk (if chunked), after what was gathered, and shuts the
    /// write side down.
    async fn finish(&mut self) -> Result<(), Error> {
        if self.chunked {
            self.out.extend_from_slice(LAST_CHUNK);
        }
        self.stream.write_all(&self.out).await?;
        self.stream.flush().await?;
        self.stream.shutdown().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::shutdown::Shutdown;

    /// A stream that never yields, like an idle subscription.
    struct Idle;

    impl Stream for Idle {
        type Item = Bytes;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Bytes>> {
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
        let shutdown = Shutdown::new();
        let config = ServerConfig {
            keep_alive: Some(Duration::from_secs(15)),
            shutdown: Some(shutdown.signal()),
            ..ServerConfig::default()
        };
        let future = serve(socket, Idle, config);
        let size = std::mem::size_of_val(&future);
        println!(
            "serve future over a TcpStream: {size} bytes (of which TcpStream {}, Sleep {})",
            std::mem::size_of::<tokio::net::TcpStream>(),
            std::mem::size_of::<tokio::time::Sleep>(),
        );
        // What an idle connection holds is this future and no buffer: keep it small.
        assert!(size <= 1024, "{size} bytes");
    }

    #[test]
    fn the_head_has_the_stream_fields_the_framing_and_a_date_last() {
        let head = String::from_utf8(response_head(true)).expect("ASCII");
        assert!(head.starts_with(
            "HTTP/1.1 200 OK\r\n\
             Content-Type: text/event-stream\r\n\
             Cache-Control: no-cache\r\n\
             X-Accel-Buffering: no\r\n\
             Transfer-Encoding: chunked\r\n\
             Connection: close\r\n\
             Date: "
        ));
        assert!(head.ends_with(" GMT\r\n\r\n"), "{head}");
        let head = String::from_utf8(response_head(false)).expect("ASCII");
        assert!(!head.contains("Transfer-Encoding"), "{head}");
        assert!(head.contains("Connection: close\r\n"), "{head}");
    }
}
