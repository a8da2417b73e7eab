//! Fault injection: `wirelab tap --fault F` misbehaves on purpose, as a misconfigured or
//! unlucky proxy does, so that what each protocol's client does about it can be watched.
//!
//! Each fault is one thing proxies and networks really do to long-lived responses:
//!
//! - `buffer`: hold everything the server sends until it ends the connection, then pass it on
//!   at once, as a proxy that buffers responses does (nginx's `proxy_buffering`, on by
//!   default). An event stream's events wait until the stream ends; a WebSocket's `101` never
//!   arrives, so the client's handshake deadline passes;
//! - `idle-cut=N`: close both sides once nothing has crossed either way for N seconds, as a
//!   proxy's or a load balancer's idle timeout does. Keep-alive comments and Pings are what
//!   keep a quiet connection through it;
//! - `cut-mid`: cut the first connection that carries a response in the middle of the second
//!   read of what the server sends after its head: inside an event, or inside a WebSocket
//!   frame. Later connections pass untouched, so that the reconnection can be watched;
//! - `answer=STATUS`: answer every request with `STATUS` (`204`, `503`, ...) and an empty
//!   body, and forward nothing, as a proxy does that has no upstream for the path, or one
//!   that is shedding load;
//! - `no-flush-gzip`: compress each event stream whose client accepts gzip and pass on only
//!   what the compressor lets out, as compressing middleware made for pages does (see
//!   `gzip.rs`). Small events wait for a full DEFLATE block, or for the stream's end.
//!
//! The faults act on what crosses the proxy, never on how it is shown: the annotations are
//! those of the bytes the proxy read, and a `fault:` line says what it did with them.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::gzip::NoFlushGzip;
use super::{Annotator, Direction, MAX_HEAD};

/// The most bytes `buffer` holds; past it, it passes on what it has and holds again, so that
/// a response without an end cannot make the tap hold without limit.
pub const MAX_BUFFERED: usize = 16 << 20;

/// How long `answer=STATUS` waits for a request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A way for the tap to misbehave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Hold what the server sends until it ends the connection (`buffer`).
    Buffer,
    /// Close both sides after this long with nothing crossing (`idle-cut=SECONDS`).
    IdleCut(Duration),
    /// Cut the first response in the middle of its body's second read (`cut-mid`).
    CutMid,
    /// Answer every request with this status and an empty body (`answer=STATUS`).
    Answer(u16),
    /// Compress event streams with gzip, never flushing (`no-flush-gzip`).
    NoFlushGzip,
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, value) = s.split_once('=').unwrap_or((s, ""));
        match (name, value) {
            ("buffer", "") => Ok(Fault::Buffer),
            ("cut-mid", "") => Ok(Fault::CutMid),
            ("no-flush-gzip", "") => Ok(Fault::NoFlushGzip),
            ("idle-cut", seconds) => match seconds.parse::<f64>() {
                Ok(s) if s > 0.0 && s <= 86_400.0 => Ok(Fault::IdleCut(Duration::from_secs_f64(s))),
                _ => Err(format!(
                    "idle-cut=SECONDS wants 0 < SECONDS <= 86400, not {seconds:?}"
                )),
            },
            // A final status only: an informational one would leave the client waiting for
            // the final answer, and a 101 would claim an upgrade nobody made.
            ("answer", status) => match status.parse::<u16>() {
                Ok(code @ 200..=599) => Ok(Fault::Answer(code)),
                _ => Err(format!(
                    "answer=STATUS wants a status from 200 to 599, not {status:?}"
                )),
            },
            _ => Err(format!(
                "unknown fault {s:?}: buffer, idle-cut=SECONDS, cut-mid, answer=STATUS or \
                 no-flush-gzip"
            )),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Buffer => f.write_str("buffer"),
            Fault::IdleCut(after) => write!(f, "idle-cut={}", after.as_secs_f64()),
            Fault::CutMid => f.write_str("cut-mid"),
            Fault::Answer(status) => write!(f, "answer={status}"),
            Fault::NoFlushGzip => f.write_str("no-flush-gzip"),
        }
    }
}

/// What a pump does with the bytes it just read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Forward {
    /// Pass them on.
    All,
    /// Keep them for later (`buffer`).
    Hold,
    /// Pass on this many, then cut the connection (`cut-mid`).
    CutAfter(usize),
    /// Pass on these bytes instead, and show these notes (`no-flush-gzip`).
    Instead { bytes: Vec<u8>, notes: Vec<String> },
}

/// One connection's fault: what each read becomes, and the signal that cuts both directions.
#[derive(Debug)]
pub(super) struct Faulty {
    fault: Option<Fault>,
    /// Whether this connection is the one `cut-mid` cuts: the tap cuts one connection only.
    cut_mid: bool,
    /// `cut-mid`'s progress through the response: its head, then the reads of its body.
    response: Mutex<Response>,
    /// When a byte last crossed, either way (`idle-cut`).
    last_crossed: Mutex<Instant>,
    /// `no-flush-gzip`'s compressor and its reading of both directions.
    gzip: Option<Mutex<NoFlushGzip>>,
    cut: watch::Sender<bool>,
}

/// How far the server's side has got, for `cut-mid`.
#[derive(Debug, Default)]
struct Response {
    /// The last bytes of the head read so far, to find its end across reads.
    tail: Vec<u8>,
    /// The head has ended.
    head_done: bool,
    /// Reads of the body so far.
    body_reads: usize,
}

impl Faulty {
    /// The fault of a new connection. `cut_once` is shared by all of the tap's connections:
    /// the first connection to reach the middle of a body under `cut-mid` takes it.
    pub(super) fn new(fault: Option<Fault>, cut_once: &AtomicBool) -> Faulty {
        let cut_mid = fault == Some(Fault::CutMid) && !cut_once.load(Ordering::SeqCst);
        Faulty {
            fault,
            cut_mid,
            response: Mutex::new(Response::default()),
            last_crossed: Mutex::new(Instant::now()),
            gzip: (fault == Some(Fault::NoFlushGzip)).then(|| Mutex::new(NoFlushGzip::new())),
            cut: watch::Sender::new(false),
        }
    }

    /// What to do with `bytes`, just read in `direction`; `cut_once` as for [`Faulty::new`].
    pub(super) fn forward(
        &self,
        direction: Direction,
        bytes: &[u8],
        cut_once: &AtomicBool,
    ) -> Forward {
        if let Ok(mut last) = self.last_crossed.lock() {
            *last = Instant::now();
        }
        if let Some(Ok(mut gzip)) = self.gzip.as_ref().map(Mutex::lock) {
            return match direction {
                Direction::ToServer => {
                    gzip.request(bytes);
                    Forward::All
                }
                Direction::ToClient => {
                    let mut notes = Vec::new();
                    let bytes = gzip.response(bytes, &mut notes);
                    Forward::Instead { bytes, notes }
                }
            };
        }
        if direction == Direction::ToServer {
            return Forward::All;
        }
        match self.fault {
            Some(Fault::Buffer) => Forward::Hold,
            Some(Fault::CutMid) if self.cut_mid => {
                let Ok(mut response) = self.response.lock() else {
                    return Forward::All;
                };
                if !response.head_done {
                    response.tail.extend_from_slice(bytes);
                    let end = response.tail.windows(4).position(|w| w == b"\r\n\r\n");
                    if let Some(end) = end {
                        response.head_done = true;
                        // What followed the head in the same read is the body's first read.
                        if end + 4 < response.tail.len() {
                            response.body_reads = 1;
                        }
                    } else {
                        let keep = response.tail.len().saturating_sub(3);
                        response.tail.drain(..keep);
                    }
                    return Forward::All;
                }
                response.body_reads += 1;
                if response.body_reads < 2 || cut_once.swap(true, Ordering::SeqCst) {
                    return Forward::All;
                }
                Forward::CutAfter(bytes.len() / 2)
            }
            _ => Forward::All,
        }
    }

    /// `direction` has ended cleanly (its sender closed it: not a reset, a failed write or a
    /// cut): what to pass on before passing the end on, and
    /// notes on it. Only `no-flush-gzip` has anything: the end of a compressed body that the
    /// connection's end ends.
    pub(super) fn end(&self, direction: Direction) -> (Vec<u8>, Vec<String>) {
        let mut notes = Vec::new();
        let bytes = match self.gzip.as_ref().map(Mutex::lock) {
            Some(Ok(mut gzip)) if direction == Direction::ToClient => gzip.end(&mut notes),
            _ => Vec::new(),
        };
        (bytes, notes)
    }

    /// Cuts both directions of the connection.
    pub(super) fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Resolves once the connection is cut.
    pub(super) async fn is_cut(&self) {
        let mut cut = self.cut.subscribe();
        let _ = cut.wait_for(|cut| *cut).await;
    }

    /// Under `idle-cut`, resolves once nothing has crossed for its time (and cuts); under any
    /// other fault, never.
    pub(super) async fn idle_cut(&self) -> Duration {
        let Some(Fault::IdleCut(after)) = self.fault else {
            return std::future::pending().await;
        };
        loop {
            let last = self
                .last_crossed
                .lock()
                .map_or_else(|_| Instant::now(), |l| *l);
            if last.elapsed() >= after {
                self.cut();
                return after;
            }
            tokio::time::sleep_until(last + after).await;
        }
    }
}

/// `answer=STATUS`: reads the request's head, answers `STATUS` with an empty body, and
/// closes, showing both on `lines` as the tap shows any exchange.
pub(super) async fn answer(
    mut client: TcpStream,
    status: u16,
    annotator: &Mutex<Annotator>,
    lines: &mut Vec<(Direction, String)>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let read_head = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            match client.read(&mut buf).await? {
                0 => break,
                n => head.extend_from_slice(&buf[..n]),
            }
        }
        Ok::<_, std::io::Error>(())
    };
    if tokio::time::timeout(HEAD_TIMEOUT, read_head).await.is_err() {
        return Ok(());
    }
    annotate(annotator, Direction::ToServer, &head, lines);
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    // A 204 has no body and so no length (RFC 9110 §8.6); every other status says its
    // body is empty. `Connection: close`: one answer, and the tap is done.
    let length = if status == 204 {
        ""
    } else {
        "Content-Length: 0\r\n"
    };
    let response = format!("HTTP/1.1 {status} {reason}\r\n{length}Connection: close\r\n\r\n");
    annotate(annotator, Direction::ToClient, response.as_bytes(), lines);
    client.write_all(response.as_bytes()).await?;
    client.shutdown().await
}

fn annotate(
    annotator: &Mutex<Annotator>,
    direction: Direction,
    bytes: &[u8],
    lines: &mut Vec<(Direction, String)>,
) {
    if let Ok(mut annotator) = annotator.lock() {
        lines.extend(
            annotator
                .feed(direction, bytes)
                .into_iter()
                .map(|line| (direction, line)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_print_back() {
        for text in [
            "buffer",
            "cut-mid",
            "idle-cut=2",
            "idle-cut=0.5",
            "answer=204",
            "answer=503",
            "no-flush-gzip",
        ] {
            let fault: Fault = text.parse().expect(text);
            assert_eq!(fault.to_string(), text);
        }
        for bad in [
            "",
            "buffer=1",
            "idle-cut=0",
            "idle-cut=x",
            "answer=101",
            "answer=600",
            "drop",
        ] {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
    }

    #[test]
    fn cut_mid_cuts_the_second_body_read_of_one_connection_only() {
        let once = AtomicBool::new(false);
        let faulty = Faulty::new(Some(Fault::CutMid), &once);
        let to_client = |bytes: &[u8]| faulty.forward(Direction::ToClient, bytes, &once);
        assert_eq!(
            faulty.forward(Direction::ToServer, b"GET / HTTP/1.1\r\n\r\n", &once),
            Forward::All
        );
        // The head, across two reads, with the first piece of body after it.
        assert_eq!(to_client(b"HTTP/1.1 200 OK\r"), Forward::All);
        assert_eq!(to_client(b"\n\r\nid: 1\n\n"), Forward::All);
        assert_eq!(to_client(b"id: 2\ndata: x\n\n"), Forward::CutAfter(7));
        // The next connection passes untouched.
        let next = Faulty::new(Some(Fault::CutMid), &once);
        for bytes in [&b"HTTP/1.1 200 OK\r\n\r\n"[..], b"a", b"b", b"c"] {
            assert_eq!(
                next.forward(Direction::ToClient, bytes, &once),
                Forward::All
            );
        }
    }

    #[test]
    fn buffer_holds_what_the_server_sends_only() {
        let once = AtomicBool::new(false);
        let faulty = Faulty::new(Some(Fault::Buffer), &once);
        assert_eq!(
            faulty.forward(Direction::ToServer, b"GET", &once),
            Forward::All
        );
        assert_eq!(
            faulty.forward(Direction::ToClient, b"HTTP", &once),
            Forward::Hold
        );
    }
}
