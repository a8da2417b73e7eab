//! The process's memory budget (`websocket::io::Budget`) over in-memory pipes: when the bytes
//! all connections hold pass its limit, the largest holder is closed with 1013 and the others
//! go on; every byte is given back when a connection goes.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};
use websocket::io::{Budget, WebSocket};
use websocket::{Config, Connection, Error, Limits, Message, Role};

/// Far longer than any deadline in the default `Config`: reaching it means a hang.
const HANG: Duration = Duration::from_secs(600);

/// A masked Binary frame header (key 0) announcing `len` bytes, with FIN.
fn header(len: u64) -> Vec<u8> {
    let mut bytes = vec![0x82, 0xFF];
    bytes.extend_from_slice(&len.to_be_bytes());
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    bytes
}

/// A server connection on `budget`, over a pipe; returns it in a task that receives until
/// the end, with the last result, and the peer's end.
fn server_on(
    budget: &Budget,
) -> (
    tokio::task::JoinHandle<Result<Vec<Message>, Error>>,
    DuplexStream,
) {
    let (a, peer) = tokio::io::duplex(1 << 20);
    let mut ws =
        WebSocket::from_stream(a, Role::Server, Config::default(), &[], None).with_budget(budget);
    let receiving = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(message) = ws.recv().await? {
            got.push(message);
        }
        Ok(got)
    });
    (receiving, peer)
}

/// The close code in the first frame `peer` reads.
async fn close_code_read_by(peer: &mut DuplexStream) -> Option<u16> {
    let mut bytes = vec![0; 256];
    let n = peer.read(&mut bytes).await.expect("duplex");
    let mut client = Connection::new(Role::Client, Limits::default());
    client.receive(&bytes[..n]);
    match client.next_event() {
        Ok(Some(Message::Close(Some(frame)))) => Some(frame.code),
        _ => None,
    }
}

/// Two peers each part-way through a large message: the second pushes the total past the
/// limit, so the first, which holds more, is closed with 1013, and the second's message
/// arrives whole.
#[tokio::test(start_paused = true)]
async fn past_the_limit_the_largest_holder_is_closed_and_the_others_go_on() {
    let budget = Budget::new(700_000);
    let (big, mut big_peer) = server_on(&budget);
    let (small, mut small_peer) = server_on(&budget);

    // 300,000 bytes of a 1,000,000-byte message, and no more.
    big_peer
        .write_all(&header(1_000_000))
        .await
        .expect("duplex");
    big_peer.write_all(&vec![1; 300_000]).await.expect("duplex");
    tokio::time::sleep(Duration::from_millis(10)).await;
    // Held as allocated: the message's buffer grows by doubling, to 512 KiB here.
    let held = budget.held();
    assert!((300_000..700_000).contains(&held), "{held} held");

    // 150,000 bytes of a 200,000-byte message: over the limit.
    small_peer
        .write_all(&header(200_000))
        .await
        .expect("duplex");
    small_peer
        .write_all(&vec![2; 150_000])
        .await
        .expect("duplex");
    let ended = tokio::time::timeout(HANG, big).await.expect("bounded");
    let ended = ended.expect("no panic");
    assert!(matches!(ended, Err(Error::OverBudget)), "{ended:?}");
    assert_eq!(close_code_read_by(&mut big_peer).await, Some(1013));

    // The other connection finishes its message and closes normally.
    small_peer
        .write_all(&vec![2; 50_000])
        .await
        .expect("duplex");
    let mut client = Connection::new(Role::Client, Limits::default());
    client
        .send(Message::Close(None))
        .expect("a client may close");
    small_peer
        .write_all(&client.take_output())
        .await
        .expect("duplex");
    let got = tokio::time::timeout(HANG, small)
        .await
        .expect("bounded")
        .expect("no panic")
        .expect("a clean close");
    assert!(
        got[0] == Message::Binary(vec![2; 200_000]),
        "the message, whole"
    );

    // Both connections are gone: every byte is given back.
    assert_eq!((budget.held(), budget.accounts()), (0, 0));
}

/// Under the limit, nobody is closed: many connections each holding part of a message
/// finish them all.
#[tokio::test(start_paused = true)]
async fn under_the_limit_nobody_is_closed() {
    let budget = Budget::new(1 << 20);
    let mut peers = Vec::new();
    for _ in 0..8 {
        let (task, mut peer) = server_on(&budget);
        peer.write_all(&header(100_000)).await.expect("duplex");
        peer.write_all(&vec![3; 60_000]).await.expect("duplex");
        peers.push((task, peer));
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    for (task, mut peer) in peers {
        peer.write_all(&vec![3; 40_000]).await.expect("duplex");
        drop(peer);
        let ended = tokio::time::timeout(HANG, task)
            .await
            .expect("bounded")
            .expect("no panic");
        // The peer went without a Close: 1006 after the whole message.
        assert!(matches!(ended, Err(Error::AbnormalClosure)), "{ended:?}");
    }
    assert_eq!((budget.held(), budget.accounts()), (0, 0));
}
