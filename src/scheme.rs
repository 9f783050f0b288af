//! The [`Scheme`] trait every authentication scheme implements, and the callback traits shared
//! by all of them ([`UserRoles`], [`ErrorHandler`]).
//!
//! A scheme turns a request into an [`Identity`] or an [`AuthError`], says which requests it
//! [`claims`](Scheme::claims) (used to choose between several schemes on one route), looks up
//! the user's roles, and renders its challenge and error response. Everything else (options,
//! roles, optional routes, choosing among several schemes, the response) is done once, by
//! [`LoginRequired`](crate::LoginRequired). To add a scheme, implement this trait; see
//! `ARCHITECTURE.md`.
//!
//! Callbacks return an [`AuthFuture`]: [`AuthFuture::ready`] for an answer known at once (no
//! allocation), [`AuthFuture::new`] for real async work.
//!
//! ```
//! use httpauth::{AuthFuture, Roles, UserRoles};
//!
//! struct Directory;
//! impl UserRoles<String> for Directory {
//!     fn user_roles<'a>(&'a self, user: &'a String) -> AuthFuture<'a, Roles> {
//!         AuthFuture::ready(if user == "susan" { Roles::from(["user", "admin"]) } else { Roles::from("user") })
//!     }
//! }
//! # let roles = futures_lite_block_on(Directory.user_roles(&"susan".to_owned()));
//! # assert!(roles.contains("admin"));
//! # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Method, Response, Uri};

use crate::error::{AuthError, ConfigError};
use crate::roles::Roles;

/// A boxed, `Send` future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The future every callback returns: either an answer that is already there (no allocation)
/// or a boxed future.
pub struct AuthFuture<'a, T> {
    inner: Inner<'a, T>,
}

enum Inner<'a, T> {
    Ready(std::future::Ready<T>),
    Boxed(BoxFuture<'a, T>),
}

impl<'a, T> AuthFuture<'a, T> {
    /// An answer available now.
    pub fn ready(value: T) -> Self {
        Self {
            inner: Inner::Ready(std::future::ready(value)),
        }
    }

    /// Wraps real async work (boxes it).
    pub fn new<F>(future: F) -> Self
    where
        F: Future<Output = T> + Send + 'a,
    {
        Self {
            inner: Inner::Boxed(Box::pin(future)),
        }
    }

    /// The answer, when it is already there; the future otherwise.
    pub fn into_ready(self) -> Result<T, Self> {
        match self.inner {
            Inner::Ready(ready) => Ok(ready.into_inner()),
            inner @ Inner::Boxed(_) => Err(Self { inner }),
        }
    }

    /// Maps the output, without an allocation when the answer is already there.
    pub fn map<V, F>(self, f: F) -> AuthFuture<'a, V>
    where
        F: FnOnce(T) -> V + Send + 'a,
        T: Send + 'a,
        V: 'a,
    {
        match self.into_ready() {
            Ok(value) => AuthFuture::ready(f(value)),
            Err(fut) => AuthFuture::new(async move { f(fut.await) }),
        }
    }
}

impl<T> Future for AuthFuture<'_, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match &mut self.get_mut().inner {
            Inner::Ready(ready) => Pin::new(ready).poll(cx),
            Inner::Boxed(fut) => fut.as_mut().poll(cx),
        }
    }
}

impl<T> fmt::Debug for AuthFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.inner {
            Inner::Ready(_) => "AuthFuture::Ready",
            Inner::Boxed(_) => "AuthFuture::Boxed",
        })
    }
}

/// The parts of a request an auth looks at, borrowed from whatever framework carries it.
///
/// The `Authorization` header is looked up once, when the value is made, and shared by every
/// scheme of the route ([`authorization`](Self::authorization)).
#[derive(Clone, Copy)]
pub struct AuthRequest<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The request target.
    pub uri: &'a Uri,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The request body, buffered by the adapter only when the handling scheme asked for it
    /// with [`Scheme::body_limit`] (Digest `qop=auth-int`); `None` otherwise.
    pub body: Option<&'a Bytes>,
    /// The request target as the client sent it, when a router rewrote [`uri`](Self::uri)
    /// (axum's `Router::nest` strips its prefix; the tower adapter fills this from axum's
    /// `OriginalUri`). See [`target`](Self::target).
    pub original_uri: Option<&'a Uri>,
    authorization: Authorization<'a>,
}

#[derive(Clone, Copy)]
enum Authorization<'a> {
    Absent,
    One(&'a HeaderValue),
    Several,
}

impl fmt::Debug for AuthRequest<'_> {
    /// Never the credentials: the method, the path, header names, and whether `Authorization`
    /// is there.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRequest")
            .field("method", self.method)
            .field("path", &self.uri.path())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field(
                "authorization",
                &match self.authorization {
                    Authorization::Absent => "absent",
                    Authorization::One(_) => "present",
                    Authorization::Several => "several",
                },
            )
            .field("body", &self.body.map(Bytes::len))
            .finish()
    }
}

impl<'a> AuthRequest<'a> {
    /// A request head from its parts.
    #[must_use]
    pub fn new(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap) -> Self {
        let authorization = match crate::header::single_value(headers, &AUTHORIZATION) {
            Ok(None) => Authorization::Absent,
            Ok(Some(value)) => Authorization::One(value),
            Err(()) => Authorization::Several,
        };
        Self {
            method,
            uri,
            headers,
            body: None,
            original_uri: None,
            authorization,
        }
    }

    /// The same request, with the target the client sent before a router rewrote the URI.
    #[must_use]
    pub fn with_original_uri(mut self, original: Option<&'a Uri>) -> Self {
        self.original_uri = original;
        self
    }

    /// The request target as the client sent it: [`original_uri`](Self::original_uri) when a
    /// router rewrote the URI, else [`uri`](Self::uri). Digest compares its `uri` with this.
    #[must_use]
    pub fn target(&self) -> &'a Uri {
        self.original_uri.unwrap_or(self.uri)
    }

    /// Borrows the head of an `http` request.
    #[must_use]
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        Self::new(&parts.method, &parts.uri, &parts.headers)
    }

    /// The same request with its buffered body.
    #[must_use]
    pub fn with_body(mut self, body: Option<&'a Bytes>) -> Self {
        self.body = body;
        self
    }

    /// The request's `Authorization` value: `None` when there is none, or more than one (see
    /// [`has_several_authorizations`](Self::has_several_authorizations)).
    #[must_use]
    pub fn authorization(&self) -> Option<&'a HeaderValue> {
        match self.authorization {
            Authorization::One(value) => Some(value),
            Authorization::Absent | Authorization::Several => None,
        }
    }

    /// Whether the request carries more than one `Authorization` header (an ambiguous request,
    /// answered 400 before any scheme runs).
    #[must_use]
    pub fn has_several_authorizations(&self) -> bool {
        matches!(self.authorization, Authorization::Several)
    }

    /// The scheme word of the `Authorization` value, without parsing the rest.
    #[must_use]
    pub fn authorization_scheme(&self) -> Option<&'a [u8]> {
        self.authorization()
            .map(|v| crate::header::scheme_word(v.as_bytes()))
    }
}

/// Who authenticated: the application's user object and, when the scheme has one, the
/// username the client sent.
#[derive(Clone)]
pub struct Identity<U> {
    /// The user returned by the verify callback.
    pub user: U,
    /// The username from the credentials (Basic, Digest); `None` for tokens.
    pub username: Option<String>,
    /// Whether the response must not be stored by shared caches: set by schemes that read a
    /// header other than `Authorization` (RFC 9111 §3.5 protects only that one).
    pub private_cache: bool,
}

impl<U> Identity<U> {
    /// An identity with a username.
    pub fn new(user: U, username: Option<String>) -> Self {
        Self {
            user,
            username,
            private_cache: false,
        }
    }
}

impl<U: fmt::Debug> fmt::Debug for Identity<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("user", &self.user)
            .field("username", &self.username)
            .finish()
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
    /// the most bytes it accepts. The adapter then buffers the body (answering 413 when it is
    /// larger) and passes it in [`AuthRequest::body`]. Default: never.
    fn body_limit(&self, req: &AuthRequest<'_>) -> Option<usize> {
        let _ = req;
        None
    }

    /// Parses and verifies the credentials of a request this scheme claims.
    fn authenticate<'a>(
        &'a self,
        req: AuthRequest<'a>,
    ) -> AuthFuture<'a, Result<Identity<Self::User>, AuthError>>;

    /// Whether a get-user-roles callback is configured.
    fn has_user_roles(&self) -> bool;

    /// Answers without waiting when the scheme can (a malformed header, a sync callback, a
    /// cache hit): the adapters' allocation-free fast path. `None` means "await
    /// [`authenticate`](Self::authenticate)", which is then called for the same request, so
    /// returning `None` must leave nothing done that matters (and `authenticate` should not
    /// repeat the fast-path-only checks). When it returns `Some`, that is the answer and
    /// `authenticate` is not called. Default: `None`.
    fn authenticate_now(
        &self,
        req: AuthRequest<'_>,
    ) -> Option<Result<Identity<Self::User>, AuthError>> {
        let _ = req;
        None
    }

    /// The user's roles (empty when no callback is configured).
    fn user_roles<'a>(&'a self, user: &'a Self::User) -> AuthFuture<'a, Roles>;

    /// The user's roles without waiting, when the callback is synchronous (or absent); `None`
    /// means "await [`user_roles`](Self::user_roles)". Default: `None`.
    fn user_roles_now(&self, user: &Self::User) -> Option<Roles> {
        let _ = user;
        None
    }

    /// Appends this scheme's challenge(s) to `headers` as `WWW-Authenticate` lines.
    fn challenge(&self, err: &AuthError, headers: &mut HeaderMap);

    /// The response for a refused request, before the challenge is added (the custom error
    /// handler, or the default `Unauthorized Access` body).
    fn error_response(&self, err: &AuthError) -> Response<Bytes>;
}

/// The get-user-roles callback: the roles of an authenticated user.
///
/// Implemented for async closures `Fn(U) -> impl Future<Output = impl Into<Roles>>` (they get a
/// clone of the user); sync closures are passed through the schemes' `user_roles_sync` (which
/// lets the adapters decide without waiting).
pub trait UserRoles<U>: Send + Sync + 'static {
    /// The roles of `user`.
    fn user_roles<'a>(&'a self, user: &'a U) -> AuthFuture<'a, Roles>;
}

impl<U, F, Fut, R> UserRoles<U> for F
where
    U: Clone + Send + Sync + 'static,
    F: Fn(U) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: Into<Roles>,
{
    fn user_roles<'a>(&'a self, user: &'a U) -> AuthFuture<'a, Roles> {
        let fut = self(user.clone());
        AuthFuture::new(async move { fut.await.into() })
    }
}

pub(crate) struct SyncUserRoles<F>(pub(crate) F);

impl<U, F, R> UserRoles<U> for SyncUserRoles<F>
where
    F: Fn(&U) -> R + Send + Sync + 'static,
    R: Into<Roles>,
{
    fn user_roles<'a>(&'a self, user: &'a U) -> AuthFuture<'a, Roles> {
        AuthFuture::ready((self.0)(user).into())
    }
}

/// The custom error handler: builds the response for a refused request.
///
/// Whatever it returns is sent as is (status included), except that the scheme's challenge is
/// added when the response has no `WWW-Authenticate` header of its own (a 401 must carry one,
/// RFC 9110 §11.6.1), and the [`AuthError`] is attached to its extensions.
pub trait ErrorHandler: Send + Sync + 'static {
    /// The response for `err`.
    fn error_response(&self, err: &AuthError) -> Response<Bytes>;
}

impl<F> ErrorHandler for F
where
    F: Fn(&AuthError) -> Response<Bytes> + Send + Sync + 'static,
{
    fn error_response(&self, err: &AuthError) -> Response<Bytes> {
        self(err)
    }
}

/// The default error response: the status of the error, body `Unauthorized Access` (as
/// Flask-HTTPAuth) or `Bad Request` for a 400, as `text/plain; charset=utf-8`.
#[must_use]
pub fn default_error_response(err: &AuthError) -> Response<Bytes> {
    let body: &'static str = if err.status() == http::StatusCode::BAD_REQUEST {
        "Bad Request"
    } else {
        "Unauthorized Access"
    };
    let mut response = Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = err.status();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A user callback in one of its two forms: a plain function, called inline (no allocation),
/// or an async one, awaited.
pub(crate) enum Callback<S: ?Sized, A: ?Sized> {
    Sync(Arc<S>),
    Async(Arc<A>),
}

impl<S: ?Sized, A: ?Sized> Callback<S, A> {
    /// Whether calling it may return a pending future.
    pub(crate) fn may_suspend(&self) -> bool {
        matches!(self, Self::Async(_))
    }
}

impl<S: ?Sized, A: ?Sized> Clone for Callback<S, A> {
    fn clone(&self) -> Self {
        match self {
            Self::Sync(f) => Self::Sync(f.clone()),
            Self::Async(f) => Self::Async(f.clone()),
        }
    }
}

/// Configuration every scheme shares: realm, roles callback, error handler.
pub(crate) struct Common<U> {
    pub(crate) realm: Arc<str>,
    pub(crate) roles: Option<Arc<dyn UserRoles<U>>>,
    /// The roles callback is a plain function (`user_roles_sync`): it answers at once.
    pub(crate) roles_sync: bool,
    pub(crate) error_handler: Option<Arc<dyn ErrorHandler>>,
}

impl<U> Clone for Common<U> {
    fn clone(&self) -> Self {
        Self {
            realm: self.realm.clone(),
            roles: self.roles.clone(),
            roles_sync: self.roles_sync,
            error_handler: self.error_handler.clone(),
        }
    }
}

/// Flask-HTTPAuth's default realm.
pub const DEFAULT_REALM: &str = "Authentication Required";

impl<U: 'static> Common<U> {
    pub(crate) fn new() -> Self {
        Self {
            realm: Arc::from(DEFAULT_REALM),
            roles: None,
            roles_sync: true,
            error_handler: None,
        }
    }

    pub(crate) fn user_roles<'a>(&'a self, user: &'a U) -> AuthFuture<'a, Roles> {
        match &self.roles {
            Some(cb) => cb.user_roles(user),
            None => AuthFuture::ready(Roles::default()),
        }
    }

    /// The roles at once when the callback is synchronous (or absent).
    pub(crate) fn user_roles_now(&self, user: &U) -> Option<Roles> {
        if !self.roles_sync {
            return None;
        }
        self.user_roles(user).into_ready().ok()
    }

    pub(crate) fn error_response(&self, err: &AuthError) -> Response<Bytes> {
        match &self.error_handler {
            Some(h) => h.error_response(err),
            None => default_error_response(err),
        }
    }

    /// Validates a realm the way the challenge will quote it.
    pub(crate) fn set_realm(&mut self, realm: &str) -> Result<(), ConfigError> {
        // An empty realm means the default, as in Flask-HTTPAuth.
        let realm = if realm.is_empty() {
            DEFAULT_REALM
        } else {
            realm
        };
        crate::header::quote(realm)
            .map_err(|_| ConfigError::ControlCharacter { param: "realm" })?;
        self.realm = Arc::from(realm);
        Ok(())
    }
}

/// Builder methods every scheme shares. The scheme type must have a `common: Common<U>` field
/// and a `fn rebuild(&mut self) -> Result<(), ConfigError>` that re-renders its challenge.
macro_rules! common_builder_methods {
    ($user:ty) => {
        /// Sets the realm sent in the challenge (default `Authentication Required`; an empty
        /// string also means the default).
        ///
        /// # Panics
        ///
        /// If the realm contains a control character (it would allow header injection). Use
        /// [`try_realm`](Self::try_realm) for realms that come from configuration.
        #[must_use]
        pub fn realm(self, realm: &str) -> Self {
            match self.try_realm(realm) {
                Ok(this) => this,
                Err(err) => panic!("httpauth: invalid realm: {err}"),
            }
        }

        /// Sets the realm, refusing control characters with an error.
        pub fn try_realm(mut self, realm: &str) -> Result<Self, $crate::ConfigError> {
            self.common.set_realm(realm)?;
            self.rebuild()?;
            Ok(self)
        }

        /// The get-user-roles callback: an async closure `Fn(User) -> impl Future<Output =
        /// impl Into<Roles>>` or any [`UserRoles`](crate::UserRoles) implementation. Needed by
        /// routes that require roles.
        #[must_use]
        pub fn user_roles<R>(mut self, roles: R) -> Self
        where
            R: $crate::UserRoles<$user>,
        {
            self.common.roles = Some(::std::sync::Arc::new(roles));
            self.common.roles_sync = false;
            self
        }

        /// The get-user-roles callback as a plain function of the user.
        #[must_use]
        pub fn user_roles_sync<F, R>(mut self, roles: F) -> Self
        where
            F: Fn(&$user) -> R + Send + Sync + 'static,
            R: Into<$crate::Roles>,
        {
            self.common.roles = Some(::std::sync::Arc::new($crate::scheme::SyncUserRoles(roles)));
            self.common.roles_sync = true;
            self
        }

        /// A custom error handler: `Fn(&AuthError) -> http::Response<Bytes>` or any
        /// [`ErrorHandler`](crate::ErrorHandler). The challenge is added unless the response
        /// sets its own `WWW-Authenticate`.
        #[must_use]
        pub fn error_handler<H>(mut self, handler: H) -> Self
        where
            H: $crate::ErrorHandler,
        {
            self.common.error_handler = Some(::std::sync::Arc::new(handler));
            self
        }

        /// The configured realm.
        #[must_use]
        pub fn realm_name(&self) -> &str {
            &self.common.realm
        }

        /// Protects a route with this auth (Flask-HTTPAuth's `login_required`). Add roles,
        /// `optional()` and more on the returned value; it is the tower layer.
        #[must_use]
        pub fn login_required(&self) -> $crate::LoginRequired<$user> {
            $crate::LoginRequired::new(self.clone())
        }
    };
}

pub(crate) use common_builder_methods;

/// `scheme` / `try_scheme` for schemes with a configurable name. The type must have a
/// `scheme: Arc<str>` field and `rebuild()`. `$doc` says which names clients may send.
macro_rules! scheme_name_methods {
    ($doc:literal) => {
        /// Sends the challenge under another scheme name (Flask-HTTPAuth's `scheme=`).
        #[doc = $doc]
        ///
        /// # Panics
        ///
        /// If `scheme` is not an RFC 9110 token; see [`try_scheme`](Self::try_scheme).
        #[must_use]
        pub fn scheme(self, scheme: &str) -> Self {
            match self.try_scheme(scheme) {
                Ok(this) => this,
                Err(err) => panic!("httpauth: invalid scheme: {err}"),
            }
        }

        /// Like [`scheme`](Self::scheme), returning an error for a name that is not a token.
        pub fn try_scheme(mut self, scheme: &str) -> Result<Self, $crate::ConfigError> {
            self.scheme = ::std::sync::Arc::from(scheme);
            self.rebuild()?;
            Ok(self)
        }
    };
}

pub(crate) use scheme_name_methods;
