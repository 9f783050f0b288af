//! HTTP Basic authentication (RFC 7617), Flask-HTTPAuth's `HTTPBasicAuth`.
//!
//! The verify-password callback gets the username and password and returns your user type, or
//! `None` to refuse. Handlers read the user with [`CurrentUser`](crate::CurrentUser).
//!
//! ```
//! use axum::{routing::get, Router};
//! use httpauth::{BasicAuth, CurrentUser};
//! # use tower::ServiceExt;
//!
//! #[derive(Clone)]
//! struct User { name: String }
//!
//! let auth = BasicAuth::verify_password(|username: String, password: String| async move {
//!     (username == "john" && password == "hello").then(|| User { name: username })
//! });
//!
//! let app: Router = Router::new().route(
//!     "/",
//!     get(|CurrentUser(user): CurrentUser<User>| async move { format!("Hello, {}!", user.name) })
//!         .route_layer(auth.login_required()),
//! );
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // No credentials: 401 and the challenge.
//! let res = app.clone().oneshot(http::Request::new(axum::body::Body::empty())).await.unwrap();
//! assert_eq!(res.status(), 401);
//! assert_eq!(res.headers()["www-authenticate"], r#"Basic realm="Authentication Required""#);
//!
//! // john:hello
//! let req = http::Request::builder()
//!     .header("authorization", "Basic am9objpoZWxsbw==")
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! let res = app.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), 200);
//! # });
//! ```
//!
//! # Parsing
//!
//! - The scheme word must be `Basic` or the custom [`scheme`](BasicAuth::scheme) name, in any
//!   case. Flask-HTTPAuth ignores the word; we do not, so a `Bearer` token is never read as a
//!   password (deviation).
//! - The credentials must be one RFC 9110 `token68`: canonical, padded base64. Characters
//!   outside the alphabet are refused instead of skipped (deviation: Python's decoder drops
//!   them).
//! - The decoded bytes are split at the **first** colon; the password may contain colons.
//! - Both parts are decoded as UTF-8, or both as Latin-1 when either is not UTF-8 (as
//!   Flask-HTTPAuth 4.7).
//! - A username or password containing a control character is refused (RFC 7617 §2).
//! - Anything refused answers 401 with the challenge, and the callback is not called.
//!
//! # The older callbacks
//!
//! [`BasicAuth::get_password`] returns the stored password for a username; with
//! [`hash_password`](BasicAuth::hash_password) (one argument) or
//! [`hash_password_with_username`](BasicAuth::hash_password_with_username) (two) the client's
//! password is hashed first. The two are compared in constant time; an unknown user still
//! hashes the password, so it costs the same as a wrong one. The user is the username.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use http::header::WWW_AUTHENTICATE;
use http::HeaderMap;
use subtle::ConstantTimeEq;

use crate::auth::Auth;
use crate::callback::{Answer, SyncGetPassword, SyncVerifyPassword};
pub use crate::callback::{GetPassword, VerifyPassword};
use crate::error::{AuthError, ConfigError};
use crate::scheme::header::{self, Payload};
use crate::scheme::Challenge;
use crate::scheme::{AuthFuture, AuthRequest, Identity, Scheme, DEFAULT_REALM};

/// Decoded Basic credentials (what the [`Basic`] scheme parses). `Debug` never shows the
/// password.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    /// `username:password`, decoded: one allocation, no second validation when read.
    text: String,
    /// Where the username ends.
    colon: usize,
}

impl BasicCredentials {
    /// Decodes the token68 that follows `Basic `.
    ///
    /// Refuses non-canonical base64, a missing colon and control characters; decodes UTF-8, or
    /// Latin-1 when either part is not UTF-8.
    ///
    /// # Errors
    ///
    /// Why the token68 is not Basic credentials.
    pub fn decode(token68: &str) -> Result<Self, &'static str> {
        with_decoded(token68.as_bytes(), Self::from_parts)
    }

    fn from_parts(username: &str, password: &str) -> Self {
        let mut text = String::with_capacity(username.len() + 1 + password.len());
        text.push_str(username);
        text.push(':');
        text.push_str(password);
        Self {
            text,
            colon: username.len(),
        }
    }

    /// The user-id.
    #[must_use]
    #[inline]
    pub fn username(&self) -> &str {
        self.text.get(..self.colon).unwrap_or("")
    }

    /// The password.
    #[must_use]
    #[inline]
    pub fn password(&self) -> &str {
        self.text.get(self.colon + 1..).unwrap_or("")
    }
}

/// Credentials that decode to at most this many bytes are decoded on the stack.
const STACK_DECODE: usize = 256;

/// Decodes a Basic token68 and calls `f(username, password)` with borrowed strings: no heap
/// allocation for UTF-8 credentials of ordinary size. What ordinary credentials do not need
/// (a heap buffer, the Latin-1 fallback, the non-ASCII control check) is out of line.
fn with_decoded<R>(token68: &[u8], f: impl FnOnce(&str, &str) -> R) -> Result<R, &'static str> {
    if base64::decoded_len_estimate(token68.len()) > STACK_DECODE {
        return with_decoded_on_heap(token68, f);
    }
    let mut stack = [0_u8; STACK_DECODE];
    let len = base64::engine::general_purpose::STANDARD
        .decode_slice(token68, &mut stack)
        .map_err(|_| "invalid base64")?;
    with_split(&stack[..len], f)
}

#[cold]
#[inline(never)]
fn with_decoded_on_heap<R>(
    token68: &[u8],
    f: impl FnOnce(&str, &str) -> R,
) -> Result<R, &'static str> {
    let heap = base64::engine::general_purpose::STANDARD
        .decode(token68)
        .map_err(|_| "invalid base64")?;
    with_split(&heap, f)
}

/// `user-id ":" password`, as UTF-8 or else Latin-1, without control characters.
fn with_split<R>(bytes: &[u8], f: impl FnOnce(&str, &str) -> R) -> Result<R, &'static str> {
    let colon = bytes
        .iter()
        .position(|&b| b == b':')
        .ok_or("no colon between username and password")?;
    // The common case, printable ASCII (UTF-8 without a control character), in one pass.
    if bytes
        .iter()
        .fold(true, |ok, &b| ok & (0x20..0x7f).contains(&b))
    {
        // ASCII: the colon is a character boundary.
        if let Ok(text) = std::str::from_utf8(bytes) {
            let (username, password) = text.split_at(colon);
            return Ok(f(username, &password[1..]));
        }
    }
    with_text(&bytes[..colon], &bytes[colon + 1..], f)
}

/// Credentials beyond printable ASCII: UTF-8, else Latin-1; refused with a control character.
#[cold]
#[inline(never)]
fn with_text<R>(
    user: &[u8],
    pass: &[u8],
    f: impl FnOnce(&str, &str) -> R,
) -> Result<R, &'static str> {
    let (username, password): (Cow<'_, str>, Cow<'_, str>) =
        match (std::str::from_utf8(user), std::str::from_utf8(pass)) {
            (Ok(u), Ok(p)) => (Cow::Borrowed(u), Cow::Borrowed(p)),
            _ => (Cow::Owned(latin1(user)), Cow::Owned(latin1(pass))),
        };
    if has_control(&username) || has_control(&password) {
        return Err("control character in credentials");
    }
    Ok(f(&username, &password))
}

/// Whether `s` contains a control character (C0, DEL or C1).
fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

impl fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("username", &self.username())
            .field("password", &"<redacted>")
            .finish()
    }
}

type HashOne = Arc<dyn Fn(&str) -> String + Send + Sync>;
type HashTwo = Arc<dyn Fn(&str, &str) -> String + Send + Sync>;

#[derive(Clone)]
enum HashPassword {
    None,
    One(HashOne),
    WithUsername(HashTwo),
}

impl HashPassword {
    /// Hashes the client's password (also for an unknown user, so that costs the same as a
    /// wrong password) and compares it with the stored one in constant time.
    fn matches(&self, username: &str, password: &str, stored: Option<&str>) -> bool {
        let offered = match self {
            Self::None => None,
            Self::One(h) => Some(h(password)),
            Self::WithUsername(h) => Some(h(username, password)),
        };
        let offered = offered.as_deref().unwrap_or(password);
        stored.is_some_and(|stored| bool::from(stored.as_bytes().ct_eq(offered.as_bytes())))
    }

    /// Whether [`matches`](Self::matches) runs the application's hash on Tokio's blocking pool
    /// (a hash callback is set, the `password` feature gives Tokio, and a runtime is running)
    /// rather than inline on the executor.
    fn runs_off_executor(&self) -> bool {
        #[cfg(feature = "password")]
        {
            !matches!(self, Self::None) && tokio::runtime::Handle::try_current().is_ok()
        }
        #[cfg(not(feature = "password"))]
        {
            false
        }
    }

    /// [`matches`](Self::matches), on the blocking pool when
    /// [`runs_off_executor`](Self::runs_off_executor); the username when it matches.
    async fn matches_off_executor(
        self,
        username: String,
        password: String,
        stored: Option<String>,
    ) -> Option<String> {
        #[cfg(feature = "password")]
        if self.runs_off_executor() {
            return tokio::task::spawn_blocking(move || {
                self.matches(&username, &password, stored.as_deref())
                    .then_some(username)
            })
            .await
            .ok()
            .flatten();
        }
        self.matches(&username, &password, stored.as_deref())
            .then_some(username)
    }
}

/// Flask-HTTPAuth's deprecated get-password (+ hash-password) path as a verifier.
#[derive(Clone)]
struct StoredPassword {
    get: Arc<dyn GetPassword>,
    hash: HashPassword,
}

impl VerifyPassword for StoredPassword {
    type User = String;

    fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> AuthFuture<Result<Option<String>, AuthError>> {
        if username.is_empty() {
            // Flask-HTTPAuth never looks up an empty username.
            return AuthFuture::ready(Ok(None));
        }
        let stored = self.get.get_password(username).into_ready();
        if !self.hash.runs_off_executor() {
            if let Ok(stored) = stored {
                return AuthFuture::ready(stored.map(|stored| {
                    self.hash
                        .matches(username, password, stored.as_deref())
                        .then(|| username.to_owned())
                }));
            }
        }
        let hash = self.hash.clone();
        let (username, password) = (username.to_owned(), password.to_owned());
        AuthFuture::new(async move {
            let stored = match stored {
                Ok(stored) => stored?,
                Err(pending) => pending.await?,
            };
            Ok(hash.matches_off_executor(username, password, stored).await)
        })
    }
}

/// The Basic scheme: what [`BasicAuth`] wraps. See the [module docs](self).
pub struct Basic<U> {
    scheme: Arc<str>,
    realm: Arc<str>,
    charset: bool,
    challenge: Challenge,
    verify: Arc<dyn VerifyPassword<User = U>>,
    stored: Option<StoredPassword>,
}

/// HTTP Basic authentication: [`Auth`] over the [`Basic`] scheme. See the [module docs](self).
pub type BasicAuth<U = String> = Auth<Basic<U>>;

impl<U> Clone for Basic<U> {
    fn clone(&self) -> Self {
        Self {
            scheme: self.scheme.clone(),
            realm: self.realm.clone(),
            charset: self.charset,
            challenge: self.challenge.clone(),
            verify: self.verify.clone(),
            stored: self.stored.clone(),
        }
    }
}

impl<U> fmt::Debug for Basic<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Basic")
            .field("scheme", &self.scheme)
            .field("realm", &self.realm)
            .field("charset_utf8", &self.charset)
            .finish_non_exhaustive()
    }
}

impl<U: Clone + Send + Sync + 'static> Auth<Basic<U>> {
    /// Basic auth whose verify-password callback returns the user (async closure
    /// `Fn(String, String) -> impl Future<Output = Option<U>>`, or a [`VerifyPassword`] impl
    /// such as [`HashedPasswords`](crate::password::HashedPasswords)).
    #[must_use]
    pub fn verify_password<V>(verify: V) -> Self
    where
        V: VerifyPassword<User = U>,
    {
        Self::from_scheme(Basic::new(Arc::new(verify), None))
    }

    /// Users whose hashes live in your own store (a database), in one call: `lookup` gives
    /// the stored hash and your user for a (canonical) username, `None`, or an error; the
    /// library verifies on the bounded pool, equalizes unknown users, caches successes and
    /// answers 503 on a lookup error (see [`HashLookup`](crate::password::HashLookup), which
    /// this wraps with its defaults).
    ///
    /// ```
    /// use httpauth::{AuthError, BasicAuth};
    /// # use httpauth::password::Params;
    /// # let hash = Params::new(1024, 1, 1).unwrap().hash("hello");
    /// # #[derive(Clone)] struct Db; impl Db { async fn user(&self, _n: &str) -> Result<Option<(String, String)>, std::io::Error> { Ok(None) } }
    /// # let db = Db;
    /// let auth = BasicAuth::lookup_hash(move |name: String| {
    ///     let db = db.clone();
    ///     async move { db.user(&name).await.map_err(AuthError::backend) }
    /// });
    /// ```
    #[cfg(feature = "password")]
    #[cfg_attr(docsrs, doc(cfg(feature = "password")))]
    pub fn lookup_hash<F, Fut, A>(lookup: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = A> + Send + 'static,
        A: Answer<Value = (String, U)>,
    {
        Self::verify_password(crate::password::HashLookup::new(lookup))
    }

    /// Basic auth with a plain verify-password function `Fn(&str, &str) -> Option<U>` (it
    /// answers at once, so the layer decides inline).
    ///
    /// It runs on the async executor: keep it cheap. Verify slow password hashes through a
    /// store ([`HashedPasswords`](crate::password::HashedPasswords)) or in the async form.
    #[must_use]
    pub fn verify_password_sync<F, A>(verify: F) -> Self
    where
        F: Fn(&str, &str) -> A + Send + Sync + 'static,
        A: Answer<Value = U>,
    {
        Self::verify_password(SyncVerifyPassword(verify))
    }

    /// Sends the challenge under another scheme name (Flask-HTTPAuth's `scheme=`). Used to
    /// keep browsers from showing their login dialog. Credentials are accepted under this name
    /// and under `Basic`.
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
        self.map_scheme(|b| {
            b.challenge = render(scheme, &b.realm, b.charset)?;
            b.scheme = Arc::from(scheme);
            Ok(())
        })
    }

    /// Adds `charset="UTF-8"` to the challenge (RFC 7617 §2.1), telling clients to send UTF-8.
    #[must_use]
    pub fn charset_utf8(mut self) -> Self {
        let b = &mut self.kind;
        if let Ok(challenge) = render(&b.scheme, &b.realm, true) {
            b.challenge = challenge;
            b.charset = true;
        }
        self
    }
}

impl Auth<Basic<String>> {
    /// Basic auth over Flask-HTTPAuth's older get-password callback (async closure
    /// `Fn(String) -> impl Future<Output = Option<String>>` or a [`GetPassword`] impl): access
    /// is granted when the stored password equals the client's (after
    /// [`hash_password`](Self::hash_password), when set), compared in constant time. The user
    /// is the username.
    #[must_use]
    pub fn get_password<G: GetPassword>(get: G) -> Self {
        Self::stored(Arc::new(get))
    }

    /// [`get_password`](Self::get_password) with a plain function.
    #[must_use]
    pub fn get_password_sync<F, A>(get: F) -> Self
    where
        F: Fn(&str) -> A + Send + Sync + 'static,
        A: Answer<Value = String>,
    {
        Self::stored(Arc::new(SyncGetPassword(get)))
    }

    fn stored(get: Arc<dyn GetPassword>) -> Self {
        let stored = StoredPassword {
            get,
            hash: HashPassword::None,
        };
        Self::from_scheme(Basic::new(Arc::new(stored.clone()), Some(stored)))
    }

    /// Hashes the client's password with `hash(password)` before comparing it with the stored
    /// one (Flask-HTTPAuth's one-argument `hash_password`).
    ///
    /// The hash runs on Tokio's blocking pool (`spawn_blocking`) when the `password` feature
    /// is on and a Tokio runtime is running, so a slow hash does not stall the executor;
    /// otherwise inline, on the executor: keep it cheap then. The blocking pool is not bounded
    /// like [`HashPool`](crate::password::HashPool): prefer a password store for slow hashes.
    ///
    /// # Panics
    ///
    /// If this auth was not built with [`get_password`](Self::get_password); see
    /// [`try_hash_password`](Self::try_hash_password).
    #[must_use]
    pub fn hash_password<F>(self, hash: F) -> Self
    where
        F: Fn(&str) -> String + Send + Sync + 'static,
    {
        self.with_hash(HashPassword::One(Arc::new(hash)))
            .unwrap_or_else(|err| panic!("httpauth: {err}"))
    }

    /// Like [`hash_password`](Self::hash_password), returning an error instead of panicking.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when this auth was not built with `get_password`.
    pub fn try_hash_password<F>(self, hash: F) -> Result<Self, ConfigError>
    where
        F: Fn(&str) -> String + Send + Sync + 'static,
    {
        self.with_hash(HashPassword::One(Arc::new(hash)))
    }

    /// Hashes with `hash(username, password)` (Flask-HTTPAuth's two-argument form, for
    /// per-user salts). Runs where [`hash_password`](Self::hash_password)'s hash runs.
    ///
    /// # Panics
    ///
    /// If this auth was not built with [`get_password`](Self::get_password).
    #[must_use]
    pub fn hash_password_with_username<F>(self, hash: F) -> Self
    where
        F: Fn(&str, &str) -> String + Send + Sync + 'static,
    {
        self.with_hash(HashPassword::WithUsername(Arc::new(hash)))
            .unwrap_or_else(|err| panic!("httpauth: {err}"))
    }

    fn with_hash(self, hash: HashPassword) -> Result<Self, ConfigError> {
        self.map_scheme(|b| {
            let Some(stored) = &mut b.stored else {
                return Err(ConfigError::Invalid {
                    setting: "hash_password",
                    reason: "needs an auth built with BasicAuth::get_password",
                });
            };
            stored.hash = hash;
            b.verify = Arc::new(stored.clone());
            Ok(())
        })
    }
}

impl<U: Clone + Send + Sync + 'static> Basic<U> {
    fn new(verify: Arc<dyn VerifyPassword<User = U>>, stored: Option<StoredPassword>) -> Self {
        let (scheme, realm) = ("Basic", DEFAULT_REALM);
        Self {
            // "Basic" and the default realm always render.
            challenge: render(scheme, realm, false).unwrap_or_else(|_| unreachable!()),
            scheme: Arc::from(scheme),
            realm: Arc::from(realm),
            charset: false,
            verify,
            stored,
        }
    }

    /// The scheme words this auth takes: its own name, and `Basic` when that is another.
    fn names(&self) -> (&str, Option<&str>) {
        let own: &str = &self.scheme;
        (own, (own != "Basic").then_some("Basic"))
    }

    /// Whether `takes` holds for one of the [names](Self::names).
    fn any_name(&self, takes: impl Fn(&str) -> bool) -> bool {
        let (own, other) = self.names();
        takes(own) || other.is_some_and(takes)
    }

    fn accepts(&self, scheme: &[u8]) -> bool {
        self.any_name(|name| header::same_scheme(scheme, name.as_bytes()))
    }

    /// The token68 of a request this auth claims.
    fn token68<'h>(&self, req: &AuthRequest<'h>) -> Result<&'h [u8], AuthError> {
        let value = req.authorization().ok_or_else(AuthError::missing)?;
        let (own, other) = self.names();
        let canonical = header::token68_after(value, own.as_bytes())
            .or_else(|| header::token68_after(value, other?.as_bytes()));
        if let Some(token) = canonical {
            return Ok(token);
        }
        let creds = header::parse(value).map_err(|e| AuthError::malformed(e.as_str()))?;
        if !self.accepts(creds.scheme().as_bytes()) {
            return Err(AuthError::missing());
        }
        match creds.into_payload() {
            Payload::Token68(token) => Ok(token.as_bytes()),
            Payload::Empty => Err(AuthError::malformed("no credentials after the scheme")),
            Payload::Params(_) => Err(AuthError::malformed("credentials are not token68")),
        }
    }
}

fn render(scheme: &str, realm: &str, charset: bool) -> Result<Challenge, ConfigError> {
    let builder = Challenge::builder(scheme)?.quoted("realm", realm)?;
    if charset {
        builder.quoted("charset", "UTF-8")?.build()
    } else {
        builder.build()
    }
}

impl<U: Clone + Send + Sync + 'static> Scheme for Basic<U> {
    type User = U;
    type Credentials = BasicCredentials;

    fn name(&self) -> &str {
        &self.scheme
    }

    fn claims(&self, req: &AuthRequest<'_>) -> bool {
        self.any_name(|name| req.authorization_scheme_is(name))
    }

    #[inline]
    fn parse(&self, req: &AuthRequest<'_>) -> Result<BasicCredentials, AuthError> {
        let token = self.token68(req)?;
        with_decoded(token, BasicCredentials::from_parts).map_err(AuthError::malformed)
    }

    #[inline]
    fn username<'c>(&self, creds: &'c BasicCredentials) -> Option<&'c str> {
        Some(creds.username())
    }

    #[inline]
    fn verify(
        &self,
        creds: BasicCredentials,
        username: Option<&str>,
        _req: &AuthRequest<'_>,
    ) -> AuthFuture<Result<Identity<U>, AuthError>> {
        let username = username.unwrap_or_else(|| creds.username());
        self.verify
            .verify_password(username, creds.password())
            .map(|user| {
                user?
                    .map(|user| Identity::new(user, None))
                    .ok_or_else(AuthError::invalid)
            })
    }

    fn set_realm(&mut self, realm: &str) -> Result<(), ConfigError> {
        self.challenge = render(&self.scheme, realm, self.charset)?;
        self.realm = Arc::from(realm);
        Ok(())
    }

    fn challenge(&self, _err: &AuthError, headers: &mut HeaderMap) {
        headers.append(WWW_AUTHENTICATE, self.challenge.header_value().clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    fn b64(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    #[test]
    fn decode_cases() {
        let c = BasicCredentials::decode(&b64(b"colon:a:b")).unwrap();
        assert_eq!((c.username(), c.password()), ("colon", "a:b"));
        let c = BasicCredentials::decode(&b64(b"john:")).unwrap();
        assert_eq!((c.username(), c.password()), ("john", ""));
        let c = BasicCredentials::decode(&b64(b":")).unwrap();
        assert_eq!((c.username(), c.password()), ("", ""));
        let c = BasicCredentials::decode(&b64("garçon:áéíóú".as_bytes())).unwrap();
        assert_eq!((c.username(), c.password()), ("garçon", "áéíóú"));
        // Latin-1 encoded
        let c = BasicCredentials::decode(&b64(b"gar\xe7on:\xe1\xe9\xed\xf3\xfa")).unwrap();
        assert_eq!((c.username(), c.password()), ("garçon", "áéíóú"));
        // UTF-8 user + Latin-1 password: both Latin-1
        let c = BasicCredentials::decode(&b64(b"gar\xc3\xa7on:\xe1")).unwrap();
        assert_eq!((c.username(), c.password()), ("garÃ§on", "á"));
        // Flask-HTTPAuth's suite's malformed value: Latin-1 fallback, C1 control refused.
        assert!(BasicCredentials::decode("eyJhbGciOieyJp==").is_err());
    }

    #[test]
    fn decode_refusals() {
        assert_eq!(
            BasicCredentials::decode(&b64(b"johnhello")),
            Err("no colon between username and password")
        );
        assert_eq!(
            BasicCredentials::decode("am9objpoZWxsbw"),
            Err("invalid base64")
        );
        assert_eq!(BasicCredentials::decode("!!!!"), Err("invalid base64"));
        assert_eq!(
            BasicCredentials::decode(&b64(b"jo\nhn:x")),
            Err("control character in credentials")
        );
        assert_eq!(
            BasicCredentials::decode(&b64(b"john:x\x00")),
            Err("control character in credentials")
        );
        assert_eq!(
            BasicCredentials::decode(&b64(b"john:x\x7f")),
            Err("control character in credentials")
        );
    }

    #[cfg(feature = "password")]
    #[test]
    fn hash_password_runs_off_the_executor() {
        use std::sync::Mutex;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let stored = StoredPassword {
            get: Arc::new(SyncGetPassword(|_: &str| Some("HASHED".to_owned()))),
            hash: HashPassword::One(Arc::new(move |pw: &str| {
                record.lock().unwrap().push(std::thread::current().id());
                pw.to_uppercase()
            })),
        };
        // No runtime: inline, on the calling thread.
        let me = std::thread::current().id();
        let answer = stored.verify_password("john", "hashed").into_ready();
        assert_eq!(
            answer.ok().and_then(Result::ok).flatten().as_deref(),
            Some("john")
        );
        // In a runtime: on the blocking pool, not on the executor's thread.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let answer = stored.verify_password("john", "hashed").await;
            assert_eq!(answer.unwrap().as_deref(), Some("john"));
            assert_eq!(stored.verify_password("john", "nope").await, Ok(None));
        });
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0], me);
        assert!(seen[1..].iter().all(|id| *id != me), "{seen:?}");
    }

    #[test]
    fn debug_hides_password() {
        let c = BasicCredentials::decode(&b64(b"john:s3cret")).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
