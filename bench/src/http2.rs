//! HTTP/2 against HTTP/1.1, in clear text and over TLS: SSE fan-out, WebSocket echo (over
//! HTTP/2 by RFC 8441's extended CONNECT) and idle memory, on WireLab's own servers.
//!
//! One server program serves both versions (`serve-http`), so that only the protocol differs
//! between two rows of a table: the event streams are the examples' server's
//! (`wirelab_examples::server`, which `wirelab demo` runs: HTTP/1.1 or HTTP/2 told apart by the
//! connection preface in clear text and by ALPN over TLS) publishing from the same hub as
//! `serve-sse`; the WebSocket echo is `wirelab echo`'s (`wirelab::echo::serve_within`: an
//! HTTP/1.1 Upgrade or an extended CONNECT). Over TLS it presents a development certificate,
//! which it writes to a file for the load tool to trust.
//!
//! The load tool opens one TCP connection per stream or WebSocket over HTTP/1.1, as a browser
//! must, and over HTTP/2 puts up to [`STREAMS_PER_CONNECTION`] of them on one connection. Over
//! TLS it offers only the version measured by ALPN. It reads with the same counters as the
//! HTTP/1.1-only measurements (`load`), and sends the same masked frames.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use tokio_rustls::TlsConnector;
use websocket::io::{ClientOptions, Http2Connection};
use wirelab_examples::server::tls::{ALPN_H2, ALPN_H2_HTTP1, ALPN_HTTP1, DevCert};

use crate::load::{
    self, EchoLoad, EchoResult, FanOutKind, FanOutResult, IdleResult, Open, Result, Server, Source,
    Stream,
};
use crate::servers::{FanOut, WirelabFanOut, listen, stop_signal};

/// Streams (event streams or WebSockets) per HTTP/2 connection: what a browser opens to one
/// origin before it queues (Chromium and Firefox honour a server's limit of 100, the value
/// RFC 9113 §6.5.2 recommends as the least).
pub(crate) const STREAMS_PER_CONNECTION: usize = 100;

/// The HTTP version measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Http {
    /// HTTP/1.1: a connection per stream.
    #[value(name = "http1")]
    Http1,
    /// HTTP/2: streams of shared connections (h2c with prior knowledge in clear text).
    H2,
}

impl Http {
    /// The name the results carry.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Http::Http1 => "HTTP/1.1",
            Http::H2 => "HTTP/2",
        }
    }
}

/// What `serve-http` serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Kind {
    /// `GET /events`, published to as `serve-sse` does.
    Sse,
    /// A WebSocket echo.
    Ws,
}

/// Runs the server until stopped: `kind` on both HTTP versions, over TLS when `cert_out` is
/// given (the development certificate is written there before `listening` is printed).
pub(crate) async fn serve(
    kind: Kind,
    cert_out: Option<PathBuf>,
    fan_out: FanOut,
    max_seconds: u64,
) -> Result<()> {
    let acceptor = match cert_out {
        Some(path) => {
            let dev = DevCert::generate()?;
            dev.write_cert(&path)?;
            Some(dev.identity.acceptor(ALPN_H2_HTTP1)?)
        }
        None => None,
    };
    let listener = listen().await?;
    let serving = async {
        match kind {
            Kind::Sse => {
                use wirelab_examples::server;
                let server = server::Server::new();
                if let Some(acceptor) = acceptor {
                    server.use_tls(acceptor);
                }
                let shared = WirelabFanOut::new(fan_out);
                let handler = server::handler(move |request, conn| {
                    let shared = shared.clone();
                    async move {
                        let events = shared.hub.subscribe(sse::server::last_event_id(&request));
                        shared.arrived();
                        server::sse(&conn, events, None)
                    }
                });
                server::serve(listener, server, handler).await
            }
            Kind::Ws => {
                let options = wirelab::echo::options();
                let capacity = wirelab::echo::Capacity::default();
                wirelab::echo::serve_within(listener, options, capacity, acceptor).await
            }
        }
    };
    tokio::select! {
        result = serving => Ok(result?),
        () = stop_signal(max_seconds) => Ok(()),
    }
}

/// A `serve-http` server started for one measurement, and how to reach it.
pub(crate) struct Target {
    /// The server process.
    pub(crate) server: Server,
    http: Http,
    tls: Option<TlsConnector>,
    cert: Option<PathBuf>,
}

impl Target {
    /// Starts `serve-http` with `args` (and a certificate file when `tls`), and prepares the
    /// client's TLS: the server's certificate as the only root, ALPN offering `http` alone.
    pub(crate) async fn start(http: Http, tls: bool, mut args: Vec<String>) -> Result<Target> {
        let cert = tls.then(|| {
            std::env::temp_dir().join(format!("wirelab-bench-{}.pem", std::process::id()))
        });
        if let Some(cert) = &cert {
            args.extend(["--cert-out".into(), cert.display().to_string()]);
        }
        let server = Server::start(&args).await?;
        let tls = match &cert {
            Some(cert) => Some(connector(cert, http)?),
            None => None,
        };
        Ok(Target {
            server,
            http,
            tls,
            cert,
        })
    }

    /// Stops the server and removes its certificate file.
    pub(crate) async fn stop(self) {
        self.server.stop().await;
        if let Some(cert) = self.cert {
            let _ = std::fs::remove_file(cert);
        }
    }

    /// How the `n`th client opens its event stream.
    async fn sse_opener(&self, clients: usize) -> Result<Open<(Source, Vec<u8>)>> {
        let (addr, tls) = (self.server.addr.clone(), self.tls.clone());
        if self.http == Http::Http1 {
            return Ok(Arc::new(move |_| {
                let (addr, tls) = (addr.clone(), tls.clone());
                Box::pin(async move {
                    let (stream, body) =
                        load::sse_over(connect(addr.clone(), tls).await?, &addr, "/events").await?;
                    Ok((Source::Bytes(stream), body))
                })
            }));
        }
        let senders = Arc::new(Lazy::new(clients));
        let (addr2, tls2) = (addr.clone(), tls.clone());
        let open_connection = move || {
            let (addr, tls) = (addr2.clone(), tls2.clone());
            async move { http2_client(connect(addr, tls).await?).await }
        };
        let uri: http::Uri = format!("{}://{addr}/events", self.scheme()).parse()?;
        Ok(Arc::new(move |n| {
            let (senders, open_connection) = (senders.clone(), open_connection.clone());
            let uri = uri.clone();
            Box::pin(async move {
                let mut sender = senders.get(n, open_connection).await?;
                let request = http::Request::get(uri)
                    .header(http::header::ACCEPT, "text/event-stream")
                    .body(Empty::new())?;
                sender.ready().await?;
                let response = sender.send_request(request).await?;
                if response.status() != http::StatusCode::OK {
                    return Err(format!("GET /events answered {}", response.status()).into());
                }
                Ok((Source::Body(response.into_body()), Vec::new()))
            })
        }))
    }

    /// How the `n`th client opens its WebSocket: an Upgrade on a connection of its own, or an
    /// extended CONNECT on a shared HTTP/2 connection.
    async fn ws_opener(&self, sockets: usize) -> Result<Open<Box<dyn Stream>>> {
        let (addr, tls) = (self.server.addr.clone(), self.tls.clone());
        if self.http == Http::Http1 {
            return Ok(Arc::new(move |_| {
                let (addr, tls) = (addr.clone(), tls.clone());
                Box::pin(async move {
                    let (stream, leftover) =
                        load::ws_over(connect(addr.clone(), tls).await?, &addr, "/").await?;
                    if !leftover.is_empty() {
                        return Err("an echo server sent frames before it was asked".into());
                    }
                    Ok(stream)
                })
            }));
        }
        let connections = Arc::new(Lazy::new(sockets));
        let secure = self.tls.is_some();
        let open_connection = move || {
            let (addr, tls) = (addr.clone(), tls.clone());
            async move {
                let io = connect(addr.clone(), tls).await?;
                Ok(Http2Connection::handshake(io, &addr, secure).await?)
            }
        };
        Ok(Arc::new(move |n| {
            let (connections, open_connection) = (connections.clone(), open_connection.clone());
            Box::pin(async move {
                let connection = connections.get(n, open_connection).await?;
                let (stream, _response, _) = connection
                    .open_stream("/", &ClientOptions::default())
                    .await?;
                Ok(Box::new(stream) as Box<dyn Stream>)
            })
        }))
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// TCP connections `streams` streams take.
    pub(crate) fn connections_for(&self, streams: usize) -> usize {
        match self.http {
            Http::Http1 => streams,
            Http::H2 => streams.div_ceil(STREAMS_PER_CONNECTION),
        }
    }
}

/// The HTTP/2 connections of a measurement, one per [`STREAMS_PER_CONNECTION`] streams, each
/// opened by the first stream that needs it: so that an idle measurement's baseline has none,
/// and each connection's cost is counted with its streams.
struct Lazy<T> {
    connections: Vec<tokio::sync::OnceCell<T>>,
}

impl<T: Clone> Lazy<T> {
    fn new(streams: usize) -> Lazy<T> {
        let connections = streams.div_ceil(STREAMS_PER_CONNECTION);
        Lazy {
            connections: (0..connections)
                .map(|_| tokio::sync::OnceCell::new())
                .collect(),
        }
    }

    /// The connection of the `n`th stream, opened with `open` if it is the first.
    async fn get<F, Fut>(&self, n: usize, open: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let cell = &self.connections[n / STREAMS_PER_CONNECTION];
        Ok(cell.get_or_try_init(open).await?.clone())
    }
}

/// TLS settings that trust the certificate in `cert` alone and offer `http` alone by ALPN.
fn connector(cert: &Path, http: Http) -> Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(cert)?)?;
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![match http {
        Http::Http1 => ALPN_HTTP1.to_vec(),
        Http::H2 => ALPN_H2.to_vec(),
    }];
    Ok(TlsConnector::from(Arc::new(config)))
}

/// TCP to `addr`, then TLS with `tls` when given.
async fn connect(addr: String, tls: Option<TlsConnector>) -> Result<Box<dyn Stream>> {
    let tcp = load::tcp(&addr).await?;
    let Some(tls) = tls else {
        return Ok(Box::new(tcp));
    };
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1")?;
    Ok(Box::new(tls.connect(name, tcp).await?))
}

/// hyper's HTTP/2 client on `io`, its connection driven by a task of its own.
async fn http2_client(io: Box<dyn Stream>) -> Result<SendRequest<Empty<Bytes>>> {
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// SSE fan-out: `clients` event streams, `events` events to each.
pub(crate) async fn fan_out(
    target: &Target,
    clients: usize,
    events: usize,
) -> Result<FanOutResult> {
    let open = target.sse_opener(clients).await?;
    load::fan_out_with(&target.server, FanOutKind::Sse, clients, events, open).await
}

/// WebSocket echo over `load.connections` WebSockets.
pub(crate) async fn echo(target: &Target, load: EchoLoad) -> Result<EchoResult> {
    let open = target.ws_opener(load.connections).await?;
    let mut halves = Vec::with_capacity(load.connections);
    for n in 0..load.connections {
        halves.push(tokio::io::split(open(n).await?));
    }
    load::echo_over(&target.server, load, halves).await
}

/// Idle memory: `streams` event streams or WebSockets that finished their handshake.
pub(crate) async fn idle(target: &Target, kind: Kind, streams: usize) -> Result<IdleResult> {
    let open: Open<Box<dyn Send>> = match kind {
        Kind::Sse => {
            let open = target.sse_opener(streams).await?;
            Arc::new(move |n| {
                let open = open.clone();
                Box::pin(async move { Ok(Box::new(open(n).await?.0) as Box<dyn Send>) })
            })
        }
        Kind::Ws => {
            let open = target.ws_opener(streams).await?;
            Arc::new(move |n| {
                let open = open.clone();
                Box::pin(async move { Ok(Box::new(open(n).await?) as Box<dyn Send>) })
            })
        }
    };
    load::idle_with(&target.server, streams, open).await
}
