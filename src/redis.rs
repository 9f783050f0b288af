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
        Ok(Self::with_conn(target.connection(DEFAULT_DEADLINE)?))
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
            script: Arc::new(Script::new(NC_SCRIPT)),
            prefix: Arc::from(DEFAULT_PREFIX),
            deadline: DEFAULT_DEADLINE,
        }
    }

    /// The deadline of one call (default [`DEFAULT_DEADLINE`]): past it, the use is refused
    /// with [`NonceUse::Unavailable`] (503).
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
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

/// The throttle's script: count one failure, start the window at the first, answer the count
/// and the window's remaining milliseconds.
const FAILURE_SCRIPT: &str = r"
local c = redis.call('INCR', KEYS[1])
if c == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {c, ttl}
";

/// Takes back one failure, never below zero.
const FORGIVE_SCRIPT: &str = r"
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if c > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
";

/// A [`ThrottleStore`](crate::throttle::ThrottleStore) in Redis: failures counted once across
/// every instance pointed at it, each count expiring with its window.
///
/// - **One round trip per failure**: a Lua script increments the count and starts the window
///   at the first failure; its answer (the shared count and the time left) updates this
///   instance's local view, from which [`blocked`](crate::throttle::ThrottleStore::blocked)
///   answers at once. A key blocked by failures on instance A is known to instance B after
///   B's next recorded failure for it (one more attempt at most per instance).
/// - **Keys**: keyed 64-bit hashes under the salt given to [`open`](Self::open) (the same on
///   every instance: the Digest secret will do), `<prefix>throttle:<16 hex digits>`; bounded
///   by the failures of one window. The local view is bounded too (oldest entries dropped).
/// - **Faults: fail open by default** ([`fail_closed`](Self::fail_closed) to change it): when Redis is down or slower than the
///   [deadline](Self::deadline), failures are counted in the local view only, and requests are
///   judged by it. A throttle that failed closed would refuse every login of every user while
///   Redis is down; the hashing pool stays bounded either way, and Digest replay protection
///   fails closed on its own. When Redis is back, shared counting resumes by itself.
#[derive(Clone)]
pub struct RedisThrottle {
    conn: Conn,
    failure: Arc<Script>,
    forgive: Arc<Script>,
    prefix: Arc<str>,
    deadline: Duration,
    salt: Arc<[u8]>,
    local: Arc<crate::throttle::MemoryThrottle>,
    view: Arc<
        std::sync::Mutex<
            std::collections::HashMap<crate::throttle::ThrottleKey, (u32, std::time::Instant)>,
        >,
    >,
    fail_closed: bool,
    /// Attempts begun while Redis did not answer, per key (settled in `local`).
    local_begun:
        Arc<std::sync::Mutex<std::collections::HashMap<crate::throttle::ThrottleKey, u32>>>,
    /// Until when Redis is taken as down (fail-closed mode), after a failed call.
    down_until: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

impl fmt::Debug for RedisThrottle {
    // Neither the URL, the salt nor the connection.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisThrottle")
            .field("prefix", &self.prefix)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// The most keys the local view of a [`RedisThrottle`] keeps.
const VIEW_CAPACITY: usize = 65_536;

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
    /// [`open`](Self::open). Each call touches one key, so a cluster spreads the counts over
    /// its nodes.
    ///
    /// # Errors
    ///
    /// When a URL is not a valid Redis URL, or a CA file holds no certificate.
    pub fn connect(target: &RedisTarget, salt: &[u8]) -> Result<Self, RedisError> {
        Ok(Self {
            conn: target.connection(DEFAULT_DEADLINE)?,
            failure: Arc::new(Script::new(FAILURE_SCRIPT)),
            forgive: Arc::new(Script::new(FORGIVE_SCRIPT)),
            prefix: Arc::from(DEFAULT_PREFIX),
            deadline: DEFAULT_DEADLINE,
            salt: Arc::from(salt),
            local: Arc::new(crate::throttle::MemoryThrottle::default()),
            view: Arc::default(),
            fail_closed: false,
            local_begun: Arc::default(),
            down_until: Arc::default(),
        })
    }

    /// Fail closed instead of open (default: open, see the type's docs): while Redis does not
    /// answer, every attempt on a throttled route is refused with `429` and `Retry-After: 1`
    /// (after the first failed call), until a call succeeds again.
    #[must_use]
    pub fn fail_closed(mut self, yes: bool) -> Self {
        self.fail_closed = yes;
        self
    }

    /// The deadline of one call (default [`DEFAULT_DEADLINE`]); past it, the failure is
    /// counted locally only.
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The prefix of every key (default [`DEFAULT_PREFIX`]).
    #[must_use]
    pub fn key_prefix(mut self, prefix: &str) -> Self {
        self.prefix = Arc::from(prefix);
        self
    }

    fn key(&self, key: crate::throttle::ThrottleKey) -> String {
        let (kind, h) = match key {
            crate::throttle::ThrottleKey::User(h) => ("u", h),
            crate::throttle::ThrottleKey::Addr(h) => ("a", h),
        };
        format!("{}throttle:{kind}:{h:016x}", self.prefix)
    }

    /// One failure counted in Redis within the deadline, its answer kept in the local view;
    /// `false` when Redis did not answer (the caller counts locally).
    async fn count(&self, key: crate::throttle::ThrottleKey, window: Duration) -> bool {
        let redis_key = self.key(key);
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut conn = self.conn.clone();
        let call = async {
            self.failure
                .key(&redis_key)
                .arg(window_ms)
                .invoke_async::<(i64, i64)>(&mut conn)
                .await
        };
        if let Ok(Ok((count, ttl))) = tokio::time::timeout(self.deadline, call).await {
            let until = std::time::Instant::now()
                + Duration::from_millis(u64::try_from(ttl.max(0)).unwrap_or(0));
            let count = u32::try_from(count.max(0)).unwrap_or(u32::MAX);
            let mut view = self.view();
            if view.len() >= VIEW_CAPACITY {
                let now = std::time::Instant::now();
                view.retain(|_, (_, until)| *until > now);
                if view.len() >= VIEW_CAPACITY {
                    view.clear();
                }
            }
            view.insert(key, (count, until));
            drop(view);
            *self
                .down_until
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
            return true;
        }
        if self.fail_closed {
            *self
                .down_until
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some(std::time::Instant::now() + Duration::from_secs(1));
            tracing::warn!(target: "httpauth", "Redis throttle store unavailable; refusing throttled attempts for a second (fail closed), counting locally");
        } else {
            tracing::warn!(target: "httpauth", "Redis throttle store unavailable; counting locally (fail open)");
        }
        false
    }

    /// Attempts begun while Redis did not answer, per key (settled in the local view).
    fn local_begun(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<crate::throttle::ThrottleKey, u32>>
    {
        self.local_begun
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether an attempt for `key` was begun locally (and takes it).
    fn take_local_begun(&self, key: crate::throttle::ThrottleKey) -> bool {
        let mut begun = self.local_begun();
        match begun.get_mut(&key) {
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    begun.remove(&key);
                }
                true
            }
            None => false,
        }
    }

    /// A call whose answer no request needs (taking a count back), run within the deadline on
    /// the runtime without making the request wait for it; dropped outside a Tokio runtime.
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

    fn view(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        std::collections::HashMap<crate::throttle::ThrottleKey, (u32, std::time::Instant)>,
    > {
        self.view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl crate::throttle::ThrottleStore for RedisThrottle {
    fn blocked(
        &self,
        key: crate::throttle::ThrottleKey,
        limit: u32,
        window: Duration,
    ) -> Option<Duration> {
        let now = std::time::Instant::now();
        if self.fail_closed {
            let down = *self
                .down_until
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(until) = down.filter(|until| now < *until) {
                return Some(until - now);
            }
        }
        let shared = self
            .view()
            .get(&key)
            .filter(|(count, until)| *count >= limit && now < *until)
            .map(|(_, until)| *until - now);
        shared.or_else(|| self.local.blocked(key, limit, window))
    }

    fn record_failure(
        &self,
        key: crate::throttle::ThrottleKey,
        window: Duration,
    ) -> AuthFuture<()> {
        let this = self.clone();
        AuthFuture::new(async move {
            if !this.count(key, window).await {
                crate::throttle::ThrottleStore::record_failure(&*this.local, key, window).await;
            }
        })
    }

    /// Counted in Redis at once (so every instance sees the attempt before it is checked);
    /// when Redis does not answer within the deadline, counted in flight in the local view,
    /// and settled there.
    fn begin(&self, key: crate::throttle::ThrottleKey, window: Duration) -> AuthFuture<()> {
        let this = self.clone();
        AuthFuture::new(async move {
            if !this.count(key, window).await {
                *this.local_begun().entry(key).or_insert(0) += 1;
                crate::throttle::ThrottleStore::begin(&*this.local, key, window).await;
            }
        })
    }

    fn commit(&self, key: crate::throttle::ThrottleKey, window: Duration) -> AuthFuture<()> {
        if self.take_local_begun(key) {
            return crate::throttle::ThrottleStore::commit(&*self.local, key, window);
        }
        // Counted in Redis by `begin`.
        AuthFuture::ready(())
    }

    fn reset(&self, key: crate::throttle::ThrottleKey) -> AuthFuture<()> {
        self.view().remove(&key);
        // The in-memory store does its work when called; its future is ready.
        drop(crate::throttle::ThrottleStore::reset(&*self.local, key));
        let redis_key = self.key(key);
        self.in_background(move |mut conn| async move {
            ::redis::cmd("DEL")
                .arg(&redis_key)
                .query_async::<i64>(&mut conn)
                .await
                .map(drop)
        });
        AuthFuture::ready(())
    }

    fn forgive(&self, key: crate::throttle::ThrottleKey) -> AuthFuture<()> {
        if self.take_local_begun(key) {
            return crate::throttle::ThrottleStore::forgive(&*self.local, key);
        }
        if let Some((count, _)) = self.view().get_mut(&key) {
            *count = count.saturating_sub(1);
        }
        let redis_key = self.key(key);
        let forgive = self.forgive.clone();
        self.in_background(move |mut conn| async move {
            forgive
                .key(&redis_key)
                .invoke_async::<i64>(&mut conn)
                .await
                .map(drop)
        });
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
