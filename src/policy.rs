//! [`LoginRequired`]: the route's policy (Flask-HTTPAuth's `login_required`), framework
//! agnostic. The tower layer and the actix middleware only move requests in and responses out.
//!
//! For every request, one path:
//!
//! 1. `OPTIONS` passes without authentication (configurable).
//! 2. More than one `Authorization` header: 400, no credential is tried.
//! 3. The first scheme that [claims](crate::scheme::Scheme::claims) the request authenticates
//!    it (its callback runs once); when none does, the request has no credentials (401 with
//!    every scheme's challenge). While the [`Throttle`] holds failure records, it is asked
//!    before the callback runs (by the scheme once it has parsed the username, see
//!    [`Scheme::admits`], or by the policy first): over a
//!    limit, 429 with `Retry-After`. A wrong secret counts; a success resets the username.
//! 4. A route with a [`RoleRequirement`] asks the roles callback (the scheme's own, else the
//!    route's) once: 403 when they do not match.
//! 5. Success: the identity goes into the request extensions and the handler runs; headers the
//!    scheme added (Digest's `Authentication-Info`) go onto its response. Failure: the error
//!    handler's response (the scheme's own, else the route's, else the default), the
//!    challenge unless the response set one, the [`AuthError`] in the response extensions,
//!    and a `tracing` event (never the password). With [`optional`](LoginRequired::optional)
//!    the handler runs anyway.
//!
//! A scheme that needs the body first (Digest `auth-int`) makes `check` answer
//! [`Decision::ReadBody`]; the adapter buffers it and checks again.
//!
//! Every step answers at once when the callbacks do (an [`AuthFuture::ready`]): the adapters
//! then decide inline and box nothing on the way to the handler (a refusal's response is
//! boxed); only real waiting is boxed.
//!
//! ```
//! use httpauth::scheme::{AuthRequest, Decision};
//! use httpauth::BasicAuth;
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
//! let decision = admin.check(&AuthRequest::new(&parts));
//! match decision.into_ready() {
//!     Ok(Decision::Deny(res)) => {
//!         assert_eq!(res.status(), 403);
//!         assert_eq!(res.headers()["www-authenticate"], r#"Basic realm="Authentication Required""#);
//!     }
//!     _ => panic!("john is not an admin, and a sync callback answers at once"),
//! }
//! ```

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response};

use std::net::IpAddr;

use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::roles::{RoleRequirement, Roles};
use crate::scheme::{
    default_error_response, AuthFuture, AuthRequest, ErrorHandler, Identity, Scheme, UserRoles,
};
use crate::throttle::{retry_after_secs, Keys, Throttle};

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
    /// The handling scheme needs the request body (Digest `auth-int`): buffer at most `limit`
    /// bytes within `timeout` (answer [`LoginRequired::reject_body`] otherwise), then call
    /// [`check`](LoginRequired::check) again with [`AuthRequest::with_body`]. Only the checks
    /// that need no callback and no body have passed yet.
    #[non_exhaustive]
    ReadBody {
        /// The most bytes the scheme accepts.
        limit: usize,
        /// How long the body may take to arrive ([`LoginRequired::body_timeout`]).
        timeout: std::time::Duration,
    },
}

/// One scheme on a route, with its own roles callback and error handler (when it has them).
pub(crate) struct Member<U> {
    scheme: Arc<dyn Scheme<User = U>>,
    /// The scheme's name, shared with every error (no allocation per failure).
    name: Arc<str>,
    roles: Option<Arc<dyn UserRoles<U>>>,
    error_handler: Option<Arc<dyn ErrorHandler>>,
}

impl<U> Clone for Member<U> {
    fn clone(&self) -> Self {
        Self {
            scheme: self.scheme.clone(),
            name: self.name.clone(),
            roles: self.roles.clone(),
            error_handler: self.error_handler.clone(),
        }
    }
}

impl<U: Clone + Send + Sync + 'static> Member<U> {
    pub(crate) fn new(
        scheme: Arc<dyn Scheme<User = U>>,
        roles: Option<Arc<dyn UserRoles<U>>>,
        error_handler: Option<Arc<dyn ErrorHandler>>,
    ) -> Self {
        Self {
            name: Arc::from(scheme.name()),
            scheme,
            roles,
            error_handler,
        }
    }
}

impl<U> Member<U> {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

struct Policy<U> {
    members: Vec<Member<U>>,
    /// The route's roles callback and error handler: for members without their own.
    roles: Option<Arc<dyn UserRoles<U>>>,
    error_handler: Option<Arc<dyn ErrorHandler>>,
    requirement: Option<RoleRequirement>,
    optional: bool,
    skip_options: bool,
    throttle: Option<Throttle>,
    body_timeout: std::time::Duration,
}

/// By hand: `U` itself need not be `Clone` for a policy to be copied (`Arc::make_mut`, when a
/// builder call edits a policy routes already share).
impl<U> Clone for Policy<U> {
    fn clone(&self) -> Self {
        Self {
            members: self.members.clone(),
            roles: self.roles.clone(),
            error_handler: self.error_handler.clone(),
            requirement: self.requirement.clone(),
            optional: self.optional,
            skip_options: self.skip_options,
            throttle: self.throttle.clone(),
            body_timeout: self.body_timeout,
        }
    }
}

/// Why an adapter could not buffer a body the scheme needs ([`LoginRequired::reject_body`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyFailure {
    /// Larger than the scheme's limit: `413`.
    TooLarge,
    /// The body could not be read: `400`.
    Unreadable,
    /// It did not arrive within the timeout: `408`.
    TimedOut,
}

/// How long a body a scheme needs (Digest `auth-int`) may take to arrive, by default.
pub const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Who tried: for the throttle's keys and the refusal event. Only made on the paths that need
/// it (failures, a throttle with records, awaited callbacks).
#[derive(Debug, Default)]
pub(crate) struct Attempt {
    username: Option<String>,
    addr: Option<IpAddr>,
    /// The throttle's keys for both, computed once (none without a throttle).
    keys: Keys,
}

/// The throttle check a scheme asks for through [`AuthRequest::admit`] (see
/// [`Scheme::admits`]): it records who tried, for the count after the verdict.
struct Gate<'p, 'r, U> {
    policy: &'p Policy<U>,
    req: AuthRequest<'r>,
    attempt: std::cell::RefCell<Option<Attempt>>,
}

impl<U: Clone + Send + Sync + 'static> crate::scheme::Admission for Gate<'_, '_, U> {
    fn admit(&self, username: Option<&str>) -> Result<(), AuthError> {
        let (attempt, refusal) = self.policy.admit(&self.req, username.map(str::to_owned));
        *self.attempt.borrow_mut() = Some(attempt);
        refusal.map_or(Ok(()), Err)
    }
}

/// Protects routes: one or several schemes, a role requirement, optional or not. It is the
/// tower [`Layer`](tower_layer::Layer) and (feature `actix`) the actix-web middleware. Made by
/// [`Auth::login_required`](crate::Auth::login_required). See the [module docs](self).
pub struct LoginRequired<U> {
    policy: Arc<Policy<U>>,
}

impl<U> Clone for LoginRequired<U> {
    fn clone(&self) -> Self {
        Self {
            policy: self.policy.clone(),
        }
    }
}

impl<U> fmt::Debug for LoginRequired<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.policy;
        f.debug_struct("LoginRequired")
            .field(
                "schemes",
                &p.members.iter().map(Member::name).collect::<Vec<_>>(),
            )
            .field("roles", &p.requirement)
            .field("optional", &p.optional)
            .field("skip_options", &p.skip_options)
            .finish()
    }
}

impl<U: Clone + Send + Sync + 'static> LoginRequired<U> {
    pub(crate) fn from_members(
        members: Vec<Member<U>>,
        roles: Option<Arc<dyn UserRoles<U>>>,
        error_handler: Option<Arc<dyn ErrorHandler>>,
    ) -> Self {
        crate::extract::register_user_type::<U>();
        Self {
            policy: Arc::new(Policy {
                members,
                roles,
                error_handler,
                requirement: None,
                optional: false,
                skip_options: true,
                throttle: Some(Throttle::shared()),
                body_timeout: DEFAULT_BODY_TIMEOUT,
            }),
        }
    }

    /// The policy to change: routes share theirs once built, so a builder call on a shared one
    /// copies it (only at configuration time).
    fn edit(mut self, f: impl FnOnce(&mut Policy<U>)) -> Self {
        f(Arc::make_mut(&mut self.policy));
        self
    }

    /// Requires a role, a list of alternatives or nested all-of lists (see
    /// [`RoleRequirement`]).
    ///
    /// # Panics
    ///
    /// If a scheme on the route has no get-user-roles callback (neither its own nor the
    /// route's): the route could never be entered. [`try_role`](Self::try_role) returns the
    /// error instead.
    #[must_use]
    pub fn role(self, requirement: impl Into<RoleRequirement>) -> Self {
        self.try_role(requirement)
            .unwrap_or_else(|err| panic!("httpauth: {err}"))
    }

    /// Like [`role`](Self::role), returning [`ConfigError::MissingUserRoles`] instead of
    /// panicking.
    ///
    /// # Errors
    ///
    /// When a scheme on the route has no roles callback.
    pub fn try_role(self, requirement: impl Into<RoleRequirement>) -> Result<Self, ConfigError> {
        let p = &self.policy;
        if p.roles.is_none() {
            if let Some(m) = p.members.iter().find(|m| m.roles.is_none()) {
                return Err(ConfigError::MissingUserRoles {
                    scheme: m.name.to_string(),
                });
            }
        }
        let requirement = requirement.into();
        Ok(self.edit(|p| p.requirement = Some(requirement)))
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
    pub fn optional(self) -> Self {
        self.edit(|p| p.optional = true)
    }

    /// Whether `OPTIONS` requests are authenticated too (default: `false`, they pass without
    /// credentials, as in Flask-HTTPAuth, so CORS preflights work). `HEAD` is always
    /// authenticated. A handler that serves `OPTIONS` on a protected route gets no user: it
    /// must take `Option<CurrentUser<U>>` (a plain `CurrentUser<U>` answers 500 there).
    #[must_use]
    pub fn authenticate_options(self, yes: bool) -> Self {
        self.edit(|p| p.skip_options = !yes)
    }

    /// Throttles failed attempts on this route with these limits (see [`Throttle`]). By default
    /// every route uses [`Throttle::shared`]: one process-wide throttle with the default
    /// limits, so a guesser cannot spread attempts over routes.
    #[must_use]
    pub fn throttle(self, throttle: Throttle) -> Self {
        self.edit(|p| p.throttle = Some(throttle))
    }

    /// How long a body the handling scheme needs (Digest `auth-int`) may take to arrive
    /// (default [`DEFAULT_BODY_TIMEOUT`], 10 s); a slower one is answered `408` (the
    /// connection is not held open by a client that trickles its body).
    #[must_use]
    pub fn body_timeout(self, timeout: std::time::Duration) -> Self {
        self.edit(|p| p.body_timeout = timeout)
    }

    /// No throttling on this route (for tests, or when a proxy in front already throttles).
    #[must_use]
    pub fn without_throttle(self) -> Self {
        self.edit(|p| p.throttle = None)
    }

    /// Runs the policy on a request. The answer is ready at once when every callback it needs
    /// answers at once; each callback runs at most once.
    pub fn check(&self, req: &AuthRequest<'_>) -> AuthFuture<Decision<U>> {
        // The path of a valid request is kept short and together; every other step (refusals,
        // throttle records, roles, waiting) is out of line, so the hot code stays small in
        // the instruction cache.
        let p = &self.policy;
        if p.skip_options && req.is_options() {
            return AuthFuture::ready(Decision::Allow {
                identity: None,
                error: None,
            });
        }
        let index = match p.select(req) {
            Some(index) if !req.has_several_authorizations() => index,
            _ => return AuthFuture::ready(p.unselected(req)),
        };
        if req.body().is_none() {
            if let Some(limit) = p.members[index].scheme.body_limit(req) {
                return AuthFuture::ready(Decision::ReadBody {
                    limit,
                    timeout: p.body_timeout,
                });
            }
        }
        // The throttle first: over the limit, nothing is hashed and no callback runs. With no
        // failure recorded anywhere, there is nothing to look up.
        let scheme = &p.members[index].scheme;
        let mut who = None;
        let outcome = if !p.throttle.as_ref().is_some_and(Throttle::may_have_records) {
            scheme.authenticate(req)
        } else if scheme.admits() {
            // The scheme asks (`AuthRequest::admit`) once it has parsed the username, before
            // its callback: the credentials are parsed once.
            let gate = Gate {
                policy: p,
                req: *req,
                attempt: std::cell::RefCell::new(None),
            };
            let outcome = scheme.authenticate(&req.with_admission(&gate));
            who = gate.attempt.into_inner();
            outcome
        } else {
            let (attempt, refusal) = p.admit(req, p.claimed(req, index));
            if let Some(err) = refusal {
                return AuthFuture::ready(p.decide(Some(index), Err((None, err)), &attempt));
            }
            who = Some(attempt);
            scheme.authenticate(req)
        };
        match outcome.into_ready() {
            // The common case, answered as `settle` would answer it (no count to reset, no
            // role to check) without moving the identity through it: ~250 instructions a
            // request (benches/layer.rs). A step added to `settle` or `authorize` that
            // applies to a success must be added to this condition too.
            Ok(Ok(identity)) if who.is_none() && p.requirement.is_none() => {
                AuthFuture::ready(Decision::Allow {
                    identity: Some(identity),
                    error: None,
                })
            }
            Ok(result) => self.settle_now(req, index, result, who),
            Err(pending) => self.settle_later(req, index, pending, who),
        }
    }

    /// A check that answered at once, with a failure, a count to reset or roles to check.
    #[inline(never)]
    fn settle_now(
        &self,
        req: &AuthRequest<'_>,
        index: usize,
        result: Result<Identity<U>, AuthError>,
        who: Option<Attempt>,
    ) -> AuthFuture<Decision<U>> {
        let p = &self.policy;
        // Who tried is only needed for a failure (its event and count), or to reset a
        // throttle count on success.
        let who = match who {
            Some(who) => who,
            None if result.is_err() => p.attempt(req, Some(index)),
            None => Attempt::default(),
        };
        p.settle(&self.policy, index, result, who, false)
    }

    /// A check that has to wait (a hash on the pool, a remote store, any async callback): out
    /// of line, not `#[cold]` (it is the normal path of an application whose callbacks wait).
    #[inline(never)]
    fn settle_later(
        &self,
        req: &AuthRequest<'_>,
        index: usize,
        pending: AuthFuture<Result<Identity<U>, AuthError>>,
        who: Option<Attempt>,
    ) -> AuthFuture<Decision<U>> {
        let p = &self.policy;
        let who = who.unwrap_or_else(|| p.attempt(req, Some(index)));
        // Counted as a failure now, settled when it is done, so a burst of concurrent guesses
        // meets the limit at once instead of after it has queued its hashes.
        let counted = match &p.throttle {
            Some(t) => t.record(who.keys, false).into_ready().is_ok(),
            None => false,
        };
        let policy = self.policy.clone();
        AuthFuture::new(async move {
            let result = pending.await;
            policy.settle(&policy, index, result, who, counted).await
        })
    }

    /// The rejection for a body the adapter could not buffer (after [`Decision::ReadBody`]):
    /// 413 when it was larger than the limit, 400 when it could not be read, 408 when it did
    /// not arrive in time.
    #[must_use]
    pub fn reject_body(&self, req: &AuthRequest<'_>, failure: BodyFailure) -> Response<Bytes> {
        let p = &self.policy;
        let selected = p.select(req);
        let err = match failure {
            BodyFailure::TooLarge => AuthError::new(AuthErrorKind::BodyTooLarge),
            BodyFailure::Unreadable => AuthError::new(AuthErrorKind::BadRequest)
                .with_detail("the request body could not be read"),
            BodyFailure::TimedOut => AuthError::new(AuthErrorKind::BadRequest)
                .with_status(http::StatusCode::REQUEST_TIMEOUT)
                .with_detail("the request body did not arrive in time"),
        };
        trace_failure(&err, &p.attempt(req, selected));
        p.reject(selected, err)
    }
}

impl<U: Clone + Send + Sync + 'static> Policy<U> {
    /// No scheme can take the request: more than one `Authorization` header (400), or no
    /// credentials any scheme claims (401 with every challenge).
    #[cold]
    #[inline(never)]
    fn unselected(&self, req: &AuthRequest<'_>) -> Decision<U> {
        let err = if req.has_several_authorizations() {
            AuthError::new(AuthErrorKind::DuplicateCredentials)
                .with_detail("more than one Authorization header")
        } else {
            AuthError::missing()
        };
        let who = self.attempt(req, None);
        self.decide(None, Err((None, err)), &who)
    }

    /// With failures on record: who is trying, and why they are refused (429) when they are
    /// over the limit. Out of line but not `#[cold]`: a live server's throttle nearly always
    /// holds some record, so this is its normal path.
    #[inline(never)]
    fn admit(
        &self,
        req: &AuthRequest<'_>,
        username: Option<String>,
    ) -> (Attempt, Option<AuthError>) {
        let attempt = self.attempt_of(req, username);
        let wait = self.throttle.as_ref().and_then(|t| t.blocked(attempt.keys));
        let refusal = wait.map(|wait| {
            AuthError::new(AuthErrorKind::TooManyAttempts).with_retry_after(retry_after_secs(wait))
        });
        (attempt, refusal)
    }

    /// The scheme that handles `req`: the first that claims it.
    fn select(&self, req: &AuthRequest<'_>) -> Option<usize> {
        self.members.iter().position(|m| m.scheme.claims(req))
    }

    /// Who sent the request: the claimed username (when a scheme is selected) and the client
    /// address (behind the throttle's trusted proxies, the forwarded one).
    fn attempt(&self, req: &AuthRequest<'_>, selected: Option<usize>) -> Attempt {
        let username = selected.and_then(|i| self.claimed(req, i));
        self.attempt_of(req, username)
    }

    /// The username member `index` sees in the credentials.
    fn claimed(&self, req: &AuthRequest<'_>, index: usize) -> Option<String> {
        self.members[index].scheme.claimed_username(req)
    }

    /// Who sent the request, the username known.
    fn attempt_of(&self, req: &AuthRequest<'_>, username: Option<String>) -> Attempt {
        let Some(t) = &self.throttle else {
            return Attempt {
                username,
                addr: req.peer_addr(),
                keys: Keys::default(),
            };
        };
        let addr = t.client(req);
        Attempt {
            keys: t.keys(username.as_deref(), addr),
            username,
            addr,
        }
    }

    /// After authentication: the throttle's count (a wrong secret counts a failure, a success
    /// resets the username's), then the roles and the decision.
    fn settle(
        &self,
        this: &Arc<Self>,
        index: usize,
        result: Result<Identity<U>, AuthError>,
        who: Attempt,
        counted: bool,
    ) -> AuthFuture<Decision<U>> {
        // A wrong secret counts; so does an attempt refused because the hashing queue was full
        // (forgiving it would let a flood keep the queue full). A shared store's outage
        // (`Unavailable`) does not: the client did nothing wrong.
        let outcome = match &result {
            Ok(_) => Some(true),
            Err(err)
                if matches!(
                    err.kind(),
                    AuthErrorKind::InvalidCredentials | AuthErrorKind::Overloaded
                ) =>
            {
                Some(false)
            }
            Err(_) => None,
        };
        let recorded = match (&self.throttle, outcome) {
            (Some(t), _) if counted => t.settle_counted(who.keys, outcome),
            (Some(t), Some(ok)) if !ok || t.may_have_records() => t.record(who.keys, ok),
            _ => AuthFuture::ready(()),
        };
        match recorded.into_ready() {
            Ok(()) => self.authorize(this, index, result, who),
            Err(pending) => {
                let this = this.clone();
                AuthFuture::new(async move {
                    pending.await;
                    this.authorize(&this, index, result, who).await
                })
            }
        }
    }

    /// The roles (when the route requires some), then the decision.
    fn authorize(
        &self,
        this: &Arc<Self>,
        index: usize,
        result: Result<Identity<U>, AuthError>,
        who: Attempt,
    ) -> AuthFuture<Decision<U>> {
        let identity = match result {
            Ok(identity) => identity,
            Err(err) => return AuthFuture::ready(self.decide(Some(index), Err((None, err)), &who)),
        };
        let (Some(_), Some(roles)) = (&self.requirement, self.roles_of(index)) else {
            return AuthFuture::ready(self.decide(Some(index), Ok(identity), &who));
        };
        match roles.user_roles(&identity.user).into_ready() {
            Ok(roles) => AuthFuture::ready(self.decide_roles(index, identity, &roles, &who)),
            Err(pending) => {
                let this = this.clone();
                AuthFuture::new(async move {
                    let roles = pending.await;
                    this.decide_roles(index, identity, &roles, &who)
                })
            }
        }
    }

    fn roles_of(&self, index: usize) -> Option<&Arc<dyn UserRoles<U>>> {
        self.members[index].roles.as_ref().or(self.roles.as_ref())
    }

    fn decide_roles(
        &self,
        index: usize,
        identity: Identity<U>,
        roles: &Roles,
        who: &Attempt,
    ) -> Decision<U> {
        let satisfied = self
            .requirement
            .as_ref()
            .is_none_or(|r| r.is_satisfied_by(roles));
        if satisfied {
            self.decide(Some(index), Ok(identity), who)
        } else {
            let err = AuthError::new(AuthErrorKind::Forbidden);
            self.decide(Some(index), Err((Some(identity), err)), who)
        }
    }

    /// The decision for an outcome: allow, allow anyway (optional), or the rejection.
    #[allow(clippy::type_complexity)]
    fn decide(
        &self,
        selected: Option<usize>,
        result: Result<Identity<U>, (Option<Identity<U>>, AuthError)>,
        who: &Attempt,
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
            Some(i) => err.with_scheme(self.members[i].name.clone()),
            None => err,
        };
        if self.optional {
            return Decision::Allow {
                identity: identity.map(|mut id| {
                    // Headers for a success do not go on a request that failed.
                    id.response_headers = None;
                    id
                }),
                error: Some(err),
            };
        }
        // A refused role names the user who authenticated.
        let named;
        let who = match (&identity, &who.username) {
            (Some(id), None) => {
                named = Attempt {
                    username: id.username.clone(),
                    addr: who.addr,
                    keys: who.keys,
                };
                &named
            }
            _ => who,
        };
        trace_failure(&err, who);
        Decision::Deny(self.reject(selected, err))
    }

    /// The rejection: the error handler of the handling scheme (the first scheme's when none
    /// claimed the request), else the route's, else the default; the handling scheme's
    /// challenge (every scheme's when none claimed it) unless the response carries its own;
    /// the error in the extensions.
    fn reject(&self, selected: Option<usize>, err: AuthError) -> Response<Bytes> {
        let member = &self.members[selected.unwrap_or(0)];
        let handler = match selected {
            Some(_) => member
                .error_handler
                .as_ref()
                .or(self.error_handler.as_ref()),
            // No member claimed the request: the route's handler first, so a `MultiAuth`
            // answers with its own.
            None => self
                .error_handler
                .as_ref()
                .or(member.error_handler.as_ref()),
        };
        let mut response = match handler {
            Some(h) => h.error_response(&err),
            None => default_error_response(&err),
        };
        if let Some(seconds) = err.retry_after() {
            if !response.headers().contains_key(RETRY_AFTER) {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(seconds));
            }
        }
        // No challenge on 429/503: the credentials were not refused, only not checked now (a
        // browser would otherwise ask the user again).
        let challenge = !matches!(
            err.kind(),
            AuthErrorKind::TooManyAttempts | AuthErrorKind::Unavailable | AuthErrorKind::Overloaded
        );
        if challenge && !response.headers().contains_key(WWW_AUTHENTICATE) {
            match selected {
                Some(_) => member.scheme.challenge(&err, response.headers_mut()),
                None => {
                    for m in &self.members {
                        m.scheme.challenge(&err, response.headers_mut());
                    }
                }
            }
        }
        response.extensions_mut().insert(err);
        response
    }
}

/// The one event of a refusal (target `httpauth`): the reason, the scheme, the username the
/// client claimed (escaped, at most 64 characters) and the client address. A stable line for
/// fail2ban: `authentication refused status=401 reason="invalid credentials" ...
/// user="john" client="203.0.113.9"`. Never a password, token or hash. Attacker-triggered
/// conditions log at INFO at most; no credentials at all is DEBUG (every browser's first
/// request).
fn trace_failure(err: &AuthError, who: &Attempt) {
    let user = who.username.as_deref().map(bounded);
    let user = user.as_deref().unwrap_or("");
    let client = who.addr.map(|a| a.to_string());
    let client = client.as_deref().unwrap_or("");
    if err.kind() == AuthErrorKind::MissingCredentials {
        tracing::debug!(target: "httpauth", status = err.status().as_u16(), reason = err.reason(), client, "no credentials");
    } else {
        tracing::info!(
            target: "httpauth",
            status = err.status().as_u16(),
            reason = err.reason(),
            detail = err.detail().unwrap_or(""),
            scheme = err.scheme().unwrap_or(""),
            user,
            client,
            "authentication refused"
        );
    }
}

/// A username for a log line: control characters, quotes and backslashes escaped, at most 64
/// characters.
fn bounded(name: &str) -> String {
    let mut out: String = name.chars().take(64).flat_map(char::escape_debug).collect();
    if name.chars().nth(64).is_some() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_names_are_escaped_and_bounded() {
        assert_eq!(super::bounded("jo\"hn\n"), "jo\\\"hn\\n");
        let long = "x".repeat(100);
        assert_eq!(super::bounded(&long), format!("{}...", "x".repeat(64)));
    }
}
