//! A virtual waiting room: each client's place in the queue, pushed over Server-Sent Events,
//! resumed after a reconnection without a gap.
//!
//! Ticket sellers put visitors in a queue and show each one "you are number 7". The server
//! admits one visitor every `interval`; every admission moves everyone's position, and each
//! client must see every position, in order, even if its connection drops on the way.
//!
//! - `POST /waiting-room/join` gives a ticket: `{"ticket":T,"serving":S}`.
//! - `GET /waiting-room/events?ticket=T` streams the ticket's positions. Each event's `id` is
//!   the number being served when it was sent, and its data is
//!   `{"ticket":T,"serving":N,"position":T-N}`. The last one has the type `your-turn`.
//!
//! Resuming needs no history here, because a position is a function of the number being
//! served: a client that reconnects with `Last-Event-ID: 5` gets the events for 6, 7, ... up
//! to now, computed again, and then the live ones. (The ticker keeps a history instead,
//! because prices cannot be recomputed. Either way, the id is what makes resuming possible.)
//!
//! When it is the client's turn the stream ends. `EventSource` treats the end of a stream like
//! a dropped connection and reconnects; this time the server answers `204 No Content`, the one
//! answer that makes `EventSource` stop for good (HTML §9.2.3: any status but 200 fails the
//! connection; 204 is the conventional one). A WebSocket client would need its own message
//! for "stop" and its own code to obey it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use http::{Method, StatusCode};
use sse::Event;
use tokio::sync::{mpsc, watch};

use crate::server::{self, Conn, Request, Response};

/// The reconnection time sent to clients.
pub const RETRY: Duration = Duration::from_millis(1000);

/// The event type of the last event of a ticket's stream.
pub const YOUR_TURN: &str = "your-turn";

/// The queue: the number being served, and the last ticket given out.
#[derive(Debug)]
pub struct WaitingRoom {
    serving: watch::Sender<u64>,
    issued: AtomicU64,
}

// ANCHOR: position_event
/// The event for `ticket` when `serving` is being served.
pub fn position_event(ticket: u64, serving: u64) -> Event {
    let data = serde_json::json!({
        "ticket": ticket,
        "serving": serving,
        "position": ticket.saturating_sub(serving),
    });
    let event = Event::new().data(data.to_string());
    let event = if serving >= ticket {
        event.event(YOUR_TURN)
    } else {
        Ok(event)
    };
    // Neither a number nor a constant type holds a line break, so neither call can fail.
    event
        .and_then(|event| event.id(serving.to_string()))
        .unwrap_or_default()
}
// ANCHOR_END: position_event

impl WaitingRoom {
    /// Opens the room: one visitor admitted every `interval`, while anyone waits. The task
    /// stops when the room is dropped.
    pub fn start(interval: Duration) -> Arc<WaitingRoom> {
        let room = Arc::new(WaitingRoom {
            serving: watch::channel(0).0,
            issued: AtomicU64::new(0),
        });
        let weak: Weak<WaitingRoom> = Arc::downgrade(&room);
        tokio::spawn(async move {
            let mut clock = tokio::time::interval(interval);
            clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                clock.tick().await;
                let Some(room) = weak.upgrade() else { break };
                let issued = room.issued.load(Ordering::Relaxed);
                room.serving.send_if_modified(|serving| {
                    let admit = *serving < issued;
                    *serving += u64::from(admit);
                    admit
                });
            }
        });
        room
    }

    /// Gives out the next ticket.
    pub fn join(&self) -> u64 {
        self.issued.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The number being served.
    pub fn serving(&self) -> u64 {
        *self.serving.borrow()
    }

    /// Answers `POST /waiting-room/join` and `GET /waiting-room/events?ticket=T`.
    pub async fn handle(self: Arc<Self>, request: Request, conn: Conn) -> Response {
        match (request.method(), request.uri().path()) {
            (&Method::POST, "/waiting-room/join") => {
                let ticket = self.join();
                let body = serde_json::json!({"ticket": ticket, "serving": self.serving()});
                server::json(StatusCode::OK, &body)
            }
            (&Method::GET, "/waiting-room/events") => self.events(&request, &conn),
            _ => server::not_found(),
        }
    }

    // ANCHOR: events
    fn events(self: Arc<Self>, request: &Request, conn: &Conn) -> Response {
        let ticket = server::query_param(request.uri(), "ticket").and_then(|t| t.parse().ok());
        let Some(ticket) = ticket.filter(|t| (1..=self.issued.load(Ordering::Relaxed)).contains(t))
        else {
            return server::full(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                "no such ticket: POST /waiting-room/join first\n",
            );
        };
        // An id we did not send (a number past the ticket, or not a number) is ignored:
        // the client starts over from the present.
        let resume = sse::server::last_event_id(request)
            .and_then(|id| id.parse::<u64>().ok())
            .filter(|&id| id <= ticket);
        if resume == Some(ticket) {
            // The client has seen its turn: tell EventSource to stop reconnecting.
            let mut response = server::full(StatusCode::NO_CONTENT, "text/plain", "");
            response.headers_mut().remove(http::header::CONTENT_TYPE);
            return response;
        }
        let (sender, receiver) = mpsc::channel(16);
        let mut serving = self.serving.subscribe();
        let first = resume.map_or_else(|| self.serving().min(ticket), |seen| seen + 1);
        tokio::spawn(async move {
            let mut next = first;
            while next <= ticket {
                let now = tokio::select! {
                    now = serving.wait_for(|&now| now >= next) => match now {
                        Ok(now) => (*now).min(ticket),
                        Err(_) => break,
                    },
                    () = sender.closed() => break,
                };
                for n in next..=now {
                    if sender.send(position_event(ticket, n)).await.is_err() {
                        return;
                    }
                }
                next = now + 1;
            }
        });
        server::sse(conn, server::channel_stream(receiver), Some(RETRY))
    }
    // ANCHOR_END: events
}
