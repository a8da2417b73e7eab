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

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::Method;
use websocket::Message;

use crate::backbone::seat_map::{Holder, SeatMap};
use crate::backbone::{Backbone, RedisError};
use crate::server::{self, Conn, Request, Response, Ws};

/// Seats in the room.
pub const SEATS: usize = 24;

/// The seat map and its updates.
#[derive(Debug)]
pub struct Seats {
    map: SeatMap,
    /// Names the clients of this instance apart from every other instance's.
    instance: String,
    next_client: AtomicU64,
}

impl Default for Seats {
    fn default() -> Self {
        Seats::with(&Backbone::Memory)
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

fn error_json(error: &str) -> String {
    serde_json::json!({"type": "error", "error": error}).to_string()
}

impl Seats {
    /// An empty room.
    pub fn new() -> Arc<Seats> {
        Arc::new(Seats::default())
    }

    /// An empty room on `backbone`: with Redis, every instance shares the seats.
    pub fn on(backbone: &Backbone) -> Arc<Seats> {
        Arc::new(Seats::with(backbone))
    }

    fn with(backbone: &Backbone) -> Seats {
        let instance = match backbone {
            Backbone::Memory => "local".to_owned(),
            Backbone::Redis(redis) => redis.instance().to_owned(),
        };
        Seats {
            map: SeatMap::new(backbone, SEATS),
            instance,
            next_client: AtomicU64::new(1),
        }
    }

    async fn state_json(&self, you: &str) -> Result<String, RedisError> {
        let seats: Vec<Option<String>> = self
            .map
            .holders(SEATS)
            .await?
            .into_iter()
            .map(|holder| holder.map(|h| h.name))
            .collect();
        Ok(serde_json::json!({"type": "state", "you": you, "seats": seats}).to_string())
    }

    // ANCHOR: apply
    /// Applies one request from `holder`; returns the reply for that client only, if any.
    /// Updates for everyone go to the seat map's feed, in the order the map decided them.
    async fn apply(&self, holder: &Holder, text: &str) -> Option<String> {
        let outcome = match parse(text) {
            Ok(Action::Pick(seat)) => {
                let picked = serde_json::json!({"type": "picked", "seat": seat, "by": holder.name});
                match self.map.pick(seat, holder, &picked.to_string()).await {
                    Ok(Some(current)) if current.client != holder.client => Ok(Some(
                        serde_json::json!({"type": "refused", "seat": seat, "by": current.name})
                            .to_string(),
                    )),
                    Ok(_) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Ok(Action::Release(seat)) => {
                let released = serde_json::json!({"type": "released", "seat": seat});
                self.map
                    .release(seat, holder, &released.to_string())
                    .await
                    .map(|()| None)
            }
            Err(error) => return Some(error_json(&error)),
        };
        outcome.unwrap_or_else(|e| Some(error_json(&format!("seats unavailable: {e}"))))
    }
    // ANCHOR_END: apply

    // ANCHOR: release_all
    async fn release_all(&self, holder: &Holder) {
        let Ok(holders) = self.map.holders(SEATS).await else {
            return;
        };
        for (seat, current) in holders.iter().enumerate() {
            if current.as_ref() == Some(holder) {
                let released = serde_json::json!({"type": "released", "seat": seat});
                let _ = self.map.release(seat, holder, &released.to_string()).await;
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
        let holder = Holder {
            client: format!("{}-{client}", self.instance),
            name,
        };
        server::websocket(&mut request, &conn, move |ws, conn| {
            self.ws_session(ws, conn, holder)
        })
    }

    // ANCHOR: ws_session
    async fn ws_session(self: Arc<Self>, ws: Ws, conn: Conn, holder: Holder) {
        let (mut receiver, mut sender) = ws.split();
        // Subscribe before reading the state, so no update falls between the two. When the
        // updates end (this client fell behind, or Redis went away), the client gets the
        // whole state again; if that fails too, or the new updates end before giving
        // anything, it is closed with 1013 ("try again later").
        let mut updates = self.map.subscribe().await;
        let mut reply = self
            .state_json(&holder.name)
            .await
            .map(Some)
            .map_err(|_| "seats unavailable");
        let mut fresh = true;
        loop {
            match reply {
                Ok(Some(text)) => {
                    conn.pace().await;
                    if server::send(&mut sender, Message::Text(text))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                Ok(None) => {}
                Err(why) => {
                    let _ = server::close(&mut sender, 1013, why).await;
                    break;
                }
            }
            reply = tokio::select! {
                update = updates.next() => match update {
                    Some(update) => {
                        fresh = false;
                        Ok(Some(update.data_ref().unwrap_or_default().to_owned()))
                    }
                    None if fresh => Err("seat updates unavailable"),
                    None => {
                        fresh = true;
                        updates = self.map.subscribe().await;
                        self.state_json(&holder.name).await.map(Some).map_err(|_| "seats unavailable")
                    }
                },
                message = receiver.recv() => match message {
                    Ok(Some(Message::Text(text))) => match server::pong_for(&text) {
                        Some(pong) => Ok(Some(pong)),
                        None => Ok(self.apply(&holder, &text).await),
                    },
                    Ok(Some(Message::Close(_)) | None) | Err(_) => break,
                    Ok(Some(_)) => Ok(None),
                },
            };
        }
        self.release_all(&holder).await;
    }
    // ANCHOR_END: ws_session
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn first_pick_wins_and_leaving_releases() {
        let seats = Seats::default();
        let mut updates = seats.map.subscribe().await;
        let holder = |client: &str, name: &str| Holder {
            client: client.into(),
            name: name.into(),
        };
        let (ana, bo) = (holder("local-1", "ana"), holder("local-2", "bo"));
        assert_eq!(seats.apply(&ana, r#"{"type":"pick","seat":3}"#).await, None);
        let refused = seats.apply(&bo, r#"{"type":"pick","seat":3}"#).await;
        assert_eq!(
            refused.as_deref(),
            Some(r#"{"by":"ana","seat":3,"type":"refused"}"#)
        );
        assert_eq!(
            seats.apply(&bo, r#"{"type":"release","seat":3}"#).await,
            None
        );
        assert!(
            seats
                .apply(&bo, r#"{"type":"pick","seat":24}"#)
                .await
                .is_some()
        );
        assert!(seats.apply(&bo, "pick 3").await.is_some());
        seats.release_all(&ana).await;
        let mut seen = Vec::new();
        for _ in 0..2 {
            let update = updates.next().await.expect("an update");
            seen.push(update.data_ref().unwrap_or_default().to_owned());
        }
        assert_eq!(
            seen,
            [
                r#"{"by":"ana","seat":3,"type":"picked"}"#,
                r#"{"seat":3,"type":"released"}"#
            ]
        );
    }
}
