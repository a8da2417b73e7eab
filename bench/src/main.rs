//! `wirelab-bench`: WireLab's own load tool, and the servers it measures.
//!
//! Every client subcommand but `lab-fan-out` (which measures the lab's running processes)
//! starts the server under test as a child process (this same binary, `serve-ws` or
//! `serve-sse`), so that the server's CPU time and memory are its own and can be read from
//! /proc, then prints one JSON object per measurement on standard
//! output (and a readable line on standard error). `scripts/bench` runs the whole comparison
//! with it; workshop participants can run any one measurement by hand:
//!
//! ```text
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- echo --impl wirelab --connections 64 --size 20 --window 1
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- fan-out --impl axum --clients 1000 --events 200
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- ws-fan-out --clients 1000 --events 200
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- idle --ws tungstenite --connections 10000
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- wire
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- binary
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- push-latency --transport ws --rate 1000
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- round-trip --way post
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- lab-fan-out --addr 127.0.0.1:18080 --clients 100 --redis 127.0.0.1:16379
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- attack --sse-clients 500 --ws-clients 500 --seconds 90
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- http-fan-out --http h2 --tls --clients 1000 --events 300
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- http-echo --http h2 --connections 64
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- http-idle --http h2 --kind sse --streams 10000
//! ```
//!
//! Everything binds and connects to 127.0.0.1; every loop is bounded in time and count.

mod attack;
mod churn;
mod compression;
mod http2;
mod lab;
mod load;
mod mask;
mod servers;
mod wire;

use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::json;

use crate::load::{EchoLoad, FanOutKind, IdleKind, Result, Server, UpWay};
use crate::servers::{FanOut, SseImpl, WsImpl};

#[derive(Debug, Parser)]
#[command(
    about = "WireLab's load tool: echo, SSE and WebSocket fan-out, idle memory, bytes on the wire, HTTP/2 against HTTP/1.1"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a WebSocket echo server on 127.0.0.1 (prints `listening ADDR`; stops when stdin
    /// closes); with `--clients`, a fan-out of Text messages instead.
    ServeWs {
        #[arg(long = "impl", value_enum)]
        which: WsImpl,
        #[command(flatten)]
        publish: Publish,
    },
    /// Run an SSE server on 127.0.0.1 with `GET /events` (prints `listening ADDR`).
    ServeSse {
        #[arg(long = "impl", value_enum)]
        which: SseImpl,
        #[command(flatten)]
        publish: Publish,
    },
    /// Run `serve-http`: an SSE fan-out or a WebSocket echo on 127.0.0.1 that speaks
    /// HTTP/1.1 and HTTP/2 (prints `listening ADDR`; stops when stdin closes).
    ServeHttp {
        #[arg(long, value_enum)]
        kind: http2::Kind,
        /// Serve TLS with a development certificate, written to this file first.
        #[arg(long, value_name = "FILE")]
        cert_out: Option<std::path::PathBuf>,
        #[command(flatten)]
        publish: Publish,
    },
    /// SSE fan-out over HTTP/2 or HTTP/1.1, with or without TLS: N event streams (HTTP/2: 100
    /// per connection), then the server publishes M events to all.
    HttpFanOut {
        #[command(flatten)]
        target: HttpTarget,
        #[arg(long, default_value_t = 100)]
        clients: usize,
        #[arg(long, default_value_t = 1000)]
        events: usize,
        #[arg(long, default_value_t = 20)]
        data_len: usize,
    },
    /// WebSocket echo over HTTP/2 (RFC 8441, 100 WebSockets per connection) or HTTP/1.1,
    /// with or without TLS.
    HttpEcho {
        #[command(flatten)]
        target: HttpTarget,
        #[command(flatten)]
        load: EchoArgs,
    },
    /// Idle memory per HTTP/2 stream (100 per connection) against per HTTP/1.1 connection,
    /// with or without TLS: N event streams or WebSockets that finished their handshake.
    HttpIdle {
        #[command(flatten)]
        target: HttpTarget,
        #[arg(long, value_enum)]
        kind: http2::Kind,
        #[arg(long, default_value_t = 10_000)]
        streams: usize,
    },
    /// Echo load: N connections sending messages and timing each round trip.
    Echo {
        #[arg(long = "impl", value_enum)]
        which: WsImpl,
        #[command(flatten)]
        load: EchoArgs,
    },
    /// SSE fan-out: N clients subscribe, then the server publishes M events to all.
    FanOut {
        #[arg(long = "impl", value_enum)]
        which: SseImpl,
        #[arg(long, default_value_t = 100)]
        clients: usize,
        #[arg(long, default_value_t = 1000)]
        events: usize,
        #[arg(long, default_value_t = 20)]
        data_len: usize,
    },
    /// WebSocket fan-out, the same deliveries as `fan-out` over the other protocol: N clients
    /// connect, then the server sends M text messages to all (WireLab's server).
    WsFanOut {
        #[arg(long, default_value_t = 100)]
        clients: usize,
        #[arg(long, default_value_t = 1000)]
        events: usize,
        #[arg(long, default_value_t = 20)]
        data_len: usize,
    },
    /// Fan-out through the lab (`scripts/lab measure` runs it): N event-stream clients on the
    /// chat at ADDR (a proxy or a `wirelab demo` instance, already running), M chat messages
    /// posted there at RATE, each stamped with the time it was posted.
    LabFanOut {
        /// Where to subscribe and post: `host:port`.
        #[arg(long)]
        addr: String,
        #[arg(long, default_value_t = 100)]
        clients: usize,
        #[arg(long, default_value_t = 100)]
        events: usize,
        /// Messages posted per second.
        #[arg(long, default_value_t = 20.0)]
        rate: f64,
        /// The instances' Redis server (`host:port`), to count its commands per message.
        #[arg(long)]
        redis: Option<String>,
        /// A name for the setup, in the output.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Server-to-client delivery latency: one client, the server publishing at a fixed rate,
    /// each message stamped with the time it was published.
    PushLatency {
        #[arg(long, value_enum)]
        transport: Transport,
        /// Messages per second.
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        /// Seconds of publishing.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
    },
    /// Round trips of a 20-byte message, one at a time: up as a WebSocket frame or as an HTTP
    /// POST, and back down on the same WebSocket or on an event stream.
    RoundTrip {
        #[arg(long, value_enum)]
        way: Way,
        #[arg(long, default_value_t = 2000)]
        messages: usize,
    },
    /// Run `wirelab demo` on 127.0.0.1 (prints `listening ADDR`; stops when stdin closes).
    ServeDemo {
        /// Stop after this long in any case.
        #[arg(long, default_value_t = 1800)]
        max_seconds: u64,
    },
    /// Memory after churn: rounds of opening and closing event streams on `wirelab demo`;
    /// the demo's RSS with them open and after they closed, per round.
    Churn {
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Event streams per round.
        #[arg(long, default_value_t = 5000)]
        streams: usize,
        /// Seconds to wait after the demo starts (its pid is printed) before the first round:
        /// time to attach a heap profiler to it (`heaptrack -p PID`, as `scripts/churn heap`
        /// does).
        #[arg(long, default_value_t = 0)]
        wait_before: u64,
    },
    /// Load under attack: well-behaved event-stream and WebSocket clients on `wirelab demo`,
    /// each checking by id that it lost and duplicated nothing, while hostile peers of six
    /// classes run; prints what each class got, the demo's memory and how long each attacker
    /// lasted. 20,000 clients need `ulimit -n` above 20,000 plus the attackers, in this
    /// process and the demo it starts.
    Attack {
        /// Well-behaved `EventSource` clients of `/ticker/sse`.
        #[arg(long, default_value_t = 10_000)]
        sse_clients: usize,
        /// Well-behaved WebSocket clients of `/echo/ws`.
        #[arg(long, default_value_t = 10_000)]
        ws_clients: usize,
        /// Hostile peers of each class.
        #[arg(long, default_value_t = 50)]
        attackers: usize,
        /// Seconds of attack, once the clients are connected: 90 lets every deadline of the
        /// demo (60 s for a message, 30 s of silence and 20 s for the Pong) run out.
        #[arg(long, default_value_t = 90)]
        seconds: u64,
    },
    /// Idle memory: N connections that finish their handshake and then wait; the server's
    /// RSS is read from /proc.
    Idle {
        /// A WebSocket server...
        #[arg(
            long,
            value_enum,
            conflicts_with = "sse",
            required_unless_present = "sse"
        )]
        ws: Option<WsImpl>,
        /// ... or an SSE server.
        #[arg(long, value_enum)]
        sse: Option<SseImpl>,
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
    },
    /// Bytes on the wire per handshake and per message, WebSocket and SSE, both directions.
    Wire,
    /// Binary payloads pushed by a server: a WebSocket Binary frame against Base64 in an SSE
    /// `data:` line, bytes counted as they arrive.
    Binary,
    /// Compression: bytes per message of the ticker, chat and streamed-text corpora on both
    /// protocols with and without compression, and CPU per message compressing and inflating.
    Compression {
        /// Passes over each corpus for the CPU figures.
        #[arg(long, default_value_t = 20)]
        rounds: usize,
    },
    /// Memory per idle connection of permessage-deflate's state, at one window size, with or
    /// without context takeover (RSS growth of this process over N connections' state).
    DeflateMemory {
        #[arg(long, default_value_t = 15)]
        bits: u8,
        /// Keep the context between messages (`false`: both `*_no_context_takeover`).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        takeover: bool,
        #[arg(long, default_value_t = 1000)]
        connections: usize,
    },
    /// Messages/s of one compressed connection echoing a corpus, against WireLab's echo,
    /// yawc's (at WireLab's settings) or Python's `websockets` (compression on, its default).
    DeflateEcho {
        #[arg(long, value_enum)]
        peer: compression::Peer,
        #[arg(long, value_enum, default_value = "chat")]
        corpus: compression::CorpusName,
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        #[arg(long, default_value_t = 100_000)]
        max_messages: u64,
    },
    /// Masking: WireLab, fastwebsockets and memcpy taking turns, round by round.
    Mask {
        #[arg(long, default_value_t = 100)]
        rounds: usize,
    },
}

/// What a server publishes, and when it stops.
#[derive(Debug, clap::Args)]
struct Publish {
    /// Publish once this many clients are subscribed or connected (0: never; a WebSocket
    /// server echoes instead).
    #[arg(long, default_value_t = 0)]
    clients: usize,
    /// How many events or messages to publish then.
    #[arg(long, default_value_t = 0)]
    events: usize,
    /// Bytes of data per event or message.
    #[arg(long, default_value_t = 20)]
    data_len: usize,
    /// Events per second, each stamped with its send time (0: as fast as possible).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Stop after this long in any case.
    #[arg(long, default_value_t = 1800)]
    max_seconds: u64,
}

impl Publish {
    fn fan_out(&self) -> FanOut {
        FanOut {
            clients: self.clients,
            events: self.events,
            data_len: self.data_len,
            rate: self.rate,
        }
    }
}

/// An echo load's parameters.
#[derive(Debug, clap::Args)]
struct EchoArgs {
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Payload bytes per message (at least 8).
    #[arg(long, default_value_t = 20)]
    size: usize,
    /// Messages in flight per connection: 1 is request-response, more is pipelined.
    #[arg(long, default_value_t = 1)]
    window: usize,
    /// Seconds of sending.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// At most this many messages in all.
    #[arg(long, default_value_t = 10_000_000)]
    max_messages: u64,
}

impl EchoArgs {
    fn load(&self) -> EchoLoad {
        EchoLoad {
            connections: self.connections,
            size: self.size,
            window: self.window.max(1),
            duration: Duration::from_secs_f64(self.seconds),
            max_messages: self.max_messages,
        }
    }

    /// The fields of the result line that say what was measured.
    fn describe(&self, value: &mut serde_json::Value) {
        value["connections"] = json!(self.connections);
        value["size"] = json!(self.size);
        value["window"] = json!(self.window);
    }
}

/// Which HTTP the `http-*` measurements speak, and whether over TLS.
#[derive(Debug, clap::Args)]
struct HttpTarget {
    #[arg(long, value_enum)]
    http: http2::Http,
    #[arg(long)]
    tls: bool,
}

impl HttpTarget {
    /// `HTTP/2 over TLS`, say.
    fn name(&self) -> String {
        let tls = if self.tls { " over TLS" } else { "" };
        format!("{}{tls}", self.http.name())
    }

    /// Starts `serve-http` with `args`, for this version and TLS.
    async fn start(&self, args: &[&str]) -> Result<http2::Target> {
        let args = std::iter::once("serve-http").chain(args.iter().copied());
        http2::Target::start(self.http, self.tls, args.map(String::from).collect()).await
    }

    /// Prints `result` as a JSON line with the version, TLS, `kind` and the TCP connections.
    fn print(&self, result: serde_json::Value, kind: &str, tcp_connections: usize) {
        let mut value = result;
        value["kind"] = json!(kind);
        value["http"] = json!(self.http.name());
        value["tls"] = json!(self.tls);
        value["tcp_connections"] = json!(tcp_connections);
        println!("{value}");
    }
}

/// A transport for `push-latency`: WireLab's servers only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Transport {
    /// Event stream, `sse::server` on hyper.
    Sse,
    /// Event stream, `sse::http1`.
    #[value(name = "sse-http1")]
    SseHttp1,
    /// WebSocket Text frames.
    Ws,
}

/// The way up for `round-trip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Way {
    /// A WebSocket frame, echoed.
    Ws,
    /// A POST on a kept-alive connection, back on the event stream.
    Post,
    /// A POST on a new connection each time, back on the event stream.
    #[value(name = "post-new-connection")]
    PostNewConnection,
}

fn ws_name(which: WsImpl) -> &'static str {
    match which {
        WsImpl::Wirelab => "wirelab",
        WsImpl::Tungstenite => "tungstenite",
        WsImpl::Tungstenite4k => "tungstenite-4k",
        WsImpl::Fastwebsockets => "fastwebsockets",
        WsImpl::WirelabDeflate => "wirelab-deflate",
        WsImpl::YawcDeflate => "yawc-deflate",
    }
}

/// One fan-out measurement: `serve IMPL` started as the server (`serve-sse` or `serve-ws`), N
/// clients, M messages of `data_len` bytes to each; prints a line and the JSON row `kind`.
async fn fan_out(
    kind: &str,
    serve: &str,
    name: &str,
    transport: FanOutKind,
    clients: usize,
    events: usize,
    data_len: usize,
) -> Result<()> {
    let args = [
        serve,
        "--impl",
        name,
        "--clients",
        &clients.to_string(),
        "--events",
        &events.to_string(),
        "--data-len",
        &data_len.to_string(),
    ]
    .map(String::from);
    let server = Server::start(&args).await?;
    let result = load::fan_out(&server, transport, clients, events).await;
    server.stop().await;
    let result = result?;
    eprintln!(
        "{kind} {name}: {clients} clients x {events} messages: {:.0} messages/s, server CPU {:.2} us/message",
        result.events_per_sec, result.server_cpu_us_per_event
    );
    let mut value = serde_json::to_value(&result)?;
    value["kind"] = json!(kind);
    value["impl"] = json!(name);
    println!("{value}");
    Ok(())
}

fn sse_name(which: SseImpl) -> &'static str {
    match which {
        SseImpl::Wirelab => "wirelab",
        SseImpl::WirelabHttp1 => "wirelab-http1",
        SseImpl::Axum => "axum",
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli.command))
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::ServeWs { which, publish } => {
            servers::serve_ws(which, publish.fan_out(), publish.max_seconds).await?;
        }
        Command::ServeSse { which, publish } => {
            servers::serve_sse(which, publish.fan_out(), publish.max_seconds).await?;
        }
        Command::ServeHttp {
            kind,
            cert_out,
            publish,
        } => {
            http2::serve(kind, cert_out, publish.fan_out(), publish.max_seconds).await?;
        }
        Command::HttpFanOut {
            target,
            clients,
            events,
            data_len,
        } => {
            let (clients_arg, events_arg) = (clients.to_string(), events.to_string());
            let data_len = data_len.to_string();
            let args = [
                "--kind",
                "sse",
                "--clients",
                &clients_arg,
                "--events",
                &events_arg,
            ];
            let args: Vec<&str> = args.into_iter().chain(["--data-len", &data_len]).collect();
            let server = target.start(&args).await?;
            let result = http2::fan_out(&server, clients, events).await;
            let connections = server.connections_for(clients);
            server.stop().await;
            let result = result?;
            eprintln!(
                "http-fan-out {}: {clients} streams on {connections} connections x {events} events: {:.0} events/s, server CPU {:.2} us/event",
                target.name(),
                result.events_per_sec,
                result.server_cpu_us_per_event
            );
            target.print(serde_json::to_value(&result)?, "http-fan-out", connections);
        }
        Command::HttpEcho { target, load } => {
            let server = target.start(&["--kind", "ws"]).await?;
            let result = http2::echo(&server, load.load()).await;
            let connections = server.connections_for(load.connections);
            server.stop().await;
            let result = result?;
            eprintln!(
                "http-echo {}: {} WebSockets on {connections} connections, {} B, window {}: {:.0} msg/s, p50 {:.0} us, p99 {:.0} us, server CPU {:.2} us/msg",
                target.name(),
                load.connections,
                load.size,
                load.window,
                result.msgs_per_sec,
                result.p50_us,
                result.p99_us,
                result.server_cpu_us_per_msg
            );
            let mut value = serde_json::to_value(&result)?;
            load.describe(&mut value);
            target.print(value, "http-echo", connections);
        }
        Command::HttpIdle {
            target,
            kind,
            streams,
        } => {
            let name = match kind {
                http2::Kind::Sse => "sse",
                http2::Kind::Ws => "ws",
            };
            let server = target.start(&["--kind", name]).await?;
            let result = http2::idle(&server, kind, streams).await;
            let connections = server.connections_for(streams);
            server.stop().await;
            let result = result?;
            eprintln!(
                "http-idle {name} {}: {streams} streams on {connections} connections: {:.0} B/stream at peak RSS, {:.0} B/stream now",
                target.name(),
                result.peak_bytes_per_connection,
                result.bytes_per_connection
            );
            let mut value = serde_json::to_value(&result)?;
            value["stream"] = json!(name);
            target.print(value, "http-idle", connections);
        }
        Command::Echo { which, load: args } => {
            let server =
                Server::start(&["serve-ws".into(), "--impl".into(), ws_name(which).into()]).await?;
            let result = load::echo(&server, args.load()).await;
            server.stop().await;
            let result = result?;
            eprintln!(
                "echo {}: {} conn, {} B, window {}: {:.0} msg/s, p50 {:.0} us, p99 {:.0} us, p99.9 {:.0} us, server CPU {:.2} us/msg",
                ws_name(which),
                args.connections,
                args.size,
                args.window,
                result.msgs_per_sec,
                result.p50_us,
                result.p99_us,
                result.p999_us,
                result.server_cpu_us_per_msg
            );
            let mut value = serde_json::to_value(&result)?;
            value["kind"] = json!("echo");
            value["impl"] = json!(ws_name(which));
            args.describe(&mut value);
            println!("{value}");
        }
        Command::FanOut {
            which,
            clients,
            events,
            data_len,
        } => {
            fan_out(
                "fan-out",
                "serve-sse",
                sse_name(which),
                FanOutKind::Sse,
                clients,
                events,
                data_len,
            )
            .await?;
        }
        Command::WsFanOut {
            clients,
            events,
            data_len,
        } => {
            let name = ws_name(WsImpl::Wirelab);
            fan_out(
                "ws-fan-out",
                "serve-ws",
                name,
                FanOutKind::WebSocket,
                clients,
                events,
                data_len,
            )
            .await?;
        }
        Command::LabFanOut {
            addr,
            clients,
            events,
            rate,
            redis,
            label,
        } => {
            let load = lab::LabFanOut {
                addr,
                clients,
                events,
                rate: rate.max(0.1),
                redis,
            };
            let result = lab::lab_fan_out(&load).await?;
            eprintln!(
                "lab-fan-out {label}: {clients} clients, {events} messages at {rate}/s: {} deliveries ({} lost), {:.0}/s, p50 {:.0} us, p99 {:.0} us, Redis round trips per message {:?}, commands {:?}",
                result.deliveries,
                result.latency.lost,
                result.deliveries_per_sec,
                result.latency.p50_us,
                result.latency.p99_us,
                result.redis_round_trips_per_event,
                result.redis_commands_per_event,
            );
            let mut value = serde_json::to_value(&result)?;
            value["kind"] = json!("lab-fan-out");
            value["label"] = json!(label);
            value["clients"] = json!(clients);
            value["events"] = json!(events);
            value["rate"] = json!(rate);
            println!("{value}");
        }
        Command::PushLatency {
            transport,
            rate,
            seconds,
        } => {
            let events = ((rate * seconds) as usize).max(1);
            let (serve, name, kind) = match transport {
                Transport::Sse => ("serve-sse", "wirelab", FanOutKind::Sse),
                Transport::SseHttp1 => ("serve-sse", "wirelab-http1", FanOutKind::Sse),
                Transport::Ws => ("serve-ws", "wirelab", FanOutKind::WebSocket),
            };
            let args = [
                serve,
                "--impl",
                name,
                "--clients",
                "1",
                "--events",
                &events.to_string(),
                "--rate",
                &rate.to_string(),
            ]
            .map(String::from);
            let server = Server::start(&args).await?;
            let deadline = Duration::from_secs_f64(seconds + 10.0);
            let result = load::push_latency(&server, kind, events, deadline).await;
            server.stop().await;
            let result = result?;
            let label = match transport {
                Transport::Sse => "SSE (hyper)",
                Transport::SseHttp1 => "SSE (sse::http1)",
                Transport::Ws => "WebSocket",
            };
            eprintln!(
                "push-latency {label} at {rate} msg/s: p50 {:.0} us, p99 {:.0} us, p99.9 {:.0} us, max {:.0} us, {} lost",
                result.p50_us, result.p99_us, result.p999_us, result.max_us, result.lost
            );
            let mut value = serde_json::to_value(&result)?;
            value["kind"] = json!("push-latency");
            value["transport"] = json!(label);
            value["rate"] = json!(rate);
            println!("{value}");
        }
        Command::RoundTrip { way, messages } => {
            let (args, up, label): (Vec<String>, UpWay, &str) = match way {
                Way::Ws => (
                    vec!["serve-ws".into(), "--impl".into(), "wirelab".into()],
                    UpWay::WebSocket,
                    "WebSocket frame up, frame down",
                ),
                Way::Post => (
                    vec!["serve-sse".into(), "--impl".into(), "wirelab".into()],
                    UpWay::Post,
                    "POST up (keep-alive), event down",
                ),
                Way::PostNewConnection => (
                    vec!["serve-sse".into(), "--impl".into(), "wirelab".into()],
                    UpWay::PostNewConnection,
                    "POST up (new connection each), event down",
                ),
            };
            let server = Server::start(&args).await?;
            let result = load::round_trips(&server, up, messages).await;
            server.stop().await;
            let result = result?;
            eprintln!(
                "round-trip {label}: p50 {:.0} us, p99 {:.0} us, p99.9 {:.0} us, max {:.0} us",
                result.p50_us, result.p99_us, result.p999_us, result.max_us
            );
            let mut value = serde_json::to_value(&result)?;
            value["kind"] = json!("round-trip");
            value["way"] = json!(label);
            println!("{value}");
        }
        Command::ServeDemo { max_seconds } => {
            servers::serve_demo(max_seconds).await?;
        }
        Command::Churn {
            rounds,
            streams,
            wait_before,
        } => {
            let server = Server::start(&["serve-demo".into()]).await?;
            eprintln!("churn: the demo is pid {}", server.pid());
            tokio::time::sleep(Duration::from_secs(wait_before)).await;
            let result = churn::churn(&server, rounds, streams).await;
            server.stop().await;
            let result = result?;
            let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
            let after: Vec<String> = result
                .rounds
                .iter()
                .map(|round| format!("{:.1}", mib(round.closed_rss)))
                .collect();
            eprintln!(
                "churn: {rounds} x {streams} event streams on the demo: {:.1} MiB at start, {:.1} MiB with the first round open, after each round {} MiB",
                mib(result.baseline_rss),
                result
                    .rounds
                    .first()
                    .map_or(0.0, |round| mib(round.open_rss)),
                after.join(", ")
            );
            let mut value = serde_json::to_value(&result)?;
            value["kind"] = json!("churn");
            value["malloc_arena_max"] = json!(std::env::var("MALLOC_ARENA_MAX").ok());
            value["malloc_trim_threshold"] = json!(std::env::var("MALLOC_TRIM_THRESHOLD_").ok());
            println!("{value}");
        }
        Command::Attack {
            sse_clients,
            ws_clients,
            attackers,
            seconds,
        } => {
            let load = attack::Attack {
                sse_clients,
                ws_clients,
                attackers,
                duration: Duration::from_secs(seconds),
            };
            attack::check_file_limit(&load)?;
            let server = Server::start(&["serve-demo".into()]).await?;
            let result = attack::attack(&server, load).await;
            server.stop().await;
            let result = result?;
            eprintln!("{}", attack::table(&result));
            let mut value = serde_json::to_value(&result)?;
            value["kind"] = json!("attack");
            println!("{value}");
        }
        Command::Idle {
            ws,
            sse,
            connections,
        } => {
            let (args, kind, name) = match (ws, sse) {
                (Some(which), _) => (
                    vec!["serve-ws".into(), "--impl".into(), ws_name(which).into()],
                    IdleKind::WebSocket,
                    format!("WebSocket {}", ws_name(which)),
                ),
                (None, Some(which)) => (
                    vec!["serve-sse".into(), "--impl".into(), sse_name(which).into()],
                    IdleKind::Sse,
                    format!("SSE {}", sse_name(which)),
                ),
                (None, None) => return Err("--ws or --sse".into()),
            };
            let server = Server::start(&args).await?;
            let result = load::idle(&server, kind, connections).await;
            server.stop().await;
            let result = result?;
            eprintln!(
                "idle {name}: {connections} connections: {:.0} B/conn at peak RSS, {:.0} B/conn now",
                result.peak_bytes_per_connection, result.bytes_per_connection
            );
            let mut value = serde_json::to_value(&result)?;
            value["kind"] = json!("idle");
            value["impl"] = json!(name);
            println!("{value}");
        }
        Command::Mask { rounds } => {
            for row in mask::compare(rounds) {
                let median = |v: &[f64]| {
                    let mut v = v.to_vec();
                    v.sort_by(f64::total_cmp);
                    v[v.len() / 2]
                };
                eprintln!(
                    "mask {} B {}: {:.1} GB/s, {:.2}x fastwebsockets, {:.2}x memcpy (medians of {rounds} rounds)",
                    row.size,
                    row.start,
                    row.wirelab_gbps,
                    median(&row.vs_fastwebsockets),
                    median(&row.vs_memcpy)
                );
                let mut value = serde_json::to_value(&row)?;
                value["kind"] = json!("mask");
                println!("{value}");
            }
        }
        Command::Binary => {
            for row in wire::measure_binary().await? {
                eprintln!(
                    "{} ({} B): WebSocket {} B, SSE Base64 {} B ({:.3}x)",
                    row.what,
                    row.payload,
                    row.websocket,
                    row.sse_base64,
                    row.sse_base64 as f64 / row.websocket as f64
                );
                let mut value = serde_json::to_value(&row)?;
                value["kind"] = json!("binary");
                println!("{value}");
            }
        }
        Command::Compression { rounds } => {
            for row in compression::measure(rounds) {
                eprintln!("{row}");
                println!("{}", row.json());
            }
        }
        Command::DeflateMemory {
            bits,
            takeover,
            connections,
        } => {
            let row = compression::memory(bits, takeover, connections)?;
            eprintln!("{row}");
            println!("{}", row.json());
        }
        Command::DeflateEcho {
            peer,
            corpus,
            seconds,
            max_messages,
        } => {
            let row = compression::echo(peer, corpus, seconds, max_messages).await?;
            eprintln!("{row}");
            println!("{}", row.json());
        }
        Command::Wire => {
            for row in wire::measure().await? {
                eprintln!(
                    "{}: {} B up, {} B down ({})",
                    row.what,
                    row.to_server,
                    row.to_client,
                    row.tap.join(" | ")
                );
                let mut value = serde_json::to_value(&row)?;
                value["kind"] = json!("wire");
                println!("{value}");
            }
        }
    }
    Ok(())
}
