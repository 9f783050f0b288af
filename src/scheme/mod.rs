//! For scheme authors: the [`Scheme`] trait and what it works with. Applications do not need
//! this module; they use the builders at the crate root ([`BasicAuth`](crate::BasicAuth),
//! [`DigestAuth`](crate::DigestAuth), [`TokenAuth`](crate::TokenAuth),
//! [`MultiAuth`](crate::MultiAuth)).
//!
//! A scheme turns a request into an [`Identity`] or an [`AuthError`], says which requests it
//! [`claims`](Scheme::claims) (used to choose between several schemes on one route) and
//! renders its challenge. Everything per route (roles, the error handler, `optional`,
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
//!     fn name(&self) -> &str { "Magic" }
//!     fn claims(&self, req: &AuthRequest<'_>) -> bool {
//!         req.authorization_scheme_is("Magic")
//!     }
//!     fn authenticate(&self, req: &AuthRequest<'_>) -> AuthFuture<Result<Identity<String>, AuthError>> {
//!         let ok = req.authorization() == Some(b"Magic please".as_slice());
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
//! let res = app.oneshot(http::Request::new(axum::body::Body::empty())).await.unwrap();
//! assert_eq!(res.status(), 401);
//! assert_eq!(res.headers()["www-authenticate"], "Magic");
//! # });
//! ```

mod challenge;
mod future;
pub mod header;
mod request;

use std::fmt;
use std::future::Future;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response};

pub use self::challenge::{Challenge, ChallengeBuilder};
pub use self::future::{AuthFuture, BoxFuture};
pub(crate) use self::request::Admission;
pub use self::request::{AuthRequest, HeaderLookup, RequestHead};
pub use crate::auth::{Kind, Multi};
pub use crate::policy::Decision;

use crate::error::{AuthError, ConfigError};
use crate::roles::Roles;

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
pub trait Scheme: Send + Sync + 'static {
    /// The application's user type.
    type User: Clone + Send + Sync + 'static;

    /// The scheme name as sent in the challenge (`Basic`, `Bearer`, a custom name).
    fn name(&self) -> &str;

    /// Whether the request carries credentials meant for this scheme (its scheme word in
    /// `Authorization`, or its custom header). Must be cheap: no callback, no parsing beyond
    /// the scheme word.
    fn claims(&self, req: &AuthRequest<'_>) -> bool;

    /// Whether this scheme needs the request body to authenticate this (claimed) request, and
    /// the most bytes it accepts. The policy then answers [`Decision::ReadBody`], the adapter
    /// buffers the body and checks again with it in [`AuthRequest::body`] (413 when it is
    /// larger, 400 when it cannot be read, 408 when it is too slow). Default: never.
    fn body_limit(&self, req: &AuthRequest<'_>) -> Option<usize> {
        let _ = req;
        None
    }

    /// Parses and verifies the credentials of a request this scheme claims. Called once per
    /// request; a synchronous answer is [`AuthFuture::ready`] (the adapters then decide inline,
    /// without boxing).
    fn authenticate(
        &self,
        req: &AuthRequest<'_>,
    ) -> AuthFuture<Result<Identity<Self::User>, AuthError>>;

    /// The username the credentials claim, before anything is verified (the throttle counts
    /// failures per username, and refusal events name it). Cheap: no callback. Default:
    /// `None` (tokens).
    fn claimed_username(&self, req: &AuthRequest<'_>) -> Option<String> {
        let _ = req;
        None
    }

    /// Whether [`authenticate`](Self::authenticate) calls [`AuthRequest::admit`] with the
    /// claimed username once it has parsed the credentials, before it runs any verify
    /// callback, and returns the error `admit` gives. When the throttle holds records the
    /// policy then checks it there instead of asking
    /// [`claimed_username`](Self::claimed_username) first, so the credentials are parsed
    /// once. Credentials that do not parse call `admit(None)` before answering their error, so
    /// a client over its address limit still gets its `429`. `claimed_username` is still
    /// needed: the policy asks it for a failure while the throttle holds no record. Default:
    /// `false` (the policy asks `claimed_username` before `authenticate`).
    fn admits(&self) -> bool {
        false
    }

    /// Takes the route's realm (already validated: no control characters; the default
    /// `Authentication Required` when none is set), to render challenges with.
    fn set_realm(&mut self, realm: &str) -> Result<(), ConfigError>;

    /// Appends this scheme's challenge(s) to `headers` as `WWW-Authenticate` lines.
    fn challenge(&self, err: &AuthError, headers: &mut HeaderMap);
}

/// The get-user-roles callback: the roles of an authenticated user.
///
/// Implemented for async closures `Fn(U) -> impl Future<Output = impl Into<Roles>>` (they get a
/// clone of the user); plain functions of `&U` go through `user_roles_sync` on the builders.
pub trait UserRoles<U>: Send + Sync + 'static {
    /// The roles of `user`.
    fn user_roles(&self, user: &U) -> AuthFuture<Roles>;
}

impl<U, F, Fut, R> UserRoles<U> for F
where
    U: Clone + Send + Sync + 'static,
    F: Fn(U) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: Into<Roles>,
{
    fn user_roles(&self, user: &U) -> AuthFuture<Roles> {
        let fut = self(user.clone());
        AuthFuture::new(async move { fut.await.into() })
    }
}

/// A plain function of the user as a [`UserRoles`] (answers at once).
pub(crate) struct SyncUserRoles<F>(pub(crate) F);

impl<U, F, R> UserRoles<U> for SyncUserRoles<F>
where
    F: Fn(&U) -> R + Send + Sync + 'static,
    R: Into<Roles>,
{
    fn user_roles(&self, user: &U) -> AuthFuture<Roles> {
        AuthFuture::ready((self.0)(user).into())
    }
}

/// The custom error handler: builds the response for a refused request.
///
/// Implemented for closures `Fn(&AuthError) -> R` where `R` is an `http::Response` whose body
/// converts into `Bytes` (`String`, `Vec<u8>`, `&'static str`, `Bytes`). Whatever it returns is
/// sent as is (status included), except that the scheme's challenge is added when the response
/// has no `WWW-Authenticate` header of its own (a 401 must carry one, RFC 9110 §11.6.1), and
/// the [`AuthError`] is attached to its extensions.
pub trait ErrorHandler: Send + Sync + 'static {
    /// The response for `err`.
    fn error_response(&self, err: &AuthError) -> Response<Bytes>;
}

impl<F, B> ErrorHandler for F
where
    F: Fn(&AuthError) -> Response<B> + Send + Sync + 'static,
    B: Into<Bytes>,
{
    fn error_response(&self, err: &AuthError) -> Response<Bytes> {
        self(err).map(Into::into)
    }
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
