// cargo run -p wirelab-examples --bin chat [ADDR]
//! Serves one chat room over WebSocket and over SSE + POST (default address 127.0.0.1:8083).

use wirelab_examples::{chat::Chat, server};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let chat = Chat::new();
    wirelab_examples::run_binary(
        "127.0.0.1:8083",
        &[
            "chat on {base}",
            "  WebSocket: cargo run -p wirelab -- ws '{ws}/chat/ws?name=ana'",
            "  SSE:       curl -N {base}/chat/events",
            "  POST:      curl -d 'hello' '{base}/chat/send?name=bo'",
        ],
        move || server::handler(move |request, conn| chat.clone().handle(request, conn)),
    )
    .await
}
