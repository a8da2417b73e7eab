//! A WebSocket echo server on the crate's public API alone: every Text and Binary message goes
//! back to its sender. `cargo run -p websocket --example echo_server -- 127.0.0.1:9001`
//! (the address must be a loopback one: this is a test target, not a service).

use websocket::handshake::ServerOptions;
use websocket::{Config, Message};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("echo_server: listening on ws://{}", listener.local_addr()?);
    let options = std::sync::Arc::new(ServerOptions {
        config: Config::echo(),
        ..ServerOptions::default()
    });
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let options = options.clone();
        tokio::spawn(async move {
            let Ok((mut ws, _request)) = websocket::io::accept(stream, &options).await else {
                return;
            };
            while let Ok(Some(message)) = ws.recv().await {
                if matches!(message, Message::Text(_) | Message::Binary(_))
                    && ws.send(message).await.is_err()
                {
                    return;
                }
            }
        });
    }
}
