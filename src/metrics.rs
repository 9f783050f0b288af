//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`): every
//! decision by outcome, scheme and reason, verification time, the hashing pool, the
//! verified-credential cache and the throttle. Install any recorder (Prometheus,
//! OpenTelemetry, StatsD) and they appear; without one they cost an atomic load each. The
//! names, labels and units are on one page: [metrics.md](crate::docs::metrics). Labels never
//! hold a username or an address.
//!
//! ```
//! # #[cfg(feature = "metrics")]
//! # fn main() {
//! use httpauth::policy::Decision;
//! use httpauth::scheme::AuthRequest;
//! use httpauth::BasicAuth;
//! use metrics_exporter_prometheus::PrometheusBuilder;
//!
//! let recorder = PrometheusBuilder::new().build_recorder();
//! let scrape = recorder.handle();
//! let route = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then(|| u.to_owned()))
//!     .login_required();
//!
//! // john:wrong
//! let req = http::Request::get("/").header("authorization", "Basic am9objp3cm9uZw==").body(()).unwrap();
//! let (parts, ()) = req.into_parts();
//! let decision = metrics::with_local_recorder(&recorder, || {
//!     httpauth::metrics::describe();
//!     route.check(&AuthRequest::new(&parts)).into_ready()
//! });
//! assert!(matches!(decision, Ok(Decision::Deny(res)) if res.status() == 401));
//!
//! let text = scrape.render();
//! assert!(text.contains(
//!     r#"httpauth_decisions_total{outcome="refused",scheme="Basic",reason="invalid_credentials"} 1"#
//! ));
//! # }
//! # #[cfg(not(feature = "metrics"))]
//! # fn main() {}
//! ```

#[cfg(all(feature = "metrics", feature = "password"))]
use std::sync::atomic::AtomicU64;
#[cfg(feature = "metrics")]
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
#[cfg(feature = "metrics")]
use std::time::{Duration, Instant};

#[cfg(feature = "metrics")]
use crate::error::AuthErrorKind;

/// Counter: one per decision. Labels: `outcome` (`allowed`, `refused`, `forbidden`,
/// `throttled`, `unavailable`, `overloaded`), `scheme` (the scheme's name, empty when no
/// scheme took the request), `reason` (`none` when allowed, else the error kind in snake case:
/// `missing_credentials`, `invalid_credentials`, ...).
#[cfg(feature = "metrics")]
pub const DECISIONS: &str = "httpauth_decisions_total";
/// Histogram, seconds: how long a scheme's verification took (the callback, a hash on the
/// pool including its wait, a store). Label: `scheme`.
#[cfg(feature = "metrics")]
pub const VERIFY_DURATION: &str = "httpauth_verify_duration_seconds";
/// Histogram, seconds: how long a password check waited for a hashing-pool permit (granted or
/// refused).
#[cfg(feature = "metrics")]
pub const POOL_WAIT: &str = "httpauth_hash_pool_wait_seconds";
/// Gauge: checks waiting for a hashing-pool permit, sampled as each check leaves the queue.
#[cfg(feature = "metrics")]
pub const POOL_QUEUE_DEPTH: &str = "httpauth_hash_pool_queue_depth";
/// Counter: verified-credential cache lookups. Label: `result` (`hit`, `miss`).
#[cfg(feature = "metrics")]
pub const CACHE_LOOKUPS: &str = "httpauth_cache_lookups_total";
/// Gauge: entries held by the verified-credential caches (expired ones until the next
/// insert drops them).
#[cfg(feature = "metrics")]
pub const CACHE_ENTRIES: &str = "httpauth_cache_entries";
/// Gauge: hits over lookups of the verified-credential caches since the process started
/// (0 to 1).
#[cfg(feature = "metrics")]
pub const CACHE_HIT_RATIO: &str = "httpauth_cache_hit_ratio";
/// Gauge: throttle keys refusing attempts now. Label: `key` (`user`, `addr`).
#[cfg(feature = "metrics")]
pub const BLOCKED_KEYS: &str = "httpauth_throttle_blocked_keys";

/// Registers each metric's description and unit with the installed recorder (the `HELP`
/// lines of a Prometheus scrape). Call it once, after installing the recorder; optional.
#[cfg(feature = "metrics")]
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        DECISIONS,
        Unit::Count,
        "Authentication decisions by outcome, scheme and reason."
    );
    describe_histogram!(
        VERIFY_DURATION,
        Unit::Seconds,
        "Time to verify credentials, by scheme."
    );
    describe_histogram!(
        POOL_WAIT,
        Unit::Seconds,
        "Time a password check waited for a hashing-pool permit."
    );
    describe_gauge!(
        POOL_QUEUE_DEPTH,
        Unit::Count,
        "Password checks waiting for a hashing-pool permit."
    );
    describe_counter!(
        CACHE_LOOKUPS,
        Unit::Count,
        "Verified-credential cache lookups by result."
    );
    describe_gauge!(
        CACHE_ENTRIES,
        Unit::Count,
        "Entries held by the verified-credential caches."
    );
    describe_gauge!(
        CACHE_HIT_RATIO,
        "Verified-credential cache hits over lookups since start."
    );
    describe_gauge!(
        BLOCKED_KEYS,
        Unit::Count,
        "Throttle keys (usernames, client addresses) refusing attempts now."
    );
}

/// Records one decision (`kind`: `None` when allowed).
#[inline]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn decision(kind: Option<crate::error::AuthErrorKind>, scheme: Option<&Arc<str>>) {
    #[cfg(feature = "metrics")]
    {
        let reason = kind.map_or("none", AuthErrorKind::code);
        let scheme = scheme.map_or(metrics::SharedString::const_str(""), |s| {
            metrics::SharedString::from(s.clone())
        });
        let outcome = kind.map_or("allowed", crate::audit::outcome);
        metrics::counter!(DECISIONS, "outcome" => outcome, "scheme" => scheme, "reason" => reason)
            .increment(1);
        blocked_keys_sweep();
    }
}

/// When a verification started (nothing without the feature).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Started(#[cfg(feature = "metrics")] Option<Instant>);

impl Started {
    #[inline]
    pub(crate) fn now() -> Self {
        Self(
            #[cfg(feature = "metrics")]
            Some(Instant::now()),
        )
    }

    /// Records the verification's duration under the scheme's name.
    #[cfg(feature = "metrics")]
    pub(crate) fn verified(self, scheme: &Arc<str>) {
        if let Some(start) = self.0 {
            let scheme = metrics::SharedString::from(scheme.clone());
            metrics::histogram!(VERIFY_DURATION, "scheme" => scheme)
                .record(start.elapsed().as_secs_f64());
        }
    }
}

/// A password check left the hashing pool's queue after `waited`, leaving `depth` waiting.
#[cfg(all(feature = "metrics", feature = "password"))]
pub(crate) fn pool_wait(waited: Duration, depth: usize) {
    metrics::histogram!(POOL_WAIT).record(waited.as_secs_f64());
    metrics::gauge!(POOL_QUEUE_DEPTH).set(depth as f64);
}

#[cfg(all(feature = "metrics", feature = "password"))]
static CACHE_HITS: AtomicU64 = AtomicU64::new(0);
#[cfg(all(feature = "metrics", feature = "password"))]
static CACHE_MISSES: AtomicU64 = AtomicU64::new(0);

/// A verified-credential cache lookup.
#[cfg(all(feature = "metrics", feature = "password"))]
pub(crate) fn cache_lookup(hit: bool) {
    {
        let (this, other) = if hit {
            (&CACHE_HITS, &CACHE_MISSES)
        } else {
            (&CACHE_MISSES, &CACHE_HITS)
        };
        let this = this.fetch_add(1, Relaxed) + 1;
        let other = other.load(Relaxed);
        let hits = if hit { this } else { other };
        metrics::counter!(CACHE_LOOKUPS, "result" => if hit { "hit" } else { "miss" }).increment(1);
        metrics::gauge!(CACHE_HIT_RATIO).set(hits as f64 / (this + other) as f64);
    }
}

/// A cache went from `before` entries to `after`.
#[cfg(feature = "password")]
#[inline]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn cache_entries(after: usize, before: usize) {
    #[cfg(feature = "metrics")]
    {
        let gauge = metrics::gauge!(CACHE_ENTRIES);
        if after > before {
            gauge.increment((after - before) as f64);
        } else if before > after {
            gauge.decrement((before - after) as f64);
        }
    }
}

/// The keys seen refusing attempts and when each block ends (at most `BLOCKED_CAP`), with
/// how many of each kind.
#[cfg(feature = "metrics")]
struct Blocked {
    until: std::collections::HashMap<(bool, u64), Instant>,
    users: usize,
    addrs: usize,
    next_sweep: Instant,
}

#[cfg(feature = "metrics")]
impl Blocked {
    /// Forgets the blocks that ended, and reports.
    fn sweep(&mut self, now: Instant) {
        let (mut users, mut addrs) = (0, 0);
        self.until.retain(|&(user, _), &mut end| {
            let live = end > now;
            if live {
                if user {
                    users += 1;
                } else {
                    addrs += 1;
                }
            }
            live
        });
        (self.users, self.addrs) = (users, addrs);
        self.next_sweep = now + Duration::from_secs(1);
        BLOCKED_ANY.store(!self.until.is_empty(), Relaxed);
        self.report();
    }

    fn report(&self) {
        metrics::gauge!(BLOCKED_KEYS, "key" => "user").set(self.users as f64);
        metrics::gauge!(BLOCKED_KEYS, "key" => "addr").set(self.addrs as f64);
    }
}

/// At most this many blocked keys are tracked (the gauge stops there).
#[cfg(feature = "metrics")]
const BLOCKED_CAP: usize = 65_536;

#[cfg(feature = "metrics")]
static BLOCKED: std::sync::Mutex<Option<Blocked>> = std::sync::Mutex::new(None);
/// Whether `BLOCKED` holds any key (a decision then sweeps it at most once a second).
#[cfg(feature = "metrics")]
static BLOCKED_ANY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The throttle refused an attempt of `key` for `wait`: the key counts as blocked until then.
#[inline]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn key_blocked(key: crate::throttle::ThrottleKey, wait: std::time::Duration) {
    #[cfg(feature = "metrics")]
    {
        let key = match key {
            crate::throttle::ThrottleKey::User(h) => (true, h),
            crate::throttle::ThrottleKey::Addr(h) => (false, h),
        };
        let now = Instant::now();
        let mut guard = BLOCKED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let blocked = guard.get_or_insert_with(|| Blocked {
            until: std::collections::HashMap::new(),
            users: 0,
            addrs: 0,
            next_sweep: now,
        });
        if blocked.until.len() >= BLOCKED_CAP {
            blocked.sweep(now);
        }
        let room = blocked.until.len() < BLOCKED_CAP || blocked.until.contains_key(&key);
        if room && blocked.until.insert(key, now + wait).is_none() {
            if key.0 {
                blocked.users += 1;
            } else {
                blocked.addrs += 1;
            }
            blocked.report();
        }
        BLOCKED_ANY.store(true, Relaxed);
    }
}

/// Drops the blocks that ended (at most once a second, only while some are held).
#[cfg(feature = "metrics")]
#[inline]
fn blocked_keys_sweep() {
    if !BLOCKED_ANY.load(Relaxed) {
        return;
    }
    let now = Instant::now();
    let mut guard = BLOCKED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(blocked) = guard.as_mut() {
        if now >= blocked.next_sweep {
            blocked.sweep(now);
        }
    }
}
