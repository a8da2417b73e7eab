//! Which connections belong to which page: every request of a demo page declares
//! `?session=S&transport=T`, and `/stats?session=S` sums the server's byte counts of that
//! page's connections per transport.
//!
//! The examples' server counts bytes per connection and knows nothing of pages; this file ties
//! the two together by connection number. Each page load draws a random session name, so two
//! tabs of one page count apart.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use wirelab_examples::server::{self, Conn, Request, Server};

/// What a connection's request declared about itself.
#[derive(Debug)]
struct Tag {
    /// Who: one page load.
    session: String,
    /// How: `sse`, `ws`, `post`, ...
    transport: String,
    /// The `Last-Event-ID` an event-stream request carried: `/stats` reports it, which is how
    /// the browser tests know, from the receiving side, what the browser sent.
    last_event_id: Option<String>,
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
    /// Records the request's `session` and `transport` query parameters (if both are present),
    /// and its `Last-Event-ID` header, against the connection it came on.
    pub(super) fn tag(&self, request: &Request, conn: &Conn) {
        let session = server::query_param(request.uri(), "session");
        let transport = server::query_param(request.uri(), "transport");
        let (Some(session), Some(transport)) = (session, transport) else {
            return;
        };
        let last_event_id = sse::server::last_event_id(request).map(str::to_owned);
        // The server reports a bounded number of closed connections, oldest first; a tag for
        // one it no longer reports would never be read again.
        let oldest = self.server.connections().first().map_or(0, |c| c.id);
        let mut tags = self.tags();
        tags.retain(|id, _| *id >= oldest);
        let tag = Tag {
            session,
            transport,
            last_event_id,
        };
        tags.insert(conn.id(), tag);
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
                    "connections": 0, "open": 0, "read": 0, "written": 0, "last_event_ids": []
                })
            });
            let add = |entry: &mut serde_json::Value, key: &str, n: u64| {
                entry[key] = (entry[key].as_u64().unwrap_or(0) + n).into();
            };
            add(entry, "connections", 1);
            add(entry, "open", u64::from(conn.open));
            add(entry, "read", conn.read);
            add(entry, "written", conn.written);
            if let (Some(id), Some(ids)) =
                (&tag.last_event_id, entry["last_event_ids"].as_array_mut())
            {
                ids.push(id.as_str().into());
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
