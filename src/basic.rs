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
use std::future::Future;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, Response};
use subtle::ConstantTimeEq;

use crate::challenge::Challenge;
use crate::error::{AuthError, ConfigError};
use crate::header::{self, Payload};
use crate::roles::Roles;
use crate::scheme::{
    common_builder_methods, scheme_name_methods, AuthFuture, AuthRequest, Callback, Common,
    Identity, Scheme,
};

/// Decoded Basic credentials. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    username: String,
    password: String,
}

impl BasicCredentials {
    /// Decodes the token68 that follows `Basic `.
    ///
    /// Refuses non-canonical base64, a missing colon and control characters; decodes UTF-8, or
    /// Latin-1 when either part is not UTF-8.
    pub fn decode(token68: &str) -> Result<Self, &'static str> {
        with_decoded(token68, |username, password| Self {
            username: username.to_owned(),
            password: password.to_owned(),
        })
    }

    /// The user-id.
    #[must_use]
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password.
    #[must_use]
    pub fn password(&self) -> &str {
        &self.password
    }
}

/// Credentials that decode to at most this many bytes are decoded on the stack.
const STACK_DECODE: usize = 256;

/// Decodes a Basic token68 and calls `f(username, password)` with borrowed strings: no heap
/// allocation for UTF-8 credentials of ordinary size.
fn with_decoded<R>(token68: &str, f: impl FnOnce(&str, &str) -> R) -> Result<R, &'static str> {
    let engine = &base64::engine::general_purpose::STANDARD;
    let mut stack = [0_u8; STACK_DECODE];
    let heap;
    let bytes: &[u8] = if base64::decoded_len_estimate(token68.len()) <= STACK_DECODE {
        let len = engine
            .decode_slice(token68, &mut stack)
            .map_err(|_| "invalid base64")?;
        &stack[..len]
    } else {
        heap = engine.decode(token68).map_err(|_| "invalid base64")?;
        &heap
    };
    let colon = bytes
        .iter()
        .position(|&b| b == b':')
        .ok_or("no colon between username and password")?;
    let (user, pass) = (&bytes[..colon], &bytes[colon + 1..]);
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

/// Whether `s` contains a control character (C0, DEL or C1), with an ASCII fast path.
fn has_control(s: &str) -> bool {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return false;
    }
    s.chars().any(char::is_control)
}

/// Decodes the credentials onto the stack and asks `check` (`None`: it cannot answer now); the
/// only allocation is the username kept for the handler.
fn identify<U>(
    token68: &str,
    check: impl FnOnce(&str, &str) -> Option<Option<U>>,
) -> Option<Result<Identity<U>, AuthError>> {
    let answer = with_decoded(token68, |username, password| {
        let user = check(username, password)?;
        Some(
            user.map(|user| Identity::new(user, Some(username.to_owned())))
                .ok_or_else(AuthError::invalid),
        )
    });
    match answer {
        Ok(answer) => answer,
        Err(detail) => Some(Err(AuthError::malformed(detail))),
    }
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

impl fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The verify-password callback.
///
/// Implemented for async closures `Fn(String, String) -> impl Future<Output = Option<User>>`
/// (username, password); sync closures go through [`BasicAuth::verify_password_sync`].
pub trait VerifyPassword: Send + Sync + 'static {
    /// The application's user type.
    type User: Clone + Send + Sync + 'static;

    /// The answer without waiting, when there is one (e.g. a cache hit): `Some(user or None)`.
    /// `None` means "await [`verify_password`](Self::verify_password)", which is then called
    /// with the same credentials; it must leave nothing done that matters. Default: `None`.
    fn verify_password_now(&self, username: &str, password: &str) -> Option<Option<Self::User>> {
        let _ = (username, password);
        None
    }

    /// The user these credentials belong to, or `None`.
    fn verify_password<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> AuthFuture<'a, Option<Self::User>>;
}

impl<F, Fut, U> VerifyPassword for F
where
    F: Fn(String, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<U>> + Send + 'static,
    U: Clone + Send + Sync + 'static,
{
    type User = U;

    fn verify_password<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> AuthFuture<'a, Option<U>> {
        AuthFuture::new(self(username.to_owned(), password.to_owned()))
    }
}

type SyncVerifyFn<U> = dyn Fn(&str, &str) -> Option<U> + Send + Sync;

/// A sync verifier is called inline (no allocation); an async one is awaited.
type Verifier<U> = Callback<SyncVerifyFn<U>, dyn VerifyPassword<User = U>>;

/// The get-password callback: the stored password (or hash) for a username.
///
/// Implemented for async closures `Fn(String) -> impl Future<Output = Option<String>>`; sync
/// closures go through [`BasicAuth::get_password_sync`].
pub trait GetPassword: Send + Sync + 'static {
    /// The stored password of `username`, or `None` for an unknown user.
    fn get_password<'a>(&'a self, username: &'a str) -> AuthFuture<'a, Option<String>>;
}

impl<F, Fut> GetPassword for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<String>> + Send + 'static,
{
    fn get_password<'a>(&'a self, username: &'a str) -> AuthFuture<'a, Option<String>> {
        AuthFuture::new(self(username.to_owned()))
    }
}

struct SyncGetPassword<F>(F);

impl<F> GetPassword for SyncGetPassword<F>
where
    F: Fn(&str) -> Option<String> + Send + Sync + 'static,
{
    fn get_password<'a>(&'a self, username: &'a str) -> AuthFuture<'a, Option<String>> {
        AuthFuture::ready((self.0)(username))
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

/// Flask-HTTPAuth's deprecated get-password (+ hash-password) path as a verifier.
#[derive(Clone)]
struct StoredPassword {
    get: Arc<dyn GetPassword>,
    hash: HashPassword,
}

impl VerifyPassword for StoredPassword {
    type User = String;

    fn verify_password<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> AuthFuture<'a, Option<String>> {
        if username.is_empty() {
            // Flask-HTTPAuth never looks up an empty username.
            return AuthFuture::ready(None);
        }
        let stored = self.get.get_password(username);
        AuthFuture::new(async move {
            let stored = stored.await;
            // Hash even for an unknown user, so that costs the same as a wrong password.
            let offered = match &self.hash {
                HashPassword::None => None,
                HashPassword::One(h) => Some(h(password)),
                HashPassword::WithUsername(h) => Some(h(username, password)),
            };
            let offered = offered.as_deref().unwrap_or(password);
            let stored = stored?;
            bool::from(stored.as_bytes().ct_eq(offered.as_bytes())).then(|| username.to_owned())
        })
    }
}

/// HTTP Basic authentication. See the [module docs](self).
pub struct BasicAuth<U> {
    common: Common<U>,
    scheme: Arc<str>,
    charset: bool,
    challenge: Challenge,
    verify: Verifier<U>,
    stored: Option<StoredPassword>,
}

impl<U> Clone for BasicAuth<U> {
    fn clone(&self) -> Self {
        Self {
            common: self.common.clone(),
            scheme: self.scheme.clone(),
            charset: self.charset,
            challenge: self.challenge.clone(),
            verify: self.verify.clone(),
            stored: self.stored.clone(),
        }
    }
}

impl<U> fmt::Debug for BasicAuth<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("scheme", &self.scheme)
            .field("realm", &self.common.realm)
            .field("charset_utf8", &self.charset)
            .finish_non_exhaustive()
    }
}

impl<U: Clone + Send + Sync + 'static> BasicAuth<U> {
    /// Basic auth whose verify-password callback returns the user (async closure
    /// `Fn(String, String) -> impl Future<Output = Option<U>>`, or a [`VerifyPassword`] impl).
    #[must_use]
    pub fn verify_password<V>(verify: V) -> Self
    where
        V: VerifyPassword<User = U>,
    {
        Self::with_verifier(Verifier::Async(Arc::new(verify)), None)
    }

    /// Basic auth with a synchronous verify-password callback `Fn(&str, &str) -> Option<U>`.
    ///
    /// It runs on the async executor: keep it cheap. Verify slow password hashes in the async
    /// form, inside `tokio::task::spawn_blocking`.
    #[must_use]
    pub fn verify_password_sync<F>(verify: F) -> Self
    where
        F: Fn(&str, &str) -> Option<U> + Send + Sync + 'static,
    {
        Self::with_verifier(Verifier::Sync(Arc::new(verify)), None)
    }

    fn with_verifier(verify: Verifier<U>, stored: Option<StoredPassword>) -> Self {
        let scheme: Arc<str> = Arc::from("Basic");
        let common = Common::new();
        let challenge =
            render(&scheme, &common.realm, false).unwrap_or_else(|_| unreachable_challenge());
        Self {
            common,
            scheme,
            charset: false,
            challenge,
            verify,
            stored,
        }
    }

    common_builder_methods!(U);

    scheme_name_methods!(
        "Used to keep browsers from showing their login dialog. Credentials are accepted under this name and under `Basic`."
    );

    /// Adds `charset="UTF-8"` to the challenge (RFC 7617 §2.1), telling clients to send UTF-8.
    #[must_use]
    pub fn charset_utf8(mut self) -> Self {
        self.charset = true;
        if let Ok(challenge) = render(&self.scheme, &self.common.realm, true) {
            self.challenge = challenge;
        }
        self
    }

    fn rebuild(&mut self) -> Result<(), ConfigError> {
        self.challenge = render(&self.scheme, &self.common.realm, self.charset)?;
        Ok(())
    }

    fn accepts(&self, scheme: &[u8]) -> bool {
        scheme.eq_ignore_ascii_case(b"Basic") || scheme.eq_ignore_ascii_case(self.scheme.as_bytes())
    }

    /// The token68 of a request this auth claims.
    fn token68<'h>(&self, req: &AuthRequest<'h>) -> Result<&'h str, AuthError> {
        let value = req.authorization().ok_or_else(AuthError::missing)?;
        let creds =
            header::parse(value.as_bytes()).map_err(|e| AuthError::malformed(e.as_str()))?;
        if !self.accepts(creds.scheme().as_bytes()) {
            return Err(AuthError::missing());
        }
        match creds.into_payload() {
            Payload::Token68(token) => Ok(token),
            Payload::Empty => Err(AuthError::malformed("no credentials after the scheme")),
            Payload::Params(_) => Err(AuthError::malformed("credentials are not token68")),
        }
    }
}

impl BasicAuth<String> {
    /// Basic auth over Flask-HTTPAuth's older get-password callback (async closure
    /// `Fn(String) -> impl Future<Output = Option<String>>` or a [`GetPassword`] impl): access
    /// is granted when the stored password equals the client's (after
    /// [`hash_password`](Self::hash_password), when set), compared in constant time. The user
    /// is the username.
    #[must_use]
    pub fn get_password<G: GetPassword>(get: G) -> Self {
        Self::stored(Arc::new(get))
    }

    /// [`get_password`](Self::get_password) with a synchronous callback.
    #[must_use]
    pub fn get_password_sync<F>(get: F) -> Self
    where
        F: Fn(&str) -> Option<String> + Send + Sync + 'static,
    {
        Self::stored(Arc::new(SyncGetPassword(get)))
    }

    fn stored(get: Arc<dyn GetPassword>) -> Self {
        let stored = StoredPassword {
            get,
            hash: HashPassword::None,
        };
        Self::with_verifier(Verifier::Async(Arc::new(stored.clone())), Some(stored))
    }

    /// Hashes the client's password with `hash(password)` before comparing it with the stored
    /// one (Flask-HTTPAuth's one-argument `hash_password`).
    ///
    /// # Panics
    ///
    /// If this auth was not built with [`get_password`](Self::get_password).
    #[must_use]
    pub fn hash_password<F>(self, hash: F) -> Self
    where
        F: Fn(&str) -> String + Send + Sync + 'static,
    {
        self.with_hash(HashPassword::One(Arc::new(hash)))
    }

    /// Hashes with `hash(username, password)` (Flask-HTTPAuth's two-argument form, for
    /// per-user salts).
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
    }

    fn with_hash(mut self, hash: HashPassword) -> Self {
        let Some(mut stored) = self.stored.take() else {
            panic!("httpauth: hash_password needs an auth built with BasicAuth::get_password");
        };
        stored.hash = hash;
        self.verify = Verifier::Async(Arc::new(stored.clone()));
        self.stored = Some(stored);
        self
    }
}

fn render(scheme: &str, realm: &str, charset: bool) -> Result<Challenge, ConfigError> {
    let builder = Challenge::builder(scheme)?.quoted("realm", realm)?;
    Ok(if charset {
        builder.quoted("charset", "UTF-8")?
    } else {
        builder
    }
    .build())
}

fn unreachable_challenge() -> Challenge {
    // "Basic" and the default realm are always valid.
    Challenge::with_realm("Basic", crate::scheme::DEFAULT_REALM).unwrap_or_else(|_| unreachable!())
}

impl<U: Clone + Send + Sync + 'static> Scheme for BasicAuth<U> {
    type User = U;

    fn name(&self) -> &str {
        &self.scheme
    }

    fn claims(&self, req: &AuthRequest<'_>) -> bool {
        req.authorization_scheme().is_some_and(|s| self.accepts(s))
    }

    fn authenticate_now(&self, req: AuthRequest<'_>) -> Option<Result<Identity<U>, AuthError>> {
        let token = match self.token68(&req) {
            Ok(token) => token,
            Err(err) => return Some(Err(err)),
        };
        match &self.verify {
            Callback::Sync(verify) => identify(token, |u, p| Some(verify(u, p))),
            Callback::Async(verify) => identify(token, |u, p| verify.verify_password_now(u, p)),
        }
    }

    fn authenticate<'a>(
        &'a self,
        req: AuthRequest<'a>,
    ) -> AuthFuture<'a, Result<Identity<U>, AuthError>> {
        let token = match self.token68(&req) {
            Ok(token) => token,
            Err(err) => return AuthFuture::ready(Err(err)),
        };
        let verify = match &self.verify {
            Callback::Sync(verify) => {
                let answer = identify(token, |u, p| Some(verify(u, p)));
                return AuthFuture::ready(answer.unwrap_or_else(|| Err(AuthError::invalid())));
            }
            // The slow path: `verify_password_now` was (or may be) asked already by the
            // adapter's fast path; it is not asked twice.
            Callback::Async(verify) => verify,
        };
        let creds = match BasicCredentials::decode(token) {
            Ok(creds) => creds,
            Err(detail) => return AuthFuture::ready(Err(AuthError::malformed(detail))),
        };
        AuthFuture::new(async move {
            let user = verify
                .verify_password(&creds.username, &creds.password)
                .await;
            let username = creds.username;
            user.map(|user| Identity::new(user, Some(username)))
                .ok_or_else(AuthError::invalid)
        })
    }

    fn has_user_roles(&self) -> bool {
        self.common.roles.is_some()
    }

    fn user_roles<'a>(&'a self, user: &'a U) -> AuthFuture<'a, Roles> {
        self.common.user_roles(user)
    }

    fn user_roles_now(&self, user: &U) -> Option<Roles> {
        self.common.user_roles_now(user)
    }

    fn challenge(&self, _err: &AuthError, headers: &mut HeaderMap) {
        headers.append(WWW_AUTHENTICATE, self.challenge.header_value().clone());
    }

    fn error_response(&self, err: &AuthError) -> Response<Bytes> {
        self.common.error_response(err)
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
        // The seed suite's malformed value: Latin-1 fallback, C1 control refused.
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

    #[test]
    fn debug_hides_password() {
        let c = BasicCredentials::decode(&b64(b"john:s3cret")).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
