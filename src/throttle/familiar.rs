//! Familiar addresses (smart lockout): where each user has logged in successfully, as keyed
//! 64-bit hashes of the canonical username and the address (IPv4, or the /64 of IPv6), in a
//! fixed table. At a familiar address a user is judged by that pair's own failures, counted
//! here exactly; failures from elsewhere cannot lock them out there.
//!
//! Bounded: `capacity` entries of 24 bytes, set-associative (4 ways); a new pair takes the
//! place of the way whose last success is oldest. Only a successful login adds or refreshes
//! an entry, so an attacker without a password cannot push entries out.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

const WAYS: usize = 4;

#[derive(Clone, Copy, Default)]
struct Entry {
    /// The pair's hash (0: empty).
    tag: u64,
    /// The last success, seconds since `origin`.
    seen: u32,
    /// The pair's failures in its window, and when that window started.
    failures: u32,
    since: u32,
}

pub(crate) struct Familiar {
    entries: Box<[Entry]>,
    buckets: usize,
    lifetime: Duration,
    origin: Instant,
    /// Pairs with failures in their window (so a throttle with none skips its lookups).
    failing: usize,
}

impl Familiar {
    pub(crate) fn new(capacity: usize, lifetime: Duration) -> Self {
        let buckets = capacity.div_ceil(WAYS).max(1);
        Self {
            entries: vec![Entry::default(); buckets * WAYS].into_boxed_slice(),
            buckets,
            lifetime,
            origin: Instant::now(),
            failing: 0,
        }
    }

    #[cfg(test)]
    pub(crate) const ENTRY_BYTES: usize = std::mem::size_of::<Entry>();

    fn secs(&self, now: Instant) -> u32 {
        u32::try_from(now.saturating_duration_since(self.origin).as_secs()).unwrap_or(u32::MAX)
    }

    fn bucket(&mut self, pair: u64) -> &mut [Entry] {
        let pair = pair | 1;
        let b = usize::try_from(pair % self.buckets as u64).unwrap_or(0);
        &mut self.entries[b * WAYS..(b + 1) * WAYS]
    }

    fn live(&self, e: &Entry, now: u32) -> bool {
        e.tag != 0 && u64::from(now.saturating_sub(e.seen)) < self.lifetime.as_secs()
    }

    fn find(&mut self, pair: u64, now: Instant) -> Option<usize> {
        let tag = pair | 1;
        let t = self.secs(now);
        let b = usize::try_from(tag % self.buckets as u64).unwrap_or(0);
        (b * WAYS..(b + 1) * WAYS).find(|&i| {
            let e = self.entries[i];
            e.tag == tag && self.live(&e, t)
        })
    }

    /// Whether the user has logged in from this address within the lifetime.
    #[cfg(test)]
    pub(crate) fn is_familiar(&mut self, pair: u64, now: Instant) -> bool {
        self.find(pair, now).is_some()
    }

    /// How long the familiar pair must wait (`None`: not familiar, or under `limit`).
    pub(crate) fn blocked(
        &mut self,
        pair: u64,
        limit: u32,
        window: Duration,
        now: Instant,
    ) -> Option<Option<Duration>> {
        let i = self.find(pair, now)?;
        let e = self.entries[i];
        let t = self.secs(now);
        let elapsed = Duration::from_secs(u64::from(t.saturating_sub(e.since)));
        Some((e.failures >= limit && elapsed < window).then(|| window - elapsed))
    }

    /// A success: the pair is familiar (again) and its failures are forgotten.
    pub(crate) fn succeed(&mut self, pair: u64, now: Instant) {
        let tag = pair | 1;
        let t = self.secs(now);
        let lifetime = self.lifetime;
        let live =
            |e: &Entry| e.tag != 0 && u64::from(t.saturating_sub(e.seen)) < lifetime.as_secs();
        let mut cleared = 0;
        let bucket = self.bucket(pair);
        let slot = match bucket.iter().position(|e| e.tag == tag) {
            Some(i) => i,
            None => match bucket.iter().position(|e| !live(e)) {
                Some(i) => i,
                None => bucket
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, e)| e.seen)
                    .map_or(0, |(i, _)| i),
            },
        };
        if bucket[slot].failures > 0 {
            cleared = 1;
        }
        bucket[slot] = Entry {
            tag,
            seen: t,
            failures: 0,
            since: t,
        };
        self.failing = self.failing.saturating_sub(cleared);
    }

    /// A failure at the pair (counted only where it is familiar).
    pub(crate) fn fail(&mut self, pair: u64, window: Duration, now: Instant) {
        let Some(i) = self.find(pair, now) else {
            return;
        };
        let t = self.secs(now);
        let e = &mut self.entries[i];
        if e.failures == 0 || u64::from(t.saturating_sub(e.since)) >= window.as_secs() {
            if e.failures == 0 {
                self.failing += 1;
            }
            e.failures = 1;
            e.since = t;
        } else {
            e.failures = e.failures.saturating_add(1);
        }
    }

    /// Takes back a failure counted when an attempt started waiting.
    pub(crate) fn forgive(&mut self, pair: u64, now: Instant) {
        let Some(i) = self.find(pair, now) else {
            return;
        };
        let e = &mut self.entries[i];
        if e.failures > 0 {
            e.failures -= 1;
            if e.failures == 0 {
                self.failing = self.failing.saturating_sub(1);
            }
        }
    }
}

/// The table behind its lock, and whether any familiar pair has failures, readable without
/// the lock: every request of a route with a throttle asks that (so the common case, no
/// failures, takes no lock shared by every thread).
pub(crate) struct Table {
    table: Mutex<Familiar>,
    failing: AtomicBool,
}

impl Table {
    pub(crate) fn new(capacity: usize, lifetime: Duration) -> Self {
        Self {
            table: Mutex::new(Familiar::new(capacity, lifetime)),
            failing: AtomicBool::new(false),
        }
    }

    /// The table, locked. The flag [`has_failures`](Self::has_failures) reads is brought up
    /// to date when the guard is dropped, still under the lock.
    pub(crate) fn lock(&self) -> Guard<'_> {
        Guard {
            table: self.table.lock().unwrap_or_else(PoisonError::into_inner),
            failing: &self.failing,
        }
    }

    /// Whether any familiar pair has failures (an upper bound: windows that ended count until
    /// the pair's next success).
    pub(crate) fn has_failures(&self) -> bool {
        self.failing.load(Ordering::Acquire)
    }
}

/// The locked table ([`Table::lock`]).
pub(crate) struct Guard<'a> {
    table: MutexGuard<'a, Familiar>,
    failing: &'a AtomicBool,
}

impl Deref for Guard<'_> {
    type Target = Familiar;

    fn deref(&self) -> &Familiar {
        &self.table
    }
}

impl DerefMut for Guard<'_> {
    fn deref_mut(&mut self) -> &mut Familiar {
        &mut self.table
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let failing = self.table.failing > 0;
        // Written only when it changes: most guards only read the table.
        if self.failing.load(Ordering::Relaxed) != failing {
            self.failing.store(failing, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn familiar_pairs_count_their_own_failures() {
        let mut f = Familiar::new(8, Duration::from_secs(3600));
        let now = f.origin;
        let w = Duration::from_secs(900);
        assert!(!f.is_familiar(5, now));
        f.fail(5, w, now);
        assert_eq!(
            f.blocked(5, 1, w, now),
            None,
            "not familiar: not counted here"
        );
        f.succeed(5, now);
        assert_eq!(f.blocked(5, 2, w, now), Some(None));
        f.fail(5, w, now);
        f.fail(5, w, now);
        assert_eq!(f.blocked(5, 2, w, now), Some(Some(w)));
        f.succeed(5, now);
        assert_eq!(f.blocked(5, 2, w, now), Some(None));
        // The lifetime ends.
        assert!(!f.is_familiar(5, now + Duration::from_secs(3600)));
        // Bounded: many successes keep at most `capacity` entries.
        for p in 0..1000 {
            f.succeed(p * 7919, now);
        }
        assert_eq!(f.entries.len(), 8);
        assert_eq!(Familiar::ENTRY_BYTES, 24);
    }

    #[test]
    fn the_failure_flag_follows_the_table_without_its_lock() {
        let table = Table::new(8, Duration::from_secs(3600));
        let w = Duration::from_secs(900);
        let now = table.lock().origin;
        assert!(!table.has_failures());
        table.lock().succeed(5, now);
        table.lock().fail(9, w, now);
        assert!(!table.has_failures(), "not familiar: nothing counted");
        table.lock().fail(5, w, now);
        assert!(table.has_failures());
        table.lock().forgive(5, now);
        assert!(!table.has_failures());
        table.lock().fail(5, w, now);
        table.lock().succeed(5, now);
        assert!(
            !table.has_failures(),
            "a success clears the pair's failures"
        );
    }
}
