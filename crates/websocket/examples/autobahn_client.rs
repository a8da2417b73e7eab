//! Drives Autobahn|Testsuite's fuzzingserver with this crate's client: the suite's client
//! protocol, on the public API alone.
//!
//! `cargo run --release -p websocket --example autobahn_client -- ws://127.0.0.1:9001 AGENT`
//!
//! GET `/getCaseCount` (one Text message with the count), then for each case N connect to
//! `/runCase?case=N&agent=AGENT` and echo every message until the connection closes, then
//! `/updateReports?agent=AGENT` so the suite writes its report.

use websocket::io::{ClientOptions, connect_with};
use websocket::{Config, Error, Message};

async fn echo_until_closed(url: &str, options: &ClientOptions) -> Result<(), Error> {
    let (mut ws, _) = connect_with(url, options).await?;
    while let Some(message) = ws.recv().await? {
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            ws.send(message).await?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let agent = std::env::args().nth(2).unwrap_or_else(|| "wirelab".into());
    let options = ClientOptions {
        config: Config::echo(),
        ..ClientOptions::default()
    };
    let (mut ws, _) = connect_with(&format!("{base}/getCaseCount"), &options).await?;
    let count: u32 = match ws.recv().await? {
        Some(Message::Text(text)) => text.trim().parse().map_err(|_| Error::AbnormalClosure)?,
        _ => return Err(Error::AbnormalClosure),
    };
    while ws.recv().await?.is_some() {}
    eprintln!("autobahn_client: {count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(e) = echo_until_closed(&url, &options).await {
            eprintln!("case {case}: {e}");
        }
    }
    let (mut ws, _) =
        connect_with(&format!("{base}/updateReports?agent={agent}"), &options).await?;
    while ws.recv().await?.is_some() {}
    Ok(())
}
