//! Failure-only brute-force throttling, in the route's policy: failed attempts are counted per
//! username and per client address, and a request over the limit is refused with `429 Too
//! Many Requests` and `Retry-After` **before** any password is hashed or any callback runs.
//!
//! - Only failures count (wrong password, unknown user, wrong token); a success resets the
//!   username's count. An address whose users log in successfully is never blocked by its own
//!   successes.
//! - Counts live in a window ([`Throttle::window`], default 15 minutes): the window starts at
//!   the first failure, and the record is forgotten when it ends.
//! - Defaults ([`Throttle::new`]): 10 failures per username and 100 per client address per
//!   window. A person who mistypes a password nine times in a row still gets in; a guesser
//!   gets ten tries per account per quarter hour, and an address a hundred.
//! - Client addresses come from the stack (axum's `ConnectInfo<SocketAddr>`, a `SocketAddr`
//!   in the extensions, actix's peer address, or [a function](Throttle::client_addr_fn));
//!   IPv6 addresses count per /64 (one host can use a whole /64). Behind reverse proxies,
//!   [`trusted_proxy_ranges`](Throttle::trusted_proxy_ranges) makes the client address the
//!   nearest hop of their forwarding header that is not a trusted proxy; without it the header
//!   is ignored (it is the client's to forge). **Set it behind a proxy**: otherwise every
//!   client has the proxy's address and shares one per-address budget. See
//!   [`client`](crate::client).
//! - Bounded memory: records are sharded, each shard has a fixed capacity; when a shard is
//!   full, the record with the fewest failures is dropped, so rotating usernames or
//!   addresses (each with one failure) cannot push out the record of an account under attack.
//!   Keys are keyed hashes (64 bits), so a record has a fixed size whatever the username.
//! - The store is a trait ([`ThrottleStore`]) so a shared backend (Redis) can count across
//!   instances; [`MemoryThrottle`] is the default.
//!
//! ```
//! use httpauth::{BasicAuth, Throttle};
//! use axum::{routing::get, Router};
//! # use tower::ServiceExt;
//!
//! let auth = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then_some(()));
//! let throttle = Throttle::new().max_failures_per_user(2);
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hi" }))
//!     .route_layer(auth.login_required().throttle(throttle));
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let req = |creds: &str| http::Request::get("/").header("authorization", creds).body(axum::body::Body::empty()).unwrap();
//! let wrong = "Basic am9objpub3Bl"; // john:nope
//! assert_eq!(app.clone().oneshot(req(wrong)).await.unwrap().status(), 401);
//! assert_eq!(app.clone().oneshot(req(wrong)).await.unwrap().status(), 401);
//! // Over the limit: refused before the callback runs, even with the right password.
//! let res = app.oneshot(req("Basic am9objpoZWxsbw==")).await.unwrap();
//! assert_eq!(res.status(), 429);
//! assert!(res.headers().contains_key("retry-after"));
//! # });
//! ```

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::ConfigError;
use crate::scheme::AuthFuture;

/// What a count is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ThrottleKey {
    /// A username (a keyed 64-bit hash of it).
    User(u64),
    /// A client address (IPv4, or the /64 of an IPv6 address; a keyed hash).
    Addr(u64),
}

/// Where failure counts are kept. Implement it over a shared store to count across
/// instances.
///
/// [`blocked`](Self::blocked) is asked before the credentials are checked and must answer at
/// once (a shared store answers from a local view that its `record_failure` keeps up to date
/// with what the shared store returned); the recording methods may wait (their futures are
/// awaited before the response is sent).
pub trait ThrottleStore: Send + Sync + 'static {
    /// How long `key` must wait (`None`: not blocked), given the limit for its kind.
    fn blocked(&self, key: ThrottleKey, limit: u32, window: Duration) -> Option<Duration>;

    /// Counts one failure for `key`.
    fn record_failure(&self, key: ThrottleKey, window: Duration) -> AuthFuture<()>;

    /// Forgets `key`'s failures (a success).
    fn reset(&self, key: ThrottleKey) -> AuthFuture<()>;

    /// Takes back one failure of `key`: an attempt counted when it started waiting for a
    /// slow check (so a burst of concurrent guesses meets the limit at once) that turned out
    /// not to be a wrong secret.
    fn forgive(&self, key: ThrottleKey) -> AuthFuture<()>;

    /// Whether any failure may be recorded (when `false`, the policy skips the lookups:
    /// nothing can be blocked). Default: `true`.
    fn may_have_records(&self) -> bool {
        true
    }

    /// A secret that makes the keys the same in every process sharing this store (a shared
    /// store needs it; keys are otherwise hashed under a per-process random key). Default:
    /// `None`.
    fn key_salt(&self) -> Option<Arc<[u8]>> {
        None
    }
}

#[derive(Clone, Copy)]
struct Record {
    failures: u32,
    since: Instant,
}

/// The in-memory [`ThrottleStore`]: sharded, bounded (see the [module docs](self)).
pub struct MemoryThrottle {
    shards: Box<[Mutex<HashMap<ThrottleKey, Record>>]>,
    per_shard: usize,
    /// Records kept, over all shards (kept up to date under the shards' locks).
    records: std::sync::atomic::AtomicUsize,
}

impl fmt::Debug for MemoryThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryThrottle")
            .field("capacity", &(self.per_shard * self.shards.len()))
            .field("len", &self.len())
            .finish()
    }
}

impl Default for MemoryThrottle {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

const SHARDS: usize = 16;

impl MemoryThrottle {
    /// The default capacity: 65 536 records. A record is 40 bytes (a 16-byte key, the count
    /// and the window's start) plus a control byte per hash-table bucket; tables are at most
    /// 7/8 full and grow by doubling, so the default tops out at 16 shards × 8 192 buckets × 41
    /// bytes ≈ 5.4 MiB.
    pub const DEFAULT_CAPACITY: usize = 65_536;

    /// A store of at most `capacity` records.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard,
            records: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// How many records are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    /// Whether no record is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: ThrottleKey) -> std::sync::MutexGuard<'_, HashMap<ThrottleKey, Record>> {
        let (ThrottleKey::User(h) | ThrottleKey::Addr(h)) = key;
        // The low bits are a keyed hash already.
        let index = usize::try_from(h % SHARDS as u64).unwrap_or(0);
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn blocked_at(
        &self,
        key: ThrottleKey,
        limit: u32,
        window: Duration,
        now: Instant,
    ) -> Option<Duration> {
        let shard = self.shard(key);
        let record = shard.get(&key)?;
        let end = record.since + window;
        (record.failures >= limit && now < end).then(|| end - now)
    }

    fn record_at(&self, key: ThrottleKey, window: Duration, now: Instant) {
        let mut shard = self.shard(key);
        let before = shard.len();
        self.insert(&mut shard, key, window, now);
        self.adjust(before, shard.len());
    }

    /// Keeps the record count in step with a shard's change of size.
    fn adjust(&self, before: usize, after: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        if after > before {
            self.records.fetch_add(after - before, Relaxed);
        } else {
            self.records.fetch_sub(before - after, Relaxed);
        }
    }

    fn insert(
        &self,
        shard: &mut HashMap<ThrottleKey, Record>,
        key: ThrottleKey,
        window: Duration,
        now: Instant,
    ) {
        if let Some(record) = shard.get_mut(&key) {
            if now >= record.since + window {
                *record = Record {
                    failures: 1,
                    since: now,
                };
            } else {
                record.failures = record.failures.saturating_add(1);
            }
            return;
        }
        if shard.len() >= self.per_shard {
            // Forget what has expired; if nothing has, the record with the fewest failures
            // (the oldest among equals): a flood of one-failure keys evicts its own kind.
            shard.retain(|_, r| now < r.since + window);
            if shard.len() >= self.per_shard {
                let victim = shard
                    .iter()
                    .min_by_key(|(_, r)| (r.failures, r.since))
                    .map(|(k, _)| *k);
                if let Some(victim) = victim {
                    shard.remove(&victim);
                }
            }
        }
        shard.insert(
            key,
            Record {
                failures: 1,
                since: now,
            },
        );
    }
}

impl ThrottleStore for MemoryThrottle {
    fn blocked(&self, key: ThrottleKey, limit: u32, window: Duration) -> Option<Duration> {
        self.blocked_at(key, limit, window, Instant::now())
    }

    fn record_failure(&self, key: ThrottleKey, window: Duration) -> AuthFuture<()> {
        self.record_at(key, window, Instant::now());
        AuthFuture::ready(())
    }

    fn reset(&self, key: ThrottleKey) -> AuthFuture<()> {
        let mut shard = self.shard(key);
        let before = shard.len();
        shard.remove(&key);
        self.adjust(before, shard.len());
        AuthFuture::ready(())
    }

    fn forgive(&self, key: ThrottleKey) -> AuthFuture<()> {
        let mut shard = self.shard(key);
        if let Some(record) = shard.get_mut(&key) {
            record.failures = record.failures.saturating_sub(1);
        }
        AuthFuture::ready(())
    }

    fn may_have_records(&self) -> bool {
        self.records.load(std::sync::atomic::Ordering::Relaxed) > 0
    }
}

/// The throttle of a route: limits, window, trusted proxies and the store. Clones share the
/// store, so one throttle given to several auth objects or routes counts their failures
/// together. Every auth object has its own by default (see
/// [`Auth::throttle`](crate::Auth::throttle)). See the [module docs](self).
#[derive(Clone)]
pub struct Throttle {
    per_user: u32,
    per_addr: u32,
    window: Duration,
    resolver: crate::client::Resolver,
    hasher: Hashing,
    store: Arc<dyn ThrottleStore>,
}

/// How keys are hashed: under a per-process random key, or (a shared store) a salt every
/// instance shares.
#[derive(Clone)]
enum Hashing {
    Random(std::collections::hash_map::RandomState),
    Salted(Arc<[u8]>),
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttle")
            .field("max_failures_per_user", &self.per_user)
            .field("max_failures_per_addr", &self.per_addr)
            .field("window", &self.window)
            .field("client", &self.resolver)
            .finish_non_exhaustive()
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new()
    }
}

impl Throttle {
    /// The defaults: 10 failures per username, 100 per client address, per 15-minute window,
    /// in a [`MemoryThrottle`], no trusted proxy.
    #[must_use]
    pub fn new() -> Self {
        Self {
            per_user: 10,
            per_addr: 100,
            window: Duration::from_secs(15 * 60),
            resolver: crate::client::Resolver::default(),
            hasher: Hashing::Random(std::collections::hash_map::RandomState::new()),
            store: Arc::new(MemoryThrottle::default()),
        }
    }

    /// Failures allowed per username in a window (0: no per-username limit).
    #[must_use]
    pub fn max_failures_per_user(mut self, n: u32) -> Self {
        self.per_user = n;
        self
    }

    /// Failures allowed per client address in a window (0: no per-address limit).
    #[must_use]
    pub fn max_failures_per_addr(mut self, n: u32) -> Self {
        self.per_addr = n;
        self
    }

    /// How long failures are remembered, from the first one (at most [`MAX_WINDOW`]).
    ///
    /// # Panics
    ///
    /// When `window` is zero or longer than [`MAX_WINDOW`]; see
    /// [`try_window`](Self::try_window).
    #[must_use]
    pub fn window(self, window: Duration) -> Self {
        self.try_window(window)
            .unwrap_or_else(|err| panic!("httpauth: {err}"))
    }

    /// Like [`window`](Self::window), returning an error instead of panicking.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when `window` is zero or longer than [`MAX_WINDOW`] (a
    /// deadline that far away would not be a point in time a clock can hold).
    pub fn try_window(mut self, window: Duration) -> Result<Self, ConfigError> {
        if window.is_zero() || window > MAX_WINDOW {
            return Err(ConfigError::Invalid {
                setting: "window",
                reason: "must be more than zero and at most 366 days",
            });
        }
        self.window = window;
        Ok(self)
    }

    /// Reverse proxies whose forwarding header is believed, by address (see
    /// [`trusted_proxy_ranges`](Self::trusted_proxy_ranges), which it replaces).
    #[must_use]
    pub fn trusted_proxies<I: IntoIterator<Item = IpAddr>>(self, proxies: I) -> Self {
        self.trusted_proxy_ranges(proxies.into_iter().map(crate::client::IpRange::from))
    }

    /// Reverse proxies whose forwarding header is believed, as ranges (`"10.0.0.0/8".parse()`):
    /// when the peer is in one, the client is the nearest hop of the header that is not (see
    /// [`client`](crate::client)).
    #[must_use]
    pub fn trusted_proxy_ranges<I: IntoIterator<Item = crate::client::IpRange>>(
        mut self,
        ranges: I,
    ) -> Self {
        self.resolver.set_proxies(ranges);
        self
    }

    /// The header the trusted proxies write (default `X-Forwarded-For`); the other is
    /// never read.
    #[must_use]
    pub fn proxy_header(mut self, header: crate::client::ProxyHeader) -> Self {
        self.resolver.set_header(header);
        self
    }

    /// A function that finds the peer address in the request extensions, asked before the
    /// built-in lookups (axum's `ConnectInfo`, a `SocketAddr` or `IpAddr`); e.g. tonic's:
    ///
    /// ```ignore
    /// use tonic::transport::server::TcpConnectInfo;
    /// let throttle = Throttle::new().client_addr_fn(|ext| {
    ///     ext.get::<TcpConnectInfo>()?.remote_addr().map(|a| a.ip())
    /// });
    /// ```
    #[must_use]
    pub fn client_addr_fn<F>(mut self, f: F) -> Self
    where
        F: Fn(&http::Extensions) -> Option<IpAddr> + Send + Sync + 'static,
    {
        self.resolver.set_peer_fn(Arc::new(f));
        self
    }

    /// Where the counts are kept (default: a [`MemoryThrottle`]).
    #[must_use]
    pub fn store<S: ThrottleStore>(mut self, store: S) -> Self {
        if let Some(salt) = store.key_salt() {
            self.hasher = Hashing::Salted(salt);
        }
        self.store = Arc::new(store);
        self
    }

    /// Whether the store may hold a failure (see [`ThrottleStore::may_have_records`]).
    #[inline]
    pub(crate) fn may_have_records(&self) -> bool {
        self.store.may_have_records()
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> (u32, u32, Duration) {
        (self.per_user, self.per_addr, self.window)
    }

    /// The keys of an attempt.
    pub(crate) fn keys(&self, username: Option<&str>, addr: Option<IpAddr>) -> Keys {
        Keys {
            user: username
                .filter(|_| self.per_user > 0)
                .map(|u| ThrottleKey::User(self.hash(0, u))),
            addr: addr
                .filter(|_| self.per_addr > 0)
                .map(|a| ThrottleKey::Addr(self.hash(1, &prefix(a)))),
        }
    }

    fn hash<T: Hash + ?Sized>(&self, kind: u8, value: &T) -> u64 {
        fn finish<H: Hasher, T: Hash + ?Sized>(mut h: H, kind: u8, value: &T) -> u64 {
            kind.hash(&mut h);
            value.hash(&mut h);
            h.finish()
        }
        match &self.hasher {
            Hashing::Random(state) => finish(state.build_hasher(), kind, value),
            Hashing::Salted(salt) => {
                // The same in every process of one build: SipHash under fixed keys, with the
                // shared secret hashed in first.
                #[allow(deprecated)]
                let mut h = std::hash::SipHasher::new();
                salt.hash(&mut h);
                finish(h, kind, value)
            }
        }
    }

    /// How long the attempt must wait, if one of its keys is over its limit.
    pub(crate) fn blocked(&self, keys: Keys) -> Option<Duration> {
        let user = keys
            .user
            .and_then(|k| self.store.blocked(k, self.per_user, self.window));
        let addr = keys
            .addr
            .and_then(|k| self.store.blocked(k, self.per_addr, self.window));
        user.max(addr)
    }

    /// Settles an attempt that was counted as a wrong secret when it started to wait: a
    /// success resets the username and forgives the address; a failure that counts against
    /// the address only forgives the username; one that counts for nothing forgives both.
    pub(crate) fn settle_counted(&self, keys: Keys, charge: Charge) -> AuthFuture<()> {
        let store = self.store.clone();
        let (user, addr) = match charge {
            Charge::Secret => return AuthFuture::ready(()),
            Charge::Success => (
                keys.user.map(|k| store.reset(k)),
                keys.addr.map(|k| store.forgive(k)),
            ),
            Charge::Address => (keys.user.map(|k| store.forgive(k)), None),
            Charge::Nothing => (
                keys.user.map(|k| store.forgive(k)),
                keys.addr.map(|k| store.forgive(k)),
            ),
        };
        both(user, addr)
    }

    /// Counts an attempt's outcome: a wrong secret against the username and the address, a
    /// failure that verified nothing against the address, a success resets the username.
    pub(crate) fn record(&self, keys: Keys, charge: Charge) -> AuthFuture<()> {
        let store = self.store.clone();
        let window = self.window;
        let (user, addr) = match charge {
            Charge::Nothing => return AuthFuture::ready(()),
            Charge::Success => {
                return keys
                    .user
                    .map_or_else(|| AuthFuture::ready(()), |k| store.reset(k))
            }
            Charge::Secret => (keys.user, keys.addr),
            Charge::Address => (None, keys.addr),
        };
        let user = user.map(|k| store.record_failure(k, window));
        let addr = addr.map(|k| store.record_failure(k, window));
        both(user, addr)
    }

    /// The client address of `req` (see [`client`](crate::client)).
    pub(crate) fn client(&self, req: &crate::scheme::AuthRequest<'_>) -> Option<IpAddr> {
        self.resolver.client(req, self.per_addr > 0)
    }
}

/// The store's answers for the username's key and the address's key, one after the other
/// (either may be absent).
fn both(user: Option<AuthFuture<()>>, addr: Option<AuthFuture<()>>) -> AuthFuture<()> {
    match (user, addr) {
        (None, None) => AuthFuture::ready(()),
        (Some(f), None) | (None, Some(f)) => f,
        (Some(u), Some(a)) => u.and_then(move |()| a),
    }
}

/// The longest [`Throttle::window`]: 366 days.
pub const MAX_WINDOW: Duration = Duration::from_secs(366 * 24 * 3600);

/// What an attempt's outcome counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charge {
    /// A success: the username's count is reset.
    Success,
    /// A wrong secret: the username and the client address.
    Secret,
    /// A failure that verified nothing, or a full hashing queue: the client address.
    Address,
    /// Nothing (a stale nonce, a store outage).
    Nothing,
}

/// The throttle keys of one attempt.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Keys {
    user: Option<ThrottleKey>,
    addr: Option<ThrottleKey>,
}

/// IPv4 as is; IPv6 by its /64 (IPv4-mapped addresses as IPv4).
fn prefix(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Seconds for `Retry-After`, rounded up, at least 1.
pub(crate) fn retry_after_secs(wait: Duration) -> u32 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    u32::try_from(secs.max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_size_is_what_the_docs_say() {
        assert_eq!(
            std::mem::size_of::<(ThrottleKey, Record)>(),
            40,
            "update MemoryThrottle::DEFAULT_CAPACITY's docs"
        );
    }

    #[test]
    fn counts_block_and_expire() {
        let store = MemoryThrottle::new(64);
        let key = ThrottleKey::User(7);
        let w = Duration::from_secs(60);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(store.blocked_at(key, 3, w, t0), None);
            store.record_at(key, w, t0);
        }
        let wait = store.blocked_at(key, 3, w, t0 + Duration::from_secs(10));
        assert_eq!(wait, Some(Duration::from_secs(50)));
        assert_eq!(store.blocked_at(key, 3, w, t0 + w), None);
        // A failure after the window starts a new one.
        store.record_at(key, w, t0 + w);
        assert_eq!(store.blocked_at(key, 2, w, t0 + w), None);
    }

    #[test]
    fn a_flood_of_new_keys_does_not_evict_the_attacked_record() {
        let store = MemoryThrottle::new(SHARDS * 8);
        let w = Duration::from_secs(600);
        let now = Instant::now();
        let victim = ThrottleKey::User(3 * SHARDS as u64);
        for _ in 0..5 {
            store.record_at(victim, w, now);
        }
        for i in 0..10_000_u64 {
            store.record_at(ThrottleKey::Addr(i * SHARDS as u64 + 3), w, now);
        }
        assert!(store.len() <= SHARDS * 8);
        assert_eq!(store.blocked_at(victim, 5, w, now), Some(w));
    }

    #[test]
    fn ipv6_counts_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(prefix(a), prefix(b));
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn windows_are_bounded() {
        assert!(Throttle::new().try_window(Duration::ZERO).is_err());
        assert!(Throttle::new().try_window(Duration::MAX).is_err());
        assert!(Throttle::new().try_window(MAX_WINDOW).is_ok());
        // The longest window is a point in time the clock holds: recording and checking
        // do not overflow.
        let t = Throttle::new().window(MAX_WINDOW).max_failures_per_user(1);
        let keys = t.keys(Some("john"), None);
        assert!(t.record(keys, Charge::Secret).into_ready().is_ok());
        assert!(t.blocked(keys).is_some());
    }
}
