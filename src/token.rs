//! Token authentication: `Authorization: Bearer <token>` (or any scheme name), or a token in a
//! custom header such as `X-API-Key` (Flask-HTTPAuth's `HTTPTokenAuth`).
//!
//! ```
//! use axum::{routing::get, Router};
//! use httpauth::{CurrentUser, TokenAuth};
//! # use tower::ServiceExt;
//!
//! let auth = TokenAuth::verify_token(|token: String| async move {
//!     (token == "secret-token-1").then(|| "john".to_owned())
//! });
//! let app: Router = Router::new().route(
//!     "/",
//!     get(|CurrentUser(user): CurrentUser<String>| async move { format!("Hello, {user}!") })
//!         .route_layer(auth.login_required()),
//! );
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let res = app.clone().oneshot(http::Request::new(axum::body::Body::empty())).await.unwrap();
//! assert_eq!(res.status(), 401);
//! assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="Authentication Required""#);
//!
//! let req = http::Request::builder()
//!     .header("authorization", "bearer secret-token-1") // the scheme ignores case
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! assert_eq!(app.oneshot(req).await.unwrap().status(), 200);
//! # });
//! ```
//!
//! # Rules
//!
//! - `Authorization`: the scheme word is compared ignoring case; the token must be one RFC 9110
//!   `token68` (no spaces, `=` only as trailing padding). Flask-HTTPAuth passes `a b c` through
//!   and `a=b` as `None`; we refuse both with 401 without calling the callback (deviation).
//! - Custom header ([`header`](TokenAuth::header)): the whole value is the token;
//!   `Authorization` is ignored; the 401 still carries the `<scheme> realm="..."` challenge.
//!   The header must be visible ASCII (spaces allowed inside). A response authenticated this way
//!   gets `Cache-Control: private` unless the handler set its own: shared caches only protect
//!   `Authorization` (RFC 9111 §3.5).
//! - An empty or missing token never reaches the callback (401), as Flask-HTTPAuth 4.8.1.
//! - The token header sent twice is ambiguous: 400.
//! - [`rfc6750_errors`](TokenAuth::rfc6750_errors) (opt-in) adds RFC 6750 §3.1 error
//!   attributes: `invalid_token` (401), `invalid_request` (400), `insufficient_scope` (403,
//!   with [`scope`](TokenAuth::scope)), and an `error_description`; never an error attribute
//!   when the request carried no credentials. By default the challenge stays Flask-HTTPAuth's
//!   `<scheme> realm="..."`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, Response};

use crate::challenge::Challenge;
use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::header::{self, Payload, MAX_CREDENTIALS_LEN};
use crate::roles::Roles;
use crate::scheme::{
    common_builder_methods, scheme_name_methods, AuthFuture, AuthRequest, Callback, Common,
    Identity, Scheme,
};

/// The verify-token callback.
///
/// Implemented for async closures `Fn(String) -> impl Future<Output = Option<User>>`; sync
/// closures go through [`TokenAuth::verify_token_sync`].
pub trait VerifyToken: Send + Sync + 'static {
    /// The application's user type.
    type User: Clone + Send + Sync + 'static;

    /// The answer without waiting, when there is one (e.g. a cache hit): `Some(user or None)`.
    /// `None` means "await [`verify_token`](Self::verify_token)", which is then called with the
    /// same token; it must leave nothing done that matters. Default: `None`.
    fn verify_token_now(&self, token: &str) -> Option<Option<Self::User>> {
        let _ = token;
        None
    }

    /// The user this token belongs to, or `None`.
    fn verify_token<'a>(&'a self, token: &'a str) -> AuthFuture<'a, Option<Self::User>>;
}

impl<F, Fut, U> VerifyToken for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<U>> + Send + 'static,
    U: Clone + Send + Sync + 'static,
{
    type User = U;

    fn verify_token<'a>(&'a self, token: &'a str) -> AuthFuture<'a, Option<U>> {
        AuthFuture::new(self(token.to_owned()))
    }
}

type SyncVerifyFn<U> = dyn Fn(&str) -> Option<U> + Send + Sync;

type Verifier<U> = Callback<SyncVerifyFn<U>, dyn VerifyToken<User = U>>;

/// Token authentication. See the [module docs](self).
pub struct TokenAuth<U> {
    common: Common<U>,
    scheme: Arc<str>,
    header: Option<HeaderName>,
    rfc6750: bool,
    scope: Option<Arc<str>>,
    challenge: Challenge,
    verify: Verifier<U>,
}

impl<U> Clone for TokenAuth<U> {
    fn clone(&self) -> Self {
        Self {
            common: self.common.clone(),
            scheme: self.scheme.clone(),
            header: self.header.clone(),
            rfc6750: self.rfc6750,
            scope: self.scope.clone(),
            challenge: self.challenge.clone(),
            verify: self.verify.clone(),
        }
    }
}

impl<U> fmt::Debug for TokenAuth<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAuth")
            .field("scheme", &self.scheme)
            .field("realm", &self.common.realm)
            .field("header", &self.header)
            .field("rfc6750_errors", &self.rfc6750)
            .finish_non_exhaustive()
    }
}

impl<U: Clone + Send + Sync + 'static> TokenAuth<U> {
    /// Token auth whose verify-token callback returns the user (async closure
    /// `Fn(String) -> impl Future<Output = Option<U>>`, or a [`VerifyToken`] impl).
    #[must_use]
    pub fn verify_token<V>(verify: V) -> Self
    where
        V: VerifyToken<User = U>,
    {
        Self::with_verifier(Verifier::Async(Arc::new(verify)))
    }

    /// Token auth with a synchronous verify-token callback `Fn(&str) -> Option<U>` (runs inline:
    /// keep it cheap).
    #[must_use]
    pub fn verify_token_sync<F>(verify: F) -> Self
    where
        F: Fn(&str) -> Option<U> + Send + Sync + 'static,
    {
        Self::with_verifier(Verifier::Sync(Arc::new(verify)))
    }

    fn with_verifier(verify: Verifier<U>) -> Self {
        let common = Common::new();
        let scheme: Arc<str> = Arc::from("Bearer");
        let challenge = Challenge::with_realm(&scheme, &common.realm)
            .unwrap_or_else(|_| unreachable!("Bearer and the default realm are valid"));
        Self {
            common,
            scheme,
            header: None,
            rfc6750: false,
            scope: None,
            challenge,
            verify,
        }
    }

    common_builder_methods!(U);

    scheme_name_methods!(
        "Default `Bearer`. Matched, ignoring case, against the client's `Authorization` scheme; the old name is no longer accepted."
    );

    /// Reads the token from this header (e.g. `X-API-Key`) instead of `Authorization`: the whole
    /// value is the token. `"Authorization"` itself means the default behaviour.
    ///
    /// # Panics
    ///
    /// If `name` is not a valid header name; see [`try_header`](Self::try_header).
    #[must_use]
    pub fn header(self, name: &str) -> Self {
        match self.try_header(name) {
            Ok(this) => this,
            Err(err) => panic!("httpauth: invalid header: {err}"),
        }
    }

    /// Like [`header`](Self::header), returning an error for an invalid name.
    pub fn try_header(mut self, name: &str) -> Result<Self, ConfigError> {
        let header = HeaderName::try_from(name).map_err(|_| ConfigError::InvalidHeaderName {
            value: name.to_owned(),
        })?;
        self.header = (header != AUTHORIZATION).then_some(header);
        Ok(self)
    }

    /// Adds RFC 6750 §3.1 error attributes to challenges (`invalid_token`, `invalid_request`,
    /// `insufficient_scope`, `error_description`). Off by default (Flask-HTTPAuth sends none).
    #[must_use]
    pub fn rfc6750_errors(mut self) -> Self {
        self.rfc6750 = true;
        self
    }

    /// The `scope` sent with `insufficient_scope` (space-separated scope tokens).
    ///
    /// # Panics
    ///
    /// If `scope` contains `"`, `\` or a control character (RFC 6750 §3 forbids them).
    #[must_use]
    pub fn scope(mut self, scope: &str) -> Self {
        assert!(
            scope
                .bytes()
                .all(|b| b == b' ' || (b.is_ascii_graphic() && b != b'"' && b != b'\\')),
            "httpauth: a scope may only contain %x21 / %x23-5B / %x5D-7E and spaces"
        );
        self.scope = Some(Arc::from(scope));
        self
    }

    fn rebuild(&mut self) -> Result<(), ConfigError> {
        self.challenge = Challenge::with_realm(&self.scheme, &self.common.realm)?;
        Ok(())
    }

    /// The token of a request this auth claims. With RFC 6750 errors, a malformed or empty
    /// token is a malformed request: `invalid_request`, 400 (RFC 6750 §3.1).
    fn token<'h>(&self, headers: &'h HeaderMap) -> Result<&'h str, AuthError> {
        self.raw_token(headers).map_err(|err| {
            let malformed = err.kind() == AuthErrorKind::MalformedCredentials
                || (err.kind() == AuthErrorKind::MissingCredentials && err.detail().is_some());
            if self.rfc6750 && malformed {
                AuthError::new(AuthErrorKind::BadRequest)
                    .with_detail(err.detail().unwrap_or("malformed token"))
            } else {
                err
            }
        })
    }

    fn raw_token<'h>(&self, headers: &'h HeaderMap) -> Result<&'h str, AuthError> {
        let name = self.header.as_ref().unwrap_or(&AUTHORIZATION);
        let value = match header::single_value(headers, name) {
            Ok(Some(value)) => value,
            Ok(None) => return Err(AuthError::missing()),
            Err(()) => {
                return Err(AuthError::new(AuthErrorKind::DuplicateCredentials)
                    .with_detail("the token was sent more than once"))
            }
        };
        if value.len() > MAX_CREDENTIALS_LEN {
            return Err(AuthError::malformed("token too long"));
        }
        if self.header.is_some() {
            // The whole value is the token: visible ASCII and spaces.
            let token = value
                .to_str()
                .map_err(|_| AuthError::malformed("the token is not visible ASCII"))?
                .trim_matches(' ');
            if token.bytes().any(|b| b == b'\t') {
                return Err(AuthError::malformed("the token contains a tab"));
            }
            if token.is_empty() {
                return Err(AuthError::missing().with_detail("empty token"));
            }
            return Ok(token);
        }
        let creds =
            header::parse(value.as_bytes()).map_err(|e| AuthError::malformed(e.as_str()))?;
        if !creds.scheme_is(&self.scheme) {
            return Err(AuthError::missing());
        }
        match creds.into_payload() {
            Payload::Token68(token) => Ok(token),
            Payload::Empty => Err(AuthError::missing().with_detail("empty token")),
            Payload::Params(_) => Err(AuthError::malformed("the token is not token68")),
        }
    }

    fn identity(&self, user: Option<U>) -> Result<Identity<U>, AuthError> {
        user.map(|user| Identity {
            user,
            username: None,
            private_cache: self.header.is_some(),
        })
        .ok_or_else(AuthError::invalid)
    }

    fn rfc6750_challenge(&self, err: &AuthError) -> Option<http::HeaderValue> {
        let (code, description) = match err.kind() {
            // No credentials at all: no error attribute (RFC 6750 §3.1).
            AuthErrorKind::MissingCredentials if err.detail().is_none() => return None,
            AuthErrorKind::DuplicateCredentials | AuthErrorKind::BadRequest => {
                ("invalid_request", err.detail().unwrap_or("invalid request"))
            }
            AuthErrorKind::Forbidden => ("insufficient_scope", "insufficient scope"),
            _ => ("invalid_token", err.detail().unwrap_or("invalid token")),
        };
        let mut builder = Challenge::builder(&self.scheme)
            .ok()?
            .quoted("realm", &self.common.realm)
            .ok()?;
        if code == "insufficient_scope" {
            if let Some(scope) = &self.scope {
                builder = builder.quoted("scope", scope).ok()?;
            }
        }
        let challenge = builder
            .quoted("error", code)
            .ok()?
            .quoted("error_description", description)
            .ok()?
            .build();
        Some(challenge.header_value().clone())
    }
}

impl<U: Clone + Send + Sync + 'static> Scheme for TokenAuth<U> {
    type User = U;

    fn name(&self) -> &str {
        &self.scheme
    }

    fn claims(&self, req: &AuthRequest<'_>) -> bool {
        match &self.header {
            Some(name) => req.headers.contains_key(name),
            None => req
                .authorization_scheme()
                .is_some_and(|s| s.eq_ignore_ascii_case(self.scheme.as_bytes())),
        }
    }

    fn authenticate_now(&self, req: AuthRequest<'_>) -> Option<Result<Identity<U>, AuthError>> {
        let token = match self.token(req.headers) {
            Ok(token) => token,
            Err(err) => return Some(Err(err)),
        };
        let user = match &self.verify {
            Callback::Sync(verify) => verify(token),
            Callback::Async(verify) => verify.verify_token_now(token)?,
        };
        Some(self.identity(user))
    }

    fn authenticate<'a>(
        &'a self,
        req: AuthRequest<'a>,
    ) -> AuthFuture<'a, Result<Identity<U>, AuthError>> {
        let token = match self.token(req.headers) {
            Ok(token) => token,
            Err(err) => return AuthFuture::ready(Err(err)),
        };
        match &self.verify {
            Callback::Sync(verify) => AuthFuture::ready(self.identity(verify(token))),
            // The slow path: `verify_token_now` is not asked twice.
            Callback::Async(verify) => verify.verify_token(token).map(|user| self.identity(user)),
        }
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

    fn challenge(&self, err: &AuthError, headers: &mut HeaderMap) {
        let value = if self.rfc6750 {
            self.rfc6750_challenge(err)
        } else {
            None
        };
        headers.append(
            WWW_AUTHENTICATE,
            value.unwrap_or_else(|| self.challenge.header_value().clone()),
        );
    }

    fn error_response(&self, err: &AuthError) -> Response<Bytes> {
        self.common.error_response(err)
    }
}
