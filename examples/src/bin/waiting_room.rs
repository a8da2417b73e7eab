// cargo run -p wirelab-examples --bin waiting_room [ADDR]
//! Serves the waiting room over SSE (default address 127.0.0.1:8082).

use std::time::Duration;

use wirelab_examples::{server, waiting_room::WaitingRoom};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let room = WaitingRoom::start(Duration::from_secs(1));
    wirelab_examples::run_binary(
        "127.0.0.1:8082",
        &[
            "waiting room on {base}",
            "  join:    curl -X POST {base}/waiting-room/join",
            "  follow:  curl -N '{base}/waiting-room/events?ticket=1'",
            "  resume:  curl -N -H 'Last-Event-ID: 0' '{base}/waiting-room/events?ticket=1'",
        ],
        move || server::handler(move |request, conn| room.clone().handle(request, conn)),
    )
    .await
}
