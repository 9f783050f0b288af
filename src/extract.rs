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

use http::Extensions;

use crate::scheme::Identity;

/// The authenticated user, as returned by the verify callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser<U>(pub U);

/// The username from the credentials (Basic, Digest), also when the callback returned no
/// user object of its own (Flask-HTTPAuth's `auth.username()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(pub String);

/// Puts an identity into request extensions, the way every adapter does.
pub fn insert_identity<U: Clone + Send + Sync + 'static>(
    extensions: &mut Extensions,
    identity: Identity<U>,
) {
    extensions.insert(CurrentUser(identity.user));
    if let Some(name) = identity.username {
        extensions.insert(Username(name));
    }
}

/// The route has no auth layer in front of the handler that asked for the user: a
/// programming error, answered with 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingAuthLayer;

impl std::fmt::Display for MissingAuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the handler asked for the authenticated user, but no httpauth layer protects this route (or it is optional: use Option<CurrentUser<U>>)")
    }
}

impl std::error::Error for MissingAuthLayer {}

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

    /// `FromRequestParts` (missing: 500, the route has no auth layer) and
    /// `OptionalFromRequestParts` (missing: `None`) from the request extensions.
    macro_rules! extension_extractor {
        ([$($generics:tt)*] $ty:ty) => {
            impl<S: Send + Sync, $($generics)*> FromRequestParts<S> for $ty {
                type Rejection = MissingAuthLayer;

                async fn from_request_parts(
                    parts: &mut Parts,
                    _state: &S,
                ) -> Result<Self, Self::Rejection> {
                    parts.extensions.get::<Self>().cloned().ok_or(MissingAuthLayer)
                }
            }

            impl<S: Send + Sync, $($generics)*> OptionalFromRequestParts<S> for $ty {
                type Rejection = Infallible;

                async fn from_request_parts(
                    parts: &mut Parts,
                    _state: &S,
                ) -> Result<Option<Self>, Self::Rejection> {
                    Ok(parts.extensions.get::<Self>().cloned())
                }
            }
        };
    }

    extension_extractor!([U: Clone + Send + Sync + 'static] CurrentUser<U>);
    extension_extractor!([] Username);
}
