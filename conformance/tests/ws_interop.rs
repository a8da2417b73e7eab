//! Interop with Python's `websockets` (the latest release, from PyPI), both ways: text,
//! binary, fragmented messages, ping/pong, and the closing handshake with a code and reason;
//! and with Python's `h2` as a client of WebSocket over HTTP/2 (RFC 8441).
//!
//! The Python side lives in `conformance/peers/ws_client.py`, `ws_h2_client.py` and
//! `ws_server.py`. Without a Python that has `websockets` and `h2` (`WIRELAB_PYTHON`), the
//! tests print a skip line.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;
use websocket::frame::OpCode;
use websocket::io::ClientOptions;
use websocket::{CloseFrame, DeflateConfig, Message};
use wirelab_conformance::{Peer, require, workspace_root};

/// Runs the Python client `script` against `wirelab echo`, with the argument `target` makes of
/// the port, and checks the `ok ...` lines it prints.
async fn python_client_against_echo(
    test: &str,
    script: &str,
    target: impl Fn(u16) -> String,
    expected: &[&str],
) {
    let Some(python) = require(Peer::Python, test) else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(wirelab::echo::serve(listener));
    let script = workspace_root().join("conformance/peers").join(script);
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(python)
            .arg(script)
            .arg(target(port))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Python client finishes")
    .unwrap();
    server.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let checks: Vec<&str> = stdout.lines().collect();
    assert_eq!(checks, expected);
}

/// Python client → WireLab echo server.
#[tokio::test]
async fn python_client_against_wirelab_server() {
    python_client_against_echo(
        "python_client_against_wirelab_server",
        "ws_client.py",
        |port| format!("ws://127.0.0.1:{port}/"),
        &[
            "ok deflate negotiated",
            "ok text",
            "ok binary",
            "ok fragmented",
            "ok compressible",
            "ok ping",
            "ok close code echoed",
        ],
    )
    .await;
}

/// Python's `h2` (an HTTP/2 implementation independent of hyper) → WireLab echo server over
/// h2c: the server's SETTINGS, two extended CONNECTs on one connection, masked frames echoed
/// through HTTP/2 flow control, and the closing handshake ending in END_STREAM (RFC 8441).
#[tokio::test]
async fn python_h2_client_against_wirelab_server_over_http2() {
    python_client_against_echo(
        "python_h2_client_against_wirelab_server_over_http2",
        "ws_h2_client.py",
        |port| format!("127.0.0.1:{port}"),
        &[
            "ok settings enable_connect_protocol",
            "ok 200",
            "ok no accept header",
            "ok two streams",
            "ok text",
            "ok text on the second stream",
            "ok binary",
            "ok ping",
            "ok fragmented",
            "ok close code echoed",
            "ok end_stream after the close",
            "ok second stream outlives the first",
            "ok second close",
            "ok second end_stream",
        ],
    )
    .await;
}

/// WireLab client → Python server.
#[tokio::test]
async fn wirelab_client_against_python_server() {
    let Some(python) = require(Peer::Python, "wirelab_client_against_python_server") else {
        return;
    };
    against_python_server(python, &ClientOptions::default()).await;
}

/// WireLab client → Python server, with permessage-deflate offered: the server (compression
/// is its default) accepts it, and the same conversation runs compressed both ways, its
/// fragmented message included.
// req: pmd/5/agreed pmd/5/offer-name
#[tokio::test]
async fn wirelab_client_with_deflate_against_python_server() {
    let name = "wirelab_client_with_deflate_against_python_server";
    let Some(python) = require(Peer::Python, name) else {
        return;
    };
    let mut options = ClientOptions::default();
    options.config.deflate = DeflateConfig::on();
    against_python_server(python, &options).await;
}

/// The conversation with `ws_server.py`; permessage-deflate must be agreed exactly when
/// `options` offer it.
async fn against_python_server(python: std::path::PathBuf, options: &ClientOptions) {
    let script = workspace_root().join("conformance/peers/ws_server.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let port = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the Python server prints its port")
        .unwrap()
        .expect("a line with the port");
    let url = format!("ws://127.0.0.1:{}/", port.trim());

    let conversation = async {
        let (mut ws, response) = websocket::io::connect_with(&url, options).await.unwrap();
        assert_eq!(response.status, 101);
        assert_eq!(ws.deflate().is_some(), options.config.deflate.enabled);

        let ticker = r#"{"symbol":"WLAB","price":101.25,"volume":1200}"#.repeat(20);
        for _ in 0..5 {
            ws.send(Message::Text(ticker.clone())).await.unwrap();
            assert_eq!(
                ws.recv().await.unwrap(),
                Some(Message::Text(ticker.clone()))
            );
        }

        ws.send(Message::Text("héllo ✓".into())).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap(),
            Some(Message::Text("héllo ✓".into()))
        );

        let blob: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        ws.send(Message::Binary(blob.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(Message::Binary(blob)));

        // We send a fragmented message, with a Ping between its fragments (RFC 6455 §5.4).
        let (mut rx, mut tx) = ws.split();
        tx.send_fragment(OpCode::Text, "frag".as_bytes(), false)
            .await
            .unwrap();
        tx.send(Message::Ping(b"between".to_vec())).await.unwrap();
        tx.send_fragment(OpCode::Continuation, "mented ✓".as_bytes(), true)
            .await
            .unwrap();
        assert_eq!(
            rx.recv().await.unwrap(),
            Some(Message::Pong(b"between".to_vec()))
        );
        assert_eq!(
            rx.recv().await.unwrap(),
            Some(Message::Text("fragmented ✓".into()))
        );

        // The server sends a fragmented message.
        tx.send(Message::Text("send-fragmented".into()))
            .await
            .unwrap();
        assert_eq!(
            rx.recv().await.unwrap(),
            Some(Message::Text("fragmented".into()))
        );

        // The server pings; our Pong goes out while the application only reads.
        tx.send(Message::Text("ping-me".into())).await.unwrap();
        assert_eq!(
            rx.recv().await.unwrap(),
            Some(Message::Ping(b"hello client".to_vec()))
        );
        assert_eq!(
            rx.recv().await.unwrap(),
            Some(Message::Text("pong-received".into()))
        );

        // The server closes with a code and a reason; we answer, and the connection ends.
        tx.send(Message::Text("close-me".into())).await.unwrap();
        let close = CloseFrame {
            code: 4001,
            reason: "done".into(),
        };
        assert_eq!(rx.recv().await.unwrap(), Some(Message::Close(Some(close))));
        assert_eq!(rx.recv().await.unwrap(), None);
        assert!(matches!(
            tx.send(Message::Text("too late".into())).await,
            Err(websocket::Error::AlreadyClosed)
        ));
    };
    tokio::time::timeout(Duration::from_secs(60), conversation)
        .await
        .expect("the conversation finishes");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the Python server exits")
        .unwrap();
    assert!(status.success());
}
