// cargo run -p wirelab-examples --bin ticker [ADDR]
//! Serves the price ticker over SSE and WebSocket (default address 127.0.0.1:8081).

use std::time::Duration;

use wirelab_examples::{server, ticker::Ticker};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let ticker = Ticker::start(Duration::from_millis(500));
    wirelab_examples::run_binary(
        "127.0.0.1:8081",
        &[
            "ticker on {base}",
            "  SSE:       curl -N {base}/ticker/sse",
            "  WebSocket: cargo run -p wirelab -- ws {ws}/ticker/ws",
        ],
        move || server::handler(move |request, conn| ticker.clone().handle(request, conn)),
    )
    .await
}
