//! `--fault no-flush-gzip`: compress event streams with gzip as a filter made for pages does,
//! never flushing, and pass on only what the compressor lets out.
//!
//! A gzip compressor keeps its input until it has enough for a DEFLATE block, tens of
//! kilobytes. Behind one, small events reach the client in bursts, long after they were
//! sent, or only when the stream ends: the pitfall of compressing middleware and proxies that
//! HTML §9.2.7 warns about. The compressor is the `sse` crate's own [`GzipEncoder`] with
//! [`Flush::Never`], the setting its documentation shows the failure with; the server side of
//! the crate flushes after every event.
//!
//! Like the proxies it imitates, the fault compresses only what a client asked for: a
//! `200` event stream, not encoded already, answering a request whose `Accept-Encoding` takes
//! gzip, with a body framed by chunked coding or by the end of the connection (a body with a
//! `Content-Length` would need a new length). Every other response passes as it is, and the
//! tap follows the requests and responses of a keep-alive connection one by one to know which
//! is which: [`NoFlushGzip::request`] reads what the client sends, [`NoFlushGzip::response`]
//! rewrites what the server sends. After a `101`, an HTTP/2 connection preface (h2c, whose
//! responses are frames, not heads), a server that speaks before it is asked, or anything the
//! tap cannot read as HTTP/1.1, the rest of the connection passes unread, both ways.
//!
//! The response's head gets `Content-Encoding: gzip`; its body is de-chunked, compressed, and
//! what the compressor gives out is sent on, in chunks of its own when the body was chunked.
//! The chunked body's end (or, for a body that ends with the connection, the connection's
//! clean end) finishes the compressor: its last block and the gzip trailer go out then,
//! followed by a last chunk of the tap's own (any trailer fields the server sent are dropped).
//! A body that breaks (a chunk-size line that is not one, a reset) is never finished: a
//! complete gzip stream would tell the client it got the whole response.

use std::collections::VecDeque;

use sse::gzip::{Flush, GzipEncoder};

use super::Direction;

/// The most requests waiting for their responses that the fault follows; past it, the
/// connection passes unread, so that a client pipelining requests cannot make it hold more.
const MAX_WAITING: usize = 64;
use super::annotator::PREFACE_HEAD;
use super::http::{Body, HeadRead, HeadReader, Start, read_head};

/// One direction's place among its HTTP messages.
#[derive(Debug)]
enum Place {
    /// Reading a head.
    Head(HeadReader),
    /// Inside a body.
    Body(Body),
    /// Everything passes unread (see the module documentation for when).
    Blind,
}

impl Place {
    fn head() -> Place {
        Place::Head(HeadReader::new())
    }
}

/// The response being compressed.
struct Compressing {
    encoder: GzipEncoder,
    /// The body was chunked, and so is what replaces it.
    chunked: bool,
    /// Bytes into the compressor and out of it, so far.
    taken: u64,
    given: u64,
}

/// The state of `no-flush-gzip` on one connection.
pub(super) struct NoFlushGzip {
    requests: Place,
    /// For each request whose response has not begun: its method, and whether its
    /// `Accept-Encoding` takes gzip. Oldest first.
    asked: VecDeque<(String, bool)>,
    responses: Place,
    /// The part of a response head read so far: passed on once the head is whole (it may be
    /// rewritten), or as it is when it turns out not to be one.
    head_so_far: Vec<u8>,
    compressing: Option<Compressing>,
}

impl std::fmt::Debug for NoFlushGzip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoFlushGzip")
            .field("requests", &self.requests)
            .field("asked", &self.asked)
            .field("responses", &self.responses)
            .field("compressing", &self.compressing.is_some())
            .finish()
    }
}

impl NoFlushGzip {
    /// A new connection: both directions start with a head.
    pub(super) fn new() -> Self {
        NoFlushGzip {
            requests: Place::head(),
            asked: VecDeque::new(),
            responses: Place::head(),
            head_so_far: Vec::new(),
            compressing: None,
        }
    }

    /// Reads what the client sent, to learn what each request accepts. The bytes themselves
    /// pass unchanged.
    pub(super) fn request(&mut self, mut input: &[u8]) {
        while !input.is_empty() {
            match &mut self.requests {
                Place::Blind => return,
                Place::Head(reader) => match reader.take(input) {
                    HeadRead::More => return,
                    HeadRead::TooLong => {
                        self.requests = Place::Blind;
                        return;
                    }
                    HeadRead::Done { used, head } => {
                        input = &input[used..];
                        if head == PREFACE_HEAD {
                            // HTTP/2 frames follow, both ways: nothing to rewrite.
                            self.requests = Place::Blind;
                            self.responses = Place::Blind;
                            return;
                        }
                        let Some(head) = read_head(Direction::ToServer, &head) else {
                            self.requests = Place::Blind;
                            return;
                        };
                        let Start::Request { method } = &head.start else {
                            self.requests = Place::Blind;
                            return;
                        };
                        if self.asked.len() >= MAX_WAITING {
                            self.blind();
                            return;
                        }
                        self.asked.push_back((method.clone(), head.accepts_gzip));
                        self.requests = head.body(None).map_or_else(Place::head, Place::Body);
                    }
                },
                Place::Body(body) => {
                    let used = body.feed(input, &mut Vec::new());
                    input = &input[used..];
                    if body.broken() {
                        self.blind();
                        return;
                    }
                    if body.done() {
                        self.requests = Place::head();
                    }
                }
            }
        }
    }

    /// From here on, both directions pass unread.
    fn blind(&mut self) {
        self.requests = Place::Blind;
        self.responses = Place::Blind;
        self.asked.clear();
    }

    /// Takes what the server sent; returns what to pass on instead, and adds a note for each
    /// thing the fault did to `notes`.
    pub(super) fn response(&mut self, mut input: &[u8], notes: &mut Vec<String>) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        while !input.is_empty() {
            match &mut self.responses {
                Place::Blind => {
                    out.append(&mut self.head_so_far);
                    out.extend_from_slice(input);
                    break;
                }
                // A response that answers no request: the server speaks first (an HTTP/2
                // server's SETTINGS, say), and what it says is not for this fault to hold.
                Place::Head(_) if self.asked.is_empty() && self.head_so_far.is_empty() => {
                    self.blind();
                }
                Place::Head(reader) => match reader.take(input) {
                    HeadRead::More => {
                        self.head_so_far.extend_from_slice(input);
                        break;
                    }
                    HeadRead::TooLong => {
                        out.append(&mut self.head_so_far);
                        out.extend_from_slice(input);
                        self.responses = Place::Blind;
                        break;
                    }
                    HeadRead::Done { used, head } => {
                        input = &input[used..];
                        self.head_so_far.clear();
                        self.on_head(head, &mut out, notes);
                    }
                },
                Place::Body(body) => {
                    let used = body.feed(input, &mut Vec::new());
                    if body.broken() {
                        // What follows a broken chunked body is not a head: pass it all on,
                        // and leave a compressed body unfinished.
                        if self.compressing.take().is_some() {
                            notes.push(
                                "the body's chunked framing broke: gzip left unfinished, the \
                                 rest passed on as it is"
                                    .into(),
                            );
                        }
                        out.extend_from_slice(input);
                        self.blind();
                        break;
                    }
                    let done = body.done();
                    match &mut self.compressing {
                        Some(compressing) => {
                            let plain = body.take_kept();
                            if !plain.is_empty() {
                                let packed = compressing.encoder.encode(&plain);
                                compressing.taken += plain.len() as u64;
                                compressing.given += packed.len() as u64;
                                notes.push(format!(
                                    "{} bytes into gzip, {} out ({} in, {} out so far)",
                                    plain.len(),
                                    packed.len(),
                                    compressing.taken,
                                    compressing.given
                                ));
                                piece(&mut out, &packed, compressing.chunked);
                            }
                            if done {
                                self.finish(&mut out, notes);
                            }
                        }
                        None => out.extend_from_slice(&input[..used]),
                    }
                    if done {
                        self.responses = Place::head();
                    }
                    input = &input[used..];
                }
            }
        }
        out
    }

    /// The server closed its side cleanly (the caller does not call this after a reset or a
    /// cut): a body that the close ends is finished, its compressor's last block and trailer
    /// returned to pass on before the close.
    pub(super) fn end(&mut self, notes: &mut Vec<String>) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.compressing {
            Some(compressing) if !compressing.chunked => self.finish(&mut out, notes),
            // A chunked body cut short stays cut: a finished gzip stream and a last chunk
            // would tell the client it got the whole response.
            _ => out.append(&mut self.head_so_far),
        }
        out
    }

    /// A whole response head: passes it on, rewritten when its body is to be compressed, and
    /// sets what reads the bytes after it.
    fn on_head(&mut self, head: Vec<u8>, out: &mut Vec<u8>, notes: &mut Vec<String>) {
        let Some(parsed) = read_head(Direction::ToClient, &head) else {
            out.extend_from_slice(&head);
            self.responses = Place::Blind;
            return;
        };
        let status = match parsed.start {
            Start::Response { status } => status,
            Start::Request { .. } => 0,
        };
        match status {
            101 => {
                out.extend_from_slice(&head);
                self.blind();
                return;
            }
            // An interim response: the final one, which answers the request, follows.
            100..=199 => {
                out.extend_from_slice(&head);
                self.responses = Place::head();
                return;
            }
            _ => {}
        }
        let (method, accepts_gzip) = self.asked.pop_front().unwrap_or_default();
        let Some(body) = parsed.body(Some(&method)) else {
            out.extend_from_slice(&head);
            self.responses = Place::head();
            return;
        };
        let eligible =
            status == 200 && parsed.is_event_stream() && !parsed.encoded && body.has_no_length();
        if eligible && !accepts_gzip {
            notes.push(
                "the request's Accept-Encoding does not take gzip: passed on as it is".into(),
            );
        }
        if !(eligible && accepts_gzip) {
            out.extend_from_slice(&head);
            self.responses = Place::Body(body);
            return;
        }
        // The new header goes just before the empty line that ends the head, which may be a
        // bare LF (RFC 9112 §2.2 lets a recipient accept one, and the head reader does).
        let empty_line = if head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\r\n") {
            2
        } else {
            1
        };
        out.extend_from_slice(&head[..head.len() - empty_line]);
        out.extend_from_slice(b"Content-Encoding: gzip\r\n\r\n");
        notes.push("Content-Encoding: gzip added; the body is compressed and never flushed".into());
        self.compressing = Some(Compressing {
            encoder: GzipEncoder::new(Flush::Never),
            chunked: body.is_chunked(),
            taken: 0,
            given: 0,
        });
        self.responses = Place::Body(body.keeping());
    }

    /// Finishes the compressed body: the compressor's last block and trailer, and the last
    /// chunk when the body is chunked.
    fn finish(&mut self, out: &mut Vec<u8>, notes: &mut Vec<String>) {
        let Some(mut compressing) = self.compressing.take() else {
            return;
        };
        let tail = compressing.encoder.finish();
        compressing.given += tail.len() as u64;
        notes.push(format!(
            "the body ended: gzip finished with {} bytes ({} in, {} out in all)",
            tail.len(),
            compressing.taken,
            compressing.given
        ));
        piece(out, &tail, compressing.chunked);
        if compressing.chunked {
            out.extend_from_slice(b"0\r\n\r\n");
        }
    }
}

/// Appends `bytes` to `out`, as a chunk of its own when `chunked` (an empty piece is nothing:
/// an empty chunk would end the body).
fn piece(out: &mut Vec<u8>, bytes: &[u8], chunked: bool) {
    if bytes.is_empty() {
        return;
    }
    if chunked {
        out.extend_from_slice(format!("{:x}\r\n", bytes.len()).as_bytes());
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sse::gzip::GzipDecoder;

    const REQUEST: &[u8] = b"GET /events HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n";

    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                          Transfer-Encoding: chunked\r\n\r\n";

    fn chunk(data: &[u8]) -> Vec<u8> {
        let mut out = format!("{:x}\r\n", data.len()).into_bytes();
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
        out
    }

    /// The data of a chunked body, and whether it had its last chunk.
    fn dechunk(mut body: &[u8]) -> (Vec<u8>, bool) {
        let mut data = Vec::new();
        loop {
            let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") else {
                return (data, false);
            };
            let size = std::str::from_utf8(&body[..line_end]).expect("size line");
            let size = usize::from_str_radix(size, 16).expect("hex size");
            if size == 0 {
                return (data, body[line_end..] == *b"\r\n\r\n");
            }
            let start = line_end + 2;
            data.extend_from_slice(&body[start..start + size]);
            body = &body[start + size + 2..];
        }
    }

    fn inflate(compressed: &[u8]) -> Vec<u8> {
        let mut plain = Vec::new();
        GzipDecoder::default()
            .decode(compressed, |part| plain.extend_from_slice(part))
            .expect("gzip");
        plain
    }

    #[test]
    fn small_events_are_held_until_the_body_ends_then_arrive_whole() {
        let mut gzip = NoFlushGzip::new();
        let mut notes = Vec::new();
        gzip.request(REQUEST);
        let head = gzip.response(HEAD, &mut notes);
        let head = String::from_utf8(head).expect("head");
        assert!(
            head.ends_with("\r\nContent-Encoding: gzip\r\n\r\n"),
            "{head}"
        );
        let mut body = Vec::new();
        let mut events = Vec::new();
        for i in 0..10 {
            let event = format!("id: {i}\ndata: price {i}\n\n");
            events.extend_from_slice(event.as_bytes());
            body.extend(gzip.response(&chunk(event.as_bytes()), &mut notes));
        }
        // Ten events in: the compressor has let out its header at most, no event.
        let (held, _) = dechunk(&body);
        assert!(held.len() <= 10, "{} bytes out", held.len());
        body.extend(gzip.response(b"0\r\n\r\n", &mut notes));
        let (compressed, ended) = dechunk(&body);
        assert!(ended, "the last chunk follows the gzip trailer");
        assert_eq!(inflate(&compressed), events);
        assert!(notes.last().expect("notes").starts_with("the body ended"));
    }

    #[test]
    fn a_body_that_the_close_ends_is_finished_at_the_close() {
        let mut gzip = NoFlushGzip::new();
        let mut notes = Vec::new();
        gzip.request(REQUEST);
        let head =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
        let mut out = gzip.response(head, &mut notes);
        let head_len = out.len();
        out.extend(gzip.response(b"data: one\n\n", &mut notes));
        out.extend(gzip.end(&mut notes));
        assert_eq!(inflate(&out[head_len..]), b"data: one\n\n");
    }

    #[test]
    fn what_was_not_asked_for_or_is_not_an_event_stream_passes_as_it_is() {
        let mut gzip = NoFlushGzip::new();
        let mut notes = Vec::new();
        // A page, then an event stream, on one keep-alive connection, for a client that
        // takes no gzip: both pass untouched.
        gzip.request(b"GET / HTTP/1.1\r\n\r\nGET /events HTTP/1.1\r\n\r\n");
        let page = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nhi";
        assert_eq!(gzip.response(page, &mut notes), page);
        let stream = [HEAD, &chunk(b"data: x\n\n")].concat();
        assert_eq!(gzip.response(&stream, &mut notes), stream);
        assert_eq!(notes.len(), 1, "{notes:?}");
        // A POST with a body, then an event stream for a client that takes gzip: the body is
        // skipped, the stream compressed.
        let mut gzip = NoFlushGzip::new();
        let post = b"POST /chat HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd";
        gzip.request(&[&post[..], REQUEST].concat());
        let created = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(gzip.response(created, &mut notes), created);
        let head = gzip.response(HEAD, &mut notes);
        assert!(head.ends_with(b"Content-Encoding: gzip\r\n\r\n"));
        // After a 101, nothing is read.
        let mut gzip = NoFlushGzip::new();
        gzip.request(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        let switched = b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x02hi";
        assert_eq!(gzip.response(switched, &mut notes), switched);
    }

    #[test]
    fn a_head_with_bare_line_feeds_gets_the_header_on_a_line_of_its_own() {
        for head in [
            &b"HTTP/1.1 200 OK\nContent-Type: text/event-stream\nTransfer-Encoding: chunked\n\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\n",
        ] {
            let mut gzip = NoFlushGzip::new();
            gzip.request(REQUEST);
            let out = gzip.response(head, &mut Vec::new());
            let text = String::from_utf8(out).expect("head");
            assert!(
                text.contains("chunked\r\nContent-Encoding: gzip\r\n\r\n")
                    || text.contains("chunked\nContent-Encoding: gzip\r\n\r\n"),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_broken_chunked_body_is_left_unfinished_and_the_rest_passes() {
        let mut gzip = NoFlushGzip::new();
        let mut notes = Vec::new();
        gzip.request(REQUEST);
        gzip.response(HEAD, &mut notes);
        let mut out = gzip.response(&chunk(b"data: one\n\n"), &mut notes);
        out.extend(gzip.response(b"zz\r\nrest", &mut notes));
        assert!(out.ends_with(b"rest"), "the rest as it came");
        assert!(!out.windows(5).any(|w| w == b"0\r\n\r\n"), "no last chunk");
        assert!(notes.last().expect("notes").contains("broke"));
        assert!(
            gzip.end(&mut notes).is_empty(),
            "nothing finished at the end"
        );
    }

    #[test]
    fn after_a_101_or_too_many_waiting_requests_nothing_is_read() {
        let mut gzip = NoFlushGzip::new();
        gzip.request(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
        gzip.response(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", &mut Vec::new());
        // WebSocket frames that happen to look like requests are not taken for them.
        gzip.request(REQUEST);
        assert!(gzip.asked.is_empty());
        let mut gzip = NoFlushGzip::new();
        for _ in 0..=MAX_WAITING {
            gzip.request(REQUEST);
        }
        assert!(
            gzip.asked.is_empty(),
            "blind past {MAX_WAITING} waiting requests"
        );
        assert_eq!(gzip.response(HEAD, &mut Vec::new()), HEAD);
    }

    #[test]
    fn a_server_that_speaks_first_passes_unread() {
        let mut gzip = NoFlushGzip::new();
        let settings = b"\0\0\0\x04\0\0\0\0\0";
        assert_eq!(gzip.response(settings, &mut Vec::new()), settings);
        gzip.request(REQUEST);
        assert_eq!(gzip.response(HEAD, &mut Vec::new()), HEAD);
    }

    #[test]
    fn http2_in_clear_text_passes_unread() {
        let mut gzip = NoFlushGzip::new();
        let mut notes = Vec::new();
        gzip.request(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0");
        // The server's SETTINGS frame: no head, passed on at once.
        let settings = b"\0\0\0\x04\0\0\0\0\0";
        assert_eq!(gzip.response(settings, &mut notes), settings);
        assert!(notes.is_empty());
    }

    #[test]
    fn a_head_split_across_reads_is_rewritten_whole() {
        let mut gzip = NoFlushGzip::new();
        let mut notes = Vec::new();
        gzip.request(REQUEST);
        let mut out = Vec::new();
        for byte in HEAD.chunks(1) {
            out.extend(gzip.response(byte, &mut notes));
        }
        assert!(out.ends_with(b"Content-Encoding: gzip\r\n\r\n"));
        assert_eq!(out.len(), HEAD.len() + b"Content-Encoding: gzip\r\n".len());
    }
}
