//! The ticker on loopback: both transports carry the same prices; after a cut, the event
//! stream resumes with `Last-Event-ID` and loses nothing, while the WebSocket just ends.

mod common;

use std::time::Duration;

use common::{guard, json, next_message, sse_client};
use sse::client::ClientEvent;
use websocket::Message;
use wirelab_examples::server;
use wirelab_examples::ticker::{Prices, Ticker, tick_json};

fn expected(seq: u64) -> String {
    let cents = Prices::default()
        .nth(usize::try_from(seq - 1).expect("small"))
        .expect("endless");
    tick_json(seq, cents)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_transports_carry_the_same_prices_and_only_sse_resumes() {
    guard(async {
        let ticker = Ticker::start(Duration::from_millis(20));
        let (addr, server) = server::spawn_local(server::handler(move |request, conn| {
            ticker.clone().handle(request, conn)
        }))
        .await
        .expect("bind");

        // SSE: every event's id is its sequence number, and its data is that price.
        let mut events = sse_client(addr, "/ticker/sse");
        let mut last = 0;
        for _ in 0..5 {
            let message = next_message(&mut events).await;
            let seq = json(&message.data)["seq"].as_u64().expect("seq");
            assert_eq!(&*message.last_event_id, seq.to_string());
            assert_eq!(message.data, expected(seq));
            assert!(last == 0 || seq == last + 1, "{last} then {seq}");
            last = seq;
        }

        // WebSocket: the same JSON, one text message each; pings get pongs.
        let (mut ws, _) = websocket::io::connect(&format!("ws://{addr}/ticker/ws"))
            .await
            .expect("connect");
        ws.send(Message::Text(r#"{"type":"ping","t":7}"#.into()))
            .await
            .expect("send");
        let (mut ticks, mut pongs, mut ws_last) = (0, 0, 0);
        while ticks < 5 || pongs < 1 {
            let Some(Message::Text(text)) = ws.recv().await.expect("recv") else {
                panic!("expected text");
            };
            let value = json(&text);
            if value["type"] == "pong" {
                assert_eq!(value["t"], 7);
                pongs += 1;
                continue;
            }
            let seq = value["seq"].as_u64().expect("seq");
            assert_eq!(text, expected(seq));
            assert!(ws_last == 0 || seq == ws_last + 1);
            ws_last = seq;
            ticks += 1;
        }

        // A WebSocket client that asks to resume from an id the feed never gave out is told
        // that the replay has a gap, then gets what the history holds.
        let (mut lost, _) = websocket::io::connect(&format!("ws://{addr}/ticker/ws?last_id=x"))
            .await
            .expect("connect");
        let Some(Message::Text(text)) = lost.recv().await.expect("recv") else {
            panic!("text expected");
        };
        assert_eq!(json(&text), json(r#"{"type":"gap","last_id":"x"}"#));
        let Some(Message::Text(text)) = lost.recv().await.expect("recv") else {
            panic!("text expected");
        };
        assert_eq!(text, expected(1));
        lost.close(1000, "").await.expect("close");

        // Cut both. The SSE client reconnects by itself, sending the last id it saw...
        assert!(server.cut() >= 2);
        let mut reconnected_with = None;
        let resumed = loop {
            match events.next().await.expect("the SSE client never closes") {
                ClientEvent::Reconnecting { last_event_id, .. } => {
                    reconnected_with = Some(last_event_id);
                }
                ClientEvent::Message(message) => {
                    let seq = json(&message.data)["seq"].as_u64().expect("seq");
                    if reconnected_with.is_some() {
                        break seq;
                    }
                    // Events still in flight before the cut.
                    assert_eq!(seq, last + 1);
                    last = seq;
                }
                ClientEvent::Closed(reason) => panic!("closed: {reason}"),
                _ => {}
            }
        };
        // ... and the first event after the reconnection is the next one: no gap, no repeat.
        assert_eq!(reconnected_with, Some(last.to_string()));
        assert_eq!(resumed, last + 1);

        // ... while the WebSocket simply ends: nothing in the protocol brings it back.
        let ended = loop {
            match ws.recv().await {
                Ok(Some(Message::Text(_))) => continue,
                Ok(Some(other)) => panic!("unexpected {other:?}"),
                Ok(None) => break "closed",
                Err(_) => break "failed",
            }
        };
        assert!(["closed", "failed"].contains(&ended));
    })
    .await;
}

/// A WebSocket client slower than the feed falls more than the hub's lag bound behind; the
/// server ends its subscription and says why with a Close, 1013 ("try again later"), instead
/// of dropping the connection (which the client would only see as 1006).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_too_slow_for_the_feed_is_closed_with_1013() {
    guard(async {
        let ticker = Ticker::start(Duration::from_millis(2));
        let (addr, server) = server::spawn_local(server::handler(move |request, conn| {
            ticker.clone().handle(request, conn)
        }))
        .await
        .expect("bind");
        // Each message now waits 300 ms, while the feed publishes one every 2 ms: after the
        // first message, the subscription is far more than 64 events behind.
        server.set_slow(Duration::from_millis(300));
        let (mut ws, _) = websocket::io::connect(&format!("ws://{addr}/ticker/ws"))
            .await
            .expect("connect");
        let close = loop {
            match ws.recv().await.expect("a clean close, not an error") {
                Some(Message::Text(_)) => continue,
                Some(Message::Close(close)) => break close,
                other => panic!("unexpected {other:?}"),
            }
        };
        let close = close.expect("a close code");
        assert_eq!(close.code, 1013);
        assert_eq!(close.reason, "too slow for the live feed");
    })
    .await;
}
