//! WebSocket sessions for handlers: the upgrade, the limits and keep-alive every session
//! gets, and a send that gives up on a peer that does not read.
//!
//! A session is one task, a loop that waits in a `select!` on two things at once: what it
//! has to send (a hub's events, a broadcast) and the client's next message,
//! [`websocket::io::Receiver::recv`]. `recv` is cancel-safe (see "Cancellation" in
//! [`websocket::io`]): when the other branch wins, a message that `recv` had half read stays
//! in the connection for the next call, so the select needs no reading task of its own. And
//! `recv` is where keep-alive lives: while a session waits in its select, a peer silent for
//! [`PING_INTERVAL`] gets a Ping, and is dropped if it neither answers nor reads.
//!
//! The one wait outside the select is a send, which waits as long as the peer takes to read
//! (that is backpressure), but not for a peer that reads nothing: every session's
//! `Timeouts::write` is [`SEND_TIMEOUT`], so a send that the socket takes no byte of for that
//! long fails with `WriteTimeout`, and a client that floods a session and never reads its
//! answers ends it, instead of holding it forever. What all sessions hold together, in
//! unfinished messages and send queues, is bounded by the server's
//! [`Guards::budget`](super::Guards::budget).
//!
//! Every upgrade is also checked for where it comes from: a page of another site is refused
//! with 403, and one of the server's own pages, or a program that sends no `Origin`, is
//! accepted ([`crate::origin`] says why).

use std::future::Future;
use std::time::Duration;

use http_body_util::BodyExt as _;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use websocket::Message;
use websocket::handshake::ServerOptions;

use super::{Conn, Request, Response};
use crate::origin::Origins;

/// A server-side WebSocket over an upgraded hyper connection.
pub type Ws = websocket::io::WebSocket<TokioIo<Upgraded>>;
/// The sending half of a [`Ws`].
pub type WsSender = websocket::io::Sender<TokioIo<Upgraded>>;

/// The largest WebSocket message (and frame) the examples accept, in bytes: 64 KiB, far above
/// what any of them sends. A larger one closes the connection with 1009. The crate's default,
/// 16 MiB, would let every client make its connection hold that much of a message while it
/// arrives.
pub const MAX_MESSAGE: usize = 64 << 10;

/// After this long without hearing from a WebSocket peer, the examples' server sends a Ping; a
/// peer that neither answers nor reads within the crate's `ping_timeout` (20 s) is dropped,
/// so that its session ends (and, in [`crate::seats`], its seats are released).
pub const PING_INTERVAL: Duration = Duration::from_secs(30);

/// The sessions' write deadline (`Timeouts::write`): how long [`send`] waits for a peer that
/// takes none of a message. As long as keep-alive gives a peer to answer a Ping (the crate's
/// `ping_timeout`), since a peer that reads nothing for that long is as gone as one that does
/// not answer; and shorter than the server's deadline on the socket beneath
/// ([`Guards::write_timeout`](super::Guards::write_timeout), 30 s), so that the `websocket`
/// crate, which can say why with Close 1013, acts first.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(20);

// ANCHOR: websocket
/// Upgrades `request` to a WebSocket and runs `session` on it in a task, until it returns or
/// the server cuts the connection. Returns the `101` response (or the rejection) to send.
/// A message over the server's [`Guards::max_message`](super::Guards::max_message)
/// ([`MAX_MESSAGE`] by default) ends the session with Close 1009; a peer silent past
/// [`PING_INTERVAL`] gets a Ping, and is dropped if it neither answers nor reads; a peer that
/// reads nothing for [`SEND_TIMEOUT`] is dropped; the session counts against the server's
/// memory budget. A request from a page of another origin than the server's own, or than the
/// [`Origins`] in the request's extensions, gets 403. A `websocket::DeflateConfig` in the
/// request's extensions turns permessage-deflate on.
pub fn websocket<F, Fut>(request: &mut Request, conn: &Conn, session: F) -> Response
where
    F: FnOnce(Ws, Conn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let guards = conn.server.guards();
    let budget = guards.budget.clone();
    let mut options = ServerOptions::default();
    options.config.limits.max_frame_size = guards.max_message;
    options.config.limits.max_message_size = guards.max_message;
    options.config.timeouts.ping_interval = Some(PING_INTERVAL);
    options.config.timeouts.write = SEND_TIMEOUT;
    // permessage-deflate is off unless the route put a `DeflateConfig` in the request's
    // extensions (the demo's echo does): see `websocket::DeflateConfig` for its costs.
    if let Some(deflate) = request.extensions().get::<websocket::DeflateConfig>() {
        options.config.deflate = *deflate;
    }
    let origins = request.extensions().get::<Origins>().cloned();
    options.allowed_origins = Some(origins.unwrap_or_default().for_request(request));
    match websocket::io::upgrade(request, &options) {
        Ok((response, upgrading)) => {
            let conn = conn.clone();
            tokio::spawn(async move {
                // hyper hands the connection over once the 101 has been written.
                let Ok(ws) = upgrading.finish().await else {
                    return;
                };
                let ws = ws.with_budget(&budget);
                let cut = conn.clone();
                tokio::select! {
                    () = session(ws, conn) => {}
                    () = cut.cut() => {}
                }
            });
            response.map(|b| b.boxed_unsync())
        }
        Err(error) => websocket::io::rejection(&error).map(|b| b.boxed_unsync()),
    }
}
// ANCHOR_END: websocket

// ANCHOR: send
/// Sends `message`; fails with `WriteTimeout` if the peer takes none of it for
/// [`SEND_TIMEOUT`] (the session's write deadline). Any error ends the session: the message
/// was not delivered, and the connection is not worth keeping.
pub async fn send(sender: &mut WsSender, message: Message) -> Result<(), websocket::Error> {
    sender.send(message).await
}

/// Starts the closing handshake with `code` and `reason`, bounded as [`send`] is.
pub async fn close(sender: &mut WsSender, code: u16, reason: &str) -> Result<(), websocket::Error> {
    sender.close(code, reason).await
}
// ANCHOR_END: send

/// The answer to a latency probe `{"type":"ping","t":T}`: `{"type":"pong","t":T}`. Every
/// WebSocket endpoint of the examples answers it, so a page can measure the round trip.
pub fn pong_for(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    if value.get("type")?.as_str()? != "ping" {
        return None;
    }
    let t = value.get("t").cloned().unwrap_or(serde_json::Value::Null);
    Some(serde_json::json!({"type": "pong", "t": t}).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_get_pongs_and_nothing_else_does() {
        assert_eq!(
            pong_for(r#"{"type":"ping","t":12.5}"#).as_deref(),
            Some(r#"{"t":12.5,"type":"pong"}"#)
        );
        assert_eq!(pong_for("ping"), None);
        assert_eq!(pong_for(r#"{"type":"pick"}"#), None);
    }
}
