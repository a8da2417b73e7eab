//! Memory after churn: does `wirelab demo` give back what a burst of event streams took?
//!
//! The demo runs as a child process (`serve-demo`), so that its resident memory is its own.
//! Each round opens `streams` event streams on `/ticker/sse` (the demo's ticker: a hub
//! subscription and a per-connection record each), holds them for a second, closes them all,
//! and reads the demo's resident size once it has settled. Freed memory that glibc's allocator
//! keeps for the next allocation shows up as a resident size that stays above the start but
//! stops growing from round to round; a leak grows every round. Run it under different
//! `MALLOC_ARENA_MAX` and `MALLOC_TRIM_THRESHOLD_` settings (the child inherits them) to see
//! how much of what stays is the allocator's choice: `scripts/churn` does.

use std::time::Duration;

use crate::load::{Result, Server, open_many, sse_connect};

/// One round: resident size with every stream open, and after all have closed; and the
/// demo's open files at both moments, which show that it did let the streams go.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Round {
    /// Bytes resident while the streams were open.
    pub(crate) open_rss: u64,
    /// Bytes resident once they had all closed and the demo had settled.
    pub(crate) closed_rss: u64,
    /// File descriptors open while the streams were open.
    pub(crate) open_files: usize,
    /// File descriptors open once they had all closed.
    pub(crate) closed_files: usize,
}

/// The whole measurement.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct ChurnResult {
    /// Event streams per round.
    pub(crate) streams: usize,
    /// Bytes resident before the first round.
    pub(crate) baseline_rss: u64,
    /// Each round.
    pub(crate) rounds: Vec<Round>,
}

/// Runs `rounds` rounds of `streams` event streams against the demo at `server`.
pub(crate) async fn churn(server: &Server, rounds: usize, streams: usize) -> Result<ChurnResult> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (baseline_rss, _) = server.rss()?;
    let baseline_files = server.open_files()?;
    let mut measured = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let open = open_many(&server.addr, streams, |addr| async move {
            Ok(sse_connect(&addr, "/ticker/sse").await?.0)
        })
        .await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (open_rss, _) = server.rss()?;
        let open_files = server.open_files()?;
        drop(open);
        let closed_rss = settled_rss(server, baseline_files).await?;
        measured.push(Round {
            open_rss,
            closed_rss,
            open_files,
            closed_files: server.open_files()?,
        });
    }
    Ok(ChurnResult {
        streams,
        baseline_rss,
        rounds: measured,
    })
}

/// The resident size once the demo has let the streams go: read every 500 ms until the
/// demo's open files are back to `before`'s and two readings of the size agree, for at most
/// 10 s (the demo notices each closed stream at its next write or read).
async fn settled_rss(server: &Server, before: usize) -> Result<u64> {
    let mut last = server.rss()?.0;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = server.rss()?.0;
        if now == last && server.open_files()? <= before {
            break;
        }
        last = now;
    }
    Ok(last)
}
