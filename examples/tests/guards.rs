//! The examples' server against peers that try to make it hold things: too many connections,
//! an event-stream client that reads nothing, a request body trickled, a keep-alive connection
//! left idle, WebSocket sessions and the memory budget. Each test asserts what happens (a
//! status, a connection closed, a count), with short configured limits, never how long it
//! took; each is bounded so that a missing guard fails it instead of hanging.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::guard;
use http::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use wirelab_examples::server::{self, Guards, Server};

/// Serves `handler` with `guards` on a fresh loopback port.
async fn serve(guards: Guards, handler: server::Handler) -> (SocketAddr, Server) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = Server::with_guards(guards);
    tokio::spawn(server::serve(listener, server.clone(), handler));
    (addr, server)
}

/// `/sse`: an endless stream of 16 KiB events, as fast as the client takes them; `/post`:
/// reads the body; anything else: `ok`.
fn handler() -> server::Handler {
    server::handler(|request, conn| async move {
        match request.uri().path() {
            "/sse" => {
                let (events, stream) = mpsc::channel(16);
                tokio::spawn(async move {
                    let event = sse::Event::new().data("x".repeat(16 << 10));
                    while events.send(event.clone()).await.is_ok() {}
                });
                server::sse(&conn, server::channel_stream(stream), None)
            }
            "/post" => match server::read_body(request, 1 << 20).await {
                Ok(body) => server::full(StatusCode::OK, "text/plain", format!("{}", body.len())),
                Err(refusal) => refusal,
            },
            _ => server::full(StatusCode::OK, "text/plain", "ok\n"),
        }
    })
}

/// The status line of whatever `stream` reads first.
async fn status_line(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Waits (bounded by the caller) until the server has no connection open.
async fn none_open(server: &Server) {
    while server.open_connections() > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Past the cap, a new connection gets 503 with `Retry-After` and is closed; the connections
/// already open are untouched, and a place freed is taken again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_new_ones_get_503_and_old_ones_are_untouched() {
    guard(async {
        let guards = Guards {
            max_connections: 2,
            ..Guards::default()
        };
        let (addr, server) = serve(guards, handler()).await;
        let mut first = TcpStream::connect(addr).await.expect("connect");
        let _second = TcpStream::connect(addr).await.expect("connect");
        while server.open_connections() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut third = TcpStream::connect(addr).await.expect("connect");
        assert_eq!(
            status_line(&mut third).await,
            "HTTP/1.1 503 Service Unavailable"
        );
        // An open connection still gets its answer.
        let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        first.write_all(request.as_bytes()).await.expect("write");
        assert_eq!(status_line(&mut first).await, "HTTP/1.1 200 OK");
        drop(first);
        while server.open_connections() > 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut fourth = TcpStream::connect(addr).await.expect("connect");
        fourth.write_all(request.as_bytes()).await.expect("write");
        assert_eq!(status_line(&mut fourth).await, "HTTP/1.1 200 OK");
    })
    .await;
}

/// The 503 names when to come back, and reaches a client that had sent its request (which
/// the server does not read) whole, not cut by a reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_503_carries_retry_after() {
    guard(async {
        let guards = Guards {
            max_connections: 0,
            ..Guards::default()
        };
        let (addr, _server) = serve(guards, handler()).await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("\r\nRetry-After: "), "{answer}");
    })
    .await;
}

/// An event-stream client that reads nothing (a 4 KiB receive buffer, never read): the
/// server's write deadline, beneath hyper, ends its connection, where hyper alone would hold
/// it, and the stream's buffers, for as long as the client liked.
#[tokio::test(start_paused = true)]
async fn an_event_stream_client_that_reads_nothing_is_let_go() {
    let test = async {
        let guards = Guards {
            write_timeout: Duration::from_secs(3),
            ..Guards::default()
        };
        let (addr, server) = serve(guards, handler()).await;
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("rcvbuf");
        let mut stream = socket.connect(addr).await.expect("connect");
        let request = format!("GET /sse HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        while server.open_connections() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        none_open(&server).await;
        drop(stream);
    };
    // Virtual time: a connection held forever fails after 10 simulated minutes.
    tokio::time::timeout(Duration::from_secs(600), test)
        .await
        .expect("the client that reads nothing was never let go");
}

/// A POST whose body stops after its first byte gets 408 once `BODY_TIMEOUT` has passed.
#[tokio::test(start_paused = true)]
async fn a_trickled_request_body_gets_408() {
    let test = async {
        let (addr, _server) = serve(Guards::default(), handler()).await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let head = format!("POST /post HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100\r\n\r\nx");
        stream.write_all(head.as_bytes()).await.expect("write");
        status_line(&mut stream).await
    };
    let status = tokio::time::timeout(Duration::from_secs(600), test)
        .await
        .expect("the slow body was never timed out");
    assert_eq!(status, "HTTP/1.1 408 Request Timeout");
}

/// A keep-alive connection left idle after its first response is closed once the head
/// deadline (here 2 s, in virtual time) has passed with no new request: well before hyper's
/// own default of 30 s, so the server's setting is the one in force.
#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_is_closed_at_the_head_deadline() {
    let test = async {
        let guards = Guards {
            head_timeout: Duration::from_secs(2),
            ..Guards::default()
        };
        let (addr, server) = serve(guards, handler()).await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        assert_eq!(status_line(&mut stream).await, "HTTP/1.1 200 OK");
        // Whatever else comes, the connection ends: the read reaches its end.
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
        none_open(&server).await;
    };
    tokio::time::timeout(Duration::from_secs(10), test)
        .await
        .expect("the idle connection was not closed at the head deadline");
}

/// A WebSocket session of the examples' server is on the server's memory budget while it is
/// open, and off it once it has ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_sessions_are_on_the_servers_budget() {
    guard(async {
        let handler = server::handler(|mut request, conn| async move {
            server::websocket(&mut request, &conn, |mut ws, _conn| async move {
                while let Ok(Some(_)) = ws.recv().await {}
            })
        });
        let (addr, server) = serve(Guards::default(), handler).await;
        let (mut ws, _) = websocket::io::connect(&format!("ws://{addr}/"))
            .await
            .expect("connect");
        ws.send(websocket::Message::Text("hello".into()))
            .await
            .expect("send");
        let budget = server.guards().budget.clone();
        while budget.accounts() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        ws.close(1000, "bye").await.expect("a clean close");
        while budget.accounts() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(budget.held(), 0);
    })
    .await;
}
