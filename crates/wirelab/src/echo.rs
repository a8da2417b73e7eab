//! `wirelab echo`: a WebSocket server that sends every Text and Binary message back.
//!
//! It is the target that Autobahn|Testsuite's fuzzingclient drives, so it runs with
//! [`websocket::Config::echo`]: 64 MiB frames and messages, above the suite's 16 MiB cases.
//! One task per connection; everything else (Pongs, the closing handshake, failing the
//! connection with the right close code) is the `websocket` crate's job.
//!
//! It accepts a handshake from any `Origin` unless it is given an allow-list
//! ([`ServerOptions::allowed_origins`], `wirelab echo --allow-origin`): it is a test target
//! for Autobahn and for tools that send no `Origin` or any they like, and serves no page of
//! its own whose users a check would protect.
//!
//! No task outlives its peer: keep-alive Pings find a peer that vanished without closing
//! TCP, and a peer that takes none of an echo for [`SEND_TIMEOUT`] is closed with 1013.
//! What all the peers together can make it hold is bounded by its [`Capacity`]: a cap on
//! connections (past it, new ones get `503` and are closed) and a memory budget for
//! unfinished messages and echoes waiting for the socket.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use websocket::handshake::ServerOptions;
use websocket::io::Budget;
use websocket::{Config, Error, Message, Timeouts};

// ANCHOR: echo_options
/// The echo's write deadline (`Timeouts::write`): how long a peer may take none of an echo
/// before it is closed with 1013. The crate's default.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The echo server's options: [`Config::echo`], with a keep-alive Ping after 30 s of silence
/// (and `ping_timeout`, 20 s, for the answer), the write deadline [`SEND_TIMEOUT`], and every
/// `Origin` accepted.
pub fn options() -> ServerOptions {
    ServerOptions {
        config: Config {
            timeouts: Timeouts {
                ping_interval: Some(Duration::from_secs(30)),
                write: SEND_TIMEOUT,
                ..Timeouts::default()
            },
            ..Config::echo()
        },
        ..ServerOptions::default()
    }
}
// ANCHOR_END: echo_options

/// What all the echo server's peers together may make it hold.
#[derive(Debug, Clone)]
pub struct Capacity {
    /// Most connections open at once; past it, a new one gets `503` with `Retry-After` and is
    /// closed. Default: [`wirelab_examples::server::MAX_CONNECTIONS`], the demo's.
    pub max_connections: usize,
    /// The bytes held in unfinished messages and in echoes waiting for the socket, by all
    /// connections; past it, the largest holders are closed with 1013. Default:
    /// [`Budget::DEFAULT_LIMIT`], 256 MiB: four of the largest messages (64 MiB) at once.
    pub budget: Budget,
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity {
            max_connections: wirelab_examples::server::MAX_CONNECTIONS,
            budget: Budget::default(),
        }
    }
}

/// Accepts connections on `listener` forever, echoing on each in its own task, with
/// [`options`] and the default [`Capacity`].
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    serve_with(listener, options()).await
}

/// Accepts connections on `listener` forever, echoing on each in its own task, with `options`
/// and the default [`Capacity`].
pub async fn serve_with(listener: TcpListener, options: ServerOptions) -> std::io::Result<()> {
    serve_within(listener, options, Capacity::default()).await
}

/// Accepts connections on `listener` forever, echoing on each in its own task, with `options`,
/// within `capacity`.
// ANCHOR: serve
pub async fn serve_within(
    listener: TcpListener,
    options: ServerOptions,
    capacity: Capacity,
) -> std::io::Result<()> {
    let options = Arc::new(options);
    let open = Arc::new(Semaphore::new(capacity.max_connections));
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // A connection that died before we took it (ECONNABORTED) or a momentary shortage
            // of file descriptors must not stop the server.
            Err(e) => {
                eprintln!("echo: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        // A place under the cap, held by the connection's task until it ends.
        let Ok(place) = open.clone().try_acquire_owned() else {
            wirelab_examples::server::refuse_busy(stream);
            continue;
        };
        let (options, budget) = (options.clone(), capacity.budget.clone());
        tokio::spawn(async move {
            // Small frames go out at once (no Nagle delay); failing that is harmless.
            let _ = stream.set_nodelay(true);
            // A peer that breaks the protocol has been answered with a Close already.
            let _ = echo_connection(stream, &options, &budget).await;
            drop(place);
        });
    }
}
// ANCHOR_END: serve

/// Runs the handshake on `stream`, then echoes until the connection closes, on `budget`.
// ANCHOR: echo_connection
pub async fn echo_connection<S>(
    stream: S,
    options: &ServerOptions,
    budget: &Budget,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (ws, _request) = websocket::io::accept(stream, options).await?;
    let mut ws = ws.with_budget(budget);
    while let Some(message) = ws.recv().await? {
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            // A peer that takes none of the echo for `Timeouts::write` fails the send; the
            // next `recv` ends the connection with Close 1013 and returns that error.
            match ws.send(message).await {
                Ok(()) | Err(Error::WriteTimeout | Error::OverBudget) => {}
                Err(error) => return Err(error),
            }
        }
    }
    Ok(())
}
// ANCHOR_END: echo_connection
