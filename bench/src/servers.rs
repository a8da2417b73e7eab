//! The servers under test, each the plainest idiomatic server its library's documentation
//! shows, so that the comparison is between libraries and not between harnesses:
//!
//! - WebSocket echo: WireLab (`websocket::io::accept`), tokio-tungstenite (`accept_async`, with
//!   its default 128 KiB buffers or with 4 KiB ones), fastwebsockets (`after_handshake` behind
//!   a `FragmentCollector`, as its README's echo server; the opening handshake is read by
//!   WireLab's sans-I/O handshake, since fastwebsockets leaves that to hyper or the caller);
//! - compressed WebSocket echo: WireLab (`websocket::io::accept` with the extension enabled)
//!   and yawc (`WebSocket::upgrade_with_options` inside a hyper service, as its documentation's
//!   server example), both accepting permessage-deflate at level 6 with context takeover and
//!   15-bit windows each way (see [`yawc_options`]);
//! - SSE fan-out: WireLab (`sse::history::Hub` with `sse::server::response` on hyper, or with
//!   `sse::http1::serve`, its hand-written HTTP/1.1 path) and axum
//!   (`axum::response::sse::Sse` over a `tokio::sync::broadcast` receiver);
//! - WebSocket fan-out, the same deliveries as the SSE fan-out over the other protocol, so that
//!   the two protocols' server CPU per delivered message can be compared like for like:
//!   WireLab (a `tokio::sync::broadcast` receiver per connection, whatever is ready written
//!   with one flush, as the SSE servers write whatever events are ready at once).
//!
//! Every server sets `TCP_NODELAY` on its connections (tokio-tungstenite and fastwebsockets
//! leave it to the caller; without it a request-response echo waits on Nagle's algorithm).
//!
//! A server runs until its standard input closes (the load tool that started it exits or
//! drops the pipe) or for `max_seconds`, whichever comes first.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::ValueEnum;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// A WebSocket echo server implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum WsImpl {
    /// WireLab's `websocket` crate.
    Wirelab,
    /// tokio-tungstenite with its default configuration (128 KiB read and write buffers).
    Tungstenite,
    /// tokio-tungstenite with 4 KiB read and write buffers.
    #[value(name = "tungstenite-4k")]
    Tungstenite4k,
    /// fastwebsockets.
    Fastwebsockets,
    /// WireLab's `websocket` crate accepting permessage-deflate (default parameters).
    #[value(name = "wirelab-deflate")]
    WirelabDeflate,
    /// yawc accepting permessage-deflate with the same parameters as WireLab's.
    #[value(name = "yawc-deflate")]
    YawcDeflate,
}

/// An SSE fan-out server implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SseImpl {
    /// WireLab's `sse` crate: `Hub` and `server::response` on hyper.
    Wirelab,
    /// WireLab's `sse` crate: `Hub` and `http1::serve`, its hand-written HTTP/1.1 path.
    #[value(name = "wirelab-http1")]
    WirelabHttp1,
    /// axum's `Sse` response over a broadcast channel.
    Axum,
}

/// What an SSE server publishes: once `clients` subscribers are connected, `events` events of
/// `data_len` bytes, as fast as it can. `clients == 0` never publishes (idle memory).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FanOut {
    /// Subscribers to wait for.
    pub(crate) clients: usize,
    /// Events to publish then.
    pub(crate) events: usize,
    /// Bytes of data per event.
    pub(crate) data_len: usize,
    /// Events per second, or 0 for as fast as the server can. At a rate, each event's data is
    /// the wall-clock time it was published ([`stamp`]), for the delivery latency.
    pub(crate) rate: f64,
}

/// The wall-clock time now, in nanoseconds since the Unix epoch, as 20 decimal digits: what a
/// paced event carries, and what the client subtracts from its own clock on arrival (both run
/// on one machine, so they read one clock).
pub(crate) fn stamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{:020}", now.as_nanos())
}

/// Publishes `fan_out.events` events through `publish`: as fast as it can, or paced at
/// `fan_out.rate`, each stamped. The timer's resolution is a millisecond, so above 1,000 per
/// second the events due in one millisecond leave together; each is stamped as it leaves.
async fn publish_all(fan_out: FanOut, mut publish: impl FnMut(String)) {
    if fan_out.rate <= 0.0 {
        let data = payload(fan_out.data_len);
        for _ in 0..fan_out.events {
            publish(data.clone());
        }
        return;
    }
    let start = tokio::time::Instant::now();
    for k in 0..fan_out.events {
        let due = start + Duration::from_secs_f64(k as f64 / fan_out.rate);
        if due > tokio::time::Instant::now() {
            tokio::time::sleep_until(due).await;
        }
        publish(stamp());
    }
}

/// Binds 127.0.0.1 on an ephemeral port and prints `listening ADDR` on standard output.
pub(crate) async fn listen() -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    Ok(listener)
}

/// Resolves when standard input reaches its end, or after `max_seconds`.
pub(crate) async fn stop_signal(max_seconds: u64) {
    let stdin_closed = async {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        while let Ok(n) = stdin.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(max_seconds), stdin_closed).await;
}

/// Runs `wirelab demo` until stopped, with room for every connection a churn round opens
/// (its default cap is 10,000).
pub(crate) async fn serve_demo(max_seconds: u64) -> std::io::Result<()> {
    let listener = listen().await?;
    let guards = wirelab_examples::server::Guards {
        max_connections: 100_000,
        ..Default::default()
    };
    let options = wirelab::demo::Options {
        guards,
        ..Default::default()
    };
    tokio::select! {
        served = wirelab::demo::serve_with(listener, options) => served,
        () = stop_signal(max_seconds) => Ok(()),
    }
}

/// Runs a WebSocket echo server until stopped; with `fan_out.clients > 0`, a fan-out server
/// instead (WireLab only).
pub(crate) async fn serve_ws(
    which: WsImpl,
    fan_out: FanOut,
    max_seconds: u64,
) -> std::io::Result<()> {
    let listener = listen().await?;
    if fan_out.clients > 0 {
        if which != WsImpl::Wirelab {
            return Err(std::io::Error::other(
                "the WebSocket fan-out is measured for WireLab only",
            ));
        }
        return tokio::select! {
            result = wirelab_ws_fan_out(listener, fan_out) => result,
            () = stop_signal(max_seconds) => Ok(()),
        };
    }
    let accept_loop = async {
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            // One task type per implementation, so that each connection's task is sized by
            // its own library's futures (a `match` inside one async fn would size every task
            // by the largest of the three). A failed connection only ends that connection: the
            // load tool counts what came back.
            match which {
                WsImpl::Wirelab => drop(tokio::spawn(echo_wirelab(stream, false))),
                WsImpl::WirelabDeflate => drop(tokio::spawn(echo_wirelab(stream, true))),
                WsImpl::Tungstenite | WsImpl::Tungstenite4k => {
                    drop(tokio::spawn(echo_tungstenite(which, stream)))
                }
                WsImpl::Fastwebsockets => drop(tokio::spawn(echo_fastwebsockets(stream))),
                WsImpl::YawcDeflate => drop(tokio::spawn(echo_yawc(stream))),
            }
        }
    };
    tokio::select! {
        result = accept_loop => result,
        () = stop_signal(max_seconds) => Ok(()),
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn echo_wirelab(stream: TcpStream, deflate: bool) -> Result<(), BoxError> {
    use websocket::Message;
    let mut options = websocket::handshake::ServerOptions::default();
    options.config.deflate.enabled = deflate;
    // The request is not needed once accepted: dropping it at once is what a server that
    // does not use it does (the other libraries do not return it at all).
    let (mut ws, _) = websocket::io::accept(stream, &options).await?;
    while let Some(message) = ws.recv().await? {
        if let Message::Text(_) | Message::Binary(_) = message {
            ws.send(message).await?;
        }
    }
    Ok(())
}

async fn echo_tungstenite(which: WsImpl, stream: TcpStream) -> Result<(), BoxError> {
    let config = (which == WsImpl::Tungstenite4k).then(|| {
        tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(4 << 10)
            .write_buffer_size(4 << 10)
    });
    let mut ws = tokio_tungstenite::accept_async_with_config(stream, config).await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

async fn echo_fastwebsockets(stream: TcpStream) -> Result<(), BoxError> {
    let stream = handshake_for_fastwebsockets(stream).await?;
    let ws = fastwebsockets::WebSocket::after_handshake(stream, fastwebsockets::Role::Server);
    let mut ws = fastwebsockets::FragmentCollector::new(ws);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            fastwebsockets::OpCode::Close => break,
            fastwebsockets::OpCode::Text | fastwebsockets::OpCode::Binary => {
                ws.write_frame(frame).await?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// yawc's settings, chosen to be WireLab's defaults (`websocket::DeflateConfig::on()`), so
/// that the two Rust servers do the same work per message: zlib level 6, context takeover
/// both ways (neither `*_no_context_takeover`), every message compressed (no size
/// threshold), and 15-bit windows both ways. The windows must be set: without a preference
/// yawc answers a bare `client_max_window_bits` offer (what WireLab's client and browsers
/// send) with 9 bits. Text is checked for UTF-8, as WireLab's server checks it.
pub(crate) fn yawc_options() -> yawc::Options {
    yawc::Options::default()
        .with_compression_level(yawc::CompressionLevel::new(6))
        .with_server_max_window_bits(15)
        .with_client_max_window_bits(15)
        .with_utf8()
}

async fn echo_yawc(stream: TcpStream) -> Result<(), BoxError> {
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let service = service_fn(
        |mut request: http::Request<hyper::body::Incoming>| async move {
            let (response, upgrade) =
                yawc::WebSocket::upgrade_with_options(&mut request, yawc_options())?;
            tokio::spawn(async move {
                let Ok(mut ws) = upgrade.await else {
                    return;
                };
                // yawc answers the peer's Close itself; the stream ends after it, or on an error.
                while let Some(frame) = ws.next().await {
                    use yawc::frame::OpCode;
                    let data = matches!(frame.opcode(), OpCode::Text | OpCode::Binary);
                    if data && ws.send(frame).await.is_err() {
                        return;
                    }
                }
            });
            Ok::<_, yawc::WebSocketError>(response)
        },
    );
    hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await?;
    Ok(())
}

/// The WebSocket side of the fan-out: every connection gets every published message.
async fn wirelab_ws_fan_out(listener: TcpListener, fan_out: FanOut) -> std::io::Result<()> {
    use tokio::sync::broadcast;
    use websocket::Message;

    // As for the SSE hub, the channel holds every message of the run, so no connection lags.
    let live = broadcast::channel::<Message>(fan_out.events.max(1)).0;
    let subscribers = Arc::new(Subscribers {
        count: AtomicUsize::new(0),
        target: fan_out.clients,
    });
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let live = live.clone();
        let subscribers = subscribers.clone();
        tokio::spawn(async move {
            let options = websocket::handshake::ServerOptions::default();
            let (ws, _) = websocket::io::accept(stream, &options).await?;
            // Subscribed before it is counted, so the publishing it may start reaches it too.
            let mut messages = live.subscribe();
            if subscribers.arrived() {
                let live = live.clone();
                tokio::spawn(publish_all(fan_out, move |data| {
                    let _ = live.send(Message::Text(data));
                }));
            }
            // The receiving half is kept but not read: the clients send nothing.
            let (_receiver, mut sender) = ws.split();
            while let Ok(message) = messages.recv().await {
                sender.feed(message).await?;
                while let Ok(message) = messages.try_recv() {
                    sender.feed(message).await?;
                }
                sender.flush().await?;
            }
            Ok::<_, BoxError>(())
        });
    }
}

/// The opening handshake, read and answered with WireLab's sans-I/O handshake, for
/// fastwebsockets (which expects the caller, or hyper, to have done it).
async fn handshake_for_fastwebsockets(mut stream: TcpStream) -> Result<TcpStream, BoxError> {
    let options = websocket::handshake::ServerOptions::default();
    let mut handshake = websocket::handshake::ServerHandshake::new(&options.config.limits);
    // On the heap, and freed before the connection's long life: an array here would be part of
    // the task's future, and so of every idle connection's memory.
    let mut buf = vec![0u8; 1024];
    let (request, leftover) = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err("closed during the handshake".into());
        }
        if let Some(done) = handshake.receive(&buf[..n])? {
            break done;
        }
    };
    if !leftover.is_empty() {
        return Err("frames before the 101: not sent by the load tool".into());
    }
    let accepted = websocket::handshake::check_request(&request, &options)?;
    stream.write_all(&accepted.response_bytes()).await?;
    Ok(stream)
}

/// Runs an SSE server on `GET /events` until stopped, publishing as `fan_out` says.
pub(crate) async fn serve_sse(
    which: SseImpl,
    fan_out: FanOut,
    max_seconds: u64,
) -> std::io::Result<()> {
    let listener = listen().await?;
    match which {
        SseImpl::Wirelab => {
            tokio::select! {
                result = wirelab_sse(listener, fan_out) => result,
                () = stop_signal(max_seconds) => Ok(()),
            }
        }
        SseImpl::WirelabHttp1 => {
            tokio::select! {
                result = wirelab_http1_sse(listener, fan_out) => result,
                () = stop_signal(max_seconds) => Ok(()),
            }
        }
        SseImpl::Axum => {
            tokio::select! {
                result = axum_sse(listener, fan_out) => result,
                () = stop_signal(max_seconds) => Ok(()),
            }
        }
    }
}

/// Counts subscribers and calls `publish` once, when the `target`-th one arrives.
struct Subscribers {
    count: AtomicUsize,
    target: usize,
}

impl Subscribers {
    /// Counts one; true if it was the one to start publishing.
    fn arrived(&self) -> bool {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        self.target > 0 && n == self.target
    }
}

fn payload(data_len: usize) -> String {
    "x".repeat(data_len)
}

/// What WireLab's SSE servers share (both of `serve-sse`, and `serve-http`'s): the hub, and
/// the count of subscribers that starts the publishing.
pub(crate) struct WirelabFanOut {
    /// The events published, and each subscriber's stream of them.
    pub(crate) hub: sse::history::Hub,
    subscribers: Subscribers,
    fan_out: FanOut,
}

impl WirelabFanOut {
    pub(crate) fn new(fan_out: FanOut) -> Arc<Self> {
        Arc::new(WirelabFanOut {
            // The live channel holds every event of the run, so no subscriber lags: the
            // benchmark measures delivery, not the lag policy. The replay history is small.
            hub: sse::history::Hub::new(16, fan_out.events.max(1)),
            subscribers: Subscribers {
                count: AtomicUsize::new(0),
                target: fan_out.clients,
            },
            fan_out,
        })
    }

    /// Counts one subscriber; the one that completes the count starts publishing.
    pub(crate) fn arrived(self: &Arc<Self>) {
        if self.subscribers.arrived() {
            let this = self.clone();
            tokio::spawn(publish_all(this.fan_out, move |data| {
                this.hub.publish(sse::Event::new().data(data));
            }));
        }
    }
}

async fn wirelab_sse(listener: TcpListener, fan_out: FanOut) -> std::io::Result<()> {
    use http_body_util::Either;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let shared = WirelabFanOut::new(fan_out);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                let shared = shared.clone();
                async move {
                    // `POST /publish`: the SSE way for a client to send (used by `wire`).
                    if request.method() == http::Method::POST {
                        use http_body_util::BodyExt as _;
                        let body = request.into_body().collect().await?.to_bytes();
                        let data = String::from_utf8_lossy(&body).into_owned();
                        shared.hub.publish(sse::Event::new().data(data));
                        let mut response =
                            http::Response::new(Either::Left(http_body_util::Empty::new()));
                        *response.status_mut() = http::StatusCode::NO_CONTENT;
                        return Ok(response);
                    }
                    let events = shared.hub.subscribe(sse::server::last_event_id(&request));
                    if request.uri().path() == "/events" {
                        shared.arrived();
                    }
                    Ok::<_, hyper::Error>(
                        sse::server::response(events, sse::server::ServerConfig::default())
                            .map(Either::Right),
                    )
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn wirelab_http1_sse(listener: TcpListener, fan_out: FanOut) -> std::io::Result<()> {
    use sse::http1::{self, Http1Config};

    let shared = WirelabFanOut::new(fan_out);
    loop {
        let (mut stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let shared = shared.clone();
        tokio::spawn(async move {
            // A refused head has been answered by `read_request`.
            let Ok(request) = http1::read_request(&mut stream, &Http1Config::default()).await
            else {
                return;
            };
            if request.uri().path() != "/events" {
                let _ = http1::respond_error(&mut stream, http::StatusCode::NOT_FOUND).await;
                return;
            }
            let events = shared.hub.subscribe(sse::server::last_event_id(&request));
            let version = request.version();
            // Not needed while streaming: an idle connection does not keep it.
            drop(request);
            shared.arrived();
            let config = sse::server::ServerConfig::default();
            let _ = http1::serve_version(stream, version, events, config).await;
        });
    }
}

async fn axum_sse(listener: TcpListener, fan_out: FanOut) -> std::io::Result<()> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast;

    #[derive(Clone)]
    struct State {
        live: broadcast::Sender<Arc<str>>,
        subscribers: Arc<Subscribers>,
        fan_out: FanOut,
    }

    async fn events(
        axum::extract::State(state): axum::extract::State<State>,
    ) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
        let receiver = state.live.subscribe();
        if state.subscribers.arrived() {
            let live = state.live.clone();
            tokio::spawn(publish_all(state.fan_out, move |data| {
                let _ = live.send(data.into());
            }));
        }
        let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
            let data = receiver.recv().await.ok()?;
            Some((Ok(Event::default().data(&*data)), receiver))
        });
        // The same keep-alive as WireLab's default (15 s), so both hold the same timer.
        Sse::new(stream).keep_alive(KeepAlive::default())
    }

    let state = State {
        live: broadcast::channel(fan_out.events.max(1)).0,
        subscribers: Arc::new(Subscribers {
            count: AtomicUsize::new(0),
            target: fan_out.clients,
        }),
        fan_out,
    };
    let app = axum::Router::new()
        .route("/events", axum::routing::get(events))
        .with_state(state);
    // axum::serve does not set TCP_NODELAY by itself; the listener adapter does.
    axum::serve(
        listener.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        }),
        app,
    )
    .await
}

use axum::serve::ListenerExt as _;
