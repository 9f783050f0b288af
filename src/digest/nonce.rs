//! Nonces without a session store, and replay protection.
//!
//! **Nonce** (default): `hex(timestamp ‖ key id ‖ random ‖ tag)`, 72 hex digits, where
//! `timestamp` is the issue time in milliseconds since the Unix epoch (8 bytes, big-endian),
//! `key id` names the secret that made it (2 bytes of `HMAC-SHA-256(key, "httpauth digest key
//! id")`), `random` 10 bytes from the OS CSPRNG and `tag` the first 16 bytes of
//! `HMAC-SHA-256(key, "httpauth digest nonce v1" ‖ len(realm) ‖ realm ‖ timestamp ‖ key id ‖
//! random)`. Verifying it recomputes the tag under the secret its key id names (constant-time
//! comparison; one MAC, or one per configured secret sharing that id): no state is kept
//! between the challenge and the answer, any instance holding the key can check it, and
//! neither the timestamp nor the realm can be changed without the key.
//!
//! **Several secrets** ([`DigestAuth::secrets`](super::DigestAuth::secrets)): the first makes
//! new nonces, every one verifies. A nonce whose key id names none of them was made by a
//! secret that was removed (a rotation, a restart with a random secret): it is refused as
//! stale (`stale=true`, before any callback runs), so the client retries with the fresh nonce
//! of the challenge without asking its user.
//!
//! The **opaque** is `hex(HMAC-SHA-256(key, "httpauth digest opaque v3" ‖ random)[..16])`, so
//! it is bound to the nonce it was issued with and to the `nextnonce`s that follow it: a
//! `nextnonce` (`Authentication-Info`) keeps the random part under a new timestamp, key id
//! and tag, and the client sends it with the opaque it already has (RFC 7616 §3.3: the opaque
//! is returned unchanged). Any configured secret verifies an opaque (the first tried first).
//! With a custom nonce generator the default opaque is
//! `hex(HMAC-SHA-256(key, "httpauth digest opaque v1" ‖ lowercase nonce)[..16])`.
//!
//! **Replay protection**: a correct answer is accepted only if its `(nonce, nc)` pair was never
//! accepted before. A [`NonceStore`] remembers, per nonce, the highest `nc` seen and a 64-bit
//! bitmap of the 64 counts below it ([`NcWindow`], as libmicrohttpd), so counts that arrive out
//! of order (concurrent requests, Chrome) are each accepted exactly once, and a count more than
//! 64 below the highest is refused. [`MemoryNonceStore`] is the bounded in-memory default.
//!
//! ```
//! use httpauth::digest::{NcWindow, NonceUse};
//!
//! let mut w = NcWindow::new(1);
//! assert_eq!(w.check(3), NonceUse::Fresh);
//! assert_eq!(w.check(2), NonceUse::Fresh); // late, but not seen before
//! assert_eq!(w.check(2), NonceUse::Replayed);
//! assert_eq!(w.check(1), NonceUse::Replayed);
//! assert_eq!(w.check(100), NonceUse::Fresh);
//! assert_eq!(w.check(30), NonceUse::TooOld); // more than 64 below the highest
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::digest::Digest as _;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::hex;
use crate::scheme::AuthFuture;

type HmacSha256 = Hmac<Sha256>;

const TS_LEN: usize = 8;
/// The key id and the random part: what a `nextnonce` keeps (the id updated).
const RANDOM_LEN: usize = 12;
const ID_LEN: usize = 2;
const TAG_LEN: usize = 16;
const NONCE_LEN: usize = TS_LEN + RANDOM_LEN + TAG_LEN;
/// How far in the future an issue time may be (clock skew between instances sharing a key).
const MAX_SKEW_MS: u64 = 5_000;

/// The smallest secret [`DigestAuth::secret`](super::DigestAuth::secret) accepts.
pub const MIN_SECRET_LEN: usize = 32;

/// The most secrets [`DigestAuth::secrets`](super::DigestAuth::secrets) accepts (a rotation
/// needs two).
pub const MAX_SECRETS: usize = 8;

/// The HMAC keys of the default nonces and opaques: the first issues, every one verifies.
#[derive(Clone)]
pub(crate) struct NonceKey {
    keys: Box<[Key]>,
}

/// One secret's MAC and its id.
#[derive(Clone)]
struct Key {
    mac: HmacSha256,
    id: [u8; ID_LEN],
}

/// Why a default nonce is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceRefusal {
    /// Not a default nonce, or its tag is wrong.
    Forged,
    /// Well-formed, but made by a secret that is not configured (any more).
    Retired,
}

impl fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NonceKey(<redacted>)")
    }
}

/// What a default nonce says once its tag is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Issued {
    pub(crate) at_ms: u64,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn ms_to_time(ms: u64) -> SystemTime {
    // Saturates instead of overflowing (a very long `nonce_lifetime` on a platform with a
    // small `SystemTime` range).
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .unwrap_or_else(|| {
            UNIX_EPOCH
                .checked_add(Duration::from_secs(i32::MAX.unsigned_abs().into()))
                .unwrap_or(UNIX_EPOCH)
        })
}

fn time_to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Fills `buf` from the OS CSPRNG. The random part of a nonce only has to be unique (the tag
/// makes it unforgeable), so if the OS fails us a process-wide counter is mixed in instead.
fn random_bytes(buf: &mut [u8]) {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    if getrandom::getrandom(buf).is_err() {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes();
        for (b, c) in buf.iter_mut().zip(n.iter().cycle()) {
            *b ^= c;
        }
        tracing::warn!(target: "httpauth", "OS random generator failed; nonce uniqueness falls back to a counter");
    }
}

impl NonceKey {
    /// A key from the OS CSPRNG.
    ///
    /// # Panics
    ///
    /// If the OS random generator fails (no secure key can be made then).
    pub(crate) fn random() -> Self {
        let mut key = [0_u8; 32];
        if let Err(err) = getrandom::getrandom(&mut key) {
            panic!("httpauth: the OS random generator failed: {err}");
        }
        Self::from_secret(&key)
    }

    pub(crate) fn from_secret(secret: &[u8]) -> Self {
        Self::from_secrets(&[secret])
    }

    /// The keys of `secrets` (at least one), the first issuing.
    pub(crate) fn from_secrets(secrets: &[&[u8]]) -> Self {
        let keys = secrets
            .iter()
            .map(|secret| {
                // HMAC takes keys of any length.
                let mac = <HmacSha256 as Mac>::new_from_slice(secret)
                    .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
                let mut id_mac = mac.clone();
                id_mac.update(b"httpauth digest key id\0");
                let full = id_mac.finalize().into_bytes();
                let mut id = [0_u8; ID_LEN];
                id.copy_from_slice(&full[..ID_LEN]);
                Key { mac, id }
            })
            .collect();
        Self { keys }
    }

    /// The key that issues.
    fn issuer(&self) -> &Key {
        &self.keys[0]
    }

    fn nonce_tag(key: &Key, realm: &str, ts: &[u8], random: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = key.mac.clone();
        mac.update(b"httpauth digest nonce v1\0");
        mac.update(&u32::try_from(realm.len()).unwrap_or(u32::MAX).to_be_bytes());
        mac.update(realm.as_bytes());
        mac.update(ts);
        mac.update(random);
        let full = mac.finalize().into_bytes();
        let mut tag = [0_u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    /// A fresh nonce for `realm`, issued at `at_ms`.
    pub(crate) fn nonce_at(&self, realm: &str, at_ms: u64) -> String {
        let mut random = [0_u8; RANDOM_LEN];
        random_bytes(&mut random[ID_LEN..]);
        self.nonce_with(realm, at_ms, &random)
    }

    /// The `nextnonce` of a default nonce: issued at `at_ms`, with the same random part, so
    /// the opaque issued with `nonce` goes with it too. `None` for a nonce of another shape.
    pub(crate) fn next_nonce(&self, realm: &str, nonce: &str, at_ms: u64) -> Option<String> {
        let mut raw = [0_u8; NONCE_LEN];
        hex::decode_into(nonce.as_bytes(), &mut raw)?;
        Some(self.nonce_with(realm, at_ms, &raw[TS_LEN..TS_LEN + RANDOM_LEN]))
    }

    /// The nonce of the random part of `random` (its key id replaced by the issuer's).
    fn nonce_with(&self, realm: &str, at_ms: u64, random: &[u8]) -> String {
        let key = self.issuer();
        let mut raw = [0_u8; NONCE_LEN];
        raw[..TS_LEN].copy_from_slice(&at_ms.to_be_bytes());
        raw[TS_LEN..TS_LEN + RANDOM_LEN].copy_from_slice(random);
        raw[TS_LEN..TS_LEN + ID_LEN].copy_from_slice(&key.id);
        let (ts, rest) = raw.split_at(TS_LEN);
        let tag = Self::nonce_tag(key, realm, ts, &rest[..RANDOM_LEN]);
        raw[TS_LEN + RANDOM_LEN..].copy_from_slice(&tag);
        hex::encode(&raw)
    }

    /// Verifies the tag of a nonce made by [`nonce_at`](Self::nonce_at) for `realm` under
    /// the key its id names; its issue time when it is authentic (expiry is the caller's
    /// business). At most one MAC per configured key (one, unless two keys share an id).
    pub(crate) fn verify_nonce(&self, realm: &str, nonce: &str) -> Result<Issued, NonceRefusal> {
        let mut raw = [0_u8; NONCE_LEN];
        hex::decode_into(nonce.as_bytes(), &mut raw).ok_or(NonceRefusal::Forged)?;
        let (ts, rest) = raw.split_at(TS_LEN);
        let (random, tag) = rest.split_at(RANDOM_LEN);
        let mut named = self
            .keys
            .iter()
            .filter(|k| random[..ID_LEN] == k.id)
            .peekable();
        if named.peek().is_none() {
            return Err(NonceRefusal::Retired);
        }
        if !named.any(|key| bool::from(Self::nonce_tag(key, realm, ts, random).ct_eq(tag))) {
            return Err(NonceRefusal::Forged);
        }
        let mut ts_bytes = [0_u8; TS_LEN];
        ts_bytes.copy_from_slice(ts);
        Ok(Issued {
            at_ms: u64::from_be_bytes(ts_bytes),
        })
    }

    fn opaque_tag(key: &Key, nonce: &str) -> [u8; TAG_LEN] {
        let mut mac = key.mac.clone();
        let mut raw = [0_u8; NONCE_LEN];
        if hex::decode_into(nonce.as_bytes(), &mut raw).is_some() {
            // A default nonce: its random part, which its nextnonces keep.
            mac.update(b"httpauth digest opaque v3\0");
            mac.update(&raw[TS_LEN + ID_LEN..TS_LEN + RANDOM_LEN]);
            let full = mac.finalize().into_bytes();
            let mut tag = [0_u8; TAG_LEN];
            tag.copy_from_slice(&full[..TAG_LEN]);
            return tag;
        }
        mac.update(b"httpauth digest opaque v1\0");
        // Over the ASCII-lowercased nonce: hex nonces are accepted in either case.
        let mut buf = [0_u8; 64];
        for chunk in nonce.as_bytes().chunks(buf.len()) {
            let lower = &mut buf[..chunk.len()];
            lower.copy_from_slice(chunk);
            lower.make_ascii_lowercase();
            mac.update(lower);
        }
        let full = mac.finalize().into_bytes();
        let mut tag = [0_u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    /// The opaque that goes with `nonce` (and with its nextnonces).
    pub(crate) fn opaque(&self, nonce: &str) -> String {
        hex::encode(&Self::opaque_tag(self.issuer(), nonce))
    }

    /// Whether `opaque` is the one issued with `nonce` under one of the keys (each compared
    /// in constant time; the issuing key first, so one MAC unless the opaque is older than a
    /// rotation).
    pub(crate) fn verify_opaque(&self, nonce: &str, opaque: &str) -> bool {
        let mut raw = [0_u8; TAG_LEN];
        if hex::decode_into(opaque.as_bytes(), &mut raw).is_none() {
            return false;
        }
        self.keys
            .iter()
            .any(|key| bool::from(Self::opaque_tag(key, nonce).ct_eq(&raw)))
    }
}

/// Whether a nonce issued at `issued_ms` is valid at `now_ms`: `Some(true)` fresh,
/// `Some(false)` expired (stale), `None` dated too far in the future (not ours).
pub(crate) fn freshness(issued_ms: u64, lifetime: Duration, now_ms: u64) -> Option<bool> {
    if issued_ms > now_ms.saturating_add(MAX_SKEW_MS) {
        return None;
    }
    let lifetime_ms = u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX);
    Some(now_ms < issued_ms.saturating_add(lifetime_ms))
}

/// The verdict on one `(nonce, nc)` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NonceUse {
    /// Never seen: accept (and it is now recorded).
    Fresh,
    /// This count was already accepted for this nonce.
    Replayed,
    /// The count is too far below the highest one seen to be checked (more than the window).
    TooOld,
    /// The store cannot tell: it dropped what it knew of this nonce (capacity), so the use is
    /// refused. The client gets `stale=true` and retries with a new nonce.
    Forgotten,
    /// Never seen, but the store is full of nonces it must keep (custom nonces, whose issue
    /// time it cannot know, are never dropped while valid): the use is refused and nothing is
    /// recorded. The client gets `stale=true` and retries with a new nonce.
    Full,
    /// The store cannot answer now (a shared store that is down, slow or refusing writes):
    /// the use is refused, fail closed, with `503 Service Unavailable` and `Retry-After`
    /// (accepting it unchecked could accept a replay). Nothing is recorded.
    Unavailable,
}

/// The window of one nonce: the highest `nc` accepted and a bitmap of the [`NcWindow::SIZE`]
/// counts below it, so out-of-order counts are accepted exactly once (libmicrohttpd's design).
/// 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NcWindow {
    max: u32,
    /// Bit `i` set: count `max - 1 - i` was accepted.
    seen: u64,
}

impl NcWindow {
    /// How many counts below the highest one are tracked.
    pub const SIZE: u32 = 64;

    /// The window after the first accepted count `nc` (counts below it, within the window,
    /// are still accepted once).
    #[must_use]
    pub const fn new(nc: u32) -> Self {
        Self { max: nc, seen: 0 }
    }

    /// Checks `nc` and records it when it is fresh.
    pub fn check(&mut self, nc: u32) -> NonceUse {
        if nc > self.max {
            let shift = nc - self.max;
            self.seen = if shift > Self::SIZE {
                0
            } else if shift == Self::SIZE {
                1 << 63
            } else {
                (self.seen << shift) | (1 << (shift - 1))
            };
            self.max = nc;
            NonceUse::Fresh
        } else if nc == self.max {
            NonceUse::Replayed
        } else {
            let distance = self.max - nc;
            if distance > Self::SIZE {
                return NonceUse::TooOld;
            }
            let bit = 1_u64 << (distance - 1);
            if self.seen & bit != 0 {
                NonceUse::Replayed
            } else {
                self.seen |= bit;
                NonceUse::Fresh
            }
        }
    }

    /// The highest count accepted.
    #[must_use]
    pub const fn highest(&self) -> u32 {
        self.max
    }
}

/// One use of a nonce, as the auth hands it to a [`NonceStore`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct NonceInfo<'a> {
    /// The nonce (already verified), in its canonical spelling: one nonce is one record
    /// whatever its spelling. A default nonce is hex, accepted in either case, and is given in
    /// lowercase; a custom nonce is given exactly as the client sent it (its string is its
    /// identity: make your `verify_nonce` accept one spelling of each nonce).
    pub nonce: &'a str,
    /// The nonce count (`1` for RFC 2069 credentials, which have none: such a nonce is good
    /// for one request).
    pub nc: u32,
    /// When the nonce was issued. For a [custom](Self::custom) nonce: the time of this use.
    pub issued: SystemTime,
    /// Until when the store must remember this use: the end of the longest nonce lifetime
    /// among the auths that share the store, so no auth that can still accept the nonce finds
    /// it forgotten. The store may forget it after that.
    pub expires: SystemTime,
    /// The nonce came from custom callbacks (`generate_nonce`/`verify_nonce`): its issue time
    /// is unknown, so the store cannot tell an untracked nonce it dropped from a new one. It
    /// must then keep the nonce until `expires` (refusing new nonces with
    /// [`NonceUse::Full`] rather than dropping it).
    pub custom: bool,
}

impl<'a> NonceInfo<'a> {
    /// One use of `nonce` with count `nc` (for stores' tests and benchmarks): a default nonce.
    #[must_use]
    pub const fn new(nonce: &'a str, nc: u32, issued: SystemTime, expires: SystemTime) -> Self {
        Self {
            nonce,
            nc,
            issued,
            expires,
            custom: false,
        }
    }

    /// The same use, of a custom nonce (see [`custom`](Self::custom)).
    #[must_use]
    pub const fn with_custom(mut self, custom: bool) -> Self {
        self.custom = custom;
        self
    }
}

/// Remembers which `(nonce, nc)` pairs were accepted, so none is accepted twice.
///
/// It is called only after the response was verified (a forger cannot use up a client's
/// counts). Implement it over a shared store (Redis, a database) when several instances share a
/// [secret](super::DigestAuth::secret) and a client may hit any of them; [`NcWindow`] is the
/// per-nonce state to keep. The default is [`MemoryNonceStore`].
pub trait NonceStore: Send + Sync + 'static {
    /// Checks and records one use. An in-memory store answers with [`AuthFuture::ready`] (the
    /// auth then decides without boxing); a shared one returns a future that owns what it
    /// needs.
    fn check(&self, info: NonceInfo<'_>) -> AuthFuture<NonceUse>;
}

struct Entry {
    /// The issue time of a default nonce; [`NEVER_EVICT`] for a custom one.
    issued_ms: u64,
    expires_ms: u64,
    window: NcWindow,
}

#[derive(Default)]
struct Shard {
    map: HashMap<[u8; 16], Entry>,
    /// Nonces issued at or before this time that the shard does not know were dropped while
    /// still valid: their uses are refused ([`NonceUse::Forgotten`]).
    watermark_ms: u64,
    next_sweep_ms: u64,
}

/// The in-memory [`NonceStore`]: a sharded map from nonce to [`NcWindow`], bounded.
///
/// **Memory**: each tracked nonce is 48 bytes of data (a 16-byte key, the first half of the
/// nonce's SHA-256; its issue and expiry times; the window) plus one control byte per
/// hash-table bucket. Tables grow by doubling and are at most 7/8 full, so a tracked nonce
/// costs 56 to 112 bytes; the default capacity of 65 536 active nonces tops out at 16 shards ×
/// 8 192 buckets × 49 bytes ≈ 6.1 MiB. Only nonces that were answered correctly at least once
/// are tracked (issuing a challenge stores nothing).
///
/// **Eviction**: expired nonces are swept out at most once a second per shard, and whenever a
/// shard is full. When a shard is full of nonces that are all still valid, the oldest-issued
/// eighth of its default nonces is dropped and the shard remembers the newest issue time it
/// dropped: uses of nonces issued at or before it that it does not track answer
/// [`NonceUse::Forgotten`] (the client gets `stale=true` and retries with a fresh nonce).
/// Custom nonces ([`NonceInfo::custom`]) carry no issue time to put under such a watermark, so
/// they are never dropped while valid: a shard full of them answers [`NonceUse::Full`] to new
/// nonces (`stale=true`; the client's next nonce most likely falls in another shard) until
/// one expires. Memory never grows past the capacity, and a dropped nonce can never be
/// replayed.
///
/// **Keys**: an entry is keyed by the nonce string it is given ([`NonceInfo::nonce`], which the
/// auth canonicalizes), and kept until the latest `expires` any of its uses was given.
pub struct MemoryNonceStore {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
}

impl fmt::Debug for MemoryNonceStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryNonceStore")
            .field("shards", &self.shards.len())
            .field("capacity", &(self.per_shard * self.shards.len()))
            .field("len", &self.len())
            .finish()
    }
}

impl Default for MemoryNonceStore {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

const SHARDS: usize = 16;
const SWEEP_INTERVAL_MS: u64 = 1_000;

impl MemoryNonceStore {
    /// The default capacity: 65 536 active nonces.
    pub const DEFAULT_CAPACITY: usize = 65_536;

    /// A store tracking at most `capacity` active nonces (at least 16).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard,
        }
    }

    /// How many nonces are tracked now (expired ones included until the next sweep).
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).map.len())
            .sum()
    }

    /// Whether no nonce is tracked.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks and records one use at time `now_ms` (milliseconds since the Unix epoch).
    pub(crate) fn check_at(&self, info: &NonceInfo<'_>, now_ms: u64) -> NonceUse {
        let key = store_key(info.nonce);
        let shard = &self.shards[shard_of(&key)];
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if now_ms >= shard.next_sweep_ms {
            shard.map.retain(|_, e| e.expires_ms > now_ms);
            shard.next_sweep_ms = now_ms.saturating_add(SWEEP_INTERVAL_MS);
        }
        let expires_ms = time_to_ms(info.expires);
        if let Some(entry) = shard.map.get_mut(&key) {
            // Kept as long as the longest-lived use asks (auths sharing the store with other
            // lifetimes; a custom nonce, tracked from its last use).
            entry.expires_ms = entry.expires_ms.max(expires_ms);
            return entry.window.check(info.nc);
        }
        let issued_ms = if info.custom {
            NEVER_EVICT
        } else {
            // Below the sentinel: a default nonce is always evictable.
            time_to_ms(info.issued).min(NEVER_EVICT - 1)
        };
        // An untracked nonce that has already expired may have been swept a moment ago: it is
        // never "fresh" again (closes the replay window at the expiry boundary).
        if (!info.custom && issued_ms <= shard.watermark_ms) || expires_ms <= now_ms {
            return NonceUse::Forgotten;
        }
        if shard.map.len() >= self.per_shard {
            shard.map.retain(|_, e| e.expires_ms > now_ms);
            if shard.map.len() >= self.per_shard {
                evict_oldest(&mut shard, self.per_shard);
                if !info.custom && issued_ms <= shard.watermark_ms {
                    return NonceUse::Forgotten;
                }
                if shard.map.len() >= self.per_shard {
                    // Full of custom nonces, which cannot be dropped safely.
                    return NonceUse::Full;
                }
            }
        }
        shard.map.insert(
            key,
            Entry {
                issued_ms,
                expires_ms,
                window: NcWindow::new(info.nc),
            },
        );
        NonceUse::Fresh
    }
}

/// The key of a nonce: the first half of its SHA-256.
pub(super) fn store_key(nonce: &str) -> [u8; 16] {
    let digest = Sha256::digest(nonce.as_bytes());
    let mut key = [0_u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

pub(super) fn shard_of(key: &[u8; 16]) -> usize {
    usize::from(key[0]) % SHARDS
}

/// The `issued_ms` of a custom nonce's entry: never evicted while valid (its issue time is
/// unknown, so no watermark could cover it once dropped).
const NEVER_EVICT: u64 = u64::MAX;

/// Drops the oldest-issued eighth of a full shard's default nonces and raises its watermark
/// past them. Custom nonces stay.
fn evict_oldest(shard: &mut Shard, per_shard: usize) {
    let mut issued: Vec<u64> = shard
        .map
        .values()
        .map(|e| e.issued_ms)
        .filter(|&t| t != NEVER_EVICT)
        .collect();
    if issued.is_empty() {
        return;
    }
    let k = (per_shard / 8).clamp(1, issued.len()) - 1;
    let (_, &mut threshold, _) = issued.select_nth_unstable(k);
    shard.map.retain(|_, e| e.issued_ms > threshold);
    shard.watermark_ms = shard.watermark_ms.max(threshold);
}

impl NonceStore for MemoryNonceStore {
    fn check(&self, info: NonceInfo<'_>) -> AuthFuture<NonceUse> {
        AuthFuture::ready(self.check_at(&info, now_ms()))
    }
}

impl<S: NonceStore + ?Sized> NonceStore for Arc<S> {
    fn check(&self, info: NonceInfo<'_>) -> AuthFuture<NonceUse> {
        (**self).check(info)
    }
}

#[cfg(test)]
mod tests {
    use super::NonceUse::{Forgotten, Fresh, Full, Replayed};
    use super::*;

    #[test]
    fn entry_size_is_as_documented() {
        assert_eq!(std::mem::size_of::<NcWindow>(), 16);
        assert_eq!(std::mem::size_of::<([u8; 16], Entry)>(), 48);
    }

    #[test]
    fn window_in_order() {
        let mut w = NcWindow::new(1);
        for nc in 2..=500 {
            assert_eq!(w.check(nc), NonceUse::Fresh, "{nc}");
            assert_eq!(w.check(nc), NonceUse::Replayed, "{nc}");
            assert_eq!(w.check(nc - 1), NonceUse::Replayed, "{nc}");
        }
        assert_eq!(w.highest(), 500);
    }

    #[test]
    fn window_out_of_order_once() {
        let mut w = NcWindow::new(5);
        // Counts below the first one are still accepted once.
        for nc in [1, 3, 2, 4] {
            assert_eq!(w.check(nc), NonceUse::Fresh, "{nc}");
        }
        for nc in 1..=5 {
            assert_eq!(w.check(nc), NonceUse::Replayed, "{nc}");
        }
        // A jump, then the gap filled in reverse.
        assert_eq!(w.check(40), NonceUse::Fresh);
        for nc in (6..40).rev() {
            assert_eq!(w.check(nc), NonceUse::Fresh, "{nc}");
        }
        for nc in 1..=40 {
            assert_ne!(w.check(nc), NonceUse::Fresh, "{nc}");
        }
    }

    #[test]
    fn window_edges() {
        let mut w = NcWindow::new(1);
        assert_eq!(w.check(65), NonceUse::Fresh); // shift == 64: nc 1 is the oldest bit
        assert_eq!(w.check(1), NonceUse::Replayed);
        assert_eq!(w.check(2), NonceUse::Fresh);
        assert_eq!(w.check(0), NonceUse::TooOld);
        let mut w = NcWindow::new(1);
        assert_eq!(w.check(66), NonceUse::Fresh); // shift > 64: everything falls out
        assert_eq!(w.check(1), NonceUse::TooOld);
        assert_eq!(w.check(2), NonceUse::Fresh); // exactly 64 below
        assert_eq!(w.check(2), NonceUse::Replayed);
        let mut w = NcWindow::new(u32::MAX - 1);
        assert_eq!(w.check(u32::MAX), NonceUse::Fresh);
        assert_eq!(w.check(u32::MAX), NonceUse::Replayed);
        assert_eq!(w.check(1), NonceUse::TooOld);
    }

    #[test]
    fn nonce_mac() {
        let key = NonceKey::from_secret(&[7; 32]);
        let n = key.nonce_at("realm", 1_000);
        assert_eq!(n.len(), 72);
        assert!(n
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(key.verify_nonce("realm", &n), Ok(Issued { at_ms: 1_000 }));
        // Hex is case-insensitive.
        assert!(key.verify_nonce("realm", &n.to_uppercase()).is_ok());
        // Bound to the realm and the key.
        assert_eq!(key.verify_nonce("other", &n), Err(NonceRefusal::Forged));
        assert_eq!(
            NonceKey::from_secret(&[8; 32]).verify_nonce("realm", &n),
            Err(NonceRefusal::Retired)
        );
        // Every byte is covered: flip each hex digit (the key id's digits name no key).
        for i in 0..n.len() {
            let mut t = n.clone().into_bytes();
            t[i] = if t[i] == b'0' { b'1' } else { b'0' };
            let t = String::from_utf8(t).unwrap();
            let expected = if (16..20).contains(&i) {
                NonceRefusal::Retired
            } else {
                NonceRefusal::Forged
            };
            assert_eq!(key.verify_nonce("realm", &t), Err(expected), "digit {i}");
        }
        // Moving the timestamp forward (to extend the lifetime) breaks the tag.
        let forged = format!("{:016x}{}", 2_000_u64, &n[16..]);
        assert_eq!(
            key.verify_nonce("realm", &forged),
            Err(NonceRefusal::Forged)
        );
        // Wrong lengths, non-hex.
        for bad in [&n[..70], &format!("{n}00"), &n.replace(&n[..1], "g"), ""] {
            assert_eq!(key.verify_nonce("realm", bad), Err(NonceRefusal::Forged));
        }
        // Two nonces at the same time differ.
        assert_ne!(key.nonce_at("realm", 1_000), n);
    }

    #[test]
    fn opaque_mac() {
        let key = NonceKey::from_secret(b"a secret of at least thirty-two bytes");
        let n = key.nonce_at("r", 5);
        let o = key.opaque(&n);
        assert_eq!(o.len(), 32);
        assert!(key.verify_opaque(&n, &o));
        assert!(key.verify_opaque(&n, &o.to_uppercase()));
        assert!(!key.verify_opaque(&key.nonce_at("r", 5), &o));
        // A nextnonce keeps the opaque; it is a new, valid nonce of a later time.
        let next = key.next_nonce("r", &n, 9).unwrap();
        assert_ne!(next, n);
        assert_eq!(key.verify_nonce("r", &next), Ok(Issued { at_ms: 9 }));
        assert!(key.verify_opaque(&next, &o));
        assert_eq!(key.next_nonce("r", "custom", 9), None);
        // Custom nonces get an opaque of their own.
        assert!(key.verify_opaque("custom", &key.opaque("custom")));
        assert!(!key.verify_opaque("custom2", &key.opaque("custom")));
        assert!(!key.verify_opaque(&n, &o[..30]));
        assert!(!key.verify_opaque(&n, ""));
        let mut t = o.into_bytes();
        t[0] = if t[0] == b'a' { b'b' } else { b'a' };
        assert!(!key.verify_opaque(&n, &String::from_utf8(t).unwrap()));
    }

    #[test]
    fn rotation_the_first_secret_issues_and_every_one_verifies() {
        let (old, new) = (&[1_u8; 32][..], &[2_u8; 32][..]);
        let before = NonceKey::from_secrets(&[old]);
        let during = NonceKey::from_secrets(&[new, old]);
        let after = NonceKey::from_secrets(&[new]);
        let n_old = before.nonce_at("r", 5);
        let o_old = before.opaque(&n_old);
        let n_new = during.nonce_at("r", 6);
        // During: both verify, with their opaques; the new secret issues.
        assert_eq!(during.verify_nonce("r", &n_old), Ok(Issued { at_ms: 5 }));
        assert!(during.verify_opaque(&n_old, &o_old));
        assert_eq!(after.verify_nonce("r", &n_new), Ok(Issued { at_ms: 6 }));
        assert!(after.verify_opaque(&n_new, &during.opaque(&n_new)));
        // A nextnonce of an old nonce is the new secret's, and keeps the old opaque.
        let next = during.next_nonce("r", &n_old, 7).unwrap();
        assert_eq!(after.verify_nonce("r", &next), Ok(Issued { at_ms: 7 }));
        assert!(during.verify_opaque(&next, &o_old));
        // After: the removed secret's nonces are retired, not forged.
        assert_eq!(after.verify_nonce("r", &n_old), Err(NonceRefusal::Retired));
        assert!(!after.verify_opaque(&n_old, &o_old));
    }

    #[test]
    fn expiry() {
        let life = Duration::from_secs(300);
        assert_eq!(freshness(1_000, life, 1_000), Some(true));
        assert_eq!(freshness(1_000, life, 300_999), Some(true));
        assert_eq!(freshness(1_000, life, 301_000), Some(false));
        assert_eq!(freshness(10_000, life, 5_000), Some(true)); // small skew
        assert_eq!(freshness(10_001, life, 5_000), None); // from the future
    }

    fn info(nonce: &str, nc: u32, issued_ms: u64, expires_ms: u64) -> NonceInfo<'_> {
        NonceInfo::new(nonce, nc, ms_to_time(issued_ms), ms_to_time(expires_ms))
    }

    #[test]
    fn store_replays_and_expiry() {
        let store = MemoryNonceStore::new(1_000);
        assert_eq!(
            store.check_at(&info("a", 1, 1, 10_000), 100),
            NonceUse::Fresh
        );
        assert_eq!(
            store.check_at(&info("a", 1, 1, 10_000), 100),
            NonceUse::Replayed
        );
        assert_eq!(
            store.check_at(&info("a", 2, 1, 10_000), 100),
            NonceUse::Fresh
        );
        assert_eq!(
            store.check_at(&info("b", 1, 1, 10_000), 100),
            NonceUse::Fresh
        );
        assert_eq!(store.len(), 2);
        // After expiry the sweep drops the entry, and an untracked nonce that has expired is
        // never fresh again (no replay window at the expiry boundary).
        assert_eq!(
            store.check_at(&info("a", 2, 1, 10_000), 20_000),
            NonceUse::Forgotten
        );
        assert_eq!(
            store.check_at(&info("a", 3, 1, 10_000), 20_000),
            NonceUse::Forgotten
        );
    }

    #[test]
    fn store_is_bounded_and_never_forgets_silently() {
        let store = MemoryNonceStore::new(SHARDS * 8);
        let names: Vec<String> = (0..2_000).map(|i| format!("nonce-{i}")).collect();
        for (i, n) in names.iter().enumerate() {
            let t = u64::try_from(i).unwrap();
            assert_eq!(
                store.check_at(&info(n, 1, t + 1, u64::MAX), t),
                NonceUse::Fresh
            );
            assert!(store.len() <= SHARDS * 8, "len {}", store.len());
        }
        // Every nonce used once: whether kept or evicted, its replay is refused.
        for (i, n) in names.iter().enumerate() {
            let t = u64::try_from(i).unwrap();
            let verdict = store.check_at(&info(n, 1, t + 1, u64::MAX), 3_000);
            assert!(
                matches!(verdict, NonceUse::Replayed | NonceUse::Forgotten),
                "{n}: {verdict:?}"
            );
        }
    }

    fn custom(nonce: &str, nc: u32, now_ms: u64, lifetime_ms: u64) -> NonceInfo<'_> {
        info(nonce, nc, now_ms, now_ms + lifetime_ms).with_custom(true)
    }

    /// `count` nonce names that fall in the same shard.
    fn same_shard(prefix: &str, count: usize) -> Vec<String> {
        let names = (0..).map(|i| format!("{prefix}-{i}"));
        let target = shard_of(&store_key(&format!("{prefix}-0")));
        names
            .filter(|n| shard_of(&store_key(n)) == target)
            .take(count)
            .collect()
    }

    #[test]
    fn custom_nonces_are_never_evicted_while_valid() {
        // One nonce per shard: the second custom nonce of a shard finds it full.
        let store = MemoryNonceStore::new(SHARDS);
        let n = same_shard("custom", 3);
        assert_eq!(store.check_at(&custom(&n[0], 1, 100, 1_000), 100), Fresh);
        // Another valid user's nonces cannot push the victim's out...
        assert_eq!(store.check_at(&custom(&n[1], 1, 200, 1_000), 200), Full);
        assert_eq!(store.check_at(&custom(&n[2], 1, 300, 1_000), 300), Full);
        // ...so the captured header stays a replay (before: evicted, then fresh again).
        assert_eq!(store.check_at(&custom(&n[0], 1, 400, 1_000), 400), Replayed);
        assert_eq!(store.check_at(&custom(&n[0], 2, 500, 1_000), 500), Fresh);
        // Refused nonces were not recorded: once the victim's entry expires (1 000 ms after
        // its last use), a new nonce is accepted.
        assert_eq!(store.check_at(&custom(&n[1], 1, 1_400, 1_000), 1_400), Full);
        assert_eq!(
            store.check_at(&custom(&n[1], 1, 1_600, 1_000), 1_600),
            Fresh
        );
        assert_eq!(store.len(), 1);
        // A default nonce cannot evict a custom one either.
        let d = same_shard("custom", 4).pop().unwrap();
        assert_eq!(store.check_at(&info(&d, 1, 1_600, 5_000), 1_700), Full);
        assert_eq!(
            store.check_at(&custom(&n[1], 2, 1_800, 1_000), 1_800),
            Fresh
        );
    }

    #[test]
    fn default_nonces_are_evicted_before_custom_ones() {
        let store = MemoryNonceStore::new(SHARDS * 2);
        let n = same_shard("mixed", 4);
        assert_eq!(store.check_at(&custom(&n[0], 1, 100, 10_000), 100), Fresh);
        assert_eq!(store.check_at(&info(&n[1], 1, 50, 10_000), 110), Fresh);
        // Full: the default nonce goes (under the watermark), the custom one stays.
        assert_eq!(store.check_at(&info(&n[2], 1, 60, 10_000), 120), Fresh);
        assert_eq!(store.check_at(&info(&n[1], 2, 50, 10_000), 130), Forgotten);
        assert_eq!(
            store.check_at(&custom(&n[0], 1, 140, 10_000), 140),
            Replayed
        );
        assert_eq!(store.check_at(&info(&n[2], 1, 60, 10_000), 150), Replayed);
    }

    #[test]
    fn an_entry_lives_as_long_as_its_longest_use_asks() {
        let store = MemoryNonceStore::new(1_000);
        // Used through an auth of 1 s, then one of 10 s (sharing the store).
        assert_eq!(store.check_at(&info("n", 1, 1, 1_000), 100), Fresh);
        assert_eq!(store.check_at(&info("n", 2, 1, 10_000), 200), Fresh);
        // Past the short lifetime, sweeps included: still tracked.
        for now in [1_500, 3_000, 9_000] {
            assert_eq!(store.check_at(&info("n", 2, 1, 10_000), now), Replayed);
        }
        assert_eq!(store.check_at(&info("n", 2, 1, 10_000), 10_000), Forgotten);
        // A custom nonce is tracked from its last use.
        assert_eq!(store.check_at(&custom("c", 1, 1, 1_000), 1), Fresh);
        assert_eq!(store.check_at(&custom("c", 2, 800, 1_000), 800), Fresh);
        assert_eq!(
            store.check_at(&custom("c", 1, 1_700, 1_000), 1_700),
            Replayed
        );
    }

    #[test]
    fn store_under_threads() {
        let store = Arc::new(MemoryNonceStore::default());
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let mut fresh = 0;
                    for i in 0..150_u32 {
                        let nonce = format!("n{}", i % 10);
                        if store.check_at(&info(&nonce, i / 10 + 1 + t * 15, 1, u64::MAX), 1)
                            == NonceUse::Fresh
                        {
                            fresh += 1;
                        }
                    }
                    fresh
                })
            })
            .collect();
        let fresh: u32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        // 4 threads × 10 nonces × 15 counts, all distinct per nonce and within the window.
        assert_eq!(fresh, 600);
        for i in 0..10 {
            let nonce = format!("n{i}");
            for nc in 1..=60 {
                assert_eq!(
                    store.check_at(&info(&nonce, nc, 1, u64::MAX), 1),
                    NonceUse::Replayed
                );
            }
        }
    }
}
