//! The Redis backbone: each feed a Redis Stream, numbered by a counter in Redis, followed by
//! every instance.
//!
//! For a feed called `ticker` Redis holds two keys:
//!
//! - `wirelab:ticker`, a Stream of the feed's events, bounded with `MAXLEN` to the history the
//!   feed keeps. An entry's id is `N-0`, and its one field `data` is the event's data.
//! - `wirelab:ticker:last-id`, the counter that gives `N`. Publishing is one Lua script
//!   ([`APPEND`]) that `INCR`s it and `XADD`s the entry, so ids are 1, 2, 3, ... in the order
//!   Redis ran the scripts, whichever instance published. They are the events' SSE `id:`, the
//!   same decimal numbers an in-memory [`sse::history::History`] gives out, so a
//!   `Last-Event-ID` means the same on every instance and goes through the same checks.
//!
//! Each instance follows each feed with one task on a connection of its own: `XREAD BLOCK`
//! from the newest id it has seen, handing every new entry to a local broadcast channel. A
//! client's subscription takes that channel first, then reads what it missed with `XRANGE`
//! (`GET` of the counter and `XRANGE` in one `MULTI`, so the two agree), and drops the live
//! events the replay already gave it: nothing lost, nothing twice. One `XREAD` per instance,
//! not per client: a thousand clients on an instance cost Redis nothing more.
//!
//! Why Streams and not pub/sub: pub/sub forgets a message as soon as it is sent, so a client
//! that reconnects to another instance could not be told what it missed; a Stream is the
//! history and the live feed in one.
//!
//! A Redis that restarts without its data has lost the counter too. Numbering must not start
//! again at 1, or a client whose last id is from before the restart would be given events it
//! never saw as if it had seen them: each instance remembers the highest id it has seen on a
//! feed, and the publishing script, finding no counter, starts it there ([`APPEND`]). Events
//! published before the restart that no instance had read are lost with Redis's data; a
//! client that missed them is behind what the stream holds, and gets the gap notice.
//!
//! When Redis goes away the follower logs it, ends every subscription (their clients come back
//! with their last id), and reconnects with backoff ([`sse::backoff`], the policy the SSE
//! client uses); until it is back, a new subscription ends at once, and publishing fails with
//! a [`RedisError`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};
use redis::{AsyncConnectionConfig, FromRedisValue, Script};
use sse::Event;
use sse::backoff::{Backoff, BackoffConfig};
use sse::history::{Published, gap_notice, issued};
use tokio::sync::{broadcast, mpsc};

/// How long [`Redis::connect`] waits for the server to answer a `PING` before it gives up.
pub const START_TIMEOUT: Duration = Duration::from_secs(3);
/// How long any one command may take before it counts as failed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one `XREAD` waits for new entries before asking again: also how soon a follower
/// notices that its feed was dropped.
pub const BLOCK: Duration = Duration::from_secs(2);
/// The prefix of every key the backbone uses.
pub const PREFIX: &str = "wirelab:";

/// What went wrong with Redis, in words for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisError(String);

impl std::fmt::Display for RedisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redis: {}", self.0)
    }
}

impl std::error::Error for RedisError {}

impl From<redis::RedisError> for RedisError {
    fn from(error: redis::RedisError) -> Self {
        RedisError(error.to_string())
    }
}

// ANCHOR: scripts
/// Appends an entry to a feed: the Lua function every publishing script starts with. One
/// script runs at a time in Redis, so numbering and appending cannot interleave with another
/// instance's. `floor` is the highest id the calling instance has seen on the feed: where the
/// counter starts again if Redis lost it (a restart without its data), so that no id is given
/// out twice.
pub const APPEND: &str = r"
local function append(stream, counter, maxlen, data, floor)
  if redis.call('EXISTS', counter) == 0 then redis.call('SET', counter, floor) end
  local n = redis.call('INCR', counter)
  redis.call('XADD', stream, 'MAXLEN', maxlen, n .. '-0', 'data', data)
  return n
end
";

/// Publishes: KEYS stream, counter; ARGV maxlen, data, floor. Returns the id.
static PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{APPEND} return append(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])"
    ))
});

/// Publishes only while holding a lease (a fenced write): KEYS stream, counter, lease; ARGV
/// maxlen, data, token, floor. Returns the id, or 0 when the lease is someone else's.
static PUBLISH_HOLDING: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{APPEND}
        if redis.call('GET', KEYS[3]) ~= ARGV[3] then return 0 end
        return append(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[4])"
    ))
});

/// Takes a lease that is free, or renews one already held: KEYS lease; ARGV token, ttl in ms.
/// Returns 1 when the caller holds it for the next ttl.
static HOLD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
        return 0",
    )
});
// ANCHOR_END: scripts

/// A connection to the Redis server the instances share.
#[derive(Debug)]
pub struct Redis {
    client: redis::Client,
    /// This instance's name in leases and seat holders: random, so that two instances never
    /// take each other's.
    instance: String,
    /// The shared connection for commands, made again after it breaks.
    commands: tokio::sync::Mutex<Option<MultiplexedConnection>>,
}

impl Redis {
    /// Connects to the server at `url` and checks that it answers.
    ///
    /// # Errors
    ///
    /// When the URL is invalid, or the server does not answer a `PING` within
    /// [`START_TIMEOUT`].
    pub async fn connect(url: &str) -> Result<Arc<Redis>, RedisError> {
        let client =
            redis::Client::open(url).map_err(|e| RedisError(format!("invalid URL {url}: {e}")))?;
        let redis = Arc::new(Redis {
            client,
            instance: format!("{:016x}", getrandom::u64().unwrap_or_default()),
            commands: tokio::sync::Mutex::new(None),
        });
        let ping =
            redis.run(async |mut conn| redis::cmd("PING").query_async::<String>(&mut conn).await);
        match tokio::time::timeout(START_TIMEOUT, ping).await {
            Ok(Ok(_)) => Ok(redis),
            Ok(Err(e)) => Err(RedisError(format!("{url} did not answer: {}", e.0))),
            Err(_) => Err(RedisError(format!(
                "{url} did not answer within {} s",
                START_TIMEOUT.as_secs()
            ))),
        }
    }

    /// This instance's random name.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// A new connection whose commands time out after `response`.
    async fn open(&self, response: Duration) -> Result<MultiplexedConnection, RedisError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(response));
        Ok(self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?)
    }

    /// Runs `command` on the shared connection, connecting first if there is none. A
    /// connection that failed is dropped, so the next command connects again: that is the
    /// whole reconnection of the command side.
    pub(crate) async fn run<T>(
        &self,
        command: impl AsyncFnOnce(MultiplexedConnection) -> redis::RedisResult<T>,
    ) -> Result<T, RedisError> {
        let conn = {
            let mut slot = self.commands.lock().await;
            match &*slot {
                Some(conn) => conn.clone(),
                None => slot.insert(self.open(COMMAND_TIMEOUT).await?).clone(),
            }
        };
        command(conn).await.map_err(|e| {
            if (e.is_io_error() || e.is_timeout() || e.is_connection_dropped())
                && let Ok(mut slot) = self.commands.try_lock()
            {
                *slot = None;
            }
            e.into()
        })
    }

    /// A feed on the stream `wirelab:NAME`, keeping `history` entries, followed by a task of
    /// this instance that lets a subscriber fall `lag` events behind.
    pub fn feed(self: &Arc<Self>, name: &str, history: usize, lag: usize) -> RedisFeed {
        let shared = Arc::new(FeedShared {
            redis: self.clone(),
            name: name.to_owned(),
            stream: format!("{PREFIX}{name}"),
            counter: format!("{PREFIX}{name}:last-id"),
            history: history.max(1),
            lag: lag.max(1),
            live: Mutex::new(None),
            highest: AtomicU64::new(0),
        });
        tokio::spawn(follow(Arc::downgrade(&shared)));
        RedisFeed { shared }
    }

    // ANCHOR: hold
    /// Takes the lease `name` (`wirelab:NAME`) for `ttl` if it is free, or renews it if this
    /// instance holds it. True when this instance holds it now.
    ///
    /// # Errors
    ///
    /// When Redis cannot be reached: the caller must then act as if it did not hold it.
    pub async fn hold(&self, name: &str, ttl: Duration) -> Result<bool, RedisError> {
        let key = format!("{PREFIX}{name}");
        let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.run(async |mut conn| {
            HOLD.key(&key)
                .arg(&self.instance)
                .arg(ttl)
                .invoke_async::<i64>(&mut conn)
                .await
        })
        .await
        .map(|held| held == 1)
    }
    // ANCHOR_END: hold
}

/// What a feed's handle and its follower share.
#[derive(Debug)]
struct FeedShared {
    redis: Arc<Redis>,
    name: String,
    stream: String,
    counter: String,
    history: usize,
    lag: usize,
    /// The live events, while the follower is following; `None` while Redis is away.
    live: Mutex<Option<broadcast::Sender<Published>>>,
    /// The highest id this instance has seen on the feed (published or followed): the floor
    /// of [`APPEND`].
    highest: AtomicU64,
}

impl FeedShared {
    fn live(&self) -> std::sync::MutexGuard<'_, Option<broadcast::Sender<Published>>> {
        // Every update is one assignment: a poisoned lock holds nothing half-done.
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// This instance has seen `id` on the feed.
    fn saw(&self, id: u64) {
        self.highest.fetch_max(id, Ordering::Relaxed);
    }
}

/// A feed on a Redis Stream (see the [module](self) documentation).
#[derive(Debug)]
pub struct RedisFeed {
    shared: Arc<FeedShared>,
}

impl RedisFeed {
    // ANCHOR: publish
    /// Appends `data` to the stream; returns its id.
    ///
    /// # Errors
    ///
    /// When Redis cannot be reached.
    pub async fn publish(&self, data: &str) -> Result<u64, RedisError> {
        let feed = &self.shared;
        let id = feed
            .redis
            .run(async |mut conn| {
                PUBLISH
                    .key(&feed.stream)
                    .key(&feed.counter)
                    .arg(feed.history)
                    .arg(data)
                    .arg(self.floor())
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        feed.saw(id);
        Ok(id)
    }

    /// Appends `data` only if this instance holds the lease `lease` (see [`Redis::hold`]):
    /// the check and the append are one script, so an instance that lost its lease a moment
    /// ago cannot publish in the new holder's place. Returns the id, or `None` when the lease
    /// is not ours.
    ///
    /// # Errors
    ///
    /// When Redis cannot be reached.
    pub async fn publish_holding(
        &self,
        lease: &str,
        data: &str,
    ) -> Result<Option<u64>, RedisError> {
        let feed = &self.shared;
        let lease = format!("{PREFIX}{lease}");
        let id: u64 = feed
            .redis
            .run(async |mut conn| {
                PUBLISH_HOLDING
                    .key(&feed.stream)
                    .key(&feed.counter)
                    .key(&lease)
                    .arg(feed.history)
                    .arg(data)
                    .arg(feed.redis.instance())
                    .arg(self.floor())
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        feed.saw(id);
        Ok((id != 0).then_some(id))
    }
    // ANCHOR_END: publish

    /// True while this instance follows the stream (Redis is reachable).
    pub fn is_live(&self) -> bool {
        self.shared.live().is_some()
    }

    /// The newest entry's id and data, if the stream holds any.
    ///
    /// # Errors
    ///
    /// When Redis cannot be reached.
    pub async fn newest(&self) -> Result<Option<(u64, String)>, RedisError> {
        let feed = &self.shared;
        let reply: StreamRangeReply = feed
            .redis
            .run(async |mut conn| {
                redis::cmd("XREVRANGE")
                    .arg(&feed.stream)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(reply.ids.iter().find_map(entry))
    }

    /// The highest id this instance has seen on the feed: the `floor` argument of [`APPEND`].
    pub(crate) fn floor(&self) -> u64 {
        self.shared.highest.load(Ordering::Relaxed)
    }

    /// The stream's key and its counter's key, for scripts that append to it.
    pub(crate) fn keys(&self) -> (&str, &str) {
        (&self.shared.stream, &self.shared.counter)
    }

    /// How many entries the stream keeps.
    pub(crate) fn history(&self) -> usize {
        self.shared.history
    }

    /// The Redis connection this feed is on.
    pub(crate) fn redis(&self) -> &Arc<Redis> {
        &self.shared.redis
    }

    // ANCHOR: subscribe
    /// What a client that last saw `last_event_id` missed, then the live events, through a
    /// task that ends with the subscription. Empty and ended when Redis cannot be reached.
    pub async fn subscribe(&self, last_event_id: Option<&str>) -> mpsc::Receiver<Published> {
        let (sender, receiver) = mpsc::channel(self.shared.lag);
        // The live channel first, then the replay: an event appended in between is in both,
        // and is sent once (the `newest` check below); none can be in neither.
        let Some(mut live) = self
            .shared
            .live()
            .as_ref()
            .map(broadcast::Sender::subscribe)
        else {
            return receiver;
        };
        let replay = match last_event_id {
            Some(id) => match self.replay(id).await {
                Ok(replay) => replay,
                Err(e) => {
                    eprintln!("wirelab: feed {}: replay failed: {e}", self.shared.name);
                    return receiver;
                }
            },
            None => Vec::new(),
        };
        tokio::spawn(async move {
            let mut newest = 0;
            for event in replay {
                newest = newest.max(number(&event));
                if sender.send(event).await.is_err() {
                    return;
                }
            }
            loop {
                let event = tokio::select! {
                    () = sender.closed() => return,
                    event = live.recv() => match event {
                        Ok(event) => event,
                        // Lagged: this subscriber missed events, so its subscription ends and
                        // its client resumes from its last id. Closed: Redis went away.
                        Err(_) => return,
                    },
                };
                if number(&event) > newest {
                    newest = number(&event);
                    if sender.send(event).await.is_err() {
                        return;
                    }
                }
            }
        });
        receiver
    }
    // ANCHOR_END: subscribe

    // ANCHOR: replay
    /// The entries after `last_event_id`, or, when the stream no longer holds everything
    /// after it (or could not have given it out), the gap notice and every entry it holds:
    /// the rule of [`sse::history::History::replay`], on the stream.
    async fn replay(&self, last_event_id: &str) -> Result<Vec<Published>, RedisError> {
        let feed = &self.shared;
        let seen = issued(last_event_id);
        let from = seen.map_or_else(|| "-".to_owned(), |seen| format!("{seen}-0"));
        let (newest, kept): (Option<u64>, StreamRangeReply) = feed
            .redis
            .run(async |mut conn| {
                redis::pipe()
                    .atomic()
                    .cmd("GET")
                    .arg(&feed.counter)
                    .cmd("XRANGE")
                    .arg(&feed.stream)
                    .arg(&from)
                    .arg("+")
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        let newest = newest.unwrap_or(0);
        let kept: Vec<(u64, String)> = kept.ids.iter().filter_map(entry).collect();
        if let Some(seen) = seen.filter(|&seen| seen <= newest) {
            let first = kept.first().map(|(id, _)| *id);
            // Complete when the client has everything, or the stream still holds the entry
            // it saw or the one right after it.
            if seen == newest || first == Some(seen) || first == Some(seen + 1) {
                return Ok(kept
                    .into_iter()
                    .filter(|(id, _)| *id > seen)
                    .map(|(id, data)| published(id, data))
                    .collect());
            }
            // Older than anything kept: what was read from `seen` on is everything kept.
            return Ok(std::iter::once(gap_notice(last_event_id))
                .chain(kept.into_iter().map(|(id, data)| published(id, data)))
                .collect());
        }
        // An id from after the newest (Redis lost its data since) or one we never give out:
        // the notice, then everything kept.
        let all: StreamRangeReply = feed
            .redis
            .run(async |mut conn| {
                redis::cmd("XRANGE")
                    .arg(&feed.stream)
                    .arg("-")
                    .arg("+")
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(std::iter::once(gap_notice(last_event_id))
            .chain(
                all.ids
                    .iter()
                    .filter_map(entry)
                    .map(|(id, data)| published(id, data)),
            )
            .collect())
    }
    // ANCHOR_END: replay
}

/// A stream entry's number and data, if it is one of ours (`N-0`, with a `data` field).
fn entry(entry: &StreamId) -> Option<(u64, String)> {
    let (number, _) = entry.id.split_once('-')?;
    let value = entry.map.get("data")?;
    Some((
        number.parse().ok()?,
        String::from_redis_value(value.clone()).ok()?,
    ))
}

/// The event for entry `id`.
fn published(id: u64, data: String) -> Published {
    let event = Event::new().data(data);
    // A decimal number is always a valid id.
    Published::new(event.clone().id(id.to_string()).unwrap_or(event))
}

/// An event's id as a number (0 for the gap notice, which has none).
fn number(event: &Published) -> u64 {
    event.id_ref().and_then(|id| id.parse().ok()).unwrap_or(0)
}

// ANCHOR: follow
/// Follows a feed for as long as it exists: reads new entries into its live channel, and when
/// Redis fails, ends the live channel, logs, waits (with backoff) and starts again.
async fn follow(feed: Weak<FeedShared>) {
    let config = BackoffConfig {
        base: Duration::from_millis(200),
        max: Duration::from_secs(5),
        healthy_after: Duration::from_secs(10),
    };
    let mut backoff = Backoff::new(config);
    let mut failing = false;
    loop {
        let started = Instant::now();
        let outcome = follow_once(&feed, failing).await;
        let Some(shared) = feed.upgrade() else { return };
        // Ends every subscription: their clients resume from their last id.
        *shared.live() = None;
        let Err(error) = outcome else { return };
        backoff.connection_ended(Some(started.elapsed()), false);
        let delay = backoff.next_delay(
            Duration::from_millis(100),
            getrandom::u32().unwrap_or_default(),
        );
        let ended = if failing {
            "still away"
        } else {
            "live subscriptions ended"
        };
        eprintln!(
            "wirelab: feed {}: {error}; {ended}, reconnecting in {} ms",
            shared.name,
            delay.as_millis()
        );
        failing = true;
        drop(shared);
        tokio::time::sleep(delay).await;
    }
}

/// One connection's worth of following: returns `Ok` when the feed was dropped.
async fn follow_once(feed: &Weak<FeedShared>, recovering: bool) -> Result<(), RedisError> {
    let Some(shared) = feed.upgrade() else {
        return Ok(());
    };
    // A connection of its own: a blocking XREAD would hold up every command behind it.
    let mut conn = shared.redis.open(BLOCK + COMMAND_TIMEOUT).await?;
    let newest: Option<u64> = redis::cmd("GET")
        .arg(&shared.counter)
        .query_async(&mut conn)
        .await?;
    let mut newest = newest.unwrap_or(0);
    let live = broadcast::channel(shared.lag).0;
    *shared.live() = Some(live.clone());
    if recovering {
        eprintln!(
            "wirelab: feed {}: following again after id {newest}",
            shared.name
        );
    }
    let stream = shared.stream.clone();
    drop(shared);
    let block = u64::try_from(BLOCK.as_millis()).unwrap_or(u64::MAX);
    loop {
        let reply: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(100)
            .arg("BLOCK")
            .arg(block)
            .arg("STREAMS")
            .arg(&stream)
            .arg(format!("{newest}-0"))
            .query_async(&mut conn)
            .await?;
        if feed.strong_count() == 0 {
            return Ok(());
        }
        for (id, data) in reply
            .iter()
            .flat_map(|reply| &reply.keys)
            .flat_map(|key| &key.ids)
            .filter_map(entry)
        {
            if id > newest {
                newest = id;
                if let Some(shared) = feed.upgrade() {
                    shared.saw(id);
                }
                // No subscribers is not an error.
                let _ = live.send(published(id, data));
            }
        }
    }
}
// ANCHOR_END: follow
