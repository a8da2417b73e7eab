// cargo run -p wirelab-examples --bin progress [ADDR]
//! Serves a task's progress and a streamed text over SSE (default address 127.0.0.1:8085).

use wirelab_examples::{progress::Progress, server};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let progress = Progress::default();
    wirelab_examples::run_binary(
        "127.0.0.1:8085",
        &[
            "progress and streamed text on {base}",
            "  curl -N '{base}/progress/events?steps=10'",
            "  curl -N {base}/text/events",
        ],
        move || server::handler(move |request, conn| progress.clone().handle(request, conn)),
    )
    .await
}
