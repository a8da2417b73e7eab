//! Who may open a WebSocket or POST: `wirelab demo` accepts its own pages and programs that
//! send no `Origin`, and the origins it is told to allow; pages of other sites get 403.
//! `wirelab echo` accepts every origin unless given an allow-list.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use wirelab_examples::origin::Origins;

/// Sends `head` (its request line and headers, without the blank line) on a new connection,
/// and returns the response's status code.
async fn status(addr: SocketAddr, head: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(format!("{head}\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.expect("read");
        assert!(n > 0, "the connection ended before a response head");
        response.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&response);
    line.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status")
}

/// A WebSocket handshake for `path`, with `extra` header lines.
fn upgrade(addr: SocketAddr, path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13{extra}"
    )
}

/// A POST to the harmless "slow" control (no delay), with `extra` header lines.
fn control(addr: SocketAddr, extra: &str) -> String {
    format!("POST /control/slow?ms=0 HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0{extra}")
}

async fn demo(origins: Origins) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(wirelab::demo::serve(listener, origins));
    addr
}

async fn echo(allowed: Option<Vec<String>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut options = wirelab::echo::options();
    options.allowed_origins = allowed;
    tokio::spawn(wirelab::echo::serve_with(listener, options));
    addr
}

/// Runs `test` with a bound on time, so that a hang fails instead of stalling the suite.
async fn within_10s(test: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(10), test)
        .await
        .expect("the test took more than 10 s: something hangs");
}

// req: ws/4.2.1/no-origin ws/10.2/origin
#[tokio::test]
async fn the_demo_refuses_other_sites_and_accepts_its_own_pages_and_programs() {
    within_10s(async {
        let addr = demo(Origins::default()).await;
        let own = format!("\r\nOrigin: http://{addr}");
        for path in ["/chat/ws", "/seats/ws", "/echo/ws", "/ticker/ws"] {
            for foreign in ["http://evil.example", "null", "http://localhost:1"] {
                let origin = format!("\r\nOrigin: {foreign}");
                assert_eq!(
                    status(addr, &upgrade(addr, path, &origin)).await,
                    403,
                    "{path} {foreign}"
                );
            }
            assert_eq!(
                status(addr, &upgrade(addr, path, &own)).await,
                101,
                "{path}"
            );
            assert_eq!(status(addr, &upgrade(addr, path, "")).await, 101, "{path}");
        }
        let two = format!("{own}{own}");
        assert_eq!(status(addr, &upgrade(addr, "/chat/ws", &two)).await, 403);

        for foreign in [
            "\r\nOrigin: http://evil.example",
            "\r\nOrigin: null",
            "\r\nSec-Fetch-Site: cross-site",
        ] {
            assert_eq!(
                status(addr, &control(addr, foreign)).await,
                403,
                "{foreign}"
            );
        }
        // Every POST is a command: a chat message as much as a control.
        let chat = format!(
            "POST /chat/send?name=admin HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\
             Origin: http://evil.example"
        );
        assert_eq!(status(addr, &chat).await, 403);
        assert_eq!(status(addr, &control(addr, &own)).await, 200);
        let same_origin = format!("{own}\r\nSec-Fetch-Site: same-origin");
        assert_eq!(status(addr, &control(addr, &same_origin)).await, 200);
        assert_eq!(status(addr, &control(addr, "")).await, 200);
    })
    .await;
}

#[tokio::test]
async fn the_demo_accepts_the_origins_it_is_told_to_allow() {
    within_10s(async {
        let addr = demo(Origins::allow(["http://localhost:3000".to_owned()])).await;
        let allowed = "\r\nOrigin: http://localhost:3000";
        assert_eq!(status(addr, &upgrade(addr, "/echo/ws", allowed)).await, 101);
        assert_eq!(status(addr, &control(addr, allowed)).await, 200);
        let own = format!("\r\nOrigin: http://{addr}");
        assert_eq!(status(addr, &upgrade(addr, "/echo/ws", &own)).await, 101);
        let other = "\r\nOrigin: http://localhost:3001";
        assert_eq!(status(addr, &upgrade(addr, "/echo/ws", other)).await, 403);
        assert_eq!(status(addr, &control(addr, other)).await, 403);
    })
    .await;
}

#[tokio::test]
async fn echo_accepts_every_origin_unless_given_an_allow_list() {
    within_10s(async {
        let open = echo(None).await;
        for origin in ["\r\nOrigin: http://evil.example", "\r\nOrigin: null", ""] {
            assert_eq!(
                status(open, &upgrade(open, "/", origin)).await,
                101,
                "{origin}"
            );
        }

        let listed = echo(Some(vec!["http://a.example".to_owned()])).await;
        let named = "\r\nOrigin: http://a.example";
        assert_eq!(status(listed, &upgrade(listed, "/", named)).await, 101);
        assert_eq!(status(listed, &upgrade(listed, "/", "")).await, 101);
        for origin in ["\r\nOrigin: http://evil.example", "\r\nOrigin: null"] {
            assert_eq!(
                status(listed, &upgrade(listed, "/", origin)).await,
                403,
                "{origin}"
            );
        }
    })
    .await;
}

#[test]
fn help_says_echo_is_open_to_every_origin_and_both_servers_take_allow_origin() {
    let help = |command: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_wirelab"))
            .args([command, "--help"])
            .output()
            .expect("run wirelab");
        String::from_utf8(output.stdout).expect("UTF-8")
    };
    let echo = help("echo");
    assert!(
        echo.contains("accepts connections from any Origin"),
        "{echo}"
    );
    assert!(echo.contains("--allow-origin <ORIGIN>"), "{echo}");
    assert!(help("demo").contains("--allow-origin <ORIGIN>"));
}

// req: ws/4.2.2/not-found
#[tokio::test]
async fn a_handshake_for_a_socket_the_demo_does_not_serve_gets_404() {
    within_10s(async {
        let addr = demo(Origins::default()).await;
        assert_eq!(
            status(addr, &upgrade(addr, "/no/such/socket", "")).await,
            404
        );
        // The same handshake for a socket it serves is accepted.
        assert_eq!(status(addr, &upgrade(addr, "/echo/ws", "")).await, 101);
    })
    .await;
}
