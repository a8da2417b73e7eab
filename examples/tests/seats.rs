//! Seat picking on loopback: two friends see each other's picks, and the first pick wins.

mod common;

use common::{guard, json};
use websocket::Message;
use websocket::io::WebSocket;
use wirelab_examples::seats::{SEATS, Seats};
use wirelab_examples::server;

async fn next_json(ws: &mut WebSocket<tokio::net::TcpStream>) -> serde_json::Value {
    match ws.recv().await.expect("recv") {
        Some(Message::Text(text)) => json(&text),
        other => panic!("text expected, got {other:?}"),
    }
}

async fn send(ws: &mut WebSocket<tokio::net::TcpStream>, text: &str) {
    ws.send(Message::Text(text.into())).await.expect("send");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn friends_see_each_others_picks_and_the_first_pick_wins() {
    guard(async {
        let seats = Seats::new();
        let (addr, _server) = server::spawn_local(server::handler(move |request, conn| {
            seats.clone().handle(request, conn)
        }))
        .await
        .expect("bind");
        let url = |name: &str| format!("ws://{addr}/seats/ws?name={name}");

        let (mut ana, _) = websocket::io::connect(&url("ana")).await.expect("connect");
        let state = next_json(&mut ana).await;
        assert_eq!(state["type"], "state");
        assert_eq!(state["seats"].as_array().map(Vec::len), Some(SEATS));

        send(&mut ana, r#"{"type":"pick","seat":3}"#).await;
        assert_eq!(
            next_json(&mut ana).await,
            json(r#"{"type":"picked","seat":3,"by":"ana"}"#)
        );

        // Bo arrives and sees Ana's seat taken.
        let (mut bo, _) = websocket::io::connect(&url("bo")).await.expect("connect");
        let state = next_json(&mut bo).await;
        assert_eq!(state["seats"][3], "ana");
        assert_eq!(state["you"], "bo");

        // Bo tries the same seat: refused, and only he hears about it.
        send(&mut bo, r#"{"type":"pick","seat":3}"#).await;
        assert_eq!(
            next_json(&mut bo).await,
            json(r#"{"type":"refused","seat":3,"by":"ana"}"#)
        );

        // Bo takes the seat next to her; both see it.
        send(&mut bo, r#"{"type":"pick","seat":4}"#).await;
        let picked = json(r#"{"type":"picked","seat":4,"by":"bo"}"#);
        assert_eq!(next_json(&mut bo).await, picked);
        assert_eq!(next_json(&mut ana).await, picked);

        // Nonsense gets an error, not a crash.
        send(&mut bo, "pick 5").await;
        assert_eq!(next_json(&mut bo).await["type"], "error");

        // Ana leaves: her seat is released, and Bo sees it.
        ana.close(1000, "bye").await.expect("close");
        assert_eq!(
            next_json(&mut bo).await,
            json(r#"{"type":"released","seat":3}"#)
        );
    })
    .await;
}

/// A client that picks a seat and then goes silent (it neither reads nor answers the server's
/// keep-alive Ping) loses its seat; without keep-alive it would hold it forever.
#[tokio::test(start_paused = true)]
async fn a_silent_client_is_dropped_and_its_seats_released() {
    let test = async {
        let seats = Seats::new();
        let (addr, _server) = server::spawn_local(server::handler(move |request, conn| {
            seats.clone().handle(request, conn)
        }))
        .await
        .expect("bind");
        let url = |name: &str| format!("ws://{addr}/seats/ws?name={name}");
        let (mut ana, _) = websocket::io::connect(&url("ana")).await.expect("connect");
        assert_eq!(next_json(&mut ana).await["type"], "state");
        send(&mut ana, r#"{"type":"pick","seat":3}"#).await;
        assert_eq!(next_json(&mut ana).await["type"], "picked");

        let (mut bo, _) = websocket::io::connect(&url("bo")).await.expect("connect");
        assert_eq!(next_json(&mut bo).await["seats"][3], "ana");
        // Ana's tab hangs from here on: `ana` is kept open but never read again. Bo keeps
        // answering Pings (his `recv` does), so only Ana is dropped.
        let released = loop {
            match bo.recv().await.expect("recv") {
                Some(Message::Ping(_)) => {}
                Some(Message::Text(text)) => break json(&text),
                other => panic!("text expected, got {other:?}"),
            }
        };
        assert_eq!(released, json(r#"{"type":"released","seat":3}"#));
        drop(ana);
    };
    // Virtual time: a hang fails after 10 simulated minutes instead of stalling the suite.
    tokio::time::timeout(std::time::Duration::from_secs(600), test)
        .await
        .expect("the silent client was never dropped");
}
