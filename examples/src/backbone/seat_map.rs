//! Who holds which seat, in this process or in Redis, with the changes as a feed.
//!
//! The rule is first pick wins, and it must be decided in one place. In memory that place is
//! a lock: the seat is checked and taken, and the change published, while it is held. In
//! Redis it is one Lua script per change: `SET wirelab:seat:N holder NX` takes the seat only
//! if no one has it (never a read followed by a write, which two instances could interleave),
//! and the same script appends the change to the `seats` feed, so every instance sees the
//! changes in the order Redis decided them. A release is a script too: delete the seat only
//! if the caller still holds it.

use std::sync::{LazyLock, Mutex, MutexGuard};

use redis::{Script, ScriptInvocation};
use sse::Event;
use sse::history::Hub;

use super::redis::{APPEND, PREFIX, RedisError, RedisFeed};
use super::{Backbone, Feed, Subscription};

/// Who holds a seat: the client (unique across instances) and the name it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The connection that holds the seat, so that two clients with one name stay apart.
    pub client: String,
    /// The name the others see.
    pub name: String,
}

impl Holder {
    /// The value stored in Redis: the client (which has no space), a space, the name.
    fn encode(&self) -> String {
        format!("{} {}", self.client, self.name)
    }

    fn decode(value: &str) -> Holder {
        let (client, name) = value.split_once(' ').unwrap_or((value, ""));
        Holder {
            client: client.to_owned(),
            name: name.to_owned(),
        }
    }
}

// ANCHOR: pick_script
/// Picks: KEYS seat, stream, counter; ARGV holder, maxlen, update, floor. Returns nothing when
/// the seat was free and is now the caller's, else its holder.
static PICK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{APPEND}
        if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
          append(KEYS[2], KEYS[3], ARGV[2], ARGV[3], ARGV[4])
          return false
        end
        return redis.call('GET', KEYS[1])"
    ))
});

/// Releases: KEYS seat, stream, counter; ARGV holder, maxlen, update, floor. Returns 1 when
/// the caller held the seat and it is now free.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{APPEND}
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        redis.call('DEL', KEYS[1])
        append(KEYS[2], KEYS[3], ARGV[2], ARGV[3], ARGV[4])
        return 1"
    ))
});
// ANCHOR_END: pick_script

/// The seats, and the feed of their changes.
#[derive(Debug)]
pub enum SeatMap {
    /// In this process.
    Memory {
        /// The holder of each seat.
        seats: Mutex<Vec<Option<Holder>>>,
        /// The changes, published while `seats` is locked.
        updates: Hub,
    },
    /// In Redis, shared by every instance.
    Redis(RedisFeed),
}

impl SeatMap {
    /// `count` free seats on `backbone`.
    pub fn new(backbone: &Backbone, count: usize) -> SeatMap {
        match backbone.feed("seats", 256, 256) {
            Feed::Memory(updates) => SeatMap::Memory {
                seats: Mutex::new(vec![None; count]),
                updates,
            },
            Feed::Redis(updates) => SeatMap::Redis(updates),
        }
    }

    fn key(seat: usize) -> String {
        format!("{PREFIX}seat:{seat}")
    }

    /// A call of [`PICK`] or [`RELEASE`], which take the same keys and arguments: the seat,
    /// the updates' stream and counter; the holder, the history's length, the update and the
    /// floor of its id.
    fn script_call<'a>(
        script: &'a Script,
        updates: &RedisFeed,
        seat: usize,
        holder: &Holder,
        update: &str,
    ) -> ScriptInvocation<'a> {
        let (stream, counter) = updates.keys();
        let mut call = script.key(Self::key(seat));
        call.key(stream)
            .key(counter)
            .arg(holder.encode())
            .arg(updates.history())
            .arg(update)
            .arg(updates.floor());
        call
    }

    fn locked(seats: &Mutex<Vec<Option<Holder>>>) -> MutexGuard<'_, Vec<Option<Holder>>> {
        // Each change is a single assignment: a poisoned lock holds nothing half-done.
        seats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The changes from now on (each event's data is one update's JSON).
    pub async fn subscribe(&self) -> Subscription {
        match self {
            SeatMap::Memory { updates, .. } => Subscription::Memory(updates.subscribe(None)),
            SeatMap::Redis(updates) => Subscription::Redis(updates.subscribe(None).await),
        }
    }

    /// The holder of every seat, of `count`.
    ///
    /// # Errors
    ///
    /// When the seats are in Redis and Redis cannot be reached.
    pub async fn holders(&self, count: usize) -> Result<Vec<Option<Holder>>, RedisError> {
        match self {
            SeatMap::Memory { seats, .. } => Ok(Self::locked(seats).clone()),
            SeatMap::Redis(updates) => {
                let keys: Vec<String> = (0..count).map(Self::key).collect();
                let values: Vec<Option<String>> = updates
                    .redis()
                    .run(async |mut conn| {
                        redis::cmd("MGET").arg(&keys).query_async(&mut conn).await
                    })
                    .await?;
                Ok(values
                    .iter()
                    .map(|value| value.as_deref().map(Holder::decode))
                    .collect())
            }
        }
    }

    // ANCHOR: pick
    /// Gives `seat` to `holder` if it is free, announcing `update`; returns the holder it
    /// already had otherwise.
    ///
    /// # Errors
    ///
    /// When the seats are in Redis and Redis cannot be reached.
    pub async fn pick(
        &self,
        seat: usize,
        holder: &Holder,
        update: &str,
    ) -> Result<Option<Holder>, RedisError> {
        match self {
            SeatMap::Memory { seats, updates } => {
                let mut seats = Self::locked(seats);
                let Some(slot) = seats.get_mut(seat) else {
                    return Ok(None);
                };
                if let Some(current) = slot {
                    return Ok(Some(current.clone()));
                }
                *slot = Some(holder.clone());
                updates.publish(Event::new().data(update));
                Ok(None)
            }
            SeatMap::Redis(updates) => {
                let call = Self::script_call(&PICK, updates, seat, holder, update);
                let current: Option<String> = updates
                    .redis()
                    .run(async |mut conn| call.invoke_async(&mut conn).await)
                    .await?;
                Ok(current.as_deref().map(Holder::decode))
            }
        }
    }
    // ANCHOR_END: pick

    /// Frees `seat` if `holder` holds it, announcing `update`.
    ///
    /// # Errors
    ///
    /// When the seats are in Redis and Redis cannot be reached.
    pub async fn release(
        &self,
        seat: usize,
        holder: &Holder,
        update: &str,
    ) -> Result<(), RedisError> {
        match self {
            SeatMap::Memory { seats, updates } => {
                let mut seats = Self::locked(seats);
                if let Some(slot) = seats.get_mut(seat)
                    && slot.as_ref() == Some(holder)
                {
                    *slot = None;
                    updates.publish(Event::new().data(update));
                }
                Ok(())
            }
            SeatMap::Redis(updates) => {
                let call = Self::script_call(&RELEASE, updates, seat, holder, update);
                updates
                    .redis()
                    .run(async |mut conn| call.invoke_async::<i64>(&mut conn).await)
                    .await
                    .map(drop)
            }
        }
    }
}
