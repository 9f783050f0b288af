//! HTTP Digest authentication (RFC 7616), Flask-HTTPAuth's `HTTPDigestAuth`, without a session
//! store and with replay protection.
//!
//! The get-password callback returns the user's password (or, with
//! [`use_ha1`](DigestAuth::use_ha1), the stored `HA1`); the handler gets the username through
//! [`Username`](crate::Username) or `CurrentUser<String>`. Defaults are the seed library's: one
//! challenge, `MD5`, `qop="auth"`. **Prefer SHA-256** (`.algorithm(Algorithm::Sha256)`, or
//! `.algorithms([Algorithm::Sha256, Algorithm::Md5])` to keep MD5-only clients working): RFC
//! 7616 makes it mandatory and calls MD5 NOT RECOMMENDED.
//!
//! ```
//! use axum::{routing::get, Router};
//! use httpauth::digest::{Algorithm, DigestAuth};
//! use httpauth::Username;
//! # use tower::ServiceExt;
//!
//! let auth = DigestAuth::get_password_sync(|username| (username == "john").then(|| "hello".to_owned()));
//! let app: Router = Router::new().route(
//!     "/private",
//!     get(|Username(name): Username| async move { format!("Hello, {name}!") })
//!         .route_layer(auth.login_required()),
//! );
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // No credentials: 401 and the seed's challenge (a fresh nonce and opaque every time).
//! let res = app.clone().oneshot(http::Request::get("/private").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 401);
//! let challenge = res.headers()["www-authenticate"].to_str().unwrap().to_owned();
//! assert!(challenge.starts_with(r#"Digest realm="Authentication Required",nonce=""#));
//! assert!(challenge.ends_with(r#"",algorithm="MD5",qop="auth""#));
//!
//! // What a client computes (RFC 7616 §3.4.1).
//! let param = |name: &str| challenge.split(&format!("{name}=\"")).nth(1).unwrap().split('"').next().unwrap().to_owned();
//! let (nonce, opaque) = (param("nonce"), param("opaque"));
//! let h = |parts: &[&str]| Algorithm::Md5.hash(&parts.iter().map(|p| p.as_bytes()).collect::<Vec<_>>()).as_str().to_owned();
//! let ha1 = h(&["john", "Authentication Required", "hello"]);
//! let ha2 = h(&["GET", "/private"]);
//! let response = h(&[&ha1, &nonce, "00000001", "0a4f113b", "auth", &ha2]);
//! let authorization = format!(
//!     r#"Digest username="john", realm="Authentication Required", nonce="{nonce}", uri="/private", qop=auth, nc=00000001, cnonce="0a4f113b", response="{response}", opaque="{opaque}""#
//! );
//! let req = || http::Request::get("/private").header("authorization", &authorization).body(axum::body::Body::empty()).unwrap();
//! assert_eq!(app.clone().oneshot(req()).await.unwrap().status(), 200);
//! // The same header again is a replay: refused.
//! assert_eq!(app.oneshot(req()).await.unwrap().status(), 401);
//! # });
//! ```
//!
//! # What is verified, in order
//!
//! 1. The `Authorization` value parses ([`header::parse`]: duplicated
//!    parameters, parameters without `=`, unterminated quoted strings, control characters are
//!    refused) and carries every parameter RFC 7616 requires ([`DigestCredentials`]); else 401.
//! 2. `realm`, `algorithm` and `qop` are ones this auth offered (no qop downgrade to RFC 2069,
//!    no other realm); `userhash=true` only when offered; else 401.
//! 3. `uri` is the request target (path and query, or the same absolute URI); else **400**
//!    (RFC 7616 §3.4.6).
//! 4. `opaque` and `nonce` were issued by this auth (their MACs, or your
//!    [`verify_opaque`](DigestAuth::verify_opaque)/[`verify_nonce`](DigestAuth::verify_nonce));
//!    else 401. Nothing else is looked up for a forged nonce.
//! 5. The get-password callback, then the expected `response`, compared in constant time
//!    (hex in either case); an unknown user costs the same hashing as a wrong password. 401.
//! 6. Only now, with a correct response: the nonce's age (expired: 401 with **`stale=true`**,
//!    so the client retries without asking the user), then the [`NonceStore`]: a `(nonce, nc)`
//!    pair already accepted is a replay, answered 401 `stale=true` as well.
//!
//! # Nonces, opaque and replays
//!
//! By default a nonce is `hex(issue time ‖ 12 random bytes ‖ tag)`, the tag an HMAC-SHA-256
//! over the issue time, the random part and the realm, under a key from the OS CSPRNG (or
//! [`secret`](DigestAuth::secret), to share it between instances); it lives
//! [`nonce_lifetime`](DigestAuth::nonce_lifetime) (5 minutes). The opaque is a MAC of the
//! nonce. Nothing is stored when a challenge is sent. A nonce serves many requests
//! with increasing `nc`; each `(nonce, nc)` is accepted once (a 64-count window accepts
//! out-of-order counts once). RFC 2069 credentials (no `qop`, only when you configure
//! [`no_qop`](DigestAuth::no_qop)) have no `nc`: each nonce is then good for one request. The
//! seed's four callbacks [`generate_nonce`](DigestAuth::generate_nonce),
//! [`verify_nonce`](DigestAuth::verify_nonce), [`generate_opaque`](DigestAuth::generate_opaque),
//! [`verify_opaque`](DigestAuth::verify_opaque) replace the defaults (set them in pairs).
//!
//! # `auth-int`
//!
//! With [`Qop::AuthInt`] offered, a request whose credentials say `qop=auth-int` has its body
//! buffered by the tower layer, up to [`max_body`](DigestAuth::max_body) (1 MiB; larger: 413),
//! and hashed into `A2`. Requests with `qop=auth` are not buffered.
//!
//! `docs/digest.md` lists every difference from Flask-HTTPAuth with its reason.

mod algorithm;
mod credentials;
mod nonce;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderName, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Uri};
use subtle::ConstantTimeEq;

pub use self::algorithm::{generate_ha1, Algorithm, Hex, UnknownAlgorithm};
pub use self::credentials::{DigestCredentials, Qop};
pub use self::nonce::{
    MemoryNonceStore, NcWindow, NonceInfo, NonceStore, NonceUse, MIN_SECRET_LEN,
};

use self::algorithm::HashFn;
use self::nonce::{freshness, ms_to_time, now_ms, NonceKey};
use crate::auth::Auth;
use crate::basic::{GetPassword, SyncGetPassword};
use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::scheme::header::{self, Payload};
use crate::scheme::Challenge;
use crate::scheme::{AuthFuture, AuthRequest, Identity, Scheme, DEFAULT_REALM};

/// The get-secret callback that also returns the user: for a username and the algorithm the
/// client uses, the password (or HA1 with [`use_ha1`](DigestAuth::use_ha1)) and your user
/// object, or `None` for an unknown user.
///
/// Implemented for async closures `Fn(String, Algorithm) -> impl Future<Output =
/// Option<(String, U)>>`; sync closures go through [`DigestAuth::get_user_sync`].
pub trait GetDigestUser: Send + Sync + 'static {
    /// The application's user type.
    type User: Clone + Send + Sync + 'static;

    /// The secret and the user of `username` ([`AuthFuture::ready`] when known at once).
    fn get_digest_user(
        &self,
        username: &str,
        algorithm: Algorithm,
    ) -> AuthFuture<Option<(String, Self::User)>>;
}

impl<F, Fut, U> GetDigestUser for F
where
    F: Fn(String, Algorithm) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<(String, U)>> + Send + 'static,
    U: Clone + Send + Sync + 'static,
{
    type User = U;

    fn get_digest_user(
        &self,
        username: &str,
        algorithm: Algorithm,
    ) -> AuthFuture<Option<(String, U)>> {
        AuthFuture::new(self(username.to_owned(), algorithm))
    }
}

/// A plain function as a [`GetDigestUser`]: answers at once.
struct SyncLookup<F>(F);

impl<F, U> GetDigestUser for SyncLookup<F>
where
    F: Fn(&str, Algorithm) -> Option<(String, U)> + Send + Sync + 'static,
    U: Clone + Send + Sync + 'static,
{
    type User = U;

    fn get_digest_user(
        &self,
        username: &str,
        algorithm: Algorithm,
    ) -> AuthFuture<Option<(String, U)>> {
        AuthFuture::ready((self.0)(username, algorithm))
    }
}

/// The get-password callback as a [`GetDigestUser`]: the user is the username.
struct PasswordLookup(Arc<dyn GetPassword>);

impl GetDigestUser for PasswordLookup {
    type User = String;

    fn get_digest_user(
        &self,
        username: &str,
        _algorithm: Algorithm,
    ) -> AuthFuture<Option<(String, String)>> {
        let username = username.to_owned();
        self.0
            .get_password(&username)
            .map(move |secret| secret.map(|s| (s, username)))
    }
}

type GenerateFn = Arc<dyn Fn() -> String + Send + Sync>;
type VerifyFn = Arc<dyn Fn(&str) -> bool + Send + Sync>;
type ResolverFn = Arc<dyn Fn(&str, Algorithm) -> Option<String> + Send + Sync>;

type Lookup<U> = Arc<dyn GetDigestUser<User = U>>;

/// How a `userhash=true` username is mapped back to the real one.
#[derive(Clone)]
enum Userhash {
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

/// The Digest scheme: what [`DigestAuth`] wraps. See the [module docs](self).
pub struct Digest<U> {
    realm: Arc<str>,
    scheme: Arc<str>,
    lookup: Lookup<U>,
    /// The lookup ignores the algorithm (built from a get-password callback).
    lookup_is_password_only: bool,
    use_ha1: bool,
    algorithms: Arc<[Algorithm]>,
    qops: Arc<[Qop]>,
    userhash: bool,
    userhash_source: Userhash,
    charset: bool,
    max_body: usize,
    key: Arc<NonceKey>,
    lifetime: Duration,
    generate_nonce: Option<GenerateFn>,
    verify_nonce: Option<VerifyFn>,
    generate_opaque: Option<GenerateFn>,
    verify_opaque: Option<VerifyFn>,
    store: Arc<dyn NonceStore>,
}

/// HTTP Digest authentication: [`Auth`] over the [`Digest`] scheme. See the
/// [module docs](self).
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
    pub fn get_password_sync<F>(get: F) -> Self
    where
        F: Fn(&str) -> Option<String> + Send + Sync + 'static,
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
    pub fn get_user_sync<F>(get: F) -> Self
    where
        F: Fn(&str, Algorithm) -> Option<(String, U)> + Send + Sync + 'static,
    {
        Self::get_user(SyncLookup(get))
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

    /// Offers one algorithm (default `MD5`, as the seed; SHA-256 recommended).
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
    pub fn algorithms<I: IntoIterator<Item = Algorithm>>(mut self, algorithms: I) -> Self {
        let mut list: Vec<Algorithm> = Vec::new();
        for a in algorithms {
            if !list.contains(&a) {
                list.push(a);
            }
        }
        assert!(
            !list.is_empty(),
            "httpauth: a Digest auth needs at least one algorithm"
        );
        self.kind.algorithms = Arc::from(list);
        self.kind.check_ha1_families();
        {
            self.kind.refresh();
            self
        }
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
    pub fn use_ha1(mut self, yes: bool) -> Self {
        self.kind.use_ha1 = yes;
        self.kind.check_ha1_families();
        self
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
        {
            self.kind.refresh();
            self
        }
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
    pub fn try_secret(mut self, secret: &[u8]) -> Result<Self, ConfigError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError::Invalid {
                setting: "Digest nonce secret",
                reason: "it must be at least 32 bytes",
            });
        }
        self.kind.key = Arc::new(NonceKey::from_secret(secret));
        Ok(self)
    }

    /// How long a default nonce is accepted (default 5 minutes). An answer to an older nonce
    /// with a correct response gets `stale=true`. Also how long a custom nonce is tracked for
    /// replays after its first use.
    #[must_use]
    pub fn nonce_lifetime(mut self, lifetime: Duration) -> Self {
        self.kind.lifetime = lifetime;
        self
    }

    /// Where accepted `(nonce, nc)` pairs are remembered (default: a [`MemoryNonceStore`] of
    /// [`MemoryNonceStore::DEFAULT_CAPACITY`] nonces, shared by the clones of this auth).
    #[must_use]
    pub fn nonce_store<S: NonceStore>(mut self, store: S) -> Self {
        self.kind.store = Arc::new(store);
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
    /// still refused for [`nonce_lifetime`](Self::nonce_lifetime) after first use. Control
    /// characters are removed from the value.
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
    fn with_lookup(lookup: Lookup<U>) -> Self {
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
        }
    }

    fn check_ha1_families(&self) {
        if self.use_ha1 && self.lookup_is_password_only {
            let first = self.algorithms[0].hash_fn();
            assert!(
                self.algorithms.iter().all(|a| a.hash_fn() == first),
                "httpauth: use_ha1 with a get-password callback needs algorithms of one hash function \
                 (one stored HA1 cannot serve MD5 and SHA-256); use DigestAuth::get_user, whose callback gets the algorithm"
            );
        }
    }

    /// Refreshes what derives from the realm and the algorithms (the userhash table).
    fn refresh(&mut self) {
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

    /// One challenge line.
    /// One challenge line (under `scheme` instead of the configured name, to validate one).
    fn render(
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

    fn fresh_nonce_and_opaque(&self) -> (String, String) {
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

    fn accepts(&self, scheme: &[u8]) -> bool {
        scheme.eq_ignore_ascii_case(b"Digest")
            || scheme.eq_ignore_ascii_case(self.scheme.as_bytes())
    }

    fn credentials(&self, req: &AuthRequest<'_>) -> Result<DigestCredentials, AuthError> {
        let value = req.authorization().ok_or_else(AuthError::missing)?;
        let creds = header::parse(value).map_err(|e| AuthError::malformed(e.as_str()))?;
        if !self.accepts(creds.scheme().as_bytes()) {
            return Err(AuthError::missing());
        }
        match creds.payload() {
            Payload::Params(params) => {
                DigestCredentials::from_params(params).map_err(AuthError::malformed)
            }
            Payload::Empty => Err(AuthError::malformed("no Digest parameters")),
            Payload::Token68(_) => Err(AuthError::malformed(
                "Digest credentials are not an auth-param list",
            )),
        }
    }

    /// Everything that needs no callback: steps 1-4 of the module docs.
    fn precheck(&self, req: &AuthRequest<'_>) -> Result<Checked, AuthError> {
        let creds = self.credentials(req)?;
        if creds.realm != *self.realm {
            return Err(refused("realm is not the one offered"));
        }
        if !self.algorithms.contains(&creds.algorithm) {
            return Err(refused("algorithm is not one offered"));
        }
        match creds.qop {
            None if !self.qops.is_empty() => {
                return Err(refused("qop missing (RFC 2069 downgrade)"));
            }
            Some(q) if !self.qops.contains(&q) => return Err(refused("qop is not one offered")),
            _ => {}
        }
        if creds.userhash && !self.userhash {
            return Err(AuthError::malformed("userhash was not offered"));
        }
        if !uri_matches(&creds.uri, req) {
            return Err(AuthError::new(AuthErrorKind::BadRequest)
                .with_detail("uri does not match the request target"));
        }
        let opaque = creds.opaque.as_deref();
        let opaque_ok = match &self.verify_opaque {
            Some(verify) => verify(opaque.unwrap_or("")),
            None => opaque.is_some_and(|o| self.key.verify_opaque(&creds.nonce, o)),
        };
        if !opaque_ok {
            return Err(refused("opaque was not issued here"));
        }
        let issued_ms = match &self.verify_nonce {
            Some(verify) => {
                if !verify(&creds.nonce) {
                    return Err(refused("nonce refused"));
                }
                None
            }
            None => {
                let issued = self
                    .key
                    .verify_nonce(&self.realm, &creds.nonce)
                    .ok_or_else(|| refused("nonce was not issued here"))?;
                Some(issued.at_ms)
            }
        };
        let body_hash = match creds.qop {
            Some(Qop::AuthInt) => {
                let body = req.body().ok_or_else(|| {
                    AuthError::malformed("qop=auth-int but the body was not buffered")
                })?;
                Some(creds.algorithm.hash(&[body]))
            }
            _ => None,
        };
        let username = if creds.userhash {
            self.resolve_userhash(&creds.username, creds.algorithm)
        } else {
            Some(creds.username.clone())
        };
        Ok(Checked {
            creds,
            username,
            issued_ms,
            body_hash,
        })
    }

    fn resolve_userhash(&self, hash: &str, algorithm: Algorithm) -> Option<String> {
        let hash = hash.to_ascii_lowercase();
        match &self.userhash_source {
            Userhash::None => {
                tracing::warn!(target: "httpauth", "userhash offered but no userhash_users/userhash_resolver configured");
                None
            }
            Userhash::Users(_, table) => table.get(&(algorithm.hash_fn(), hash)).cloned(),
            Userhash::Resolver(resolve) => resolve(&hash, algorithm),
        }
    }

    /// Step 5 and the expiry of step 6: the response, with the secret the callback returned.
    fn verify(
        &self,
        checked: &Checked,
        found: Option<(String, U)>,
        method: &str,
    ) -> Result<(U, Hex), AuthError> {
        let creds = &checked.creds;
        let alg = creds.algorithm;
        // An empty stored secret means no usable account (as Flask-HTTPAuth's falsy password).
        let found = found.filter(|(secret, _)| !secret.is_empty());
        let (ha1, user) = match found {
            Some((secret, user)) if self.use_ha1 => match Hex::parse(&secret, alg.hex_len()) {
                Some(ha1) => (ha1, Some(user)),
                None => {
                    tracing::warn!(target: "httpauth", algorithm = alg.name(), "the get-password callback returned an HA1 that is not hex of the algorithm's length");
                    (Hex::zero(alg.hex_len()), None)
                }
            },
            Some((secret, user)) => {
                let username = checked.username.as_deref().unwrap_or("");
                let ha1 = alg.hash(&[
                    username.as_bytes(),
                    self.realm.as_bytes(),
                    secret.as_bytes(),
                ]);
                (ha1, Some(user))
            }
            // Unknown user: the same hashing as a wrong password.
            None => (Hex::zero(alg.hex_len()), None),
        };
        let expected = expected_response(creds, &ha1, method, checked.body_hash.as_ref());
        let mut offered = [0_u8; 64];
        let sent = creds.response.as_bytes();
        let matches = sent.len() == expected.as_bytes().len() && {
            let offered = &mut offered[..sent.len()];
            offered.copy_from_slice(sent);
            offered.make_ascii_lowercase();
            bool::from(offered.ct_eq(expected.as_bytes()))
        };
        let user = match user {
            Some(user) if matches => user,
            _ => return Err(AuthError::invalid()),
        };
        if let Some(issued) = checked.issued_ms {
            match freshness(issued, self.lifetime, now_ms()) {
                Some(true) => {}
                Some(false) => {
                    return Err(
                        AuthError::new(AuthErrorKind::StaleNonce).with_detail("nonce expired")
                    )
                }
                None => return Err(refused("nonce dated in the future")),
            }
        }
        Ok((user, ha1))
    }

    fn nonce_info<'c>(&self, checked: &'c Checked) -> NonceInfo<'c> {
        let issued_ms = checked.issued_ms.unwrap_or_else(now_ms);
        let lifetime_ms = u64::try_from(self.lifetime.as_millis()).unwrap_or(u64::MAX);
        NonceInfo {
            nonce: &checked.creds.nonce,
            nc: checked.creds.nc().unwrap_or(1),
            issued: ms_to_time(issued_ms),
            expires: ms_to_time(issued_ms.saturating_add(lifetime_ms)),
        }
    }

    /// The rest of step 5 and step 6, once the callback answered: the response, the nonce's
    /// age, the replay check, then the identity with its `Authentication-Info`.
    fn finish(
        &self,
        checked: Checked,
        found: Option<(String, U)>,
        method: &str,
    ) -> AuthFuture<Result<Identity<U>, AuthError>> {
        let (user, ha1) = match self.verify(&checked, found, method) {
            Ok(verified) => verified,
            Err(err) => return AuthFuture::ready(Err(err)),
        };
        let info = self.authentication_info(&checked, &ha1);
        let verdict = self.store.check(self.nonce_info(&checked));
        verdict.map(move |verdict| {
            let identity = identity(verdict, checked, user)?;
            Ok(match info {
                Some(info) => identity.with_response_header(AUTHENTICATION_INFO, info),
                None => identity,
            })
        })
    }

    /// RFC 7616 §3.5: `Authentication-Info` for a verified request with a `qop`: `rspauth`
    /// (the response computed with an empty method, proving the server knows the secret),
    /// `qop`, `nc`, `cnonce`, and `nextnonce` when the nonce is in the last fifth of its
    /// lifetime (default nonces only).
    fn authentication_info(&self, checked: &Checked, ha1: &Hex) -> Option<HeaderValue> {
        let creds = &checked.creds;
        let (qop, (_, nc)) = (creds.qop?, creds.nc.as_ref()?);
        let rspauth = expected_response(creds, ha1, "", checked.body_hash.as_ref());
        let cnonce = header::quote(creds.cnonce.as_deref().unwrap_or("")).ok()?;
        let mut value = format!(
            "rspauth=\"{}\", qop={}, nc={nc}, cnonce={cnonce}",
            rspauth.as_str(),
            qop.name()
        );
        if let Some(issued) = checked.issued_ms {
            let lifetime = u64::try_from(self.lifetime.as_millis()).unwrap_or(u64::MAX);
            let age = now_ms().saturating_sub(issued);
            if age.saturating_mul(5) >= lifetime.saturating_mul(4) {
                let (nonce, _) = self.fresh_nonce_and_opaque();
                value.push_str(&format!(", nextnonce=\"{nonce}\""));
            }
        }
        HeaderValue::from_str(&value).ok()
    }
}

/// `Authentication-Info` (RFC 9110 §11.6.3).
const AUTHENTICATION_INFO: HeaderName = HeaderName::from_static("authentication-info");

fn identity<U>(verdict: NonceUse, checked: Checked, user: U) -> Result<Identity<U>, AuthError> {
    let detail = match verdict {
        NonceUse::Fresh => return Ok(Identity::new(user, checked.username)),
        NonceUse::Replayed => "nonce count already used",
        NonceUse::TooOld => "nonce count below the window",
        NonceUse::Forgotten => "nonce no longer tracked",
    };
    Err(AuthError::new(AuthErrorKind::StaleNonce).with_detail(detail))
}

/// What [`DigestAuth::precheck`] established.
struct Checked {
    creds: DigestCredentials,
    /// The real username (`None`: a `userhash` that matches nobody).
    username: Option<String>,
    /// The issue time of a default nonce (`None` with a custom verify_nonce).
    issued_ms: Option<u64>,
    body_hash: Option<Hex>,
}

fn refused(detail: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidCredentials).with_detail(detail)
}

fn without_controls(s: String) -> String {
    if s.chars().any(char::is_control) {
        s.chars().filter(|c| !c.is_control()).collect()
    } else {
        s
    }
}

/// RFC 7616 §3.4.1: `KD(HA1, nonce:nc:cnonce:qop:HA2)`, or RFC 2069's `KD(HA1, nonce:HA2)`.
fn expected_response(
    creds: &DigestCredentials,
    ha1: &Hex,
    method: &str,
    body_hash: Option<&Hex>,
) -> Hex {
    let alg = creds.algorithm;
    let cnonce = creds.cnonce.as_deref().unwrap_or("");
    let session;
    let ha1 = if alg.is_session() {
        session = alg.hash(&[ha1.as_bytes(), creds.nonce.as_bytes(), cnonce.as_bytes()]);
        &session
    } else {
        ha1
    };
    let ha2 = match body_hash {
        Some(body) => alg.hash(&[method.as_bytes(), creds.uri.as_bytes(), body.as_bytes()]),
        None => alg.hash(&[method.as_bytes(), creds.uri.as_bytes()]),
    };
    match (creds.qop, &creds.nc) {
        (Some(qop), Some((_, nc))) => alg.hash(&[
            ha1.as_bytes(),
            creds.nonce.as_bytes(),
            nc.as_bytes(),
            cnonce.as_bytes(),
            qop.name().as_bytes(),
            ha2.as_bytes(),
        ]),
        _ => alg.hash(&[ha1.as_bytes(), creds.nonce.as_bytes(), ha2.as_bytes()]),
    }
}

/// RFC 7616 §3.4.6: the `uri` must name the request target. Origin-form (`/path?query`) must
/// equal the target's path and query byte for byte; an absolute URI must have the same path
/// and query and the request's authority (or `Host`), compared without case.
fn uri_matches(client: &str, req: &AuthRequest<'_>) -> bool {
    let target = req.target();
    if client.starts_with('/') || client == "*" {
        return client == target;
    }
    let Ok(parsed) = client.parse::<Uri>() else {
        return false;
    };
    let (Some(_), Some(authority)) = (parsed.scheme(), parsed.authority()) else {
        return false;
    };
    let client_target = parsed.path_and_query().map_or("/", |pq| pq.as_str());
    if client_target != target {
        return false;
    }
    req.authority()
        .is_some_and(|a| a.eq_ignore_ascii_case(authority.as_str()))
}

impl<U: Clone + Send + Sync + 'static> Scheme for Digest<U> {
    type User = U;

    fn name(&self) -> &str {
        &self.scheme
    }

    fn claims(&self, req: &AuthRequest<'_>) -> bool {
        req.authorization_scheme().is_some_and(|s| self.accepts(s))
    }

    fn body_limit(&self, req: &AuthRequest<'_>) -> Option<usize> {
        if !self.qops.contains(&Qop::AuthInt) {
            return None;
        }
        let value = req.authorization()?;
        let creds = header::parse(value).ok()?;
        if !self.accepts(creds.scheme().as_bytes()) {
            return None;
        }
        let Payload::Params(params) = creds.payload() else {
            return None;
        };
        params
            .get("qop")
            .filter(|q| q.eq_ignore_ascii_case("auth-int"))?;
        // Read no body for credentials that will be refused anyway: realm, algorithm, qop,
        // uri and (with the default, MAC-checked nonces) the nonce and opaque first. Custom
        // nonce callbacks are not called twice for this.
        // (An empty placeholder body: the real one is hashed once it is read.)
        let empty = bytes::Bytes::new();
        if self.verify_nonce.is_none()
            && self.verify_opaque.is_none()
            && self.precheck(&req.with_body(Some(&empty))).is_err()
        {
            return None;
        }
        Some(self.max_body)
    }

    fn authenticate(&self, req: &AuthRequest<'_>) -> AuthFuture<Result<Identity<U>, AuthError>> {
        let checked = match self.precheck(req) {
            Ok(checked) => checked,
            Err(err) => return AuthFuture::ready(Err(err)),
        };
        let found = match checked.username.as_deref() {
            Some(username) => self
                .lookup
                .get_digest_user(username, checked.creds.algorithm),
            None => AuthFuture::ready(None),
        };
        match found.into_ready() {
            Ok(found) => self.finish(checked, found, req.method()),
            Err(pending) => {
                let this = self.clone();
                let method = req.method().to_owned();
                AuthFuture::new(async move {
                    let found = pending.await;
                    this.finish(checked, found, &method).await
                })
            }
        }
    }

    fn set_realm(&mut self, realm: &str) -> Result<(), ConfigError> {
        let previous = std::mem::replace(&mut self.realm, Arc::from(realm));
        if let Err(err) = self.render(self.algorithms[0], "n", "o", false, None) {
            self.realm = previous;
            return Err(err);
        }
        self.refresh();
        Ok(())
    }

    fn challenge(&self, err: &AuthError, headers: &mut HeaderMap) {
        let stale = err.kind() == AuthErrorKind::StaleNonce;
        let (nonce, opaque) = self.fresh_nonce_and_opaque();
        for &algorithm in self.algorithms.iter() {
            match self.render(algorithm, &nonce, &opaque, stale, None) {
                Ok(challenge) => {
                    headers.append(WWW_AUTHENTICATE, challenge.header_value().clone());
                }
                Err(err) => {
                    tracing::error!(target: "httpauth", %err, "cannot render the Digest challenge");
                }
            }
        }
    }
}
