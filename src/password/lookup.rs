//! [`HashLookup`]: users whose hashes live in your own store (a database), in one call.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use super::cache::Stored;
use super::checker::{Dummy, Lookup, Miss, PasswordChecker};
use super::hash::{validate_hash, HashError, Params};
use crate::callback::{Answer, VerifyPassword};
use crate::error::AuthError;
use crate::scheme::AuthFuture;

/// Users whose hashes live in your own store: an async lookup from a (canonical) username to
/// its stored hash and your user, to nothing (no such user), or to an error (the store is
/// down). Everything else is done here, through a [`PasswordChecker`]: the hash is verified on
/// the bounded pool (a full queue answers 503), an unknown user is refused without a hash after
/// the time a wrong password takes (the measured cost of a hash plus the wait a known user's
/// check arriving now would have, or that check's 503; the dummy's cost is measured once when
/// no user's hash has been), a success is cached (a repeat
/// login costs no hash), and a lookup error answers its status (503 for
/// [`AuthError::backend`]) without counting as a failed attempt.
///
/// Made by [`BasicAuth::lookup_hash`](crate::BasicAuth::lookup_hash), or directly to share a
/// checker or set the dummy's cost.
///
/// ```
/// use httpauth::password::{HashLookup, Params};
/// use httpauth::{AuthError, VerifyPassword};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let params = Params::new(1024, 1, 1).unwrap();
/// let johns_hash = params.hash("hello");
/// // Your store: here a match, in an application a query.
/// let users = HashLookup::new(move |name: String| {
///     let hash = johns_hash.clone();
///     async move {
///         match name.as_str() {
///             "john" => Ok(Some((hash, name))),
///             "down" => Err(AuthError::backend("connection refused")),
///             _ => Ok(None),
///         }
///     }
/// })
/// .dummy_params(params);
/// assert_eq!(users.verify_password("john", "hello").await, Ok(Some("john".to_owned())));
/// assert_eq!(users.verify_password("john", "bye").await, Ok(None));
/// assert_eq!(users.verify_password("nobody", "hello").await, Ok(None));
/// assert_eq!(users.verify_password("down", "hello").await.unwrap_err().status(), 503);
/// # });
/// ```
pub struct HashLookup<F> {
    lookup: Arc<F>,
    checker: PasswordChecker,
    dummy: Dummy,
}

impl<F> Clone for HashLookup<F> {
    fn clone(&self) -> Self {
        Self {
            lookup: self.lookup.clone(),
            checker: self.checker.clone(),
            dummy: self.dummy.clone(),
        }
    }
}

impl<F> fmt::Debug for HashLookup<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashLookup")
            .field("checker", &self.checker)
            .finish_non_exhaustive()
    }
}

impl<F> HashLookup<F> {
    /// Over this lookup: `Fn(String) -> impl Future<Output = A>` where `A` is
    /// `Option<(hash, user)>` or `Result<Option<(hash, user)>, E>` ([`Answer`]). The hash is
    /// any format [`check_password_hash`](super::check_password_hash) reads. The default
    /// checker ([`PasswordChecker::new`]) and an argon2id dummy ([`Params::OWASP`]).
    pub fn new(lookup: F) -> Self {
        Self {
            lookup: Arc::new(lookup),
            checker: PasswordChecker::new(),
            dummy: Dummy::lazy(Params::OWASP),
        }
    }

    /// Checks through this checker (to share its pool and cache with other stores).
    #[must_use]
    pub fn checker(mut self, checker: PasswordChecker) -> Self {
        self.checker = checker;
        self
    }

    /// The checker (statistics, the cache).
    #[must_use]
    pub fn checker_ref(&self) -> &PasswordChecker {
        &self.checker
    }

    /// Unknown users wait what an argon2id hash with these parameters costs, until a user's
    /// hash has been measured (made and measured once, on first need): set them to your
    /// users' cost.
    #[must_use]
    pub fn dummy_params(mut self, params: Params) -> Self {
        self.dummy = Dummy::lazy(params);
        self
    }

    /// Unknown users wait what checking this hash costs, until a user's hash has been
    /// measured: one of the same kind and cost as your users' (bcrypt, scrypt, ...).
    ///
    /// # Errors
    ///
    /// A hash no check can read.
    pub fn dummy_hash(mut self, hash: impl Into<String>) -> Result<Self, HashError> {
        let hash: String = hash.into();
        validate_hash(&hash)?;
        self.dummy = Dummy::Fixed(hash.into());
        Ok(self)
    }
}

impl<F, Fut, A, U> VerifyPassword for HashLookup<F>
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = A> + Send + 'static,
    A: Answer<Value = (String, U)>,
    U: Clone + Send + Sync + 'static,
{
    type User = U;

    fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> AuthFuture<Result<Option<U>, AuthError>> {
        let found = (self.lookup)(username.to_owned());
        let (checker, dummy) = (self.checker.clone(), self.dummy.clone());
        let (username, password) = (username.to_owned(), password.to_owned());
        AuthFuture::new(async move {
            let miss = match found.await.into_answer()? {
                Some((hash, user)) => {
                    match checker.lookup(&username, &password, Stored::Full(&hash)) {
                        Lookup::Hit => return Ok(Some(user)),
                        Lookup::TooLong => return Ok(None),
                        Lookup::Miss(key) => {
                            let hash: Arc<str> = hash.into();
                            checker.register_arc(&hash);
                            return checker
                                .verify_miss(&username, &password, Miss::Known(hash, key), || {
                                    Some(user)
                                })
                                .await;
                        }
                    }
                }
                None => Miss::Unknown(dummy),
            };
            checker
                .verify_miss(&username, &password, miss, || None)
                .await
        })
    }
}
