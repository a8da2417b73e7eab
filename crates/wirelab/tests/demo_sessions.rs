//! `wirelab demo` on loopback, without a browser: `/stats` counts a page's connections by the
//! session its requests declare, and the cut button drops that page's connections only.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Opens the ticker's event stream for `session`, resuming after id 0, and reads its head.
async fn open_stream(addr: SocketAddr, session: &str) -> (TcpStream, usize) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET /ticker/sse?session={session}&transport=sse HTTP/1.1\r\nHost: {addr}\r\n\
         Last-Event-ID: 0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
    (stream, request.len())
}

/// One request on its own connection; the body of the response.
async fn request(addr: SocketAddr, method: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8(response).expect("UTF-8");
    let (_head, body) = response.split_once("\r\n\r\n").expect("a head");
    body.to_owned()
}

async fn stats(addr: SocketAddr, session: &str) -> serde_json::Value {
    let body = request(addr, "GET", &format!("/stats?session={session}")).await;
    serde_json::from_str(&body).expect("JSON")
}

/// Reads until the server ends the stream; panics if it does not within a few seconds.
async fn ends(stream: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    let read_all = async { while !matches!(stream.read(&mut buf).await, Ok(0) | Err(_)) {} };
    tokio::time::timeout(Duration::from_secs(5), read_all)
        .await
        .expect("the stream was not cut");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_and_cut_follow_the_session_a_page_declares() {
    // A hang fails the test instead of stalling the suite.
    tokio::time::timeout(Duration::from_secs(30), stats_and_cut())
        .await
        .expect("the test took more than 30 s: something hangs");
}

async fn stats_and_cut() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(wirelab::demo::serve(listener, Default::default()));

    let (mut a, a_request) = open_stream(addr, "a").await;
    let (mut b, _) = open_stream(addr, "b").await;

    let sse = &stats(addr, "a").await["transports"]["sse"];
    assert_eq!(sse["connections"], 1);
    assert_eq!(sse["open"], 1);
    assert_eq!(sse["read"], a_request as u64);
    assert_eq!(sse["last_event_ids"], serde_json::json!(["0"]));

    let said = request(addr, "POST", "/control/cut?session=a").await;
    assert_eq!(said, "cut 1 connections\n");
    ends(&mut a).await;
    // b's stream goes on.
    let mut buf = [0u8; 1024];
    let n = b.read(&mut buf).await.expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).contains("seq"));
    assert_eq!(stats(addr, "b").await["transports"]["sse"]["open"], 1);
}
