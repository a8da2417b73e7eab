//! `wirelab`: the command-line tool of the WireLab workspace.
//!
//! Each subcommand is a thin shell over a module of the `wirelab` library, so that the tests
//! call the same code: `demo` over [`wirelab::demo`], `echo` and `ws` over [`wirelab::echo`]
//! and [`wirelab::ws_cmd`], `sse` over [`wirelab::sse_cmd`], `tap` over [`wirelab::tap`], `check` over
//! [`wirelab::check`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rustls_pki_types::CertificateDer;
use wirelab::check::{self, program::Program};
use wirelab::tls::ServerTls;
use wirelab_examples::backbone::Backbone;
use wirelab_examples::server::tls::ALPN_H2_HTTP1;

#[derive(Parser)]
#[command(
    name = "wirelab",
    version,
    about = "Server-Sent Events and WebSocket, by hand, side by side"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The side-by-side demo: a page per example, SSE and WebSocket next to each other, with
    /// live counters and controls that cut, stop or slow the server.
    Demo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Also accept WebSocket connections and POSTs from pages of this origin (repeatable),
        /// as a browser sends it: `http://localhost:3000`. By default only the demo's own
        /// pages, and programs that send no Origin, are accepted; other pages get 403.
        #[arg(long = "allow-origin", value_name = "ORIGIN")]
        allow_origin: Vec<String>,
        #[command(flatten)]
        tls: TlsArgs,
        /// Keep the ticker, the chat and the seats on this Redis server
        /// (`redis://127.0.0.1:6379`), shared with every other instance started with the
        /// same URL. Without it they live in this process.
        #[arg(long, value_name = "URL")]
        redis: Option<String>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// A WebSocket echo server: every text and binary message comes back as it was sent
    /// (the Autobahn|Testsuite's fuzzingclient target), over HTTP/1.1 and over HTTP/2 in
    /// clear text (RFC 8441). It accepts connections from any
    /// Origin, so any web page can use it, unless --allow-origin is given.
    Echo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9001")]
        addr: SocketAddr,
        /// Accept only browser pages of this origin (repeatable), as a browser sends it:
        /// `http://localhost:3000`; others get 403. Without it, every origin is accepted.
        /// Clients that send no Origin (programs, not browsers) are always accepted.
        #[arg(long = "allow-origin", value_name = "ORIGIN")]
        allow_origin: Vec<String>,
        #[command(flatten)]
        tls: TlsArgs,
        /// Decline permessage-deflate (RFC 7692) when a client offers it; by default it is
        /// accepted, with context takeover and 32 KiB windows.
        #[arg(long)]
        no_deflate: bool,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// A WebSocket client: lines of standard input become text messages, received messages
    /// are printed.
    Ws {
        /// The server's URL, `ws://host:port/path` or `wss://...`. Over `wss://`, the WebSocket
        /// is a stream of an HTTP/2 connection (RFC 8441) when the server picks `h2` by ALPN
        /// and accepts extended CONNECT, and an HTTP/1.1 Upgrade otherwise.
        url: String,
        /// Echo every received message back until the server closes (Autobahn client mode).
        #[arg(long)]
        echo: bool,
        /// Open the WebSocket over HTTP/2 (RFC 8441 extended CONNECT) or fail: on an h2c
        /// connection for `ws://`, offering only `h2` by ALPN for `wss://`.
        #[arg(long, conflicts_with = "echo")]
        http2: bool,
        /// Trust the certificates in this PEM file (a development certificate) besides the
        /// system's roots, for `wss://` (repeatable).
        #[arg(long, value_name = "FILE")]
        ca: Vec<PathBuf>,
        /// Do not offer permessage-deflate (RFC 7692); by default it is offered, and what the
        /// server agreed to is printed to standard error.
        #[arg(long)]
        no_deflate: bool,
    },
    /// Server-Sent Events: `wirelab sse URL` follows a stream as a browser's EventSource
    /// does; `wirelab sse parse` reads a stream on standard input.
    Sse(SseArgs),
    /// Run WireLab's conformance suites against another implementation, in any language.
    ///
    /// Prints one line per case with the rule it checks, then `N of M cases passed`; the exit
    /// status is non-zero when a case fails. Loopback only; every case is bounded by
    /// --timeout.
    Check {
        /// How long one case may take, in seconds.
        #[arg(long, default_value_t = 5.0, value_name = "SECONDS", global = true)]
        timeout: f64,
        #[command(subcommand)]
        suite: Suite,
    },
    /// A loopback proxy that prints, annotated, what crosses it in each direction: HTTP heads,
    /// chunked bodies, event-stream fields, WebSocket frames, and HTTP/2 frames in clear text
    /// (h2c).
    Tap {
        /// Address to listen on (clients connect here instead of to the server).
        #[arg(long)]
        listen: SocketAddr,
        /// The server to forward to.
        #[arg(long)]
        upstream: SocketAddr,
        /// Also print a hex dump of every read.
        #[arg(long)]
        hex: bool,
        /// Also draw each connection, when it closes, as a sequence diagram:
        /// DIR/connection-N.svg.
        #[arg(long, value_name = "DIR")]
        svg: Option<std::path::PathBuf>,
        /// Misbehave as a proxy can: `buffer` (hold the response until it ends),
        /// `idle-cut=SECONDS` (close a connection quiet for that long), `cut-mid` (cut the
        /// first response in the middle of an event or frame), `answer=STATUS` (answer every
        /// request with STATUS, such as 204 or 503, instead of forwarding it), `no-flush-gzip`
        /// (compress event streams with gzip and never flush, so events wait for a full
        /// block or the stream's end).
        #[arg(long, value_name = "FAULT")]
        fault: Option<wirelab::tap::Fault>,
    },
}

/// The TLS options of the servers.
#[derive(clap::Args)]
struct TlsArgs {
    /// Serve https:// and wss:// (TLS, with ALPN offering h2 and http/1.1 where the server
    /// speaks both) with a development certificate for localhost, 127.0.0.1 and ::1, made at
    /// start; its file and how to trust it are printed.
    #[arg(long)]
    tls: bool,
    /// Serve TLS with this certificate chain (PEM) instead of a development certificate.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
}

impl TlsArgs {
    fn acceptor(&self, addr: SocketAddr, alpn: &[&[u8]]) -> Result<Option<ServerTls>, ExitCode> {
        let files = self.cert.as_deref().zip(self.key.as_deref());
        wirelab::tls::server_tls(self.tls, files, addr.port(), alpn).map_err(fail)
    }
}

/// What peers may make a server hold: the same flags on `demo` and `echo` (the security
/// chapter of the book says how to size them).
#[derive(clap::Args)]
struct LimitArgs {
    /// The largest WebSocket message (and frame), in bytes; a larger one is closed with 1009.
    /// Default: 65536 for the demo, 67108864 (64 MiB, above Autobahn's cases) for echo.
    #[arg(long, value_name = "BYTES")]
    max_message: Option<usize>,
    /// What all WebSocket connections together may hold in unfinished messages and send
    /// queues, in bytes; past it, the largest holders are closed with 1013.
    #[arg(long, value_name = "BYTES", default_value_t = websocket::io::Budget::DEFAULT_LIMIT)]
    memory_budget: usize,
    /// Most connections open at once; past it, new ones get 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = wirelab_examples::server::MAX_CONNECTIONS)]
    max_connections: usize,
    /// The kernel's send and receive buffer for each connection (SO_SNDBUF, SO_RCVBUF), in
    /// bytes: what a peer that reads nothing can leave queued in the kernel. 0 leaves them to
    /// the kernel, which grows them to several MB.
    #[arg(long, value_name = "BYTES", default_value_t = wirelab_examples::server::SOCKET_BUFFER)]
    socket_buffer: usize,
}

impl LimitArgs {
    /// `--socket-buffer`, with 0 for the kernel's own sizing.
    fn socket_buffer(&self) -> Option<usize> {
        (self.socket_buffer > 0).then_some(self.socket_buffer)
    }
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct SseArgs {
    /// The streams' URLs, `http://host:port/path` or `https://...`: prints one JSON line per
    /// event, retry and state change (connecting, open, reconnecting, closed). With several,
    /// each line says which (`"stream":N`, from 0), and streams to one origin share one
    /// HTTP/2 connection when the server speaks HTTP/2.
    #[arg(required = true)]
    urls: Vec<String>,
    /// Stop after this many events (of each stream).
    #[arg(long)]
    max_events: Option<usize>,
    /// Trust the certificates in this PEM file (a development certificate) besides the
    /// system's roots (repeatable).
    #[arg(long, value_name = "FILE")]
    ca: Vec<PathBuf>,
    /// Speak HTTP/2 to http:// URLs without asking first (h2c with prior knowledge).
    #[arg(long)]
    http2_prior_knowledge: bool,
    #[command(subcommand)]
    command: Option<SseCommand>,
}

#[derive(Subcommand)]
enum SseCommand {
    /// Read an event stream on standard input and write one JSON object per line:
    /// `{"type":T,"data":D,"id":I}` per event, `{"retry":N}` when the reconnection time is set.
    /// For example: `curl -sN http://127.0.0.1:8080/ticker/sse | wirelab sse parse`.
    Parse,
}

/// The suites of `wirelab check`.
#[derive(Subcommand)]
enum Suite {
    /// An event-stream parser, given as a command (HTML §9.2.5-9.2.6).
    ///
    /// The command runs once per vector of the conformance suite (the HTML Standard's
    /// examples and rules, the web-platform-tests). The contract: the command reads the stream as bytes on standard input until its end,
    /// and writes one JSON object per line on standard output, in order:
    /// `{"type":T,"data":D,"id":I}` for each dispatched event (T the event type, "message"
    /// by default; D the data; I the last event ID at dispatch, "" when none), and
    /// `{"retry":N}` each time a retry field sets the reconnection time (milliseconds).
    /// Comments are not printed; key order does not matter; a retry beyond 64 bits may be
    /// printed as it is or saturated (18446744073709551615). An event not dispatched when
    /// the input ends is discarded. The command exits with status 0.
    ///
    /// Example: `wirelab check sse-parser -- python3 parser.py`
    /// (`wirelab check sse-parser -- wirelab sse parse` is the reference).
    #[command(verbatim_doc_comment)]
    SseParser {
        /// The parser's command and its arguments.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// A WebSocket echo server, given as a ws:// URL (RFC 6455).
    ///
    /// The server must be on a loopback address, and must echo every Text and Binary message
    /// back. Checked: the opening handshake (101 and Sec-WebSocket-Accept; refusals of a
    /// missing or bad key, a missing Upgrade, a wrong version), the frame rules (close codes
    /// 1002 and 1007), the echo of Text, Binary and fragmented messages, Ping and Pong, and
    /// the closing handshake.
    ///
    /// Example: `wirelab check ws-server ws://127.0.0.1:9001/`
    #[command(verbatim_doc_comment)]
    WsServer {
        /// The server's URL, `ws://127.0.0.1:PORT/path`.
        url: String,
    },
    /// A WebSocket client, given as a command that connects and echoes (RFC 6455).
    ///
    /// WireLab serves on a loopback port and runs CMD ARGS... ws://127.0.0.1:PORT/check.
    /// The client must connect, send back every Text and Binary message as it received it,
    /// and answer the server's Close (as `wirelab ws --echo` does). Checked: the opening
    /// request (GET, key, version 13), masking with a fresh key per frame, echo, Ping and
    /// Pong, the closing handshake, and in two more runs, that a wrong Sec-WebSocket-Accept
    /// and a masked server frame fail the connection.
    ///
    /// Example: `wirelab check ws-client -- wirelab ws --echo`
    #[command(verbatim_doc_comment)]
    WsClient {
        /// The client's command and its arguments (the URL is added last).
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// An EventSource-like client, given as a command that prints events (HTML §9.2).
    ///
    /// WireLab serves HTTP/1.1 on a loopback port and runs CMD ARGS...
    /// http://127.0.0.1:PORT/events. The client must follow the stream, reconnecting as
    /// EventSource does, and print each event as a JSON line {"type":T,"data":D,"id":I}
    /// (flushed; lines without "type" are ignored). Checked: the request's Accept,
    /// reconnection when the body ends, Last-Event-ID, that retry: is waited (the delay is
    /// reported), that 204 and a wrong Content-Type stop it, and the events it printed.
    ///
    /// Example: `wirelab check sse-client -- wirelab sse`
    #[command(verbatim_doc_comment)]
    SseClient {
        /// The client's command and its arguments (the URL is added last).
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Sse(SseArgs {
        command: Some(SseCommand::Parse),
        ..
    }) = &cli.command
    {
        // Reading a pipe needs no runtime.
        return match wirelab::sse_cmd::parse(std::io::stdin().lock(), std::io::stdout().lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        };
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return fail(e),
    };
    let code = runtime.block_on(run(cli.command));
    // `wirelab ws` reads stdin on a blocking thread that cannot be cancelled: do not wait for
    // it (or for anything else) once the command is done.
    runtime.shutdown_background();
    code
}

async fn run(command: Command) -> ExitCode {
    match command {
        Command::Demo {
            addr,
            allow_origin,
            tls,
            redis,
            limits,
        } => {
            let tls = match tls.acceptor(addr, ALPN_H2_HTTP1) {
                Ok(tls) => tls,
                Err(code) => return code,
            };
            // Redis first: a URL that does not answer is an error before anything listens.
            let backbone = match redis {
                Some(url) => match Backbone::redis(&url).await {
                    Ok(backbone) => {
                        println!("wirelab demo: feeds and state on {url}");
                        backbone
                    }
                    Err(e) => return fail(e),
                },
                None => Backbone::Memory,
            };
            let listener = match bind(addr).await {
                Ok(listener) => listener,
                Err(code) => return code,
            };
            let scheme = if tls.is_some() { "https" } else { "http" };
            println!("wirelab demo: open {scheme}://{addr}/ in a browser (Ctrl-C stops)");
            let acceptor = tls.map(|tls| print_notes("demo", tls));
            let origins = wirelab_examples::origin::Origins::allow(allow_origin);
            let mut guards = wirelab_examples::server::Guards {
                max_connections: limits.max_connections,
                budget: websocket::io::Budget::new(limits.memory_budget),
                socket_buffer: limits.socket_buffer(),
                ..Default::default()
            };
            if let Some(max) = limits.max_message {
                guards.max_message = max;
            }
            let options = wirelab::demo::Options {
                origins,
                backbone,
                tls: acceptor,
                guards,
            };
            result(wirelab::demo::serve_with(listener, options).await)
        }
        Command::Echo {
            addr,
            allow_origin,
            tls,
            no_deflate,
            limits,
        } => {
            let tls = match tls.acceptor(addr, ALPN_H2_HTTP1) {
                Ok(tls) => tls,
                Err(code) => return code,
            };
            let listener = match bind(addr).await {
                Ok(listener) => listener,
                Err(code) => return code,
            };
            let scheme = if tls.is_some() { "wss" } else { "ws" };
            let http = if tls.is_some() {
                "HTTP/1.1 and HTTP/2 by ALPN"
            } else {
                "HTTP/1.1 and HTTP/2 (h2c)"
            };
            println!("wirelab echo: listening on {scheme}://{addr}/, {http} (Ctrl-C stops)");
            let acceptor = tls.map(|tls| print_notes("echo", tls));
            let mut options = wirelab::echo::options();
            options.config.deflate.enabled = !no_deflate;
            if !allow_origin.is_empty() {
                options.allowed_origins = Some(allow_origin);
            }
            if let Some(max) = limits.max_message {
                options.config.limits.max_message_size = max;
                options.config.limits.max_frame_size = max;
            }
            let capacity = wirelab::echo::Capacity {
                max_connections: limits.max_connections,
                budget: websocket::io::Budget::new(limits.memory_budget),
                socket_buffer: limits.socket_buffer(),
            };
            result(wirelab::echo::serve_within(listener, options, capacity, acceptor).await)
        }
        Command::Ws {
            url,
            echo,
            http2,
            ca,
            no_deflate,
        } => {
            let ca = match read_cas(&ca) {
                Ok(ca) => ca,
                Err(code) => return code,
            };
            let dial = wirelab::ws_cmd::Dial { http2, ca };
            let mut options = wirelab::ws_cmd::options();
            options.config.deflate.enabled = !no_deflate;
            result(wirelab::ws_cmd::run_with(&url, echo, &dial, &options).await)
        }
        Command::Sse(SseArgs {
            urls,
            max_events,
            ca,
            http2_prior_knowledge,
            ..
        }) => {
            let mut connector = sse::client::Connector::new();
            if !ca.is_empty() {
                let roots = match read_cas(&ca) {
                    Ok(roots) => roots,
                    Err(code) => return code,
                };
                match sse::client::tls_config(roots) {
                    Ok(tls) => connector = connector.with_tls(tls),
                    Err(e) => return fail(e),
                }
            }
            if http2_prior_knowledge {
                connector = connector.with_http2_prior_knowledge();
            }
            let config = sse::client::ClientConfig {
                connector,
                ..sse::client::ClientConfig::default()
            };
            let output = std::io::stdout();
            result(wirelab::sse_cmd::watch_all(&urls, config, max_events, output).await)
        }
        Command::Check { timeout, suite } => run_check(timeout, suite).await,
        Command::Tap {
            listen,
            upstream,
            hex,
            svg,
            fault,
        } => {
            let listener = match bind(listen).await {
                Ok(listener) => listener,
                Err(code) => return code,
            };
            match fault {
                Some(fault) => eprintln!("wirelab tap: {listen} -> {upstream}, fault {fault}"),
                None => eprintln!("wirelab tap: {listen} -> {upstream}"),
            }
            // Bounded: a slow terminal slows the tap down rather than filling memory.
            let (out, mut lines) = tokio::sync::mpsc::channel(1024);
            let options = wirelab::tap::TapOptions { hex, fault };
            let tap = tokio::spawn(wirelab::tap::run(listener, upstream, options, out));
            let mut diagrams = svg.map(wirelab::tap::diagram::Collector::new);
            while let Some(line) = lines.recv().await {
                println!("{line}");
                if let Some(diagrams) = &mut diagrams
                    && let Err(e) = diagrams.push(line)
                {
                    eprintln!("wirelab tap: cannot write a diagram: {e}");
                }
            }
            match tap.await {
                Ok(outcome) => result(outcome),
                Err(e) => fail(e),
            }
        }
    }
}

/// The certificates of every `--ca` file.
fn read_cas(files: &[PathBuf]) -> Result<Vec<CertificateDer<'static>>, ExitCode> {
    let mut roots = Vec::new();
    for file in files {
        roots.extend(wirelab::tls::read_ca(file).map_err(fail)?);
    }
    Ok(roots)
}

/// `wirelab check`: runs one suite, printing as it goes; fails when a case fails.
async fn run_check(timeout: f64, suite: Suite) -> ExitCode {
    let timeout = match std::time::Duration::try_from_secs_f64(timeout) {
        Ok(timeout) if !timeout.is_zero() => timeout,
        _ => {
            return fail(format!(
                "--timeout {timeout}: a positive number of seconds is needed"
            ));
        }
    };
    let mut reporter = check::Reporter::new(std::io::stdout());
    let ran = async {
        match suite {
            Suite::SseParser { command } => {
                let program = Program::from_words(&command)?;
                check::sse_parser::run(&program, timeout, &mut reporter).await
            }
            Suite::SseClient { command } => {
                let program = Program::from_words(&command)?;
                check::sse_client::run(&program, timeout, &mut reporter).await
            }
            Suite::WsClient { command } => {
                let program = Program::from_words(&command)?;
                check::ws_client::run(&program, timeout, &mut reporter).await
            }
            Suite::WsServer { url } => check::ws_server::run(&url, timeout, &mut reporter).await,
        }
    };
    if let Err(e) = ran.await {
        return fail(e);
    }
    if reporter.finish() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Prints how to trust a server's certificate, and hands over its acceptor.
fn print_notes(command: &str, tls: ServerTls) -> tokio_rustls::TlsAcceptor {
    for note in &tls.notes {
        println!("wirelab {command}: {note}");
    }
    tls.acceptor
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ExitCode> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| fail(format!("cannot listen on {addr}: {e}")))
}

fn result<E: std::fmt::Display>(outcome: Result<(), E>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn fail(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("wirelab: {error}");
    ExitCode::FAILURE
}
