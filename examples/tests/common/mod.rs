//! Helpers shared by the examples' tests (included with `mod common;`).
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use sse::client::{Client, ClientConfig, ClientEvent};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Every test runs under this hang guard: a bug fails the test instead of stalling the suite.
pub async fn guard<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test took more than 60 s: something hangs")
}

/// An SSE client for `path` on `addr`.
pub fn sse_client(addr: SocketAddr, path: &str) -> Client {
    Client::new(&format!("http://{addr}{path}"), ClientConfig::default()).expect("valid URL")
}

/// The next message (of any type) from an SSE client, skipping everything else; panics if the
/// client closes.
pub async fn next_message(client: &mut Client) -> sse::MessageEvent {
    loop {
        match client.next().await {
            Some(ClientEvent::Message(message)) => return message,
            Some(ClientEvent::Closed(reason)) => panic!("closed: {reason}"),
            None => panic!("closed"),
            Some(_) => {}
        }
    }
}

/// Sends one HTTP/1.1 request by hand and returns the status code and body. Simple on
/// purpose: `Connection: close`, and the body is read to the end.
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The JSON of a text.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}
