//! The verified-credential cache: keyed SipHash-2-4-128 keys, successes only, bounded, with a TTL, and
//! single flight for concurrent identical misses.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use tokio::sync::OnceCell;

/// The answer of a slow check: whether it matched, or the pool refused it.
pub(crate) type Verdict = Result<bool, super::pool::Busy>;

/// Size and lifetime of the verified-credential cache.
///
/// Defaults: 10 000 entries, 5 minutes. An entry is about 80 bytes, so the default costs at most
/// ~1 MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    max_entries: usize,
    ttl: Duration,
}

impl CacheConfig {
    /// Default entry bound.
    pub const DEFAULT_MAX_ENTRIES: usize = 10_000;
    /// Default lifetime of an entry.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

    /// The defaults (10 000 entries, 5 minutes).
    #[must_use]
    pub fn new() -> Self {
        Self {
            max_entries: Self::DEFAULT_MAX_ENTRIES,
            ttl: Self::DEFAULT_TTL,
        }
    }

    /// The most entries kept (at least 1). When full, the oldest entry is evicted.
    #[must_use]
    pub fn max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries.max(1);
        self
    }

    /// How long a verified credential is trusted without hashing again, counted from the
    /// verification (a hit does not extend it).
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The entry bound.
    #[must_use]
    pub fn get_max_entries(&self) -> usize {
        self.max_entries
    }

    /// The lifetime of an entry.
    #[must_use]
    pub fn get_ttl(&self) -> Duration {
        self.ttl
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) type Key = [u8; 16];

/// The random seed of a store's [`EntryKey`]s: one per store, kept across reloads of a file,
/// never leaves the process.
#[derive(Clone, Copy)]
pub(crate) struct EntryKeys([u8; 16]);

impl EntryKeys {
    pub(crate) fn new() -> Self {
        let mut seed = [0_u8; 16];
        OsRng.fill_bytes(&mut seed);
        Self(seed)
    }

    /// The key of one stored hash: SipHash-2-4-128 of the hash under the seed, computed once,
    /// when the store loads the hash. The same hash always has the same key in one store (a
    /// reload keeps its users' cache entries); a changed hash has another key, so a changed
    /// password misses at once.
    pub(crate) fn of(&self, hash: &str) -> EntryKey {
        use siphasher::sip128::SipHasher24;
        EntryKey(
            SipHasher24::new_with_key(&self.0)
                .hash(hash.as_bytes())
                .as_bytes(),
        )
    }
}

/// A secret 128-bit PRF key for one stored hash ([`EntryKeys::of`]): a cache key for that hash
/// covers only the password, under this key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntryKey([u8; 16]);

/// What a key binds the credentials to.
#[derive(Clone, Copy)]
pub(crate) enum Stored<'a> {
    /// A stored hash given as a string (the own-store API, [`PasswordChecker`]'s methods).
    ///
    /// [`PasswordChecker`]: super::PasswordChecker
    Full(&'a str),
    /// A stored hash given by its key (the built-in stores, which derive it once).
    Entry(&'a EntryKey),
    /// No stored hash (never inserted; unknown users are refused without a hash).
    #[cfg(test)]
    Unknown,
}

/// Keys are outputs of a keyed PRF under a secret key: uniformly distributed and impossible to
/// aim, so their first 8 bytes are a good hash (no second hashing needed against flooding).
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }
}

type KeyMap<V> = HashMap<Key, V, std::hash::BuildHasherDefault<KeyHasher>>;

struct Entries {
    /// key → when it was verified.
    map: KeyMap<Instant>,
    /// Insertion order (= expiry order, the TTL being fixed); may hold stale duplicates,
    /// recognised by their instant.
    order: VecDeque<(Key, Instant)>,
}

pub(crate) struct CredentialCache {
    /// Distinguishes caches in the per-thread memo.
    id: u64,
    /// Bumped when an entry is evicted before its time or the cache is cleared: memo entries
    /// of an older generation are ignored.
    generation: AtomicU64,
    /// The key of the cache keys' PRF (random, per cache, never leaves the process).
    prf_key: [u8; 16],
    config: CacheConfig,
    entries: Mutex<Entries>,
    inflight: Mutex<KeyMap<Arc<OnceCell<Verdict>>>>,
}

/// A per-thread memo of the last few hits, so repeated hits on one core read no shared lock (a
/// shared lock's cache line bouncing between cores costs more than the lookup). It holds
/// PRF keys and verification times only, is checked against the TTL and the cache's
/// generation, and is refreshed from the shared map.
#[derive(Clone, Copy)]
struct Memo {
    cache: u64,
    generation: u64,
    key: Key,
    at: Instant,
}

const MEMO_SLOTS: usize = 4;

struct MemoTable {
    slots: [Option<Memo>; MEMO_SLOTS],
    next: usize,
}

thread_local! {
    static MEMO: RefCell<MemoTable> = const {
        RefCell::new(MemoTable {
            slots: [None; MEMO_SLOTS],
            next: 0,
        })
    };
}

static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(1);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CredentialCache {
    pub(crate) fn new(config: CacheConfig) -> Self {
        let mut prf_key = [0u8; 16];
        OsRng.fill_bytes(&mut prf_key);
        Self {
            id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            prf_key,
            config,
            entries: Mutex::new(Entries {
                map: KeyMap::default(),
                order: VecDeque::new(),
            }),
            inflight: Mutex::new(KeyMap::default()),
        }
    }

    pub(crate) fn config(&self) -> CacheConfig {
        self.config
    }

    /// The cache key of `password` against a stored hash: SipHash-2-4 with 128-bit output (a
    /// PRF). For a hash of a built-in store, of the password under the hash's own
    /// [`EntryKey`]. For a hash given in full, under this cache's random 128-bit key, of a
    /// header (a tag, then the lengths of the username, the password and the hash), then the
    /// username, the password and the hash; the lengths make the parts unambiguous. Without
    /// the keys no one can aim at a cached key; a forged hit would need a 128-bit collision with a
    /// verified entry. A key does not need the username for the built-in stores: a password
    /// that verifies against a hash verifies against it for every user who has that hash.
    pub(crate) fn key(&self, username: &str, password: &str, stored: Stored<'_>) -> Key {
        use siphasher::sip128::{Hasher128 as _, SipHasher24};
        use std::hash::Hasher as _;
        let (tag, full): (u8, &[u8]) = match stored {
            Stored::Entry(entry) => {
                return SipHasher24::new_with_key(&entry.0)
                    .hash(password.as_bytes())
                    .as_bytes();
            }
            Stored::Full(hash) => (0, hash.as_bytes()),
            #[cfg(test)]
            Stored::Unknown => (2, &[]),
        };
        // u32 lengths: parts are capped far below 4 GiB (passwords at 4 KiB).
        let len = |part: &[u8]| u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes();
        let mut header = [0_u8; 13];
        header[0] = tag;
        header[1..5].copy_from_slice(&len(username.as_bytes()));
        header[5..9].copy_from_slice(&len(password.as_bytes()));
        header[9..].copy_from_slice(&len(full));
        let mut prf = SipHasher24::new_with_key(&self.prf_key);
        for part in [&header[..], username.as_bytes(), password.as_bytes(), full] {
            prf.write(part);
        }
        prf.finish128().as_bytes()
    }

    /// Whether `key` was verified within the TTL (a hit), counted for the metrics.
    #[cfg(feature = "metrics")]
    pub(crate) fn contains(&self, key: &Key) -> bool {
        let hit = self.lookup(key);
        crate::metrics::cache_lookup(hit);
        hit
    }

    /// Whether `key` was verified within the TTL (a hit).
    #[cfg(not(feature = "metrics"))]
    #[inline(always)]
    pub(crate) fn contains(&self, key: &Key) -> bool {
        self.lookup(key)
    }

    #[inline(always)]
    fn lookup(&self, key: &Key) -> bool {
        let now = Instant::now();
        let ttl = self.config.ttl;
        let generation = self.generation.load(Ordering::Acquire);
        let memo = MEMO.with(|memo| {
            memo.borrow().slots.iter().flatten().find_map(|m| {
                (m.cache == self.id && m.generation == generation && m.key == *key).then_some(m.at)
            })
        });
        if memo.is_some_and(|at| now.duration_since(at) < ttl) {
            return true;
        }
        let at = lock(&self.entries).map.get(key).copied();
        match at {
            Some(at) if now.duration_since(at) < ttl => {
                MEMO.with(|memo| {
                    let mut memo = memo.borrow_mut();
                    let slot = memo
                        .slots
                        .iter()
                        .position(|m| m.is_some_and(|m| m.cache == self.id && m.key == *key))
                        .unwrap_or(memo.next);
                    memo.slots[slot] = Some(Memo {
                        cache: self.id,
                        generation,
                        key: *key,
                        at,
                    });
                    memo.next = (slot + 1) % MEMO_SLOTS;
                });
                true
            }
            _ => false,
        }
    }

    pub(crate) fn insert(&self, key: Key) {
        let now = Instant::now();
        let ttl = self.config.ttl;
        let mut entries = lock(&self.entries);
        let Entries { map, order } = &mut *entries;
        let before = map.len();
        // Drop expired entries and stale duplicates from the front, then make room.
        while let Some(&(k, at)) = order.front() {
            let stale = map.get(&k) != Some(&at);
            let expired = now.duration_since(at) >= ttl;
            if !(stale || expired || map.len() >= self.config.max_entries) {
                break;
            }
            order.pop_front();
            if !stale {
                map.remove(&k);
                if !expired {
                    // Evicted alive: per-thread memos must not keep answering for it.
                    self.generation.fetch_add(1, Ordering::Release);
                }
            }
        }
        map.insert(key, now);
        order.push_back((key, now));
        crate::metrics::cache_entries(map.len(), before);
    }

    pub(crate) fn len(&self) -> usize {
        let now = Instant::now();
        lock(&self.entries)
            .map
            .values()
            .filter(|&&at| now.duration_since(at) < self.config.ttl)
            .count()
    }

    pub(crate) fn clear(&self) {
        let mut entries = lock(&self.entries);
        crate::metrics::cache_entries(0, entries.map.len());
        entries.map.clear();
        entries.order.clear();
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Joins (or starts) the single flight for `key`.
    pub(crate) fn join(self: &Arc<Self>, key: Key) -> Flight {
        let cell = lock(&self.inflight).entry(key).or_default().clone();
        Flight {
            cache: self.clone(),
            key,
            cell: Some(cell),
        }
    }
}

/// A waiter of a single flight. The last waiter to leave removes the flight, including when
/// every waiter was cancelled.
pub(crate) struct Flight {
    cache: Arc<CredentialCache>,
    key: Key,
    cell: Option<Arc<OnceCell<Verdict>>>,
}

impl Flight {
    pub(crate) fn cell(&self) -> &OnceCell<Verdict> {
        self.cell
            .as_deref()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        let mut inflight = lock(&self.cache.inflight);
        if let Some(cell) = self.cell.take() {
            // Under the lock, only the map and the waiters hold the cell, and joining needs the
            // lock: a count of 2 means this is the last waiter.
            if Arc::strong_count(&cell) == 2
                && inflight
                    .get(&self.key)
                    .is_some_and(|c| Arc::ptr_eq(c, &cell))
            {
                inflight.remove(&self.key);
            }
            drop(cell);
        }
    }
}

impl CredentialCache {
    #[cfg(test)]
    pub(crate) fn inflight_len(&self) -> usize {
        lock(&self.inflight).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: &CredentialCache, user: &str, password: &str, hash: &str) -> Key {
        c.key(user, password, Stored::Full(hash))
    }

    #[test]
    fn keys_are_length_prefixed_and_keyed() {
        let c = CredentialCache::new(CacheConfig::new());
        assert_ne!(key(&c, "ab", "c", "h"), key(&c, "a", "bc", "h"));
        assert_ne!(key(&c, "a", "b", "h1"), key(&c, "a", "b", "h2"));
        assert_eq!(key(&c, "a", "b", "h"), key(&c, "a", "b", "h"));
        let other = CredentialCache::new(CacheConfig::new());
        assert_ne!(key(&c, "a", "b", "h"), key(&other, "a", "b", "h"));
    }

    #[test]
    fn keys_are_siphash_of_the_header_then_the_parts() {
        use siphasher::sip128::{Hasher128 as _, SipHasher24};
        use std::hash::Hasher as _;
        let c = CredentialCache::new(CacheConfig::new());
        let len = |part: &str| u32::try_from(part.len()).unwrap().to_be_bytes();
        let prf = |message: &[u8]| {
            let mut prf = SipHasher24::new_with_key(&c.prf_key);
            prf.write(message);
            prf.finish128().as_bytes()
        };
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
        let keys = EntryKeys::new();
        let entry = keys.of(hash);
        for password in ["", "p", &"x".repeat(50), &"ñ".repeat(300)] {
            let mut full = vec![0_u8];
            full.extend(len("john"));
            full.extend(len(password));
            full.extend(len(hash));
            full.extend_from_slice(b"john");
            full.extend_from_slice(password.as_bytes());
            full.extend_from_slice(hash.as_bytes());
            assert_eq!(key(&c, "john", password, hash), prf(&full));
            // A built-in store's hash: the password alone, under the hash's own key, which is
            // the hash under the store's seed.
            let under = |k: &[u8; 16], message: &[u8]| {
                let mut prf = SipHasher24::new_with_key(k);
                prf.write(message);
                prf.finish128().as_bytes()
            };
            assert_eq!(entry.0, under(&keys.0, hash.as_bytes()));
            assert_eq!(
                c.key("john", password, Stored::Entry(&entry)),
                under(&entry.0, password.as_bytes())
            );
        }
    }

    #[test]
    fn entry_keys_follow_the_hash_and_are_separate() {
        let c = CredentialCache::new(CacheConfig::new());
        let keys = EntryKeys::new();
        let (h1, h2) = (keys.of("h1"), keys.of("h2"));
        let entry = |u: &str, p: &str, k: &EntryKey| c.key(u, p, Stored::Entry(k));
        // The same hash has the same key in one store (a reload keeps the cache), another
        // key in another store.
        assert!(keys.of("h1") == h1);
        assert!(EntryKeys::new().of("h1") != h1);
        assert_ne!(entry("a", "b", &h1), entry("a", "b", &h2));
        assert_ne!(entry("a", "b", &h1), entry("a", "c", &h1));
        assert_eq!(entry("a", "b", &h1), entry("other", "b", &h1));
        // Never the key of another form.
        assert_ne!(entry("a", "b", &h1), key(&c, "a", "b", "h1"));
        assert_ne!(c.key("a", "b", Stored::Unknown), key(&c, "a", "b", ""));
        assert_ne!(c.key("a", "b", Stored::Unknown), entry("a", "b", &h1));
    }

    #[test]
    fn bounded_fifo_eviction() {
        let c = CredentialCache::new(CacheConfig::new().max_entries(3));
        let keys: Vec<Key> = (0..5).map(|i| key(&c, "u", &i.to_string(), "h")).collect();
        for k in &keys {
            c.insert(*k);
        }
        assert_eq!(c.len(), 3);
        assert!(!c.contains(&keys[0]) && !c.contains(&keys[1]));
        assert!(keys[2..].iter().all(|k| c.contains(k)));
    }

    #[test]
    fn memo_follows_clear_and_eviction() {
        let c = CredentialCache::new(CacheConfig::new().max_entries(1));
        let (a, b) = (key(&c, "a", "p", "h"), key(&c, "b", "p", "h"));
        c.insert(a);
        assert!(c.contains(&a) && c.contains(&a)); // the second from the memo
        c.clear();
        assert!(!c.contains(&a));
        c.insert(a);
        assert!(c.contains(&a));
        c.insert(b); // evicts a
        assert!(!c.contains(&a));
        assert!(c.contains(&b));
        // Another cache never answers from this one's memo.
        let other = CredentialCache::new(CacheConfig::new());
        assert!(!other.contains(&b));
    }

    #[test]
    fn expiry() {
        let c = CredentialCache::new(CacheConfig::new().ttl(Duration::from_millis(30)));
        let k = key(&c, "u", "p", "h");
        c.insert(k);
        assert!(c.contains(&k));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!c.contains(&k));
        // Re-inserting after expiry works and the stale order entry is dropped.
        c.insert(k);
        assert!(c.contains(&k));
        assert_eq!(lock(&c.entries).order.len(), 1);
    }

    #[test]
    fn flights_are_removed_by_the_last_waiter() {
        let c = Arc::new(CredentialCache::new(CacheConfig::new()));
        let k = key(&c, "u", "p", "h");
        let a = c.join(k);
        let b = c.join(k);
        assert!(std::ptr::eq(a.cell(), b.cell()));
        drop(a);
        assert_eq!(c.inflight_len(), 1);
        drop(b);
        assert_eq!(c.inflight_len(), 0);
    }
}
