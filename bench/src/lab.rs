//! Fan-out through the lab: event-stream clients on the chat of running `wirelab demo`
//! instances (behind a proxy, on Redis, or one instance alone), chat messages posted at a
//! steady rate, each stamped with the time it was posted, and what it cost Redis.
//!
//! Unlike the other measurements it starts no server: `scripts/lab measure` starts the lab
//! (redis-server, two instances, nginx) and one instance on its own, and runs this against
//! each.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::load::{LatencyResult, Result, now_nanos, sse_connect};

/// The commands that run inside the chat's publishing script (`INCR` of the counter, `XADD`
/// of the entry): Redis counts them, but no client sent them.
const SCRIPTED: [&str; 2] = ["incr", "xadd"];

/// The parameters of one run.
#[derive(Debug, Clone)]
pub(crate) struct LabFanOut {
    /// Where the clients subscribe and the messages are posted: a proxy or an instance.
    pub(crate) addr: String,
    /// Event-stream clients.
    pub(crate) clients: usize,
    /// Chat messages posted.
    pub(crate) events: usize,
    /// Messages posted per second.
    pub(crate) rate: f64,
    /// The Redis server the instances share (`host:port`), to count its commands.
    pub(crate) redis: Option<String>,
}

/// What one run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct LabFanOutResult {
    /// Messages delivered, all clients together.
    pub(crate) deliveries: usize,
    /// From the first post to the last delivery.
    pub(crate) seconds: f64,
    /// Deliveries per second over that time.
    pub(crate) deliveries_per_sec: f64,
    /// Post-to-delivery latency.
    pub(crate) latency: LatencyResult,
    /// Redis commands per posted message, by name, beyond what the same time without posting
    /// costs (the ticker's lease and prices, the followers' blocking reads).
    pub(crate) redis_commands_per_event: Option<BTreeMap<String, f64>>,
    /// Of those, the ones a client sent (each a round trip): all but [`SCRIPTED`].
    pub(crate) redis_round_trips_per_event: Option<f64>,
}

// ANCHOR: lab_fan_out
/// Subscribes `clients` event streams to `/chat/events` at `addr`, then posts `events`
/// messages at `rate` to `/chat/send` there; every client reads until it has them all or
/// the deadline (the posting time plus 10 s) passes.
pub(crate) async fn lab_fan_out(load: &LabFanOut) -> Result<LabFanOutResult> {
    let mut streams = Vec::with_capacity(load.clients);
    for _ in 0..load.clients {
        streams.push(sse_connect(&load.addr, "/chat/events").await?);
    }
    let posting = Duration::from_secs_f64(load.events as f64 / load.rate);
    // The same time without posting first: what Redis does anyway.
    let idle = match &load.redis {
        Some(redis) => {
            let before = command_calls(redis).await?;
            tokio::time::sleep(posting).await;
            Some(calls_between(&before, &command_calls(redis).await?))
        }
        None => None,
    };
    let before = match &load.redis {
        Some(redis) => Some(command_calls(redis).await?),
        None => None,
    };
    let deadline = tokio::time::Instant::now() + posting + Duration::from_secs(10);
    let events = load.events;
    let readers: Vec<_> = streams
        .into_iter()
        .map(|(stream, body)| tokio::spawn(read_stamps(stream, body, events, deadline)))
        .collect();
    let start = Instant::now();
    let mut clock = tokio::time::interval(Duration::from_secs_f64(1.0 / load.rate));
    for _ in 0..events {
        clock.tick().await;
        post(&load.addr, &now_nanos().to_string()).await?;
    }
    let posted = start.elapsed();
    let mut latencies = Vec::new();
    let mut last = start;
    for reader in readers {
        let (mut stamps, at) = reader.await??;
        latencies.append(&mut stamps);
        last = last.max(at);
    }
    let redis_per_event = match (&load.redis, idle, before) {
        (Some(redis), Some(idle), Some(before)) => {
            let during = calls_between(&before, &command_calls(redis).await?);
            // The idle calls, scaled to the time posting really took, are not the posts'.
            let scale = posted.as_secs_f64() / posting.as_secs_f64();
            let per_event: BTreeMap<String, f64> = during
                .into_iter()
                .map(|(name, calls)| {
                    let idle = idle.get(&name).copied().unwrap_or(0.0) * scale;
                    (name, (calls - idle) / events as f64)
                })
                // `info` is this measurement's own; rounding noise is nobody's.
                .filter(|(name, calls)| name != "info" && calls.abs() >= 0.05)
                .collect();
            Some(per_event)
        }
        _ => None,
    };
    let deliveries = latencies.len();
    let seconds = (last - start).as_secs_f64();
    let lost = (events * load.clients).saturating_sub(deliveries);
    Ok(LabFanOutResult {
        deliveries,
        seconds,
        deliveries_per_sec: deliveries as f64 / seconds,
        latency: LatencyResult::from_nanos(latencies, lost)?,
        redis_round_trips_per_event: redis_per_event.as_ref().map(|per_event| {
            per_event
                .iter()
                .filter(|(name, _)| !SCRIPTED.contains(&name.as_str()))
                .map(|(_, calls)| calls)
                .sum()
        }),
        redis_commands_per_event: redis_per_event,
    })
}
// ANCHOR_END: lab_fan_out

/// Posts one chat message on a connection of its own (the demo answers one request per
/// connection).
async fn post(addr: &str, text: &str) -> Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!(
        "POST /chat/send?name=bench HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    if !response.starts_with(b"HTTP/1.1 204") {
        return Err(format!("a post was answered {}", String::from_utf8_lossy(&response)).into());
    }
    Ok(())
}

/// Reads one client's stream until `events` stamped messages arrived or `deadline`; returns
/// their latencies (nanoseconds) and when the last arrived.
async fn read_stamps(
    mut stream: TcpStream,
    mut pending: Vec<u8>,
    events: usize,
    deadline: tokio::time::Instant,
) -> Result<(Vec<u64>, Instant)> {
    let mut stamps = Vec::with_capacity(events);
    let mut last = Instant::now();
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let now = now_nanos();
        let mut used = 0;
        while let Some(end) = pending[used..].iter().position(|&b| b == b'\n') {
            let line = &pending[used..used + end];
            stamps.extend(
                line.strip_prefix(b"data: ")
                    .and_then(|data| stamp(data, now)),
            );
            used += end + 1;
        }
        pending.drain(..used);
        if stamps.len() >= events {
            return Ok((stamps, last));
        }
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(n) => n?,
            Err(_) => return Ok((stamps, last)),
        };
        if n == 0 {
            return Ok((stamps, last));
        }
        last = Instant::now();
        pending.extend_from_slice(&buf[..n]);
    }
}

/// The latency of a chat message whose text is a stamp (the other chat events have none).
fn stamp(data: &[u8], now: u128) -> Option<u64> {
    let json: serde_json::Value = serde_json::from_slice(data).ok()?;
    let sent: u128 = json["text"].as_str()?.parse().ok()?;
    Some(now.saturating_sub(sent) as u64)
}

/// The commands Redis ran, by name, from `INFO commandstats`, asked over RESP by hand (one
/// command does not need a client crate). Commands a Lua script calls count under their own
/// names, as well as the script's `EVALSHA`.
async fn command_calls(addr: &str) -> Result<BTreeMap<String, u64>> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n")
        .await?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        // A bulk string: `$LEN\r\n`, LEN bytes, `\r\n`.
        if let Some(end) = reply.windows(2).position(|w| w == b"\r\n") {
            let len: usize = std::str::from_utf8(&reply[1..end])?.parse()?;
            if reply.len() >= end + 2 + len {
                let text = String::from_utf8_lossy(&reply[end + 2..end + 2 + len]);
                return Ok(text
                    .lines()
                    .filter_map(|line| {
                        let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                        let calls = stats.strip_prefix("calls=")?.split(',').next()?;
                        Some((name.to_owned(), calls.parse().ok()?))
                    })
                    .collect());
            }
        }
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .map_err(|_| "Redis did not answer INFO within 2 s")??;
        if n == 0 {
            return Err("Redis closed before answering INFO".into());
        }
        reply.extend_from_slice(&buf[..n]);
    }
}

/// The calls of each command from `before` to `after`.
fn calls_between(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(name, calls)| {
            let earlier = before.get(name).copied().unwrap_or(0);
            (name.clone(), calls.saturating_sub(earlier) as f64)
        })
        .collect()
}
