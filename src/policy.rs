//! [`LoginRequired`]: the route's policy (Flask-HTTPAuth's `login_required`), framework
//! agnostic. The tower layer and the actix middleware only move requests in and responses out.
//!
//! For every request, one path, the same for every scheme (built in or your own):
//!
//! 1. `OPTIONS` passes without authentication (configurable).
//! 2. **Select**: more than one `Authorization` header is 400; otherwise the first scheme that
//!    [claims](crate::scheme::Scheme::claims) the request handles it. None: the request has no
//!    credentials (401 with every scheme's challenge).
//! 3. **Parse**: the scheme reads its credentials ([`Scheme::parse`]); they name the claimed
//!    username, made canonical by the auth's [`Usernames`] rule.
//! 4. **Throttle**: while the [`Throttle`] holds failure records, an attempt over a limit is
//!    answered 429 with `Retry-After`; nothing is verified.
//! 5. **Body**: credentials that need the body (Digest `auth-int`) make `check` answer
//!    [`Decision::ReadBody`]; the adapter buffers it (bounded in size and time) and checks again.
//! 6. **Admit**: with a throttle whose store is shared by several instances (Redis), the
//!    attempt is admitted against the shared count, atomically, and counted in flight before
//!    anything is verified; the store's answer is awaited ([`Decision::Admit`]), and an
//!    attempt over a limit is answered 429. A concurrent burst on several instances meets
//!    the limit together.
//! 7. **Verify**: the scheme's verify callback runs, once ([`Scheme::verify`]).
//! 8. **Count**: the outcome is counted for what it is (below); a success resets the
//!    username's count.
//! 9. **Roles**: a route with a [`RoleRequirement`] asks the roles callback (the scheme's own,
//!    else the route's) once: 403 when they do not match.
//! 10. **Decision**: the identity goes into the request extensions and the handler runs;
//!     headers the scheme added (Digest's `Authentication-Info`) go onto its response. Or the
//!     refusal: the error handler's response (the scheme's own, else the route's, else the
//!     default), the challenge unless the response set one, the [`AuthError`] in the response
//!     extensions, and a `tracing` event (never the password). With
//!     [`optional`](LoginRequired::optional) the handler runs anyway.
//!
//! What a failure counts against:
//!
//! | failure | counts against |
//! |---|---|
//! | a wrong secret for a username, known or unknown (`InvalidCredentials` from verify) | the username and the client address |
//! | a wrong token (no username) | the client address |
//! | credentials that verify nothing: malformed, a nonce whose MAC fails, a foreign realm or opaque (any error from parse) | the client address |
//! | the hashing queue full (`503`, `Overloaded`) | the client address |
//! | a right answer on a stale nonce; a store or backend failure (`503`); no credentials | nothing |
//!
//! Every step answers at once when the callbacks do (an [`AuthFuture::ready`]): the adapters
//! then decide inline and box nothing on the way to the handler (a refusal's response is
//! boxed); only real waiting is boxed.
//!
//! ```
//! use httpauth::scheme::AuthRequest;
//! use httpauth::policy::Decision;
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
use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response};

use crate::callback::{ErrorHandler, UserRoles};
use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::roles::{RoleRequirement, Roles};
use crate::scheme::{default_error_response, AuthFuture, AuthRequest, Identity, Scheme};
use crate::throttle::{retry_after_secs, settle_wait, Charge, Keys, Throttle, SETTLE_ROUNDS};
use crate::username::Usernames;

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
    /// The credentials need the request body (Digest `auth-int`): buffer at most `limit`
    /// bytes within `timeout` (answer [`LoginRequired::reject_body`] otherwise), then call
    /// [`check`](LoginRequired::check) again with [`AuthRequest::with_body`]. Nothing has been
    /// verified or counted yet. The tower and actix adapters do this themselves.
    #[non_exhaustive]
    ReadBody {
        /// The most bytes the scheme accepts.
        limit: usize,
        /// How long the body may take to arrive ([`LoginRequired::body_timeout`]).
        timeout: std::time::Duration,
    },
    /// The throttle counts in a store shared with other instances: the attempt must be
    /// admitted against the shared count before anything is verified. Await the
    /// [`Admission`]; with its ticket, call [`check_admitted`](LoginRequired::check_admitted)
    /// (then drop the ticket); otherwise its decision is the answer (429 over a limit). The
    /// tower and actix adapters do this themselves.
    Admit(Admission<U>),
}

/// An attempt waiting to be admitted by the throttle's shared store ([`Decision::Admit`]):
/// a future of the ticket ([`Admitted`]) or of the decision when it is refused.
#[must_use = "an admission does nothing unless awaited"]
pub struct Admission<U> {
    future:
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Admitted, Decision<U>>> + Send>>,
}

impl<U> fmt::Debug for Admission<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admission").finish_non_exhaustive()
    }
}

impl<U> std::future::Future for Admission<U> {
    type Output = Result<Admitted, Decision<U>>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        self.future.as_mut().poll(cx)
    }
}

/// An attempt the throttle admitted ([`Admission`]): counted in flight by a shared store
/// until [`check_admitted`](LoginRequired::check_admitted) settles it (dropped unused, it is
/// taken back), or one that waited for attempts in flight to settle and is checked again.
pub struct Admitted {
    /// What a shared store counted: its throttle, the attempt's keys and client address.
    counted: Option<(Throttle, Keys, Option<IpAddr>)>,
    /// How many times the attempt waited for attempts in flight.
    round: u8,
    taken: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for Admitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admitted").finish_non_exhaustive()
    }
}

impl Admitted {
    /// The attempt's keys and address, once, for a policy counting in the same store.
    fn take(&self, throttle: &Throttle) -> Option<(Keys, Option<IpAddr>)> {
        let (admitted_by, keys, addr) = self.counted.as_ref()?;
        (throttle.same_store(admitted_by)
            && !self.taken.swap(true, std::sync::atomic::Ordering::AcqRel))
        .then_some((*keys, *addr))
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if *self.taken.get_mut() {
            return;
        }
        if let Some((throttle, keys, _)) = &self.counted {
            let settled = throttle.settle_counted(*keys, Charge::Nothing);
            if let Err(pending) = settled.into_ready() {
                detach(pending);
            }
        }
    }
}

/// A scheme as the policy runs it: the [`Scheme`] trait without its credentials type, so the
/// members of one route can be schemes of different types. Implemented for every scheme; its
/// [`run`](Run::run) is the policy's path for that scheme, monomorphized (the credentials stay
/// on the stack).
pub(crate) trait Run<U>: Send + Sync + 'static {
    fn claims(&self, req: &AuthRequest<'_>) -> bool;
    fn challenge(&self, err: &AuthError, headers: &mut HeaderMap);
    fn run(
        &self,
        policy: &Arc<Policy<U>>,
        index: usize,
        req: &AuthRequest<'_>,
        ticket: Option<&Admitted>,
    ) -> AuthFuture<Decision<U>>;
}

impl<S: Scheme> Run<S::User> for S {
    #[inline]
    fn claims(&self, req: &AuthRequest<'_>) -> bool {
        Scheme::claims(self, req)
    }

    fn challenge(&self, err: &AuthError, headers: &mut HeaderMap) {
        Scheme::challenge(self, err, headers);
    }

    #[inline]
    fn run(
        &self,
        policy: &Arc<Policy<S::User>>,
        index: usize,
        req: &AuthRequest<'_>,
        ticket: Option<&Admitted>,
    ) -> AuthFuture<Decision<S::User>> {
        policy.run(self, index, req, ticket)
    }
}

/// One scheme on a route, with its own roles callback and error handler (when it has them).
pub(crate) struct Member<U> {
    scheme: Arc<dyn Run<U>>,
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
    pub(crate) fn new<S: Scheme<User = U>>(
        scheme: S,
        roles: Option<Arc<dyn UserRoles<U>>>,
        error_handler: Option<Arc<dyn ErrorHandler>>,
    ) -> Self {
        Self {
            name: Arc::from(Scheme::name(&scheme)),
            scheme: Arc::new(scheme),
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

/// What an auth object gives every route built from it: its schemes' shared settings.
pub(crate) struct Shared<U> {
    pub(crate) roles: Option<Arc<dyn UserRoles<U>>>,
    pub(crate) error_handler: Option<Arc<dyn ErrorHandler>>,
    pub(crate) throttle: Option<Throttle>,
    pub(crate) usernames: Usernames,
}

pub(crate) struct Policy<U> {
    members: Vec<Member<U>>,
    /// The route's roles callback and error handler: for members without their own.
    roles: Option<Arc<dyn UserRoles<U>>>,
    error_handler: Option<Arc<dyn ErrorHandler>>,
    requirement: Option<RoleRequirement>,
    optional: bool,
    skip_options: bool,
    throttle: Option<Throttle>,
    usernames: Usernames,
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
            usernames: self.usernames.clone(),
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
    /// The service's request body type cannot carry the buffered body on to the handler
    /// (tower services over a body type other than axum's `Body`,
    /// `http_body_util::Full<Bytes>` or `Bytes`): `500`, and an error event.
    Unsupported,
}

/// How long a body a scheme needs (Digest `auth-int`) may take to arrive, by default.
pub const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Who tried: the canonical username (when the credentials name one), and, once resolved, the
/// client address and the throttle's keys for both. Resolved only where needed (a throttle
/// with records, a failure, a wait).
#[derive(Debug, Default)]
pub(crate) struct Attempt {
    username: Option<String>,
    addr: Option<IpAddr>,
    keys: Keys,
    resolved: bool,
    /// The request's path, when the decision events are on (gathered before the request is
    /// out of reach).
    path: Option<Box<str>>,
    /// When verification started (feature `metrics`).
    started: crate::metrics::Started,
}

impl Attempt {
    #[inline]
    fn named(username: Option<String>) -> Self {
        Self {
            username,
            ..Self::default()
        }
    }
}

/// An attempt the throttle counts while its check runs ([`Throttle::begin`]), not settled yet:
/// dropped armed (the request was dropped mid-check), it is taken back.
struct Unsettled<U> {
    policy: Arc<Policy<U>>,
    keys: Keys,
    armed: bool,
}

impl<U> Drop for Unsettled<U> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(t) = &self.policy.throttle {
            let settled = t.settle_counted(self.keys, Charge::Nothing);
            if let Err(pending) = settled.into_ready() {
                detach(pending);
            }
        }
    }
}

/// Runs a store's update that nobody waits for: on the current Tokio runtime when there is one
/// (a shared store's call), else it is dropped (an in-memory store answers at once).
fn detach(pending: AuthFuture<()>) {
    #[cfg(any(feature = "password", feature = "redis"))]
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(pending);
        return;
    }
    drop(pending);
}

/// Where a failure happened, which says what it counts against (see the module docs).
#[derive(Debug, Clone, Copy)]
enum Stage {
    /// The credentials did not parse: nothing was verified.
    Parse,
    /// The scheme verified them; `counted`: counted as a wrong secret when it started to wait.
    Verify { counted: bool },
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
    pub(crate) fn from_members(members: Vec<Member<U>>, shared: Shared<U>) -> Self {
        crate::extract::register_user_type::<U>();
        Self {
            policy: Arc::new(Policy {
                members,
                roles: shared.roles,
                error_handler: shared.error_handler,
                requirement: None,
                optional: false,
                skip_options: true,
                throttle: shared.throttle,
                usernames: shared.usernames,
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

    /// Throttles failed attempts on this route with this throttle (see [`Throttle`]) instead
    /// of the auth object's. By default a route uses the throttle of the auth object it was
    /// built from ([`Auth::throttle`](crate::Auth::throttle)), shared by every route built from
    /// it and from its clones.
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
    #[inline]
    pub fn check(&self, req: &AuthRequest<'_>) -> AuthFuture<Decision<U>> {
        self.check_with(req, None)
    }

    /// [`check`](Self::check) again for an attempt the throttle's shared store admitted
    /// ([`Decision::Admit`]): the ticket says it is counted already, so it goes on to verify.
    /// A ticket from another throttle, or one used already, is ignored.
    pub fn check_admitted(
        &self,
        req: &AuthRequest<'_>,
        ticket: &Admitted,
    ) -> AuthFuture<Decision<U>> {
        self.check_with(req, Some(ticket))
    }

    #[inline]
    fn check_with(
        &self,
        req: &AuthRequest<'_>,
        ticket: Option<&Admitted>,
    ) -> AuthFuture<Decision<U>> {
        let p = &self.policy;
        if p.skip_options && req.is_options() {
            return AuthFuture::ready(Decision::Allow {
                identity: None,
                error: None,
            });
        }
        match p.select(req) {
            Some(index) if !req.has_several_authorizations() => {
                p.members[index]
                    .scheme
                    .run(&self.policy, index, req, ticket)
            }
            _ => AuthFuture::ready(p.unselected(req)),
        }
    }

    /// The rejection for a body the adapter could not buffer (after [`Decision::ReadBody`]):
    /// 413 when it was larger than the limit, 400 when it could not be read, 408 when it did
    /// not arrive in time, 500 when the service's body type cannot carry it.
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
            BodyFailure::Unsupported => AuthError::new(AuthErrorKind::BadRequest)
                .with_status(http::StatusCode::INTERNAL_SERVER_ERROR)
                .with_detail("the service's request body type cannot carry a buffered body"),
        };
        let mut who = Attempt::default();
        p.resolve(&mut who, req);
        p.observe(&mut who, req);
        let scheme = selected.map(|i| &p.members[i].name);
        crate::metrics::decision(Some(err.kind()), scheme);
        crate::audit::refused(&err, None, who.addr, who.path.as_deref().unwrap_or(""));
        p.reject(selected, err)
    }
}

impl<U: Clone + Send + Sync + 'static> Policy<U> {
    /// The path of one request, for the scheme of member `index`: parse, throttle, body,
    /// verify, then [`conclude`](Self::conclude) (count, roles, decision). Written once, for
    /// every scheme.
    #[inline]
    fn run<S: Scheme<User = U>>(
        self: &Arc<Self>,
        scheme: &S,
        index: usize,
        req: &AuthRequest<'_>,
        ticket: Option<&Admitted>,
    ) -> AuthFuture<Decision<U>> {
        let creds = match scheme.parse(req) {
            Ok(creds) => creds,
            Err(err) => return self.unparsed(index, req, err),
        };
        let username = scheme
            .username(&creds)
            .map(|name| self.usernames.canonical(name).into_owned());
        let mut who = Attempt::named(username);
        self.observe(&mut who, req);
        let admitted = ticket.is_some_and(|t| t.counted.is_some());
        if !admitted
            && self
                .throttle
                .as_ref()
                .is_some_and(Throttle::may_have_records)
        {
            let round = ticket.map_or(0, |t| t.round);
            if let Some(refusal) = self.admit(index, req, &mut who, round) {
                return AuthFuture::ready(refusal);
            }
        }
        if req.body().is_none() {
            if let Some(limit) = scheme.body_limit(&creds) {
                return AuthFuture::ready(Decision::ReadBody {
                    limit,
                    timeout: self.body_timeout,
                });
            }
        }
        // Admitted by a shared store already (the second pass after `Decision::Admit`).
        let mut counted = match (ticket, &self.throttle) {
            (Some(ticket), Some(t)) => ticket.take(t).map(|(keys, addr)| {
                (who.keys, who.addr, who.resolved) = (keys, addr, true);
            }),
            _ => None,
        }
        .is_some();
        if !counted {
            if let Some(t) = self.throttle.as_ref().filter(|t| t.shared()) {
                if let Some(decision) = self.admit_shared(index, req, &mut who, t) {
                    return decision;
                }
                counted = true;
            }
        }
        who.started = crate::metrics::Started::now();
        match scheme
            .verify(creds, who.username.as_deref(), req)
            .into_ready()
        {
            Ok(result) => {
                // A success answered at once makes its address familiar only while the
                // throttle holds records (the attempt was resolved for `admit` then); one
                // that waited (`wait`) always does.
                if result.is_err() {
                    self.resolve(&mut who, req);
                }
                self.conclude(index, result, who, Stage::Verify { counted })
            }
            Err(pending) => self.wait(index, req, pending, who, counted),
        }
    }

    /// Admits the attempt against the throttle's shared store before anything is verified:
    /// `None` (counted in flight) when the store answers at once, else the decision: a refusal
    /// over a limit, or [`Decision::Admit`] to wait for the store.
    #[inline(never)]
    fn admit_shared(
        self: &Arc<Self>,
        index: usize,
        req: &AuthRequest<'_>,
        who: &mut Attempt,
        throttle: &Throttle,
    ) -> Option<AuthFuture<Decision<U>>> {
        self.resolve(who, req);
        match throttle.admit(who.keys).into_ready() {
            Ok(Ok(())) => None,
            Ok(Err(wait)) => Some(AuthFuture::ready(self.throttled(index, wait, who))),
            Err(pending) => {
                let this = self.clone();
                let throttle = throttle.clone();
                let who = std::mem::take(who);
                let future = Box::pin(async move {
                    match pending.await {
                        Ok(()) => Ok(Admitted {
                            counted: Some((throttle, who.keys, who.addr)),
                            round: 0,
                            taken: std::sync::atomic::AtomicBool::new(false),
                        }),
                        Err(wait) => Err(this.throttled(index, wait, &who)),
                    }
                });
                Some(AuthFuture::ready(Decision::Admit(Admission { future })))
            }
        }
    }

    /// Credentials that did not parse: nothing was verified. The client may still be over its
    /// address limit (429 wins); otherwise the failure counts against the address.
    #[cold]
    #[inline(never)]
    fn unparsed(
        self: &Arc<Self>,
        index: usize,
        req: &AuthRequest<'_>,
        err: AuthError,
    ) -> AuthFuture<Decision<U>> {
        let mut who = Attempt::default();
        self.observe(&mut who, req);
        // Nothing will be checked: no waiting for attempts in flight.
        if let Some(refusal) = self.admit(index, req, &mut who, SETTLE_ROUNDS) {
            return AuthFuture::ready(refusal);
        }
        self.conclude(index, Err(err), who, Stage::Parse)
    }

    /// A verification that has to wait (a hash on the pool, a remote store, any async
    /// callback): counted as a wrong secret now and settled when it is done, so a burst of
    /// concurrent guesses meets the limit at once instead of after it has queued its hashes.
    /// Out of line, not `#[cold]`: it is the normal path of an application whose callbacks
    /// wait.
    #[inline(never)]
    fn wait(
        self: &Arc<Self>,
        index: usize,
        req: &AuthRequest<'_>,
        pending: AuthFuture<Result<Identity<U>, AuthError>>,
        mut who: Attempt,
        admitted: bool,
    ) -> AuthFuture<Decision<U>> {
        self.resolve(&mut who, req);
        let begun = match &self.throttle {
            Some(t) if !admitted => Some(t.begin(who.keys)),
            _ => None,
        };
        let counted = admitted || begun.is_some();
        // Taken back if the request is dropped before it is settled (a client that hangs up
        // while its check runs): a dropped request never leaves a count behind.
        let mut unsettled = Unsettled {
            policy: self.clone(),
            keys: who.keys,
            armed: counted,
        };
        AuthFuture::new(async move {
            if let Some(begun) = begun {
                begun.await;
            }
            let result = pending.await;
            unsettled.armed = false;
            let this = unsettled.policy.clone();
            this.conclude(index, result, who, Stage::Verify { counted })
                .await
        })
    }

    /// After verification: the throttle's count, then the roles and the decision.
    #[inline(always)]
    fn conclude(
        self: &Arc<Self>,
        index: usize,
        result: Result<Identity<U>, AuthError>,
        who: Attempt,
        stage: Stage,
    ) -> AuthFuture<Decision<U>> {
        #[cfg(feature = "metrics")]
        if let Stage::Verify { .. } = stage {
            who.started.verified(&self.members[index].name);
        }
        let charge = match (&result, stage) {
            (Ok(_), _) => Charge::Success,
            (Err(_), Stage::Parse) => Charge::Address,
            (Err(err), Stage::Verify { .. }) => match err.kind() {
                AuthErrorKind::InvalidCredentials => Charge::Secret,
                AuthErrorKind::Overloaded => Charge::Address,
                _ => Charge::Nothing,
            },
        };
        let recorded = match (&self.throttle, stage) {
            (Some(t), Stage::Verify { counted: true }) => t.settle_counted(who.keys, charge),
            // A success has a count to reset only where the throttle held records when the
            // attempt was checked (the attempt was resolved then).
            (Some(t), _) if charge != Charge::Success || who.resolved => t.record(who.keys, charge),
            _ => AuthFuture::ready(()),
        };
        match recorded.into_ready() {
            Ok(()) => self.authorize(index, result, who),
            Err(pending) => {
                let this = self.clone();
                AuthFuture::new(async move {
                    pending.await;
                    this.authorize(index, result, who).await
                })
            }
        }
    }

    /// The roles (when the route requires some), then the decision.
    #[inline(always)]
    fn authorize(
        self: &Arc<Self>,
        index: usize,
        result: Result<Identity<U>, AuthError>,
        mut who: Attempt,
    ) -> AuthFuture<Decision<U>> {
        let mut identity = match result {
            Ok(identity) => identity,
            Err(err) => return AuthFuture::ready(self.deny(Some(index), None, err, &who)),
        };
        if let Some(username) = who.username.take() {
            identity.username = Some(username);
        }
        let (Some(_), Some(roles)) = (&self.requirement, self.roles_of(index)) else {
            self.allowed(index, &identity, &who);
            return AuthFuture::ready(Decision::Allow {
                identity: Some(identity),
                error: None,
            });
        };
        match roles.user_roles(&identity.user).into_ready() {
            Ok(roles) => AuthFuture::ready(self.decide_roles(index, identity, roles, &who)),
            Err(pending) => {
                let this = self.clone();
                AuthFuture::new(async move {
                    let roles = pending.await;
                    this.decide_roles(index, identity, roles, &who)
                })
            }
        }
    }

    /// No scheme can take the request: more than one `Authorization` header (400), or no
    /// credentials any scheme claims (401 with every challenge). Nothing is counted: no
    /// scheme read anything.
    #[cold]
    #[inline(never)]
    fn unselected(&self, req: &AuthRequest<'_>) -> Decision<U> {
        let err = if req.has_several_authorizations() {
            AuthError::new(AuthErrorKind::DuplicateCredentials)
                .with_detail("more than one Authorization header")
        } else {
            AuthError::missing()
        };
        let mut who = Attempt::default();
        self.resolve(&mut who, req);
        self.observe(&mut who, req);
        self.deny(None, None, err, &who)
    }

    /// The throttle check (when it holds records): resolves who is trying, and refuses (429)
    /// an attempt over a limit. Out of line but not `#[cold]`: a live server's throttle nearly
    /// always holds some record, so this is its normal path.
    /// An attempt blocked only by attempts in flight (concurrent requests of one user, each
    /// counted as a possible failure until it is checked) waits for them to settle, then is
    /// checked again ([`Decision::Admit`]), at most [`SETTLE_ROUNDS`] times.
    #[inline(never)]
    fn admit(
        &self,
        index: usize,
        req: &AuthRequest<'_>,
        who: &mut Attempt,
        round: u8,
    ) -> Option<Decision<U>> {
        self.resolve(who, req);
        let throttle = self.throttle.as_ref()?;
        let wait = throttle.blocked(who.keys)?;
        if round < SETTLE_ROUNDS && throttle.settling(who.keys) {
            let delay = settle_wait(round);
            let future = Box::pin(async move {
                crate::timer::Delay::new(delay).await;
                Ok(Admitted {
                    counted: None,
                    round: round + 1,
                    taken: std::sync::atomic::AtomicBool::new(false),
                })
            });
            return Some(Decision::Admit(Admission { future }));
        }
        Some(self.throttled(index, wait, who))
    }

    /// The refusal of an attempt over a limit: 429 with `Retry-After`.
    fn throttled(&self, index: usize, wait: std::time::Duration, who: &Attempt) -> Decision<U> {
        let err =
            AuthError::new(AuthErrorKind::TooManyAttempts).with_retry_after(retry_after_secs(wait));
        self.deny(Some(index), None, err, who)
    }

    /// The scheme that handles `req`: the first that claims it.
    #[inline]
    fn select(&self, req: &AuthRequest<'_>) -> Option<usize> {
        self.members.iter().position(|m| m.scheme.claims(req))
    }

    /// Fills in who is trying: the client address (behind the throttle's trusted proxies, the
    /// forwarded one) and the throttle's keys.
    fn resolve(&self, who: &mut Attempt, req: &AuthRequest<'_>) {
        if who.resolved {
            return;
        }
        who.resolved = true;
        let Some(t) = &self.throttle else {
            who.addr = req.peer_addr();
            return;
        };
        who.addr = t.client(req);
        who.keys = t.keys(who.username.as_deref(), who.addr);
    }

    /// Gathers what the decision event needs while the request is at hand, when the events
    /// are on: the path, and the client address (without counting anything).
    #[inline(always)]
    fn observe(&self, who: &mut Attempt, req: &AuthRequest<'_>) {
        if tracing::dispatcher::has_been_set() && crate::audit::enabled() {
            self.observe_now(who, req);
        }
    }

    #[cold]
    #[inline(never)]
    fn observe_now(&self, who: &mut Attempt, req: &AuthRequest<'_>) {
        who.path = Some(crate::audit::path(req));
        if !who.resolved {
            who.addr = match &self.throttle {
                Some(t) => t.client(req),
                None => req.peer_addr(),
            };
        }
    }

    /// A success: its metric, the user on the request's span, its event (when on). Without a
    /// `tracing` subscriber, one atomic load.
    #[inline(always)]
    fn allowed(&self, index: usize, identity: &Identity<U>, who: &Attempt) {
        #[cfg(feature = "metrics")]
        crate::metrics::decision(None, Some(&self.members[index].name));
        if tracing::dispatcher::has_been_set() {
            self.allowed_traced(index, identity, who);
        }
    }

    #[inline(never)]
    fn allowed_traced(&self, index: usize, identity: &Identity<U>, who: &Attempt) {
        // The user on the span and the event go together: with `httpauth` events below INFO
        // filtered out (a server logging warnings only), a success costs one atomic load.
        if !crate::audit::enabled() {
            return;
        }
        crate::audit::record_user(identity.username());
        if let Some(path) = &who.path {
            let scheme = &self.members[index].name;
            crate::audit::allowed(scheme, identity.username(), who.addr, path);
        }
    }

    fn roles_of(&self, index: usize) -> Option<&Arc<dyn UserRoles<U>>> {
        self.members[index].roles.as_ref().or(self.roles.as_ref())
    }

    fn decide_roles(
        &self,
        index: usize,
        identity: Identity<U>,
        roles: Result<Roles, AuthError>,
        who: &Attempt,
    ) -> Decision<U> {
        let roles = match roles {
            Ok(roles) => roles,
            // The roles could not be looked up (a store that is down): the callback's error.
            Err(err) => return self.deny(Some(index), Some(identity), err, who),
        };
        let satisfied = self
            .requirement
            .as_ref()
            .is_none_or(|r| r.is_satisfied_by(&roles));
        if satisfied {
            self.allowed(index, &identity, who);
            return Decision::Allow {
                identity: Some(identity),
                error: None,
            };
        }
        let err = AuthError::new(AuthErrorKind::Forbidden);
        self.deny(Some(index), Some(identity), err, who)
    }

    /// A failure: allowed anyway on an optional route (with the identity when only the roles
    /// failed), else the event and the rejection.
    #[cold]
    #[inline(never)]
    fn deny(
        &self,
        selected: Option<usize>,
        identity: Option<Identity<U>>,
        err: AuthError,
        who: &Attempt,
    ) -> Decision<U> {
        let err = match selected {
            Some(i) => err.with_scheme(self.members[i].name.clone()),
            None => err,
        };
        // A refused role names the user who authenticated.
        let user = who
            .username
            .as_deref()
            .or_else(|| identity.as_ref().and_then(Identity::username));
        crate::metrics::decision(Some(err.kind()), selected.map(|i| &self.members[i].name));
        crate::audit::refused(&err, user, who.addr, who.path.as_deref().unwrap_or(""));
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
