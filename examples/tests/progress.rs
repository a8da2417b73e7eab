//! Progress and streamed text on loopback: every step and every token arrives once, in order;
//! a client that reconnects after the end is told to stop with 204.

mod common;

use std::time::Duration;

use common::{guard, json, sse_client};
use sse::client::{ClientEvent, CloseReason};
use wirelab_examples::progress::{DONE, Progress, TEXT, tokens};
use wirelab_examples::server;

/// Reads a stream to its end: the messages, then how the client stopped.
async fn read_all(client: &mut sse::client::Client) -> (Vec<sse::MessageEvent>, CloseReason) {
    let mut messages = Vec::new();
    loop {
        match client.next().await.expect("ends with Closed") {
            ClientEvent::Message(message) => messages.push(message),
            ClientEvent::Closed(reason) => return (messages, reason),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_and_text_arrive_whole_and_in_order() {
    guard(async {
        let progress = Progress {
            step: Duration::from_millis(5),
            token: Duration::from_millis(2),
        };
        let (addr, _server) = server::spawn_local(server::handler(move |request, conn| {
            progress.clone().handle(request, conn)
        }))
        .await
        .expect("bind");

        let mut client = sse_client(addr, "/progress/events?steps=7");
        let (messages, reason) = read_all(&mut client).await;
        // The end of the stream made the client reconnect with the last id, and 204 stopped it.
        assert!(matches!(reason, CloseReason::NoContent), "{reason}");
        let steps: Vec<u64> = messages
            .iter()
            .filter(|m| m.event_type == "progress")
            .map(|m| json(&m.data)["done"].as_u64().expect("done"))
            .collect();
        assert_eq!(steps, (1..=7).collect::<Vec<_>>());
        let last = messages.last().expect("messages");
        assert_eq!(
            (last.event_type.as_str(), last.data.as_str()),
            (DONE, r#"{"total":7}"#)
        );

        let mut client = sse_client(addr, "/text/events");
        let (messages, reason) = read_all(&mut client).await;
        assert!(matches!(reason, CloseReason::NoContent), "{reason}");
        let (done, pieces) = messages.split_last().expect("messages");
        assert_eq!(done.event_type, DONE);
        assert_eq!(done.data, tokens(TEXT).len().to_string());
        // Spaces and line breaks survive the event stream as they are.
        let text: String = pieces.iter().map(|m| m.data.as_str()).collect();
        assert_eq!(text, TEXT);
    })
    .await;
}
