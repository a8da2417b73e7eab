//! What `wirelab echo`'s peers can make it hold in all: past its connection cap a new
//! connection gets 503 and the open ones are untouched, a peer whose unfinished message
//! takes more than the memory budget is closed with 1013, and a peer that reads nothing
//! leaves no more queued in the kernel than the socket buffer it was given.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
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

#[tokio::test]
async fn a_peer_that_reads_nothing_leaves_at_most_its_socket_buffer_queued() {
    tokio::time::timeout(Duration::from_secs(60), async {
        // Linux doubles the size asked for its bookkeeping, and a write may overshoot it by
        // one skb: twice the buffer, and a margin.
        let bound = 2 * wirelab_examples::server::SOCKET_BUFFER + 64 * 1024;
        let sized = queued_for_a_peer_that_reads_nothing(Capacity::default()).await;
        assert!(
            sized > 0 && sized <= bound,
            "{sized} bytes queued for a peer that reads nothing, bound {bound}"
        );
        // The control: left to the kernel, the buffer grows past the bound (2.99 MB here),
        // which shows that the flow above had stalled on a full buffer, not stopped early.
        let kernels_own = Capacity {
            socket_buffer: None,
            ..Capacity::default()
        };
        let grown = queued_for_a_peer_that_reads_nothing(kernels_own).await;
        assert!(
            grown > bound,
            "{grown} bytes queued with the kernel's own sizing"
        );
    })
    .await
    .expect("the test took more than 60 s: something hangs");
}

/// What the echo's send queue holds for a client that sends 60 KB messages and reads none of
/// the echoes, once the flow has stalled.
async fn queued_for_a_peer_that_reads_nothing(capacity: Capacity) -> usize {
    let addr = echo(capacity).await;
    // The client's own buffers small, so that the flow stalls after little has crossed.
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.set_send_buffer_size(4096).expect("SO_SNDBUF");
    let stream = socket.connect(addr).await.expect("connect");
    let client_port = stream.local_addr().expect("addr").port();
    let url = websocket::io::WsUrl::parse(&format!("ws://{addr}/")).expect("url");
    let mut options = websocket::io::ClientOptions::default();
    // Uncompressed, so that every byte sent is a byte the echo must queue.
    options.config.deflate.enabled = false;
    let (ws, _) = websocket::io::handshake_over(stream, &url, &options)
        .await
        .expect("handshake");
    let (_receiver, mut sender) = ws.split();
    // Messages of 60 KB until one is not taken within 2 s: by then the echo's send queue is
    // full, it has stopped reading, and its receive queue is full too.
    let mut seed = 0x9e37_79b9_u32;
    let mut sent = 0usize;
    loop {
        let payload: Vec<u8> = (0..60_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        let send = sender.send(Message::Binary(payload));
        match tokio::time::timeout(Duration::from_secs(2), send).await {
            Ok(Ok(())) => sent += 60_000,
            Ok(Err(e)) => panic!("the echo closed after {sent} bytes: {e}"),
            Err(_) => break,
        }
    }
    send_queue(addr.port(), client_port)
}

/// The bytes in the send queue of the echo's side of one connection: `tx_queue` of the
/// socket from `local` to `remote` in /proc/net/tcp.
fn send_queue(local: u16, remote: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let port = |address: &str| {
        let hex = address.rsplit_once(':').map_or("", |(_, port)| port);
        u16::from_str_radix(hex, 16).ok()
    };
    table
        .lines()
        .skip(1)
        .find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (from, to, queues) = (fields.get(1)?, fields.get(2)?, fields.get(4)?);
            if port(from)? != local || port(to)? != remote {
                return None;
            }
            let tx = queues.split_once(':')?.0;
            usize::from_str_radix(tx, 16).ok()
        })
        .expect("the echo's side of the connection in /proc/net/tcp")
}
