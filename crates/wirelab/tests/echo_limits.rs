//! What `wirelab echo`'s peers can make it hold in all: past its connection cap a new
//! connection gets 503 and the open ones are untouched, and a peer whose unfinished message
//! takes more than the memory budget is closed with 1013.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, TcpStream};
use websocket::Message;
use websocket::frame::OpCode;
use websocket::io::Budget;
use wirelab::echo::Capacity;

async fn echo(capacity: Capacity) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(wirelab::echo::serve_within(
        listener,
        wirelab::echo::options(),
        capacity,
        None,
    ));
    addr
}

/// Runs `test` with a bound on time, so that a hang fails instead of stalling the suite.
async fn within_10s(test: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(10), test)
        .await
        .expect("the test took more than 10 s: something hangs");
}

#[tokio::test]
async fn past_the_cap_a_new_connection_gets_503_and_the_open_one_still_echoes() {
    within_10s(async {
        let addr = echo(Capacity {
            max_connections: 1,
            ..Capacity::default()
        })
        .await;
        let (mut ws, _) = websocket::io::connect(&format!("ws://{addr}/"))
            .await
            .expect("the first connection");
        let mut refused = TcpStream::connect(addr).await.expect("connect");
        let mut answer = String::new();
        refused.read_to_string(&mut answer).await.expect("read");
        assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
        assert!(answer.contains("\r\nRetry-After: "), "{answer}");
        ws.send(Message::Text("still here".into()))
            .await
            .expect("send");
        let echoed = ws.recv().await.expect("open");
        assert_eq!(echoed, Some(Message::Text("still here".into())));
    })
    .await;
}

#[tokio::test]
async fn a_message_that_outgrows_the_budget_is_closed_with_1013() {
    within_10s(async {
        let addr = echo(Capacity {
            budget: Budget::new(1 << 20),
            ..Capacity::default()
        })
        .await;
        let (ws, _) = websocket::io::connect(&format!("ws://{addr}/"))
            .await
            .expect("connect");
        let (mut receiver, mut sender) = ws.split();
        // The first 2 MiB of a 4 MiB message, in fragments, and no more.
        let piece = vec![0u8; 256 << 10];
        for i in 0..8 {
            let opcode = if i == 0 {
                OpCode::Binary
            } else {
                OpCode::Continuation
            };
            if sender.send_fragment(opcode, &piece, false).await.is_err() {
                break;
            }
        }
        let closed = receiver.recv().await;
        match closed {
            Ok(Some(Message::Close(Some(frame)))) => assert_eq!(frame.code, 1013),
            other => panic!("expected Close 1013, got {other:?}"),
        }
    })
    .await;
}

/// `wirelab echo` waits for a whole message before echoing it, so a well-behaved peer under
/// the budget is untouched.
#[tokio::test]
async fn under_the_budget_a_large_message_is_echoed() {
    within_10s(async {
        let addr = echo(Capacity {
            budget: Budget::new(8 << 20),
            ..Capacity::default()
        })
        .await;
        let (mut ws, _) = websocket::io::connect(&format!("ws://{addr}/"))
            .await
            .expect("connect");
        let message = Message::Binary(vec![5; 1 << 20]);
        ws.send(message.clone()).await.expect("send");
        let echoed = ws.recv().await.expect("open");
        assert!(echoed == Some(message), "the message, whole");
    })
    .await;
}
