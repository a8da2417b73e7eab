//! `wirelab ws URL`: a WebSocket client for the terminal, in the spirit of websocat.
//!
//! Each line read from stdin is sent as a Text message; each message received is printed
//! (Text as a line, Binary as raw bytes). At the end of stdin the client starts the closing
//! handshake with 1000. With `--http2`, the WebSocket is a stream of an HTTP/2 connection in
//! clear text (RFC 8441), and the line that says the client is connected says so. With
//! `--echo`, it sends every received message back instead, until the server closes: the mode that Autobahn|Testsuite's fuzzingserver tests a client with.
//!
//! Over HTTP/1.1 it offers permessage-deflate (RFC 7692) unless told not to (`--no-deflate`),
//! and says on standard error what the server agreed to: `extensions: permessage-deflate; ...` or
//! `extensions: none`.
//!
//! tokio reads stdin on a blocking thread that cannot be cancelled: once [`run`] returns, the
//! caller should exit the process rather than wait for the runtime to shut down, which would
//! wait for the user to press Enter.

use std::io::Write as _;

use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, BufReader};
use websocket::io::{ClientOptions, WebSocket, connect_http2, connect_with};
use websocket::{CloseFrame, Config, Error, Message};

/// The client's options: [`Config::echo`] (64 MiB messages, permessage-deflate offered).
pub fn options() -> ClientOptions {
    ClientOptions {
        config: Config::echo(),
        ..ClientOptions::default()
    }
}

/// Runs the client with [`options`]: interactive, or with `echo` the echo mode; with `http2`,
/// over HTTP/2 in clear text (RFC 8441's extended CONNECT on an h2c connection) instead of
/// HTTP/1.1.
pub async fn run(url: &str, echo: bool, http2: bool) -> Result<(), Error> {
    run_with(url, echo, http2, &options()).await
}

/// [`run`] with `options`.
// ANCHOR: run
pub async fn run_with(
    url: &str,
    echo: bool,
    http2: bool,
    options: &ClientOptions,
) -> Result<(), Error> {
    if echo {
        let close = echo_until_closed_with(url, options).await?;
        if let Some(CloseFrame { code, reason }) = close {
            eprintln!("closed: {code} {reason}");
        }
        return Ok(());
    }
    if http2 {
        let (ws, _response, _connection) = connect_http2(url, options).await?;
        eprintln!("connected: WebSocket over HTTP/2 (RFC 8441 extended CONNECT, h2c), 200");
        eprintln!("extensions: {}", describe_extensions(&ws));
        return talk(ws).await;
    }
    let (ws, _response) = connect_with(url, options).await?;
    eprintln!("connected: WebSocket over HTTP/1.1 (RFC 6455 Upgrade), 101");
    eprintln!("extensions: {}", describe_extensions(&ws));
    talk(ws).await
}

/// Sends each line of stdin as a Text message, prints each message received, and closes at
/// the end of stdin.
async fn talk<S>(ws: WebSocket<S>) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut receiver, mut sender) = ws.split();
    let typing = tokio::spawn(async move {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await? {
            sender.send(Message::Text(line)).await?;
        }
        sender.close(1000, "").await
    });
    while let Some(message) = receiver.recv().await? {
        print_message(&message)?;
    }
    // The server has closed: stop reading stdin.
    typing.abort();
    Ok(())
}
// ANCHOR_END: run

/// What the handshake agreed on, as the server's `Sec-WebSocket-Extensions` would say it.
pub fn describe_extensions<S>(ws: &websocket::io::WebSocket<S>) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match ws.deflate() {
        Some(agreed) => agreed.response_value(),
        None => "none".to_owned(),
    }
}

fn print_message(message: &Message) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    match message {
        Message::Text(text) => writeln!(stdout, "{text}")?,
        Message::Binary(data) => stdout.write_all(data)?,
        // The peer's Close: its own, or its reply to ours (after stdin ended).
        Message::Close(Some(CloseFrame { code, reason })) => eprintln!("closed: {code} {reason}"),
        Message::Close(None) => eprintln!("closed"),
        Message::Ping(_) | Message::Pong(_) => {}
    }
    stdout.flush()?;
    Ok(())
}

/// Connects to `url` and sends back every Text and Binary message until the connection
/// closes. Returns the server's Close frame (`None` if its Close had no code). Autobahn's
/// fuzzingserver is driven with it: `/runCase?case=N&agent=A` for each case, then
/// `/updateReports?agent=A`, which only closes.
///
/// An error means the connection failed (the server broke a rule, and the Close naming the
/// rule was sent), or could not be made.
// ANCHOR: echo_until_closed
pub async fn echo_until_closed(url: &str) -> Result<Option<CloseFrame>, Error> {
    echo_until_closed_with(url, &options()).await
}

/// [`echo_until_closed`] with `options`.
pub async fn echo_until_closed_with(
    url: &str,
    options: &ClientOptions,
) -> Result<Option<CloseFrame>, Error> {
    let (mut ws, _response) = connect_with(url, options).await?;
    let mut close = None;
    while let Some(message) = ws.recv().await? {
        match message {
            Message::Text(_) | Message::Binary(_) => ws.send(message).await?,
            Message::Close(frame) => close = frame,
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    Ok(close)
}
// ANCHOR_END: echo_until_closed

/// Connects to `url`, returns the first Text message and closes with 1000, or returns `None`
/// if the server closed without sending one. (Autobahn's fuzzingserver answers
/// `/getCaseCount` with one Text message.)
pub async fn read_one_text(url: &str) -> Result<Option<String>, Error> {
    let (mut ws, _response) = connect_with(url, &options()).await?;
    while let Some(message) = ws.recv().await? {
        if let Message::Text(text) = message {
            // The server may have closed already; our Close is then refused, which is fine.
            let _ = ws.close(1000, "").await;
            return Ok(Some(text));
        }
    }
    Ok(None)
}
