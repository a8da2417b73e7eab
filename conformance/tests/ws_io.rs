//! The WebSocket I/O layer over real sockets on 127.0.0.1: accept, connect, the hyper upgrade
//! on a port that also serves a page, rejections as HTTP answers, split halves, automatic
//! Pongs, keep-alive, and the ends of a connection (clean close, timeouts, 1006). The echo
//! conversations and the split halves run over HTTP/2 (RFC 8441) as well.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use websocket::handshake::ServerOptions;
use websocket::io::{ClientOptions, WebSocket, accept, connect, connect_http2, connect_with};
use websocket::{CloseFrame, Config, Error, Limits, Message, Timeouts};

/// Every test is bounded: a hang fails instead of blocking the suite.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("finished in time")
}

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    (listener, url)
}

/// A conversation with the echo server: text, a 100 KB binary message, the closing handshake.
async fn echo_round_trip<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocket<S>) {
    ws.send(Message::Text("hello".into())).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap(),
        Some(Message::Text("hello".into()))
    );
    ws.send(Message::Binary(vec![0; 100_000])).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap(),
        Some(Message::Binary(vec![0; 100_000]))
    );
    ws.close(1000, "bye").await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), None);
}

/// The same server and the same conversation over HTTP/1.1 (`101`) and over HTTP/2 in
/// clear text (RFC 8441, `200`): `wirelab echo` serves both on one port.
// req: ws/4.1/wait ws/5.1/server-no-mask
#[tokio::test]
async fn echo_through_accept_and_connect() {
    bounded(async {
        let (listener, url) = listener().await;
        tokio::spawn(wirelab::echo::serve(listener));
        let (ws, response) = connect(&url).await.unwrap();
        assert_eq!(response.status, 101);
        echo_round_trip(ws).await;
        let (ws, response, _h2) = connect_http2(&url, &ClientOptions::default())
            .await
            .unwrap();
        assert_eq!(response.status, 200);
        echo_round_trip(ws).await;
    })
    .await;
}

#[tokio::test]
async fn one_hyper_port_serves_a_page_and_websocket() {
    bounded(async {
        let (listener, url) = listener().await;
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let service =
                    service_fn(|mut req: http::Request<hyper::body::Incoming>| async move {
                        if req.uri().path() != "/ws" {
                            let page = Full::new(Bytes::from_static(b"<h1>a page</h1>"));
                            return Ok::<_, Infallible>(http::Response::new(page));
                        }
                        match websocket::io::upgrade(&mut req, &ServerOptions::default()) {
                            Ok((response, upgrading)) => {
                                tokio::spawn(async move {
                                    let mut ws = upgrading.finish().await.unwrap();
                                    while let Ok(Some(m)) = ws.recv().await {
                                        if let Message::Text(t) = m {
                                            let _ = ws.send(Message::Text(t.to_uppercase())).await;
                                        }
                                    }
                                });
                                Ok(response)
                            }
                            Err(error) => Ok(websocket::io::rejection(&error)),
                        }
                    });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades(),
                );
            }
        });
        let addr = url
            .trim_start_matches("ws://")
            .trim_end_matches('/')
            .to_owned();
        // The page, over plain HTTP/1.1.
        let mut tcp = TcpStream::connect(&addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut page = String::new();
        tcp.read_to_string(&mut page).await.unwrap();
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
        assert!(page.ends_with("<h1>a page</h1>"));
        // A plain GET to the WebSocket path is rejected with the reason.
        let mut tcp = TcpStream::connect(&addr).await.unwrap();
        tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 400 Bad Request"), "{answer}");
        assert!(answer.contains("`Upgrade: websocket` required"));
        // And WebSocket on the same port.
        let (mut ws, _) = connect(&format!("ws://{addr}/ws")).await.unwrap();
        ws.send(Message::Text("shout".into())).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap(),
            Some(Message::Text("SHOUT".into()))
        );
        ws.close(1000, "").await.unwrap();
    })
    .await;
}

// req: ws/4.2.1/refuse ws/10.7/validate
#[tokio::test]
async fn a_rejected_handshake_gets_an_answer_that_says_why() {
    bounded(async {
        let (listener, url) = listener().await;
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            accept(stream, &ServerOptions::default()).await.map(|_| ())
        });
        let addr = url
            .trim_start_matches("ws://")
            .trim_end_matches('/')
            .to_owned();
        let mut tcp = TcpStream::connect(&addr).await.unwrap();
        // The head, and frames sent without waiting for the 101: the server answers the head
        // and discards the rest (see `accept`) before it lets go of the connection.
        let mut bytes =
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"
                .to_vec();
        bytes.extend(std::iter::repeat_n(0x81, 64 * 1024));
        tcp.write_all(&bytes).await.unwrap();
        assert!(matches!(
            server.await.unwrap(),
            Err(Error::UnsupportedVersion)
        ));
        // Read only once the server is done with the connection.
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer)
            .await
            .expect("the answer, not a reset");
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
            "{answer}"
        );
        assert!(answer.contains("\r\nSec-WebSocket-Version: 13\r\n"));
    })
    .await;
}

/// Two tasks, one reading and one writing 200 messages of 2 KB at once, then the close.
async fn split_halves<S>(ws: WebSocket<S>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut rx, mut tx) = ws.split();
    let writer = tokio::spawn(async move {
        for i in 0..200u32 {
            tx.feed(Message::Binary(i.to_be_bytes().repeat(500)))
                .await
                .unwrap();
        }
        tx.flush().await.unwrap();
        tx
    });
    for i in 0..200u32 {
        assert_eq!(
            rx.recv().await.unwrap(),
            Some(Message::Binary(i.to_be_bytes().repeat(500)))
        );
    }
    let mut tx = writer.await.unwrap();
    tx.close(1000, "").await.unwrap();
    assert!(matches!(rx.recv().await.unwrap(), Some(Message::Close(_))));
    assert_eq!(rx.recv().await.unwrap(), None);
}

#[tokio::test]
async fn split_halves_read_and_write_at_once() {
    bounded(async {
        let (listener, url) = listener().await;
        tokio::spawn(wirelab::echo::serve(listener));
        let (ws, _) = connect(&url).await.unwrap();
        split_halves(ws).await;
        let options = ClientOptions::default();
        let (ws, _, _h2) = connect_http2(&url, &options).await.unwrap();
        split_halves(ws).await;
    })
    .await;
}

// req: ws/5.5.2/pong
#[tokio::test]
async fn pongs_go_out_while_the_application_only_reads() {
    bounded(async {
        let (listener, url) = listener().await;
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (mut ws, _) = accept(stream, &ServerOptions::default()).await.unwrap();
            ws.send(Message::Ping(b"anyone?".to_vec())).await.unwrap();
            let pong = ws.recv().await.unwrap();
            ws.close(1000, "thanks").await.unwrap();
            pong
        });
        let (mut ws, _) = connect(&url).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap(),
            Some(Message::Ping(b"anyone?".to_vec()))
        );
        let close = CloseFrame {
            code: 1000,
            reason: "thanks".into(),
        };
        assert_eq!(ws.recv().await.unwrap(), Some(Message::Close(Some(close))));
        assert_eq!(ws.recv().await.unwrap(), None);
        assert_eq!(
            server.await.unwrap(),
            Some(Message::Pong(b"anyone?".to_vec()))
        );
    })
    .await;
}

// req: ws/7.1.1/server-first ws/5.5.1/close-tcp ws/7.1.1/clean-close
#[tokio::test]
async fn the_server_closes_tcp_first() {
    bounded(async {
        let (listener, url) = listener().await;
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (mut ws, _) = accept(stream, &ServerOptions::default()).await.unwrap();
            (ws.recv().await.unwrap(), ws.recv().await.unwrap())
        });
        // A raw client: send a masked Close, read the reply, then see the server's FIN.
        let addr = url
            .trim_start_matches("ws://")
            .trim_end_matches('/')
            .to_owned();
        let mut tcp = TcpStream::connect(&addr).await.unwrap();
        let (mut hs, request) =
            websocket::handshake::ClientHandshake::new(&addr, "/", &[], &Limits::default())
                .unwrap();
        tcp.write_all(&request).await.unwrap();
        let mut buf = vec![0; 4096];
        let mut leftover = loop {
            let n = tcp.read(&mut buf).await.unwrap();
            if let Some((_, _, leftover)) = hs.receive(&buf[..n]).unwrap() {
                break leftover;
            }
        };
        let mut close = Vec::new();
        websocket::frame::Frame::new(websocket::frame::OpCode::Close, vec![0x03, 0xe8])
            .masked([1, 2, 3, 4])
            .encode(&mut close);
        tcp.write_all(&close).await.unwrap();
        // Read to the end: this returns only because the server closed the connection.
        tcp.read_to_end(&mut leftover).await.unwrap();
        assert_eq!(
            leftover,
            [0x88, 0x02, 0x03, 0xe8],
            "one Close in reply, then EOF"
        );
        let (first, second) = server.await.unwrap();
        let normal = CloseFrame {
            code: 1000,
            reason: String::new(),
        };
        assert_eq!(first, Some(Message::Close(Some(normal))));
        assert_eq!(second, None);
    })
    .await;
}

// req: ws/7.2.1/lost
#[tokio::test]
async fn a_peer_that_vanishes_is_reported_as_1006() {
    bounded(async {
        let (listener, url) = listener().await;
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (ws, _) = accept(stream, &ServerOptions::default()).await.unwrap();
            drop(ws);
        });
        let (mut ws, _) = connect(&url).await.unwrap();
        let error = ws.recv().await.unwrap_err();
        assert!(matches!(error, Error::AbnormalClosure), "{error}");
        assert_eq!(error.close_code(), Some(1006));
        assert_eq!(ws.recv().await.unwrap(), None);
    })
    .await;
}

/// A peer that completes the handshake, then never reads or answers anything.
async fn silent_peer(url: &str) -> TcpStream {
    let addr = url.trim_start_matches("ws://").trim_end_matches('/');
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let (mut hs, request) =
        websocket::handshake::ClientHandshake::new(addr, "/", &[], &Limits::default()).unwrap();
    tcp.write_all(&request).await.unwrap();
    let mut buf = vec![0; 4096];
    loop {
        let n = tcp.read(&mut buf).await.unwrap();
        if hs.receive(&buf[..n]).unwrap().is_some() {
            return tcp;
        }
    }
}

#[tokio::test]
async fn keepalive_pings_detect_a_dead_peer() {
    bounded(async {
        let (listener, url) = listener().await;
        let options = ServerOptions {
            config: Config {
                timeouts: Timeouts {
                    ping_interval: Some(Duration::from_millis(50)),
                    ping_timeout: Duration::from_millis(100),
                    ..Timeouts::default()
                },
                ..Config::default()
            },
            ..ServerOptions::default()
        };
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (mut ws, _) = accept(stream, &options).await.unwrap();
            ws.recv().await
        });
        let mut peer = silent_peer(&url).await;
        let error = server.await.unwrap().unwrap_err();
        assert!(matches!(error, Error::KeepaliveTimeout), "{error}");
        // What the peer would have read: the keep-alive Ping, then a Close with 1011.
        let mut bytes = Vec::new();
        peer.read_to_end(&mut bytes).await.unwrap();
        let (ping, n) = websocket::frame::Frame::decode(&bytes).unwrap().unwrap();
        assert_eq!(ping.payload, b"keepalive");
        let (close, _) = websocket::frame::Frame::decode(&bytes[n..])
            .unwrap()
            .unwrap();
        assert_eq!(close.header.opcode, websocket::frame::OpCode::Close);
        assert_eq!(close.payload[..2], 1011u16.to_be_bytes());
    })
    .await;
}

#[tokio::test]
async fn keepalive_pings_are_answered_by_a_live_peer() {
    bounded(async {
        let (listener, url) = listener().await;
        let options = ClientOptions {
            config: Config {
                timeouts: Timeouts {
                    ping_interval: Some(Duration::from_millis(20)),
                    ..Timeouts::default()
                },
                ..Config::default()
            },
            ..ClientOptions::default()
        };
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (mut ws, _) = accept(stream, &ServerOptions::default()).await.unwrap();
            while let Ok(Some(_)) = ws.recv().await {}
        });
        let (mut ws, _) = connect_with(&url, &options).await.unwrap();
        // The server says nothing; our keep-alive Ping is answered, and we see the Pong.
        assert_eq!(
            ws.recv().await.unwrap(),
            Some(Message::Pong(b"keepalive".to_vec()))
        );
        ws.close(1000, "").await.unwrap();
    })
    .await;
}

/// A server that accepts one connection and starts the closing handshake with a
/// `Timeouts::close` of 100 ms; returns what `close` returned.
async fn close_with_short_timeout(
    listener: TcpListener,
    code: u16,
    reason: &'static str,
) -> Result<(), Error> {
    let options = ServerOptions {
        config: Config {
            timeouts: Timeouts {
                close: Duration::from_millis(100),
                ..Timeouts::default()
            },
            ..Config::default()
        },
        ..ServerOptions::default()
    };
    let (stream, _) = listener.accept().await.unwrap();
    let (mut ws, _) = accept(stream, &options).await.unwrap();
    ws.close(code, reason).await
}

#[tokio::test]
async fn closing_gives_up_on_a_peer_that_never_answers() {
    bounded(async {
        let (listener, url) = listener().await;
        let server = tokio::spawn(close_with_short_timeout(listener, 1001, "going away"));
        let _peer = silent_peer(&url).await;
        assert!(matches!(server.await.unwrap(), Err(Error::CloseTimeout)));
    })
    .await;
}

/// The helpers the Autobahn client-mode runner calls: `read_one_text` (for `/getCaseCount`)
/// and `echo_until_closed` (for `/runCase`), against a server that plays the suite's part.
#[tokio::test]
async fn autobahn_client_mode_helpers() {
    bounded(async {
        let (listener, url) = listener().await;
        let server = tokio::spawn(async move {
            // First connection: one Text with a count, then Close.
            let (stream, _) = listener.accept().await.unwrap();
            let (mut ws, request) = accept(stream, &ServerOptions::default()).await.unwrap();
            assert_eq!(request.path, "/getCaseCount");
            ws.send(Message::Text("2".into())).await.unwrap();
            ws.close(1000, "").await.unwrap();
            // Second connection: expect everything echoed, then close with a code.
            let (stream, _) = listener.accept().await.unwrap();
            let (mut ws, request) = accept(stream, &ServerOptions::default()).await.unwrap();
            assert_eq!(request.path, "/runCase?case=1&agent=wirelab");
            let sent = [
                Message::Text("κόσμε".into()),
                Message::Binary(vec![1, 2, 3]),
            ];
            for message in &sent {
                ws.send(message.clone()).await.unwrap();
            }
            let mut echoed = Vec::new();
            for _ in 0..sent.len() {
                echoed.push(ws.recv().await.unwrap().unwrap());
            }
            ws.close(4000, "case over").await.unwrap();
            assert_eq!(echoed, sent);
        });
        let base = url.trim_end_matches('/');
        let count = wirelab::ws_cmd::read_one_text(&format!("{base}/getCaseCount"))
            .await
            .unwrap();
        assert_eq!(count.as_deref(), Some("2"));
        let close =
            wirelab::ws_cmd::echo_until_closed(&format!("{base}/runCase?case=1&agent=wirelab"))
                .await
                .unwrap();
        let expected = CloseFrame {
            code: 4000,
            reason: "case over".into(),
        };
        assert_eq!(close, Some(expected));
        server.await.unwrap();
    })
    .await;
}

// req: ws/4.1/wait
/// A server that writes its 101 and its first frame in one write: the frame must not be lost
/// with the handshake head (RFC 6455 §4.1: the bytes after the head are frames).
#[tokio::test]
async fn frames_in_the_same_read_as_the_101_are_kept() {
    bounded(async {
        let (listener, url) = listener().await;
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut server = websocket::handshake::ServerHandshake::new(&Limits::default());
            let mut buf = vec![0; 4096];
            let request = loop {
                let n = tcp.read(&mut buf).await.unwrap();
                if let Some((request, _)) = server.receive(&buf[..n]).unwrap() {
                    break request;
                }
            };
            let accepted =
                websocket::handshake::check_request(&request, &ServerOptions::default()).unwrap();
            let mut bytes = accepted.response_bytes();
            bytes.extend_from_slice(&[0x81, 0x05]);
            bytes.extend_from_slice(b"early");
            tcp.write_all(&bytes).await.unwrap();
            // Hold the connection open until the client is done.
            let _ = tcp.read(&mut buf).await;
        });
        let (mut ws, _) = connect(&url).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap(),
            Some(Message::Text("early".into()))
        );
    })
    .await;
}

#[tokio::test]
async fn closing_gives_up_on_a_peer_that_keeps_talking() {
    bounded(async {
        let (listener, url) = listener().await;
        let server = tokio::spawn(close_with_short_timeout(listener, 1000, ""));
        // A peer that sends a Text every 10 ms and never a Close (for at most 3 s).
        let mut peer = silent_peer(&url).await;
        let talker = tokio::spawn(async move {
            let mut frame = Vec::new();
            websocket::frame::Frame::new(websocket::frame::OpCode::Text, b"more".to_vec())
                .masked([1, 2, 3, 4])
                .encode(&mut frame);
            for _ in 0..300 {
                if peer.write_all(&frame).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        assert!(matches!(server.await.unwrap(), Err(Error::CloseTimeout)));
        talker.abort();
    })
    .await;
}

/// A client of the echo server over an in-memory pipe: the handshake written, the 101 left
/// unread (it fits in the pipe).
async fn echo_client_over_duplex() -> (tokio::task::JoinHandle<Result<(), Error>>, DuplexStream) {
    let (server_side, mut peer) = tokio::io::duplex(64 << 10);
    let echo = tokio::spawn(async move {
        wirelab::echo::echo_connection(
            server_side,
            &wirelab::echo::options(),
            &websocket::io::Budget::default(),
        )
        .await
    });
    let (_, request) =
        websocket::handshake::ClientHandshake::new("h", "/", &[], &Limits::default()).unwrap();
    peer.write_all(&request).await.unwrap();
    (echo, peer)
}

/// Far longer than any limit of the echo server: reaching it (in paused time) means a hang.
const HANG: Duration = Duration::from_secs(3600);

/// The echo server's task ends when its peer stops reading: the echo's write is bounded.
#[tokio::test(start_paused = true)]
async fn the_echo_server_lets_go_of_a_peer_that_stops_reading() {
    let (echo, mut peer) = echo_client_over_duplex().await;
    let mut client = websocket::Connection::new(websocket::Role::Client, Limits::default());
    client.send(Message::Binary(vec![0; 1 << 20])).unwrap();
    peer.write_all(&client.take_output()).await.unwrap();
    // The 1 MiB echo fills the pipe; nobody reads it.
    let ended = tokio::time::timeout(HANG, echo).await;
    assert!(matches!(ended, Ok(Ok(Err(_)))), "{ended:?}");
    drop(peer);
}

/// The echo server's task ends when its peer goes silent without closing: keep-alive.
#[tokio::test(start_paused = true)]
async fn the_echo_server_lets_go_of_a_silent_peer() {
    let (echo, peer) = echo_client_over_duplex().await;
    let ended = tokio::time::timeout(HANG, echo).await;
    assert!(
        matches!(ended, Ok(Ok(Err(Error::KeepaliveTimeout)))),
        "{ended:?}"
    );
    drop(peer);
}

// req: ws/4.1/connect-fail
#[tokio::test]
async fn a_connection_that_cannot_be_opened_fails_the_client() {
    bounded(async {
        // A port that was just free: nothing listens on it now.
        let (listener, url) = listener().await;
        drop(listener);
        let result = connect(&url).await;
        assert!(matches!(result, Err(Error::Io(_))), "{result:?}");
    })
    .await;
}
