// cargo run -p wirelab-examples --bin seats [ADDR]
//! Serves seat picking over WebSocket (default address 127.0.0.1:8084).

use wirelab_examples::{seats::Seats, server};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let seats = Seats::new();
    wirelab_examples::run_binary(
        "127.0.0.1:8084",
        &[
            "seat picking on {base}",
            "  cargo run -p wirelab -- ws '{ws}/seats/ws?name=ana'",
            r#"  then type: {"type":"pick","seat":3}"#,
        ],
        move || server::handler(move |request, conn| seats.clone().handle(request, conn)),
    )
    .await
}
