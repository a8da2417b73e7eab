//! What an idle connection holds in its task: the futures of `accept` and `recv`.
//!
//! A server keeps one task per connection, and the task's size is that of its largest future,
//! whatever the connection is doing. These bounds are generous, about twice the sizes the
//! test prints (`--nocapture`): they catch the mistakes that cost a KiB per connection, such
//! as a buffer array held across an `.await`, not a few bytes of compiler layout. The
//! performance chapter measures the whole cost with `wirelab-bench idle`.

use websocket::handshake::ServerOptions;
use websocket::io::{WebSocket, accept};
use websocket::{Config, Message, Role};

#[tokio::test]
async fn the_futures_an_idle_server_connection_holds_are_small() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let options = ServerOptions::default();

    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let accepting = accept(stream, &options);
    println!("accept: {} bytes", std::mem::size_of_val(&accepting));
    assert!(std::mem::size_of_val(&accepting) <= 1024);
    drop(accepting);

    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut ws = WebSocket::from_stream(stream, Role::Server, Config::default(), &[], None);
    // The connection itself, held inline (no shared allocation until it is split).
    println!("WebSocket: {} bytes", std::mem::size_of_val(&ws));
    assert!(std::mem::size_of_val(&ws) <= 768);
    // The read and its timer, nothing else.
    let receiving = ws.recv();
    println!("recv: {} bytes", std::mem::size_of_val(&receiving));
    assert!(std::mem::size_of_val(&receiving) <= 768);
    drop(receiving);
    // The message and a reference: the write is polled in place.
    let sending = ws.send(Message::Text("x".into()));
    println!("send: {} bytes", std::mem::size_of_val(&sending));
    assert!(std::mem::size_of_val(&sending) <= 1024);
}
