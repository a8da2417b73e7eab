// cargo run -p wirelab-examples --bin reconnecting_ws [ws://HOST:PORT/ticker/ws]
//! A WebSocket client that reconnects, backs off with jitter and resumes from the last price
//! it saw. Without an argument it starts its own ticker on a loopback port and breaks it on
//! purpose (a cut every 2 s, and a 1.5 s outage), and stops after 40 prices.

use std::time::Duration;

use wirelab_examples::reconnecting_ws::{Event, Policy, ReconnectingWs};
use wirelab_examples::{server, ticker::Ticker};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => {
            let ticker = Ticker::start(Duration::from_millis(200));
            let handler =
                server::handler(move |request, conn| ticker.clone().handle(request, conn));
            let (addr, server) = server::spawn_local(handler).await?;
            // ANCHOR: breaker
            tokio::spawn(async move {
                for round in 1..=10 {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    if round == 3 {
                        println!("-- the server stops for 1.5 s");
                        server.pause(Duration::from_millis(1500));
                    } else {
                        println!("-- the server cuts every connection");
                        server.cut();
                    }
                }
            });
            // ANCHOR_END: breaker
            format!("ws://{addr}/ticker/ws")
        }
    };
    let mut client = ReconnectingWs::new(&url, Policy::default());
    let mut prices = 0;
    while prices < 40 {
        let Some(event) = client.next().await else {
            break;
        };
        match event {
            Event::Message { text, .. } => {
                prices += 1;
                println!("{text}");
            }
            other => println!("{other:?}"),
        }
    }
    println!(
        "{prices} prices, {} duplicates dropped",
        client.duplicates()
    );
    Ok(())
}
