//! Password hashes, user files and the verified-credential cache: Basic auth over real hashes
//! at full speed.
//!
//! ```
//! use axum::{routing::get, Router};
//! use httpauth::password::{HashedPasswords, Params};
//! use httpauth::{BasicAuth, CurrentUser};
//! # use tower::ServiceExt;
//!
//! // In production: generate_password_hash(password), argon2id at OWASP's parameters.
//! let params = Params::new(1024, 1, 1).unwrap();
//! let users = HashedPasswords::new().dummy_params(params);
//! users.insert("john", params.hash("hello")).unwrap();
//!
//! let auth = BasicAuth::verify_password(users.clone());
//! let app: Router = Router::new().route(
//!     "/",
//!     get(|CurrentUser(user): CurrentUser<String>| async move { format!("Hello, {user}!") })
//!         .route_layer(auth.login_required()),
//! );
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let get = |credentials: &str| {
//!     http::Request::get("/")
//!         .header("authorization", format!("Basic {credentials}"))
//!         .body(axum::body::Body::empty())
//!         .unwrap()
//! };
//! // john:hello
//! let res = app.clone().oneshot(get("am9objpoZWxsbw==")).await.unwrap();
//! assert_eq!(res.status(), 200);
//! // Again: answered by the cache, no hashing.
//! let res = app.clone().oneshot(get("am9objpoZWxsbw==")).await.unwrap();
//! assert_eq!(res.status(), 200);
//! assert_eq!(users.checker().stats().cache_hits, 1);
//! // john:bye
//! let res = app.oneshot(get("am9objpieWU=")).await.unwrap();
//! assert_eq!(res.status(), 401);
//! assert_eq!(res.headers()["www-authenticate"], r#"Basic realm="Authentication Required""#);
//! # });
//! ```
//!
//! # Hashes
//!
//! [`generate_password_hash`] makes argon2id PHC strings at OWASP's parameters ([`Params`]
//! for others). [`check_password_hash`] verifies every format listed in [`HashAlgorithm`]:
//! PHC argon2id/argon2i/argon2d, scrypt and pbkdf2-sha256/sha512 (RustCrypto); bcrypt
//! `$2a$`/`$2b$`/`$2y$`; werkzeug's `pbkdf2:sha256:N$salt$hex` and `scrypt:N:r:p$salt$hex`
//! (a Flask app's user table works unchanged); Apache's `$apr1$`, `{SHA}` and `$5$`/`$6$`
//! sha-crypt. An unknown or malformed hash is an error ([`HashError`]), never a panic or a
//! match. Passwords over 4 KiB ([`MAX_PASSWORD_LEN`]) never match, nor, for bcrypt, passwords
//! over 72 bytes (bcrypt would silently ignore the rest). Stored parameters are bounded (1 GiB
//! of memory, 10 million iterations, bcrypt cost 17), so a hostile hash cannot stall a core.
//!
//! # Fast and bounded: [`PasswordChecker`]
//!
//! A hash verification costs tens of milliseconds of CPU by design, which caps Basic auth at a
//! few dozen requests per second per core. The stores check through a [`PasswordChecker`]:
//!
//! - **Verified-credential cache** (on by default; [`PasswordChecker::without_cache`] turns it
//!   off): a success is remembered under a keyed PRF (SipHash-2-4-128) of the password under
//!   a secret key of the stored hash's own, derived once, for the built-in stores, or of the
//!   length-prefixed username ‖ password ‖ stored hash under a random per-cache key, for a
//!   hash given per call. No plaintext is kept; failures are never cached; a changed password
//!   (new hash) misses by construction; entries are bounded and expire ([`CacheConfig`]:
//!   10 000 entries, 5 minutes by default). Concurrent identical misses hash once (single
//!   flight). A hit costs about 0.1 µs.
//! - **Off the reactor, bounded, fair**: misses run on Tokio's blocking pool, at most
//!   [`HashPool`] (default: one per core, process-wide) at a time, so a flood of wrong
//!   passwords cannot starve the other routes; its queue is bounded (32 per permit), has a
//!   deadline (3 s) and is fair across usernames, and beyond it a check answers 503 with
//!   `Retry-After` without hashing. argon2 hashes into reused working memory, so a flood
//!   does not grow the process.
//! - **No user enumeration by timing**: an unknown user is refused after a timer, without a
//!   hash, when a known user's wrong password arriving at the same moment would be answered
//!   (the wait for a permit the pool's state gives, plus the hash's cost), and every refusal
//!   is padded to the cost of the store's most expensive kind of hash, so neither existence
//!   nor a user's hash format shows in the time of a refusal, idle or busy.
//!
//! # User stores
//!
//! - [`HashedPasswords`]: username → hash in memory (from your database, config...).
//! - [`HtpasswdFile`]: an Apache htpasswd file, reloaded when it changes.
//! - [`HtdigestFile`]: an Apache htdigest file (`user:realm:HA1`) for Digest's HA1 mode.
//!
//! The first two are [`VerifyPassword`](crate::VerifyPassword) callbacks: pass them to
//! [`BasicAuth::verify_password`](crate::BasicAuth::verify_password). Their user is the
//! username; `map_user` maps it to your own type ([`MapUser`]), or a `HashedPasswords<User>`
//! keeps your user beside each hash ([`HashedPasswords::insert_user`]); a cache hit still
//! answers with a ready future.

#[cfg(feature = "password")]
mod cache;
#[cfg(feature = "password")]
mod checker;
#[cfg(feature = "password")]
mod file;
#[cfg(feature = "password")]
mod hash;
#[cfg(feature = "password")]
mod lookup;
#[cfg(feature = "password")]
mod pool;
#[cfg(feature = "password")]
mod store;

#[cfg(feature = "password")]
pub use self::cache::CacheConfig;
#[cfg(feature = "password")]
pub use self::checker::{CheckerStats, PasswordChecker};
#[cfg(feature = "password")]
pub use self::file::{HtdigestFile, HtpasswdFile, DEFAULT_RELOAD_INTERVAL};
#[cfg(feature = "password")]
pub use self::hash::{
    check_password_hash, generate_password_hash, validate_hash, HashAlgorithm, HashError, Params,
    BCRYPT_MAX_PASSWORD_LEN, MAX_PASSWORD_LEN,
};
#[cfg(feature = "password")]
pub use self::lookup::HashLookup;
#[cfg(feature = "password")]
pub use self::pool::{HashPool, DEFAULT_MAX_WAIT, DEFAULT_WAITERS_PER_PERMIT};
#[cfg(feature = "password")]
pub use self::store::{HashedPasswords, MapUser};

/// The map of a password store from usernames to what it keeps for them. Filled by the
/// application and only read per request (a request never inserts), so no input can degrade
/// it: a fast hasher (foldhash, randomly seeded) rather than the standard library's
/// SipHash-1-3.
#[cfg(feature = "password")]
pub(crate) type UserMap<V> = std::collections::HashMap<String, V, foldhash::fast::RandomState>;
