//! Redis-backed state shared by several instances: [`RedisNonceStore`], the Digest replay
//! protection (each nonce's `nc` window) kept in Redis, and [`RedisThrottle`], the throttle's
//! failure counts.
//!
//! Digest nonces are stateless (an HMAC under the [secret](crate::DigestAuth::secret)), so a
//! nonce issued by one instance verifies on every instance that shares the secret. Replay
//! protection is state, though: with the in-memory [`MemoryNonceStore`](crate::digest::MemoryNonceStore)
//! each instance keeps its own windows, and a header accepted by instance A can be replayed
//! once on instance B. A [`RedisNonceStore`] given to every instance keeps one window per nonce
//! for all of them.
//!
//! - **Atomic, one round trip**: each use runs one Lua script (`EVALSHA`, reloaded after a
//!   Redis restart) that reads the window, decides and records, so two instances answering
//!   the same `(nonce, nc)` at the same moment cannot both accept it.
//! - **Same semantics as the in-memory store** ([`NcWindow`](crate::digest::NcWindow)): the
//!   highest count and the counts accepted within the 64 below it; out-of-order counts within
//!   the window are accepted once, replays are refused (`stale=true`), counts more than 64
//!   below the highest are refused.
//! - **Expiry**: an entry expires with the nonce ([`NonceInfo::expires`]), plus a margin of
//!   [`EXPIRY_MARGIN`] for clock differences between the instances and Redis; a later use that
//!   asks for longer extends it, never shortens it. Redis memory is bounded by the number of
//!   nonces answered within a lifetime (an entry is at most 65 small hash fields).
//! - **Deadline, fail closed**: every call has a deadline ([`DEFAULT_DEADLINE`], 250 ms,
//!   [configurable](RedisNonceStore::deadline)). When Redis is down, slow or refuses the write,
//!   the verdict is [`NonceUse::Unavailable`]: the request is answered `503 Service
//!   Unavailable` with `Retry-After: 1`, never accepted (an unchecked replay would be accepted
//!   otherwise). The connection manager reconnects in the background: when Redis is back, the
//!   next calls succeed, without a restart.
//!
//! - **Data loss**: Redis records when its data starts (the key `<prefix>nonce-since`, on a
//!   cluster one per bucket of windows, set at the first use after it started empty, [`SINCE_MARGIN`] ahead). A default nonce issued
//!   before then that Redis does not track is refused as forgotten (`stale=true`: the client
//!   retries with a new nonce), so a Redis restarted without its data never accepts a replay
//!   of an earlier header. Custom nonces (`generate_nonce`) carry no issue time: after such a
//!   loss their windows start afresh.
//! - **TLS and Redis Cluster**: [`RedisTarget`] connects to one server or a cluster, over
//!   `rediss://` with the system's roots or a CA of one's own. The keys of each call share a
//!   hash slot, so every script runs on one cluster node.
//!
//! Configure Redis so that it never evicts these keys (`maxmemory-policy noeviction`, the
//! default, or a `volatile-*` policy with room to spare): an evicted window would make a
//! captured header fresh again. With `noeviction` a full Redis refuses the write, and the
//! store fails closed.
//!
//! ```no_run
//! use httpauth::redis::RedisNonceStore;
//! use httpauth::DigestAuth;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! // Inside the Tokio runtime (the connection manager spawns its reconnection task there).
//! let store = RedisNonceStore::open("redis://127.0.0.1:6379/")?;
//! let auth = DigestAuth::get_password_sync(|u| (u == "john").then(|| "hello".to_owned()))
//!     .secret_from_file("/run/secrets/digest")?
//!     .nonce_store(store);
//! # let _ = auth; Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::{ClusterClientBuilder, ClusterConfig};
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Client, RedisError, RedisFuture, Script, Value};
use sha2::digest::Digest as _;
use sha2::Sha256;

use crate::digest::{NonceInfo, NonceStore, NonceUse};
use crate::hex;
use crate::scheme::AuthFuture;
use crate::throttle::{settle_wait, SETTLE_ROUNDS};

/// The default deadline of one Redis call (connection included): 250 ms.
pub const DEFAULT_DEADLINE: Duration = Duration::from_millis(250);

/// Added to every expiry sent to Redis: instances' clocks and Redis's may differ, and an
/// entry must never expire while some instance still accepts its nonce.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

/// How far ahead of an instance's clock the start of Redis's data is put when Redis has
/// none (first use, or after a restart that lost the data): nonces issued up to then by any
/// instance whose clock is at most this much ahead are not tracked and are refused as
/// forgotten (`stale=true`), so a restart that loses the windows never makes a captured header
/// fresh again.
pub const SINCE_MARGIN: Duration = Duration::from_secs(1);

/// The default prefix of the keys: `httpauth:`.
pub const DEFAULT_PREFIX: &str = "httpauth:";

/// The window of one nonce, as a hash: `m` the highest count accepted, and one field per
/// count accepted within the 64 below it (the same state as `NcWindow`).
/// KEYS[1]: the nonce's key. KEYS[2]: the time this Redis's data starts (set when missing).
/// ARGV[1]: nc. ARGV[2]: how long to keep the entry (ms). ARGV[3]: the nonce's issue time (ms;
/// 0 for a custom nonce). ARGV[4]: the time to record as the start of the data when missing.
/// Returns 0 fresh, 1 replayed, 2 below the window, 3 forgotten (issued before the data
/// starts: Redis lost it).
const NC_SCRIPT: &str = r"
local key = KEYS[1]
local nc = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local verdict
local max = redis.call('HGET', key, 'm')
if not max then
  local since = redis.call('GET', KEYS[2])
  if not since then
    redis.call('SET', KEYS[2], ARGV[4])
    since = ARGV[4]
  end
  local issued = tonumber(ARGV[3])
  if issued > 0 and issued <= tonumber(since) then
    return 3
  end
  redis.call('HSET', key, 'm', ARGV[1])
  verdict = 0
else
  max = tonumber(max)
  if nc > max then
    redis.call('HSET', key, 'm', ARGV[1], tostring(max), '1')
    local floor = nc - 64
    for _, f in ipairs(redis.call('HKEYS', key)) do
      if f ~= 'm' and tonumber(f) < floor then
        redis.call('HDEL', key, f)
      end
    end
    verdict = 0
  elseif nc == max then
    verdict = 1
  elseif max - nc > 64 then
    verdict = 2
  elseif redis.call('HSETNX', key, ARGV[1], '1') == 1 then
    verdict = 0
  else
    verdict = 1
  end
end
if redis.call('PTTL', key) < ttl then
  redis.call('PEXPIRE', key, ttl)
end
return verdict
";

/// A [`NonceStore`] in Redis, shared by every instance pointed at the same Redis (see the
/// [module docs](self)). Clones share the connection.
#[derive(Clone)]
pub struct RedisNonceStore {
    conn: Conn,
    /// Where `conn` goes (to connect again with another deadline); `None`: a manager given.
    target: Option<RedisTarget>,
    script: Arc<Script>,
    prefix: Arc<str>,
    deadline: Duration,
}

impl fmt::Debug for RedisNonceStore {
    // Neither the URL (it may hold a password) nor the connection.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisNonceStore")
            .field("prefix", &self.prefix)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// Where the shared state lives: one Redis server or a Redis Cluster, over plain TCP
/// (`redis://`) or TLS (`rediss://`), with the certificate authorities TLS trusts. Give the
/// same target to [`RedisNonceStore::connect`] and [`RedisThrottle::connect`].
///
/// - **TLS** (`rediss://host:port/`): rustls, the server's name (or IP address) checked
///   against its certificate. The trusted roots are the system's, or only the CA certificates
///   of [`ca_pem`](Self::ca_pem) / [`ca_file`](Self::ca_file) (a private CA, as managed
///   services and self-run servers use).
/// - **Cluster** ([`cluster`](Self::cluster)): the seed nodes (any of them; the others are
///   discovered). Every call's keys are in one hash slot, so each script runs on one node.
///
/// ```no_run
/// use httpauth::redis::{RedisNonceStore, RedisTarget, RedisThrottle};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let target = RedisTarget::server("rediss://:password@redis.internal:6380/")
///     .ca_file("/etc/ssl/redis-ca.pem")?;
/// let nonces = RedisNonceStore::connect(&target)?;
/// let counts = RedisThrottle::connect(&target, b"the salt every instance shares")?;
///
/// let cluster = RedisTarget::cluster(["redis://10.0.0.1:7000/", "redis://10.0.0.2:7000/"]);
/// let nonces = RedisNonceStore::connect(&cluster)?;
/// # let _ = (nonces, counts); Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisTarget {
    nodes: Vec<String>,
    cluster: bool,
    ca: Option<Vec<u8>>,
}

impl fmt::Debug for RedisTarget {
    // Never the URLs (they may hold a password).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTarget")
            .field("nodes", &self.nodes.len())
            .field("cluster", &self.cluster)
            .field("own_ca", &self.ca.is_some())
            .finish()
    }
}

impl RedisTarget {
    /// One Redis server: `redis://[[user]:password@]host[:port][/db]`, or `rediss://...` for
    /// TLS.
    #[must_use]
    pub fn server(url: &str) -> Self {
        Self {
            nodes: vec![url.to_owned()],
            cluster: false,
            ca: None,
        }
    }

    /// A Redis Cluster, from one or more of its nodes' URLs (`redis://` or `rediss://`, the
    /// same password on each).
    #[must_use]
    pub fn cluster<I, S>(nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self {
            nodes: nodes.into_iter().map(|n| n.as_ref().to_owned()).collect(),
            cluster: true,
            ca: None,
        }
    }

    /// Trust only these CA certificates (PEM, one or more) for `rediss://`, instead of the
    /// system's roots.
    #[must_use]
    pub fn ca_pem(mut self, pem: Vec<u8>) -> Self {
        self.ca = Some(pem);
        self
    }

    /// [`ca_pem`](Self::ca_pem) from a file.
    ///
    /// # Errors
    ///
    /// When the file cannot be read.
    pub fn ca_file(self, path: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        Ok(self.ca_pem(std::fs::read(path)?))
    }

    fn certificates(&self) -> Option<::redis::TlsCertificates> {
        self.ca.as_ref().map(|pem| ::redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pem.clone()),
        })
    }

    /// A connection that connects lazily (a store can be built while Redis is down), bounds
    /// each connection attempt and each response by `deadline`, and reconnects by itself.
    fn connection(&self, deadline: Duration) -> Result<Conn, RedisError> {
        // rustls needs a process-wide crypto provider when the application enabled more than
        // one; ours unless the application installed its own.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        if self.cluster {
            let mut builder = ClusterClientBuilder::new(self.nodes.iter().map(String::as_str))
                .connection_timeout(deadline)
                .response_timeout(deadline)
                .retries(2)
                .min_retry_wait(50)
                .max_retry_wait(500);
            if let Some(certs) = self.certificates() {
                builder = builder.certs(certs);
            }
            let config = ClusterConfig::new()
                .set_connection_timeout(deadline)
                .set_response_timeout(deadline);
            let client = builder.build()?;
            return Ok(Conn::Cluster(
                client.get_pending_async_connection_with_config(config),
            ));
        }
        let url = self.nodes.first().map_or("", String::as_str);
        let client = match self.certificates() {
            Some(certs) => Client::build_with_tls(url, certs)?,
            None => Client::open(url)?,
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(deadline))
            .set_response_timeout(Some(deadline))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        Ok(Conn::Single(ConnectionManager::new_lazy_with_config(
            client, config,
        )?))
    }
}

/// A connection to one server (through the connection manager) or to a cluster.
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a ::redis::Cmd) -> RedisFuture<'a, Value> {
        match self {
            // After a reconnect that failed (Redis was down longer than its retries), the
            // manager answers the next call with that old error, unsent, and only then
            // reconnects: a refused connection is tried once more (within the caller's
            // deadline), so the first call after Redis is back is answered.
            Self::Single(c) => Box::pin(async move {
                match c.req_packed_command(cmd).await {
                    Err(err) if err.is_connection_refusal() => c.req_packed_command(cmd).await,
                    answer => answer,
                }
            }),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a ::redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

impl RedisNonceStore {
    /// A store on the Redis at `url` (`redis://[:password@]host[:port][/db]`, or
    /// `rediss://` for TLS with the system's roots), with the [default
    /// deadline](DEFAULT_DEADLINE). It connects lazily: Redis may be down when it is built
    /// (uses fail closed until it is up). [`connect`](Self::connect) takes a cluster or a CA
    /// of one's own.
    ///
    /// Call it inside a Tokio runtime (the connection manager's task runs there).
    ///
    /// # Errors
    ///
    /// When `url` is not a valid Redis URL.
    pub fn open(url: &str) -> Result<Self, RedisError> {
        Self::connect(&RedisTarget::server(url))
    }

    /// A store on `target` (a server or a cluster, TLS with its roots), like
    /// [`open`](Self::open).
    ///
    /// # Errors
    ///
    /// When a URL is not a valid Redis URL, or a CA file holds no certificate.
    pub fn connect(target: &RedisTarget) -> Result<Self, RedisError> {
        let mut store = Self::with_conn(target.connection(DEFAULT_DEADLINE)?);
        store.target = Some(target.clone());
        Ok(store)
    }

    /// A store over a connection manager you built (its own timeouts and retries apply
    /// beneath the store's [deadline](Self::deadline)).
    #[must_use]
    pub fn with_manager(conn: ConnectionManager) -> Self {
        Self::with_conn(Conn::Single(conn))
    }

    fn with_conn(conn: Conn) -> Self {
        Self {
            conn,
            target: None,
            script: Arc::new(Script::new(NC_SCRIPT)),
            prefix: Arc::from(DEFAULT_PREFIX),
            deadline: DEFAULT_DEADLINE,
        }
    }

    /// The deadline of one call, connecting included (default [`DEFAULT_DEADLINE`]): past it,
    /// the use is refused with [`NonceUse::Unavailable`] (503).
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        if let Some(conn) = self
            .target
            .as_ref()
            .and_then(|t| t.connection(deadline).ok())
        {
            self.conn = conn;
        }
        self
    }

    /// The prefix of every key (default [`DEFAULT_PREFIX`]; without `{` or `}`, which Redis
    /// Cluster reads as a hash tag); keys are `<prefix>nonce:<32 hex digits>` (half of the
    /// nonce's SHA-256) and `<prefix>nonce-since`. On a cluster, one call's keys share a hash
    /// slot: `<prefix>nonce:{<2 hex digits>}<30 hex digits>` and `<prefix>nonce-since:{<the
    /// same 2 hex digits>}`.
    #[must_use]
    pub fn key_prefix(mut self, prefix: &str) -> Self {
        self.prefix = Arc::from(prefix);
        self
    }

    /// The window's key and the data-start key. On a cluster they share a hash slot (`{..}`,
    /// a hash tag), so one script call touches one node, and 256 buckets spread the nonces
    /// over the nodes, each bucket with its own data-start key.
    fn keys(&self, nonce: &str) -> (String, String) {
        let digest = Sha256::digest(nonce.as_bytes());
        let hex = hex::encode(&digest[..16]);
        if !matches!(self.conn, Conn::Cluster(_)) {
            return (
                format!("{}nonce:{hex}", self.prefix),
                format!("{}nonce-since", self.prefix),
            );
        }
        let (bucket, rest) = hex.split_at(2);
        (
            format!("{}nonce:{{{bucket}}}{rest}", self.prefix),
            format!("{}nonce-since:{{{bucket}}}", self.prefix),
        )
    }
}

/// How long Redis keeps an entry whose use asks to be remembered until `expires`.
fn ttl_ms(expires: SystemTime, now: SystemTime) -> u64 {
    let left = expires.duration_since(now).unwrap_or(Duration::ZERO);
    u64::try_from((left + EXPIRY_MARGIN).as_millis()).unwrap_or(u64::MAX)
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl NonceStore for RedisNonceStore {
    fn check(&self, info: NonceInfo<'_>) -> AuthFuture<NonceUse> {
        let (key, since_key) = self.keys(info.nonce);
        let nc = info.nc;
        let now = SystemTime::now();
        let ttl = ttl_ms(info.expires, now);
        // A custom nonce's issue time is unknown (`issued` is the time of this use).
        let issued = if info.custom { 0 } else { unix_ms(info.issued) };
        let since = unix_ms(now + SINCE_MARGIN);
        let mut conn = self.conn.clone();
        let script = self.script.clone();
        let deadline = self.deadline;
        AuthFuture::new(async move {
            let call = async {
                script
                    .key(&key)
                    .key(&since_key)
                    .arg(nc)
                    .arg(ttl)
                    .arg(issued)
                    .arg(since)
                    .invoke_async::<i64>(&mut conn)
                    .await
            };
            match tokio::time::timeout(deadline, call).await {
                Ok(Ok(0)) => NonceUse::Fresh,
                Ok(Ok(1)) => NonceUse::Replayed,
                Ok(Ok(2)) => NonceUse::TooOld,
                Ok(Ok(3)) => NonceUse::Forgotten,
                Ok(Ok(other)) => {
                    tracing::warn!(target: "httpauth", verdict = other, "Redis nonce store: unexpected answer; refused (503)");
                    NonceUse::Unavailable
                }
                Ok(Err(err)) => {
                    tracing::warn!(target: "httpauth", kind = ?err.kind(), "Redis nonce store unavailable; refused (503)");
                    NonceUse::Unavailable
                }
                Err(_) => {
                    tracing::warn!(target: "httpauth", deadline_ms = u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX), "Redis nonce store too slow; refused (503)");
                    NonceUse::Unavailable
                }
            }
        })
    }
}

/// Admits an attempt against the throttle's shared count (see [`RedisThrottle`]).
/// KEYS[1..3]: the sketch's slots (the current one, the one before, the one before that);
/// KEYS[4..]: each key's set of attempts in flight. ARGV[1]: now (Unix ms). ARGV[2]: the
/// length of a slot (ms). ARGV[3]: the current slot's number. ARGV[4]: how long an attempt may
/// stay in flight (ms). ARGV[5]: this attempt's member. Then per key: its limit (0: counted,
/// not judged) and its 4 counters. Returns -1 admitted (counted in flight for every key), -2
/// blocked only by attempts in flight (their failures are under the limits: they settle
/// within a check), or the milliseconds to wait.
const ADMIT_SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local slot = tonumber(ARGV[2])
local epoch = tonumber(ARGV[3])
local life = tonumber(ARGV[4])
local n = #KEYS - 3
local wait = -1
local settling = false
for i = 1, n do
  local a = 5 + (i - 1) * 5
  local limit = tonumber(ARGV[a + 1])
  if limit > 0 then
    local flight = KEYS[3 + i]
    redis.call('ZREMRANGEBYSCORE', flight, '-inf', now)
    local inflight = redis.call('ZCARD', flight)
    local total = 0
    local counts = {}
    for s = 3, 1, -1 do
      local v = redis.call('BITFIELD_RO', KEYS[s],
        'GET', 'u8', '#' .. ARGV[a + 2], 'GET', 'u8', '#' .. ARGV[a + 3],
        'GET', 'u8', '#' .. ARGV[a + 4], 'GET', 'u8', '#' .. ARGV[a + 5])
      local m = math.min(v[1], v[2], v[3], v[4])
      counts[4 - s] = m
      total = total + m
    end
    if total >= limit then
      local w = 1000
      for j = 1, 3 do
        total = total - counts[j]
        if counts[j] > 0 and total < limit then
          w = math.max((epoch + j) * slot - now, 1)
          break
        end
      end
      if w > wait then wait = w end
    elseif total + inflight >= limit then
      settling = true
    end
  end
end
if wait >= 0 then
  return wait
end
if settling then
  return -2
end
for i = 1, n do
  redis.call('ZADD', KEYS[3 + i], now + life, ARGV[5])
  redis.call('PEXPIRE', KEYS[3 + i], life)
end
return -1
";

/// Counts one failure of a key in the current slot, conservatively (only the counters at the
/// key's least are raised), and takes its attempt out of flight.
/// KEYS[1]: the current slot. KEYS[2]: the key's set of attempts in flight. ARGV[1]: the
/// attempt's member ('' when it was not in flight). ARGV[2]: how long the slot is still live
/// (ms, from the instance's clock: relative, so Redis's own clock does not matter).
/// ARGV[3..6]: the key's counters.
const FAILURE_SCRIPT: &str = r"
if ARGV[1] ~= '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
end
local c = {'#' .. ARGV[3], '#' .. ARGV[4], '#' .. ARGV[5], '#' .. ARGV[6]}
local v = redis.call('BITFIELD', KEYS[1],
  'GET', 'u8', c[1], 'GET', 'u8', c[2], 'GET', 'u8', c[3], 'GET', 'u8', c[4])
local next = math.min(math.min(v[1], v[2], v[3], v[4]) + 1, 255)
local set = {}
for r = 1, 4 do
  if v[r] < next then
    table.insert(set, 'SET')
    table.insert(set, 'u8')
    table.insert(set, c[r])
    table.insert(set, next)
  end
end
if #set > 0 then
  redis.call('BITFIELD', KEYS[1], unpack(set))
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
";

/// The highest limit the Redis counts hold (one-byte counters): a higher limit acts as this.
pub const MAX_LIMIT: u32 = 255;

/// How long an attempt may stay in flight in Redis before its count lapses by itself (an
/// instance that stopped mid-check never leaves a count behind for longer).
pub const MAX_IN_FLIGHT: Duration = Duration::from_secs(60);

/// A [`ThrottleStore`](crate::throttle::ThrottleStore) in Redis: failures counted once for
/// every instance pointed at it, in fixed memory, every attempt admitted against the shared
/// count before it is verified.
///
/// - **Atomic admission**: before anything is verified, one Lua script reads the counts of
///   the attempt's username (or familiar pair) and address, plus the attempts in flight for
///   them on every instance, and either refuses (429) or counts the attempt in flight for
///   every key, in one step. A burst of concurrent guesses spread over several instances
///   meets the limit together: of 1 000 concurrent wrong guesses for one user over two
///   instances, at most the limit are checked. The outcome settles the attempt: a wrong
///   secret becomes a failure in the count, anything else is taken back.
/// - **Fixed memory in Redis**: the counts are a count-min sketch (4 rows of
///   [`width`](Self::width) one-byte counters, default 2^19) per half window, three live: at
///   most 3 × 4 × width bytes (6 MiB at the default; 2 MiB per half window written), whatever
///   the number of usernames and addresses counted. A key counts up to 255 failures per half
///   window, so a limit above [`MAX_LIMIT`] acts as 255. The sketch never under-counts, so a
///   key at its limit stays blocked until its failures age out, however many other keys an
///   attacker makes it count; it may over-count an innocent key whose 4 counters are all
///   shared with keys at their limit: about `(1 - e^(-k/width))^4` for `k` such keys in a
///   window. At the default width and a flood of 70 000 usernames × 10 failures from 7 000
///   addresses (each failure counts for the username, the address and their pair: `k` ≈
///   147 000), about 0.4 % of innocent usernames (measured 0.44 %, no innocent address:
///   `throttle::tests::the_shared_width_over_counts_rarely_at_the_flood`), far less at
///   ordinary levels. Attempts in flight are kept exactly, one small sorted set per key being
///   checked (gone when its last attempt settles; an attempt left by an instance that stopped
///   lapses after [`MAX_IN_FLIGHT`]). The keys share one hash tag (`<prefix>{throttle}:`),
///   so on a cluster they live on one node. Expiries are relative (Redis's clock may differ
///   from the instances'); the slots are numbered by each instance's clock, so the instances'
///   clocks must agree (NTP). Needs Redis 6.2 or later (`BITFIELD_RO`).
/// - **This instance's count first**: every attempt is admitted against this instance's own
///   counts ([`MemoryThrottle`](crate::throttle::MemoryThrottle)) before Redis is asked, and
///   every failure is counted there too. While Redis is down or slower than the
///   [deadline](Self::deadline), each instance still enforces the limits by itself (at most
///   the limit per instance); what is lost is the sum across instances, and the failures
///   counted during the outage are not copied to Redis. When Redis answers again, shared
///   counting resumes with the next attempt. [`fail_closed`](Self::fail_closed) refuses
///   instead while Redis does not answer.
/// - **Keys**: keyed 64-bit hashes under the salt given to [`open`](Self::open) (the same on
///   every instance: the Digest secret will do). A success does not reset a count in the
///   sketch (its counters are shared): it makes the address familiar to the user (smart
///   lockout, kept by each instance).
#[derive(Clone)]
pub struct RedisThrottle {
    conn: Conn,
    target: RedisTarget,
    admit: Arc<Script>,
    failure: Arc<Script>,
    prefix: Arc<str>,
    deadline: Duration,
    width: usize,
    salt: Arc<[u8]>,
    local: Arc<crate::throttle::MemoryThrottle>,
    fail_closed: bool,
    /// This instance's attempts in flight in Redis, per key: their members' numbers (0:
    /// counted in this instance only, Redis did not answer).
    flight:
        Arc<std::sync::Mutex<std::collections::HashMap<crate::throttle::ThrottleKey, Vec<u64>>>>,
    /// This instance's random tag (in every member) and the next member's number.
    instance: u64,
    next: Arc<std::sync::atomic::AtomicU64>,
    /// Until when Redis is taken as down (fail-closed mode), after a failed call.
    down_until: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

impl fmt::Debug for RedisThrottle {
    // Neither the URL, the salt nor the connection.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisThrottle")
            .field("prefix", &self.prefix)
            .field("deadline", &self.deadline)
            .field("width", &self.width)
            .finish_non_exhaustive()
    }
}

/// The default width of the Redis sketch: 2^19 counters per row.
pub const DEFAULT_THROTTLE_WIDTH: usize = 1 << 19;

type Key = crate::throttle::ThrottleKey;

impl RedisThrottle {
    /// A throttle store on the Redis at `url`, its keys salted with `salt` (give every
    /// instance the same one, e.g. the Digest secret). Connects lazily; call it inside a Tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// When `url` is not a valid Redis URL.
    pub fn open(url: &str, salt: &[u8]) -> Result<Self, RedisError> {
        Self::connect(&RedisTarget::server(url), salt)
    }

    /// A throttle store on `target` (a server or a cluster, TLS with its roots), like
    /// [`open`](Self::open).
    ///
    /// # Errors
    ///
    /// When a URL is not a valid Redis URL, or a CA file holds no certificate.
    pub fn connect(target: &RedisTarget, salt: &[u8]) -> Result<Self, RedisError> {
        let mut tag = [0u8; 8];
        // A tag that is not random only risks two instances sharing member names.
        let _ = getrandom::getrandom(&mut tag);
        Ok(Self {
            conn: target.connection(DEFAULT_DEADLINE)?,
            target: target.clone(),
            admit: Arc::new(Script::new(ADMIT_SCRIPT)),
            failure: Arc::new(Script::new(FAILURE_SCRIPT)),
            prefix: Arc::from(DEFAULT_PREFIX),
            deadline: DEFAULT_DEADLINE,
            width: DEFAULT_THROTTLE_WIDTH,
            salt: Arc::from(salt),
            local: Arc::new(crate::throttle::MemoryThrottle::default()),
            fail_closed: false,
            flight: Arc::default(),
            instance: u64::from_le_bytes(tag),
            next: Arc::new(std::sync::atomic::AtomicU64::new(1)),
            down_until: Arc::default(),
        })
    }

    /// Fail closed instead of open (default: open, see the type's docs): while Redis does not
    /// answer, every attempt the throttle counts (one with a username or a client address
    /// under a limit) is refused with `429` and `Retry-After: 1` (after the first failed
    /// call), until a call succeeds again.
    #[must_use]
    pub fn fail_closed(mut self, yes: bool) -> Self {
        self.fail_closed = yes;
        self
    }

    /// The deadline of one call, connecting included (default [`DEFAULT_DEADLINE`]); past it,
    /// the attempt is judged and counted by this instance alone.
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        if let Ok(conn) = self.target.connection(deadline) {
            self.conn = conn;
        }
        self
    }

    /// The prefix of every key (default [`DEFAULT_PREFIX`]; without braces, which would change
    /// the keys' hash tag).
    #[must_use]
    pub fn key_prefix(mut self, prefix: &str) -> Self {
        self.prefix = Arc::from(prefix);
        self
    }

    /// The counters per row of the sketch in Redis (rounded up to a power of two, at least 64;
    /// default [`DEFAULT_THROTTLE_WIDTH`]). Redis holds at most [`bytes`](Self::bytes) of
    /// counts. Give every instance the same width.
    #[must_use]
    pub fn width(mut self, width: usize) -> Self {
        self.width = width.clamp(64, 1 << 24).next_power_of_two();
        self
    }

    /// The most memory the counts take in Redis, in bytes: 3 half windows × 4 rows × width
    /// one-byte counters (the attempts in flight add a few hundred bytes each while they are
    /// checked).
    #[must_use]
    pub fn bytes(&self) -> usize {
        3 * 4 * self.width
    }

    fn slot_key(&self, slot_ms: u64, epoch: u64) -> String {
        format!("{}{{throttle}}:s:{slot_ms}:{epoch}", self.prefix)
    }

    fn flight_key(&self, key: Key) -> String {
        let (kind, h) = match key {
            Key::User(h) => ("u", h),
            Key::Addr(h) => ("a", h),
        };
        format!("{}{{throttle}}:f:{kind}:{h:016x}", self.prefix)
    }

    fn member(&self, id: u64) -> String {
        format!("{:016x}{id:016x}", self.instance)
    }

    /// The slot length and the current slot's number.
    fn slot(window: Duration) -> (u64, u64, u64) {
        let slot_ms = u64::try_from(window.as_millis() / 2)
            .unwrap_or(u64::MAX)
            .max(1);
        let now = unix_ms(SystemTime::now());
        (now, slot_ms, now / slot_ms)
    }

    /// Admits in Redis; `None`: no answer within the deadline.
    async fn admit_shared(
        &self,
        keys: &[(Key, Option<u32>)],
        window: Duration,
        id: u64,
    ) -> Option<Shared> {
        let (now, slot_ms, epoch) = Self::slot(window);
        let mut invocation = self.admit.prepare_invoke();
        for back in 0..3 {
            invocation.key(self.slot_key(slot_ms, epoch.saturating_sub(back)));
        }
        for &(key, _) in keys {
            invocation.key(self.flight_key(key));
        }
        let life = u64::try_from(MAX_IN_FLIGHT.as_millis()).unwrap_or(60_000);
        invocation
            .arg(now)
            .arg(slot_ms)
            .arg(epoch)
            .arg(life)
            .arg(self.member(id));
        for &(key, limit) in keys {
            // One-byte counters: a limit above 255 acts as 255.
            invocation.arg(limit.map_or(0, |l| l.min(MAX_LIMIT)));
            for cell in crate::throttle::sketch_cells(key, self.width) {
                invocation.arg(cell);
            }
        }
        let mut conn = self.conn.clone();
        let call = invocation.invoke_async::<i64>(&mut conn);
        match tokio::time::timeout(self.deadline, call).await {
            Ok(Ok(answer)) => {
                self.up();
                Some(match answer {
                    -1 => Shared::Admitted,
                    -2 => Shared::Settling,
                    wait => {
                        Shared::Wait(Duration::from_millis(u64::try_from(wait).unwrap_or(1_000)))
                    }
                })
            }
            _ => {
                self.down();
                None
            }
        }
    }

    /// Counts one failure of `key` in Redis (taking its attempt `id` out of flight), within
    /// the deadline.
    async fn fail_shared(&self, key: Key, window: Duration, id: Option<u64>) {
        let (now, slot_ms, epoch) = Self::slot(window);
        // Relative: Redis's clock may differ from the instances' (an absolute expiry in the
        // past by Redis's clock would delete the slot as it is written).
        let ttl = (epoch + 3)
            .saturating_mul(slot_ms)
            .saturating_sub(now)
            .max(1);
        let mut invocation = self.failure.prepare_invoke();
        invocation
            .key(self.slot_key(slot_ms, epoch))
            .key(self.flight_key(key))
            .arg(id.map(|id| self.member(id)).unwrap_or_default())
            .arg(ttl);
        for cell in crate::throttle::sketch_cells(key, self.width) {
            invocation.arg(cell);
        }
        let mut conn = self.conn.clone();
        let call = invocation.invoke_async::<i64>(&mut conn);
        if matches!(tokio::time::timeout(self.deadline, call).await, Ok(Ok(_))) {
            self.up();
        } else {
            self.down();
        }
    }

    fn up(&self) {
        *self
            .down_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    fn down(&self) {
        if self.fail_closed {
            *self
                .down_until
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some(std::time::Instant::now() + Duration::from_secs(1));
            tracing::warn!(target: "httpauth", "Redis throttle store unavailable; refusing throttled attempts for a second (fail closed)");
        } else {
            tracing::warn!(target: "httpauth", "Redis throttle store unavailable; each instance judges by its own counts (fail open)");
        }
    }

    /// How long Redis is still taken as down (fail-closed mode).
    fn down_for(&self) -> Option<Duration> {
        if !self.fail_closed {
            return None;
        }
        let now = std::time::Instant::now();
        self.down_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .filter(|until| now < *until)
            .map(|until| until - now)
    }

    fn flight(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<Key, Vec<u64>>> {
        self.flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes one of this instance's attempts in flight for `key`: its member's number (0: in
    /// this instance only), `None` when there is none.
    fn land(&self, key: Key) -> Option<u64> {
        let mut flight = self.flight();
        let ids = flight.get_mut(&key)?;
        let id = ids.pop();
        if ids.is_empty() {
            flight.remove(&key);
        }
        id
    }

    /// Takes these attempts (a key and the attempt's number) out of flight in Redis: one
    /// pipelined call, in the background.
    fn out_of_flight(&self, entries: Vec<(Key, u64)>) {
        if entries.is_empty() {
            return;
        }
        let entries: Vec<(String, String)> = entries
            .into_iter()
            .map(|(key, id)| (self.flight_key(key), self.member(id)))
            .collect();
        self.in_background(move |mut conn| async move {
            let mut pipe = ::redis::pipe();
            for (flight, member) in &entries {
                pipe.cmd("ZREM").arg(flight).arg(member).ignore();
            }
            pipe.query_async::<()>(&mut conn).await
        });
    }

    /// A call whose answer no request needs (taking an attempt out of flight), run within the
    /// deadline on the runtime without making the request wait for it; dropped outside a
    /// Tokio runtime (the member lapses after [`MAX_IN_FLIGHT`]).
    fn in_background<F, Fut>(&self, call: F)
    where
        F: FnOnce(Conn) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), RedisError>> + Send + 'static,
    {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (conn, deadline) = (self.conn.clone(), self.deadline);
            runtime.spawn(async move {
                let _ = tokio::time::timeout(deadline, call(conn)).await;
            });
        }
    }
}

/// Redis's answer to an admission.
enum Shared {
    /// Counted in flight for every key.
    Admitted,
    /// Blocked only by attempts in flight (on any instance): judged again once they settle.
    Settling,
    /// Over a limit: wait this long.
    Wait(Duration),
}

/// An attempt being admitted: counted in flight in this instance's own counts while Redis is
/// asked. Dropped armed (the request was dropped before Redis answered, or Redis refused),
/// it is taken back here, and in Redis (in the background) in case Redis counted it.
struct Admitting {
    store: RedisThrottle,
    keys: Vec<(Key, Option<u32>)>,
    id: u64,
    armed: bool,
}

impl Admitting {
    /// An attempt this instance counted in flight for `keys`, about to be asked of Redis.
    fn new(store: &RedisThrottle, keys: &[(Key, Option<u32>)]) -> Self {
        Self {
            store: store.clone(),
            keys: keys.to_vec(),
            id: store
                .next
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            armed: true,
        }
    }

    /// Takes the attempt back from this instance's counts (Redis counted nothing).
    fn refused(&mut self) {
        self.armed = false;
        for &(key, _) in &self.keys {
            drop(crate::throttle::ThrottleStore::forgive(
                &*self.store.local,
                key,
            ));
        }
    }

    /// Takes the attempt out of flight in Redis, in the background, in case Redis counted it
    /// (its script was sent, and no answer came in time).
    fn forget_in_redis(&self) {
        let entries = self.keys.iter().map(|&(key, _)| (key, self.id)).collect();
        self.store.out_of_flight(entries);
    }

    /// Admitted: its settling is the policy's now.
    fn admitted(&mut self, id: u64) {
        self.armed = false;
        let mut flight = self.store.flight();
        for &(key, _) in &self.keys {
            flight.entry(key).or_default().push(id);
        }
    }
}

impl Drop for Admitting {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        self.refused();
        self.forget_in_redis();
    }
}

impl crate::throttle::ThrottleStore for RedisThrottle {
    /// This instance's own counts (an early answer, before the shared admission).
    fn blocked(&self, key: Key, limit: u32, window: Duration) -> Option<Duration> {
        self.down_for()
            .or_else(|| self.local.blocked(key, limit, window))
    }

    fn shared(&self) -> bool {
        true
    }

    fn admit(
        &self,
        keys: &[(Key, Option<u32>)],
        window: Duration,
    ) -> AuthFuture<Result<(), Duration>> {
        if let Some(wait) = self.down_for() {
            return AuthFuture::ready(Err(wait));
        }
        // This instance's counts first, at once: a burst on one instance meets the limit
        // whatever Redis does.
        let mut begun = match self.local.try_begin(keys, window) {
            Ok(()) => Some(Admitting::new(self, keys)),
            Err((wait, false)) => return AuthFuture::ready(Err(wait)),
            // Blocked only by this instance's attempts in flight: wait for them below.
            Err((_, true)) => None,
        };
        let (this, keys) = (self.clone(), keys.to_vec());
        AuthFuture::new(async move {
            let mut round = 0;
            loop {
                let mut guard = match begun.take() {
                    Some(guard) => guard,
                    None => match this.local.try_begin(&keys, window) {
                        Ok(()) => Admitting::new(&this, &keys),
                        Err((wait, false)) => return Err(wait),
                        Err((wait, true)) if round >= SETTLE_ROUNDS => return Err(wait),
                        Err((_, true)) => {
                            crate::timer::Delay::new(settle_wait(round)).await;
                            round += 1;
                            continue;
                        }
                    },
                };
                match this.admit_shared(&guard.keys, window, guard.id).await {
                    Some(Shared::Admitted) => {
                        guard.admitted(guard.id);
                        return Ok(());
                    }
                    Some(Shared::Wait(wait)) => {
                        guard.refused();
                        return Err(wait);
                    }
                    // Blocked by attempts in flight on other instances: Redis counted nothing.
                    Some(Shared::Settling) => {
                        guard.refused();
                        if round >= SETTLE_ROUNDS {
                            return Err(Duration::from_secs(1));
                        }
                        crate::timer::Delay::new(settle_wait(round)).await;
                        round += 1;
                    }
                    // Redis did not answer: whatever it counts later is taken back.
                    None if this.fail_closed => {
                        guard.refused();
                        guard.forget_in_redis();
                        return Err(Duration::from_secs(1));
                    }
                    // Judged and counted by this instance alone.
                    None => {
                        guard.forget_in_redis();
                        guard.admitted(0);
                        return Ok(());
                    }
                }
            }
        })
    }

    fn settling(&self, key: Key, limit: u32, window: Duration) -> bool {
        crate::throttle::ThrottleStore::settling(&*self.local, key, limit, window)
    }

    fn record_failure(&self, key: Key, window: Duration) -> AuthFuture<()> {
        drop(crate::throttle::ThrottleStore::record_failure(
            &*self.local,
            key,
            window,
        ));
        let this = self.clone();
        AuthFuture::new(async move { this.fail_shared(key, window, None).await })
    }

    /// Admitted like any attempt, without a limit (counted, not judged).
    fn begin(&self, key: Key, window: Duration) -> AuthFuture<()> {
        self.admit(&[(key, None)], window).map(drop)
    }

    fn commit(&self, key: Key, window: Duration) -> AuthFuture<()> {
        drop(crate::throttle::ThrottleStore::commit(
            &*self.local,
            key,
            window,
        ));
        match self.land(key) {
            Some(0) => AuthFuture::ready(()),
            id => {
                let this = self.clone();
                AuthFuture::new(async move { this.fail_shared(key, window, id).await })
            }
        }
    }

    fn forgive(&self, key: Key) -> AuthFuture<()> {
        self.forgive_all(&[key])
    }

    /// The attempts' entries in flight in Redis are removed in one pipelined call, in the
    /// background (the request does not wait for it).
    fn forgive_all(&self, keys: &[Key]) -> AuthFuture<()> {
        let mut landed = Vec::new();
        for &key in keys {
            drop(crate::throttle::ThrottleStore::forgive(&*self.local, key));
            if let Some(id) = self.land(key).filter(|&id| id != 0) {
                landed.push((key, id));
            }
        }
        self.out_of_flight(landed);
        AuthFuture::ready(())
    }

    /// Counts in the sketch are shared by keys: a success makes the address familiar instead.
    fn reset(&self, _key: Key) -> AuthFuture<()> {
        AuthFuture::ready(())
    }

    fn key_salt(&self) -> Option<Arc<[u8]>> {
        Some(self.salt.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_has_a_margin_and_never_underflows() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(ttl_ms(now + Duration::from_secs(300), now), 330_000);
        assert_eq!(ttl_ms(now - Duration::from_secs(5), now), 30_000);
    }
}
