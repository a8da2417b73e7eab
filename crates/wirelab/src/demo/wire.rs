//! The demo's wire view: a page's own connections, annotated line by line as `wirelab tap`
//! annotates them, streamed to the page at `/wire?session=S`.
//!
//! The examples' server shows every byte its sockets read and write to an observer
//! ([`Server::observe_wire`](wirelab_examples::server::Server::observe_wire)); this file is
//! that observer. A connection's bytes are annotated once its request has been tagged with a
//! page's session ([`WireView::tagged`]): until then its first bytes wait in a small buffer,
//! since the request head that carries the tag is read before the tag is known. A connection
//! whose response starts untagged (a page, a stylesheet, `/stats`, the wire view's own stream)
//! is not annotated at all, so the view never shows itself.
//!
//! Everything here is bounded, as a peer chooses what it sends: the bytes waiting for a tag,
//! the lines kept for a view that opens late, the sessions kept, and the length of a line.
//! Under TLS the sockets carry encrypted records, which the annotator cannot read.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{broadcast, mpsc};
use wirelab_examples::server::{self, Conn, Response, Wire};

use crate::tap::{Annotator, Direction, TapOptions};

/// Bytes a connection may read before its request is tagged: a browser's request head fits.
const MAX_PENDING: usize = 8 * 1024;
/// Lines kept per session, for a view that opens after its page's first connections.
const BACKLOG: usize = 400;
/// Lines a view may fall behind by before it skips ahead (and says so).
const LIVE: usize = 1024;
/// Sessions kept; past it, the one quiet the longest is forgotten.
const MAX_SESSIONS: usize = 64;
/// The longest line sent to a page, in bytes; the tap's own lines are shorter but for payloads.
const MAX_LINE: usize = 240;

/// The annotations of every tagged connection, by the session that tagged it.
pub(super) struct WireView {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    conns: HashMap<u64, ConnWire>,
    sessions: HashMap<String, SessionLog>,
    /// Counts every line published: the sessions' "last used" clock.
    clock: u64,
}

enum ConnWire {
    /// Read before the request was tagged, at most [`MAX_PENDING`] bytes.
    Pending(Vec<u8>),
    /// A page's connection, annotated.
    Watched {
        session: String,
        transport: String,
        annotator: Box<Annotator>,
    },
    /// Not a page's connection: nothing is kept.
    Ignored,
}

struct SessionLog {
    backlog: VecDeque<Arc<str>>,
    live: broadcast::Sender<Arc<str>>,
    last_used: u64,
}

impl WireView {
    pub(super) fn new() -> Self {
        WireView {
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update leaves the maps consistent between statements, so a poisoned lock holds
        // nothing half-done.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    // ANCHOR: observe
    /// What the server's sockets did: called for every read and write of every connection.
    pub(super) fn observe(&self, id: u64, wire: Wire<'_>) {
        let mut state = self.state();
        match wire {
            Wire::Read(bytes) => match state
                .conns
                .entry(id)
                .or_insert(ConnWire::Pending(Vec::new()))
            {
                ConnWire::Pending(buffer) => {
                    let room = MAX_PENDING.saturating_sub(buffer.len());
                    buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
                }
                ConnWire::Watched { .. } => state.annotate(id, Direction::ToServer, bytes),
                ConnWire::Ignored => {}
            },
            Wire::Written(bytes) => match state.conns.get(&id) {
                Some(ConnWire::Watched { .. }) => state.annotate(id, Direction::ToClient, bytes),
                // The response started before any tag: not a page's connection.
                _ => {
                    state.conns.insert(id, ConnWire::Ignored);
                }
            },
            Wire::Closed => {
                if let Some(ConnWire::Watched {
                    session, transport, ..
                }) = state.conns.remove(&id)
                {
                    state.publish(&session, vec![format!("#{id} {transport} closed")]);
                }
            }
        }
    }
    // ANCHOR_END: observe

    /// Connection `id` carries the request of a page's `session`, over `transport`: annotate
    /// it from its first byte on.
    pub(super) fn tagged(&self, id: u64, session: &str, transport: &str) {
        let mut state = self.state();
        let pending = match state.conns.remove(&id) {
            Some(ConnWire::Pending(bytes)) => bytes,
            // Tagged again (HTTP/2 carries many requests) or already decided: leave it.
            Some(other) => {
                state.conns.insert(id, other);
                return;
            }
            None => Vec::new(),
        };
        state.session(session);
        state.conns.insert(
            id,
            ConnWire::Watched {
                session: session.to_owned(),
                transport: transport.to_owned(),
                annotator: Box::new(Annotator::new(TapOptions::default())),
            },
        );
        state.annotate(id, Direction::ToServer, &pending);
    }

    /// `/wire?session=S`: the session's lines so far, then each new one, as an event stream
    /// (one event per line).
    pub(super) fn stream(&self, session: &str, conn: &Conn) -> Response {
        let (backlog, mut live) = {
            let mut state = self.state();
            let log = state.session(session);
            (log.backlog.clone(), log.live.subscribe())
        };
        let (sender, receiver) = mpsc::channel(64);
        tokio::spawn(async move {
            for line in backlog {
                if sender.send(sse::Event::new().data(&*line)).await.is_err() {
                    return;
                }
            }
            loop {
                let line = tokio::select! {
                    line = live.recv() => line,
                    // The page went away: stop waiting for lines nobody will read.
                    () = sender.closed() => return,
                };
                let line = match line {
                    Ok(line) => line.to_string(),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        format!("({n} lines skipped: this view fell behind)")
                    }
                    // The session was forgotten to make room for newer ones.
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if sender.send(sse::Event::new().data(&line)).await.is_err() {
                    return;
                }
            }
        });
        server::sse(conn, server::channel_stream(receiver), None)
    }
}

impl State {
    /// The log of `session`, made if new; the oldest is forgotten past [`MAX_SESSIONS`].
    fn session(&mut self, session: &str) -> &mut SessionLog {
        if !self.sessions.contains_key(session) && self.sessions.len() >= MAX_SESSIONS {
            let oldest = self
                .sessions
                .iter()
                .min_by_key(|(_, log)| log.last_used)
                .map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                self.sessions.remove(&oldest);
                // Its connections stop being annotated; their bytes are no longer anyone's.
                self.conns.retain(|_, conn| {
                    !matches!(conn, ConnWire::Watched { session, .. } if *session == oldest)
                });
            }
        }
        let clock = self.clock;
        self.sessions
            .entry(session.to_owned())
            .or_insert_with(|| SessionLog {
                backlog: VecDeque::new(),
                live: broadcast::channel(LIVE).0,
                last_used: clock,
            })
    }

    /// Annotates `bytes` of connection `id` (a watched one) and publishes the lines.
    fn annotate(&mut self, id: u64, direction: Direction, bytes: &[u8]) {
        let Some(ConnWire::Watched {
            session,
            transport,
            annotator,
        }) = self.conns.get_mut(&id)
        else {
            return;
        };
        if bytes.is_empty() {
            return;
        }
        let arrow = match direction {
            Direction::ToServer => "C->S",
            Direction::ToClient => "S->C",
        };
        let lines: Vec<String> = annotator
            .feed(direction, bytes)
            .into_iter()
            .map(|line| format!("#{id} {transport} {arrow} {line}"))
            .collect();
        let session = session.clone();
        self.publish(&session, lines);
    }

    fn publish(&mut self, session: &str, lines: Vec<String>) {
        self.clock += 1;
        let clock = self.clock;
        let Some(log) = self.sessions.get_mut(session) else {
            return;
        };
        log.last_used = clock;
        for mut line in lines {
            if line.len() > MAX_LINE {
                let mut end = MAX_LINE;
                while !line.is_char_boundary(end) {
                    end -= 1;
                }
                line.truncate(end);
                line.push('…');
            }
            let line: Arc<str> = line.into();
            if log.backlog.len() == BACKLOG {
                log.backlog.pop_front();
            }
            log.backlog.push_back(line.clone());
            // No view open is not an error: the backlog keeps the lines for one.
            let _ = log.live.send(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(view: &WireView, session: &str) -> Vec<String> {
        let mut state = view.state();
        state
            .session(session)
            .backlog
            .iter()
            .map(|l| l.to_string())
            .collect()
    }

    #[test]
    fn a_tagged_connection_is_annotated_from_its_first_byte() {
        let view = WireView::new();
        let head = b"GET /ticker/sse?session=s1&transport=sse HTTP/1.1\r\nHost: x\r\n\r\n";
        view.observe(7, Wire::Read(head));
        view.tagged(7, "s1", "sse");
        view.observe(7, Wire::Written(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"));
        view.observe(7, Wire::Written(b"7\r\ndata:1\n\r\n"));
        view.observe(7, Wire::Closed);
        let lines = lines(&view, "s1");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("#7 sse C->S GET /ticker/sse")),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l == "#7 sse S->C HTTP/1.1 200 OK"),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l.ends_with("data: \"1\"")),
            "{lines:#?}"
        );
        assert_eq!(lines.last().map(String::as_str), Some("#7 sse closed"));
    }

    #[test]
    fn untagged_connections_and_other_sessions_are_not_shown() {
        let view = WireView::new();
        // A stylesheet: its response starts without a tag.
        view.observe(1, Wire::Read(b"GET /static/demo.css HTTP/1.1\r\n\r\n"));
        view.observe(1, Wire::Written(b"HTTP/1.1 200 OK\r\n\r\n"));
        view.observe(1, Wire::Read(b"more"));
        // Another page's connection.
        view.observe(2, Wire::Read(b"GET /chat/events HTTP/1.1\r\n\r\n"));
        view.tagged(2, "other", "sse");
        assert!(lines(&view, "mine").is_empty());
        assert!(!lines(&view, "other").is_empty());
        assert!(matches!(
            view.state().conns.get(&1),
            Some(ConnWire::Ignored)
        ));
    }

    #[test]
    fn what_a_peer_sends_is_held_within_bounds() {
        let view = WireView::new();
        // An endless head before any tag: only the first MAX_PENDING bytes are kept.
        for _ in 0..100 {
            view.observe(3, Wire::Read(&[b'x'; 1024]));
        }
        match view.state().conns.get(&3) {
            Some(ConnWire::Pending(bytes)) => assert_eq!(bytes.len(), MAX_PENDING),
            _ => panic!("pending"),
        }
        // Many sessions: the oldest are forgotten.
        for i in 0..(MAX_SESSIONS as u64 + 10) {
            view.observe(100 + i, Wire::Read(b"GET / HTTP/1.1\r\n\r\n"));
            view.tagged(100 + i, &format!("s{i}"), "sse");
        }
        assert_eq!(view.state().sessions.len(), MAX_SESSIONS);
        // A long header line is cut.
        view.tagged(4, "long", "sse");
        let mut head = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
        head.extend_from_slice(&[b'a'; 5000]);
        head.extend_from_slice(b"\r\n\r\n");
        view.observe(4, Wire::Read(&head));
        let long = lines(&view, "long");
        assert!(long.iter().any(|l| l.contains("X-Long")), "{long:#?}");
        assert!(long.iter().all(|l| l.len() <= MAX_LINE + '…'.len_utf8()));
        // The backlog keeps the last BACKLOG lines.
        view.tagged(5, "many", "sse");
        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        for _ in 0..(BACKLOG + 50) {
            head.extend_from_slice(b"X-A: b\r\n");
        }
        head.extend_from_slice(b"\r\n");
        view.observe(5, Wire::Read(&head));
        assert_eq!(lines(&view, "many").len(), BACKLOG);
    }
}
