//! For scheme authors: the [`Scheme`] trait and what it works with. Applications do not need
//! this module; they use the builders at the crate root ([`BasicAuth`](crate::BasicAuth),
//! [`DigestAuth`](crate::DigestAuth), [`TokenAuth`](crate::TokenAuth),
//! [`MultiAuth`](crate::MultiAuth)).
//!
//! A scheme says which requests it [`claims`](Scheme::claims) (used to choose between several
//! schemes on one route), [parses](Scheme::parse) their credentials, [verifies](Scheme::verify)
//! them into an [`Identity`] or an [`AuthError`], and renders its challenge. Everything per route (roles, the error handler, `optional`,
//! `OPTIONS`, choosing among schemes, the response) is done once, by the policy
//! ([`LoginRequired`](crate::LoginRequired)). Wrap a scheme in [`Auth`](crate::Auth) to get
//! the shared builder methods (realm, roles, error handler, `login_required`).
//!
//! ```
//! use httpauth::scheme::{AuthFuture, AuthRequest, Identity, Scheme};
//! use httpauth::{Auth, AuthError, CurrentUser};
//! use axum::{routing::get, Router};
//! # use tower::ServiceExt;
//!
//! /// `Authorization: Magic <word>`.
//! #[derive(Clone)]
//! struct Magic;
//!
//! impl Scheme for Magic {
//!     type User = String;
//!     type Credentials = Vec<u8>;
//!     fn name(&self) -> &str { "Magic" }
//!     fn claims(&self, req: &AuthRequest<'_>) -> bool {
//!         req.authorization_scheme_is("Magic")
//!     }
//!     fn parse(&self, req: &AuthRequest<'_>) -> Result<Vec<u8>, AuthError> {
//!         let value = req.authorization().unwrap_or_default();
//!         Ok(value.get(6..).unwrap_or_default().to_vec())
//!     }
//!     fn verify(&self, word: Vec<u8>, _: Option<&str>, _: &AuthRequest<'_>) -> AuthFuture<Result<Identity<String>, AuthError>> {
//!         let ok = word == b"please";
//!         AuthFuture::ready(ok.then(|| Identity::new("wizard".to_owned(), None)).ok_or_else(AuthError::invalid))
//!     }
//!     fn set_realm(&mut self, _realm: &str) -> Result<(), httpauth::ConfigError> { Ok(()) }
//!     fn challenge(&self, _err: &AuthError, headers: &mut http::HeaderMap) {
//!         headers.append("www-authenticate", http::HeaderValue::from_static("Magic"));
//!     }
//! }
//!
//! let auth = Auth::from_scheme(Magic);
//! let app: Router = Router::new()
//!     .route("/", get(|CurrentUser(u): CurrentUser<String>| async move { u }))
//!     .route_layer(auth.login_required());
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let res = app.clone().oneshot(http::Request::new(axum::body::Body::empty())).await.unwrap();
//! assert_eq!(res.status(), 401);
//! assert_eq!(res.headers()["www-authenticate"], "Magic");
//! let req = http::Request::get("/").header("authorization", "Magic please");
//! let res = app.oneshot(req.body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 200);
//! # });
//! ```

mod challenge;
mod future;
pub mod header;
mod request;

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response};

pub use self::challenge::{Challenge, ChallengeBuilder};
pub use self::future::{AuthFuture, BoxFuture};
pub use self::request::{AuthRequest, HeaderLookup, RequestHead};

use crate::error::{AuthError, ConfigError};

/// Who authenticated: the application's user, the username the client sent (when the scheme
/// has one), and headers the scheme adds to the successful response (e.g. Digest's
/// `Authentication-Info`).
#[derive(Clone)]
pub struct Identity<U> {
    pub(crate) user: U,
    pub(crate) username: Option<String>,
    pub(crate) response_headers: Option<Box<HeaderMap>>,
}

impl<U> Identity<U> {
    /// An identity: the user, and the username from the credentials (`None` for tokens).
    #[inline]
    pub fn new(user: U, username: Option<String>) -> Self {
        Self {
            user,
            username,
            response_headers: None,
        }
    }

    /// Adds a header to the successful response (the hook for `Authentication-Info`,
    /// `Cache-Control: private`, ...). The handler's own header of the same name wins.
    #[must_use]
    pub fn with_response_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.response_headers
            .get_or_insert_with(Box::default)
            .append(name, value);
        self
    }

    /// The user.
    pub fn user(&self) -> &U {
        &self.user
    }

    /// The username from the credentials.
    #[must_use]
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The headers this scheme adds to the successful response.
    #[must_use]
    pub fn response_headers(&self) -> Option<&HeaderMap> {
        self.response_headers.as_deref()
    }
}

impl<U: fmt::Debug> fmt::Debug for Identity<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("user", &self.user)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// An authentication scheme (Basic, token, Digest, or your own).
///
/// A scheme does two things, and the policy does everything else: it **parses** the request
/// head into its [`Credentials`](Self::Credentials), synchronously and without calling
/// anything, and it **verifies** parsed credentials, once. Between the two the policy reads
/// the username the credentials claim ([`username`](Self::username)), makes it canonical
/// ([`Usernames`](crate::Usernames)), asks the throttle, and buffers the body when the
/// credentials need it ([`body_limit`](Self::body_limit)); after them it counts the outcome,
/// checks roles and answers. No scheme calls the throttle, and every scheme, built in or your
/// own, runs through the same path.
///
/// How a failure is counted follows from where it happens: an error from
/// [`parse`](Self::parse) verified nothing and counts against the client address only; an
/// [`AuthErrorKind::InvalidCredentials`](crate::AuthErrorKind::InvalidCredentials) from
/// [`verify`](Self::verify) is a wrong secret and counts against the username and the address;
/// [`AuthErrorKind::Overloaded`](crate::AuthErrorKind::Overloaded) counts against the address;
/// any other error (a stale nonce, a store outage) counts for nothing.
pub trait Scheme: Send + Sync + 'static {
    /// The application's user type.
    type User: Clone + Send + Sync + 'static;

    /// What [`parse`](Self::parse) reads from a request: owned, so a verification that waits
    /// can keep it.
    type Credentials: Send + 'static;

    /// The scheme name as sent in the challenge (`Basic`, `Bearer`, a custom name).
    fn name(&self) -> &str;

    /// Whether the request carries credentials meant for this scheme (its scheme word in
    /// `Authorization`, or its custom header). Must be cheap: no callback, no parsing beyond
    /// the scheme word.
    fn claims(&self, req: &AuthRequest<'_>) -> bool;

    /// Reads the credentials of a request this scheme [claims](Self::claims): everything that
    /// needs no callback and no secret. An error here (malformed credentials, a nonce this
    /// server did not issue) answers the request and counts against the client address only.
    fn parse(&self, req: &AuthRequest<'_>) -> Result<Self::Credentials, AuthError>;

    /// The username the credentials claim, as the client means it (for Digest `userhash`, the
    /// name it stands for), before anything is verified. The policy makes it canonical, counts
    /// failures for it and gives it to [`verify`](Self::verify). Default: none (tokens).
    fn username<'c>(&self, creds: &'c Self::Credentials) -> Option<&'c str> {
        let _ = creds;
        None
    }

    /// Whether verifying these credentials needs the request body, and the most bytes the
    /// scheme accepts. The adapter then buffers it (413 when it is larger, 400 when it cannot
    /// be read, 408 when it is too slow) and the request is checked again with the body in
    /// [`AuthRequest::body`]. Default: never.
    fn body_limit(&self, creds: &Self::Credentials) -> Option<usize> {
        let _ = creds;
        None
    }

    /// Verifies parsed credentials: the verify callback runs here, once. `username` is the
    /// canonical form of [`username`](Self::username) (look the user up by it); the policy
    /// records it on the identity returned. A synchronous answer is [`AuthFuture::ready`] (the adapters then
    /// decide inline, without boxing).
    fn verify(
        &self,
        creds: Self::Credentials,
        username: Option<&str>,
        req: &AuthRequest<'_>,
    ) -> AuthFuture<Result<Identity<Self::User>, AuthError>>;

    /// Takes the route's realm (already validated: no control characters; the default
    /// `Authentication Required` when none is set), to render challenges with.
    fn set_realm(&mut self, realm: &str) -> Result<(), ConfigError>;

    /// Appends this scheme's challenge(s) to `headers` as `WWW-Authenticate` lines.
    fn challenge(&self, err: &AuthError, headers: &mut HeaderMap);
}

/// The default error response: the status of the error, body `Unauthorized Access` (as
/// Flask-HTTPAuth) for 401 and 403, else the status's reason phrase (`Bad Request`, `Too Many
/// Requests`, ...), as `text/plain; charset=utf-8`.
#[must_use]
pub fn default_error_response(err: &AuthError) -> Response<Bytes> {
    let status = err.status();
    let body: &'static str = match status {
        http::StatusCode::UNAUTHORIZED | http::StatusCode::FORBIDDEN => "Unauthorized Access",
        other => other.canonical_reason().unwrap_or("Error"),
    };
    let mut response = Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = err.status();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Flask-HTTPAuth's default realm.
pub const DEFAULT_REALM: &str = "Authentication Required";
