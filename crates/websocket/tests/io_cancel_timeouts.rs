//! The I/O layer under cancellation and unresponsive peers, over `tokio::io::duplex` with
//! paused time: a hang shows up as a test that fails at once, not a suite that waits.
//!
//! Each test is a regression test for a defect found in review: a cancelled operation must
//! not corrupt the stream or lose a message, and every wait on a peer must be bounded.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, DuplexStream};
use websocket::io::WebSocket;
use websocket::{Config, Connection, Error, Message, Role};

/// Reads everything from `peer` until EOF and returns the messages a server-side connection
/// parses from it; panics if the frames are broken.
async fn server_reads_all(mut peer: DuplexStream) -> Vec<Message> {
    let mut server = Connection::new(Role::Server, Config::default());
    let mut buf = vec![0; 4096];
    let mut got = Vec::new();
    loop {
        let n = peer.read(&mut buf).await.unwrap();
        if n == 0 {
            server.receive_eof();
        } else {
            server.receive(&buf[..n]);
        }
        loop {
            match server.next_event() {
                Ok(Some(message)) => got.push(message),
                Ok(None) => break,
                // The end of the input without a Close: all the frames before it were whole.
                Err(Error::AbnormalClosure) => return got,
                Err(error) => panic!("a broken stream of frames after {got:?}: {error}"),
            }
        }
    }
}

/// A send cancelled half-way through a frame leaves the rest for the next write: the peer
/// still sees whole frames, in order.
#[tokio::test(start_paused = true)]
async fn a_cancelled_send_does_not_corrupt_the_stream() {
    let (a, b) = tokio::io::duplex(1024);
    let mut ws = WebSocket::from_stream(a, Role::Client, Config::default(), &[], None);
    let big = Message::Binary(vec![1; 10_000]);
    let cancelled = tokio::time::timeout(Duration::from_millis(100), ws.send(big.clone())).await;
    assert!(cancelled.is_err(), "the send should block: nobody reads");
    let sender = tokio::spawn(async move {
        ws.send(Message::Text("hello".into())).await.unwrap();
    });
    let got = server_reads_all(b).await;
    sender.await.unwrap();
    assert_eq!(got, [big, Message::Text("hello".into())]);
}
