//! The configuration of a Digest auth: the [`Digest`] scheme's settings, the builder methods of
//! [`DigestAuth`], the callback traits, and what derives from the settings (the challenge
//! lines, fresh nonces and opaques, the userhash table).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::algorithm::HashFn;
use super::nonce::{now_ms, NonceKey};
use super::{
    generate_ha1, Algorithm, MemoryNonceStore, NonceStore, Qop, MAX_SECRETS, MIN_SECRET_LEN,
};
use crate::auth::Auth;
pub use crate::callback::GetDigestUser;
use crate::callback::{Answer, GetPassword, SyncDigestUser, SyncGetPassword};
use crate::error::{AuthError, ConfigError};
use crate::scheme::Challenge;
use crate::scheme::{AuthFuture, DEFAULT_REALM};

/// The get-password callback as a [`GetDigestUser`]: the user is the username.
struct PasswordLookup(Arc<dyn GetPassword>);

impl GetDigestUser for PasswordLookup {
    type User = String;

    fn get_digest_user(
        &self,
        username: &str,
        _algorithm: Algorithm,
    ) -> AuthFuture<Result<Option<(String, String)>, AuthError>> {
        let username = username.to_owned();
        self.0
            .get_password(&username)
            .map(move |secret| Ok(secret?.map(|s| (s, username))))
    }
}

type GenerateFn = Arc<dyn Fn() -> String + Send + Sync>;
type VerifyFn = Arc<dyn Fn(&str) -> bool + Send + Sync>;
pub(super) type ResolverFn = Arc<dyn Fn(&str, Algorithm) -> Option<String> + Send + Sync>;

pub(super) type Lookup<U> = Arc<dyn GetDigestUser<User = U>>;

/// How a `userhash=true` username is mapped back to the real one.
#[derive(Clone)]
pub(super) enum Userhash {
    None,
    /// Known usernames, and the table `(hash function, H(user:realm)) → user` made from them
    /// for the current realm and algorithms.
    Users(Arc<[String]>, Arc<HashMap<(HashFn, String), String>>),
    Resolver(ResolverFn),
}

/// The default body bound for `auth-int`: 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// The default nonce lifetime: 5 minutes (Apache's and Spring's).
pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// The Digest scheme: what [`DigestAuth`] wraps. See the [module docs](crate::digest).
pub struct Digest<U> {
    pub(super) realm: Arc<str>,
    pub(super) scheme: Arc<str>,
    pub(super) lookup: Lookup<U>,
    /// The lookup ignores the algorithm (built from a get-password callback).
    pub(super) lookup_is_password_only: bool,
    pub(super) use_ha1: bool,
    pub(super) algorithms: Arc<[Algorithm]>,
    pub(super) qops: Arc<[Qop]>,
    pub(super) userhash: bool,
    pub(super) userhash_source: Userhash,
    pub(super) charset: bool,
    pub(super) max_body: usize,
    pub(super) key: Arc<NonceKey>,
    pub(super) lifetime: Duration,
    pub(super) generate_nonce: Option<GenerateFn>,
    pub(super) verify_nonce: Option<VerifyFn>,
    pub(super) generate_opaque: Option<GenerateFn>,
    pub(super) verify_opaque: Option<VerifyFn>,
    pub(super) store: Arc<dyn NonceStore>,
    /// How long the store keeps a use (ms): the longest `nonce_lifetime` among the auths that
    /// share `store` (this auth's clones), so an entry outlives every auth that can accept it.
    pub(super) retention: Arc<AtomicU64>,
}

/// HTTP Digest authentication: [`Auth`] over the [`Digest`] scheme. See the
/// [module docs](crate::digest).
pub type DigestAuth<U = String> = Auth<Digest<U>>;

impl<U> Clone for Digest<U> {
    fn clone(&self) -> Self {
        Self {
            realm: self.realm.clone(),
            scheme: self.scheme.clone(),
            lookup: self.lookup.clone(),
            lookup_is_password_only: self.lookup_is_password_only,
            use_ha1: self.use_ha1,
            algorithms: self.algorithms.clone(),
            qops: self.qops.clone(),
            userhash: self.userhash,
            userhash_source: self.userhash_source.clone(),
            charset: self.charset,
            max_body: self.max_body,
            key: self.key.clone(),
            lifetime: self.lifetime,
            generate_nonce: self.generate_nonce.clone(),
            verify_nonce: self.verify_nonce.clone(),
            generate_opaque: self.generate_opaque.clone(),
            verify_opaque: self.verify_opaque.clone(),
            store: self.store.clone(),
            retention: self.retention.clone(),
        }
    }
}

impl<U> fmt::Debug for Digest<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key, passwords or HA1s.
        f.debug_struct("Digest")
            .field("scheme", &self.scheme)
            .field("realm", &self.realm)
            .field("algorithms", &self.algorithms)
            .field("qop", &self.qops)
            .field("use_ha1", &self.use_ha1)
            .field("userhash", &self.userhash)
            .field("charset_utf8", &self.charset)
            .field("nonce_lifetime", &self.lifetime)
            .field("max_body", &self.max_body)
            .field("custom_nonce", &self.generate_nonce.is_some())
            .field("custom_opaque", &self.generate_opaque.is_some())
            .finish_non_exhaustive()
    }
}

impl Auth<Digest<String>> {
    /// Digest auth over Flask-HTTPAuth's get-password callback (async closure
    /// `Fn(String) -> impl Future<Output = Option<String>>` or a
    /// [`GetPassword`] impl): the user's password, or HA1 with
    /// [`use_ha1`](Self::use_ha1). The user is the username.
    #[must_use]
    pub fn get_password<G: GetPassword>(get: G) -> Self {
        Self::password_lookup(Arc::new(get))
    }

    /// [`get_password`](Self::get_password) with a synchronous callback (runs on the
    /// executor: keep it cheap).
    #[must_use]
    pub fn get_password_sync<F, A>(get: F) -> Self
    where
        F: Fn(&str) -> A + Send + Sync + 'static,
        A: Answer<Value = String>,
    {
        Self::password_lookup(Arc::new(SyncGetPassword(get)))
    }

    fn password_lookup(get: Arc<dyn GetPassword>) -> Self {
        let mut digest = Digest::with_lookup(Arc::new(PasswordLookup(get)));
        digest.lookup_is_password_only = true;
        Self::from_scheme(digest)
    }
}

impl<U: Clone + Send + Sync + 'static> Auth<Digest<U>> {
    /// Digest auth whose callback returns the secret **and** your user object
    /// (`Fn(String, Algorithm) -> impl Future<Output = Option<(String, U)>>`, or a
    /// [`GetDigestUser`] impl). It gets the algorithm the client uses, so with
    /// [`use_ha1`](Self::use_ha1) it can return the HA1 stored for that hash function.
    #[must_use]
    pub fn get_user<G: GetDigestUser<User = U>>(get: G) -> Self {
        Self::from_scheme(Digest::with_lookup(Arc::new(get)))
    }

    /// [`get_user`](Self::get_user) with a synchronous callback.
    #[must_use]
    pub fn get_user_sync<F, A>(get: F) -> Self
    where
        F: Fn(&str, Algorithm) -> A + Send + Sync + 'static,
        A: Answer<Value = (String, U)>,
    {
        Self::get_user(SyncDigestUser(get))
    }

    /// Sends the challenge under another scheme name. Credentials are accepted under this
    /// name and under `Digest`.
    ///
    /// # Panics
    ///
    /// If `scheme` is not an RFC 9110 token; see [`try_scheme`](Self::try_scheme).
    #[must_use]
    pub fn scheme(self, scheme: &str) -> Self {
        self.try_scheme(scheme)
            .unwrap_or_else(|err| panic!("httpauth: invalid scheme: {err}"))
    }

    /// Like [`scheme`](Self::scheme), returning an error for a name that is not a token.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NotAToken`].
    pub fn try_scheme(self, scheme: &str) -> Result<Self, ConfigError> {
        self.map_scheme(|d| {
            d.render(d.algorithms[0], "n", "o", false, Some(scheme))?;
            d.scheme = Arc::from(scheme);
            Ok(())
        })
    }

    /// Offers one algorithm (default `MD5`, as Flask-HTTPAuth; SHA-256 recommended).
    ///
    /// # Panics
    ///
    /// As [`algorithms`](Self::algorithms).
    #[must_use]
    pub fn algorithm(self, algorithm: Algorithm) -> Self {
        self.algorithms([algorithm])
    }

    /// Offers several algorithms, most preferred first: one challenge each, one per
    /// `WWW-Authenticate` line (RFC 7616 §3.7). Duplicates are dropped. Clients use the first
    /// they support (curl only ever reads the first), so put the one most of your clients
    /// support first, and never `SHA-512-256` first (curl before 8.7 computes it wrong).
    ///
    /// # Panics
    ///
    /// If the list is empty, or with [`use_ha1`](Self::use_ha1) and a get-password callback
    /// when the algorithms use different hash functions (one stored HA1 cannot serve both;
    /// use [`get_user`](Self::get_user), whose callback gets the algorithm).
    #[must_use]
    pub fn algorithms<I: IntoIterator<Item = Algorithm>>(self, algorithms: I) -> Self {
        self.try_algorithms(algorithms)
            .unwrap_or_else(|err| panic!("httpauth: {err}"))
    }

    /// Like [`algorithms`](Self::algorithms), returning an error instead of panicking.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] for an empty list, or an HA1 that cannot serve the algorithms.
    pub fn try_algorithms<I: IntoIterator<Item = Algorithm>>(
        mut self,
        algorithms: I,
    ) -> Result<Self, ConfigError> {
        let mut list: Vec<Algorithm> = Vec::new();
        for a in algorithms {
            if !list.contains(&a) {
                list.push(a);
            }
        }
        if list.is_empty() {
            return Err(ConfigError::Invalid {
                setting: "Digest algorithms",
                reason: "a Digest auth needs at least one algorithm",
            });
        }
        let previous = std::mem::replace(&mut self.kind.algorithms, Arc::from(list));
        if let Err(err) = self.kind.check_ha1_families() {
            self.kind.algorithms = previous;
            return Err(err);
        }
        self.kind.refresh();
        Ok(self)
    }

    /// The qualities of protection offered (default `[Qop::Auth]`). An empty list means RFC
    /// 2069 mode, as [`no_qop`](Self::no_qop). With [`Qop::AuthInt`] the body of requests that
    /// use it is buffered (see [`max_body`](Self::max_body)).
    #[must_use]
    pub fn qop<I: IntoIterator<Item = Qop>>(mut self, qops: I) -> Self {
        let mut list: Vec<Qop> = Vec::new();
        for q in qops {
            if !list.contains(&q) {
                list.push(q);
            }
        }
        self.kind.qops = Arc::from(list);
        self
    }

    /// RFC 2069 mode (Flask-HTTPAuth's `qop=None`): no `qop` offered, and none accepted. The
    /// response then covers neither a client nonce nor a count, so each nonce is accepted for
    /// one request only. Not recommended.
    #[must_use]
    pub fn no_qop(self) -> Self {
        self.qop([])
    }

    /// The callback returns `HA1 = H(username ":" realm ":" password)` (hex, as made by
    /// [`generate_ha1`](Self::generate_ha1)) instead of the password (Flask-HTTPAuth's
    /// `use_ha1_pw`), so no plain password needs to be stored.
    ///
    /// # Panics
    ///
    /// With a get-password callback and algorithms of different hash functions (see
    /// [`algorithms`](Self::algorithms)).
    #[must_use]
    pub fn use_ha1(self, yes: bool) -> Self {
        self.try_use_ha1(yes)
            .unwrap_or_else(|err| panic!("httpauth: {err}"))
    }

    /// Like [`use_ha1`](Self::use_ha1), returning an error instead of panicking.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] with a get-password callback and algorithms of different hash
    /// functions.
    pub fn try_use_ha1(mut self, yes: bool) -> Result<Self, ConfigError> {
        let previous = self.kind.use_ha1;
        self.kind.use_ha1 = yes;
        if let Err(err) = self.kind.check_ha1_families() {
            self.kind.use_ha1 = previous;
            return Err(err);
        }
        Ok(self)
    }

    /// Offers `userhash=true` (RFC 7616 §3.4.4): clients that support it (curl, Chrome) send
    /// `H(username ":" realm)` instead of the username. Give the auth a way to map it back with
    /// [`userhash_users`](Self::userhash_users) or
    /// [`userhash_resolver`](Self::userhash_resolver); without one, hashed usernames are
    /// unknown users. Clients that do not support it keep sending the plain username, which is
    /// still accepted.
    #[must_use]
    pub fn userhash(mut self, yes: bool) -> Self {
        self.kind.userhash = yes;
        self
    }

    /// Turns [`userhash`](Self::userhash) on and resolves hashed usernames among these
    /// usernames (a table made for the realm and every offered algorithm).
    #[must_use]
    pub fn userhash_users<I, S>(mut self, usernames: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let users: Arc<[String]> = usernames.into_iter().map(Into::into).collect();
        self.kind.userhash = true;
        self.kind.userhash_source = Userhash::Users(users, Arc::default());
        self.kind.refresh();
        self
    }

    /// Turns [`userhash`](Self::userhash) on and resolves a hashed username (lowercase hex) with
    /// `resolve(hash, algorithm)`, which returns the real username. Compute candidates with
    /// [`Algorithm::userhash`].
    #[must_use]
    pub fn userhash_resolver<F>(mut self, resolve: F) -> Self
    where
        F: Fn(&str, Algorithm) -> Option<String> + Send + Sync + 'static,
    {
        self.kind.userhash = true;
        self.kind.userhash_source = Userhash::Resolver(Arc::new(resolve));
        self
    }

    /// Adds `charset=UTF-8` to the challenge (RFC 7616 §3.3): usernames and passwords are
    /// UTF-8 (usernames are always read as UTF-8).
    #[must_use]
    pub fn charset_utf8(mut self) -> Self {
        self.kind.charset = true;
        self
    }

    /// The nonce MAC key, instead of a random one, so that several instances (or restarts)
    /// accept each other's nonces. Give every instance the same secret and, to keep replay
    /// protection across them, a shared [`NonceStore`].
    ///
    /// # Panics
    ///
    /// If `secret` is shorter than [`MIN_SECRET_LEN`] (32) bytes.
    #[must_use]
    pub fn secret(self, secret: &[u8]) -> Self {
        self.try_secret(secret)
            .unwrap_or_else(|err| panic!("httpauth: {err}"))
    }

    /// Like [`secret`](Self::secret), returning an error for a short secret.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when `secret` is shorter than [`MIN_SECRET_LEN`] bytes.
    pub fn try_secret(self, secret: &[u8]) -> Result<Self, ConfigError> {
        self.try_secrets([secret])
    }

    /// Several nonce secrets, to rotate them without an outage: the **first** makes new
    /// nonces, **every one** verifies the nonces it made (one MAC per check: a nonce names its
    /// secret). A nonce made by a secret that is not in the list any more is refused as stale
    /// (`stale=true`), so the client retries with a fresh
    /// nonce without asking its user. To rotate over several instances: give each `[new,
    /// old]` (in any order of restarts, every instance accepts every nonce), then, once every
    /// instance has it, `[new]`.
    ///
    /// # Panics
    ///
    /// When the list is empty, longer than [`MAX_SECRETS`], or a secret is shorter than
    /// [`MIN_SECRET_LEN`] bytes; see [`try_secrets`](Self::try_secrets).
    #[must_use]
    pub fn secrets<I, S>(self, secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.try_secrets(secrets)
            .unwrap_or_else(|err| panic!("httpauth: {err}"))
    }

    /// Like [`secrets`](Self::secrets), returning an error instead of panicking.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when the list is empty, longer than [`MAX_SECRETS`], or a
    /// secret is shorter than [`MIN_SECRET_LEN`] bytes.
    pub fn try_secrets<I, S>(mut self, secrets: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let invalid = |reason| ConfigError::Invalid {
            setting: "Digest nonce secret",
            reason,
        };
        let secrets: Vec<S> = secrets.into_iter().take(MAX_SECRETS + 1).collect();
        if secrets.is_empty() || secrets.len() > MAX_SECRETS {
            return Err(invalid("give from 1 to 8 secrets"));
        }
        if secrets.iter().any(|s| s.as_ref().len() < MIN_SECRET_LEN) {
            return Err(invalid("it must be at least 32 bytes"));
        }
        let secrets: Vec<&[u8]> = secrets.iter().map(AsRef::as_ref).collect();
        self.kind.key = Arc::new(NonceKey::from_secrets(&secrets));
        Ok(self)
    }

    /// The [secrets](Self::secrets) read from a file, **one per line** (`\n` or `\r\n`; empty
    /// lines skipped), the first making new nonces: rotate by rewriting the file (`new`, then
    /// `new` and `old`, then `new`) and restarting each instance. Never logged, nor shown by
    /// `Debug`, nor put in an error. (A binary secret that may hold a line break goes through
    /// [`secret_from_file`](Self::secret_from_file).)
    ///
    /// # Errors
    ///
    /// The file cannot be read, or its secrets are not valid for
    /// [`try_secrets`](Self::try_secrets) ([`std::io::ErrorKind::InvalidData`]).
    pub fn secrets_from_file(self, path: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        let mut bytes = std::fs::read(path)?;
        let result = self
            .try_secrets(
                bytes
                    .split(|&b| b == b'\n')
                    .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
                    .filter(|line| !line.is_empty()),
            )
            .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, err.to_string()));
        bytes.fill(0);
        result
    }

    /// The [secret](Self::secret) read from a file (a mounted secret, `/run/secrets/...`), so
    /// every instance given the same file accepts the others' nonces. The file's bytes are the
    /// secret, without one trailing line break (`\n` or `\r\n`). The secret is never logged,
    /// nor shown by `Debug`, nor put in an error.
    ///
    /// # Errors
    ///
    /// The file cannot be read, or holds fewer than [`MIN_SECRET_LEN`] (32) bytes
    /// ([`std::io::ErrorKind::InvalidData`]).
    pub fn secret_from_file(self, path: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        let mut bytes = std::fs::read(path)?;
        trim_line_break(&mut bytes);
        let result = self
            .try_secret(&bytes)
            .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, err.to_string()));
        bytes.fill(0);
        result
    }

    /// The [secret](Self::secret) from the environment variable `var` (its bytes, without one
    /// trailing line break). Never logged, nor shown by `Debug`, nor put in an error.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when `var` is unset or shorter than [`MIN_SECRET_LEN`] bytes.
    pub fn secret_from_env(self, var: &str) -> Result<Self, ConfigError> {
        let Some(value) = std::env::var_os(var) else {
            return Err(ConfigError::Invalid {
                setting: "Digest nonce secret",
                reason: "the environment variable is not set",
            });
        };
        let mut bytes = value.into_encoded_bytes();
        trim_line_break(&mut bytes);
        let result = self.try_secret(&bytes);
        bytes.fill(0);
        result
    }

    /// How long a default nonce is accepted (default 5 minutes). An answer to an older nonce
    /// with a correct response gets `stale=true`. Also how long a custom nonce is tracked for
    /// replays after its last use.
    ///
    /// Clones of one auth share its [`NonceStore`] (and its key, so they accept each other's
    /// nonces). When they have different lifetimes, the store keeps every use for the
    /// **longest** of them: a use recorded through a short-lived clone is still refused as a
    /// replay by a longer-lived one. Setting a lifetime on an auth whose store no clone shares
    /// sets its retention exactly.
    #[must_use]
    pub fn nonce_lifetime(mut self, lifetime: Duration) -> Self {
        self.kind.lifetime = lifetime;
        let ms = duration_ms(lifetime);
        if Arc::strong_count(&self.kind.retention) == 1 {
            self.kind.retention.store(ms, Ordering::Relaxed);
        } else {
            self.kind.retention.fetch_max(ms, Ordering::Relaxed);
        }
        self
    }

    /// Where accepted `(nonce, nc)` pairs are remembered (default: a [`MemoryNonceStore`] of
    /// [`MemoryNonceStore::DEFAULT_CAPACITY`] nonces, shared by the clones of this auth).
    ///
    /// Auths built separately that are given one store (an `Arc` of it) should have the same
    /// [`nonce_lifetime`](Self::nonce_lifetime), or be clones of one auth: each tells the
    /// store to keep a use for its own lifetime only (a [`MemoryNonceStore`] then keeps an
    /// entry for the longest lifetime among the uses it has seen of that nonce).
    #[must_use]
    pub fn nonce_store<S: NonceStore>(mut self, store: S) -> Self {
        self.kind.store = Arc::new(store);
        self.kind.retention = Arc::new(AtomicU64::new(duration_ms(self.kind.lifetime)));
        self
    }

    /// The largest body buffered for `qop=auth-int` (default [`DEFAULT_MAX_BODY`], 1 MiB);
    /// larger bodies are answered 413 before any credential check.
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.kind.max_body = bytes;
        self
    }

    /// Replaces the default nonce generator (Flask-HTTPAuth's `generate_nonce`). Set
    /// [`verify_nonce`](Self::verify_nonce) too: the default verifier only accepts the default
    /// nonces. Custom nonces do not expire unless `verify_nonce` expires them; replays are
    /// still refused for [`nonce_lifetime`](Self::nonce_lifetime) after their last use (the
    /// store never drops a custom nonce earlier: when full of them it refuses new nonces, with
    /// `stale=true`). A custom nonce's string is its identity in the store: make
    /// `verify_nonce` accept one spelling of each nonce. Control characters are removed from
    /// the value.
    #[must_use]
    pub fn generate_nonce<F>(mut self, generate: F) -> Self
    where
        F: Fn() -> String + Send + Sync + 'static,
    {
        self.kind.generate_nonce = Some(Arc::new(generate));
        self
    }

    /// Replaces the default nonce verifier (Flask-HTTPAuth's `verify_nonce`): gets the client's
    /// nonce, returns whether it is valid.
    #[must_use]
    pub fn verify_nonce<F>(mut self, verify: F) -> Self
    where
        F: Fn(&str) -> bool + Send + Sync + 'static,
    {
        self.kind.verify_nonce = Some(Arc::new(verify));
        self
    }

    /// Replaces the default opaque generator (Flask-HTTPAuth's `generate_opaque`). Set
    /// [`verify_opaque`](Self::verify_opaque) too.
    #[must_use]
    pub fn generate_opaque<F>(mut self, generate: F) -> Self
    where
        F: Fn() -> String + Send + Sync + 'static,
    {
        self.kind.generate_opaque = Some(Arc::new(generate));
        self
    }

    /// Replaces the default opaque verifier (Flask-HTTPAuth's `verify_opaque`): gets the
    /// client's opaque (`""` when it sent none).
    #[must_use]
    pub fn verify_opaque<F>(mut self, verify: F) -> Self
    where
        F: Fn(&str) -> bool + Send + Sync + 'static,
    {
        self.kind.verify_opaque = Some(Arc::new(verify));
        self
    }

    /// `HA1 = H(username ":" realm ":" password)` for the configured realm and the first
    /// offered algorithm (Flask-HTTPAuth's `generate_ha1`): what to store for
    /// [`use_ha1`](Self::use_ha1).
    #[must_use]
    pub fn generate_ha1(&self, username: &str, password: &str) -> String {
        generate_ha1(
            self.kind.algorithms[0],
            username,
            &self.kind.realm,
            password,
        )
    }

    /// The offered algorithms, in preference order.
    #[must_use]
    pub fn offered_algorithms(&self) -> &[Algorithm] {
        &self.kind.algorithms
    }

    /// The offered qualities of protection (empty: RFC 2069 mode).
    #[must_use]
    pub fn offered_qop(&self) -> &[Qop] {
        &self.kind.qops
    }
}

impl<U: Clone + Send + Sync + 'static> Digest<U> {
    pub(super) fn with_lookup(lookup: Lookup<U>) -> Self {
        Self {
            realm: Arc::from(DEFAULT_REALM),
            scheme: Arc::from("Digest"),
            lookup,
            lookup_is_password_only: false,
            use_ha1: false,
            algorithms: Arc::from([Algorithm::Md5]),
            qops: Arc::from([Qop::Auth]),
            userhash: false,
            userhash_source: Userhash::None,
            charset: false,
            max_body: DEFAULT_MAX_BODY,
            key: Arc::new(NonceKey::random()),
            lifetime: DEFAULT_NONCE_LIFETIME,
            generate_nonce: None,
            verify_nonce: None,
            generate_opaque: None,
            verify_opaque: None,
            store: Arc::new(MemoryNonceStore::default()),
            retention: Arc::new(AtomicU64::new(duration_ms(DEFAULT_NONCE_LIFETIME))),
        }
    }

    pub(super) fn check_ha1_families(&self) -> Result<(), ConfigError> {
        if self.use_ha1 && self.lookup_is_password_only {
            let first = self.algorithms[0].hash_fn();
            if !self.algorithms.iter().all(|a| a.hash_fn() == first) {
                return Err(ConfigError::Invalid {
                    setting: "use_ha1",
                    reason: "with a get-password callback it needs algorithms of one hash function \
                             (one stored HA1 cannot serve MD5 and SHA-256); use DigestAuth::get_user, \
                             whose callback gets the algorithm",
                });
            }
        }
        Ok(())
    }

    /// Refreshes what derives from the realm and the algorithms (the userhash table).
    pub(super) fn refresh(&mut self) {
        if let Userhash::Users(users, _) = &self.userhash_source {
            let mut table = HashMap::new();
            for a in self.algorithms.iter() {
                for u in users.iter() {
                    table.insert((a.hash_fn(), a.userhash(u, &self.realm)), u.clone());
                }
            }
            self.userhash_source = Userhash::Users(users.clone(), Arc::new(table));
        }
    }

    /// One challenge line (under `scheme` instead of the configured name, to validate one).
    pub(super) fn render(
        &self,
        algorithm: Algorithm,
        nonce: &str,
        opaque: &str,
        stale: bool,
        scheme: Option<&str>,
    ) -> Result<Challenge, ConfigError> {
        let mut b = Challenge::builder(scheme.unwrap_or(&self.scheme))?
            .compact()
            .quoted("realm", &self.realm)?
            .quoted("nonce", nonce)?
            .quoted("opaque", opaque)?;
        if !self.qops.is_empty() {
            let qop = self
                .qops
                .iter()
                .map(|q| q.name())
                .collect::<Vec<_>>()
                .join(",");
            b = b
                .quoted("algorithm", algorithm.name())?
                .quoted("qop", &qop)?;
        } else if algorithm != Algorithm::Md5 {
            // Flask-HTTPAuth sends no algorithm without qop; clients then assume MD5.
            b = b.quoted("algorithm", algorithm.name())?;
        }
        if self.charset {
            b = b.token("charset", "UTF-8")?;
        }
        if self.userhash {
            b = b.token("userhash", "true")?;
        }
        if stale {
            b = b.token("stale", "true")?;
        }
        b.build()
    }

    pub(super) fn fresh_nonce_and_opaque(&self) -> (String, String) {
        let nonce = match &self.generate_nonce {
            Some(generate) => without_controls(generate()),
            None => self.key.nonce_at(&self.realm, now_ms()),
        };
        let opaque = match &self.generate_opaque {
            Some(generate) => without_controls(generate()),
            None => self.key.opaque(&nonce),
        };
        (nonce, opaque)
    }

    /// How long the store keeps a use, in milliseconds (see `retention`).
    pub(super) fn retention_ms(&self) -> u64 {
        self.retention
            .load(Ordering::Relaxed)
            .max(duration_ms(self.lifetime))
    }

    pub(super) fn accepts(&self, scheme: &[u8]) -> bool {
        crate::scheme::header::same_scheme(scheme, self.scheme.as_bytes())
            || crate::scheme::header::same_scheme(scheme, b"Digest")
    }
}

pub(super) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn without_controls(s: String) -> String {
    if s.chars().any(char::is_control) {
        s.chars().filter(|c| !c.is_control()).collect()
    } else {
        s
    }
}

/// Drops one trailing `\n` or `\r\n` (a secret file written by `echo` or an editor).
fn trim_line_break(bytes: &mut Vec<u8>) {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
}
