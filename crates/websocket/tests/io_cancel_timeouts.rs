//! The I/O layer under cancellation and unresponsive peers, over `tokio::io::duplex` with
//! paused time: a hang shows up as a test that fails at once, not a suite that waits.
//!
//! Each test holds the I/O layer to one of its promises: a cancelled operation does not
//! corrupt the stream or lose a message, and every wait on a peer is bounded.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};
use websocket::io::WebSocket;
use websocket::{CloseFrame, Config, Connection, Error, Limits, Message, Role, Timeouts};

/// Far longer than any limit in the default `Config`: reaching it means a hang.
const HANG: Duration = Duration::from_secs(120);

/// Reads everything from `peer` until EOF and returns the messages a server-side connection
/// parses from it; panics if the frames are broken.
async fn server_reads_all(mut peer: DuplexStream) -> Vec<Message> {
    let mut server = Connection::new(Role::Server, Limits::default());
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

/// Keep-alive detects a dead peer even while a Sender is blocked writing to it: the Ping
/// cannot be written, and that counts against `ping_timeout` too.
#[tokio::test(start_paused = true)]
async fn keepalive_ends_a_connection_whose_sender_is_blocked() {
    // `_peer` is dead: it never reads, never writes, never closes.
    let (a, _peer) = tokio::io::duplex(1024);
    let config = Config {
        timeouts: Timeouts {
            ping_interval: Some(Duration::from_secs(1)),
            ping_timeout: Duration::from_secs(1),
            ..Timeouts::default()
        },
        ..Config::default()
    };
    let (mut rx, mut tx) = WebSocket::from_stream(a, Role::Server, config, &[], None).split();
    let sender = tokio::spawn(async move { tx.send(Message::Binary(vec![0; 1 << 20])).await });
    let received = tokio::time::timeout(HANG, rx.recv()).await;
    assert!(
        matches!(received, Ok(Err(Error::KeepaliveTimeout))),
        "{received:?}"
    );
    // The blocked Sender was let go when the connection ended.
    let sent = tokio::time::timeout(HANG, sender).await;
    assert!(matches!(sent, Ok(Ok(Err(_)))), "{sent:?}");
}

/// `WebSocket::close` is bounded even when our Close cannot be written at all.
#[tokio::test(start_paused = true)]
async fn close_is_bounded_when_the_peer_does_not_read() {
    let (a, _peer) = tokio::io::duplex(64);
    let mut ws = WebSocket::from_stream(a, Role::Client, Config::default(), &[], None);
    // 60 bytes on the wire fill the pipe but for 4 bytes: the Close does not fit.
    ws.send(Message::Binary(vec![0; 54])).await.unwrap();
    let closed = tokio::time::timeout(HANG, ws.close(1000, "")).await;
    assert!(matches!(closed, Ok(Err(Error::CloseTimeout))), "{closed:?}");
}

/// A peer that breaks a rule while our Sender is blocked writing to it: `recv` still reports
/// the error within the close timeouts, and the Sender is let go.
#[tokio::test(start_paused = true)]
async fn failing_is_bounded_while_the_sender_is_blocked() {
    let (a, mut peer) = tokio::io::duplex(1024);
    let ws = WebSocket::from_stream(a, Role::Server, Config::default(), &[], None);
    let (mut rx, mut tx) = ws.split();
    let sender = tokio::spawn(async move { tx.send(Message::Binary(vec![0; 1 << 20])).await });
    tokio::task::yield_now().await;
    // An unmasked frame from a client: 1002.
    peer.write_all(&[0x81, 0x01, b'x']).await.unwrap();
    let received = tokio::time::timeout(HANG, rx.recv()).await;
    assert!(
        matches!(received, Ok(Err(Error::WrongMasking))),
        "{received:?}"
    );
    let sent = tokio::time::timeout(HANG, sender).await;
    assert!(matches!(sent, Ok(Ok(Err(_)))), "{sent:?}");
}

/// A client's `recv` that is cancelled (a `select!` with a timer) while the server keeps the
/// TCP connection open after its Close still hands the Close to the application.
#[tokio::test(start_paused = true)]
async fn a_cancelled_recv_does_not_lose_the_peers_close() {
    let (a, mut peer) = tokio::io::duplex(64 << 10);
    let mut ws = WebSocket::from_stream(a, Role::Client, Config::default(), &[], None);
    let mut server = Connection::new(Role::Server, Limits::default());
    let going_away = CloseFrame {
        code: 1001,
        reason: "going away".into(),
    };
    server
        .send(Message::Close(Some(going_away.clone())))
        .unwrap();
    peer.write_all(&server.take_output()).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        tokio::select! {
            message = ws.recv() => seen.push(format!("{message:?}")),
            _ = tokio::time::sleep(Duration::from_secs(1)) => seen.push("tick".into()),
        }
    }
    let close = format!(
        "{:?}",
        Ok::<_, Error>(Some(Message::Close(Some(going_away))))
    );
    assert_eq!(seen[0], close, "{seen:?}");
    drop(peer);
}

/// A cancelled `recv` does not lose a message either, when it was cancelled while waiting
/// to write the replies (here the Pong for a Ping, to a peer that does not read).
#[tokio::test(start_paused = true)]
async fn a_cancelled_recv_does_not_lose_a_message() {
    let config = Config {
        limits: Limits {
            write_buffer_size: 1,
            ..Limits::default()
        },
        ..Config::default()
    };
    let (a, peer) = tokio::io::duplex(64);
    let (mut peer_read, mut peer_write) = tokio::io::split(peer);
    let mut ws = WebSocket::from_stream(a, Role::Server, config, &[], None);
    let mut client = Connection::new(Role::Client, Limits::default());
    client.send(Message::Ping(vec![b'p'; 100])).unwrap();
    client.send(Message::Ping(vec![b'q'; 100])).unwrap();
    let pings = client.take_output();
    client.send(Message::Text("after".into())).unwrap();
    let after = client.take_output();
    tokio::spawn(async move {
        peer_write.write_all(&pings).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        peer_write.write_all(&after).await
    });
    // The Pings are returned at once. Their Pongs (102 bytes each) do not fit in the pipe:
    // the first is being written, the second waits behind it, and that is over
    // `write_buffer_size`, so the next recv waits for them before it reads the text, and the
    // timer cancels it.
    for payload in [b'p', b'q'] {
        let ping = tokio::time::timeout(HANG, ws.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ping, Some(Message::Ping(vec![payload; 100])));
    }
    let cancelled = tokio::time::timeout(Duration::from_secs(1), ws.recv()).await;
    assert!(cancelled.is_err(), "{cancelled:?}");
    let mut sink = vec![0; 1024];
    let reader = tokio::spawn(async move { while peer_read.read(&mut sink).await.unwrap() > 0 {} });
    let text = tokio::time::timeout(HANG, ws.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(text, Some(Message::Text("after".into())));
    drop(ws);
    reader.await.unwrap();
}

/// The same for the error that fails the connection: failing waits (up to `linger`)
/// for the peer to close, and a `recv` cancelled meanwhile must not turn the error into a
/// clean `None`.
#[tokio::test(start_paused = true)]
async fn a_cancelled_recv_does_not_lose_the_error() {
    let (a, mut peer) = tokio::io::duplex(64 << 10);
    let mut ws = WebSocket::from_stream(a, Role::Server, Config::default(), &[], None);
    // An unmasked frame from a client: 1002. The peer then stays, silent.
    peer.write_all(&[0x81, 0x01, b'x']).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        tokio::select! {
            message = ws.recv() => seen.push(format!("{message:?}")),
            _ = tokio::time::sleep(Duration::from_secs(1)) => seen.push("tick".into()),
        }
    }
    assert!(seen.iter().any(|s| s.contains("WrongMasking")), "{seen:?}");
    drop(peer);
}

/// The peer sends Close 1001 and goes away at once, so our reply cannot be written: the
/// application still learns 1001 (RFC 6455 §7.1.5), not an I/O error.
#[tokio::test(start_paused = true)]
async fn the_peers_close_is_returned_when_the_reply_cannot_be_written() {
    let (a, mut peer) = tokio::io::duplex(4096);
    let mut ws = WebSocket::from_stream(a, Role::Server, Config::default(), &[], None);
    let mut client = Connection::new(Role::Client, Limits::default());
    let going_away = CloseFrame {
        code: 1001,
        reason: "going away".into(),
    };
    client
        .send(Message::Close(Some(going_away.clone())))
        .unwrap();
    peer.write_all(&client.take_output()).await.unwrap();
    drop(peer);
    let received = tokio::time::timeout(HANG, ws.recv()).await.unwrap();
    assert!(
        matches!(&received, Ok(Some(Message::Close(Some(c)))) if *c == going_away),
        "{received:?}"
    );
    assert!(matches!(ws.recv().await, Ok(None)));
}

/// After our Close, the wait for the peer's is bounded in total, not per read: a peer that
/// pings every 4 s (under the 5 s `Timeouts::close`) and never answers does not keep us.
#[tokio::test(start_paused = true)]
async fn the_wait_for_the_peers_close_is_bounded_in_total() {
    let (a, mut peer) = tokio::io::duplex(64 << 10);
    let (mut rx, mut tx) =
        WebSocket::from_stream(a, Role::Server, Config::default(), &[], None).split();
    tx.close(1000, "bye").await.unwrap();
    tokio::spawn(async move {
        let mut client = Connection::new(Role::Client, Limits::default());
        let mut sink = vec![0; 1024];
        loop {
            client.send(Message::Ping(b"x".to_vec())).unwrap();
            if peer.write_all(&client.take_output()).await.is_err() {
                return;
            }
            let _ = tokio::time::timeout(Duration::from_secs(4), peer.read(&mut sink)).await;
        }
    });
    let start = tokio::time::Instant::now();
    let ended = tokio::time::timeout(HANG, async {
        loop {
            match rx.recv().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await;
    assert!(matches!(ended, Ok(Err(Error::CloseTimeout))), "{ended:?}");
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
}

/// A `recv` cancelled while it writes the keep-alive Close (the peer reads nothing, so the
/// write waits) must not turn the keep-alive timeout into a clean end: the next call returns
/// the error.
#[tokio::test(start_paused = true)]
async fn a_recv_cancelled_while_ending_after_a_read_error_keeps_the_error() {
    // Room for the Ping (11 bytes) but not for the Close after it.
    let (a, _peer) = tokio::io::duplex(16);
    let config = Config {
        timeouts: Timeouts {
            ping_interval: Some(Duration::from_secs(10)),
            ping_timeout: Duration::from_secs(5),
            last_write: Duration::from_secs(30),
            ..Timeouts::default()
        },
        ..Config::default()
    };
    let mut ws = WebSocket::from_stream(a, Role::Server, config, &[], None);
    // The Ping goes out at 10 s, the Pong is overdue at 15 s, and the Close then waits for a
    // reader that never comes; the cancellation lands during that wait.
    let cancelled = tokio::time::timeout(Duration::from_secs(20), ws.recv()).await;
    assert!(cancelled.is_err(), "recv should still be writing the Close");
    let next = tokio::time::timeout(HANG, ws.recv())
        .await
        .expect("no hang");
    assert!(
        matches!(next, Err(Error::KeepaliveTimeout)),
        "the error is kept: {next:?}"
    );
}
