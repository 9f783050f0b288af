//! The verified-credential cache: HMAC-SHA-256 keys, successes only, bounded, with a TTL, and
//! single flight for concurrent identical misses.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::OnceCell;

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

pub(crate) type Key = [u8; 32];

struct Entries {
    /// key → when it was verified.
    map: HashMap<Key, Instant>,
    /// Insertion order (= expiry order, the TTL being fixed); may hold stale duplicates,
    /// recognised by their instant.
    order: VecDeque<(Key, Instant)>,
}

pub(crate) struct CredentialCache {
    mac: Hmac<Sha256>,
    config: CacheConfig,
    entries: Mutex<Entries>,
    inflight: Mutex<HashMap<Key, Arc<OnceCell<bool>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CredentialCache {
    pub(crate) fn new(config: CacheConfig) -> Self {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(&key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        Self {
            mac,
            config,
            entries: Mutex::new(Entries {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn config(&self) -> CacheConfig {
        self.config
    }

    /// HMAC-SHA-256, under this cache's random key, of the length-prefixed username, password
    /// and stored hash.
    pub(crate) fn key(&self, username: &str, password: &str, hash: &str) -> Key {
        let mut mac = self.mac.clone();
        for part in [username, password, hash] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    pub(crate) fn contains(&self, key: &Key) -> bool {
        let now = Instant::now();
        lock(&self.entries)
            .map
            .get(key)
            .is_some_and(|&at| now.duration_since(at) < self.config.ttl)
    }

    pub(crate) fn insert(&self, key: Key) {
        let now = Instant::now();
        let ttl = self.config.ttl;
        let mut entries = lock(&self.entries);
        let Entries { map, order } = &mut *entries;
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
            }
        }
        map.insert(key, now);
        order.push_back((key, now));
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
        entries.map.clear();
        entries.order.clear();
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
    cell: Option<Arc<OnceCell<bool>>>,
}

impl Flight {
    pub(crate) fn cell(&self) -> &OnceCell<bool> {
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

    #[test]
    fn keys_are_length_prefixed_and_keyed() {
        let c = CredentialCache::new(CacheConfig::new());
        assert_ne!(c.key("ab", "c", "h"), c.key("a", "bc", "h"));
        assert_ne!(c.key("a", "b", "h1"), c.key("a", "b", "h2"));
        assert_eq!(c.key("a", "b", "h"), c.key("a", "b", "h"));
        let other = CredentialCache::new(CacheConfig::new());
        assert_ne!(c.key("a", "b", "h"), other.key("a", "b", "h"));
    }

    #[test]
    fn bounded_fifo_eviction() {
        let c = CredentialCache::new(CacheConfig::new().max_entries(3));
        let keys: Vec<Key> = (0..5).map(|i| c.key("u", &i.to_string(), "h")).collect();
        for k in &keys {
            c.insert(*k);
        }
        assert_eq!(c.len(), 3);
        assert!(!c.contains(&keys[0]) && !c.contains(&keys[1]));
        assert!(keys[2..].iter().all(|k| c.contains(k)));
    }

    #[test]
    fn expiry() {
        let c = CredentialCache::new(CacheConfig::new().ttl(Duration::from_millis(30)));
        let k = c.key("u", "p", "h");
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
        let k = c.key("u", "p", "h");
        let a = c.join(k);
        let b = c.join(k);
        assert!(std::ptr::eq(a.cell(), b.cell()));
        drop(a);
        assert_eq!(c.inflight_len(), 1);
        drop(b);
        assert_eq!(c.inflight_len(), 0);
    }
}
