//! `wirelab`: the command-line tool of the WireLab workspace.
//!
//! Each subcommand is a thin shell over a module of the `wirelab` library, so that the tests
//! call the same code: `demo` over [`wirelab::demo`], `echo` and `ws` over [`wirelab::echo`]
//! and [`wirelab::ws_cmd`], `sse` over [`wirelab::sse_cmd`], `tap` over [`wirelab::tap`].

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    },
    /// A WebSocket echo server: every text and binary message comes back as it was sent
    /// (the Autobahn|Testsuite's fuzzingclient target). It accepts connections from any
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
        /// Decline permessage-deflate (RFC 7692) when a client offers it; by default it is
        /// accepted, with context takeover and 32 KiB windows.
        #[arg(long)]
        no_deflate: bool,
    },
    /// A WebSocket client: lines of standard input become text messages, received messages
    /// are printed.
    Ws {
        /// The server's URL, `ws://host:port/path`.
        url: String,
        /// Echo every received message back until the server closes (Autobahn client mode).
        #[arg(long)]
        echo: bool,
        /// Do not offer permessage-deflate (RFC 7692); by default it is offered, and what the
        /// server agreed to is printed to standard error.
        #[arg(long)]
        no_deflate: bool,
    },
    /// Server-Sent Events: `wirelab sse URL` follows a stream as a browser's EventSource
    /// does; `wirelab sse parse` reads a stream on standard input.
    Sse(SseArgs),
    /// A loopback proxy that prints, annotated, what crosses it in each direction: HTTP heads,
    /// chunked bodies, event-stream fields, WebSocket frames.
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
    },
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct SseArgs {
    /// The stream's URL, `http://host:port/path`: prints one JSON line per event, retry and
    /// state change (connecting, open, reconnecting, closed).
    #[arg(required = true)]
    url: Option<String>,
    /// Stop after this many events.
    #[arg(long)]
    max_events: Option<usize>,
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
        Command::Demo { addr, allow_origin } => {
            let listener = match bind(addr).await {
                Ok(listener) => listener,
                Err(code) => return code,
            };
            println!("wirelab demo: open http://{addr}/ in a browser (Ctrl-C stops)");
            let origins = wirelab_examples::origin::Origins::allow(allow_origin);
            result(wirelab::demo::serve(listener, origins).await)
        }
        Command::Echo {
            addr,
            allow_origin,
            no_deflate,
        } => {
            let listener = match bind(addr).await {
                Ok(listener) => listener,
                Err(code) => return code,
            };
            println!("wirelab echo: listening on ws://{addr}/ (Ctrl-C stops)");
            let mut options = wirelab::echo::options();
            options.config.deflate.enabled = !no_deflate;
            if !allow_origin.is_empty() {
                options.allowed_origins = Some(allow_origin);
            }
            result(wirelab::echo::serve_with(listener, options).await)
        }
        Command::Ws {
            url,
            echo,
            no_deflate,
        } => {
            let mut options = wirelab::ws_cmd::options();
            options.config.deflate.enabled = !no_deflate;
            result(wirelab::ws_cmd::run_with(&url, echo, &options).await)
        }
        Command::Sse(SseArgs {
            url, max_events, ..
        }) => {
            let url = url.unwrap_or_default();
            let config = sse::client::ClientConfig::default();
            result(wirelab::sse_cmd::watch(&url, config, max_events, std::io::stdout()).await)
        }
        Command::Tap {
            listen,
            upstream,
            hex,
        } => {
            let listener = match bind(listen).await {
                Ok(listener) => listener,
                Err(code) => return code,
            };
            eprintln!("wirelab tap: {listen} -> {upstream}");
            // Bounded: a slow terminal slows the tap down rather than filling memory.
            let (out, mut lines) = tokio::sync::mpsc::channel(1024);
            let options = wirelab::tap::TapOptions { hex };
            let tap = tokio::spawn(wirelab::tap::run(listener, upstream, options, out));
            while let Some(line) = lines.recv().await {
                println!("{line}");
            }
            match tap.await {
                Ok(outcome) => result(outcome),
                Err(e) => fail(e),
            }
        }
    }
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
