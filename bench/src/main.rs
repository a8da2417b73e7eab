//! `wirelab-bench`: WireLab's own load tool, and the servers it measures.
//!
//! Every client subcommand starts the server under test as a child process (this same
//! binary, `serve-ws` or `serve-sse`), so that the server's CPU time and memory are its own
//! and can be read from /proc, then prints one JSON object per measurement on standard
//! output (and a readable line on standard error). `scripts/bench` runs the whole comparison
//! with it; workshop participants can run any one measurement by hand:
//!
//! ```text
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- echo --impl wirelab --connections 64 --size 20 --window 1
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- fan-out --impl axum --clients 1000 --events 200
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- idle --ws tungstenite --connections 10000
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- wire
//! cargo run --release -p wirelab-bench --bin wirelab-bench -- attack --sse-clients 500 --ws-clients 500 --seconds 90
//! ```
//!
//! Everything binds and connects to 127.0.0.1; every loop is bounded in time and count.

mod attack;
mod churn;
mod load;
mod mask;
mod servers;
mod wire;

use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::json;

use crate::load::{EchoLoad, IdleKind, Result, Server};
use crate::servers::{FanOut, SseImpl, WsImpl};

#[derive(Debug, Parser)]
#[command(about = "WireLab's load tool: echo, SSE fan-out, idle memory, bytes on the wire")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a WebSocket echo server on 127.0.0.1 (prints `listening ADDR`; stops when stdin
    /// closes).
    ServeWs {
        #[arg(long = "impl", value_enum)]
        which: WsImpl,
        /// Stop after this long in any case.
        #[arg(long, default_value_t = 1800)]
        max_seconds: u64,
    },
    /// Run an SSE server on 127.0.0.1 with `GET /events` (prints `listening ADDR`).
    ServeSse {
        #[arg(long = "impl", value_enum)]
        which: SseImpl,
        /// Publish once this many clients are subscribed (0: never).
        #[arg(long, default_value_t = 0)]
        clients: usize,
        /// How many events to publish then.
        #[arg(long, default_value_t = 0)]
        events: usize,
        /// Bytes of data per event.
        #[arg(long, default_value_t = 20)]
        data_len: usize,
        /// Stop after this long in any case.
        #[arg(long, default_value_t = 1800)]
        max_seconds: u64,
    },
    /// Echo load: N connections sending messages and timing each round trip.
    Echo {
        #[arg(long = "impl", value_enum)]
        which: WsImpl,
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
    /// Masking: WireLab, fastwebsockets and memcpy taking turns, round by round.
    Mask {
        #[arg(long, default_value_t = 100)]
        rounds: usize,
    },
}

fn ws_name(which: WsImpl) -> &'static str {
    match which {
        WsImpl::Wirelab => "wirelab",
        WsImpl::Tungstenite => "tungstenite",
        WsImpl::Tungstenite4k => "tungstenite-4k",
        WsImpl::Fastwebsockets => "fastwebsockets",
    }
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
        Command::ServeWs { which, max_seconds } => {
            servers::serve_ws(which, max_seconds).await?;
        }
        Command::ServeSse {
            which,
            clients,
            events,
            data_len,
            max_seconds,
        } => {
            let fan_out = FanOut {
                clients,
                events,
                data_len,
            };
            servers::serve_sse(which, fan_out, max_seconds).await?;
        }
        Command::Echo {
            which,
            connections,
            size,
            window,
            seconds,
            max_messages,
        } => {
            let server =
                Server::start(&["serve-ws".into(), "--impl".into(), ws_name(which).into()]).await?;
            let load = EchoLoad {
                connections,
                size,
                window: window.max(1),
                duration: Duration::from_secs_f64(seconds),
                max_messages,
            };
            let result = load::echo(&server, load).await;
            server.stop().await;
            let result = result?;
            eprintln!(
                "echo {}: {connections} conn, {size} B, window {window}: {:.0} msg/s, p50 {:.0} us, p99 {:.0} us, p99.9 {:.0} us, server CPU {:.2} us/msg",
                ws_name(which),
                result.msgs_per_sec,
                result.p50_us,
                result.p99_us,
                result.p999_us,
                result.server_cpu_us_per_msg
            );
            let mut value = serde_json::to_value(&result)?;
            value["kind"] = json!("echo");
            value["impl"] = json!(ws_name(which));
            value["connections"] = json!(connections);
            value["size"] = json!(size);
            value["window"] = json!(window);
            println!("{value}");
        }
        Command::FanOut {
            which,
            clients,
            events,
            data_len,
        } => {
            let args = [
                "serve-sse",
                "--impl",
                sse_name(which),
                "--clients",
                &clients.to_string(),
                "--events",
                &events.to_string(),
                "--data-len",
                &data_len.to_string(),
            ]
            .map(String::from);
            let server = Server::start(&args).await?;
            let result = load::fan_out(&server, clients, events).await;
            server.stop().await;
            let result = result?;
            eprintln!(
                "fan-out {}: {clients} clients x {events} events: {:.0} events/s, server CPU {:.2} us/event",
                sse_name(which),
                result.events_per_sec,
                result.server_cpu_us_per_event
            );
            let mut value = serde_json::to_value(&result)?;
            value["kind"] = json!("fan-out");
            value["impl"] = json!(sse_name(which));
            println!("{value}");
        }
        Command::ServeDemo { max_seconds } => {
            servers::serve_demo(max_seconds).await?;
        }
        Command::Churn { rounds, streams } => {
            let server = Server::start(&["serve-demo".into()]).await?;
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
            let server = Server::start(&["serve-demo".into()]).await?;
            let load = attack::Attack {
                sse_clients,
                ws_clients,
                attackers,
                duration: Duration::from_secs(seconds),
            };
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
