//! Friends picking seats together over WebSocket: many clients change shared state, and each
//! sees the others' choices as they happen.
//!
//! This is WebSocket's home ground. Every click goes up on the connection the client already
//! has open, and every change comes down on it to everyone, in the order the server decided
//! it. Two friends clicking the same seat at once cannot both get it: the server is the one
//! place where picks are ordered, the first wins, and the second is told so.
//!
//! `GET /seats/ws?name=N`. Messages are JSON text:
//!
//! - down, on connecting: `{"type":"state","you":"N","seats":[null,"ana",...]}`;
//! - up: `{"type":"pick","seat":3}` and `{"type":"release","seat":3}`;
//! - down, to everyone: `{"type":"picked","seat":3,"by":"ana"}` and
//!   `{"type":"released","seat":3}`; to the picker only: `{"type":"refused","seat":3,"by":"bo"}`
//!   or `{"type":"error","error":"..."}`.
//!
//! A client's seats are released when it disconnects, as a shop releases a held seat, or when
//! it goes silent: the server's keep-alive Ping ([`crate::server::PING_INTERVAL`]) finds a
//! client that neither answers nor reads, and drops it. A client
//! that falls too far behind the updates gets the whole state again.
//!
//! Over SSE, the same app is an event stream for the updates and a POST per click, like the
//! SSE chat; the picks would then be ordered by whichever request the server handled first,
//! exactly as here, so the logic is the same and only the cost per click changes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use http::Method;
use tokio::sync::broadcast;
use websocket::Message;

use crate::server::{self, Conn, Request, Response, Ws};

/// Seats in the room.
pub const SEATS: usize = 24;

#[derive(Debug, Clone)]
struct Holder {
    /// The connection that holds the seat, so that two clients with one name stay apart.
    client: u64,
    name: String,
}

/// The seat map and its updates.
#[derive(Debug)]
pub struct Seats {
    seats: Mutex<Vec<Option<Holder>>>,
    updates: broadcast::Sender<String>,
    next_client: AtomicU64,
}

impl Default for Seats {
    fn default() -> Self {
        Seats {
            seats: Mutex::new(vec![None; SEATS]),
            updates: broadcast::channel(256).0,
            next_client: AtomicU64::new(1),
        }
    }
}

/// What a client asked for.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    Pick(usize),
    Release(usize),
}

fn parse(text: &str) -> Result<Action, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let seat = value
        .get("seat")
        .and_then(serde_json::Value::as_u64)
        .and_then(|s| usize::try_from(s).ok())
        .filter(|&s| s < SEATS)
        .ok_or_else(|| format!("\"seat\" must be a number from 0 to {}", SEATS - 1))?;
    match value.get("type").and_then(serde_json::Value::as_str) {
        Some("pick") => Ok(Action::Pick(seat)),
        Some("release") => Ok(Action::Release(seat)),
        _ => Err("\"type\" must be \"pick\" or \"release\"".into()),
    }
}

impl Seats {
    /// An empty room.
    pub fn new() -> Arc<Seats> {
        Arc::new(Seats::default())
    }

    fn seats(&self) -> MutexGuard<'_, Vec<Option<Holder>>> {
        // Each update is a single assignment: a poisoned lock holds nothing half-done.
        self.seats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn state_json(&self, you: &str) -> String {
        let seats: Vec<Option<String>> = self
            .seats()
            .iter()
            .map(|s| s.as_ref().map(|h| h.name.clone()))
            .collect();
        serde_json::json!({"type": "state", "you": you, "seats": seats}).to_string()
    }

    // ANCHOR: apply
    /// Applies one request from `client`; returns the reply for that client only, if any.
    /// Updates for everyone go to the broadcast channel, sent while the seat map is locked so
    /// that every client sees the changes in the order they were made.
    fn apply(&self, client: u64, name: &str, text: &str) -> Option<String> {
        let request = match parse(text) {
            Ok(request) => request,
            Err(error) => {
                return Some(serde_json::json!({"type": "error", "error": error}).to_string());
            }
        };
        let mut seats = self.seats();
        match request {
            Action::Pick(seat) => match &seats[seat] {
                Some(holder) if holder.client != client => Some(
                    serde_json::json!({"type": "refused", "seat": seat, "by": holder.name})
                        .to_string(),
                ),
                Some(_) => None,
                None => {
                    seats[seat] = Some(Holder {
                        client,
                        name: name.to_owned(),
                    });
                    let _ = self.updates.send(
                        serde_json::json!({"type": "picked", "seat": seat, "by": name}).to_string(),
                    );
                    None
                }
            },
            Action::Release(seat) => {
                if seats[seat].as_ref().is_some_and(|h| h.client == client) {
                    seats[seat] = None;
                    let _ = self
                        .updates
                        .send(serde_json::json!({"type": "released", "seat": seat}).to_string());
                }
                None
            }
        }
    }
    // ANCHOR_END: apply

    // ANCHOR: release_all
    fn release_all(&self, client: u64) {
        let mut seats = self.seats();
        for (seat, holder) in seats.iter_mut().enumerate() {
            if holder.as_ref().is_some_and(|h| h.client == client) {
                *holder = None;
                let _ = self
                    .updates
                    .send(serde_json::json!({"type": "released", "seat": seat}).to_string());
            }
        }
    }
    // ANCHOR_END: release_all

    /// Answers `GET /seats/ws`.
    pub async fn handle(self: Arc<Self>, mut request: Request, conn: Conn) -> Response {
        if request.method() != Method::GET || request.uri().path() != "/seats/ws" {
            return server::not_found();
        }
        let client = self.next_client.fetch_add(1, Ordering::Relaxed);
        let name: String = server::query_param(request.uri(), "name")
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(24)
            .collect();
        let name = if name.trim().is_empty() {
            format!("guest-{client}")
        } else {
            name
        };
        server::websocket(&mut request, &conn, move |ws, conn| {
            self.ws_session(ws, conn, client, name)
        })
    }

    // ANCHOR: ws_session
    async fn ws_session(self: Arc<Self>, ws: Ws, conn: Conn, client: u64, name: String) {
        // Subscribe before reading the state, so no update falls between the two.
        let mut updates = self.updates.subscribe();
        let state = self.state_json(&name);
        let (mut receiver, mut sender) = ws.split();
        if server::send(&mut sender, Message::Text(state))
            .await
            .is_ok()
        {
            loop {
                let reply = tokio::select! {
                    update = updates.recv() => match update {
                        Ok(update) => update,
                        Err(broadcast::error::RecvError::Lagged(_)) => self.state_json(&name),
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                    message = receiver.recv() => match message {
                        Ok(Some(Message::Text(text))) => {
                            let reply = server::pong_for(&text)
                                .or_else(|| self.apply(client, &name, &text));
                            match reply {
                                Some(reply) => reply,
                                None => continue,
                            }
                        }
                        Ok(Some(Message::Close(_)) | None) | Err(_) => break,
                        Ok(Some(_)) => continue,
                    },
                };
                conn.pace().await;
                if server::send(&mut sender, Message::Text(reply))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
        self.release_all(client);
    }
    // ANCHOR_END: ws_session
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_pick_wins_and_leaving_releases() {
        let seats = Seats::default();
        let mut updates = seats.updates.subscribe();
        assert_eq!(seats.apply(1, "ana", r#"{"type":"pick","seat":3}"#), None);
        let refused = seats.apply(2, "bo", r#"{"type":"pick","seat":3}"#);
        assert_eq!(
            refused.as_deref(),
            Some(r#"{"by":"ana","seat":3,"type":"refused"}"#)
        );
        assert_eq!(seats.apply(2, "bo", r#"{"type":"release","seat":3}"#), None);
        assert!(
            seats
                .apply(2, "bo", r#"{"type":"pick","seat":24}"#)
                .is_some()
        );
        assert!(seats.apply(2, "bo", "pick 3").is_some());
        seats.release_all(1);
        let seen: Vec<String> = std::iter::from_fn(|| updates.try_recv().ok()).collect();
        assert_eq!(
            seen,
            [
                r#"{"by":"ana","seat":3,"type":"picked"}"#,
                r#"{"seat":3,"type":"released"}"#
            ]
        );
    }
}
