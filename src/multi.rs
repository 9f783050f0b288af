//! Several schemes on one route (Flask-HTTPAuth's `MultiAuth`).
//!
//! The scheme is chosen by the credentials the client sent: the first member, in the
//! configured order, whose scheme word matches `Authorization` (ignoring case) or whose custom
//! header is present. Only that member verifies the request, and only its error handler and
//! challenge answer a failure; there is no fallback to another member. A request that no member
//! claims (no credentials, or an unknown scheme) gets a 401 carrying **every** member's
//! challenge, one per `WWW-Authenticate` line, in the configured order (RFC 9110 §11.6.1), and
//! the `MultiAuth`'s own error handler (else the first member's). Roles and `optional` work as
//! on a single scheme. A roles callback or error handler set on the `MultiAuth` serves every
//! member without one of its own, so a route answers alike whichever scheme the client chose;
//! a member's own setting still wins (the Flask-HTTPAuth style). All members return the same user type, so
//! [`CurrentUser`](crate::CurrentUser) works whichever member authenticated.
//!
//! ```
//! use axum::{routing::get, Router};
//! use httpauth::{BasicAuth, CurrentUser, MultiAuth, TokenAuth};
//! # use tower::ServiceExt;
//!
//! let basic = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then(|| u.to_owned()));
//! let token = TokenAuth::verify_token_sync(|t| (t == "secret-token-2").then(|| "susan".to_owned()));
//! let multi = MultiAuth::new(basic).or(token);
//!
//! let app: Router = Router::new().route(
//!     "/",
//!     get(|CurrentUser(user): CurrentUser<String>| async move { format!("Hello, {user}!") })
//!         .route_layer(multi.login_required()),
//! );
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let res = app.clone().oneshot(http::Request::new(axum::body::Body::empty())).await.unwrap();
//! assert_eq!(res.status(), 401);
//! let challenges: Vec<_> = res.headers().get_all("www-authenticate").iter().collect();
//! assert_eq!(challenges, [r#"Basic realm="Authentication Required""#, r#"Bearer realm="Authentication Required""#]);
//!
//! let req = http::Request::builder()
//!     .header("authorization", "bearer secret-token-2")
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! assert_eq!(app.oneshot(req).await.unwrap().status(), 200);
//! # });
//! ```
//!
//! Deviations from Flask-HTTPAuth, each on purpose: the scheme is matched ignoring case (Flask
//! compares it case-sensitively, so `bearer x` went to its Basic auth and failed); a request no
//! member claims is answered with every member's challenge (Flask sends only the first's).

use std::fmt;

use crate::auth::{Auth, Kind};
use crate::policy::{LoginRequired, Member};
use crate::scheme::Scheme;

/// Several schemes on one route: what [`MultiAuth`] wraps.
pub struct Multi<U> {
    members: Vec<Member<U>>,
}

impl<U> Clone for Multi<U> {
    fn clone(&self) -> Self {
        Self {
            members: self.members.clone(),
        }
    }
}

impl<U> fmt::Debug for Multi<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Multi")
            .field(
                "schemes",
                &self.members.iter().map(Member::name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<U: Clone + Send + Sync + 'static> Kind for Multi<U> {
    type User = U;
}

impl<U: Clone + Send + Sync + 'static> Auth<Multi<U>> {
    /// Starts with the main scheme (its challenge comes first). The [`MultiAuth`]'s throttle
    /// and [`Usernames`](crate::Usernames) rule are its own (by default a throttle of its
    /// own), not the members'.
    pub fn new<S: Scheme<User = U> + Clone>(main: Auth<S>) -> Self {
        Self::from_scheme(Multi {
            members: vec![main.member()],
        })
    }

    /// Adds another scheme, tried after the ones before it.
    #[must_use]
    pub fn or<S: Scheme<User = U> + Clone>(mut self, auth: Auth<S>) -> Self {
        self.kind.members.push(auth.member());
        self
    }

    /// Protects a route with these schemes; add roles and `optional()` on the result.
    #[must_use]
    pub fn login_required(&self) -> LoginRequired<U> {
        LoginRequired::from_members(self.kind.members.clone(), self.shared())
    }
}

/// Several schemes on one route: [`Auth`] over [`Multi`]. Made with
/// [`MultiAuth::new`](crate::Auth::new) and `.or(...)`; its roles callback and error handler
/// serve every member that has none of its own. See the [module docs](self).
pub type MultiAuth<U = String> = crate::Auth<Multi<U>>;
