//! `wirelab echo`: a WebSocket server that sends every Text and Binary message back.
//!
//! It is the target that Autobahn|Testsuite's fuzzingclient drives, so it runs with
//! [`websocket::Config::echo`]: 64 MiB frames and messages, above the suite's 16 MiB cases.
//! One task per connection; everything else (Pongs, the closing handshake, failing the
//! connection with the right close code) is the `websocket` crate's job.

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use websocket::handshake::ServerOptions;
use websocket::{Config, Message};

/// Accepts connections on `listener` forever, echoing on each in its own task.
// ANCHOR: serve
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    let options = Arc::new(ServerOptions {
        config: Config::echo(),
        ..ServerOptions::default()
    });
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
        let options = options.clone();
        tokio::spawn(async move {
            // A peer that breaks the protocol has been answered with a Close already.
            let _ = echo_connection(stream, &options).await;
        });
    }
}
// ANCHOR_END: serve

/// Runs the handshake on `stream`, then echoes until the connection closes.
// ANCHOR: echo_connection
pub async fn echo_connection(
    stream: TcpStream,
    options: &ServerOptions,
) -> Result<(), websocket::Error> {
    stream.set_nodelay(true)?;
    let (mut ws, _request) = websocket::io::accept(stream, options).await?;
    while let Some(message) = ws.recv().await? {
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            ws.send(message).await?;
        }
    }
    Ok(())
}
// ANCHOR_END: echo_connection
