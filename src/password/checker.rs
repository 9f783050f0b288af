//! The checking engine shared by every store: the verified-credential cache in front, the
//! bounded blocking pool behind it, and the timed refusal of unknown users.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::cache::{CacheConfig, CredentialCache, Key, Stored, Verdict};
use super::hash::{check_password_hash, cost_class, HashError, Params, MAX_PASSWORD_LEN};
use super::pool::{Busy, Delay, HashPool, Outlook};
use crate::error::AuthError;
use crate::scheme::AuthFuture;

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
    /// Checks refused by the pool (queue full or wait deadline passed: 503), never hashed.
    pub unavailable: u64,
    /// Verifications run to measure the cost of a hash format (not counted above).
    pub calibrations: u64,
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
    unavailable: AtomicU64,
    calibrations: AtomicU64,
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

/// Most cost classes tracked one by one; further ones share one entry (their largest sample).
const MAX_CLASSES: usize = 64;

/// What refusals are padded to: a running average (EWMA, weight 1/4) of each cost class's
/// verification time (the work on the pool, not the wait for it), and hashes of classes not
/// measured yet, verified once before the next refusal is answered.
#[derive(Default)]
struct Costs {
    classes: Mutex<HashMap<Box<str>, u64>>,
    /// The largest average, in nanoseconds: the padding target.
    max_ns: AtomicU64,
    /// A running average (EWMA, weight 1/4) of how long a known user's refusal took from the
    /// start of its hash, in nanoseconds: the hash, or the padding when the hash was quicker.
    refusal_ns: AtomicU64,
    /// One hash per class registered but not measured yet.
    pending: Mutex<Vec<Arc<str>>>,
    /// The classes registered (measured or pending).
    known: Mutex<HashSet<Box<str>>>,
    has_pending: AtomicBool,
    calibrating: tokio::sync::Mutex<()>,
}

impl Costs {
    fn record(&self, class: &str, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let mut classes = self.classes.lock().unwrap_or_else(PoisonError::into_inner);
        let class = if classes.len() >= MAX_CLASSES && !classes.contains_key(class) {
            "*"
        } else {
            class
        };
        let avg = match classes.get_mut(class) {
            // The shared entry of the classes beyond the bound keeps their largest sample.
            Some(avg) if class == "*" => {
                *avg = (*avg).max(ns);
                *avg
            }
            Some(avg) => {
                // avg += (ns - avg) / 4, in signed arithmetic.
                let next = (i128::from(*avg) * 3 + i128::from(ns)) / 4;
                *avg = u64::try_from(next).unwrap_or(u64::MAX);
                *avg
            }
            None => {
                classes.insert(class.into(), ns);
                ns
            }
        };
        let max = classes.values().copied().max().unwrap_or(avg);
        self.max_ns.store(max, Relaxed);
    }

    fn target(&self) -> Duration {
        Duration::from_nanos(self.max_ns.load(Relaxed))
    }

    fn record_refusal(&self, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let _ = self.refusal_ns.fetch_update(Relaxed, Relaxed, |avg| {
            if avg == 0 {
                return Some(ns);
            }
            let next = (u128::from(avg) * 3 + u128::from(ns)) / 4;
            Some(u64::try_from(next).unwrap_or(u64::MAX))
        });
    }

    /// What a known user's refusal takes once it has its permit: never less than the target
    /// (a known refusal is padded to it), more while hashes take longer than their average
    /// (a busy CPU: the refusal is the hash, not the padding).
    fn refusal(&self) -> Duration {
        self.target()
            .max(Duration::from_nanos(self.refusal_ns.load(Relaxed)))
    }

    fn register(&self, hash: &Arc<str>) {
        let class = cost_class(hash);
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= MAX_CLASSES || known.contains(class) {
            return;
        }
        known.insert(class.into());
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(hash.clone());
        self.has_pending.store(true, Relaxed);
    }

    fn take_pending(&self) -> Vec<Arc<str>> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        self.has_pending.store(false, Relaxed);
        std::mem::take(&mut *pending)
    }

    fn put_back(&self, hashes: impl IntoIterator<Item = Arc<str>>) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.extend(hashes);
        self.has_pending.store(!pending.is_empty(), Relaxed);
    }
}

/// Checks passwords against stored hashes the way a server should: cached, bounded, off the
/// reactor, and with unknown users costing the same as known ones.
///
/// - A verified (username, password, stored hash) is remembered under a keyed PRF
///   (SipHash-2-4-128 under a random per-cache key, length-prefixed fields; the built-in
///   stores key the password under a key of each stored hash's own): the plaintext is never
///   kept, only successes are stored, a changed password or hash misses by construction,
///   and entries expire ([`CacheConfig`]). Concurrent identical misses run the hash once.
/// - Misses run [`check_password_hash`] on the blocking pool, at most [`HashPool`] at a time.
/// - Unknown users are checked against a dummy hash and refused.
/// - A refusal (wrong password or unknown user) is answered no sooner than the average cost
///   of the most expensive hash class this checker has verified, waiting without a permit:
///   a user whose hash is cheaper or dearer than the others does not stand out. Stores
///   register one hash of each class they hold ([`register_hash`](Self::register_hash)),
///   measured once before the next refusal.
/// - The pool refuses checks beyond its queue bound or wait deadline ([`HashPool`]): then
///   [`try_verify`](Self::try_verify) gives a 503 [`AuthError`] with `Retry-After`.
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
    costs: Arc<Costs>,
}

impl fmt::Debug for PasswordChecker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordChecker")
            .field("cache", &self.cache.as_ref().map(|c| c.config()))
            .field("pool", &self.pool)
            .field("stats", &self.stats())
            .field("refusal_padding", &self.refusal_padding())
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
            costs: Arc::default(),
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
            unavailable: self.counters.unavailable.load(Relaxed),
            calibrations: self.counters.calibrations.load(Relaxed),
        }
    }

    /// How long a refusal takes at least right now: the average verification time of the most
    /// expensive hash class seen (zero before any verification).
    #[must_use]
    pub fn refusal_padding(&self) -> Duration {
        self.costs.target()
    }

    /// Tells the checker that a store holds a hash of this kind and cost, so it is measured
    /// (verified once against a non-password) before the next refusal is answered, and that
    /// refusal already takes as long as checking such a hash. The built-in stores call it for
    /// every hash they load; call it for your own store's hashes (one per format and cost is
    /// enough; repeated classes are ignored, at most 64 are tracked).
    pub fn register_hash(&self, hash: &str) {
        self.register_arc(&Arc::from(hash));
    }

    pub(crate) fn register_arc(&self, hash: &Arc<str>) {
        self.costs.register(hash);
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
    /// verifying on the pool. A malformed stored hash never matches (and is logged). A check
    /// the pool refuses (queue full, deadline passed) is `false` here; see
    /// [`try_verify`](Self::try_verify) to answer 503 instead.
    pub async fn verify(&self, username: &str, password: &str, hash: Arc<str>) -> bool {
        self.try_verify(username, password, hash)
            .await
            .unwrap_or(false)
    }

    /// [`verify`](Self::verify), with the pool's refusal as an error.
    ///
    /// # Errors
    ///
    /// An [`AuthErrorKind::Overloaded`](crate::AuthErrorKind::Overloaded) error (503, with
    /// `Retry-After`) when the pool's queue is full or its wait deadline passed; no hash was
    /// computed.
    pub async fn try_verify(
        &self,
        username: &str,
        password: &str,
        hash: Arc<str>,
    ) -> Result<bool, AuthError> {
        match self.lookup(username, password, Stored::Full(&hash)) {
            Lookup::Hit => Ok(true),
            Lookup::TooLong => Ok(false),
            Lookup::Miss(key) => Ok(self.slow(key, username, password, Some(hash), None).await?),
        }
    }

    /// The check for a user that does not exist: computes no hash, and returns when a wrong
    /// password of a known user would: after the cost of the most expensive hash class seen
    /// (`dummy_hash`, which should cost what a real user's hash costs, is measured once when
    /// no other class is known) plus the wait a known user's check arriving now would have
    /// for a permit. A flood of unknown usernames therefore takes no hashing capacity from
    /// real users.
    pub async fn verify_unknown(&self, username: &str, password: &str, dummy_hash: Arc<str>) {
        let _ = self
            .try_verify_unknown(username, password, dummy_hash)
            .await;
    }

    /// [`verify_unknown`](Self::verify_unknown), as a `Result`: it takes no place in the pool's
    /// queue, and is refused where a known user's check arriving now would be.
    ///
    /// # Errors
    ///
    /// An [`AuthErrorKind::Overloaded`](crate::AuthErrorKind::Overloaded) error (503, with
    /// `Retry-After`) when the pool's queue is full (at once) or a known user's check would
    /// wait past the pool's deadline (at the deadline), as [`try_verify`](Self::try_verify).
    pub async fn try_verify_unknown(
        &self,
        username: &str,
        password: &str,
        dummy_hash: Arc<str>,
    ) -> Result<(), AuthError> {
        let _ = password;
        Ok(self
            .refuse_unknown(username, &Dummy::Fixed(dummy_hash))
            .await?)
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
    ) -> AuthFuture<Result<Option<U>, AuthError>>
    where
        U: Send + 'static,
        F: FnOnce() -> Option<U> + Send + 'static,
    {
        if password.len() > MAX_PASSWORD_LEN {
            return AuthFuture::ready(Ok(None));
        }
        let this = self.clone();
        let password = password.to_owned();
        let username = username.to_owned();
        match miss {
            Miss::Known(hash, key) => AuthFuture::new(async move {
                let ok = this
                    .slow(key, &username, &password, Some(hash), None)
                    .await?;
                Ok(ok.then(user).flatten())
            }),
            Miss::Unknown(dummy) => AuthFuture::new(async move {
                this.refuse_unknown(&username, &dummy).await?;
                Ok(None)
            }),
        }
    }

    /// A user the store knows does not exist: no hash is computed. The refusal waits what a
    /// wrong password of a known user arriving now takes: the wait for a permit the pool's
    /// state and this username's refusals in flight give ([`HashPool::outlook_unknown`])
    /// plus the cost of the most expensive hash class (the dummy's class is measured once
    /// when no other is known), or is refused (503) where that check would be; so the two
    /// stay indistinguishable, idle or busy, and a flood of unknown usernames costs no
    /// hashing at all.
    async fn refuse_unknown(&self, username: &str, dummy: &Dummy) -> Result<(), Busy> {
        let start = Instant::now();
        let outlook = self.pool.outlook_unknown(username);
        if self.costs.target().is_zero() && !self.costs.has_pending.load(Relaxed) {
            let hash = match dummy {
                Dummy::Fixed(hash) => hash.clone(),
                Dummy::Lazy(..) => {
                    let dummy = dummy.clone();
                    match tokio::runtime::Handle::try_current() {
                        Ok(_) => tokio::task::spawn_blocking(move || dummy.resolve())
                            .await
                            .unwrap_or_else(|_| Arc::from("")),
                        Err(_) => dummy.resolve(),
                    }
                }
            };
            self.costs.register(&hash);
        }
        self.calibrate().await;
        let padding = self.unknown_padding(outlook);
        Delay::until(start + padding.unwrap_or_else(|(_, after)| after)).await;
        padding.map(drop).map_err(|(busy, _)| busy)
    }

    /// How long after its arrival an unknown user's refusal answers given the pool's
    /// `outlook`: the wait plus what a known user's refusal takes once it has its permit,
    /// or a 503 (at once or at the deadline).
    fn unknown_padding(&self, outlook: Outlook) -> Result<Duration, (Busy, Duration)> {
        let refused = |after| {
            self.counters.unavailable.fetch_add(1, Relaxed);
            Err((self.pool.busy(), after))
        };
        match outlook {
            Outlook::Wait(wait) => Ok(wait + self.costs.refusal()),
            Outlook::Refused => refused(Duration::ZERO),
            Outlook::RefusedAfter(deadline) => refused(deadline),
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
        username: &str,
        password: &str,
        hash: Option<Arc<str>>,
        dummy: Option<Dummy>,
    ) -> Verdict {
        let (Some(cache), Some(key)) = (&self.cache, key) else {
            return self.run(username, password, hash, dummy).await;
        };
        let cacheable = hash.is_some();
        let flight = cache.join(key);
        let mut ran = false;
        let verdict = *flight
            .cell()
            .get_or_init(|| {
                ran = true;
                async move {
                    let verdict = self.run(username, password, hash, dummy).await;
                    if verdict == Ok(true) && cacheable {
                        cache.insert(key);
                    }
                    verdict
                }
            })
            .await;
        if !ran {
            self.counters.coalesced.fetch_add(1, Relaxed);
        }
        verdict.map(|ok| ok && cacheable)
    }

    /// One verification on the blocking pool, behind the pool's fair, bounded queue; a
    /// refusal is then padded to the most expensive class's cost, without a permit.
    async fn run(
        &self,
        username: &str,
        password: &str,
        hash: Option<Arc<str>>,
        dummy: Option<Dummy>,
    ) -> Verdict {
        let known = hash.is_some();
        let password = password.to_owned();
        let counters = self.counters.clone();
        let costs = self.costs.clone();
        let work = move || {
            counters.verifications.fetch_add(1, Relaxed);
            let (hash, known) = match (hash, dummy) {
                (Some(hash), _) => (hash, true),
                (None, Some(dummy)) => (dummy.resolve(), false),
                (None, None) => return (false, Instant::now()),
            };
            let start = Instant::now();
            let result = check_password_hash(&hash, &password);
            // Only a check that hashed says what the class costs: one refused at once (a
            // password over bcrypt's 72 bytes, a malformed hash) would pull the average, and
            // so the refusal padding, towards zero.
            if result.is_ok() {
                costs.record(cost_class(&hash), start.elapsed());
            }
            let ok = match result {
                Ok(ok) => ok && known,
                Err(err) => {
                    log_check_error(&err);
                    false
                }
            };
            (ok, start)
        };
        let (ok, start) = if tokio::runtime::Handle::try_current().is_err() {
            work()
        } else {
            #[cfg(feature = "metrics")]
            let queued = Instant::now();
            let permit = self.pool.acquire(username).await;
            #[cfg(feature = "metrics")]
            crate::metrics::pool_wait(queued.elapsed(), self.pool.waiting());
            let permit = match permit {
                Ok(permit) => permit,
                Err(busy) => {
                    self.counters.unavailable.fetch_add(1, Relaxed);
                    return Err(busy);
                }
            };
            match tokio::task::spawn_blocking(move || {
                let _permit = permit;
                work()
            })
            .await
            {
                Ok(answer) => answer,
                Err(_) => (false, Instant::now()),
            }
        };
        if !ok {
            let took = start.elapsed();
            self.calibrate().await;
            let target = self.costs.target();
            Delay::until(start + target).await;
            if known {
                self.costs.record_refusal(took.max(target));
            }
        }
        Ok(ok)
    }

    /// Measures the hashes registered since the last refusal (one verification each, on the
    /// pool), so this refusal is already padded to their cost. One caller at a time; a hash
    /// the pool refuses stays pending.
    async fn calibrate(&self) {
        if !self.costs.has_pending.load(Relaxed) {
            return;
        }
        let _one = self.costs.calibrating.lock().await;
        let mut pending = self.costs.take_pending().into_iter();
        while let Some(hash) = pending.next() {
            let permit = if tokio::runtime::Handle::try_current().is_ok() {
                match self.pool.acquire("\0httpauth-calibration").await {
                    Ok(permit) => Some(permit),
                    Err(_) => {
                        // Measured at a later refusal.
                        self.costs.put_back(std::iter::once(hash).chain(pending));
                        return;
                    }
                }
            } else {
                None
            };
            let costs = self.costs.clone();
            let measure = move || {
                let start = Instant::now();
                // As for a real check: only one that hashed measures the class.
                if check_password_hash(&hash, "httpauth calibration: not a password").is_ok() {
                    costs.record(cost_class(&hash), start.elapsed());
                }
            };
            match permit {
                None => measure(),
                Some(permit) => {
                    let _ = tokio::task::spawn_blocking(move || {
                        let _permit = permit;
                        measure();
                    })
                    .await;
                }
            }
            self.counters.calibrations.fetch_add(1, Relaxed);
        }
    }
}

/// A check that failed with an error. A password too long for the format is the client's
/// doing (attacker-triggerable): DEBUG. A stored hash the implementation rejects is the
/// application's: WARN.
fn log_check_error(err: &HashError) {
    match err {
        HashError::PasswordTooLong { .. } => {
            tracing::debug!(target: "httpauth", "password check refused: {err}");
        }
        _ => tracing::warn!(target: "httpauth", "password check failed: {err}"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future as _;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap()
    }

    /// A rush of checks of different users queues behind one permit (each held 20 ms).
    async fn rush(pool: &HashPool, users: usize) {
        let tasks: Vec<_> = (0..users)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let _permit = pool.acquire(&format!("user{i}")).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    }

    #[test]
    fn an_idle_unknown_refusal_is_not_padded_by_a_past_queue() {
        rt().block_on(async {
            let pool = HashPool::new(1);
            let checker = PasswordChecker::new().pool(pool.clone());
            checker.costs.record("$2y$10$", Duration::from_millis(50));
            rush(&pool, 8).await;
            assert_eq!((pool.available(), pool.waiting()), (1, 0));
            // Idle again: a known user's check would get its permit at once, so an unknown
            // user's refusal waits the hash's cost and nothing more.
            assert!(pool.typical_hold() >= Duration::from_millis(20));
            assert_eq!(pool.outlook(), Outlook::Wait(Duration::ZERO));
            assert_eq!(
                checker.unknown_padding(pool.outlook()),
                Ok(Duration::from_millis(50))
            );
        });
    }

    #[test]
    fn an_unknown_user_is_refused_where_a_known_check_would_be() {
        rt().block_on(async {
            let pool = HashPool::new(1).max_waiters(1);
            let checker = PasswordChecker::new().pool(pool.clone());
            let hash: Arc<str> = Params::new(1024, 1, 1).unwrap().hash("hello").into();
            let held = pool.acquire("a").await.unwrap();
            let mut queued = Box::pin(pool.acquire("b"));
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(queued.as_mut().poll(&mut cx).is_pending());
            assert_eq!(pool.waiting(), 1);
            // The queue is full: a known user's check and an unknown user's are both 503.
            let known = checker.try_verify("c", "nope", hash.clone()).await;
            let unknown = checker.try_verify_unknown("ghost", "nope", hash).await;
            for answer in [known.map(drop), unknown] {
                let err = answer.unwrap_err();
                assert_eq!(err.kind(), crate::AuthErrorKind::Overloaded);
                assert_eq!(err.retry_after(), Some(3));
            }
            assert_eq!(checker.stats().unavailable, 2);
            drop(held);
            assert!(queued.await.is_ok());
        });
    }

    #[test]
    fn an_unknown_refusal_takes_what_known_refusals_take() {
        let costs = Costs::default();
        costs.record("$2y$10$", Duration::from_millis(50));
        assert_eq!(costs.refusal(), Duration::from_millis(50));
        // Known refusals take the hash when it is slower than the target (a busy CPU).
        costs.record_refusal(Duration::from_millis(90));
        assert_eq!(costs.refusal(), Duration::from_millis(90));
        costs.record_refusal(Duration::from_millis(50));
        assert_eq!(costs.refusal(), Duration::from_millis(80));
        // Never less than the target.
        costs.record("$2y$12$", Duration::from_millis(200));
        assert_eq!(costs.refusal(), Duration::from_millis(200));
    }

    #[test]
    fn padding_target_is_the_largest_class_average() {
        let costs = Costs::default();
        assert_eq!(costs.target(), Duration::ZERO);
        costs.record("$apr1$", Duration::from_micros(500));
        costs.record("$2y$10$", Duration::from_millis(100));
        costs.record("$2y$12$", Duration::from_millis(400));
        assert_eq!(costs.target(), Duration::from_millis(400));
        // EWMA, weight 1/4: one fast outlier moves the average a quarter of the way.
        costs.record("$2y$12$", Duration::from_millis(0));
        assert_eq!(costs.target(), Duration::from_millis(300));
        // The target is the largest class average, whichever class moved.
        for _ in 0..20 {
            costs.record("$2y$12$", Duration::from_millis(50));
        }
        assert_eq!(costs.target(), Duration::from_millis(100));
    }

    #[test]
    fn classes_are_registered_once_and_bounded() {
        let costs = Costs::default();
        let a: Arc<str> = "$2y$10$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into();
        let b: Arc<str> = "$2y$10$bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb".into();
        costs.register(&a);
        costs.register(&b); // same class
        assert_eq!(costs.take_pending().len(), 1);
        assert!(!costs.has_pending.load(Relaxed));
        for i in 0..100 {
            costs.register(&Arc::from(format!("$6$rounds={}$salt$hash", 1000 + i)));
        }
        assert_eq!(costs.take_pending().len(), MAX_CLASSES - 1);
        for i in 0..100 {
            costs.record(&format!("c{i}"), Duration::from_millis(i));
        }
        assert!(costs.classes.lock().unwrap().len() <= MAX_CLASSES + 1);
        assert_eq!(costs.target(), Duration::from_millis(99));
    }
}
