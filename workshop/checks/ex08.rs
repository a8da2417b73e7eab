//! Check of exercise 8, one ticker over both protocols: `scripts/workshop check 8`. WireLab's
//! clients read it: the `sse` crate's `EventSource`-like client and the `websocket` crate's
//! client, from the start and resuming after the second price.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use wirelab_workshop::ex08_ticker::{Price, serve};

fn prices() -> Vec<Price> {
    [100.5, 100.75, 101.0, 101.25]
        .into_iter()
        .zip(1..)
        .map(|(price, seq)| Price { seq, price })
        .collect()
}

async fn start() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(serve(listener, Arc::new(prices())));
    addr.to_string()
}

/// The first `n` events an `EventSource` receives, starting from `last_event_id`.
async fn events(addr: &str, last_event_id: &str, n: usize) -> Vec<(String, String)> {
    let config = sse::client::ClientConfig {
        last_event_id: last_event_id.to_owned(),
        ..Default::default()
    };
    let mut client =
        sse::client::Client::new(&format!("http://{addr}/sse"), config).expect("client");
    let mut got = Vec::new();
    while got.len() < n {
        match client.next().await {
            Some(sse::client::ClientEvent::Message(m)) => {
                got.push((m.last_event_id.to_string(), m.data));
            }
            Some(sse::client::ClientEvent::Closed(reason)) => panic!("closed: {reason:?}"),
            Some(_) => {}
            None => break,
        }
    }
    got
}

/// Every Text message a WebSocket receives on `path`, until the server closes it.
async fn messages(addr: &str, path: &str) -> Vec<String> {
    let (mut ws, _) = websocket::io::connect(&format!("ws://{addr}{path}"))
        .await
        .expect("connect");
    let mut got = Vec::new();
    loop {
        match ws.recv().await.expect("recv") {
            Some(websocket::Message::Text(text)) => got.push(text),
            Some(websocket::Message::Close(frame)) => {
                assert_eq!(frame.map(|f| f.code), Some(1000), "closed with 1000");
            }
            Some(_) => {}
            None => return got,
        }
    }
}

fn json(seq: u64) -> String {
    let price = prices()[seq as usize - 1];
    format!(r#"{{"seq":{},"price":{}}}"#, price.seq, price.price)
}

#[tokio::test]
async fn the_ticker_over_sse_from_the_start_and_resumed() {
    let addr = start().await;
    let all = tokio::time::timeout(Duration::from_secs(10), events(&addr, "", 4))
        .await
        .expect("in time");
    let expected: Vec<(String, String)> = (1..=4).map(|n| (n.to_string(), json(n))).collect();
    assert_eq!(all, expected);
    let rest = tokio::time::timeout(Duration::from_secs(10), events(&addr, "2", 2))
        .await
        .expect("in time");
    assert_eq!(rest, expected[2..]);
}

#[tokio::test]
async fn the_ticker_over_websocket_from_the_start_and_resumed() {
    let addr = start().await;
    let all = tokio::time::timeout(Duration::from_secs(10), messages(&addr, "/ws"))
        .await
        .expect("in time");
    assert_eq!(all, (1..=4).map(json).collect::<Vec<_>>());
    let rest = tokio::time::timeout(Duration::from_secs(10), messages(&addr, "/ws?last_id=2"))
        .await
        .expect("in time");
    assert_eq!(rest, [json(3), json(4)]);
}
