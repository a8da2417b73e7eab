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
        #[command(flatten)]
        limits: LimitArgs,
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
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// A WebSocket client: lines of standard input become text messages, received messages
    /// are printed.
    Ws {
        /// The server's URL, `ws://host:port/path`.
        url: String,
        /// Echo every received message back until the server closes (Autobahn client mode).
        #[arg(long)]
        echo: bool,
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
        /// Misbehave as a proxy can: `buffer` (hold the response until it ends),
        /// `idle-cut=SECONDS` (close a connection quiet for that long), `cut-mid` (cut the
        /// first response in the middle of an event or frame), `answer=STATUS` (answer every
        /// request with STATUS, such as 204 or 503, instead of forwarding it).
        #[arg(long, value_name = "FAULT")]
        fault: Option<wirelab::tap::Fault>,
    },
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
        Command::Demo {
            addr,
            allow_origin,
            limits,
        } => {
            let listener = match bind(addr).await {
                Ok(listener) => listener,
                Err(code) => return code,
            };
            println!("wirelab demo: open http://{addr}/ in a browser (Ctrl-C stops)");
            let origins = wirelab_examples::origin::Origins::allow(allow_origin);
            let mut guards = wirelab_examples::server::Guards {
                max_connections: limits.max_connections,
                budget: websocket::io::Budget::new(limits.memory_budget),
                ..Default::default()
            };
            if let Some(max) = limits.max_message {
                guards.max_message = max;
            }
            result(wirelab::demo::serve_with(listener, origins, guards).await)
        }
        Command::Echo {
            addr,
            allow_origin,
            limits,
        } => {
            let listener = match bind(addr).await {
                Ok(listener) => listener,
                Err(code) => return code,
            };
            println!("wirelab echo: listening on ws://{addr}/ (Ctrl-C stops)");
            let mut options = wirelab::echo::options();
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
            };
            result(wirelab::echo::serve_within(listener, options, capacity).await)
        }
        Command::Ws { url, echo } => result(wirelab::ws_cmd::run(&url, echo).await),
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
