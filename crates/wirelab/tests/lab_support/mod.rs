//! The lab's processes for the tests: redis-server, `wirelab demo` instances, nginx and
//! HAProxy, each an ordinary child process on a loopback port, killed when its handle is
//! dropped.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use wirelab_conformance::{Peer, require};

/// How long a process may take to start listening.
const START: Duration = Duration::from_secs(10);

/// A child process, killed (and reaped) when dropped.
pub struct Proc {
    child: Child,
    /// The loopback port it listens on.
    pub port: u16,
}

impl Proc {
    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `host:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A directory of its own for one test's processes, removed when dropped.
pub struct LabDir(PathBuf);

impl LabDir {
    /// A fresh directory under the system's temporary directory.
    pub fn new(test: &str) -> LabDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wirelab-lab-{test}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("lab directory");
        LabDir(dir)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for LabDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port free on loopback a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Waits until something accepts connections on `port`.
fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + START;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn(command: &mut Command, port: u16, what: &str) -> Proc {
    spawn_logged(command, port, what, None)
}

/// Starts `command`, its standard error into the file `log` if given, and waits until it
/// listens on `port`.
fn spawn_logged(command: &mut Command, port: u16, what: &str, log: Option<&Path>) -> Proc {
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
        None => Stdio::null(),
    };
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let proc = Proc { child, port };
    wait_port(port, what);
    proc
}

/// The lab's programs, if they are all here (else the test is skipped, or fails under
/// `WIRELAB_REQUIRE_PEERS=1`).
pub struct Programs {
    redis: PathBuf,
    nginx: PathBuf,
    /// Looked for only by the tests that use it ([`Programs::with_haproxy`]).
    haproxy: Option<PathBuf>,
}

/// The reverse proxy in front of the instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// nginx, with `deploy/nginx.conf`.
    Nginx,
    /// HAProxy, with `deploy/haproxy.cfg`.
    Haproxy,
}

impl Programs {
    /// Finds redis-server and nginx for `test`.
    pub fn find(test: &str) -> Option<Programs> {
        let redis = require(Peer::RedisServer, test)?;
        let nginx = require(Peer::Nginx, test)?;
        Some(Programs {
            redis,
            nginx,
            haproxy: None,
        })
    }

    /// Finds redis-server, nginx and HAProxy for `test`.
    pub fn with_haproxy(test: &str) -> Option<Programs> {
        let programs = Programs::find(test)?;
        let haproxy = require(Peer::Haproxy, test)?;
        Some(Programs {
            haproxy: Some(haproxy),
            ..programs
        })
    }

    /// A redis-server with nothing saved to disk.
    pub fn redis(&self, dir: &LabDir) -> Proc {
        self.redis_on(dir, free_port())
    }

    /// A redis-server on `port` (to start one again where a killed one was).
    pub fn redis_on(&self, dir: &LabDir, port: u16) -> Proc {
        spawn(
            Command::new(&self.redis)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--dir"])
                .arg(dir.path()),
            port,
            "redis-server",
        )
    }

    /// A `wirelab demo` instance, on Redis at `redis` if given.
    pub fn demo(&self, redis: Option<&Proc>) -> Proc {
        demo(redis, None)
    }

    /// The proxy `front` in front of `instances` (one or two addresses), as `deploy/` has it.
    pub fn front(&self, front: Front, dir: &LabDir, instances: &[String]) -> Proc {
        match front {
            Front::Nginx => self.nginx(dir, instances, &[]),
            Front::Haproxy => self.haproxy(dir, instances),
        }
    }

    /// HAProxy with `deploy/haproxy.cfg` in front of `instances` (one or two addresses).
    ///
    /// # Panics
    ///
    /// When the programs were not found with [`Programs::with_haproxy`].
    pub fn haproxy(&self, dir: &LabDir, instances: &[String]) -> Proc {
        self.haproxy_with_h2c(dir, instances).0
    }

    /// [`Programs::haproxy`], and the port of its HTTP/2 (h2c) frontend.
    ///
    /// # Panics
    ///
    /// When the programs were not found with [`Programs::with_haproxy`].
    pub fn haproxy_with_h2c(&self, dir: &LabDir, instances: &[String]) -> (Proc, u16) {
        let haproxy = self.haproxy.as_ref().expect("Programs::with_haproxy");
        let (port, h2c) = (free_port(), free_port());
        let b = instances.get(1).unwrap_or(&instances[0]);
        let config = std::fs::read_to_string(deploy("haproxy.cfg"))
            .expect("deploy/haproxy.cfg")
            .replace("@LISTEN@", &format!("127.0.0.1:{port}"))
            .replace("@LISTEN_H2C@", &format!("127.0.0.1:{h2c}"))
            .replace("@INSTANCE_A@", &instances[0])
            .replace("@INSTANCE_B@", b);
        let file = dir.path().join("haproxy.cfg");
        std::fs::write(&file, config).expect("write haproxy.cfg");
        let proc = spawn(
            Command::new(haproxy).arg("-db").arg("-f").arg(&file),
            port,
            "haproxy",
        );
        wait_port(h2c, "haproxy's h2c frontend");
        (proc, h2c)
    }

    /// nginx with `deploy/nginx.conf` in front of `instances` (one or two addresses), after
    /// `edits`: each replaces a text of the file that must be there, so that a change to the
    /// file that a test depends on fails the test instead of silently testing something else.
    pub fn nginx(&self, dir: &LabDir, instances: &[String], edits: &[(&str, &str)]) -> Proc {
        let port = free_port();
        let b = instances.get(1).unwrap_or(&instances[0]);
        let mut config = std::fs::read_to_string(deploy("nginx.conf"))
            .expect("deploy/nginx.conf")
            .replace("@DIR@", &dir.path().display().to_string())
            .replace("@LISTEN@", &format!("127.0.0.1:{port}"))
            .replace("@INSTANCE_A@", &instances[0])
            .replace("@INSTANCE_B@", b);
        if instances.len() == 1 {
            // One instance named twice is still one instance: the second line is a backup.
            config = config.replacen(
                &format!("server {b} max_fails"),
                &format!("server {b} backup max_fails"),
                1,
            );
        }
        for (from, to) in edits {
            assert!(config.contains(from), "deploy/nginx.conf has no {from:?}");
            config = config.replace(from, to);
        }
        let file = dir.path().join("nginx.conf");
        std::fs::write(&file, config).expect("write nginx.conf");
        spawn(
            Command::new(&self.nginx)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&file),
            port,
            "nginx",
        )
    }
}

/// A `wirelab demo` instance, on Redis at `redis` if given, its standard error (where it
/// logs) into the file `log` if given.
pub fn demo(redis: Option<&Proc>, log: Option<&Path>) -> Proc {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_wirelab"));
    command.args(["demo", "--addr", &format!("127.0.0.1:{port}")]);
    if let Some(redis) = redis {
        command.args(["--redis", &format!("redis://{}", redis.addr())]);
    }
    spawn_logged(&mut command, port, "wirelab demo", log)
}

/// The edit of `deploy/nginx.conf` that serves `html` as `/lab.html` from `dir`, for a page
/// whose requests go through the same nginx (same origin).
pub fn lab_page(dir: &LabDir, html: &str) -> (&'static str, String) {
    let file = dir.path().join("lab.html");
    std::fs::write(&file, html).expect("write lab.html");
    let location = format!(
        "location = /lab.html {{ alias {}; default_type text/html; }}\n        location / {{",
        file.display()
    );
    ("location / {", location)
}

/// A file of `deploy/`.
pub fn deploy(name: &str) -> PathBuf {
    wirelab_conformance::workspace_root()
        .join("deploy")
        .join(name)
}

/// A request on a new connection; returns the whole response (the demo serves one request
/// per connection and closes).
pub async fn request(addr: &str, method: &str, target: &str, body: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: lab\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
        .await
        .expect("a response within 5 s")
        .expect("read");
    String::from_utf8_lossy(&response).into_owned()
}

/// The body of `/stats?session=S` on one instance, as JSON.
pub async fn stats(instance: &Proc, session: &str) -> serde_json::Value {
    let response = request(
        &instance.addr(),
        "GET",
        &format!("/stats?session={session}"),
        "",
    )
    .await;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    serde_json::from_str(body).unwrap_or_default()
}

/// How many open connections of `session` and `transport` an instance has.
pub async fn open_on(instance: &Proc, session: &str, transport: &str) -> u64 {
    stats(instance, session).await["transports"][transport]["open"]
        .as_u64()
        .unwrap_or(0)
}

/// Headless Chromium on one page, whose console lines the test reads as they come (the page
/// logs what it sees with `console.log`, which `--enable-logging=stderr` copies to standard
/// error). Killed, with its helper processes, when dropped.
pub struct Browser {
    child: Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    _profile: LabDir,
}

impl Browser {
    /// Opens `url` in a fresh profile.
    pub fn open(chromium: &Path, url: &str) -> Browser {
        use std::io::BufRead as _;
        use std::os::unix::process::CommandExt as _;

        let profile = LabDir::new("chromium");
        let mut child = Command::new(chromium)
            .args(wirelab_conformance::CHROMIUM_FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so that its helper processes go with it.
            .process_group(0)
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().expect("piped");
        let (sender, lines) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Browser {
            child,
            lines,
            _profile: profile,
        }
    }

    /// The text the page logged after `marker ` in its next console line that has it, if one
    /// comes within `within`.
    pub async fn console(&mut self, marker: &str, within: Duration) -> Option<String> {
        let needle = format!("\"{marker} ");
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.recv())
                .await
                .ok()??;
            if let Some(start) = line.find(&needle) {
                let rest = &line[start + needle.len()..];
                let end = rest.rfind("\", source:").unwrap_or(rest.len());
                return Some(rest[..end].to_owned());
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: the launcher's chromium and its renderer, GPU and zygote helpers.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}
