//! [`Auth`]: the one builder shape every scheme shares. The methods every auth has (realm,
//! roles callback, error handler, `login_required`) are written once here; each scheme adds
//! its own in an impl block of `Auth<ItsScheme>` (as tower-http's
//! `ValidateRequestHeaderLayer<T>`), so a wrong closure type is reported at the call in your
//! code. [`BasicAuth`](crate::BasicAuth), [`DigestAuth`](crate::DigestAuth),
//! [`TokenAuth`](crate::TokenAuth) and [`MultiAuth`](crate::MultiAuth) are aliases of it.
//!
//! ```
//! use httpauth::{BasicAuth, CurrentUser};
//! use axum::{routing::get, Router};
//! # use tower::ServiceExt;
//!
//! let auth = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then(|| u.to_owned()))
//!     .realm("staff area")
//!     .user_roles_sync(|user: &String| if user == "john" { "admin" } else { "user" });
//! let app: Router = Router::new()
//!     .route("/", get(|CurrentUser(u): CurrentUser<String>| async move { u }))
//!     .route_layer(auth.login_required().role("admin"));
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let res = app.oneshot(http::Request::new(axum::body::Body::empty())).await.unwrap();
//! assert_eq!(res.status(), 401);
//! assert_eq!(res.headers()["www-authenticate"], r#"Basic realm="staff area""#);
//! # });
//! ```

use std::fmt;
use std::sync::Arc;

use crate::callback::{ErrorHandler, RolesAnswer, SyncUserRoles, UserRoles};
use crate::error::ConfigError;
use crate::policy::{LoginRequired, Member, Shared};
use crate::scheme::{Scheme, DEFAULT_REALM};
use crate::throttle::Throttle;
use crate::username::Usernames;

/// What an [`Auth`] wraps: a [`Scheme`], or several ([`Multi`](crate::multi::Multi)).
/// Implemented for every scheme.
pub trait Kind: Send + Sync + 'static {
    /// The application's user type.
    type User: Clone + Send + Sync + 'static;
}

impl<S: Scheme> Kind for S {
    type User = S::User;
}

/// An auth object: a scheme (or several) with the settings every auth shares. See the
/// [module docs](self).
pub struct Auth<K: Kind> {
    pub(crate) kind: K,
    realm: Arc<str>,
    pub(crate) roles: Option<Arc<dyn UserRoles<K::User>>>,
    pub(crate) error_handler: Option<Arc<dyn ErrorHandler>>,
    throttle: Option<Throttle>,
    usernames: Usernames,
}

impl<K: Kind + Clone> Clone for Auth<K> {
    fn clone(&self) -> Self {
        Self {
            kind: self.kind.clone(),
            realm: self.realm.clone(),
            roles: self.roles.clone(),
            error_handler: self.error_handler.clone(),
            throttle: self.throttle.clone(),
            usernames: self.usernames.clone(),
        }
    }
}

impl<K: Kind + fmt::Debug> fmt::Debug for Auth<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("kind", &self.kind)
            .field("realm", &self.realm)
            .field("user_roles", &self.roles.is_some())
            .field("error_handler", &self.error_handler.is_some())
            .field("throttle", &self.throttle)
            .field("usernames", &self.usernames)
            .finish()
    }
}

impl<K: Kind> Auth<K> {
    /// Wraps a scheme (or [`Multi`](crate::multi::Multi)) with the default settings: realm
    /// `Authentication Required`, no roles callback, the default error response, a throttle
    /// of its own with the default limits ([`Throttle::new`]), usernames compared exactly.
    pub fn from_scheme(kind: K) -> Self {
        Self {
            kind,
            realm: Arc::from(DEFAULT_REALM),
            roles: None,
            error_handler: None,
            throttle: Some(Throttle::new()),
            usernames: Usernames::exact(),
        }
    }

    /// The throttle of every route built from this auth object (and from its clones, which
    /// share it). By default each auth object has its own with the default limits; give
    /// several auth objects one throttle (a clone of it) so that a guesser cannot spread
    /// attempts over them. A route can still set its own with
    /// [`LoginRequired::throttle`].
    #[must_use]
    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// No throttling on the routes built from this auth object (for tests, or when a proxy in
    /// front already throttles).
    #[must_use]
    pub fn without_throttle(mut self) -> Self {
        self.throttle = None;
        self
    }

    /// The throttle the routes built from this auth object use, if any.
    #[must_use]
    pub fn throttle_ref(&self) -> Option<&Throttle> {
        self.throttle.as_ref()
    }

    /// How usernames compare (default [`Usernames::exact`]): the verify callback, the
    /// throttle, the verified-credential cache and [`Username`](crate::Username) see the
    /// canonical name. On a [`MultiAuth`](crate::MultiAuth) it holds for every member.
    #[must_use]
    pub fn usernames(mut self, usernames: Usernames) -> Self {
        self.usernames = usernames;
        self
    }

    /// The settings every route built from this auth object starts with.
    pub(crate) fn shared(&self) -> Shared<K::User> {
        Shared {
            roles: self.roles.clone(),
            error_handler: self.error_handler.clone(),
            throttle: self.throttle.clone(),
            usernames: self.usernames.clone(),
        }
    }

    /// The get-user-roles callback: an async closure `Fn(User) -> impl Future<Output = impl
    /// Into<Roles>>` or any [`UserRoles`] implementation. Needed by routes that require
    /// roles. On a [`MultiAuth`](crate::MultiAuth) it serves every member that has none of
    /// its own.
    #[must_use]
    pub fn user_roles<R: UserRoles<K::User>>(mut self, roles: R) -> Self {
        self.roles = Some(Arc::new(roles));
        self
    }

    /// The get-user-roles callback as a plain function of the user (answers at once).
    #[must_use]
    pub fn user_roles_sync<F, R>(self, roles: F) -> Self
    where
        F: Fn(&K::User) -> R + Send + Sync + 'static,
        R: RolesAnswer,
    {
        self.user_roles(SyncUserRoles(roles))
    }

    /// A custom error handler: `Fn(&AuthError) -> http::Response<B>` (`B`: `String`, `Bytes`,
    /// `Vec<u8>`, `&'static str`) or any [`ErrorHandler`]. The challenge is added unless the
    /// response sets its own `WWW-Authenticate`. On a [`MultiAuth`](crate::MultiAuth) it
    /// answers for every member that has none of its own, and for requests no member claims.
    #[must_use]
    pub fn error_handler<H: ErrorHandler>(mut self, handler: H) -> Self {
        self.error_handler = Some(Arc::new(handler));
        self
    }

    /// The wrapped scheme (or schemes).
    pub fn get_ref(&self) -> &K {
        &self.kind
    }

    /// The wrapped scheme, to change: the hook for a scheme's own builder methods (an
    /// extension trait of your own over `Auth<YourScheme>`).
    pub fn get_mut(&mut self) -> &mut K {
        &mut self.kind
    }

    /// Changes the wrapped scheme with `f`, keeping the auth's other settings: the hook for a
    /// fallible builder method of a scheme of your own.
    ///
    /// # Errors
    ///
    /// What `f` returns.
    pub fn try_map_scheme(
        mut self,
        f: impl FnOnce(&mut K) -> Result<(), ConfigError>,
    ) -> Result<Self, ConfigError> {
        f(&mut self.kind)?;
        Ok(self)
    }
}

impl<S: Scheme> Auth<S> {
    /// Sets the realm sent in the challenge (default `Authentication Required`; an empty
    /// string also means the default).
    ///
    /// # Panics
    ///
    /// If the realm contains a control character (it would allow header injection). Use
    /// [`try_realm`](Self::try_realm) for realms that come from configuration.
    #[must_use]
    pub fn realm(self, realm: &str) -> Self {
        self.try_realm(realm)
            .unwrap_or_else(|err| panic!("httpauth: invalid realm: {err}"))
    }

    /// Sets the realm, refusing control characters with an error.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ControlCharacter`] for a realm with a control character.
    pub fn try_realm(mut self, realm: &str) -> Result<Self, ConfigError> {
        // An empty realm means the default, as in Flask-HTTPAuth.
        let realm = if realm.is_empty() {
            DEFAULT_REALM
        } else {
            realm
        };
        crate::scheme::header::quote(realm)
            .map_err(|_| ConfigError::ControlCharacter { param: "realm" })?;
        self.kind.set_realm(realm)?;
        self.realm = Arc::from(realm);
        Ok(self)
    }

    /// The configured realm.
    #[must_use]
    pub fn realm_name(&self) -> &str {
        &self.realm
    }

    /// Protects a route with this auth (Flask-HTTPAuth's `login_required`). Add roles,
    /// `optional()` and more on the returned policy; it is the tower layer and the actix
    /// middleware.
    #[must_use]
    pub fn login_required(&self) -> LoginRequired<S::User>
    where
        S: Clone,
    {
        let mut shared = self.shared();
        // A single scheme's roles callback and error handler are the member's own.
        let member = Member::new(
            self.kind.clone(),
            shared.roles.take(),
            shared.error_handler.take(),
        );
        LoginRequired::from_members(vec![member], shared)
    }

    /// This auth as a member of a [`MultiAuth`](crate::MultiAuth): its scheme, roles callback
    /// and error handler.
    pub(crate) fn member(&self) -> Member<S::User>
    where
        S: Clone,
    {
        Member::new(
            self.kind.clone(),
            self.roles.clone(),
            self.error_handler.clone(),
        )
    }

    /// Changes the scheme inside (for the scheme's own builder methods).
    pub(crate) fn map_scheme(
        self,
        f: impl FnOnce(&mut S) -> Result<(), ConfigError>,
    ) -> Result<Self, ConfigError> {
        self.try_map_scheme(f)
    }
}
