//! `wirelab ws URL`: a WebSocket client for the terminal, in the spirit of websocat.
//!
//! Each line read from stdin is sent as a Text message; each message received is printed
//! (Text as a line, Binary as raw bytes). At the end of stdin the client starts the closing
//! handshake with 1000. With `--echo`, it sends every received message back instead, until
//! the server closes: the mode that Autobahn|Testsuite's fuzzingserver tests a client with.
//!
//! How it gets there ([`connect`]), said on standard error in the `connected:` line:
//!
//! - `ws://`: an HTTP/1.1 Upgrade over TCP; with `--http2`, an extended CONNECT (RFC 8441) on
//!   an HTTP/2 connection in clear text (h2c with prior knowledge);
//! - `wss://`: TLS first (rustls; the system's roots plus `--ca FILE`), offering `h2` and
//!   `http/1.1` by ALPN. When the server picks `h2` and advertises
//!   `SETTINGS_ENABLE_CONNECT_PROTOCOL`, the WebSocket is a stream of that HTTP/2 connection,
//!   as Chromium opens it; otherwise it is an HTTP/1.1 Upgrade (on a second connection that
//!   offers only `http/1.1`, when the first agreed on an HTTP/2 that refuses extended
//!   CONNECT, as browsers do). `--http2` offers `h2` alone and fails rather than fall back.
//!
//! The `websocket` crate has no TLS of its own: this module makes the TLS stream and hands it
//! to the crate's [`handshake_over`] or [`Http2Connection`].
//!
//! Over HTTP/1.1 it offers permessage-deflate (RFC 7692) unless told not to (`--no-deflate`),
//! and says on standard error what the server agreed to: `extensions: permessage-deflate; ...` or
//! `extensions: none`.
//!
//! tokio reads stdin on a blocking thread that cannot be cancelled: once [`run`] returns, the
//! caller should exit the process rather than wait for the runtime to shut down, which would
//! wait for the user to press Enter.

use std::io::Write as _;
use std::sync::Arc;

use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use websocket::handshake::Response;
use websocket::io::{
    ClientOptions, Http2Connection, WebSocket, WsUrl, connect_with, handshake_over,
};
use websocket::{CloseFrame, Config, Error, Message, Role};
use wirelab_examples::server::tls::{ALPN_H2, ALPN_H2_HTTP1, ALPN_HTTP1_ONLY};

/// The client's options: [`Config::echo`] (64 MiB messages, permessage-deflate offered).
pub fn options() -> ClientOptions {
    ClientOptions {
        config: Config::echo(),
        ..ClientOptions::default()
    }
}

/// How the client reaches the server, besides the URL.
#[derive(Debug, Clone, Default)]
pub struct Dial {
    /// Open the WebSocket over HTTP/2 (RFC 8441) and nothing else: h2c with prior knowledge for
    /// `ws://`, `h2` alone offered by ALPN for `wss://`.
    pub http2: bool,
    /// Certificates to trust for `wss://` besides the system's roots (`--ca FILE`).
    pub ca: Vec<CertificateDer<'static>>,
}

/// Any stream a WebSocket of [`connect`] runs over: TCP, TLS, or a stream of an HTTP/2
/// connection.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A WebSocket that [`connect`] opened, and how.
pub struct Connected {
    /// The WebSocket, over whichever stream it got.
    pub ws: WebSocket<Box<dyn Stream>>,
    /// The server's answer to the opening handshake (`101`, or `200` over HTTP/2).
    pub response: Response,
    /// Whether it is a stream of an HTTP/2 connection (RFC 8441).
    pub http2: bool,
    /// The protocol TLS agreed on by ALPN, for `wss://` (`None` in clear text, or when the
    /// server chose none).
    pub alpn: Option<String>,
    /// Whether TLS carries it (`wss://`).
    pub tls: bool,
    /// The HTTP/2 connection the WebSocket is a stream of, kept for as long as this is.
    _connection: Option<Http2Connection>,
}

impl Connected {
    /// The `connected:` line's words: which HTTP, which handshake, over what.
    pub fn describe(&self) -> String {
        let status = self.response.status;
        let over = match (&self.alpn, self.tls, self.http2) {
            (Some(alpn), true, _) => format!(", TLS, ALPN {alpn}"),
            (None, true, _) => ", TLS, no ALPN".to_owned(),
            (_, false, true) => ", h2c".to_owned(),
            (_, false, false) => String::new(),
        };
        if self.http2 {
            format!("WebSocket over HTTP/2 (RFC 8441 extended CONNECT{over}), {status}")
        } else {
            format!("WebSocket over HTTP/1.1 (RFC 6455 Upgrade{over}), {status}")
        }
    }
}

/// What to offer by ALPN.
#[derive(Clone, Copy, PartialEq)]
enum Offer {
    /// `h2`, then `http/1.1`.
    Both,
    /// `h2` alone (`--http2`).
    H2,
    /// `http/1.1` alone: the second try, after an HTTP/2 that refuses extended CONNECT.
    Http1,
}

/// Opens a WebSocket to `url` (`ws://` or `wss://`) as [`Dial`] says, within
/// `options.config.timeouts.handshake` for each connection it opens.
///
/// # Errors
///
/// The handshake's errors; a TLS handshake that fails is an [`Error::Io`] whose message
/// says why (an untrusted certificate, say) and how to trust a development certificate.
// ANCHOR: connect
pub async fn connect(url: &str, dial: &Dial, options: &ClientOptions) -> Result<Connected, Error> {
    let url = WsUrl::parse(url)?;
    let offer = if dial.http2 { Offer::H2 } else { Offer::Both };
    let (stream, alpn) = open(&url, dial, offer, options).await?;
    let http2 = match &alpn {
        Some(alpn) => alpn.as_bytes() == ALPN_H2,
        None => dial.http2 && !url.secure,
    };
    if dial.http2 && !http2 {
        let why = "--http2: the server did not agree to h2 by ALPN";
        return Err(Error::Io(std::io::Error::other(why)));
    }
    if !http2 {
        return upgrade(stream, &url, alpn, options).await;
    }
    let connection = Http2Connection::handshake(stream, &url.host, url.secure).await?;
    // RFC 8441 §3: only once the server has said yes; a browser that hears no falls back to
    // HTTP/1.1 on a connection of its own, and so does this client unless told otherwise.
    if !dial.http2 && !connection.extended_connect_enabled().await? {
        let (stream, alpn) = open(&url, dial, Offer::Http1, options).await?;
        return upgrade(stream, &url, alpn, options).await;
    }
    let (stream, response, subprotocol) = connection.open_stream(&url.resource, options).await?;
    let stream: Box<dyn Stream> = Box::new(stream);
    Ok(Connected {
        ws: WebSocket::from_stream(stream, Role::Client, options.config, &[], subprotocol),
        response,
        http2: true,
        alpn,
        tls: url.secure,
        _connection: Some(connection),
    })
}
// ANCHOR_END: connect

/// The HTTP/1.1 opening handshake over `stream`.
async fn upgrade(
    stream: Box<dyn Stream>,
    url: &WsUrl,
    alpn: Option<String>,
    options: &ClientOptions,
) -> Result<Connected, Error> {
    let (ws, response) = handshake_over(stream, url, options).await?;
    Ok(Connected {
        ws,
        response,
        http2: false,
        alpn,
        tls: url.secure,
        _connection: None,
    })
}

/// TCP to the URL's server, and TLS over it for `wss://`, within the handshake timeout: the
/// stream, and the protocol ALPN agreed on.
async fn open(
    url: &WsUrl,
    dial: &Dial,
    offer: Offer,
    options: &ClientOptions,
) -> Result<(Box<dyn Stream>, Option<String>), Error> {
    let opening = async {
        let tcp = TcpStream::connect(&url.authority).await?;
        tcp.set_nodelay(true)?;
        if !url.secure {
            return Ok((Box::new(tcp) as Box<dyn Stream>, None));
        }
        let tls = tls_handshake(url, tcp, &dial.ca, offer).await?;
        let alpn = (tls.get_ref().1.alpn_protocol())
            .map(|alpn| String::from_utf8_lossy(alpn).into_owned());
        Ok((Box::new(tls) as Box<dyn Stream>, alpn))
    };
    tokio::time::timeout(options.config.timeouts.handshake, opening)
        .await
        .unwrap_or(Err(Error::HandshakeIncomplete))
}

// req: ws/4.1/tls
/// The client's TLS handshake over `tcp`: SNI and the certificate's check name the URL's host
/// (RFC 6455 §4.1: "perform a TLS handshake ... the server name indication extension"), the
/// roots are the system's plus `ca`, and ALPN offers what `offer` says. A failure is the
/// connection's failure: no WebSocket handshake follows it.
// ANCHOR: tls_handshake
async fn tls_handshake(
    url: &WsUrl,
    tcp: TcpStream,
    ca: &[CertificateDer<'static>],
    offer: Offer,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
    let fail = |why: String| Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, why));
    // The same roots as `wirelab sse`: the system's, and the `--ca` files.
    let config = sse::client::tls_config(ca.to_vec()).map_err(|e| fail(e.to_string()))?;
    let mut config = rustls::ClientConfig::clone(&config);
    let offered: &[&[u8]] = match offer {
        Offer::Both => ALPN_H2_HTTP1,
        Offer::H2 => &[ALPN_H2],
        Offer::Http1 => ALPN_HTTP1_ONLY,
    };
    config.alpn_protocols = offered.iter().map(|protocol| protocol.to_vec()).collect();
    let name = ServerName::try_from(url.hostname().to_owned())
        .map_err(|_| Error::BadUrl(format!("wss://{}", url.authority)))?;
    let connector = TlsConnector::from(Arc::new(config));
    connector.connect(name, tcp).await.map_err(|e| {
        // tokio-rustls wraps rustls's verdict (an untrusted certificate, an alert) in an I/O
        // error; it is said as such, with the way out for a development certificate.
        let verdict = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
        match verdict {
            Some(rustls::Error::InvalidCertificate(why)) => fail(format!(
                "TLS handshake with {} failed: the server's certificate is not trusted \
                 ({why:?}); trust a development certificate with --ca FILE",
                url.authority
            )),
            Some(rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol)) => {
                let offered: Vec<_> = offered.iter().map(|p| String::from_utf8_lossy(p)).collect();
                fail(format!(
                    "TLS handshake with {} failed: the server speaks none of {} (ALPN)",
                    url.authority,
                    offered.join(", ")
                ))
            }
            Some(tls) => fail(format!(
                "TLS handshake with {} failed: {tls}",
                url.authority
            )),
            None => Error::Io(e),
        }
    })
}
// ANCHOR_END: tls_handshake

/// Runs the client with [`options`]: interactive, or with `echo` the echo mode, reaching the
/// server as `dial` says ([`connect`]).
pub async fn run(url: &str, echo: bool, dial: &Dial) -> Result<(), Error> {
    run_with(url, echo, dial, &options()).await
}

/// [`run`] with `options`.
// ANCHOR: run
pub async fn run_with(
    url: &str,
    echo: bool,
    dial: &Dial,
    options: &ClientOptions,
) -> Result<(), Error> {
    let connected = connect(url, dial, options).await?;
    if echo {
        let close = echo_over(connected.ws).await?;
        if let Some(CloseFrame { code, reason }) = close {
            eprintln!("closed: {code} {reason}");
        }
        return Ok(());
    }
    eprintln!("connected: {}", connected.describe());
    eprintln!("extensions: {}", describe_extensions(&connected.ws));
    let Connected {
        ws,
        _connection: _keep,
        ..
    } = connected;
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
    let (ws, _response) = connect_with(url, options).await?;
    echo_over(ws).await
}

/// Sends back every Text and Binary message on `ws` until the connection closes; returns the
/// server's Close frame.
async fn echo_over<S>(mut ws: WebSocket<S>) -> Result<Option<CloseFrame>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
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
