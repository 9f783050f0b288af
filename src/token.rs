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
use std::sync::Arc;

use http::header::{AUTHORIZATION, CACHE_CONTROL, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::auth::Auth;
pub use crate::callback::VerifyToken;
use crate::callback::{Answer, SyncVerifyToken};
use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::scheme::header::{self, Payload, MAX_CREDENTIALS_LEN};
use crate::scheme::Challenge;
use crate::scheme::{AuthFuture, AuthRequest, HeaderLookup, Identity, Scheme, DEFAULT_REALM};

/// Where the [`Token`] scheme found the token in the request (its header value, from `start`
/// to `end`): the token itself is read from the request when it is verified, so parsing copies
/// nothing. `Debug` never shows the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCredentials {
    start: usize,
    end: usize,
}

/// The token scheme: what [`TokenAuth`] wraps. See the [module docs](self).
pub struct Token<U> {
    scheme: Arc<str>,
    realm: Arc<str>,
    /// A custom header (lowercase), instead of `Authorization`.
    header: Option<HeaderName>,
    rfc6750: bool,
    scope: Option<Arc<str>>,
    challenge: Challenge,
    verify: Arc<dyn VerifyToken<User = U>>,
}

/// Token authentication: [`Auth`] over the [`Token`] scheme. See the [module docs](self).
pub type TokenAuth<U = String> = Auth<Token<U>>;

impl<U> Clone for Token<U> {
    fn clone(&self) -> Self {
        Self {
            scheme: self.scheme.clone(),
            realm: self.realm.clone(),
            header: self.header.clone(),
            rfc6750: self.rfc6750,
            scope: self.scope.clone(),
            challenge: self.challenge.clone(),
            verify: self.verify.clone(),
        }
    }
}

impl<U> fmt::Debug for Token<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("scheme", &self.scheme)
            .field("realm", &self.realm)
            .field("header", &self.header)
            .field("rfc6750_errors", &self.rfc6750)
            .finish_non_exhaustive()
    }
}

impl<U: Clone + Send + Sync + 'static> Auth<Token<U>> {
    /// Token auth whose verify-token callback returns the user (async closure
    /// `Fn(String) -> impl Future<Output = Option<U>>`, or a [`VerifyToken`] impl).
    #[must_use]
    pub fn verify_token<V>(verify: V) -> Self
    where
        V: VerifyToken<User = U>,
    {
        let (scheme, realm) = ("Bearer", DEFAULT_REALM);
        Self::from_scheme(Token {
            // "Bearer" and the default realm always render.
            challenge: Challenge::with_realm(scheme, realm).unwrap_or_else(|_| unreachable!()),
            scheme: Arc::from(scheme),
            realm: Arc::from(realm),
            header: None,
            rfc6750: false,
            scope: None,
            verify: Arc::new(verify),
        })
    }

    /// Token auth with a plain verify-token function `Fn(&str) -> Option<U>` (answers at
    /// once: keep it cheap).
    #[must_use]
    pub fn verify_token_sync<F, A>(verify: F) -> Self
    where
        F: Fn(&str) -> A + Send + Sync + 'static,
        A: Answer<Value = U>,
    {
        Self::verify_token(SyncVerifyToken(verify))
    }

    /// Sends the challenge under another scheme name (Flask-HTTPAuth's `scheme=`). Default
    /// `Bearer`. Matched, ignoring case, against the client's `Authorization` scheme; the old
    /// name is no longer accepted.
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
        self.map_scheme(|t| {
            t.challenge = Challenge::with_realm(scheme, &t.realm)?;
            t.scheme = Arc::from(scheme);
            Ok(())
        })
    }

    /// Reads the token from this header (e.g. `X-API-Key`) instead of `Authorization`: the whole
    /// value is the token. `"Authorization"` itself means the default behaviour.
    ///
    /// # Panics
    ///
    /// If `name` is not a valid header name; see [`try_header`](Self::try_header).
    #[must_use]
    pub fn header(self, name: &str) -> Self {
        self.try_header(name)
            .unwrap_or_else(|err| panic!("httpauth: invalid header: {err}"))
    }

    /// Like [`header`](Self::header), returning an error for an invalid name.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidHeaderName`].
    pub fn try_header(self, name: &str) -> Result<Self, ConfigError> {
        let header = HeaderName::try_from(name).map_err(|_| ConfigError::InvalidHeaderName {
            value: name.to_owned(),
        })?;
        self.map_scheme(|t| {
            t.header = (header != AUTHORIZATION).then_some(header);
            Ok(())
        })
    }

    /// Adds RFC 6750 §3.1 error attributes to challenges (`invalid_token`, `invalid_request`,
    /// `insufficient_scope`, `error_description`). Off by default (Flask-HTTPAuth sends none).
    #[must_use]
    pub fn rfc6750_errors(mut self) -> Self {
        self.kind.rfc6750 = true;
        self
    }

    /// The `scope` sent with `insufficient_scope` (space-separated scope tokens).
    ///
    /// # Panics
    ///
    /// If `scope` contains `"`, `\` or a control character (RFC 6750 §3 forbids them); see
    /// [`try_scope`](Self::try_scope).
    #[must_use]
    pub fn scope(self, scope: &str) -> Self {
        self.try_scope(scope)
            .unwrap_or_else(|err| panic!("httpauth: {err}"))
    }

    /// Like [`scope`](Self::scope), returning an error for a forbidden character.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`].
    pub fn try_scope(self, scope: &str) -> Result<Self, ConfigError> {
        if !scope
            .bytes()
            .all(|b| b == b' ' || (b.is_ascii_graphic() && b != b'"' && b != b'\\'))
        {
            return Err(ConfigError::Invalid {
                setting: "scope",
                reason: "a scope may only contain %x21 / %x23-5B / %x5D-7E and spaces",
            });
        }
        self.map_scheme(|t| {
            t.scope = Some(Arc::from(scope));
            Ok(())
        })
    }
}

impl TokenCredentials {
    /// The span of `token` (a part of `value`) in `value`.
    fn within(value: &[u8], token: &[u8]) -> Self {
        let start = (token.as_ptr() as usize).saturating_sub(value.as_ptr() as usize);
        Self {
            start,
            end: start + token.len(),
        }
    }
}

impl<U: Clone + Send + Sync + 'static> Token<U> {
    /// The value of the header the token is read from (`Authorization`, or the custom one),
    /// when sent once.
    #[inline]
    fn header_value<'h>(&self, req: &AuthRequest<'h>) -> Option<&'h [u8]> {
        match &self.header {
            None => req.authorization(),
            Some(name) => req.header(name.as_str()).one(),
        }
    }

    /// The token of a request this auth claims. With RFC 6750 errors, a malformed or empty
    /// token is a malformed request: `invalid_request`, 400 (RFC 6750 §3.1).
    fn token<'h>(&self, req: &AuthRequest<'h>) -> Result<&'h str, AuthError> {
        self.raw_token(req).map_err(|err| {
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

    #[cold]
    #[inline(never)]
    fn raw_token<'h>(&self, req: &AuthRequest<'h>) -> Result<&'h str, AuthError> {
        let name = self.header.as_ref().unwrap_or(&AUTHORIZATION);
        let value = match req.header(name.as_str()) {
            HeaderLookup::One(value) => value,
            HeaderLookup::Absent => return Err(AuthError::missing()),
            HeaderLookup::Several => {
                return Err(AuthError::new(AuthErrorKind::DuplicateCredentials)
                    .with_detail("the token was sent more than once"))
            }
        };
        if value.len() > MAX_CREDENTIALS_LEN {
            return Err(AuthError::malformed("token too long"));
        }
        if self.header.is_some() {
            // The whole value is the token: visible ASCII and spaces.
            let token = std::str::from_utf8(value)
                .ok()
                .filter(|v| v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)))
                .ok_or_else(|| AuthError::malformed("the token is not visible ASCII"))?
                .trim_matches(' ');
            if token.bytes().any(|b| b == b'\t') {
                return Err(AuthError::malformed("the token contains a tab"));
            }
            if token.is_empty() {
                return Err(AuthError::missing().with_detail("empty token"));
            }
            return Ok(token);
        }
        let creds = header::parse(value).map_err(|e| AuthError::malformed(e.as_str()))?;
        if !creds.scheme_is(&self.scheme) {
            return Err(AuthError::missing());
        }
        match creds.into_payload() {
            Payload::Token68(token) => Ok(token),
            Payload::Empty => Err(AuthError::missing().with_detail("empty token")),
            Payload::Params(_) => Err(AuthError::malformed("the token is not token68")),
        }
    }

    /// A token read from a header other than `Authorization` makes the response private:
    /// shared caches only protect `Authorization` (RFC 9111 §3.5).
    fn identity(private: bool, user: Option<U>) -> Result<Identity<U>, AuthError> {
        let identity = Identity::new(user.ok_or_else(AuthError::invalid)?, None);
        Ok(if private {
            identity.with_response_header(CACHE_CONTROL, HeaderValue::from_static("private"))
        } else {
            identity
        })
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
            .quoted("realm", &self.realm)
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
            .build()
            .ok()?;
        Some(challenge.header_value().clone())
    }
}

impl<U: Clone + Send + Sync + 'static> Scheme for Token<U> {
    type User = U;
    type Credentials = TokenCredentials;

    fn name(&self) -> &str {
        &self.scheme
    }

    fn claims(&self, req: &AuthRequest<'_>) -> bool {
        match &self.header {
            Some(name) => req.header(name.as_str()) != HeaderLookup::Absent,
            None => req.authorization_scheme_is(&self.scheme),
        }
    }

    #[inline]
    fn parse(&self, req: &AuthRequest<'_>) -> Result<TokenCredentials, AuthError> {
        // The form clients send, `Authorization: <scheme> <token68>`, first (a token68 is
        // ASCII: nothing to validate); everything else out of line.
        if self.header.is_none() {
            if let Some(value) = req.authorization() {
                if let Some(token) = header::token68_after(value, self.scheme.as_bytes()) {
                    return Ok(TokenCredentials::within(value, token));
                }
            }
        }
        let token = self.token(req)?;
        let value = self.header_value(req).unwrap_or_default();
        Ok(TokenCredentials::within(value, token.as_bytes()))
    }

    #[inline]
    fn verify(
        &self,
        creds: TokenCredentials,
        _username: Option<&str>,
        req: &AuthRequest<'_>,
    ) -> AuthFuture<Result<Identity<U>, AuthError>> {
        let token = self
            .header_value(req)
            .and_then(|value| value.get(creds.start..creds.end))
            .and_then(|token| std::str::from_utf8(token).ok());
        let Some(token) = token else {
            return AuthFuture::ready(Err(AuthError::malformed("no token")));
        };
        let private = self.header.is_some();
        self.verify
            .verify_token(token)
            .map(move |user| Self::identity(private, user?))
    }

    fn set_realm(&mut self, realm: &str) -> Result<(), ConfigError> {
        self.challenge = Challenge::with_realm(&self.scheme, realm)?;
        self.realm = Arc::from(realm);
        Ok(())
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
}
