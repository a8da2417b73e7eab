//! WireLab's examples: small applications, each built over Server-Sent Events, over
//! WebSocket, or both, on one shared [`server`].
//!
//! Each example is a module here, so that `wirelab demo` and the tests reuse it, and a small
//! binary in `src/bin/` that serves it on its own:
//!
//! | example | transport | what it teaches |
//! |---|---|---|
//! | [`ticker`] | SSE and WebSocket | push-only; ids and resume built in (SSE) or hand-made (WS) |
//! | [`waiting_room`] | SSE | per-client state resumed with `Last-Event-ID`, no gap; 204 stops `EventSource` |
//! | [`chat`] | WebSocket, and SSE + POST | two-way: one connection, or a stream plus a request per message |
//! | [`seats`] | WebSocket | many clients changing shared state, seeing each other live |
//! | [`progress`] | SSE | a long task's progress, and text streamed piece by piece (LLM style) |
//! | [`reconnecting_ws`] | WebSocket | the backoff, jitter and resume an app must build for WebSocket |
//!
//! Run one: `cargo run -p wirelab-examples --bin NAME`, with NAME one of `ticker`,
//! `waiting_room`, `chat`, `seats`, `progress`, `reconnecting_ws`; each prints its address
//! and the `curl` or `wirelab ws` commands to try. `wirelab demo` serves them all at once, with
//! a browser page for each. The tests in `examples/tests/` run each one on a loopback port and
//! check what it does; `conformance/tests/tap_examples.rs` shows their bytes on the wire.
//!
//! Every feed and shared state sits on a [`backbone`]: this process's memory by default, or a
//! Redis server shared by several instances (`wirelab demo --redis URL`).
//!
//! The server accepts a WebSocket only from its own pages or from programs that send no
//! `Origin` ([`origin`]): a page of another site gets 403.

pub mod backbone;
pub mod chat;
pub mod origin;
pub mod progress;
pub mod reconnecting_ws;
pub mod seats;
pub mod server;
pub mod ticker;
pub mod waiting_room;

/// Serves `handler` on the address given as the first command-line argument (default
/// `default_addr`), after printing `lines` with `{base}` replaced by `http://ADDR`.
///
/// # Errors
///
/// When the address is invalid or cannot be bound.
pub async fn run_binary(
    default_addr: &str,
    lines: &[&str],
    make: impl FnOnce() -> server::Handler,
) -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| default_addr.to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let base = format!("http://{}", listener.local_addr()?);
    for line in lines {
        println!(
            "{}",
            line.replace("{base}", &base)
                .replace("{ws}", &base.replacen("http", "ws", 1))
        );
    }
    server::serve(listener, server::Server::new(), make()).await
}
