//! The chat on loopback: a WebSocket user and an SSE + POST user in one room.

mod common;

use common::{guard, http, json, next_message, sse_client};
use websocket::Message;
use wirelab_examples::chat::Chat;
use wirelab_examples::server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_and_sse_users_hear_each_other() {
    guard(async {
        let chat = Chat::new();
        let (addr, _server) = server::spawn_local(server::handler(move |request, conn| {
            chat.clone().handle(request, conn)
        }))
        .await
        .expect("bind");

        let (mut ana, _) = websocket::io::connect(&format!("ws://{addr}/chat/ws?name=ana"))
            .await
            .expect("connect");
        let mut bo = sse_client(addr, "/chat/events");
        // Wait until Bo's stream is open, so he hears what follows.
        loop {
            if let Some(sse::client::ClientEvent::Open) = bo.next().await {
                break;
            }
        }

        // Bo says something with a POST; both hear it.
        let (status, _) = http(addr, "POST", "/chat/send?name=bo", r#"{"text":"hi","t":1}"#).await;
        assert_eq!(status, 204);
        let heard = next_message(&mut bo).await;
        assert_eq!(
            json(&heard.data),
            json(r#"{"from":"bo","text":"hi","t":1}"#)
        );
        assert_eq!(&*heard.last_event_id, "1");
        let Some(Message::Text(text)) = ana.recv().await.expect("recv") else {
            panic!("text expected");
        };
        assert_eq!(json(&text), json(r#"{"from":"bo","text":"hi","t":1}"#));

        // Ana answers on her WebSocket, in plain text; both hear it, as JSON.
        ana.send(Message::Text("hello Bo".into()))
            .await
            .expect("send");
        let heard = next_message(&mut bo).await;
        assert_eq!(heard.data, r#"{"from":"ana","text":"hello Bo"}"#);
        let Some(Message::Text(text)) = ana.recv().await.expect("recv") else {
            panic!("text expected");
        };
        assert_eq!(text, heard.data);

        // A body too large is refused.
        let (status, _) = http(addr, "POST", "/chat/send", &"x".repeat(20_000)).await;
        assert_eq!(status, 413);
    })
    .await;
}
