//! The bounded, fair hashing pool ([`HashPool`]) and a timer that needs no runtime support
//! (`crate::timer::Delay`): the wait deadline in front of the pool and the padding of refusals.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use crate::error::{AuthError, AuthErrorKind, ConfigError};
pub(crate) use crate::timer::Delay;

/// Default wait deadline for a hashing permit.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(3);
/// Default queue bound: this many waiters per permit (a rush of first logins waits its turn
/// rather than being refused; unknown users never take a place, see
/// [`PasswordChecker`](super::PasswordChecker)).
pub const DEFAULT_WAITERS_PER_PERMIT: usize = 32;

/// At most this many usernames' unknown-user refusals are mirrored at once
/// ([`HashPool::outlook_unknown`]); beyond, a new username's are not (its refusals then wait
/// as if it had none in flight).
const MAX_MIRRORED: usize = 16_384;

/// The pool refused a check: its queue was full or the wait deadline passed. No hash was
/// computed; the request answers 503 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Busy {
    pub(crate) retry_after: u32,
}

impl From<Busy> for AuthError {
    fn from(busy: Busy) -> Self {
        AuthError::new(AuthErrorKind::Overloaded)
            .with_detail("the password hashing queue is full")
            .with_retry_after(busy.retry_after)
    }
}

/// The bound on concurrent slow hash verifications, with a bounded, fair queue in front.
///
/// Verifications run on Tokio's blocking pool (`spawn_blocking`), at most
/// [`max_concurrent`](Self::max_concurrent) at a time; the others wait for a permit without
/// holding a thread. A flood of wrong passwords therefore occupies at most that many cores and
/// never the async reactor, so other routes keep answering.
///
/// In front of the permits (defaults in brackets, for `n` permits):
///
/// - **Queue bound** [`max_waiters`](Self::max_waiters) [32 × `n`]: a check arriving at a full
///   queue is refused at once, without hashing (503 `Service Unavailable` with `Retry-After`).
/// - **Wait deadline** [`max_wait`](Self::max_wait) [3 s]: a check still waiting after it is
///   refused the same way. A slow hash never sits in a queue longer than that.
/// - **Fair across usernames**: each username has its own queue and the free permits go
///   round-robin across the usernames waiting, so a flood against one username is served
///   one check per round while another user's first login waits for at most one
///   verification per queued username. A username holds at most
///   [`max_per_key`](Self::max_per_key) [`max(1, n / 2)`] permits at once, so with two or more
///   permits one username's flood always leaves a permit to the others. When the queue is
///   full, an arrival whose username has a shorter queue than the longest one takes the place
///   of that queue's newest waiter (which is refused), so one username cannot fill the queue
///   against the others. Floods that rotate usernames are the route policy's to throttle, per
///   client address.
///
/// Unknown users never take a place: their refusal waits, without a permit, what a known
/// user's check arriving at the same moment would wait (estimated from the permits held, how
/// long they have been held, the usernames queued and the typical time a permit is held), and
/// is refused (503) where that check would be, so the queue cannot tell an attacker whether a
/// user exists, idle or busy. Several refusals of one unknown username in flight wait behind
/// each other as a known username's checks do behind its own (at most `max_per_key` at once).
///
/// Clones share the bound; the builder methods return a new pool. [`HashPool::shared`] (the
/// default of every checker) is one process-wide pool sized to the number of cores.
#[derive(Clone)]
pub struct HashPool {
    inner: Arc<Inner>,
}

struct Inner {
    permits: usize,
    max_waiters: usize,
    max_wait: Duration,
    max_per_key: usize,
    hasher: RandomState,
    refused: AtomicU64,
    /// A running average (EWMA, weight 1/8) of how long a permit is held, in nanoseconds: the
    /// service time behind which a new check waits.
    typical_hold: AtomicU64,
    state: Mutex<State>,
    /// Per unknown username (hashed): when its refusals in flight would have finished, had
    /// they been checks, in order (at most [`MAX_MIRRORED`] usernames).
    mirrored: Mutex<HashMap<u64, VecDeque<Instant>>>,
}

#[derive(Default)]
struct State {
    available: usize,
    waiting: usize,
    /// The permits held: their id and when they were granted (at most `permits` entries).
    held: Vec<(u64, Instant)>,
    next_id: u64,
    /// Per username (hashed): permits held and queued waiters (present while either is non-zero).
    keys: HashMap<u64, KeyState>,
    /// The usernames with waiters, in round-robin order (each at most once).
    order: VecDeque<u64>,
    waiters: HashMap<u64, Waiter>,
}

#[derive(Default)]
struct KeyState {
    running: usize,
    queue: VecDeque<u64>,
}

struct Waiter {
    key: u64,
    waker: Option<Waker>,
    status: Status,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    Granted,
    Refused,
}

/// A held hashing permit, released on drop (on whichever thread drops it).
pub(crate) struct Permit {
    pool: Arc<Inner>,
    key: u64,
    id: u64,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        self.pool.release(&mut state, self.key, self.id);
    }
}

/// What a check would meet if it arrived now ([`HashPool::outlook_unknown`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outlook {
    /// A permit after about this long (zero: one is free).
    Wait(Duration),
    /// Refused at once: the queue is full.
    Refused,
    /// Refused when the wait deadline (this long) passes.
    RefusedAfter(Duration),
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Permit")
    }
}

impl HashPool {
    /// A pool running at most `max_concurrent` verifications at once (at least 1), with the
    /// default queue bound (32 waiters per permit), wait deadline (3 s) and per-username cap
    /// (`max(1, max_concurrent / 2)`).
    #[must_use]
    pub fn new(max_concurrent: usize) -> Self {
        let permits = max_concurrent.max(1);
        Self::build(
            permits,
            permits.saturating_mul(DEFAULT_WAITERS_PER_PERMIT),
            DEFAULT_MAX_WAIT,
            (permits / 2).max(1),
        )
    }

    fn build(permits: usize, max_waiters: usize, max_wait: Duration, max_per_key: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                permits,
                max_waiters,
                max_wait,
                max_per_key,
                hasher: RandomState::new(),
                refused: AtomicU64::new(0),
                typical_hold: AtomicU64::new(0),
                state: Mutex::new(State {
                    available: permits,
                    ..State::default()
                }),
                mirrored: Mutex::default(),
            }),
        }
    }

    fn rebuild(&self, max_waiters: usize, max_wait: Duration, max_per_key: usize) -> Self {
        Self::build(self.inner.permits, max_waiters, max_wait, max_per_key)
    }

    /// The process-wide pool: as many permits as cores (`available_parallelism`), default
    /// queue settings.
    #[must_use]
    pub fn shared() -> Self {
        static SHARED: OnceLock<HashPool> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                HashPool::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
            })
            .clone()
    }

    /// At most this many checks wait for a permit; beyond, they are refused at once (503).
    /// Zero: no queue, a check finding every permit busy is refused. Returns a new pool.
    #[must_use]
    pub fn max_waiters(self, max_waiters: usize) -> Self {
        self.rebuild(max_waiters, self.inner.max_wait, self.inner.max_per_key)
    }

    /// A check waiting longer than this for a permit is refused (503). Returns a new pool.
    ///
    /// # Panics
    ///
    /// When `max_wait` is zero or over an hour; see [`try_max_wait`](Self::try_max_wait).
    #[must_use]
    pub fn max_wait(self, max_wait: Duration) -> Self {
        self.try_max_wait(max_wait)
            .unwrap_or_else(|err| panic!("httpauth: {err}"))
    }

    /// Like [`max_wait`](Self::max_wait), returning an error instead of panicking.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when `max_wait` is zero or over an hour.
    pub fn try_max_wait(self, max_wait: Duration) -> Result<Self, ConfigError> {
        if max_wait.is_zero() || max_wait > Duration::from_secs(3600) {
            return Err(ConfigError::Invalid {
                setting: "max_wait",
                reason: "must be more than zero and at most an hour",
            });
        }
        Ok(self.rebuild(self.inner.max_waiters, max_wait, self.inner.max_per_key))
    }

    /// At most this many permits held by checks of one username at once. Returns a new pool.
    ///
    /// # Panics
    ///
    /// When `max_per_key` is zero; see [`try_max_per_key`](Self::try_max_per_key).
    #[must_use]
    pub fn max_per_key(self, max_per_key: usize) -> Self {
        self.try_max_per_key(max_per_key)
            .unwrap_or_else(|err| panic!("httpauth: {err}"))
    }

    /// Like [`max_per_key`](Self::max_per_key), returning an error instead of panicking.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when `max_per_key` is zero.
    pub fn try_max_per_key(self, max_per_key: usize) -> Result<Self, ConfigError> {
        if max_per_key == 0 {
            return Err(ConfigError::Invalid {
                setting: "max_per_key",
                reason: "must be at least 1",
            });
        }
        Ok(self.rebuild(self.inner.max_waiters, self.inner.max_wait, max_per_key))
    }

    /// The bound on concurrent verifications.
    #[must_use]
    pub fn max_concurrent(&self) -> usize {
        self.inner.permits
    }

    /// The queue bound.
    #[must_use]
    pub fn queue_limit(&self) -> usize {
        self.inner.max_waiters
    }

    /// The wait deadline.
    #[must_use]
    pub fn wait_limit(&self) -> Duration {
        self.inner.max_wait
    }

    /// The per-username cap on permits.
    #[must_use]
    pub fn per_key_limit(&self) -> usize {
        self.inner.max_per_key
    }

    /// Permits free right now.
    #[must_use]
    pub fn available(&self) -> usize {
        self.inner.lock().available
    }

    /// Checks waiting for a permit right now.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.inner.lock().waiting
    }

    /// Checks refused so far (queue full or deadline passed).
    #[must_use]
    pub fn refused(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }

    /// A refusal, counted; its `Retry-After` is the wait deadline, rounded up to whole seconds.
    pub(super) fn busy(&self) -> Busy {
        self.inner.refused.fetch_add(1, Ordering::Relaxed);
        Busy {
            retry_after: crate::throttle::retry_after_secs(self.inner.max_wait),
        }
    }

    /// How long a permit is typically held (a running average of the permits released).
    pub(crate) fn typical_hold(&self) -> Duration {
        Duration::from_nanos(self.inner.typical_hold.load(Ordering::Relaxed))
    }

    /// What a check of a username with nothing running or queued would meet if it arrived
    /// now: a free permit, or a place behind the usernames queued (the round-robin serves
    /// each of them once first) as the held permits come free, each later one a typical hold
    /// after the one before; or a refusal, at once (queue full) or at the wait deadline.
    /// Computed from the pool's state at `now`, not from past waits, so it falls to zero as
    /// soon as the queue has drained.
    fn outlook_at(&self, now: Instant) -> Outlook {
        let hold = self.typical_hold();
        let state = self.inner.lock();
        if state.available > 0 {
            return Outlook::Wait(Duration::ZERO);
        }
        if state.waiting >= self.inner.max_waiters && state.victim_for(None).is_none() {
            return Outlook::Refused;
        }
        let ahead = state.order.len();
        let mut left: Vec<Duration> = state
            .held
            .iter()
            .map(|&(_, since)| hold.saturating_sub(now.saturating_duration_since(since)))
            .collect();
        drop(state);
        left.sort_unstable();
        let permits = self.inner.permits;
        // With every check holding its permit a typical hold, the k-th permit to come free
        // (from 0) is the (k mod n)-th held one, (k div n) holds later.
        let first = left.get(ahead % permits).copied().unwrap_or_default();
        let rounds = u32::try_from(ahead / permits).unwrap_or(u32::MAX);
        let wait = hold
            .checked_mul(rounds)
            .map_or(Duration::MAX, |w| w.saturating_add(first));
        if wait >= self.inner.max_wait {
            Outlook::RefusedAfter(self.inner.max_wait)
        } else {
            Outlook::Wait(wait)
        }
    }

    /// What a check of `key`, an unknown username the pool never sees, would meet if it
    /// arrived now: [`outlook_at`](Self::outlook_at), and the wait behind the same username's
    /// refusals still in flight, as a known username's checks wait behind its own (at most
    /// `max_per_key` at once, each a typical hold). This refusal is remembered until its check
    /// would have finished.
    pub(crate) fn outlook_unknown(&self, key: &str) -> Outlook {
        self.outlook_unknown_at(key, Instant::now())
    }

    /// [`outlook_at`](Self::outlook_at) now.
    #[cfg(test)]
    pub(crate) fn outlook(&self) -> Outlook {
        self.outlook_at(Instant::now())
    }

    fn outlook_unknown_at(&self, key: &str, now: Instant) -> Outlook {
        let wait = match self.outlook_at(now) {
            Outlook::Wait(wait) => wait,
            refused => return refused,
        };
        let hold = self.typical_hold();
        let key = self.inner.hasher.hash_one(key);
        let mut mirrored = self
            .inner
            .mirrored
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(finishes) = mirrored.get_mut(&key) {
            while finishes.front().is_some_and(|&finish| finish <= now) {
                finishes.pop_front();
            }
        }
        // With `cap` at once, this one starts when all but `cap - 1` of those ahead are done.
        let cap = self.inner.max_per_key;
        let own = mirrored.get(&key).map_or(Duration::ZERO, |finishes| {
            finishes
                .len()
                .checked_sub(cap)
                .and_then(|at| finishes.get(at))
                .map_or(Duration::ZERO, |&start| {
                    start.saturating_duration_since(now)
                })
        });
        let wait = wait.max(own);
        if wait >= self.inner.max_wait {
            return Outlook::RefusedAfter(self.inner.max_wait);
        }
        if mirrored.len() >= MAX_MIRRORED && !mirrored.contains_key(&key) {
            mirrored.retain(|_, finishes| finishes.back().is_some_and(|&last| last > now));
        }
        if mirrored.len() < MAX_MIRRORED || mirrored.contains_key(&key) {
            let finishes = mirrored.entry(key).or_default();
            let finish = now + wait + hold;
            let at = finishes.partition_point(|&f| f <= finish);
            finishes.insert(at, finish);
        }
        Outlook::Wait(wait)
    }

    /// A permit for a check of `key` (the username): at once, or after waiting in the key's
    /// queue, or a refusal (queue full, deadline passed).
    pub(crate) async fn acquire(&self, key: &str) -> Result<Permit, Busy> {
        let key = self.inner.hasher.hash_one(key);
        let id = {
            let mut state = self.inner.lock();
            let cap = self.inner.max_per_key;
            let running = state.keys.get(&key).map_or(0, |k| k.running);
            if state.available > 0 && running < cap {
                // Free permits with waiters left means those waiters are at their cap.
                state.available -= 1;
                state.keys.entry(key).or_default().running += 1;
                let id = state.next_id;
                state.next_id += 1;
                state.held.push((id, Instant::now()));
                return Ok(self.permit(key, id));
            }
            if state.waiting >= self.inner.max_waiters && !state.evict_for(key) {
                drop(state);
                return Err(self.busy());
            }
            let id = state.next_id;
            state.next_id += 1;
            state.waiters.insert(
                id,
                Waiter {
                    key,
                    waker: None,
                    status: Status::Waiting,
                },
            );
            let entry = state.keys.entry(key).or_default();
            entry.queue.push_back(id);
            if entry.queue.len() == 1 {
                state.order.push_back(key);
            }
            state.waiting += 1;
            id
        };
        let mut guard = WaitGuard {
            pool: &self.inner,
            id,
            done: false,
        };
        let mut deadline = Delay::new(self.inner.max_wait);
        let status = std::future::poll_fn(|cx| {
            let mut state = self.inner.lock();
            let Some(waiter) = state.waiters.get_mut(&id) else {
                return Poll::Ready(Status::Refused);
            };
            match waiter.status {
                Status::Waiting => {}
                done => {
                    state.waiters.remove(&id);
                    return Poll::Ready(done);
                }
            }
            if Pin::new(&mut deadline).poll(cx).is_ready() {
                state.remove_waiter(id);
                return Poll::Ready(Status::Refused);
            }
            if let Some(waiter) = state.waiters.get_mut(&id) {
                if !waiter
                    .waker
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    waiter.waker = Some(cx.waker().clone());
                }
            }
            Poll::Pending
        })
        .await;
        guard.done = true;
        match status {
            Status::Granted => Ok(self.permit(key, id)),
            _ => Err(self.busy()),
        }
    }

    fn permit(&self, key: u64, id: u64) -> Permit {
        Permit {
            pool: self.inner.clone(),
            key,
            id,
        }
    }
}

/// Takes a cancelled waiter (the request went away) out of the queue, or gives back the permit
/// it was granted but never saw.
struct WaitGuard<'a> {
    pool: &'a Inner,
    id: u64,
    done: bool,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut state = self.pool.lock();
        match state.waiters.get(&self.id).map(|w| (w.status, w.key)) {
            Some((Status::Granted, key)) => {
                state.waiters.remove(&self.id);
                self.pool.release(&mut state, key, self.id);
            }
            Some((Status::Waiting, _)) => state.remove_waiter(self.id),
            Some((Status::Refused, _)) => {
                state.waiters.remove(&self.id);
            }
            None => {}
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives permit `id` back (its hold time sampled) and hands the free permits round-robin
    /// to the waiting usernames.
    fn release(&self, state: &mut State, key: u64, id: u64) {
        if let Some(at) = state.held.iter().position(|&(held, _)| held == id) {
            let (_, since) = state.held.swap_remove(at);
            let ns = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let avg = self.typical_hold.load(Ordering::Relaxed);
            let next = if avg == 0 { ns } else { avg - avg / 8 + ns / 8 };
            self.typical_hold.store(next, Ordering::Relaxed);
        }
        if let Some(entry) = state.keys.get_mut(&key) {
            entry.running = entry.running.saturating_sub(1);
            if entry.running == 0 && entry.queue.is_empty() {
                state.keys.remove(&key);
            }
        }
        state.available += 1;
        self.dispatch(state);
    }

    fn dispatch(&self, state: &mut State) {
        'grant: while state.available > 0 {
            for _ in 0..state.order.len() {
                let Some(key) = state.order.pop_front() else {
                    break 'grant;
                };
                let Some(entry) = state.keys.get_mut(&key) else {
                    continue;
                };
                if entry.running >= self.max_per_key {
                    state.order.push_back(key);
                    continue;
                }
                let Some(id) = entry.queue.pop_front() else {
                    continue;
                };
                entry.running += 1;
                if !entry.queue.is_empty() {
                    state.order.push_back(key);
                }
                state.available -= 1;
                state.waiting -= 1;
                state.held.push((id, Instant::now()));
                if let Some(waiter) = state.waiters.get_mut(&id) {
                    waiter.status = Status::Granted;
                    if let Some(waker) = waiter.waker.take() {
                        waker.wake();
                    }
                }
                continue 'grant;
            }
            break;
        }
    }
}

impl State {
    /// Takes a still-waiting waiter out of its queue (deadline passed, or cancelled).
    fn remove_waiter(&mut self, id: u64) {
        let Some(waiter) = self.waiters.remove(&id) else {
            return;
        };
        if waiter.status != Status::Waiting {
            return;
        }
        self.waiting -= 1;
        if let Some(entry) = self.keys.get_mut(&waiter.key) {
            entry.queue.retain(|&x| x != id);
            if entry.queue.is_empty() {
                self.order.retain(|&k| k != waiter.key);
                if entry.running == 0 {
                    self.keys.remove(&waiter.key);
                }
            }
        }
    }

    /// The username whose newest waiter makes way when the queue is full and `key` (`None`: a
    /// username with nothing queued) arrives: the longest queue, if it is longer than `key`'s
    /// would be after joining.
    fn victim_for(&self, key: Option<u64>) -> Option<u64> {
        let own = key
            .and_then(|key| self.keys.get(&key))
            .map_or(0, |k| k.queue.len());
        let (&victim, longest) = self
            .keys
            .iter()
            .map(|(k, e)| (k, e.queue.len()))
            .max_by_key(|&(_, len)| len)?;
        (longest > own + 1).then_some(victim)
    }

    /// The queue is full: refuses the newest waiter of the longest queue if it is longer than
    /// `key`'s would be after joining; whether a place was made.
    fn evict_for(&mut self, key: u64) -> bool {
        let Some(victim) = self.victim_for(Some(key)) else {
            return false;
        };
        let Some(id) = self.keys.get_mut(&victim).and_then(|e| e.queue.pop_back()) else {
            return false;
        };
        self.waiting -= 1;
        if let Some(waiter) = self.waiters.get_mut(&id) {
            waiter.status = Status::Refused;
            if let Some(waker) = waiter.waker.take() {
                waker.wake();
            }
        }
        true
    }
}

impl fmt::Debug for HashPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("HashPool")
            .field("max_concurrent", &self.inner.permits)
            .field("max_waiters", &self.inner.max_waiters)
            .field("max_wait", &self.inner.max_wait)
            .field("max_per_key", &self.inner.max_per_key)
            .field("available", &state.available)
            .field("waiting", &state.waiting)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::{Context, Waker};
    use std::time::Instant;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn delay_without_a_time_driver() {
        rt().block_on(async {
            let start = Instant::now();
            Delay::new(Duration::from_millis(30)).await;
            assert!(start.elapsed() >= Duration::from_millis(30));
        });
    }

    #[test]
    fn queue_bound_refuses_at_once() {
        rt().block_on(async {
            let pool = HashPool::new(1).max_waiters(1);
            let held = pool.acquire("a").await.unwrap();
            // One waiter fits, the next is refused at once.
            let mut first = Box::pin(pool.acquire("a"));
            assert!(futures_poll(&mut first).is_none());
            assert_eq!(pool.waiting(), 1);
            let refused = pool.acquire("a").await.unwrap_err();
            assert_eq!(refused.retry_after, 3);
            assert_eq!(pool.refused(), 1);
            drop(held);
            let permit = first.await.unwrap();
            assert_eq!((pool.available(), pool.waiting()), (0, 0));
            drop(permit);
            assert_eq!(pool.available(), 1);
        });
    }

    #[test]
    fn deadline_refuses_and_leaves_the_queue() {
        rt().block_on(async {
            let pool = HashPool::new(1).max_wait(Duration::from_millis(20));
            let _held = pool.acquire("a").await.unwrap();
            let start = Instant::now();
            assert!(pool.acquire("b").await.is_err());
            assert!(start.elapsed() >= Duration::from_millis(20));
            assert_eq!(pool.waiting(), 0);
            assert_eq!(pool.inner.lock().keys.len(), 1);
        });
    }

    #[test]
    fn round_robin_and_per_key_cap() {
        rt().block_on(async {
            let pool = HashPool::new(2);
            assert_eq!(pool.per_key_limit(), 1);
            let a1 = pool.acquire("flood").await.unwrap();
            // The flood's second check waits: its username holds its cap.
            let mut a2 = Box::pin(pool.acquire("flood"));
            assert!(futures_poll(&mut a2).is_none());
            let mut a3 = Box::pin(pool.acquire("flood"));
            assert!(futures_poll(&mut a3).is_none());
            // Another user gets the free permit at once.
            let b = pool.acquire("victim").await.unwrap();
            let mut c = Box::pin(pool.acquire("other"));
            assert!(futures_poll(&mut c).is_none());
            // The victim's permit goes to "other" (the flood is at its cap).
            drop(b);
            let c = futures_poll(&mut c).unwrap().unwrap();
            drop(a1);
            let a2 = futures_poll(&mut a2).unwrap().unwrap();
            assert!(futures_poll(&mut a3).is_none());
            drop(a2);
            assert!(futures_poll(&mut a3).unwrap().is_ok());
            drop(c);
        });
    }

    #[test]
    fn full_queue_evicts_the_longest() {
        rt().block_on(async {
            let pool = HashPool::new(1).max_waiters(3);
            let _held = pool.acquire("x").await.unwrap();
            let mut flood: Vec<_> = (0..3).map(|_| Box::pin(pool.acquire("flood"))).collect();
            for f in &mut flood {
                assert!(futures_poll(f).is_none());
            }
            // The queue is full of the flood: a new username takes the newest flood place.
            let mut victim = Box::pin(pool.acquire("victim"));
            assert!(futures_poll(&mut victim).is_none());
            assert!(futures_poll(&mut flood[2]).unwrap().is_err());
            assert_eq!(pool.waiting(), 3);
            // The flood itself cannot push further.
            assert!(pool.acquire("flood").await.is_err());
            // Cancelling a waiter frees its place.
            drop(victim);
            assert_eq!(pool.waiting(), 2);
        });
    }

    #[test]
    fn outlook_follows_the_state_now() {
        rt().block_on(async {
            let pool = HashPool::new(1)
                .max_waiters(4)
                .max_wait(Duration::from_secs(60));
            assert_eq!(pool.outlook(), Outlook::Wait(Duration::ZERO));
            let permit = pool.acquire("a").await.unwrap();
            std::thread::sleep(Duration::from_millis(10));
            drop(permit);
            let hold = pool.typical_hold();
            assert!(hold >= Duration::from_millis(10));
            // One permit held just now, three usernames queued: the round-robin serves them
            // first, one hold each, after what is left of the held one.
            let held = pool.acquire("a").await.unwrap();
            let mut queued: Vec<_> = ["b", "c", "d"]
                .iter()
                .map(|u| Box::pin(pool.acquire(u)))
                .collect();
            for q in &mut queued {
                assert!(futures_poll(q).is_none());
            }
            let Outlook::Wait(wait) = pool.outlook() else {
                panic!("{:?}", pool.outlook());
            };
            assert!(wait >= hold * 3 && wait <= hold * 4, "{wait:?} {hold:?}");
            // The queue full, with a username queued twice: a new one would take its place.
            queued.push(Box::pin(pool.acquire("d")));
            assert!(futures_poll(queued.last_mut().unwrap()).is_none());
            assert_eq!(pool.waiting(), 4);
            assert!(matches!(pool.outlook(), Outlook::Wait(_)));
            // Full, every username queued once: refused at once.
            drop(queued.pop());
            queued.push(Box::pin(pool.acquire("e")));
            assert!(futures_poll(queued.last_mut().unwrap()).is_none());
            assert_eq!(pool.outlook(), Outlook::Refused);
            drop(queued);
            drop(held);
            assert_eq!(pool.outlook(), Outlook::Wait(Duration::ZERO));

            // A wait past the deadline is refused there.
            let strict = HashPool::new(1).max_wait(Duration::from_millis(1));
            let permit = strict.acquire("a").await.unwrap();
            std::thread::sleep(Duration::from_millis(10));
            drop(permit);
            let _held = strict.acquire("a").await.unwrap();
            let mut queued: Vec<_> = ["b", "c"]
                .iter()
                .map(|u| Box::pin(strict.acquire(u)))
                .collect();
            for q in &mut queued {
                assert!(futures_poll(q).is_none());
            }
            assert_eq!(
                strict.outlook(),
                Outlook::RefusedAfter(Duration::from_millis(1))
            );
        });
    }

    #[test]
    fn an_unknown_username_waits_behind_its_own_refusals() {
        rt().block_on(async {
            // Two permits, one per username: a known user's second check waits behind the
            // first even with a permit free.
            let pool = HashPool::new(2).max_wait(Duration::from_millis(25));
            let first = pool.acquire("john").await.unwrap();
            let mut second = Box::pin(pool.acquire("john"));
            assert!(futures_poll(&mut second).is_none());
            assert_eq!((pool.available(), pool.waiting()), (1, 1));
            drop(second);
            drop(first);
            // An unknown username's refusals in flight wait behind each other the same way.
            let hold = Duration::from_millis(10);
            pool.inner.typical_hold.store(10_000_000, Ordering::Relaxed);
            let now = Instant::now();
            let ghost = |at| pool.outlook_unknown_at("ghost", at);
            assert_eq!(ghost(now), Outlook::Wait(Duration::ZERO));
            assert_eq!(ghost(now), Outlook::Wait(hold));
            assert_eq!(ghost(now), Outlook::Wait(hold * 2));
            // Not another username's.
            assert_eq!(
                pool.outlook_unknown_at("other", now),
                Outlook::Wait(Duration::ZERO)
            );
            // Once the first would have finished, one fewer is ahead.
            assert_eq!(ghost(now + hold), Outlook::Wait(hold * 2));
            // Past the deadline: refused there, and not remembered.
            assert_eq!(
                ghost(now + hold),
                Outlook::RefusedAfter(Duration::from_millis(25))
            );
            assert_eq!(ghost(now + hold * 4), Outlook::Wait(Duration::ZERO));
        });
    }

    /// Polls once with a no-op waker.
    fn futures_poll<F: Future + Unpin>(f: &mut F) -> Option<F::Output> {
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(f).poll(&mut cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        }
    }
}
