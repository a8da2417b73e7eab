//! The deadlines that bound what a hostile peer can make a connection hold: the write deadline
//! (`Timeouts::write`) for a peer that reads nothing, and the message deadline
//! (`Timeouts::message`) for one that starts a message and trickles it. Over in-memory pipes
//! with paused time, with no keep-alive, so that no other timer can end the connection: each
//! test fails by reaching `HANG` if its deadline is missing, and asserts what the application
//! and the peer see, never how long it took.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use websocket::io::WebSocket;
use websocket::{Config, Connection, Error, Limits, Message, Role, Timeouts};

/// Far longer than any deadline here: reaching it means a hang.
const HANG: Duration = Duration::from_secs(600);

/// Short deadlines, no keep-alive.
fn config() -> Config {
    Config {
        timeouts: Timeouts {
            write: Duration::from_secs(3),
            message: Duration::from_secs(7),
            ..Timeouts::default()
        },
        ..Config::default()
    }
}

/// What a client reading `bytes` (all a server wrote, up to its end) parses: its messages, then
/// the error, if any.
fn client_parses(bytes: &[u8]) -> Vec<Result<Message, String>> {
    let mut client = Connection::new(Role::Client, Limits::default());
    client.receive(bytes);
    client.receive_eof();
    let mut got = Vec::new();
    loop {
        match client.next_event() {
            Ok(Some(message)) => got.push(Ok(message)),
            Ok(None) => break,
            Err(error) => {
                got.push(Err(error.to_string()));
                break;
            }
        }
    }
    got
}

/// The close code of a Close among `events`, if there is one.
fn close_code(events: &[Result<Message, String>]) -> Option<u16> {
    events.iter().find_map(|event| match event {
        Ok(Message::Close(Some(frame))) => Some(frame.code),
        _ => None,
    })
}

/// A flood of Pings from a peer that reads none of the Pongs, with no keep-alive: `recv`
/// stops reading once the Pongs fill `write_buffer_size`, and the write deadline then ends
/// the connection with `WriteTimeout` (close code 1013), where it used to wait forever.
#[tokio::test(start_paused = true)]
async fn a_ping_flood_that_reads_nothing_ends_at_the_write_deadline() {
    let mut client = Connection::new(Role::Client, Limits::default());
    for _ in 0..8 << 10 {
        client.send(Message::Ping(vec![1; 125])).expect("open");
    }
    let flood = client.take_output();
    let (from_peer, mut peer_writes) = tokio::io::simplex(flood.len());
    peer_writes.write_all(&flood).await.expect("room");
    // The Pongs go into a 64 KiB pipe that nobody reads.
    let (_peer_reads, to_peer) = tokio::io::simplex(64 << 10);
    let stream = tokio::io::join(from_peer, to_peer);
    let mut ws = WebSocket::from_stream(stream, Role::Server, config(), &[], None);
    let ended = tokio::time::timeout(HANG, async {
        loop {
            match ws.recv().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the write deadline ends the wait");
    let error = ended.expect_err("ended by a deadline");
    assert!(matches!(error, Error::WriteTimeout), "{error:?}");
    assert_eq!(error.close_code(), Some(1013));
    assert!(
        matches!(ws.recv().await, Ok(None)),
        "the connection is over"
    );
}

/// A split connection whose sender is blocked on a peer that reads nothing, while the
/// receiver waits on the same silent peer: the sender fails with `WriteTimeout`, the receiver
/// too, and a peer that wakes up and reads finds the message it was sent whole, then Close
/// 1013 and the end of the stream.
#[tokio::test(start_paused = true)]
async fn a_blocked_sender_and_its_receiver_both_end_at_the_write_deadline() {
    let (a, mut peer) = tokio::io::duplex(4096);
    let (mut rx, mut tx) = WebSocket::from_stream(a, Role::Server, config(), &[], None).split();
    let sending = tokio::spawn(async move { tx.send(Message::Binary(vec![7; 100_000])).await });
    // The peer wakes up 1 s after the write deadline (3 s), while the ending still offers the
    // Close (for `last_write`, 5 s), and reads everything.
    let peer_reads = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(4)).await;
        let mut bytes = Vec::new();
        peer.read_to_end(&mut bytes).await.map(|_| bytes)
    });
    let received = tokio::time::timeout(HANG, rx.recv())
        .await
        .expect("bounded");
    assert!(matches!(received, Err(Error::WriteTimeout)), "{received:?}");
    let sent = tokio::time::timeout(HANG, sending)
        .await
        .expect("bounded")
        .expect("no panic");
    assert!(
        matches!(sent, Err(Error::WriteTimeout | Error::AlreadyClosed)),
        "{sent:?}"
    );
    let bytes = tokio::time::timeout(HANG, peer_reads)
        .await
        .expect("the stream ends")
        .expect("no panic")
        .expect("duplex");
    let events = client_parses(&bytes);
    assert!(
        events[0] == Ok(Message::Binary(vec![7; 100_000])),
        "the message, whole"
    );
    assert_eq!(close_code(&events), Some(1013), "{:?}", &events[1..]);
}

/// One task, no split: a `send` to a peer that reads nothing fails with `WriteTimeout` instead
/// of waiting forever, and the next `recv` ends the connection.
#[tokio::test(start_paused = true)]
async fn a_send_to_a_peer_that_reads_nothing_fails_at_the_write_deadline() {
    let (a, _peer) = tokio::io::duplex(4096);
    let mut ws = WebSocket::from_stream(a, Role::Server, config(), &[], None);
    let sent = tokio::time::timeout(HANG, ws.send(Message::Binary(vec![1; 100_000])))
        .await
        .expect("bounded");
    assert!(matches!(sent, Err(Error::WriteTimeout)), "{sent:?}");
    let received = tokio::time::timeout(HANG, ws.recv())
        .await
        .expect("bounded");
    assert!(matches!(received, Err(Error::WriteTimeout)), "{received:?}");
}

/// A peer that reads slowly but reads is not a peer that reads nothing: every byte the
/// socket takes restarts the write deadline, so a send that takes far longer in all than
/// `Timeouts::write` still completes.
#[tokio::test(start_paused = true)]
async fn a_slow_reader_that_keeps_reading_is_not_cut() {
    let (a, mut peer) = tokio::io::duplex(1024);
    let mut ws = WebSocket::from_stream(a, Role::Server, config(), &[], None);
    let reading = tokio::spawn(async move {
        let mut buf = [0u8; 1024];
        let mut total = 0;
        // 1 KiB every 2 s (the deadline is 3 s): about 40 s for the message.
        while total < 20_000 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            total += peer.read(&mut buf).await.expect("duplex");
        }
        peer
    });
    let sent = tokio::time::timeout(HANG, ws.send(Message::Binary(vec![1; 20_000])))
        .await
        .expect("bounded");
    assert!(sent.is_ok(), "{sent:?}");
    drop(reading.await.expect("no panic"));
}

/// A peer that starts a 1,000-byte message and then sends a byte every second (each byte
/// arrives well within any read's patience, and there is no keep-alive) is cut at the
/// message deadline with `MessageTimeout`, and its Close says 1008.
#[tokio::test(start_paused = true)]
async fn a_trickled_message_ends_at_the_message_deadline() {
    let (a, peer) = tokio::io::duplex(4096);
    let (mut peer_reads, mut peer_writes) = tokio::io::split(peer);
    let mut ws = WebSocket::from_stream(a, Role::Server, config(), &[], None);
    tokio::spawn(async move {
        // A masked Binary frame of 1,000 bytes (key 0): its header, then one byte a second.
        peer_writes
            .write_all(&[0x82, 0xFE, 0x03, 0xE8, 0, 0, 0, 0])
            .await
            .expect("duplex");
        for _ in 0..1000 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if peer_writes.write_all(&[7]).await.is_err() {
                break;
            }
        }
    });
    let received = tokio::time::timeout(HANG, ws.recv())
        .await
        .expect("bounded");
    assert!(
        matches!(received, Err(Error::MessageTimeout)),
        "{received:?}"
    );
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(HANG, peer_reads.read_to_end(&mut bytes)).await;
    read.expect("the stream ends").expect("duplex");
    assert_eq!(close_code(&client_parses(&bytes)), Some(1008));
}

/// Messages that each arrive within the deadline never trip it, however long the
/// connection lasts: the clock runs from a message's first byte to its last only.
#[tokio::test(start_paused = true)]
async fn messages_that_each_finish_in_time_are_not_cut() {
    let (a, mut peer) = tokio::io::duplex(4096);
    let mut ws = WebSocket::from_stream(a, Role::Server, config(), &[], None);
    let mut client = Connection::new(Role::Client, Limits::default());
    for _ in 0..5 {
        client.send(Message::Text("hello".into())).expect("open");
        let frame = client.take_output();
        // Half a frame, a pause shorter than the deadline, the rest; then a long silence.
        peer.write_all(&frame[..4]).await.expect("duplex");
        tokio::time::sleep(Duration::from_secs(5)).await;
        peer.write_all(&frame[4..]).await.expect("duplex");
        let message = tokio::time::timeout(HANG, ws.recv())
            .await
            .expect("bounded");
        assert_eq!(message.expect("open"), Some(Message::Text("hello".into())));
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}

/// A client that sends a whole, valid handshake and then reads nothing: the `101` cannot be
/// written (the pipe holds 16 bytes), and `accept` gives up at the handshake deadline instead
/// of waiting in that write forever.
#[tokio::test(start_paused = true)]
async fn the_101_is_written_within_the_handshake_deadline() {
    let (a, mut peer) = tokio::io::duplex(16);
    let request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let writing = tokio::spawn(async move {
        let _ = peer.write_all(request.as_bytes()).await;
        peer
    });
    let options = websocket::handshake::ServerOptions::default();
    let accepted = tokio::time::timeout(HANG, websocket::io::accept(a, &options))
        .await
        .expect("bounded");
    assert!(
        matches!(accepted, Err(Error::HandshakeIncomplete)),
        "{:?}",
        accepted.map(|_| ())
    );
    drop(writing.await.expect("no panic"));
}
