//! A process's memory budget: one limit on the bytes that all its WebSocket connections hold
//! for their peers, past which the largest holders are closed with 1013.
//!
//! `Limits` bound one connection: a message at most `max_message_size`, a send queue about
//! `write_buffer_size` before a send waits. A server with many connections can still be made
//! to hold many times that: a thousand clients each half-way through a 16 MiB message hold
//! 8 GiB. A [`Budget`] bounds the sum. Each connection that is given one
//! ([`WebSocket::with_budget`](super::WebSocket::with_budget)) keeps an account of what it
//! holds, the unfinished message it is receiving (`Connection::receiving`) and the bytes queued
//! for the socket (`Core::unwritten`), and reports every change to the shared total, an atomic
//! counter.
//!
//! # Who is closed
//!
//! A connection whose holding grows past the limit looks for the largest holders: it takes
//! the registry's lock, reads every account's figure, and marks the largest ones, in order,
//! until what they hold covers the excess. That is the rule that hurts the fewest: the one
//! connection holding 60 MiB goes, not sixty that hold 1 MiB each. (If the one growing is the
//! largest, it is the one that goes.) A marked connection's reader is woken, or finds the mark
//! at its next step if it is the one growing; it fails with [`Error::OverBudget`](crate::Error::OverBudget) and ends the
//! connection with Close 1013, "try again later", so that a well-behaved client knows to
//! retry; its account returns its bytes when the connection is dropped.
//!
//! The scan is linear in the number of connections, and runs only while the total is over the
//! limit and growing: the ordinary path costs two atomic operations per change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use atomic_waker::AtomicWaker;

/// The shared limit and total, and the accounts it can close. Cheap to clone: every clone is
/// the same budget.
#[derive(Debug, Clone)]
pub struct Budget {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    limit: usize,
    total: AtomicUsize,
    next_id: AtomicU64,
    accounts: Mutex<HashMap<u64, Arc<Holding>>>,
}

/// One connection's figure, and the flag that closes it.
#[derive(Debug, Default)]
struct Holding {
    held: AtomicUsize,
    evicted: AtomicBool,
    /// The connection's reader, waiting for input: woken when the connection is marked.
    reader: AtomicWaker,
}

impl Budget {
    /// The default limit: 256 MiB, a quarter of a 1 GiB machine, for a public server. At the
    /// examples' 64 KiB messages that is 4,096 connections each half-way through a largest
    /// message; at `wirelab echo`'s 64 MiB, four.
    pub const DEFAULT_LIMIT: usize = 256 << 20;

    /// A budget of `limit` bytes in all.
    pub fn new(limit: usize) -> Budget {
        Budget {
            shared: Arc::new(Shared {
                limit,
                total: AtomicUsize::new(0),
                next_id: AtomicU64::new(0),
                accounts: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The limit, in bytes.
    pub fn limit(&self) -> usize {
        self.shared.limit
    }

    /// The bytes held now, by all the connections together.
    pub fn held(&self) -> usize {
        self.shared.total.load(Ordering::Relaxed)
    }

    /// The connections that hold an account now.
    pub fn accounts(&self) -> usize {
        self.shared.lock().len()
    }

    /// Opens an account for one connection.
    pub(crate) fn open(&self) -> Account {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let holding = Arc::new(Holding::default());
        self.shared.lock().insert(id, holding.clone());
        Account {
            shared: self.shared.clone(),
            holding,
            id,
        }
    }
}

impl Default for Budget {
    /// A budget of [`Budget::DEFAULT_LIMIT`].
    fn default() -> Budget {
        Budget::new(Budget::DEFAULT_LIMIT)
    }
}

impl Shared {
    /// The registry. A panic while it was held leaves no half-made change that matters: the
    /// figures are atomics, so a poisoned lock is taken anyway.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Holding>>> {
        self.accounts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The total is over the limit by `excess`: marks the largest holders, largest first,
    /// until what the marked ones hold covers it, and wakes their readers.
    // ANCHOR: evict
    fn evict(&self, excess: usize) {
        let accounts = self.lock();
        let mut holders: Vec<&Arc<Holding>> = accounts.values().collect();
        holders.sort_unstable_by_key(|h| std::cmp::Reverse(h.held.load(Ordering::Relaxed)));
        let mut freed = 0;
        for holder in holders {
            if freed >= excess {
                break;
            }
            freed += holder.held.load(Ordering::Relaxed);
            // One marked already is on its way out: its bytes count, and it is woken once.
            if !holder.evicted.swap(true, Ordering::AcqRel) {
                holder.reader.wake();
            }
        }
    }
    // ANCHOR_END: evict
}

/// One connection's account with a [`Budget`]. Dropped with the connection, it gives back
/// what the connection still held.
#[derive(Debug)]
pub(crate) struct Account {
    shared: Arc<Shared>,
    holding: Arc<Holding>,
    id: u64,
}

impl Account {
    /// The connection now holds `held` bytes. Past the limit, the largest holders are marked,
    /// this connection perhaps among them: its reader then finds [`Account::evicted`] at its
    /// next step, wherever the change was made.
    pub(crate) fn set(&self, held: usize) {
        let before = self.holding.held.swap(held, Ordering::Relaxed);
        if held <= before {
            self.shared
                .total
                .fetch_sub(before - held, Ordering::Relaxed);
            return;
        }
        let total = self
            .shared
            .total
            .fetch_add(held - before, Ordering::Relaxed)
            + held
            - before;
        if total > self.shared.limit {
            self.shared.evict(total - self.shared.limit);
        }
    }

    /// Whether the budget has closed this connection.
    pub(crate) fn evicted(&self) -> bool {
        self.holding.evicted.load(Ordering::Acquire)
    }

    /// The reader waits for input: wake it with `waker` if the budget closes the connection.
    pub(crate) fn wait_for_eviction(&self, waker: &Waker) {
        self.holding.reader.register(waker);
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        let held = self.holding.held.swap(0, Ordering::Relaxed);
        self.shared.total.fetch_sub(held, Ordering::Relaxed);
        self.shared.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_holders_go_until_the_excess_is_covered() {
        let budget = Budget::new(1000);
        let (a, b, c) = (budget.open(), budget.open(), budget.open());
        a.set(500);
        b.set(300);
        c.set(100);
        assert!(
            !a.evicted() && !b.evicted() && !c.evicted(),
            "900 is under the limit"
        );
        // 1,150 in all: the excess, 150, is covered by the largest, `a`, alone.
        c.set(350);
        assert!(a.evicted());
        assert!(!b.evicted() && !c.evicted());
        // `a` goes: its bytes come back.
        drop(a);
        assert_eq!(budget.held(), 650);
        assert_eq!(budget.accounts(), 2);
    }

    #[test]
    fn the_one_that_grows_past_the_limit_goes_if_it_is_the_largest() {
        let budget = Budget::new(1000);
        let (a, b) = (budget.open(), budget.open());
        a.set(200);
        b.set(900);
        assert!(b.evicted() && !a.evicted());
        // Every byte is given back.
        b.set(0);
        drop((a, b));
        assert_eq!((budget.held(), budget.accounts()), (0, 0));
    }
}
