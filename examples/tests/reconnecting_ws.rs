//! The reconnecting WebSocket client on loopback: across a cut and an outage it receives every
//! price once, in order, by resuming from the last sequence number it saw.

mod common;

use std::time::Duration;

use common::guard;
use wirelab_examples::reconnecting_ws::{Event, Policy, ReconnectingWs};
use wirelab_examples::server;
use wirelab_examples::ticker::Ticker;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_without_gaps_across_a_cut_and_an_outage() {
    guard(async {
        let ticker = Ticker::start(Duration::from_millis(10));
        let (addr, server) = server::spawn_local(server::handler(move |request, conn| {
            ticker.clone().handle(request, conn)
        }))
        .await
        .expect("bind");

        let mut client = ReconnectingWs::new(&format!("ws://{addr}/ticker/ws"), Policy::default());
        let mut seqs = Vec::new();
        let mut opens = Vec::new();
        let mut refused_attempts = 0;
        while seqs.len() < 60 {
            match client.next().await.expect("does not give up") {
                Event::Message { seq, .. } => {
                    seqs.push(seq);
                    if seqs.len() == 20 {
                        server.cut();
                    }
                    if seqs.len() == 40 {
                        server.pause(Duration::from_millis(400));
                    }
                }
                Event::Open { url } => opens.push(url),
                Event::Reconnecting { reason, .. } if reason.starts_with("connect") => {
                    refused_attempts += 1;
                }
                Event::Gap { last_id } => panic!("gap after {last_id}"),
                Event::GaveUp { attempts } => panic!("gave up after {attempts}"),
                Event::Reconnecting { .. } => {}
            }
        }
        // Three connections: the first, after the cut, after the outage; the later two
        // resumed from the last price seen.
        assert_eq!(opens.len(), 3, "{opens:?}");
        assert!(!opens[0].contains("last_id"));
        assert!(
            opens[1].ends_with(&format!("?last_id={}", seqs[19])),
            "{opens:?} {seqs:?}"
        );
        assert!(
            opens[2].ends_with(&format!("?last_id={}", seqs[39])),
            "{opens:?} {seqs:?}"
        );
        // During the outage, connection attempts were refused and retried.
        assert!(refused_attempts >= 1);
        // Every price once, in order.
        let first = seqs[0];
        assert_eq!(seqs, (first..first + 60).collect::<Vec<_>>());
    })
    .await;
}
