//! The current user, for handlers: [`CurrentUser<U>`] and [`Username`].
//!
//! After a successful authentication the request extensions hold `CurrentUser<U>` (the user
//! your verify callback returned) and, for schemes with a username (Basic, Digest),
//! [`Username`]. With the `axum` feature both are extractors, and `Option<CurrentUser<U>>` is
//! the extractor for [optional](crate::LoginRequired::optional) routes (`None` for anonymous
//! requests). The extractors run after the auth layer, so a route's role check always comes
//! before them.
//!
//! ```
//! use axum::{routing::get, Router};
//! use httpauth::{BasicAuth, CurrentUser, Username};
//! # use tower::ServiceExt;
//!
//! let auth = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then_some(42_u32));
//! let app: Router = Router::new()
//!     .route("/id", get(|CurrentUser(id): CurrentUser<u32>, Username(name): Username| async move {
//!         format!("{name} is {id}")
//!     }))
//!     .route("/maybe", get(|user: Option<CurrentUser<u32>>| async move {
//!         format!("{:?}", user.map(|u| u.0))
//!     }))
//!     .route_layer(auth.login_required().optional());
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let res = app.oneshot(http::Request::get("/maybe").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 200);
//! let body = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes();
//! assert_eq!(body, "None");
//! # });
//! ```

#![cfg_attr(not(any(feature = "tower", feature = "actix")), allow(dead_code))]

use http::{Extensions, HeaderMap};

use crate::scheme::Identity;

/// The authenticated user, as returned by the verify callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser<U>(pub U);

/// The username from the credentials (Basic, Digest), also when the callback returned no
/// user object of its own (Flask-HTTPAuth's `auth.username()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(pub String);

/// What every adapter records beside [`CurrentUser`]: the username, and the user type, so a
/// handler asking for another type learns which one the route has.
#[derive(Debug, Clone)]
pub(crate) struct AuthInfo {
    username: Option<String>,
    user_type: &'static str,
}

/// What an identity becomes in the request extensions (the same two entries in every
/// adapter), and the headers the scheme adds to the successful response.
pub(crate) fn identity_entries<U: 'static>(
    identity: Identity<U>,
) -> (CurrentUser<U>, AuthInfo, Option<Box<HeaderMap>>) {
    let info = AuthInfo {
        username: identity.username,
        user_type: std::any::type_name::<U>(),
    };
    (CurrentUser(identity.user), info, identity.response_headers)
}

/// Puts an identity into `http` request extensions; returns the headers for the response.
pub(crate) fn insert_identity<U: Clone + Send + Sync + 'static>(
    extensions: &mut Extensions,
    identity: Identity<U>,
) -> Option<Box<HeaderMap>> {
    let (user, info, headers) = identity_entries(identity);
    extensions.insert(user);
    extensions.insert(info);
    headers
}

/// The current user of type `U`, or why it is not there.
pub(crate) fn current_user<U: Clone + 'static>(
    user: Option<&CurrentUser<U>>,
    info: Option<&AuthInfo>,
) -> Result<CurrentUser<U>, MissingAuthLayer> {
    user.cloned()
        .ok_or_else(|| MissingAuthLayer::new(std::any::type_name::<U>(), info))
}

/// The username, or why it is not there.
pub(crate) fn username(info: Option<&AuthInfo>) -> Result<Username, MissingAuthLayer> {
    info.and_then(|info| info.username.clone())
        .map(Username)
        .ok_or_else(|| MissingAuthLayer::new("Username", info))
}

/// The handler asked for something the request does not carry: a programming error (no
/// httpauth layer on the route, another user type, a `Username` on a token route, or a plain
/// `CurrentUser<U>` on an optional route), answered with 500 and logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingAuthLayer {
    wanted: &'static str,
    found: Option<&'static str>,
}

impl MissingAuthLayer {
    fn new(wanted: &'static str, info: Option<&AuthInfo>) -> Self {
        Self {
            wanted,
            found: info.map(|info| info.user_type),
        }
    }

    /// The type the handler asked for (`CurrentUser<this>`, or `Username`).
    #[must_use]
    pub fn wanted(&self) -> &'static str {
        self.wanted
    }

    /// The user type the request was authenticated with, when it was.
    #[must_use]
    pub fn found(&self) -> Option<&'static str> {
        self.found
    }
}

impl std::fmt::Display for MissingAuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.found {
            Some(found) if self.wanted == "Username" => write!(
                f,
                "the handler asked for the Username, but the request was authenticated by a scheme without usernames (user type {found})"
            ),
            Some(found) => write!(
                f,
                "the handler asked for CurrentUser<{}>, but the route's httpauth layer authenticates CurrentUser<{found}>",
                self.wanted
            ),
            None => write!(
                f,
                "the handler asked for {}, but no httpauth layer authenticated this request: none protects the route, or it is optional or an OPTIONS request (use Option<CurrentUser<U>>)",
                if self.wanted == "Username" { "the Username".to_owned() } else { format!("CurrentUser<{}>", self.wanted) }
            ),
        }
    }
}

impl std::error::Error for MissingAuthLayer {}

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use self::axum_impls::IntoResponseHandler;

#[cfg(feature = "axum")]
mod axum_impls {
    use std::convert::Infallible;

    use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
    use axum_core::response::{IntoResponse, Response};
    use http::request::Parts;
    use http::StatusCode;

    use super::{CurrentUser, MissingAuthLayer, Username};

    impl IntoResponse for MissingAuthLayer {
        fn into_response(self) -> Response {
            tracing::error!(target: "httpauth", "{self}");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
        }
    }

    impl<S: Send + Sync, U: Clone + Send + Sync + 'static> FromRequestParts<S> for CurrentUser<U> {
        type Rejection = MissingAuthLayer;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Self, Self::Rejection> {
            super::current_user(parts.extensions.get(), parts.extensions.get())
        }
    }

    impl<S: Send + Sync, U: Clone + Send + Sync + 'static> OptionalFromRequestParts<S>
        for CurrentUser<U>
    {
        type Rejection = Infallible;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Option<Self>, Self::Rejection> {
            Ok(super::current_user(parts.extensions.get(), parts.extensions.get()).ok())
        }
    }

    impl<S: Send + Sync> FromRequestParts<S> for Username {
        type Rejection = MissingAuthLayer;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Self, Self::Rejection> {
            super::username(parts.extensions.get())
        }
    }

    impl<S: Send + Sync> OptionalFromRequestParts<S> for Username {
        type Rejection = Infallible;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Option<Self>, Self::Rejection> {
            Ok(super::username(parts.extensions.get()).ok())
        }
    }

    /// An error handler written with axum's types: a closure `Fn(&AuthError) -> impl
    /// IntoResponse` (`Json(...)`, `(StatusCode, String)`, a whole `Response`...). Pass it to
    /// [`error_handler`](crate::Auth::error_handler). The response's body is read at once
    /// (error bodies are in memory; a body that is streamed, or larger than 64 KiB, is a
    /// programming error answered 500 and logged).
    ///
    /// ```
    /// use axum::{routing::get, Json, Router};
    /// use httpauth::{AuthError, BasicAuth, IntoResponseHandler};
    /// # use tower::ServiceExt;
    ///
    /// let auth = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then_some(()))
    ///     .error_handler(IntoResponseHandler(|err: &AuthError| {
    ///         (err.status(), Json(serde_json::json!({ "error": err.status().canonical_reason() })))
    ///     }));
    /// let app: Router = Router::new().route("/", get(|| async { "hi" })).route_layer(auth.login_required());
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let res = app.oneshot(http::Request::new(axum::body::Body::empty())).await.unwrap();
    /// assert_eq!(res.status(), 401);
    /// assert_eq!(res.headers()["content-type"], "application/json");
    /// assert_eq!(res.headers()["www-authenticate"], r#"Basic realm="Authentication Required""#);
    /// # });
    /// ```
    #[derive(Clone, Copy, Debug)]
    pub struct IntoResponseHandler<F>(pub F);

    impl<F, R> crate::ErrorHandler for IntoResponseHandler<F>
    where
        F: Fn(&crate::AuthError) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        fn error_response(&self, err: &crate::AuthError) -> http::Response<bytes::Bytes> {
            in_memory((self.0)(err).into_response())
        }
    }

    /// The largest error body an [`IntoResponseHandler`] may produce.
    const MAX_ERROR_BODY: usize = 64 * 1024;

    /// An axum response with its (in-memory) body read out, without waiting.
    fn in_memory(response: Response) -> http::Response<bytes::Bytes> {
        use http_body::Body as _;
        let (parts, mut body) = response.into_parts();
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut buf = bytes::BytesMut::new();
        loop {
            match std::pin::Pin::new(&mut body).poll_frame(&mut cx) {
                std::task::Poll::Ready(None) => break,
                std::task::Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        buf.extend_from_slice(&data);
                        if buf.len() <= MAX_ERROR_BODY {
                            continue;
                        }
                    } else {
                        continue;
                    }
                }
                std::task::Poll::Ready(Some(Err(_))) | std::task::Poll::Pending => {}
            }
            tracing::error!(target: "httpauth", "the error handler's response body is streamed, failed or is larger than 64 KiB; answering 500");
            let mut response =
                http::Response::new(bytes::Bytes::from_static(b"Internal Server Error"));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return response;
        }
        http::Response::from_parts(parts, buf.freeze())
    }

    /// An [`AuthError`](crate::AuthError) answers with its status and the default body (no
    /// challenge: use it for errors raised after the layer, e.g. in a handler).
    impl IntoResponse for crate::AuthError {
        fn into_response(self) -> Response {
            let response = crate::scheme::default_error_response(&self);
            let (mut parts, body) = response.into_parts();
            parts.extensions.insert(self);
            Response::from_parts(parts, axum_core::body::Body::from(body))
        }
    }
}
