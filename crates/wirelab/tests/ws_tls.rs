//! `wirelab ws` over TLS (`wss://`), against `wirelab echo --tls`'s server with a development
//! certificate: an HTTP/1.1 Upgrade when the server picks `http/1.1` by ALPN, RFC 8441's
//! extended CONNECT on the TLS connection when it picks `h2`, HTTP/1.1 on a second connection
//! when its HTTP/2 does not allow extended CONNECT, and a clear failure when the certificate
//! is not trusted.
//!
//! Run: `cargo test -p wirelab --test ws_tls`

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::Empty;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use tokio::net::TcpListener;
use websocket::Message;
use wirelab::ws_cmd::{Connected, Dial, connect, options};
use wirelab_examples::server::tls::{ALPN_H2_HTTP1, ALPN_HTTP1_ONLY, DevCert, alpn};

/// `wirelab echo`'s server over TLS with `dev`'s certificate, offering `alpn`.
async fn echo_server(dev: &DevCert, alpn: &[&[u8]]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let acceptor = dev.identity.acceptor(alpn).expect("acceptor");
    let options = wirelab::echo::options();
    tokio::spawn(wirelab::echo::serve_within(
        listener,
        options,
        wirelab::echo::Capacity::default(),
        Some(acceptor),
    ));
    addr
}

/// A [`Dial`] that trusts `dev`'s certificate.
fn trusting(dev: &DevCert, http2: bool) -> Dial {
    let ca = CertificateDer::from_pem_slice(dev.cert_pem.as_bytes()).expect("PEM");
    Dial {
        http2,
        ca: vec![ca],
    }
}

/// Sends a Text and a Binary message and checks that both come back, then closes.
async fn echoes(connected: Connected) {
    let mut ws = connected.ws;
    let sent = [
        Message::Text("hello over TLS".into()),
        Message::Binary(vec![0, 1, 2, 255]),
    ];
    for message in &sent {
        ws.send(message.clone()).await.expect("send");
    }
    for message in &sent {
        assert_eq!(&ws.recv().await.expect("recv").expect("a message"), message);
    }
    ws.close(1000, "").await.expect("close");
}

/// Connects to `wirelab echo`'s server offering `alpn`, trusting its certificate: the
/// connection, checked to be over TLS with `described` as its `connected:` words.
async fn wss(alpn: &[&[u8]], described: &str) -> Connected {
    let dev = DevCert::generate().expect("certificate");
    let addr = echo_server(&dev, alpn).await;
    let url = format!("wss://{addr}/");
    let connected = connect(&url, &trusting(&dev, false), &options())
        .await
        .expect("connected");
    assert!(connected.tls);
    assert_eq!(connected.describe(), described);
    connected
}

// req: ws/4.1/tls
#[tokio::test]
async fn wss_over_http1_when_the_server_picks_http1() {
    let described = "WebSocket over HTTP/1.1 (RFC 6455 Upgrade, TLS, ALPN http/1.1), 101";
    let connected = wss(ALPN_HTTP1_ONLY, described).await;
    assert_eq!(
        (
            connected.http2,
            connected.alpn.as_deref(),
            connected.response.status
        ),
        (false, Some("http/1.1"), 101)
    );
    // permessage-deflate is HTTP/1.1's, over TLS too.
    assert!(connected.ws.deflate().is_some());
    echoes(connected).await;
}

// req: ws/4.1/tls
#[tokio::test]
async fn wss_over_http2_when_the_server_picks_h2() {
    let described = "WebSocket over HTTP/2 (RFC 8441 extended CONNECT, TLS, ALPN h2), 200";
    let connected = wss(ALPN_H2_HTTP1, described).await;
    assert_eq!(
        (
            connected.http2,
            connected.alpn.as_deref(),
            connected.response.status
        ),
        (true, Some("h2"), 200)
    );
    echoes(connected).await;
}

/// A server whose HTTP/2 does not accept extended CONNECT (no
/// `SETTINGS_ENABLE_CONNECT_PROTOCOL`), and whose HTTP/1.1 is `wirelab echo`'s: it counts the
/// connections that chose each by ALPN.
async fn http2_without_extended_connect(dev: &DevCert) -> (SocketAddr, Arc<[AtomicUsize; 2]>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let acceptor = dev.identity.acceptor(ALPN_H2_HTTP1).expect("acceptor");
    let chosen = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let counts = chosen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(tls) = wirelab::echo::accept_tls(&acceptor, tcp).await else {
                continue;
            };
            let h2 = alpn(&tls).as_deref() == Some("h2");
            counts[usize::from(h2)].fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if !h2 {
                    let budget = websocket::io::Budget::default();
                    let _ = wirelab::echo::echo_connection(tls, &wirelab::echo::options(), &budget)
                        .await;
                    return;
                }
                let refuse = service_fn(|_request| async {
                    let mut response = http::Response::new(Empty::<Bytes>::new());
                    *response.status_mut() = http::StatusCode::NOT_FOUND;
                    Ok::<_, std::convert::Infallible>(response)
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), refuse)
                    .await;
            });
        }
    });
    (addr, chosen)
}

/// As Chromium does: an HTTP/2 that does not allow extended CONNECT gets no WebSocket request;
/// the client opens a second connection offering `http/1.1` alone and upgrades that one.
#[tokio::test]
async fn without_the_setting_the_client_falls_back_to_http1() {
    let dev = DevCert::generate().expect("certificate");
    let (addr, chosen) = http2_without_extended_connect(&dev).await;
    let url = format!("wss://{addr}/");
    let connected = connect(&url, &trusting(&dev, false), &options())
        .await
        .expect("connected");
    assert_eq!(
        connected.describe(),
        "WebSocket over HTTP/1.1 (RFC 6455 Upgrade, TLS, ALPN http/1.1), 101"
    );
    echoes(connected).await;
    let [http1, h2] = &*chosen;
    assert_eq!(
        (h2.load(Ordering::SeqCst), http1.load(Ordering::SeqCst)),
        (1, 1)
    );
    // Asked for HTTP/2, the client says why it cannot have it, and does not fall back.
    let error = connect(&url, &trusting(&dev, true), &options())
        .await
        .err()
        .expect("no extended CONNECT, no WebSocket");
    assert!(
        matches!(error, websocket::Error::ExtendedConnectNotEnabled),
        "{error}"
    );
}

#[tokio::test]
async fn http2_asked_of_a_server_that_speaks_only_http1_fails_clearly() {
    let dev = DevCert::generate().expect("certificate");
    let addr = echo_server(&dev, ALPN_HTTP1_ONLY).await;
    let url = format!("wss://{addr}/");
    let error = connect(&url, &trusting(&dev, true), &options())
        .await
        .err()
        .expect("no h2, no WebSocket");
    assert!(
        error
            .to_string()
            .contains("the server speaks none of h2 (ALPN)"),
        "{error}"
    );
}

// req: ws/4.1/tls
#[tokio::test]
async fn an_untrusted_certificate_fails_and_says_how_to_trust_it() {
    let dev = DevCert::generate().expect("certificate");
    let other = DevCert::generate().expect("certificate");
    let addr = echo_server(&dev, ALPN_H2_HTTP1).await;
    let url = format!("wss://{addr}/");
    // Trusting another certificate, and trusting the system's roots only.
    for dial in [trusting(&other, false), Dial::default()] {
        let error = connect(&url, &dial, &options())
            .await
            .err()
            .expect("an untrusted certificate");
        let error = error.to_string();
        assert!(error.contains("certificate is not trusted"), "{error}");
        assert!(error.contains("--ca FILE"), "{error}");
    }
}

#[tokio::test]
async fn ws_urls_still_work_both_ways() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(wirelab::echo::serve(listener));
    let url = format!("ws://{addr}/");
    for http2 in [false, true] {
        let dial = Dial {
            http2,
            ..Dial::default()
        };
        let connected = connect(&url, &dial, &options()).await.expect("connected");
        assert_eq!((connected.http2, connected.tls), (http2, false));
        echoes(connected).await;
    }
}

/// The binary: `wirelab ws --ca FILE wss://...` sends a line of standard input, prints the
/// echo, and says on standard error that the WebSocket went over HTTP/2.
#[tokio::test(flavor = "multi_thread")]
async fn the_command_speaks_wss_with_a_ca_file() {
    let dev = DevCert::generate().expect("certificate");
    let addr = echo_server(&dev, ALPN_H2_HTTP1).await;
    let ca = std::env::temp_dir().join(format!("wirelab-ws-tls-{}.pem", std::process::id()));
    dev.write_cert(&ca).expect("write the certificate");
    let run = {
        let ca = ca.clone();
        move || {
            let mut child = Command::new(env!("CARGO_BIN_EXE_wirelab"))
                .args(["ws", "--ca"])
                .arg(&ca)
                .arg(format!("wss://{addr}/"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run wirelab");
            use std::io::Write as _;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(b"hello\n").expect("write stdin");
            drop(stdin);
            child.wait_with_output().expect("wait")
        }
    };
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::task::spawn_blocking(run),
    )
    .await
    .expect("wirelab ws ends")
    .expect("joined");
    let _ = std::fs::remove_file(&ca);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hello\n");
    assert!(
        stderr.contains(
            "connected: WebSocket over HTTP/2 (RFC 8441 extended CONNECT, TLS, ALPN h2), 200"
        ),
        "{stderr}"
    );
}
