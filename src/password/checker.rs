//! The checking engine shared by every store: the verified-credential cache in front, the
//! bounded blocking pool behind it, and the dummy verification for unknown users.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

use super::cache::{CacheConfig, CredentialCache, Key, Stored};
use super::hash::{check_password_hash, Params, MAX_PASSWORD_LEN};
use crate::scheme::AuthFuture;

/// The bound on concurrent slow hash verifications.
///
/// Verifications run on Tokio's blocking pool (`spawn_blocking`), at most
/// [`max_concurrent`](Self::max_concurrent) at a time; the others wait for a permit without
/// holding a thread. A flood of wrong passwords therefore occupies at most that many cores and
/// never the async reactor, so other routes keep answering.
///
/// Clones share the bound. [`HashPool::shared`] (the default of every checker) is one
/// process-wide pool sized to the number of cores.
#[derive(Clone)]
pub struct HashPool {
    semaphore: Arc<Semaphore>,
    size: usize,
}

impl HashPool {
    /// A pool running at most `max_concurrent` verifications at once (at least 1).
    #[must_use]
    pub fn new(max_concurrent: usize) -> Self {
        let size = max_concurrent.max(1);
        Self {
            semaphore: Arc::new(Semaphore::new(size)),
            size,
        }
    }

    /// The process-wide pool: as many permits as cores (`available_parallelism`).
    #[must_use]
    pub fn shared() -> Self {
        static SHARED: OnceLock<HashPool> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                HashPool::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
            })
            .clone()
    }

    /// The bound.
    #[must_use]
    pub fn max_concurrent(&self) -> usize {
        self.size
    }

    /// Permits free right now.
    #[must_use]
    pub fn available(&self) -> usize {
        self.semaphore.available_permits()
    }
}

impl fmt::Debug for HashPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashPool")
            .field("max_concurrent", &self.size)
            .field("available", &self.available())
            .finish()
    }
}

/// Counters of a [`PasswordChecker`] (shared by its clones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckerStats {
    /// Checks answered by the cache, without hashing.
    pub cache_hits: u64,
    /// Checks of a known user that the cache could not answer.
    pub cache_misses: u64,
    /// Slow hash verifications actually run (including the dummy ones for unknown users).
    pub verifications: u64,
    /// Misses that waited for an identical verification already running instead of hashing.
    pub coalesced: u64,
}

/// Hits are counted on every request: one cache-line-aligned counter per thread slot, so cores
/// answering hits in parallel don't fight over one line.
#[repr(align(128))]
#[derive(Default)]
struct HitCounter(AtomicU64);

const HIT_SLOTS: usize = 16;

#[derive(Default)]
struct Counters {
    cache_hits: [HitCounter; HIT_SLOTS],
    cache_misses: AtomicU64,
    verifications: AtomicU64,
    coalesced: AtomicU64,
}

impl Counters {
    fn hit(&self) {
        thread_local! {
            static SLOT: usize = {
                static NEXT: AtomicU64 = AtomicU64::new(0);
                (NEXT.fetch_add(1, Relaxed) % HIT_SLOTS as u64) as usize
            };
        }
        let slot = SLOT.with(|s| *s);
        self.cache_hits[slot].0.fetch_add(1, Relaxed);
    }

    fn hits(&self) -> u64 {
        self.cache_hits.iter().map(|c| c.0.load(Relaxed)).sum()
    }
}

/// Checks passwords against stored hashes the way a server should: cached, bounded, off the
/// reactor, and with unknown users costing the same as known ones.
///
/// - A verified (username, password, stored hash) is remembered under an HMAC-SHA-256 key
///   (random per-cache key, length-prefixed fields): the plaintext is never kept, only
///   successes are stored, a changed password or hash misses by construction, and entries
///   expire ([`CacheConfig`]). Concurrent identical misses run the hash once.
/// - Misses run [`check_password_hash`] on the blocking pool, at most [`HashPool`] at a time.
/// - Unknown users are checked against a dummy hash and refused.
///
/// [`HashedPasswords`](super::HashedPasswords) and [`HtpasswdFile`](super::HtpasswdFile) use
/// one; use it directly for your own user store:
///
/// ```
/// use std::sync::Arc;
/// use httpauth::password::{Params, PasswordChecker};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let checker = PasswordChecker::new();
/// let stored: Arc<str> = Params::new(1024, 1, 1).unwrap().hash("hello").into();
/// assert!(checker.verify("john", "hello", stored.clone()).await);
/// assert!(!checker.verify("john", "nope", stored.clone()).await);
/// assert!(checker.verify("john", "hello", stored).await); // from the cache
/// assert_eq!(checker.stats().cache_hits, 1);
/// # });
/// ```
///
/// Clones share the cache, the pool and the counters. Without a Tokio runtime the hash runs on
/// the calling thread.
#[derive(Clone)]
pub struct PasswordChecker {
    cache: Option<Arc<CredentialCache>>,
    pool: HashPool,
    counters: Arc<Counters>,
}

impl fmt::Debug for PasswordChecker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordChecker")
            .field("cache", &self.cache.as_ref().map(|c| c.config()))
            .field("pool", &self.pool)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Default for PasswordChecker {
    fn default() -> Self {
        Self::new()
    }
}

/// The hash to check an unknown user against.
#[derive(Clone)]
pub(crate) enum Dummy {
    /// A given hash.
    Fixed(Arc<str>),
    /// An argon2id hash of a random string with these parameters, made on first use (on the
    /// blocking pool).
    Lazy(Arc<OnceLock<Arc<str>>>, Params),
}

impl Dummy {
    pub(crate) fn lazy(params: Params) -> Self {
        Self::Lazy(Arc::new(OnceLock::new()), params)
    }

    fn resolve(&self) -> Arc<str> {
        match self {
            Self::Fixed(hash) => hash.clone(),
            Self::Lazy(cell, params) => cell
                .get_or_init(|| {
                    let mut random = [0u8; 16];
                    argon2::password_hash::rand_core::RngCore::fill_bytes(
                        &mut argon2::password_hash::rand_core::OsRng,
                        &mut random,
                    );
                    let secret = crate::hex::encode(&random);
                    params.hash(&secret).into()
                })
                .clone(),
        }
    }
}

impl PasswordChecker {
    /// A checker with the default cache ([`CacheConfig::new`]) and the shared pool
    /// ([`HashPool::shared`]).
    #[must_use]
    pub fn new() -> Self {
        Self {
            cache: Some(Arc::new(CredentialCache::new(CacheConfig::new()))),
            pool: HashPool::shared(),
            counters: Arc::new(Counters::default()),
        }
    }

    /// Replaces the cache with a new, empty one of this size and lifetime.
    #[must_use]
    pub fn cache(mut self, config: CacheConfig) -> Self {
        self.cache = Some(Arc::new(CredentialCache::new(config)));
        self
    }

    /// Turns the cache off (and with it the single flight): every check hashes.
    #[must_use]
    pub fn without_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// Runs verifications on this pool instead of the shared one.
    #[must_use]
    pub fn pool(mut self, pool: HashPool) -> Self {
        self.pool = pool;
        self
    }

    /// The cache configuration, `None` when the cache is off.
    #[must_use]
    pub fn cache_config(&self) -> Option<CacheConfig> {
        self.cache.as_ref().map(|c| c.config())
    }

    /// The pool.
    #[must_use]
    pub fn hash_pool(&self) -> &HashPool {
        &self.pool
    }

    /// Live entries in the cache.
    #[must_use]
    pub fn cached_len(&self) -> usize {
        self.cache.as_ref().map_or(0, |c| c.len())
    }

    /// Forgets every cached credential (e.g. after revoking a user).
    pub fn clear_cache(&self) {
        if let Some(cache) = &self.cache {
            cache.clear();
        }
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> CheckerStats {
        CheckerStats {
            cache_hits: self.counters.hits(),
            cache_misses: self.counters.cache_misses.load(Relaxed),
            verifications: self.counters.verifications.load(Relaxed),
            coalesced: self.counters.coalesced.load(Relaxed),
        }
    }

    /// Whether the cache knows `password` as `username`'s for this stored hash: the synchronous
    /// fast path for your own store (no allocation, no await). On `false`, call
    /// [`verify`](Self::verify). Misses are counted by `verify`, not here.
    #[must_use]
    pub fn check_cached(&self, username: &str, password: &str, hash: &str) -> bool {
        if password.len() > MAX_PASSWORD_LEN {
            return false;
        }
        self.cache.as_ref().is_some_and(|cache| {
            let hit = cache.contains(&cache.key(username, password, Stored::Full(hash)));
            if hit {
                self.counters.hit();
            }
            hit
        })
    }

    /// Whether `password` is `username`'s, given the user's stored hash: from the cache, or by
    /// verifying on the pool. A malformed stored hash never matches (and is logged).
    pub async fn verify(&self, username: &str, password: &str, hash: Arc<str>) -> bool {
        match self.lookup(username, password, Stored::Full(&hash)) {
            Lookup::Hit => true,
            Lookup::TooLong => false,
            Lookup::Miss(key) => self.slow(key, password, Some(hash), None).await,
        }
    }

    /// The check for a user that does not exist: verifies `password` against `dummy_hash`
    /// (which should cost what a real user's hash costs) and returns `false`, so an unknown
    /// user takes as long as a wrong password.
    pub async fn verify_unknown(&self, username: &str, password: &str, dummy_hash: Arc<str>) {
        if password.len() <= MAX_PASSWORD_LEN {
            let key = self.unknown_key(username, password);
            self.slow(key, password, None, Some(Dummy::Fixed(dummy_hash)))
                .await;
        }
    }

    /// The single-flight key of an unknown user's check (`None` without a cache).
    fn unknown_key(&self, username: &str, password: &str) -> Option<Key> {
        self.cache
            .as_ref()
            .map(|cache| cache.key(username, password, Stored::Unknown))
    }

    /// The store-side check after a [`lookup`](Self::lookup) that missed (its key is reused,
    /// not recomputed), or for an unknown user: the future owns copies of what it needs.
    /// `user` makes the answer of a verified known user.
    pub(crate) fn verify_miss<U, F>(
        &self,
        username: &str,
        password: &str,
        miss: Miss,
        user: F,
    ) -> AuthFuture<Option<U>>
    where
        U: Send + 'static,
        F: FnOnce() -> Option<U> + Send + 'static,
    {
        if password.len() > MAX_PASSWORD_LEN {
            return AuthFuture::ready(None);
        }
        let this = self.clone();
        let password = password.to_owned();
        match miss {
            Miss::Known(hash, key) => AuthFuture::new(async move {
                this.slow(key, &password, Some(hash), None)
                    .await
                    .then(user)
                    .flatten()
            }),
            Miss::Unknown(dummy) => {
                let key = self.unknown_key(username, &password);
                AuthFuture::new(async move {
                    this.slow(key, &password, None, Some(dummy)).await;
                    None
                })
            }
        }
    }

    /// The cache's answer for a known user's stored hash; a miss carries the key it computed.
    pub(crate) fn lookup(&self, username: &str, password: &str, stored: Stored<'_>) -> Lookup {
        if password.len() > MAX_PASSWORD_LEN {
            return Lookup::TooLong;
        }
        let key = self.cache.as_ref().map(|cache| {
            let key = cache.key(username, password, stored);
            (cache.contains(&key), key)
        });
        if let Some((true, _)) = key {
            self.counters.hit();
            return Lookup::Hit;
        }
        self.counters.cache_misses.fetch_add(1, Relaxed);
        Lookup::Miss(key.map(|(_, key)| key))
    }

    /// A miss: single flight under `key` (when caching), then the pool. Either `hash` (a known
    /// user) or `dummy` (an unknown one, never a success).
    async fn slow(
        &self,
        key: Option<Key>,
        password: &str,
        hash: Option<Arc<str>>,
        dummy: Option<Dummy>,
    ) -> bool {
        let (Some(cache), Some(key)) = (&self.cache, key) else {
            return self.run(password, hash, dummy).await;
        };
        let cacheable = hash.is_some();
        let flight = cache.join(key);
        let mut ran = false;
        let ok = *flight
            .cell()
            .get_or_init(|| {
                ran = true;
                async move {
                    let ok = self.run(password, hash, dummy).await;
                    if ok && cacheable {
                        cache.insert(key);
                    }
                    ok
                }
            })
            .await;
        if !ran {
            self.counters.coalesced.fetch_add(1, Relaxed);
        }
        ok && cacheable
    }

    /// One verification on the blocking pool, behind the semaphore.
    async fn run(&self, password: &str, hash: Option<Arc<str>>, dummy: Option<Dummy>) -> bool {
        let password = password.to_owned();
        let counters = self.counters.clone();
        let work = move || {
            counters.verifications.fetch_add(1, Relaxed);
            let (hash, known) = match (hash, dummy) {
                (Some(hash), _) => (hash, true),
                (None, Some(dummy)) => (dummy.resolve(), false),
                (None, None) => return false,
            };
            match check_password_hash(&hash, &password) {
                Ok(ok) => ok && known,
                Err(err) => {
                    tracing::warn!(target: "httpauth", "password check failed: {err}");
                    false
                }
            }
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return work();
        }
        let Ok(permit) = self.pool.semaphore.clone().acquire_owned().await else {
            return false;
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .unwrap_or(false)
    }
}

/// The cache's answer to [`PasswordChecker::lookup`].
pub(crate) enum Lookup {
    Hit,
    /// With the key computed for the lookup (`None` when the cache is off).
    Miss(Option<Key>),
    TooLong,
}

/// What [`PasswordChecker::verify_miss`] checks.
pub(crate) enum Miss {
    /// A known user's stored hash, and the key of the lookup that missed.
    Known(Arc<str>, Option<Key>),
    /// An unknown user: checked against this dummy, then refused.
    Unknown(Dummy),
}
