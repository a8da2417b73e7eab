//! Which connections belong to which page: every request of a demo page declares
//! `?session=S&transport=T`, and `/stats?session=S` sums the server's byte counts of that
//! page's connections per transport.
//!
//! The examples' server counts bytes per connection and knows nothing of pages; this file ties
//! the two together by connection number. Each page load draws a random session name, so two
//! tabs of one page count apart.
//!
//! Everything in a tag comes from a peer, so a tag holds a bounded amount of it: at most
//! [`MAX_TAG_LEN`] bytes of session and of transport and
//! [`MAX_ID_LEN`](sse::history::MAX_ID_LEN) bytes of `Last-Event-ID` (with the length of the
//! whole id, so that `/stats` tells a cut id from a whole one), and only for as long as the
//! server reports the connection (every open one and a fixed number of closed ones).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use sse::history::bounded_id;
use wirelab_examples::server::{self, Conn, Request, Server};

/// The longest `session` or `transport` the demo records. The pages draw 8-character session
/// names and name their transports with a word (`sse`, `ws`, `post`, `progress`, ...); a
/// longer one comes from no page, and its request is answered but not counted.
const MAX_TAG_LEN: usize = 32;

/// What a connection's request declared about itself.
#[derive(Debug)]
struct Tag {
    /// Who: one page load.
    session: String,
    /// How: `sse`, `ws`, `post`, ...
    transport: String,
    /// The `Last-Event-ID` an event-stream request carried (at most `MAX_ID_LEN` bytes of
    /// it) and the length of the whole id: `/stats` reports both, which is how the browser
    /// tests know, from the receiving side, what the browser sent.
    last_event_id: Option<(String, usize)>,
}

/// The tags of the server's connections.
pub(super) struct Sessions {
    server: Server,
    tags: Mutex<BTreeMap<u64, Tag>>,
}

impl Sessions {
    /// No connection tagged yet, on `server`.
    pub(super) fn new(server: Server) -> Self {
        Sessions {
            server,
            tags: Mutex::new(BTreeMap::new()),
        }
    }

    fn tags(&self) -> MutexGuard<'_, BTreeMap<u64, Tag>> {
        // Every update of the map is one statement, so a poisoned lock holds nothing half-done.
        self.tags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    // ANCHOR: tag
    /// Records the request's `session` and `transport` query parameters (if both are present
    /// and at most [`MAX_TAG_LEN`] bytes), and its `Last-Event-ID` header, against the
    /// connection it came on. Returns the session and transport recorded.
    pub(super) fn tag(&self, request: &Request, conn: &Conn) -> Option<(String, String)> {
        let param = |name| {
            server::query_param(request.uri(), name).filter(|value| value.len() <= MAX_TAG_LEN)
        };
        let (Some(session), Some(transport)) = (param("session"), param("transport")) else {
            return None;
        };
        // The ids this server gives out are numbers of at most `MAX_ID_LEN` digits, and those
        // are kept whole. A longer id is none of ours: its first `MAX_ID_LEN` bytes say in
        // `/stats` what it began with, and keeping more would let a client choose how much the
        // demo holds for as long as the tag lives.
        let last_event_id =
            sse::server::last_event_id(request).map(|id| (bounded_id(id).to_owned(), id.len()));
        // The server reports every open connection and a bounded number of closed ones; a tag
        // for a connection it no longer reports would never be read again. (Tags newer than
        // the oldest reported connection are not enough: one long-lived stream would keep
        // every tag after it.)
        let reported: Vec<u64> = self.server.connections().iter().map(|c| c.id).collect();
        let mut tags = self.tags();
        tags.retain(|id, _| reported.binary_search(id).is_ok());
        let tag = Tag {
            session: session.clone(),
            transport: transport.clone(),
            last_event_id,
        };
        tags.insert(conn.id(), tag);
        Some((session, transport))
    }
    // ANCHOR_END: tag

    // ANCHOR: stats
    /// `/stats?session=S`: per transport, the connections tagged with the session and their
    /// bytes, summed.
    pub(super) fn stats(&self, session: &str) -> serde_json::Value {
        let connections = self.server.connections();
        let tags = self.tags();
        let mut transports = serde_json::Map::new();
        for conn in connections {
            let Some(tag) = tags.get(&conn.id).filter(|t| t.session == session) else {
                continue;
            };
            let entry = transports.entry(&tag.transport).or_insert_with(|| {
                serde_json::json!({
                    "connections": 0, "open": 0, "read": 0, "written": 0,
                    "last_event_ids": [], "last_event_id_lengths": []
                })
            });
            let add = |entry: &mut serde_json::Value, key: &str, n: u64| {
                entry[key] = (entry[key].as_u64().unwrap_or(0) + n).into();
            };
            add(entry, "connections", 1);
            add(entry, "open", u64::from(conn.open));
            add(entry, "read", conn.read);
            add(entry, "written", conn.written);
            if let Some((id, len)) = &tag.last_event_id {
                if let Some(ids) = entry["last_event_ids"].as_array_mut() {
                    ids.push(id.as_str().into());
                }
                if let Some(lengths) = entry["last_event_id_lengths"].as_array_mut() {
                    lengths.push((*len).into());
                }
            }
        }
        serde_json::json!({
            "session": session,
            "slow_ms": u64::try_from(self.server.slow().as_millis()).unwrap_or(u64::MAX),
            "transports": transports,
        })
    }
    // ANCHOR_END: stats

    /// Cuts the open connections tagged with `session`. Returns how many were cut.
    pub(super) fn cut(&self, session: &str) -> usize {
        let ids: Vec<u64> = self
            .tags()
            .iter()
            .filter(|(_, tag)| tag.session == session)
            .map(|(id, _)| *id)
            .collect();
        self.server.cut_where(|id| ids.contains(&id))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http::StatusCode;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use sse::history::MAX_ID_LEN;

    /// What the tags hold: each record, and the bytes of it a peer chose.
    fn held_bytes(sessions: &Sessions) -> usize {
        sessions
            .tags()
            .values()
            .map(|tag| {
                size_of::<(u64, Tag)>()
                    + tag.session.len()
                    + tag.transport.len()
                    + tag.last_event_id.as_ref().map_or(0, |(id, _)| id.len())
            })
            .sum()
    }

    /// One request on its own connection, answered and closed.
    async fn get(addr: std::net::SocketAddr, path: &str, last_event_id: &str) {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nLast-Event-ID: {last_event_id}\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("read");
        assert!(response.starts_with(b"HTTP/1.1 200"), "{path}");
    }

    // ANCHOR: test_records
    #[tokio::test]
    async fn what_a_peer_sends_is_held_in_bounded_records() {
        let server = Server::new();
        server.one_request_per_connection(true);
        let sessions = Arc::new(Sessions::new(server.clone()));
        let tagger = sessions.clone();
        let handler = server::handler(move |request, conn| {
            tagger.tag(&request, &conn);
            async { server::full(StatusCode::OK, "text/plain", "") }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(server::serve(listener, server.clone(), handler));

        // One connection stays open for the whole test, older than all the others.
        let _open = TcpStream::connect(addr).await.expect("connect");
        // More requests than the server reports closed connections, each with an id that
        // fills most of the 16 KiB a request head may have.
        let long_id = "9".repeat(15 * 1024);
        for _ in 0..1100 {
            get(addr, "/static/demo.css?session=s&transport=css", &long_id).await;
        }
        // A session or transport no page would send is not recorded.
        let long = "x".repeat(MAX_TAG_LEN + 1);
        get(addr, &format!("/?session={long}&transport=css"), "1").await;
        get(addr, &format!("/?session=t&transport={long}"), "1").await;
        // An id this server could have given out is kept whole.
        get(addr, "/?session=u&transport=sse", "42").await;

        let reported = server.connections().len();
        assert!(sessions.tags().len() <= reported);
        let bound = reported * (size_of::<(u64, Tag)>() + 2 * MAX_TAG_LEN + MAX_ID_LEN);
        let held = held_bytes(&sessions);
        assert!(held <= bound, "{held} bytes held, more than {bound}");
        println!("{} tags hold {held} bytes", sessions.tags().len());
        // 1,100 ids of 15 KiB would be 16 MiB.
        assert!(held < 1 << 20, "{held} bytes held");

        let ids = &sessions.stats("s")["transports"]["css"]["last_event_ids"];
        let ids = ids.as_array().expect("an array");
        assert!(!ids.is_empty());
        assert!(ids.iter().all(|id| id == &long_id[..MAX_ID_LEN]));
        // Each with the length of the whole id, so that a reader sees it was cut.
        let lengths = &sessions.stats("s")["transports"]["css"]["last_event_id_lengths"];
        let lengths = lengths.as_array().expect("an array");
        assert_eq!(lengths.len(), ids.len());
        assert!(lengths.iter().all(|len| *len == long_id.len()));
        assert_eq!(sessions.stats(&long)["transports"], serde_json::json!({}));
        assert_eq!(sessions.stats("t")["transports"], serde_json::json!({}));
        let ids = &sessions.stats("u")["transports"]["sse"]["last_event_ids"];
        assert_eq!(ids, &serde_json::json!(["42"]));
        let lengths = &sessions.stats("u")["transports"]["sse"]["last_event_id_lengths"];
        assert_eq!(lengths, &serde_json::json!([2]));
    }
    // ANCHOR_END: test_records
}
