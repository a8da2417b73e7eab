//! Load under attack: well-behaved clients of both protocols on `wirelab demo` while hostile
//! peers run at the same time, and what each side got.
//!
//! The demo runs as a child process (`serve-demo`), so that its resident memory is its own.
//! Two classes of well-behaved clients, each checking by id that it lost and duplicated
//! nothing:
//!
//! - **event stream**: `sse::client::Client` (an `EventSource`) on `/ticker/sse`, whose events
//!   are numbered 1, 2, 3, ... by the demo's hub. An id that skips is a loss (a history-gap
//!   notice is one too), an id not above the last one a duplicate; a reconnection resumes
//!   with `Last-Event-ID`, as a browser's would. At the end each client waits for the last id
//!   any client saw, so that an event it never got counts as lost;
//! - **WebSocket**: a client of `/echo/ws` that sends a numbered text message every
//!   [`WS_PERIOD`] and checks that the echoes come back in order, once each; at the end it
//!   waits for what is still on its way, and every message sent without its echo is lost.
//!
//! The hostile peers, `attackers` of each class, each bounded by the run's end:
//!
//! - **slowloris**: a request head trickled a header line a second, never finished;
//! - **never-reader**: WebSocket messages of 60 KB sent to the echo as fast as it takes them,
//!   none of the echoes read;
//! - **unfinished message**: half of a 60 KB frame, then a byte every two seconds;
//! - **Ping flood**: Pings as fast as the server takes them, none of the Pongs read (these two
//!   set their own socket buffers small, so that the machine's TCP memory is mostly the
//!   demo's);
//! - **invalid UTF-8**: a text message that is not UTF-8, again on a new connection each
//!   second;
//! - **half-open**: a WebSocket peer that reads but never sends again, not even a Pong, as
//!   one whose network went away would.
//!
//! A sampler reads the demo's resident size (/proc/PID/status) and the kernel's TCP memory
//! (/proc/net/sockstat, the whole machine's: the clients' sockets too) every 250 ms. Every
//! connection goes to 127.0.0.1; every loop ends with the run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sse::client::{Client, ClientConfig, ClientEvent};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use websocket::Message;
use websocket::frame::{Frame, FrameHeader, OpCode};

use crate::load::{Result, Server, ws_connect};

/// How often a well-behaved WebSocket client sends a numbered message.
const WS_PERIOD: Duration = Duration::from_millis(500);

/// How long a well-behaved client waits at the end for what is still on its way.
const DRAIN: Duration = Duration::from_secs(5);

/// The payload of the never-reader's and the unfinished message's frames: under the demo's
/// 64 KiB message limit, so that only a deadline or the budget can stop them.
const BIG: usize = 60_000;

/// The parameters of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attack {
    /// Well-behaved event-stream clients.
    pub(crate) sse_clients: usize,
    /// Well-behaved WebSocket clients.
    pub(crate) ws_clients: usize,
    /// Hostile peers of each class.
    pub(crate) attackers: usize,
    /// How long the attack lasts once the clients are connected.
    pub(crate) duration: Duration,
}

/// What a class of well-behaved clients got.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct Delivery {
    /// Clients of the class.
    pub(crate) clients: usize,
    /// Messages received once, in order.
    pub(crate) delivered: u64,
    /// Messages that never arrived.
    pub(crate) lost: u64,
    /// Messages that arrived again.
    pub(crate) duplicated: u64,
    /// Connections that ended before the run did (the event-stream client reconnects by
    /// itself; the WebSocket client opens a new connection).
    pub(crate) reconnections: u64,
    /// Clients that could not connect at all.
    pub(crate) failed: u64,
}

/// How long the peers of one attacking class lasted, and how they were let go.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct Lasted {
    /// Connections the class opened.
    pub(crate) connections: usize,
    /// Of them, those the server ended before the run did.
    pub(crate) ended_by_server: usize,
    /// The median time those lasted, in seconds.
    pub(crate) median_s: f64,
    /// The longest, in seconds.
    pub(crate) max_s: f64,
    /// How the server ended them (`close 1013`, `HTTP 408`, `reset`, ...), with counts.
    pub(crate) outcomes: BTreeMap<String, usize>,
}

/// Bytes held, at the start, at the peak and after the run.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub(crate) struct Memory {
    /// The demo's resident size.
    pub(crate) rss: u64,
    /// The kernel's TCP buffers, the whole machine's (`mem` of `TCP:` in /proc/net/sockstat,
    /// in pages, times the page size): the clients' and attackers' sockets too.
    pub(crate) tcp: u64,
    /// The bytes waiting in the demo's own sockets' send queues: written by the demo, not yet
    /// acknowledged by the peer (`tx_queue` in /proc/net/tcp, for the sockets on its port).
    pub(crate) send_queues: u64,
    /// The bytes waiting in their receive queues: sent by the peers, not yet read by the demo
    /// (`rx_queue`).
    pub(crate) receive_queues: u64,
}

/// The whole measurement.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct AttackResult {
    /// Seconds of attack.
    pub(crate) seconds: f64,
    /// Per well-behaved class.
    pub(crate) clients: BTreeMap<&'static str, Delivery>,
    /// Per attacking class.
    pub(crate) attackers: BTreeMap<&'static str, Lasted>,
    /// Before any client connected.
    pub(crate) start: Memory,
    /// The highest reading of each during the run.
    pub(crate) peak: Memory,
    /// Once everything had closed and the demo had settled.
    pub(crate) after: Memory,
}

/// Files a process needs besides its sockets: the runtime's, the standard streams, and those
/// the sampler opens in /proc.
const SPARE_FILES: u64 = 64;

/// Checks that this process (and the demo it started, which inherits the limit) may open a
/// socket for every client and attacker, so that a run too large for the machine fails at
/// once with the figures, instead of counting its own `EMFILE`s as the demo's failures.
pub(crate) fn check_file_limit(attack: &Attack) -> Result<()> {
    let need = (attack.sse_clients + attack.ws_clients + Class::ALL.len() * attack.attackers)
        as u64
        + SPARE_FILES;
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let soft = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .ok_or("no \"Max open files\" in /proc/self/limits")?;
    if soft == "unlimited" {
        return Ok(());
    }
    let soft: u64 = soft.parse()?;
    if need > soft {
        return Err(format!(
            "{need} open files needed in this process and in the demo (a socket per client \
             and attacker, and {SPARE_FILES} more), but `ulimit -n` allows {soft}: raise it, \
             or run fewer clients (at most {} in all with these attackers)",
            soft.saturating_sub(need - (attack.sse_clients + attack.ws_clients) as u64)
        )
        .into());
    }
    Ok(())
}

/// Runs the attack against the demo at `server`.
pub(crate) async fn attack(server: &Server, attack: Attack) -> Result<AttackResult> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let port = server.addr.rsplit_once(':').ok_or("no port")?.1.parse()?;
    let start = read_memory(server.pid(), port)?;
    let baseline_files = server.open_files()?;
    let peak = Arc::new(Peak::default());
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn(sample(server.pid(), port, peak.clone(), sampling.clone()));

    // The well-behaved clients connect first, 128 at a time, then the attackers join them.
    let stop = Arc::new(AtomicBool::new(false));
    let last_id = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(Gate {
        connecting: Semaphore::new(128),
        ready: AtomicUsize::new(0),
    });
    let mut sse = JoinSet::new();
    for _ in 0..attack.sse_clients {
        let url = format!("http://{}/ticker/sse", server.addr);
        let (stop, last_id, gate) = (stop.clone(), last_id.clone(), gate.clone());
        sse.spawn(sse_client(url, stop, last_id, gate));
    }
    let mut ws = JoinSet::new();
    for _ in 0..attack.ws_clients {
        let (addr, stop, gate) = (server.addr.clone(), stop.clone(), gate.clone());
        ws.spawn(ws_client(addr, stop, gate));
    }
    let everyone = attack.sse_clients + attack.ws_clients;
    let connected = Instant::now();
    while gate.ready.load(Ordering::SeqCst) < everyone
        && connected.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let began = Instant::now();
    let deadline = began + attack.duration;
    let mut hostile = JoinSet::new();
    for class in Class::ALL {
        for _ in 0..attack.attackers {
            hostile.spawn(run_attacker(class, server.addr.clone(), deadline));
        }
    }
    tokio::time::sleep_until(deadline.into()).await;
    stop.store(true, Ordering::SeqCst);

    let mut clients = BTreeMap::new();
    clients.insert("event stream", collect(sse, attack.sse_clients).await);
    clients.insert("WebSocket", collect(ws, attack.ws_clients).await);
    let mut attackers: BTreeMap<&'static str, (Vec<f64>, Lasted)> = BTreeMap::new();
    while let Some(joined) = hostile.join_next().await {
        let Ok((class, runs)) = joined else { continue };
        let (times, lasted) = attackers.entry(class.name()).or_default();
        for run in runs {
            lasted.connections += 1;
            if let Some(outcome) = run.ended {
                lasted.ended_by_server += 1;
                times.push(run.lasted.as_secs_f64());
                *lasted.outcomes.entry(outcome).or_default() += 1;
            }
        }
    }
    let attackers = attackers
        .into_iter()
        .map(|(name, (mut times, mut lasted))| {
            times.sort_by(f64::total_cmp);
            lasted.median_s = times.get(times.len() / 2).copied().unwrap_or(0.0);
            lasted.max_s = times.last().copied().unwrap_or(0.0);
            (name, lasted)
        })
        .collect();

    let after = settled(server, port, baseline_files).await?;
    sampling.store(false, Ordering::SeqCst);
    drop(sampler.await);
    let peak = Memory {
        rss: server.rss()?.1.max(peak.rss.load(Ordering::Relaxed)),
        tcp: peak.tcp.load(Ordering::Relaxed),
        send_queues: peak.send_queues.load(Ordering::Relaxed),
        receive_queues: peak.receive_queues.load(Ordering::Relaxed),
    };
    Ok(AttackResult {
        seconds: attack.duration.as_secs_f64(),
        clients,
        attackers,
        start,
        peak,
        after,
    })
}

/// Paces the well-behaved clients' first connections (128 at a time) and counts those that
/// are connected.
struct Gate {
    connecting: Semaphore,
    ready: AtomicUsize,
}

impl Gate {
    /// Waits for a turn to connect.
    async fn enter(&self) -> Result<tokio::sync::SemaphorePermit<'_>> {
        Ok(self.connecting.acquire().await?)
    }

    /// One more client connected; its turn goes to the next.
    fn connected(&self, permit: &mut Option<tokio::sync::SemaphorePermit<'_>>) {
        if permit.take().is_some() {
            self.ready.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Sums the deliveries of one class of clients.
async fn collect(mut clients: JoinSet<Result<Delivery>>, count: usize) -> Delivery {
    let mut sum = Delivery {
        clients: count,
        ..Delivery::default()
    };
    while let Some(joined) = clients.join_next().await {
        match joined {
            Ok(Ok(one)) => {
                sum.delivered += one.delivered;
                sum.lost += one.lost;
                sum.duplicated += one.duplicated;
                sum.reconnections += one.reconnections;
            }
            _ => sum.failed += 1,
        }
    }
    sum
}

/// The highest readings so far.
#[derive(Debug, Default)]
struct Peak {
    rss: AtomicU64,
    tcp: AtomicU64,
    send_queues: AtomicU64,
    receive_queues: AtomicU64,
}

/// Reads the demo's memory every 250 ms until `sampling` is cleared.
async fn sample(pid: u32, port: u16, peak: Arc<Peak>, sampling: Arc<AtomicBool>) {
    while sampling.load(Ordering::SeqCst) {
        if let Ok(now) = read_memory(pid, port) {
            peak.rss.fetch_max(now.rss, Ordering::Relaxed);
            peak.tcp.fetch_max(now.tcp, Ordering::Relaxed);
            peak.send_queues
                .fetch_max(now.send_queues, Ordering::Relaxed);
            peak.receive_queues
                .fetch_max(now.receive_queues, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The memory of the demo (process `pid`, listening on `port`) now.
fn read_memory(pid: u32, port: u16) -> Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or("no VmRSS in /proc status")?
        .parse()?;
    // `TCP: inuse 5 orphan 0 tw 0 alloc 7 mem 3`: `mem` is in pages, of 4 KiB on the machines
    // this runs on (x86-64 and most arm64 Linux).
    let sockstat = std::fs::read_to_string("/proc/net/sockstat")?;
    let pages: u64 = sockstat
        .lines()
        .find_map(|line| line.strip_prefix("TCP:"))
        .and_then(|rest| {
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let at = fields.iter().position(|f| *f == "mem")?;
            fields.get(at + 1)?.parse().ok()
        })
        .ok_or("no TCP mem in /proc/net/sockstat")?;
    let (send_queues, receive_queues) = queued_on(port)?;
    Ok(Memory {
        rss: rss_kb * 1024,
        tcp: pages * 4096,
        send_queues,
        receive_queues,
    })
}

/// The bytes in the send and in the receive queues of the connections whose local port is
/// `port` (a listening socket's `rx_queue` counts connections, not bytes: it is left out).
fn queued_on(port: u16) -> Result<(u64, u64)> {
    let table = std::fs::read_to_string("/proc/net/tcp")?;
    let (mut sent, mut received) = (0, 0);
    // `sl local_address rem_address st tx_queue:rx_queue ...`, addresses and numbers in hex.
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(state), Some(queues)) =
            (fields.get(1), fields.get(3), fields.get(4))
        else {
            continue;
        };
        let on_port = local
            .rsplit_once(':')
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
            == Some(port);
        if !on_port || *state == "0A" {
            continue;
        }
        if let Some((tx, rx)) = queues.split_once(':') {
            sent += u64::from_str_radix(tx, 16)?;
            received += u64::from_str_radix(rx, 16)?;
        }
    }
    Ok((sent, received))
}

/// The memory once the demo has let every connection go: read every 500 ms until its open
/// files are back to `before`'s and two readings of its size agree, for at most 30 s (the
/// longest deadline of a connection whose peer is gone is the write deadline, 30 s).
async fn settled(server: &Server, port: u16, before: usize) -> Result<Memory> {
    let mut last = read_memory(server.pid(), port)?;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = read_memory(server.pid(), port)?;
        if now.rss == last.rss && server.open_files()? <= before {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

// ANCHOR: sse_client
/// One `EventSource` on the ticker until `stop`, then until it has the last id any client
/// saw (or [`DRAIN`] has passed). Ids are numbers, one more each event.
async fn sse_client(
    url: String,
    stop: Arc<AtomicBool>,
    last_id: Arc<AtomicU64>,
    gate: Arc<Gate>,
) -> Result<Delivery> {
    let mut permit = Some(gate.enter().await?);
    let mut client = Client::new(&url, ClientConfig::default())?;
    let mut got = Delivery::default();
    let mut last: Option<u64> = None;
    let mut draining: Option<Instant> = None;
    loop {
        if draining.is_none() && stop.load(Ordering::SeqCst) {
            draining = Some(Instant::now() + DRAIN);
        }
        let final_id = last_id.load(Ordering::SeqCst);
        if let Some(until) = draining
            && (last.is_some_and(|l| l >= final_id) || Instant::now() >= until)
        {
            // Whatever this client never got up to the last id anyone got is lost.
            got.lost += final_id.saturating_sub(last.unwrap_or(final_id));
            return Ok(got);
        }
        let event = match tokio::time::timeout(Duration::from_millis(250), client.next()).await {
            Ok(Some(event)) => event,
            Ok(None) => return Err("the event stream was closed for good".into()),
            Err(_) => continue,
        };
        match event {
            ClientEvent::Open => gate.connected(&mut permit),
            ClientEvent::Reconnecting { .. } => got.reconnections += 1,
            ClientEvent::Message(message) => {
                let Ok(id) = message.last_event_id.parse::<u64>() else {
                    continue;
                };
                match last {
                    Some(l) if id <= l => got.duplicated += 1,
                    Some(l) => {
                        got.lost += id - l - 1;
                        got.delivered += 1;
                    }
                    None => got.delivered += 1,
                }
                last = Some(last.map_or(id, |l| l.max(id)));
                if !stop.load(Ordering::SeqCst) {
                    last_id.fetch_max(id, Ordering::SeqCst);
                }
            }
            _ => {}
        }
    }
}
// ANCHOR_END: sse_client

/// One WebSocket client of the echo until `stop`: a numbered message every [`WS_PERIOD`],
/// each echo checked against the next number expected. A connection that ends loses what it
/// had not echoed, and the client opens another.
async fn ws_client(addr: String, stop: Arc<AtomicBool>, gate: Arc<Gate>) -> Result<Delivery> {
    let url = format!("ws://{addr}/echo/ws");
    let mut got = Delivery::default();
    let mut permit = Some(gate.enter().await?);
    let mut next = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let Ok((ws, _)) = websocket::io::connect(&url).await else {
            got.reconnections += 1;
            tokio::time::sleep(WS_PERIOD).await;
            continue;
        };
        gate.connected(&mut permit);
        let (mut receiver, mut sender) = ws.split();
        let mut clock = tokio::time::interval(WS_PERIOD);
        // Numbers sent on this connection and not yet echoed: `expected..next`.
        let mut expected = next;
        let mut drain_until = None;
        let ended = loop {
            if drain_until.is_none() && stop.load(Ordering::SeqCst) {
                drain_until = Some(tokio::time::Instant::now() + DRAIN);
            }
            if drain_until.is_some() && expected == next {
                let _ = sender.close(1000, "done").await;
                break false;
            }
            let sending = drain_until.is_none();
            tokio::select! {
                _ = clock.tick(), if sending => {
                    if sender.send(Message::Text(format!("m{next}"))).await.is_err() {
                        break true;
                    }
                    next += 1;
                }
                () = tokio::time::sleep_until(drain_until.unwrap_or_else(tokio::time::Instant::now)), if !sending => break false,
                message = receiver.recv() => match message {
                    Ok(Some(Message::Text(text))) => {
                        match text.strip_prefix('m').and_then(|n| n.parse::<u64>().ok()) {
                            Some(n) if n == expected => {
                                got.delivered += 1;
                                expected += 1;
                            }
                            Some(n) if n < expected => got.duplicated += 1,
                            Some(n) if n < next => {
                                got.lost += n - expected;
                                got.delivered += 1;
                                expected = n + 1;
                            }
                            _ => return Err(format!("an echo never sent: {text:?}").into()),
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break true,
                },
            }
        };
        got.lost += next - expected;
        if ended {
            got.reconnections += 1;
        }
    }
    Ok(got)
}

/// The hostile classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Slowloris,
    NeverReader,
    Unfinished,
    PingFlood,
    InvalidUtf8,
    HalfOpen,
}

impl Class {
    const ALL: [Class; 6] = [
        Class::Slowloris,
        Class::NeverReader,
        Class::Unfinished,
        Class::PingFlood,
        Class::InvalidUtf8,
        Class::HalfOpen,
    ];

    fn name(self) -> &'static str {
        match self {
            Class::Slowloris => "slowloris",
            Class::NeverReader => "never-reader",
            Class::Unfinished => "unfinished message",
            Class::PingFlood => "Ping flood",
            Class::InvalidUtf8 => "invalid UTF-8",
            Class::HalfOpen => "half-open",
        }
    }
}

/// One connection of an attacker: how long it lasted, and how the server ended it (`None`:
/// it was still open when the run ended).
struct Run {
    lasted: Duration,
    ended: Option<String>,
}

/// Runs one attacker of `class` until `deadline`: one connection, or, for invalid UTF-8, a
/// new one every second.
async fn run_attacker(class: Class, addr: String, deadline: Instant) -> (Class, Vec<Run>) {
    // Spread the attackers' starts over the first second.
    let offset = Duration::from_millis(u64::from(rand_u32() % 1000));
    tokio::time::sleep(offset).await;
    let mut runs = Vec::new();
    loop {
        let opened = Instant::now();
        let left = deadline.saturating_duration_since(opened);
        let ended = match tokio::time::timeout(left, one_attack(class, &addr)).await {
            Ok(Ok(outcome)) => Some(outcome),
            Ok(Err(e)) => Some(format!("refused: {e}")),
            Err(_) => None,
        };
        runs.push(Run {
            lasted: opened.elapsed(),
            ended,
        });
        let again =
            class == Class::InvalidUtf8 && Instant::now() + Duration::from_secs(1) < deadline;
        if !again {
            return (class, runs);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One connection of an attack, until the server ends it. Returns how it ended.
async fn one_attack(class: Class, addr: &str) -> Result<String> {
    match class {
        Class::Slowloris => {
            let stream = TcpStream::connect(addr).await?;
            let (mut read, mut write) = stream.into_split();
            let trickle = async move {
                write
                    .write_all(format!("GET /ticker/sse HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
                    .await?;
                for i in 0u32.. {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    write.write_all(format!("X-{i}: a\r\n").as_bytes()).await?;
                }
                Ok::<_, std::io::Error>(())
            };
            tokio::select! {
                outcome = read_to_end(&mut read) => Ok(outcome),
                Err(e) = trickle => Ok(io_outcome(&e)),
            }
        }
        Class::NeverReader | Class::PingFlood => {
            let mut stream = ws_small_buffer(addr).await?;
            let mut out = Vec::new();
            let mut key = 0u32;
            // Bounded in count too: far more than the socket buffers and the server's queue
            // take before the server stops reading.
            for _ in 0..100_000 {
                out.clear();
                key = key.wrapping_add(0x9e37_79b9);
                let frame = if class == Class::PingFlood {
                    Frame::new(OpCode::Ping, vec![b'p'; 125])
                } else {
                    Frame::new(OpCode::Binary, vec![b'x'; BIG])
                };
                frame.masked(key.to_le_bytes()).encode(&mut out);
                if let Err(e) = stream.write_all(&out).await {
                    return Ok(io_outcome(&e));
                }
            }
            Ok("sent everything".into())
        }
        Class::Unfinished => {
            let stream = ws_connect(addr, "/echo/ws").await?.0;
            let (mut read, mut write) = stream.into_split();
            let mut out = Vec::new();
            Frame::new(OpCode::Binary, vec![b'u'; BIG])
                .masked([1, 2, 3, 4])
                .encode(&mut out);
            let trickle = async move {
                let half = out.len() / 2;
                write.write_all(&out[..half]).await?;
                for byte in &out[half..] {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    write.write_all(std::slice::from_ref(byte)).await?;
                }
                Ok::<_, std::io::Error>(())
            };
            tokio::select! {
                outcome = read_to_end(&mut read) => Ok(outcome),
                Err(e) = trickle => Ok(io_outcome(&e)),
            }
        }
        Class::InvalidUtf8 => {
            let mut stream = ws_connect(addr, "/echo/ws").await?.0;
            let mut out = Vec::new();
            Frame::new(OpCode::Text, vec![b'a', 0xff, 0xfe])
                .masked([5, 6, 7, 8])
                .encode(&mut out);
            stream.write_all(&out).await?;
            Ok(read_to_end(&mut stream).await)
        }
        Class::HalfOpen => {
            let mut stream = ws_connect(addr, "/echo/ws").await?.0;
            Ok(read_to_end(&mut stream).await)
        }
    }
}

/// A WebSocket connection to the echo whose socket buffers are 4 KiB each way, so that the
/// machine's TCP memory the attack takes is mostly the demo's: what the attacker's own
/// socket would hold is not a cost of the server.
async fn ws_small_buffer(addr: &str) -> Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    socket.set_send_buffer_size(4096)?;
    let stream = socket.connect(addr.parse()?).await?;
    Ok(crate::load::ws_over(stream, addr, "/echo/ws").await?.0)
}

/// Reads until the server ends the connection; says how: the status of an HTTP answer, the
/// code of a WebSocket Close, or the end of TCP alone.
async fn read_to_end<R: tokio::io::AsyncRead + Unpin>(read: &mut R) -> String {
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let ending = loop {
        match read.read(&mut buf).await {
            Ok(0) => break None,
            Ok(n) => {
                // Only the beginning says how it ended: a status line, or the frames up to
                // a Close; the Pings of a keep-alive before it are small.
                if seen.len() < 64 * 1024 {
                    seen.extend_from_slice(&buf[..n]);
                }
            }
            Err(e) => break Some(io_outcome(&e)),
        }
    };
    if let Some(status) = seen.strip_prefix(b"HTTP/1.1 ") {
        return format!(
            "HTTP {}",
            String::from_utf8_lossy(&status[..3.min(status.len())])
        );
    }
    let mut at = 0;
    while let Ok(Some((header, len))) = FrameHeader::parse(&seen[at..]) {
        let Ok(payload_len) = usize::try_from(header.payload_len) else {
            break;
        };
        let body = seen.get(at + len..at + len + payload_len);
        if header.opcode == OpCode::Close {
            return match body.and_then(|b| b.get(..2)) {
                Some(code) => format!("close {}", u16::from_be_bytes([code[0], code[1]])),
                None => "close".into(),
            };
        }
        at += len + payload_len;
        if at >= seen.len() {
            break;
        }
    }
    ending.unwrap_or_else(|| "end of TCP".into())
}

/// How a failed read or write says the server ended the connection.
fn io_outcome(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::ConnectionReset => "reset".into(),
        std::io::ErrorKind::BrokenPipe => "broken pipe".into(),
        kind => format!("{kind}"),
    }
}

/// A pseudo-random number for spreading start times (not for anything secret).
fn rand_u32() -> u32 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    hasher.finish() as u32
}

/// The result as the book's tables (Markdown): the clients, the attackers, the memory.
pub(crate) fn table(result: &AttackResult) -> String {
    use std::fmt::Write as _;
    let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| clients | count | delivered | lost | duplicated | reconnections | failed |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for (name, d) in &result.clients {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {} |",
            d.clients, d.delivered, d.lost, d.duplicated, d.reconnections, d.failed
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| attacker | connections | ended by the server | median | longest | how |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for (name, l) in &result.attackers {
        let how: Vec<String> = l
            .outcomes
            .iter()
            .map(|(o, n)| format!("{o} ({n})"))
            .collect();
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {:.1} s | {:.1} s | {} |",
            l.connections,
            l.ended_by_server,
            l.median_s,
            l.max_s,
            how.join(", ")
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "| memory | start | peak | after |");
    let _ = writeln!(out, "|---|---|---|---|");
    let _ = writeln!(
        out,
        "| demo RSS | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
        mib(result.start.rss),
        mib(result.peak.rss),
        mib(result.after.rss)
    );
    let _ = write!(
        out,
        "| kernel TCP memory (machine) | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
        mib(result.start.tcp),
        mib(result.peak.tcp),
        mib(result.after.tcp)
    );
    let _ = write!(
        out,
        "\n| the demo's send queues | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
        mib(result.start.send_queues),
        mib(result.peak.send_queues),
        mib(result.after.send_queues)
    );
    let _ = write!(
        out,
        "\n| the demo's receive queues | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
        mib(result.start.receive_queues),
        mib(result.peak.receive_queues),
        mib(result.after.receive_queues)
    );
    out
}
