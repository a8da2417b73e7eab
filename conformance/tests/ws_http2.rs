//! WebSocket over HTTP/2 (RFC 8441) on 127.0.0.1: the extended CONNECT's rules and every
//! rejection as an HTTP/2 response, a client that waits for the server's
//! SETTINGS_ENABLE_CONNECT_PROTOCOL, several WebSockets on one connection, and a stream reset
//! in the middle of a message, from either side.
//!
//! The server is `wirelab echo`'s (hyper's HTTP/2 with `websocket::io::upgrade`); hand-made
//! requests go through hyper's client, and the resets through the `h2` crate, which can send
//! an RST_STREAM where hyper cannot. The frame-level rules over HTTP/2 are in
//! `ws_connection.rs` and `ws_frames.rs`, which run over every transport.

mod ws_support;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http2::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use websocket::frame::{Frame, OpCode};
use websocket::handshake::ServerOptions;
use websocket::handshake::http2::{ConnectRequest, check_connect};
use websocket::io::{ClientOptions, Http2Connection};
use websocket::{Error, Message};
use ws_support::bounded;

/// `wirelab echo`'s server with `options` on a fresh port; returns its address and how many
/// TCP connections it has accepted.
async fn echo_server(options: ServerOptions) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let options = Arc::new(options);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(wirelab::echo::serve_connection(
                tcp,
                options.clone(),
                websocket::io::Budget::default(),
            ));
        }
    });
    (addr, accepted)
}

/// A hyper HTTP/2 client on a new connection to `addr`, for requests made by hand.
async fn hyper_client(addr: &str) -> SendRequest<Empty<Bytes>> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    send
}

/// What the server answered: status, headers, body.
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

/// Sends a request of `method` to `http://addr/` with `protocol` as `:protocol` and
/// `headers`, and reads the answer (the body only if the stream was not accepted).
async fn ask(
    addr: &str,
    method: http::Method,
    protocol: Option<&'static str>,
    headers: &[(&'static str, &'static str)],
) -> Answer {
    let mut send = hyper_client(addr).await;
    let mut req = http::Request::builder()
        .method(method)
        .version(http::Version::HTTP_2)
        .uri(format!("http://{addr}/"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let mut req = req.body(Empty::new()).unwrap();
    if let Some(protocol) = protocol {
        req.extensions_mut()
            .insert(hyper::ext::Protocol::from_static(protocol));
    }
    let response = send.send_request(req).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = if parts.status.is_success() {
        String::new()
    } else {
        let bytes = body.collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

const VERSION: (&str, &str) = ("sec-websocket-version", "13");

#[tokio::test]
async fn rfc8441_5_an_extended_connect_is_answered_200() {
    bounded(async {
        let (addr, _) = echo_server(wirelab::echo::options()).await;
        let answer = ask(&addr, http::Method::CONNECT, Some("websocket"), &[VERSION]).await;
        assert_eq!(answer.status, 200);
        // No key was sent, and no accept comes back (§5).
        assert!(answer.headers.get("sec-websocket-accept").is_none());
    })
    .await;
}

// req: h2ws/5/protocol
#[tokio::test]
async fn rfc8441_4_a_connect_without_protocol_is_400() {
    bounded(async {
        let (addr, _) = echo_server(wirelab::echo::options()).await;
        let answer = ask(&addr, http::Method::CONNECT, None, &[VERSION]).await;
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert!(answer.body.contains("`:protocol = websocket` required"));
    })
    .await;
}

// req: h2ws/5/protocol
#[tokio::test]
async fn rfc8441_5_a_protocol_other_than_websocket_is_400() {
    bounded(async {
        let (addr, _) = echo_server(wirelab::echo::options()).await;
        let answer = ask(
            &addr,
            http::Method::CONNECT,
            Some("webtransport"),
            &[VERSION],
        )
        .await;
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert!(
            answer
                .body
                .contains("must be websocket, not \"webtransport\"")
        );
    })
    .await;
}

#[tokio::test]
async fn rfc8441_4_a_get_over_http2_is_405_allowing_connect() {
    bounded(async {
        let (addr, _) = echo_server(wirelab::echo::options()).await;
        let answer = ask(&addr, http::Method::GET, None, &[VERSION]).await;
        assert_eq!(answer.status, 405, "{}", answer.body);
        assert_eq!(answer.headers["allow"], "CONNECT");
    })
    .await;
}

#[tokio::test]
async fn rfc8441_5_a_missing_version_is_426_naming_13() {
    bounded(async {
        let (addr, _) = echo_server(wirelab::echo::options()).await;
        let answer = ask(&addr, http::Method::CONNECT, Some("websocket"), &[]).await;
        assert_eq!(answer.status, 426, "{}", answer.body);
        assert_eq!(answer.headers["sec-websocket-version"], "13");
        let answer = ask(
            &addr,
            http::Method::CONNECT,
            Some("websocket"),
            &[("sec-websocket-version", "8")],
        )
        .await;
        assert_eq!(answer.status, 426, "{}", answer.body);
    })
    .await;
}

#[tokio::test]
async fn rfc6455_11_3_5_one_version_over_http2() {
    bounded(async {
        let (addr, _) = echo_server(wirelab::echo::options()).await;
        let answer = ask(
            &addr,
            http::Method::CONNECT,
            Some("websocket"),
            &[VERSION, VERSION],
        )
        .await;
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert!(
            answer
                .body
                .contains("Sec-WebSocket-Version must not appear more than once")
        );
    })
    .await;
}

#[tokio::test]
async fn an_origin_not_allowed_is_403_over_http2() {
    bounded(async {
        let options = ServerOptions {
            allowed_origins: Some(vec!["http://good.example".into()]),
            ..wirelab::echo::options()
        };
        let (addr, _) = echo_server(options).await;
        let bad = ("origin", "http://evil.example");
        let answer = ask(
            &addr,
            http::Method::CONNECT,
            Some("websocket"),
            &[VERSION, bad],
        )
        .await;
        assert_eq!(answer.status, 403, "{}", answer.body);
        assert!(answer.body.contains("\"http://evil.example\" not allowed"));
        let good = ("origin", "http://good.example");
        let answer = ask(
            &addr,
            http::Method::CONNECT,
            Some("websocket"),
            &[VERSION, good],
        )
        .await;
        assert_eq!(answer.status, 200);
    })
    .await;
}

#[tokio::test]
async fn the_subprotocol_is_negotiated_over_http2() {
    bounded(async {
        let options = ServerOptions {
            select_subprotocol: Some(Arc::new(|offered: &[&str]| {
                offered
                    .iter()
                    .find(|p| p.starts_with("super"))
                    .map(|p| p.to_string())
            })),
            ..wirelab::echo::options()
        };
        let (addr, _) = echo_server(options).await;
        let tcp = TcpStream::connect(&addr).await.unwrap();
        let h2 = Http2Connection::handshake(tcp, &addr, false).await.unwrap();
        let offer = |protocols: &[&str]| ClientOptions {
            protocols: protocols.iter().map(|p| p.to_string()).collect(),
            ..ClientOptions::default()
        };
        let (ws, response) = h2
            .websocket("/", &offer(&["chat", "superchat"]))
            .await
            .unwrap();
        assert_eq!(ws.subprotocol(), Some("superchat"));
        let chosen = (response.headers.iter()).find(|(name, _)| name == "sec-websocket-protocol");
        assert_eq!(chosen.map(|(_, v)| v.as_slice()), Some(&b"superchat"[..]));
        // Nothing the selector likes: no subprotocol, and no header.
        let (ws, response) = h2.websocket("/", &offer(&["chat"])).await.unwrap();
        assert_eq!(ws.subprotocol(), None);
        assert!(
            !response
                .headers
                .iter()
                .any(|(name, _)| name == "sec-websocket-protocol")
        );
    })
    .await;
}

/// What hyper cannot send (its client always has `:scheme`, `:path` and `:authority` on an
/// extended CONNECT, and its server refuses one without) is checked on the values.
// req: h2ws/4/scheme-path
#[test]
fn rfc8441_4_an_extended_connect_names_its_target() {
    let whole = ConnectRequest::client("http", "example.com", "/chat", &[]).unwrap();
    assert!(check_connect(&whole, &ServerOptions::default()).is_ok());
    for (name, field) in [(":scheme", 0), (":path", 1), (":authority", 2)] {
        let mut req = whole.clone();
        let value = [&mut req.scheme, &mut req.path, &mut req.authority][field].take();
        assert!(value.is_some());
        let error = check_connect(&req, &ServerOptions::default()).unwrap_err();
        assert!(
            matches!(error, Error::MissingPseudoHeader(n) if n == name),
            "{error}"
        );
        assert_eq!(error.http_status(), Some(400));
    }
}

/// The extended CONNECT WireLab's client sends, as a plain hyper server reads it: `:protocol`
/// `websocket`, the `:scheme` of the target (`http` for `ws://`, `https` for `wss://`), its
/// `:path` and `:authority`, and no Connection or Upgrade header.
// req: h2ws/5/scheme h2ws/5/protocol h2ws/4/scheme-path h2ws/5/no-connection-upgrade
#[tokio::test]
async fn rfc8441_5_the_clients_extended_connect_as_a_server_reads_it() {
    bounded(async {
        for (tls, scheme) in [(false, "http"), (true, "https")] {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(async move {
                let (tcp, _) = listener.accept().await.unwrap();
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let _ = seen_tx.send(req.map(|_| ()));
                    async {
                        let mut refused = http::Response::new(Empty::<Bytes>::new());
                        *refused.status_mut() = http::StatusCode::BAD_REQUEST;
                        Ok::<_, Infallible>(refused)
                    }
                });
                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .enable_connect_protocol()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await
            });
            // Clear text both times: `tls` only says which scheme the client names.
            let tcp = TcpStream::connect(&addr).await.unwrap();
            let h2 = Http2Connection::handshake(tcp, &addr, tls).await.unwrap();
            let refused = h2
                .websocket("/chat?room=1", &ClientOptions::default())
                .await;
            assert!(
                matches!(refused, Err(Error::ConnectRefused(400))),
                "{refused:?}"
            );
            let req = seen.recv().await.expect("the request arrived");
            assert_eq!(req.method(), http::Method::CONNECT);
            let protocol = req.extensions().get::<hyper::ext::Protocol>();
            assert_eq!(protocol.map(|p| p.as_str()), Some("websocket"));
            assert_eq!(req.uri().scheme_str(), Some(scheme));
            assert_eq!(
                req.uri().path_and_query().map(|p| p.as_str()),
                Some("/chat?room=1")
            );
            assert_eq!(req.uri().authority().map(|a| a.as_str()), Some(&*addr));
            for name in ["connection", "upgrade"] {
                assert!(req.headers().get(name).is_none(), "{name}");
            }
        }
    })
    .await;
}

/// RFC 8441 §4: `:authority` names the target as any request's does, and is no host to open a
/// tunnel to. A client that names a host that does not exist still talks to this server's
/// WebSocket, on this connection.
// req: h2ws/4/no-tunnel
#[tokio::test]
async fn rfc8441_4_the_authority_is_not_a_tunnel_target() {
    bounded(async {
        let (addr, accepted) = echo_server(wirelab::echo::options()).await;
        let tcp = TcpStream::connect(&addr).await.unwrap();
        let h2 = Http2Connection::handshake(tcp, "elsewhere.invalid:9", false)
            .await
            .unwrap();
        let (mut ws, _) = h2.websocket("/", &ClientOptions::default()).await.unwrap();
        ws.send(Message::Text("here".into())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(Message::Text("here".into())));
        ws.close(1000, "").await.unwrap();
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one TCP connection");
    })
    .await;
}

/// RFC 8441 §3: a client sends an extended CONNECT only to a server that said it may.
#[tokio::test]
async fn a_client_waits_for_the_setting_and_is_refused_without_it() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let service = service_fn(|_req: http::Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(http::Response::new(Empty::<Bytes>::new()))
            });
            // hyper's HTTP/2 server, without `enable_connect_protocol`.
            hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tcp), service)
                .await
        });
        let tcp = TcpStream::connect(&addr).await.unwrap();
        let h2 = Http2Connection::handshake(tcp, &addr, false).await.unwrap();
        assert!(!h2.extended_connect_enabled().await.unwrap());
        let refused = h2.websocket("/", &ClientOptions::default()).await;
        assert!(
            matches!(refused, Err(Error::ExtendedConnectNotEnabled)),
            "{refused:?}"
        );
        // The echo server advertises it.
        let (addr, _) = echo_server(wirelab::echo::options()).await;
        let tcp = TcpStream::connect(&addr).await.unwrap();
        let h2 = Http2Connection::handshake(tcp, &addr, false).await.unwrap();
        assert!(h2.extended_connect_enabled().await.unwrap());
    })
    .await;
}

/// A server that speaks HTTP/1.1 only answers the preface with a refusal and closes: the
/// client says so, and does not wait for SETTINGS that will never come.
#[tokio::test]
async fn a_client_of_an_http1_only_server_fails_clearly() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            wirelab::echo::echo_connection(
                tcp,
                &wirelab::echo::options(),
                &websocket::io::Budget::default(),
            )
            .await
        });
        let url = format!("ws://{addr}/");
        let error = websocket::io::connect_http2(&url, &ClientOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("before the server's HTTP/2 SETTINGS")
        );
    })
    .await;
}

/// Three WebSockets on one TCP connection, talking at the same time, each closed by its own
/// closing handshake; the connection outlives them, and a fourth opens on it.
#[tokio::test]
async fn several_websockets_share_one_connection() {
    bounded(async {
        let (addr, accepted) = echo_server(wirelab::echo::options()).await;
        let tcp = TcpStream::connect(&addr).await.unwrap();
        let h2 = Http2Connection::handshake(tcp, &addr, false).await.unwrap();
        let mut sockets = Vec::new();
        for _ in 0..3 {
            let (ws, _) = h2.websocket("/", &ClientOptions::default()).await.unwrap();
            sockets.push(ws);
        }
        for round in 0..20u32 {
            for (i, ws) in sockets.iter_mut().enumerate() {
                let text = format!("socket {i}, round {round}");
                ws.send(Message::Text(text)).await.unwrap();
            }
            // Larger than a DATA frame's default maximum (16 KiB): flow control at work.
            sockets[0]
                .send(Message::Binary(vec![round as u8; 40_000]))
                .await
                .unwrap();
            for (i, ws) in sockets.iter_mut().enumerate() {
                let text = format!("socket {i}, round {round}");
                assert_eq!(ws.recv().await.unwrap(), Some(Message::Text(text)));
            }
            let big = sockets[0].recv().await.unwrap();
            assert_eq!(big, Some(Message::Binary(vec![round as u8; 40_000])));
        }
        for mut ws in sockets {
            ws.close(1000, "done").await.unwrap();
            assert_eq!(ws.recv().await.unwrap(), None);
        }
        let (mut ws, _) = h2.websocket("/", &ClientOptions::default()).await.unwrap();
        ws.send(Message::Text("after".into())).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap(),
            Some(Message::Text("after".into()))
        );
        ws.close(1000, "").await.unwrap();
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one TCP connection");
    })
    .await;
}

/// A Ping and the start of a 100-byte Binary frame, masked if `masked`: what a peer sends
/// before it resets the stream.
fn ping_and_half_a_frame(masked: bool) -> Bytes {
    let mut bytes = Vec::new();
    let mask = |frame: Frame| {
        if masked {
            frame.masked([1, 2, 3, 4])
        } else {
            frame
        }
    };
    mask(Frame::new(OpCode::Ping, b"reset?".to_vec())).encode(&mut bytes);
    let mut half = Vec::new();
    mask(Frame::new(OpCode::Binary, vec![7; 100])).encode(&mut half);
    bytes.extend_from_slice(&half[..half.len() / 2]);
    Bytes::from(bytes)
}

/// The resets a peer may send: CANCEL (which hyper reads as the end of the stream) and an
/// error (which it reads as an I/O error).
const RESETS: [h2::Reason; 2] = [h2::Reason::CANCEL, h2::Reason::INTERNAL_ERROR];

/// RFC 8441 §5: RST_STREAM is the TCP reset of a WebSocket over HTTP/2. A client resets its
/// stream in the middle of a message: the server's `recv` fails with 1006, and does not hang.
#[tokio::test]
async fn a_stream_reset_mid_message_is_1006_at_the_server() {
    for reason in RESETS {
        bounded(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            let server = tokio::spawn(async move {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut ws = ws_support::accept_http2(tcp).await;
                let ping = ws.recv().await;
                (ping, ws.recv().await)
            });
            let tcp = TcpStream::connect(&addr).await.unwrap();
            let (client, conn) = h2::client::handshake(tcp).await.unwrap();
            tokio::spawn(conn);
            let mut client = client.ready().await.unwrap();
            let mut req = http::Request::builder()
                .method(http::Method::CONNECT)
                .uri(format!("http://{addr}/"))
                .header("sec-websocket-version", "13")
                .body(())
                .unwrap();
            req.extensions_mut()
                .insert(h2::ext::Protocol::from("websocket"));
            let (response, mut stream) = client.send_request(req, false).unwrap();
            let response = response.await.unwrap();
            assert_eq!(response.status(), 200);
            stream
                .send_data(ping_and_half_a_frame(true), false)
                .unwrap();
            // The Pong says the server has read the half frame (it came in the same DATA).
            let mut body = response.into_body();
            let pong = body.data().await.unwrap().unwrap();
            assert_eq!(pong[0], 0x8A);
            stream.send_reset(reason);
            let (ping, after) = server.await.unwrap();
            assert_eq!(ping.unwrap(), Some(Message::Ping(b"reset?".to_vec())));
            let error = after.unwrap_err();
            assert_eq!(error.close_code(), Some(1006), "{reason:?}: {error}");
        })
        .await;
    }
}

/// The other way: the server resets the stream in the middle of a message, and the client's
/// `recv` fails with 1006.
#[tokio::test]
async fn a_stream_reset_mid_message_is_1006_at_the_client() {
    for reason in RESETS {
        bounded(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            tokio::spawn(async move {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut conn = h2::server::Builder::new()
                    .enable_connect_protocol()
                    .handshake::<_, Bytes>(tcp)
                    .await
                    .unwrap();
                let (req, mut respond) = conn.accept().await.unwrap().unwrap();
                // Keep the connection running while this stream is answered.
                tokio::spawn(async move { while conn.accept().await.is_some() {} });
                let mut stream = respond
                    .send_response(http::Response::new(()), false)
                    .unwrap();
                stream
                    .send_data(ping_and_half_a_frame(false), false)
                    .unwrap();
                let mut body = req.into_body();
                let pong = body.data().await.unwrap().unwrap();
                assert_eq!(pong[0], 0x8A);
                stream.send_reset(reason);
            });
            let tcp = TcpStream::connect(&addr).await.unwrap();
            let h2 = Http2Connection::handshake(tcp, &addr, false).await.unwrap();
            let (mut ws, _) = h2.websocket("/", &ClientOptions::default()).await.unwrap();
            assert_eq!(
                ws.recv().await.unwrap(),
                Some(Message::Ping(b"reset?".to_vec()))
            );
            let error = ws.recv().await.unwrap_err();
            assert_eq!(error.close_code(), Some(1006), "{reason:?}: {error}");
            assert_eq!(ws.recv().await.unwrap(), None);
        })
        .await;
    }
}

/// What an opening handshake costs on the wire, client to server and back, counted at the
/// client's socket: HTTP/1.1's Upgrade (`GET` and `101`, with key and accept), and RFC 8441's
/// extended CONNECT (HEADERS and HEADERS), the first on a new connection (with HTTP/2's
/// preface, SETTINGS and their acknowledgements) and the next one on the same connection,
/// where HPACK's dynamic table has the repeated fields already. The book's figures.
#[tokio::test]
async fn handshake_bytes() {
    bounded(async {
        let (addr, _) = echo_server(wirelab::echo::options()).await;
        // The same authority and path whatever the port, so that the counts do not change.
        let (authority, path) = ("server.example.com", "/chat");
        let metered = |tcp| {
            let meter = Arc::new(ws_support::Meter::default());
            (
                ws_support::Metered {
                    stream: tcp,
                    meter: meter.clone(),
                },
                meter,
            )
        };
        let (mut tcp, http1) = metered(TcpStream::connect(&addr).await.unwrap());
        let (mut hs, request) =
            websocket::handshake::ClientHandshake::new(authority, path, &[], &Default::default())
                .unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut tcp, &request)
            .await
            .unwrap();
        let mut buf = vec![0; 4096];
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut tcp, &mut buf)
                .await
                .unwrap();
            if hs.receive(&buf[..n]).unwrap().is_some() {
                break;
            }
        }
        let (tcp, http2) = metered(TcpStream::connect(&addr).await.unwrap());
        let h2 = Http2Connection::handshake(tcp, authority, false)
            .await
            .unwrap();
        let (_first, _) = h2.websocket(path, &ClientOptions::default()).await.unwrap();
        let first = http2.now();
        let (_second, _) = h2.websocket(path, &ClientOptions::default()).await.unwrap();
        let second = (http2.now().0 - first.0, http2.now().1 - first.1);
        let rows = [
            ("HTTP/1.1: GET with Upgrade, 101", http1.now()),
            (
                "HTTP/2: first WebSocket, with the connection's setup",
                first,
            ),
            ("HTTP/2: next WebSocket on that connection", second),
        ];
        let mut table =
            String::from("handshake                                             C->S  S->C\n");
        for (what, (up, down)) in rows {
            table.push_str(&format!("{what:<52} {up:>5} {down:>5}\n"));
        }
        // HPACK and the missing key and accept: a WebSocket on an open HTTP/2 connection costs
        // fewer bytes each way than an HTTP/1.1 handshake, and fewer than the first one did.
        assert!(
            second.0 < http1.now().0 && second.1 < http1.now().1,
            "{table}"
        );
        assert!(second.0 < first.0 && second.1 < first.1, "{table}");
        insta::assert_snapshot!(table);
    })
    .await;
}
