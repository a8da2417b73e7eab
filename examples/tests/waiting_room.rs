//! The waiting room on loopback: a client sees every position exactly once, in order, across
//! a cut connection, and is told to stop (204) once its turn has come.

mod common;

use std::time::Duration;

use common::{guard, http, json, sse_client};
use sse::client::{ClientEvent, CloseReason};
use wirelab_examples::server;
use wirelab_examples::waiting_room::{WaitingRoom, YOUR_TURN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_count_down_without_a_gap_across_a_cut_then_204_stops_the_client() {
    guard(async {
        let room = WaitingRoom::start(Duration::from_millis(100));
        let (addr, server) = server::spawn_local(server::handler(move |request, conn| {
            room.clone().handle(request, conn)
        }))
        .await
        .expect("bind");

        // Eight visitors ahead of us.
        let mut ticket = 0;
        for _ in 0..9 {
            let (status, body) = http(addr, "POST", "/waiting-room/join", "").await;
            assert_eq!(status, 200);
            ticket = json(&body)["ticket"].as_u64().expect("ticket");
        }
        let (status, _) = http(addr, "GET", "/waiting-room/events?ticket=99", "").await;
        assert_eq!(status, 404);

        let mut client = sse_client(addr, &format!("/waiting-room/events?ticket={ticket}"));
        let mut positions = Vec::new();
        let mut reconnections = Vec::new();
        let reason = loop {
            match client.next().await.expect("ends with Closed") {
                ClientEvent::Message(message) => {
                    let value = json(&message.data);
                    assert_eq!(value["ticket"], ticket);
                    assert_eq!(&*message.last_event_id, value["serving"].to_string());
                    let position = value["position"].as_u64().expect("position");
                    assert_eq!(message.event_type == YOUR_TURN, position == 0);
                    positions.push(position);
                    if positions.len() == 2 {
                        // Cut while the queue moves on without us.
                        server.cut();
                    }
                }
                ClientEvent::Reconnecting { last_event_id, .. } => {
                    // Each reconnection resumes from the last event received.
                    let last = ticket - positions.last().copied().unwrap_or(ticket);
                    assert_eq!(last_event_id, last.to_string());
                    reconnections.push(last_event_id);
                }
                ClientEvent::Closed(reason) => break reason,
                _ => {}
            }
        };
        // Every position from the first one seen down to 0, once each.
        let first = positions[0];
        assert_eq!(positions, (0..=first).rev().collect::<Vec<_>>());
        // After the cut (which may have come after the last event was sent) and after our
        // turn, the client reconnected, the last time with the turn's id, and 204 stopped it.
        assert!((1..=2).contains(&reconnections.len()), "{reconnections:?}");
        assert_eq!(reconnections.last(), Some(&ticket.to_string()));
        assert!(matches!(reason, CloseReason::NoContent), "{reason}");
    })
    .await;
}
