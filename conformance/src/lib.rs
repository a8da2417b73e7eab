//! Shared helpers for WireLab's conformance suite.
//!
//! The suite talks to real peers: Python's `websockets`, `httpx-sse` and `h2`, curl, the
//! Autobahn|Testsuite (`wstest`), and headless Chromium and Firefox ESR. The test command
//! (`scripts/test`)
//! provisions what it can and passes the paths in environment variables; this module finds
//! them. A peer that is missing makes its test print a `skipped: <why>` line straight to the
//! terminal (Rust's harness hides the output of passing tests, so `eprintln!` is not enough)
//! and return; with `WIRELAB_REQUIRE_PEERS=1` (set by CI) a missing peer fails the test
//! instead, so a green CI run never hides a peer that did not run.
//!
//! [`sse_vectors`] loads the event-stream vectors, for the tests here, the workshop's checks
//! and `wirelab check sse-parser`.

pub mod sse_vectors;

use std::io::Write as _;
use std::path::PathBuf;

/// An external program a conformance test needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The Python 3 interpreter of the venv made by `scripts/test`, with `websockets`,
    /// `httpx`, `httpx-sse` and `h2` installed. Environment variable: `WIRELAB_PYTHON`.
    Python,
    /// The Autobahn|Testsuite's `wstest`, on Python 2.7. Environment variable: `WIRELAB_WSTEST`.
    Wstest,
    /// Headless Chromium. Environment variable: `WIRELAB_CHROMIUM` (default `/usr/bin/chromium`).
    Chromium,
    /// ChromeDriver, at the same version as Chromium. Environment variable:
    /// `WIRELAB_CHROMEDRIVER` (default `/usr/bin/chromedriver`).
    Chromedriver,
    /// Headless Firefox, Debian's ESR. Environment variable: `WIRELAB_FIREFOX` (default
    /// `/usr/bin/firefox-esr`).
    Firefox,
    /// curl. Environment variable: `WIRELAB_CURL` (default: `curl` on the `PATH`).
    Curl,
    /// Redis, run as an ordinary process by the lab's tests. Environment variable:
    /// `WIRELAB_REDIS_SERVER` (default: `redis-server` on the `PATH`, or Debian's path).
    RedisServer,
    /// nginx, run as an ordinary process by the lab's tests. Environment variable:
    /// `WIRELAB_NGINX` (default: `nginx` on the `PATH`, or Debian's `/usr/sbin/nginx`).
    Nginx,
    /// HAProxy, run as an ordinary process by the lab's tests. Environment variable:
    /// `WIRELAB_HAPROXY` (default: `haproxy` on the `PATH`, or Debian's `/usr/sbin/haproxy`).
    Haproxy,
    /// Node.js, for the JavaScript peers. Environment variable: `WIRELAB_NODE` (default:
    /// `node` on the `PATH`).
    Node,
}

impl Peer {
    fn env_var(self) -> &'static str {
        match self {
            Peer::Python => "WIRELAB_PYTHON",
            Peer::Wstest => "WIRELAB_WSTEST",
            Peer::Chromium => "WIRELAB_CHROMIUM",
            Peer::Chromedriver => "WIRELAB_CHROMEDRIVER",
            Peer::Firefox => "WIRELAB_FIREFOX",
            Peer::Curl => "WIRELAB_CURL",
            Peer::RedisServer => "WIRELAB_REDIS_SERVER",
            Peer::Nginx => "WIRELAB_NGINX",
            Peer::Haproxy => "WIRELAB_HAPROXY",
            Peer::Node => "WIRELAB_NODE",
        }
    }

    fn default_path(self) -> Option<PathBuf> {
        match self {
            Peer::Python | Peer::Wstest => None,
            Peer::Chromium => Some("/usr/bin/chromium".into()),
            Peer::Chromedriver => Some("/usr/bin/chromedriver".into()),
            Peer::Firefox => Some("/usr/bin/firefox-esr".into()),
            Peer::Curl => find_on_path("curl"),
            // Debian puts the daemons in sbin, which a non-root PATH may lack.
            Peer::RedisServer => {
                find_on_path("redis-server").or_else(|| Some("/usr/bin/redis-server".into()))
            }
            Peer::Nginx => find_on_path("nginx").or_else(|| Some("/usr/sbin/nginx".into())),
            Peer::Haproxy => find_on_path("haproxy").or_else(|| Some("/usr/sbin/haproxy".into())),
            Peer::Node => find_on_path("node"),
        }
    }

    /// Where this peer is, if it is here.
    pub fn locate(self) -> Option<PathBuf> {
        let path = match std::env::var_os(self.env_var()) {
            Some(value) if !value.is_empty() => PathBuf::from(value),
            _ => self.default_path()?,
        };
        path.is_file().then_some(path)
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// True when a missing peer must fail the test rather than skip it (`WIRELAB_REQUIRE_PEERS=1`).
pub fn peers_required() -> bool {
    std::env::var("WIRELAB_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// Finds `peer` for the test named `test`, or reports the skip and returns `None`.
///
/// # Panics
///
/// When the peer is missing and `WIRELAB_REQUIRE_PEERS=1`.
pub fn require(peer: Peer, test: &str) -> Option<PathBuf> {
    if let Some(path) = peer.locate() {
        return Some(path);
    }
    let why = format!(
        "{peer:?} not found (set {} or run scripts/test, which provisions it)",
        peer.env_var()
    );
    skip(test, &why);
    None
}

/// The flags headless Chromium runs with here: as root it needs `--no-sandbox`, and without
/// the background-networking flags it keeps trying to reach outside hosts. Add
/// `--user-data-dir` (a fresh directory) and the page's URL.
pub const CHROMIUM_FLAGS: [&str; 11] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
];

/// Reports that `test` did not run, and why; fails instead under `WIRELAB_REQUIRE_PEERS=1`.
///
/// # Panics
///
/// When `WIRELAB_REQUIRE_PEERS=1`.
pub fn skip(test: &str, why: &str) {
    if peers_required() {
        panic!("{test}: {why}, and WIRELAB_REQUIRE_PEERS=1 forbids skipping");
    }
    // Straight to the terminal: the harness captures eprintln! of passing tests.
    let _ = writeln!(std::io::stderr().lock(), "skipped: {test}: {why}");
}

/// The workspace's root folder (where the top-level `Cargo.toml` is).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("conformance/ has a parent")
        .to_path_buf()
}
