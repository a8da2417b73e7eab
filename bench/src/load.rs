//! The load side: echo round trips, SSE fan-out and idle connections, against a server
//! started as a child process, so that its CPU time and memory can be read from /proc.
//!
//! The client is the same for every server: a minimal WebSocket client over WireLab's
//! sans-I/O frame codec (it masks with a fresh key per frame, as RFC 6455 §5.3 asks), and a
//! raw HTTP/1.1 reader that counts SSE events by their blank line. The same counters read
//! over TLS and over HTTP/2 streams (`http2`), whose clients open their connections and hand
//! them to the `_with` and `_over` forms here. Every loop is bounded in time and in count, and
//! every connection goes to 127.0.0.1.

use std::future::Future;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{
    AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader,
};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;
use websocket::frame::{Frame, FrameHeader, OpCode};

/// A result, or an error that ends the measurement with a message.
pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A server started as a child process of this one.
pub(crate) struct Server {
    child: Child,
    /// Where it listens.
    pub(crate) addr: String,
    pid: u32,
}

impl Server {
    /// Starts `wirelab-bench ARGS` (this same binary) and waits for its `listening` line.
    pub(crate) async fn start(args: &[String]) -> Result<Server> {
        Server::start_program(&std::env::current_exe()?, args).await
    }

    /// Starts `program ARGS`, any server that prints `listening ADDR` first (the Python peer).
    pub(crate) async fn start_program(
        program: &std::path::Path,
        args: &[String],
    ) -> Result<Server> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().ok_or("the server exited at once")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(10),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await??;
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .ok_or_else(|| format!("unexpected server output {line:?}"))?
            .to_owned();
        Ok(Server { child, addr, pid })
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// CPU time (user + system) the server has used so far.
    pub(crate) fn cpu(&self) -> Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let rest = stat.rsplit_once(')').ok_or("odd /proc stat")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after ')'.
        let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
        Ok(Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64))
    }

    /// File descriptors the server has open (its sockets among them), from /proc/PID/fd.
    pub(crate) fn open_files(&self) -> Result<usize> {
        Ok(std::fs::read_dir(format!("/proc/{}/fd", self.pid))?.count())
    }

    /// (current RSS, peak RSS) in bytes, from /proc/PID/status.
    pub(crate) fn rss(&self) -> Result<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let field = |name: &str| -> Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .ok_or_else(|| format!("no {name} in /proc status"))?;
            let kb: u64 = line
                .split_whitespace()
                .nth(1)
                .ok_or("odd /proc status")?
                .parse()?;
            Ok(kb * 1024)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// Stops the server: closing its standard input is its signal to exit.
    pub(crate) async fn stop(mut self) {
        drop(self.child.stdin.take());
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Clock ticks per second for /proc times: `getconf CLK_TCK`, 100 on Linux in practice.
fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// Opens a WebSocket connection to `path` with WireLab's sans-I/O client handshake; returns
/// the bytes that came after the `101` too (frames the server sent at once).
pub(crate) async fn ws_connect(addr: &str, path: &str) -> Result<(TcpStream, Vec<u8>)> {
    ws_over(tcp(addr).await?, addr, path).await
}

/// A TCP connection to `addr`, without Nagle's delay.
pub(crate) async fn tcp(addr: &str) -> Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// [`ws_connect`]'s handshake for `path` over a connection already open to `addr` (TCP, or
/// TLS).
pub(crate) async fn ws_over<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    addr: &str,
    path: &str,
) -> Result<(S, Vec<u8>)> {
    let config = websocket::Limits::default();
    let (mut handshake, request) =
        websocket::handshake::ClientHandshake::new(addr, path, &[], &config)?;
    stream.write_all(&request).await?;
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err("the server closed during the handshake".into());
        }
        if let Some((response, _, leftover)) = handshake.receive(&buf[..n])? {
            if response.status != 101 {
                return Err(format!("handshake answered {}", response.status).into());
            }
            return Ok((stream, leftover.to_vec()));
        }
    }
}

/// Opens an SSE connection: `GET path`, and reads the response head.
pub(crate) async fn sse_connect(addr: &str, path: &str) -> Result<(TcpStream, Vec<u8>)> {
    sse_over(tcp(addr).await?, addr, path).await
}

/// [`sse_connect`]'s request for `path` over a connection already open to `addr` (TCP, or
/// TLS).
pub(crate) async fn sse_over<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    addr: &str,
    path: &str,
) -> Result<(S, Vec<u8>)> {
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err("the server closed before its response head".into());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            if !head.starts_with(b"HTTP/1.1 200") {
                return Err("the SSE server did not answer 200".into());
            }
            // Whatever followed the head is already body.
            let body = head.split_off(end + 4);
            return Ok((stream, body));
        }
    }
}

/// Echo load: the parameters.
#[derive(Debug, Clone)]
pub(crate) struct EchoLoad {
    /// Concurrent connections.
    pub(crate) connections: usize,
    /// Payload bytes per message (at least 8: the send time travels in the payload).
    pub(crate) size: usize,
    /// Messages in flight per connection: 1 is request-response, more is pipelined.
    pub(crate) window: usize,
    /// How long to send.
    pub(crate) duration: Duration,
    /// Stop sending after this many messages in all, even before `duration`.
    pub(crate) max_messages: u64,
}

/// Echo load: what was measured.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct EchoResult {
    /// Round trips completed.
    pub(crate) messages: u64,
    /// From the first send to the last echo.
    pub(crate) seconds: f64,
    /// Round trips per second.
    pub(crate) msgs_per_sec: f64,
    /// Round-trip time percentiles, microseconds.
    pub(crate) p50_us: f64,
    /// 99th percentile.
    pub(crate) p99_us: f64,
    /// 99.9th percentile.
    pub(crate) p999_us: f64,
    /// Server CPU time per round trip, microseconds.
    pub(crate) server_cpu_us_per_msg: f64,
}

/// Runs echo load against the server at `server`.
pub(crate) async fn echo(server: &Server, load: EchoLoad) -> Result<EchoResult> {
    // All connections first, then the clock starts.
    let mut halves = Vec::with_capacity(load.connections);
    for _ in 0..load.connections {
        let (stream, leftover) = ws_connect(&server.addr, "/").await?;
        if !leftover.is_empty() {
            return Err("an echo server sent frames before it was asked".into());
        }
        halves.push(stream.into_split());
    }
    echo_over(server, load, halves).await
}

/// Runs echo load over WebSockets already open to `server`, each as its reading and writing
/// halves (of a TCP socket, or of any stream: a TLS connection, an HTTP/2 stream).
pub(crate) async fn echo_over<R, W>(
    server: &Server,
    load: EchoLoad,
    halves: Vec<(R, W)>,
) -> Result<EchoResult>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let size = load.size.max(8);
    let cpu_before = server.cpu()?;
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let budget = Arc::new(AtomicU64::new(load.max_messages));
    let mut tasks = Vec::new();
    for (read, write) in halves {
        let (stop, budget) = (stop.clone(), budget.clone());
        tasks.push(tokio::spawn(echo_connection(
            read,
            write,
            size,
            load.window,
            start,
            stop,
            budget,
        )));
    }
    tokio::time::sleep(load.duration).await;
    stop.store(true, Ordering::SeqCst);
    let mut rtts = Vec::new();
    let mut last_echo = start;
    for task in tasks {
        let (mut connection_rtts, last) = task.await??;
        rtts.append(&mut connection_rtts);
        last_echo = last_echo.max(last);
    }
    let cpu = server.cpu()? - cpu_before;
    let seconds = (last_echo - start).as_secs_f64();
    rtts.sort_unstable();
    let messages = rtts.len() as u64;
    if messages == 0 {
        return Err("no echo came back".into());
    }
    let pct = |p: f64| rtts[((rtts.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
    Ok(EchoResult {
        messages,
        seconds,
        msgs_per_sec: messages as f64 / seconds,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        p999_us: pct(0.999),
        server_cpu_us_per_msg: cpu.as_secs_f64() * 1e6 / messages as f64,
    })
}

/// One connection's echo loop: a writer that keeps `window` messages in flight and a reader
/// that takes the echoes, each carrying its send time. Returns the round-trip times
/// (nanoseconds) and when the last echo arrived.
async fn echo_connection<R, W>(
    mut read: R,
    mut write: W,
    size: usize,
    window: usize,
    start: Instant,
    stop: Arc<AtomicBool>,
    budget: Arc<AtomicU64>,
) -> Result<(Vec<u64>, Instant)>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(window));
    let sent = Arc::new(AtomicU64::new(0));
    let writer = {
        let (permits, sent) = (permits.clone(), sent.clone());
        tokio::spawn(async move {
            let mut key_state = 0x9e37_79b9_7f4a_7c15u64 ^ (size as u64);
            let mut out = Vec::with_capacity(size + 14);
            let mut payload = vec![0x61u8; size];
            while !stop.load(Ordering::Relaxed) {
                let permit = permits.acquire().await?;
                permit.forget();
                if stop.load(Ordering::Relaxed)
                    || budget
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
                        .is_err()
                {
                    break;
                }
                let sent_at = start.elapsed().as_nanos() as u64;
                payload[..8].copy_from_slice(&sent_at.to_le_bytes());
                // xorshift: a different masking key for every frame.
                key_state ^= key_state << 13;
                key_state ^= key_state >> 7;
                key_state ^= key_state << 17;
                let key = (key_state as u32).to_le_bytes();
                out.clear();
                Frame::new(OpCode::Binary, payload.clone())
                    .masked(key)
                    .encode(&mut out);
                write.write_all(&out).await?;
                sent.fetch_add(1, Ordering::SeqCst);
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(write)
        })
    };
    let mut rtts = Vec::new();
    let mut last = start;
    let mut buf: Vec<u8> = Vec::with_capacity(64 << 10);
    let mut chunk = vec![0u8; 64 << 10];
    let mut received = 0u64;
    loop {
        // Done when the writer has stopped and every message it sent came back.
        if writer.is_finished() && received >= sent.load(Ordering::SeqCst) {
            break;
        }
        let read_more = tokio::time::timeout(Duration::from_millis(50), read.read(&mut chunk));
        let n = match read_more.await {
            Ok(n) => n?,
            Err(_) if start.elapsed() > Duration::from_secs(120) => {
                return Err("echoes stopped coming back".into());
            }
            Err(_) => continue,
        };
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut used = 0;
        while let Some((header, header_len)) = FrameHeader::parse(&buf[used..])? {
            let len = header.payload_len as usize;
            if buf.len() - used < header_len + len {
                break;
            }
            let payload = &buf[used + header_len..used + header_len + len];
            let now = Instant::now();
            let sent_at = u64::from_le_bytes(payload[..8].try_into()?);
            rtts.push((now - start).as_nanos() as u64 - sent_at);
            last = now;
            used += header_len + len;
            received += 1;
            permits.add_permits(1);
        }
        buf.drain(..used);
    }
    let mut write = writer.await??;
    // A clean goodbye: a Close frame, then the TCP FIN.
    let mut out = Vec::new();
    Frame::new(OpCode::Close, 1000u16.to_be_bytes().to_vec())
        .masked([1, 2, 3, 4])
        .encode(&mut out);
    let _ = write.write_all(&out).await;
    let _ = write.shutdown().await;
    Ok((rtts, last))
}

/// Which protocol a fan-out's clients speak.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FanOutKind {
    /// `GET /events`; an event is counted at its blank line.
    Sse,
    /// A WebSocket; a message is counted at the header of its final frame.
    WebSocket,
}

/// SSE or WebSocket fan-out: what was measured.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct FanOutResult {
    /// Connected clients.
    pub(crate) clients: usize,
    /// Events each client received.
    pub(crate) events_per_client: usize,
    /// From the last client's response head to the last event at the last client.
    pub(crate) seconds: f64,
    /// Events delivered per second, all clients together.
    pub(crate) events_per_sec: f64,
    /// Server CPU time per delivered event, microseconds.
    pub(crate) server_cpu_us_per_event: f64,
}

/// Connects `clients` subscribers (the server publishes `events` events once the last one is
/// in) and waits until each has received them all.
pub(crate) async fn fan_out(
    server: &Server,
    kind: FanOutKind,
    clients: usize,
    events: usize,
) -> Result<FanOutResult> {
    let addr = server.addr.clone();
    let open: Open<(Source, Vec<u8>)> = Arc::new(move |_| {
        let addr = addr.clone();
        Box::pin(async move {
            let (stream, body) = match kind {
                FanOutKind::Sse => sse_connect(&addr, "/events").await?,
                FanOutKind::WebSocket => ws_connect(&addr, "/").await?,
            };
            Ok((Source::Bytes(Box::new(stream)), body))
        })
    });
    fan_out_with(server, kind, clients, events, open).await
}

/// A way to open the `n`th client's connection, stream or WebSocket.
pub(crate) type Open<T> =
    Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = Result<T>> + Send>> + Send + Sync>;

/// Any byte stream a client may read: TCP, TLS, an HTTP/2 stream.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// What a fan-out client reads its events or messages from.
pub(crate) enum Source {
    /// A connection's bytes, after the response head or the `101` (HTTP/1.1).
    Bytes(Box<dyn Stream>),
    /// An HTTP/2 response body: the DATA frames of one stream.
    Body(hyper::body::Incoming),
}

impl Source {
    /// Reads what comes next into `counter`; `None` at the end.
    async fn count(&mut self, buf: &mut [u8], counter: &mut Counter) -> Result<Option<usize>> {
        match self {
            Source::Bytes(stream) => match stream.read(buf).await? {
                0 => Ok(None),
                n => counter.feed(&buf[..n]).map(Some),
            },
            Source::Body(body) => loop {
                use http_body_util::BodyExt as _;
                let Some(frame) = body.frame().await else {
                    return Ok(None);
                };
                // Trailers count nothing; HTTP/2 sends none here.
                if let Ok(data) = frame?.into_data() {
                    return counter.feed(&data).map(Some);
                }
            },
        }
    }
}

/// [`fan_out`] with the clients' connections opened by `open`.
pub(crate) async fn fan_out_with(
    server: &Server,
    kind: FanOutKind,
    clients: usize,
    events: usize,
    open: Open<(Source, Vec<u8>)>,
) -> Result<FanOutResult> {
    let connecting = Arc::new(Semaphore::new(256));
    let mut tasks = Vec::with_capacity(clients);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    for n in 0..clients {
        let open = open.clone();
        let connecting = connecting.clone();
        let ready = ready_tx.clone();
        tasks.push(tokio::spawn(async move {
            let permit = connecting.acquire_owned().await?;
            let (mut source, body) = open(n).await?;
            let mut counter = match kind {
                FanOutKind::Sse => Counter::Events(EventCounter::default()),
                FanOutKind::WebSocket => Counter::Frames(FrameCounter::default()),
            };
            drop(permit);
            let _ = ready.send(Instant::now());
            let mut got = counter.feed(&body)?;
            let mut buf = vec![0u8; 16 << 10];
            while got < events {
                match source.count(&mut buf, &mut counter).await? {
                    Some(n) => got += n,
                    None => return Err("the server ended the stream early".into()),
                }
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Instant::now())
        }));
    }
    drop(ready_tx);
    let mut start = None;
    let deadline = Duration::from_secs(120);
    let mut all_done = Instant::now();
    let mut connected = 0;
    let mut cpu_before = server.cpu()?;
    while let Some(at) = tokio::time::timeout(deadline, ready_rx.recv()).await? {
        connected += 1;
        start = Some(start.map_or(at, |s: Instant| s.max(at)));
        if connected == clients {
            // Publishing starts now: accepting the connections is not fan-out work.
            cpu_before = server.cpu()?;
        }
    }
    for task in tasks {
        let done = tokio::time::timeout(deadline, task).await???;
        all_done = all_done.max(done);
    }
    let start = start.ok_or("no client connected")?;
    let cpu = server.cpu()? - cpu_before;
    let delivered = (clients * events) as f64;
    let seconds = (all_done - start).as_secs_f64();
    debug_assert_eq!(connected, clients);
    Ok(FanOutResult {
        clients,
        events_per_client: events,
        seconds,
        events_per_sec: delivered / seconds,
        server_cpu_us_per_event: cpu.as_secs_f64() * 1e6 / delivered,
    })
}

/// Delivery latency or round trips: what was measured.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct LatencyResult {
    /// Messages measured.
    pub(crate) messages: usize,
    /// Messages sent but not received (push latency) before the deadline.
    pub(crate) lost: usize,
    /// Percentiles, microseconds.
    pub(crate) p50_us: f64,
    /// 99th percentile.
    pub(crate) p99_us: f64,
    /// 99.9th percentile.
    pub(crate) p999_us: f64,
    /// The largest.
    pub(crate) max_us: f64,
}

impl LatencyResult {
    pub(crate) fn from_nanos(mut nanos: Vec<u64>, lost: usize) -> Result<LatencyResult> {
        if nanos.is_empty() {
            return Err("no message arrived".into());
        }
        nanos.sort_unstable();
        let pct = |p: f64| nanos[((nanos.len() - 1) as f64 * p).round() as usize] as f64 / 1e3;
        Ok(LatencyResult {
            messages: nanos.len(),
            lost,
            p50_us: pct(0.50),
            p99_us: pct(0.99),
            p999_us: pct(0.999),
            max_us: pct(1.0),
        })
    }
}

/// Server-to-client delivery latency: one client subscribes, the server publishes `events`
/// messages at its configured rate, each stamped with the wall-clock time it was published,
/// and the client subtracts that from its own clock when the message arrives.
pub(crate) async fn push_latency(
    server: &Server,
    kind: FanOutKind,
    events: usize,
    deadline: Duration,
) -> Result<LatencyResult> {
    let (mut stream, first) = match kind {
        FanOutKind::Sse => sse_connect(&server.addr, "/events").await?,
        FanOutKind::WebSocket => ws_connect(&server.addr, "/").await?,
    };
    let mut latencies = Vec::with_capacity(events);
    let mut pending = first;
    let mut buf = vec![0u8; 64 << 10];
    let give_up = Instant::now() + deadline;
    loop {
        let now = now_nanos();
        let used = match kind {
            FanOutKind::Sse => take_sse_stamps(&pending, now, &mut latencies),
            FanOutKind::WebSocket => take_ws_stamps(&pending, now, &mut latencies)?,
        };
        pending.drain(..used);
        if latencies.len() >= events {
            break;
        }
        let n = match tokio::time::timeout_at(give_up.into(), stream.read(&mut buf)).await {
            Ok(n) => n?,
            Err(_) => break,
        };
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&buf[..n]);
    }
    let lost = events.saturating_sub(latencies.len());
    LatencyResult::from_nanos(latencies, lost)
}

/// The wall-clock time in nanoseconds since the Unix epoch (see `servers::stamp`).
pub(crate) fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

/// The latency of a stamp that arrived at `now`: a stamp from the future (the clocks are one
/// clock, so only a stepped clock does that) counts as 0.
fn latency(stamp: &[u8], now: u128) -> Option<u64> {
    let sent: u128 = std::str::from_utf8(stamp).ok()?.trim().parse().ok()?;
    Some(now.saturating_sub(sent) as u64)
}

/// Takes the stamps of the complete `data:` lines in `bytes` (an event-stream body, chunk
/// framing included: chunk-size lines are not `data:` lines); returns the bytes used.
fn take_sse_stamps(bytes: &[u8], now: u128, out: &mut Vec<u64>) -> usize {
    let mut used = 0;
    while let Some(end) = bytes[used..].iter().position(|&b| b == b'\n') {
        let line = &bytes[used..used + end];
        if let Some(stamp) = line.strip_prefix(b"data: ") {
            out.extend(latency(stamp, now));
        }
        used += end + 1;
    }
    used
}

/// Takes the stamps of the complete frames in `bytes` (each Text frame's payload is one);
/// returns the bytes used.
fn take_ws_stamps(bytes: &[u8], now: u128, out: &mut Vec<u64>) -> Result<usize> {
    let mut used = 0;
    while let Some((header, header_len)) = FrameHeader::parse(&bytes[used..])? {
        let len = header.payload_len as usize;
        if bytes.len() - used < header_len + len {
            break;
        }
        if header.opcode == OpCode::Text {
            out.extend(latency(
                &bytes[used + header_len..used + header_len + len],
                now,
            ));
        }
        used += header_len + len;
    }
    Ok(used)
}

/// How a client sends a message up and sees it come back (a chat's round trip).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpWay {
    /// A masked frame on the WebSocket, echoed by the server as a frame.
    WebSocket,
    /// An HTTP POST on a kept-alive connection; the message comes back on the event stream.
    Post,
    /// An HTTP POST on a new connection each time (`Connection: close`), as a client without
    /// keep-alive sends it; it comes back on the event stream.
    PostNewConnection,
}

/// Round trips, one message at a time: the time from sending a 20-byte message up to its
/// arrival back down, `messages` times.
pub(crate) async fn round_trips(
    server: &Server,
    way: UpWay,
    messages: usize,
) -> Result<LatencyResult> {
    let body = "a".repeat(20);
    let mut rtts = Vec::with_capacity(messages);
    let mut buf = vec![0u8; 16 << 10];
    let step = Duration::from_secs(10);
    if way == UpWay::WebSocket {
        let (mut stream, _) = ws_connect(&server.addr, "/").await?;
        let mut frame = Vec::new();
        for k in 0..messages {
            frame.clear();
            Frame::new(OpCode::Text, body.clone().into_bytes())
                .masked((k as u32).to_le_bytes())
                .encode(&mut frame);
            let start = Instant::now();
            stream.write_all(&frame).await?;
            let mut got = Vec::new();
            while !matches!(FrameHeader::parse(&got)?, Some((h, n)) if got.len() >= n + h.payload_len as usize)
            {
                let n = tokio::time::timeout(step, stream.read(&mut buf)).await??;
                if n == 0 {
                    return Err("the echo server closed".into());
                }
                got.extend_from_slice(&buf[..n]);
            }
            rtts.push(start.elapsed().as_nanos() as u64);
        }
        return LatencyResult::from_nanos(rtts, 0);
    }
    let (mut events, _) = sse_connect(&server.addr, "/events").await?;
    let mut post = None;
    let mut counter = EventCounter::default();
    for _ in 0..messages {
        let start = Instant::now();
        let mut connection = match post.take() {
            Some(connection) => connection,
            None => {
                let connection = TcpStream::connect(&server.addr).await?;
                connection.set_nodelay(true)?;
                connection
            }
        };
        let close = if way == UpWay::PostNewConnection {
            "Connection: close\r\n"
        } else {
            ""
        };
        let request = format!(
            "POST /publish HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain\r\n{close}Content-Length: {}\r\n\r\n{body}",
            server.addr,
            body.len()
        );
        connection.write_all(request.as_bytes()).await?;
        // The message is back when its event arrives; the POST's answer is read after, as
        // a client must before it reuses the connection.
        let mut got = 0;
        while got == 0 {
            let n = tokio::time::timeout(step, events.read(&mut buf)).await??;
            if n == 0 {
                return Err("the event stream ended".into());
            }
            got += counter.feed(&buf[..n]);
        }
        rtts.push(start.elapsed().as_nanos() as u64);
        let mut head = Vec::new();
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tokio::time::timeout(step, connection.read(&mut buf)).await??;
            if n == 0 {
                return Err("the POST connection closed before its answer".into());
            }
            head.extend_from_slice(&buf[..n]);
        }
        if !head.starts_with(b"HTTP/1.1 204") {
            return Err("the POST was not answered 204".into());
        }
        if way == UpWay::Post {
            post = Some(connection);
        }
    }
    LatencyResult::from_nanos(rtts, 0)
}

/// Counts what a fan-out client receives, in the units its protocol delivers.
enum Counter {
    Events(EventCounter),
    Frames(FrameCounter),
}

impl Counter {
    fn feed(&mut self, bytes: &[u8]) -> Result<usize> {
        match self {
            Counter::Events(counter) => Ok(counter.feed(bytes)),
            Counter::Frames(counter) => counter.feed(bytes),
        }
    }
}

/// Counts a server's Text and Binary frames across reads, skipping payloads without looking
/// at them: the headers are read by the `websocket` crate's own parser.
#[derive(Default)]
struct FrameCounter {
    /// The bytes of a header that is not complete yet.
    header: Vec<u8>,
    /// Payload bytes still to skip.
    skip: u64,
}

impl FrameCounter {
    fn feed(&mut self, mut bytes: &[u8]) -> Result<usize> {
        let mut count = 0;
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len() as u64);
                self.skip -= n;
                bytes = &bytes[n as usize..];
                continue;
            }
            // Only the header's bytes are copied; at most 14 of them.
            let take = bytes
                .len()
                .min(websocket::frame::MAX_HEADER_LEN - self.header.len());
            self.header.extend_from_slice(&bytes[..take]);
            match websocket::frame::FrameHeader::parse(&self.header)? {
                None => bytes = &bytes[take..],
                Some((header, used)) => {
                    // What was copied beyond the header is payload: give it back.
                    bytes = &bytes[take - (self.header.len() - used)..];
                    self.header.clear();
                    self.skip = header.payload_len;
                    if !header.opcode.is_control() && header.fin {
                        count += 1;
                    }
                }
            }
        }
        Ok(count)
    }
}

/// Counts events in an event-stream body by their terminating blank line (`\n\n`), across
/// reads. The chunked transfer coding's own line ends are CRLF after a chunk, so a chunk
/// boundary adds no `\n\n` (an event's `\n\n` followed by `\r\n` counts once).
#[derive(Default)]
struct EventCounter {
    last: u8,
}

impl EventCounter {
    fn feed(&mut self, bytes: &[u8]) -> usize {
        let mut count = 0;
        for &b in bytes {
            if b == b'\n' && self.last == b'\n' {
                count += 1;
            }
            self.last = b;
        }
        count
    }
}

/// Opens `connections` connections to `addr` with `connect`, 128 at a time, each within
/// 120 s.
pub(crate) async fn open_many<F, Fut>(
    addr: &str,
    connections: usize,
    connect: F,
) -> Result<Vec<TcpStream>>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<TcpStream>> + Send + 'static,
{
    let connecting = Arc::new(Semaphore::new(128));
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let opening = connect(addr.to_owned());
        let connecting = connecting.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = connecting.acquire_owned().await?;
            opening.await
        }));
    }
    let mut streams = Vec::with_capacity(connections);
    for task in tasks {
        streams.push(tokio::time::timeout(Duration::from_secs(120), task).await???);
    }
    Ok(streams)
}

/// Idle connections: what was measured.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct IdleResult {
    /// Open connections.
    pub(crate) connections: usize,
    /// The server's RSS before the first connection, bytes.
    pub(crate) baseline_rss: u64,
    /// Its RSS with every connection open and idle for a second, bytes.
    pub(crate) rss: u64,
    /// Its peak RSS (VmHWM), bytes.
    pub(crate) peak_rss: u64,
    /// (peak RSS - baseline) / connections.
    pub(crate) peak_bytes_per_connection: f64,
    /// (RSS - baseline) / connections.
    pub(crate) bytes_per_connection: f64,
}

/// Which protocol the idle connections speak.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IdleKind {
    /// A WebSocket after its handshake.
    WebSocket,
    /// An event stream after its response head.
    Sse,
}

/// Opens `connections` connections, finishes each one's handshake, waits, and reads the
/// server's memory.
pub(crate) async fn idle(
    server: &Server,
    kind: IdleKind,
    connections: usize,
) -> Result<IdleResult> {
    let addr = server.addr.clone();
    let open: Open<Box<dyn Send>> = Arc::new(move |_| {
        let addr = addr.clone();
        Box::pin(async move {
            let stream = match kind {
                IdleKind::WebSocket => ws_connect(&addr, "/").await?.0,
                IdleKind::Sse => sse_connect(&addr, "/events").await?.0,
            };
            Ok(Box::new(stream) as Box<dyn Send>)
        })
    });
    idle_with(server, connections, open).await
}

/// [`idle`] with each connection (or stream) opened by `open`, which returns what keeps it
/// open.
pub(crate) async fn idle_with(
    server: &Server,
    connections: usize,
    open: Open<Box<dyn Send>>,
) -> Result<IdleResult> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (baseline_rss, _) = server.rss()?;
    let connecting = Arc::new(Semaphore::new(128));
    let mut tasks = Vec::with_capacity(connections);
    for n in 0..connections {
        let open = open.clone();
        let connecting = connecting.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = connecting.acquire_owned().await?;
            open(n).await
        }));
    }
    let mut streams = Vec::with_capacity(connections);
    for task in tasks {
        streams.push(tokio::time::timeout(Duration::from_secs(120), task).await???);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss, peak_rss) = server.rss()?;
    drop(streams);
    let per = |bytes: u64| bytes.saturating_sub(baseline_rss) as f64 / connections as f64;
    Ok(IdleResult {
        connections,
        baseline_rss,
        rss,
        peak_rss,
        peak_bytes_per_connection: per(peak_rss),
        bytes_per_connection: per(rss),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_counter_counts_blank_lines_across_reads_and_chunk_framing() {
        let mut counter = EventCounter::default();
        // Two events in HTTP/1.1 chunks, the second split across two reads.
        assert_eq!(counter.feed(b"b\r\ndata: one\n\n\r\nb\r\ndata: two\n"), 1);
        assert_eq!(counter.feed(b"\n\r\n"), 1);
        assert_eq!(counter.feed(b"e\r\n: keep-alive\n\n\r\n"), 1);
    }

    #[test]
    fn stamps_are_taken_from_whole_lines_and_frames_only() {
        let now = 1_000_000_000_000_000_000u128;
        let mut out = Vec::new();
        // A chunked event stream: the chunk-size line is not data; the second event is cut.
        let body = b"1f\r\ndata: 00999999999999999000\n\n\r\n1f\r\ndata: 0099999";
        let used = take_sse_stamps(body, now, &mut out);
        assert_eq!(out, [1_000]);
        assert_eq!(&body[used..], b"data: 0099999");

        out.clear();
        let mut frames = Vec::new();
        Frame::new(OpCode::Text, b"00999999999999998000".to_vec()).encode(&mut frames);
        Frame::new(OpCode::Text, b"00999999999999999000".to_vec()).encode(&mut frames);
        let cut = frames.len() - 3;
        let used = take_ws_stamps(&frames[..cut], now, &mut out).unwrap();
        assert_eq!(out, [2_000]);
        assert_eq!(used, 22);
    }

    #[test]
    fn frame_counter_counts_data_frames_across_reads_and_skips_payloads() {
        use websocket::frame::{Frame, OpCode};
        let mut bytes = Vec::new();
        Frame::new(OpCode::Text, b"one".to_vec()).encode(&mut bytes);
        Frame::new(OpCode::Ping, vec![]).encode(&mut bytes);
        // A payload that looks like headers must be skipped, not parsed.
        Frame::new(OpCode::Binary, vec![0x81; 300]).encode(&mut bytes);
        Frame::new(OpCode::Text, b"two".to_vec()).encode(&mut bytes);
        for split in 0..bytes.len() {
            let mut counter = FrameCounter::default();
            let first = counter.feed(&bytes[..split]).unwrap();
            let second = counter.feed(&bytes[split..]).unwrap();
            assert_eq!(first + second, 3, "split at {split}");
        }
    }
}
