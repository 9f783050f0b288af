//! [`LoginRequired`]: the per-route policy (Flask-HTTPAuth's `login_required`), framework
//! agnostic. The tower layer and the other adapters only move requests in and responses out.
//!
//! For every request:
//!
//! 1. `OPTIONS` passes without authentication (configurable).
//! 2. More than one `Authorization` header: 400, no credential is tried.
//! 3. The first scheme that [claims](crate::Scheme::claims) the request authenticates it; when
//!    none does, the request has no credentials (401 with every scheme's challenge).
//! 4. A route with a [`RoleRequirement`] asks the scheme for the user's roles: 403 when they
//!    do not match.
//! 5. Success: the [`Identity`] goes into the request extensions and the handler runs.
//!    Failure: the scheme's error response, its challenge unless the response set one, the
//!    [`AuthError`] in the response extensions, and a `tracing` event (never the password).
//!    With [`optional`](LoginRequired::optional) the handler runs anyway.
//!
//! ```
//! use httpauth::{BasicAuth, Decision, AuthRequest};
//!
//! let auth = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then(|| u.to_owned()))
//!     .user_roles_sync(|_user: &String| "user");
//! let admin = auth.login_required().role("admin");
//!
//! let req = http::Request::get("/admin")
//!     .header("authorization", "Basic am9objpoZWxsbw==")
//!     .body(())
//!     .unwrap();
//! let (parts, ()) = req.into_parts();
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! match admin.check(AuthRequest::from_parts(&parts)).await {
//!     Decision::Deny(res) => {
//!         assert_eq!(res.status(), 403);
//!         assert_eq!(res.headers()["www-authenticate"], r#"Basic realm="Authentication Required""#);
//!     }
//!     _ => panic!("john is not an admin"),
//! }
//! # });
//! ```

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::header::WWW_AUTHENTICATE;
use http::{Method, Response};

use crate::error::{AuthError, AuthErrorKind};
use crate::roles::{RoleRequirement, Roles};
use crate::scheme::{AuthRequest, Identity, Scheme};

/// The outcome of [`LoginRequired::check`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Decision<U> {
    /// Run the handler.
    Allow {
        /// Who authenticated (`None`: anonymous on an optional route, or an unauthenticated
        /// `OPTIONS`).
        identity: Option<Identity<U>>,
        /// Why authentication failed, on an optional route.
        error: Option<AuthError>,
    },
    /// Answer with this response; the handler does not run.
    Deny(Response<Bytes>),
}

/// Protects routes: one or several schemes, a role requirement, optional or not. It is also
/// the tower [`Layer`](tower_layer::Layer). See the [module docs](self).
pub struct LoginRequired<U> {
    members: Vec<Arc<dyn Scheme<User = U>>>,
    /// The members' names, shared with every error (no allocation per failure).
    names: Vec<Arc<str>>,
    roles: Option<RoleRequirement>,
    optional: bool,
    skip_options: bool,
}

impl<U> Clone for LoginRequired<U> {
    fn clone(&self) -> Self {
        Self {
            members: self.members.clone(),
            names: self.names.clone(),
            roles: self.roles.clone(),
            optional: self.optional,
            skip_options: self.skip_options,
        }
    }
}

impl<U: Clone + Send + Sync + 'static> fmt::Debug for LoginRequired<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequired")
            .field(
                "schemes",
                &self.members.iter().map(|m| m.name()).collect::<Vec<_>>(),
            )
            .field("roles", &self.roles)
            .field("optional", &self.optional)
            .field("skip_options", &self.skip_options)
            .finish()
    }
}

impl<U: Clone + Send + Sync + 'static> LoginRequired<U> {
    /// Protects with one scheme.
    pub fn new<S: Scheme<User = U>>(scheme: S) -> Self {
        Self::with_schemes(vec![Arc::new(scheme)])
    }

    /// Protects with several schemes; the first that claims a request handles it, and a request
    /// no scheme claims is answered with every scheme's challenge, in this order.
    ///
    /// # Panics
    ///
    /// If `schemes` is empty.
    #[must_use]
    pub fn with_schemes(schemes: Vec<Arc<dyn Scheme<User = U>>>) -> Self {
        assert!(
            !schemes.is_empty(),
            "httpauth: LoginRequired needs at least one scheme"
        );
        Self {
            names: schemes.iter().map(|m| Arc::from(m.name())).collect(),
            members: schemes,
            roles: None,
            optional: false,
            skip_options: true,
        }
    }

    /// Requires a role, a list of alternatives or nested all-of lists (see [`RoleRequirement`]).
    ///
    /// # Panics
    ///
    /// If a scheme has no get-user-roles callback: the route could never be entered
    /// (Flask-HTTPAuth answers every request with a 500 then).
    #[must_use]
    pub fn role(mut self, requirement: impl Into<RoleRequirement>) -> Self {
        if let Some(m) = self.members.iter().find(|m| !m.has_user_roles()) {
            panic!(
                "httpauth: the {} auth has no user_roles callback, so a route requiring roles could never be entered",
                m.name()
            );
        }
        self.roles = Some(requirement.into());
        self
    }

    /// Requires any one of these roles.
    ///
    /// # Panics
    ///
    /// As [`role`](Self::role).
    #[must_use]
    pub fn any_role<I, S>(self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.role(RoleRequirement::any_of(roles))
    }

    /// Never refuses: anonymous requests, wrong credentials and failed role checks all reach the
    /// handler (as Flask-HTTPAuth's `optional=True`). The handler gets the user only when
    /// authentication succeeded (also when only the role check failed, as in Flask-HTTPAuth),
    /// and the [`AuthError`] in the request extensions when something failed.
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// Whether `OPTIONS` requests are authenticated too (default: `false`, they pass without
    /// credentials, as in Flask-HTTPAuth, so CORS preflights work). `HEAD` is always
    /// authenticated. A handler that serves `OPTIONS` on a protected route gets no user: it
    /// must take `Option<CurrentUser<U>>` (a plain `CurrentUser<U>` answers 500 there).
    #[must_use]
    pub fn authenticate_options(mut self, yes: bool) -> Self {
        self.skip_options = !yes;
        self
    }

    /// Decides without waiting when the handling scheme can answer at once
    /// ([`Scheme::authenticate_now`]: parse errors, sync callbacks, cache hits) and the roles
    /// are ready; the adapters' fast path. Nothing is done twice: a deferred request has not
    /// been authenticated yet, and an authenticated one only waits for its roles.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn check_now(&self, req: AuthRequest<'_>) -> Now<U> {
        if self.skip_options && req.method == Method::OPTIONS {
            return Now::Decided(Decision::Allow {
                identity: None,
                error: None,
            });
        }
        if req.has_several_authorizations() {
            return Now::Decided(self.decide(None, Err((None, duplicate()))));
        }
        let Some(index) = self.select(&req) else {
            return Now::Decided(self.decide(None, Err((None, AuthError::missing()))));
        };
        let scheme = &self.members[index];
        if scheme.body_limit(&req).is_some() {
            return Now::Defer;
        }
        let identity = match scheme.authenticate_now(req) {
            None => return Now::Defer,
            Some(Err(err)) => return Now::Decided(self.decide(Some(index), Err((None, err)))),
            Some(Ok(identity)) => identity,
        };
        let Some(requirement) = &self.roles else {
            return Now::Decided(self.decide(Some(index), Ok(identity)));
        };
        match scheme.user_roles_now(&identity.user) {
            Some(roles) => Now::Decided(self.decide_roles(index, identity, requirement, &roles)),
            None => Now::Roles { index, identity },
        }
    }

    /// The rest of [`check_now`](Self::check_now) when only the roles had to be awaited.
    pub(crate) async fn finish_roles(&self, index: usize, identity: Identity<U>) -> Decision<U> {
        let Some(requirement) = &self.roles else {
            return self.decide(Some(index), Ok(identity));
        };
        let roles = self.members[index].user_roles(&identity.user).await;
        self.decide_roles(index, identity, requirement, &roles)
    }

    /// Runs the policy on a request head.
    pub async fn check(&self, req: AuthRequest<'_>) -> Decision<U> {
        if self.skip_options && req.method == Method::OPTIONS {
            return Decision::Allow {
                identity: None,
                error: None,
            };
        }
        if req.has_several_authorizations() {
            return self.decide(None, Err((None, duplicate())));
        }
        let Some(index) = self.select(&req) else {
            return self.decide(None, Err((None, AuthError::missing())));
        };
        match self.members[index].authenticate(req).await {
            Ok(identity) => self.finish_roles(index, identity).await,
            Err(err) => self.decide(Some(index), Err((None, err))),
        }
    }

    fn decide_roles(
        &self,
        index: usize,
        identity: Identity<U>,
        requirement: &RoleRequirement,
        roles: &Roles,
    ) -> Decision<U> {
        if requirement.is_satisfied_by(roles) {
            self.decide(Some(index), Ok(identity))
        } else {
            let err = AuthError::new(AuthErrorKind::Forbidden);
            self.decide(Some(index), Err((Some(identity), err)))
        }
    }

    /// The decision for an outcome: allow, allow anyway (optional), or the rejection.
    #[allow(clippy::type_complexity)]
    fn decide(
        &self,
        selected: Option<usize>,
        result: Result<Identity<U>, (Option<Identity<U>>, AuthError)>,
    ) -> Decision<U> {
        let (identity, err) = match result {
            Ok(identity) => {
                return Decision::Allow {
                    identity: Some(identity),
                    error: None,
                }
            }
            Err(failure) => failure,
        };
        let err = match selected {
            Some(i) => err.with_scheme(self.names[i].clone()),
            None => err,
        };
        if self.optional {
            return Decision::Allow {
                identity,
                error: Some(err),
            };
        }
        trace_failure(&err);
        Decision::Deny(self.reject(selected, err))
    }

    /// The scheme that handles `req`: the first that claims it.
    fn select(&self, req: &AuthRequest<'_>) -> Option<usize> {
        self.members.iter().position(|m| m.claims(req))
    }

    /// Whether the scheme that will handle `req` needs its body, and how much it accepts (see
    /// [`Scheme::body_limit`]). Adapters call this before [`check`](Self::check).
    #[must_use]
    pub fn body_limit(&self, req: AuthRequest<'_>) -> Option<usize> {
        if self.skip_options && req.method == Method::OPTIONS {
            return None;
        }
        self.select(&req)
            .and_then(|i| self.members[i].body_limit(&req))
    }

    /// The rejection for a body the adapter could not buffer: 413 when it was larger than
    /// [`body_limit`](Self::body_limit), 400 when it could not be read.
    #[must_use]
    pub fn reject_body(&self, req: AuthRequest<'_>, too_large: bool) -> Response<Bytes> {
        let selected = self.select(&req);
        let err = if too_large {
            AuthError::new(AuthErrorKind::BodyTooLarge)
        } else {
            AuthError::new(AuthErrorKind::BadRequest)
                .with_detail("the request body could not be read")
        };
        trace_failure(&err);
        self.reject(selected, err)
    }

    /// The rejection: the handling scheme's error response (the first scheme's when none
    /// claimed the request), its challenge (every scheme's when none claimed it) unless the
    /// response carries its own, and the error in the extensions.
    fn reject(&self, selected: Option<usize>, err: AuthError) -> Response<Bytes> {
        let handler = &self.members[selected.unwrap_or(0)];
        let mut response = handler.error_response(&err);
        if !response.headers().contains_key(WWW_AUTHENTICATE) {
            match selected {
                Some(_) => handler.challenge(&err, response.headers_mut()),
                None => {
                    for member in &self.members {
                        member.challenge(&err, response.headers_mut());
                    }
                }
            }
        }
        response.extensions_mut().insert(err);
        response
    }
}

fn duplicate() -> AuthError {
    AuthError::new(AuthErrorKind::DuplicateCredentials)
        .with_detail("more than one Authorization header")
}

/// What [`LoginRequired::check_now`] could decide without waiting.
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
pub(crate) enum Now<U> {
    /// The decision.
    Decided(Decision<U>),
    /// Authenticated; the roles must be awaited ([`LoginRequired::finish_roles`]).
    Roles { index: usize, identity: Identity<U> },
    /// Nothing was done: run [`LoginRequired::check`] (after buffering the body if needed).
    Defer,
}

fn trace_failure(err: &AuthError) {
    // Never the credentials: the error holds none.
    if err.kind() == AuthErrorKind::MissingCredentials {
        tracing::debug!(target: "httpauth", status = err.status().as_u16(), reason = err.reason(), "no credentials");
    } else {
        tracing::info!(
            target: "httpauth",
            status = err.status().as_u16(),
            reason = err.reason(),
            detail = err.detail().unwrap_or(""),
            scheme = err.scheme().unwrap_or(""),
            "authentication refused"
        );
    }
}
