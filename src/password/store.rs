//! [`HashedPasswords`]: an in-memory username → hash map usable as the verify-password callback.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use super::checker::{Dummy, Lookup, PasswordChecker};
use super::hash::{validate_hash, HashError, Params};
use crate::basic::VerifyPassword;
use crate::scheme::AuthFuture;

/// Usernames and their stored hashes (any format of
/// [`check_password_hash`](super::check_password_hash)), checked through a
/// [`PasswordChecker`]: cached, on the bounded pool, unknown users costing a dummy check.
///
/// It is a [`VerifyPassword`] callback whose user is the username: pass it to
/// [`BasicAuth::verify_password`](crate::BasicAuth::verify_password). Clones share the map, so
/// users can be added or removed while the auth serves requests.
///
/// Unknown users are checked against an argon2id hash made with [`dummy_params`](Self::dummy_params)
/// (default [`Params::OWASP`]) on first need; if your hashes use another algorithm or cost, set
/// [`dummy_hash`](Self::dummy_hash) to a hash of the same kind.
///
/// ```
/// use httpauth::password::{HashedPasswords, Params};
/// use httpauth::VerifyPassword;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let params = Params::new(1024, 1, 1).unwrap();
/// let users = HashedPasswords::new().dummy_params(params);
/// users.insert("john", params.hash("hello")).unwrap();
/// assert_eq!(users.verify_password("john", "hello").await.as_deref(), Some("john"));
/// assert_eq!(users.verify_password("john", "bye").await, None);
/// assert_eq!(users.verify_password("nobody", "hello").await, None);
/// # });
/// ```
#[derive(Clone)]
pub struct HashedPasswords {
    users: Arc<RwLock<HashMap<String, Arc<str>>>>,
    checker: PasswordChecker,
    dummy: Dummy,
}

impl fmt::Debug for HashedPasswords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashedPasswords")
            .field("users", &self.len())
            .field("checker", &self.checker)
            .finish_non_exhaustive()
    }
}

impl Default for HashedPasswords {
    fn default() -> Self {
        Self::new()
    }
}

impl HashedPasswords {
    /// An empty store with a default [`PasswordChecker`].
    #[must_use]
    pub fn new() -> Self {
        Self {
            users: Arc::default(),
            checker: PasswordChecker::new(),
            dummy: Dummy::lazy(Params::OWASP),
        }
    }

    /// Checks through this checker (its cache, pool and counters) instead of a default one.
    #[must_use]
    pub fn with_checker(mut self, checker: PasswordChecker) -> Self {
        self.checker = checker;
        self
    }

    /// The hash unknown users are checked against. It should have the cost of your users'
    /// hashes; it is never a match.
    ///
    /// # Errors
    ///
    /// When `hash` is not a valid hash ([`validate_hash`](super::validate_hash)).
    pub fn dummy_hash(mut self, hash: impl Into<String>) -> Result<Self, HashError> {
        let hash = hash.into();
        validate_hash(&hash)?;
        self.dummy = Dummy::Fixed(hash.into());
        Ok(self)
    }

    /// Unknown users are checked against an argon2id hash with these parameters (made on first
    /// need). Default [`Params::OWASP`].
    #[must_use]
    pub fn dummy_params(mut self, params: Params) -> Self {
        self.dummy = Dummy::lazy(params);
        self
    }

    /// Adds or replaces a user. The old password stops working at once (the cache key covers
    /// the hash).
    ///
    /// # Errors
    ///
    /// When `hash` is not a valid hash; the store is then unchanged.
    pub fn insert(
        &self,
        username: impl Into<String>,
        hash: impl Into<String>,
    ) -> Result<(), HashError> {
        let hash = hash.into();
        validate_hash(&hash)?;
        self.write().insert(username.into(), hash.into());
        Ok(())
    }

    /// Removes a user; whether it was there.
    pub fn remove(&self, username: &str) -> bool {
        self.write().remove(username).is_some()
    }

    /// Whether the user exists.
    #[must_use]
    pub fn contains(&self, username: &str) -> bool {
        self.read().contains_key(username)
    }

    /// The user's stored hash.
    #[must_use]
    pub fn hash_of(&self, username: &str) -> Option<Arc<str>> {
        self.read().get(username).cloned()
    }

    /// How many users.
    #[must_use]
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether there are no users.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The checker (cache statistics, clearing).
    #[must_use]
    pub fn checker(&self) -> &PasswordChecker {
        &self.checker
    }

    /// Returns your user type instead of the username: `map` gets the verified username and
    /// returns the user (`None` refuses the login). It is called only after the password was
    /// verified.
    ///
    /// ```
    /// use httpauth::password::{HashedPasswords, Params};
    /// use httpauth::BasicAuth;
    ///
    /// #[derive(Clone)]
    /// struct User { name: String, admin: bool }
    ///
    /// let params = Params::new(8, 1, 1).unwrap(); // cheap, for the example
    /// let store = HashedPasswords::new().dummy_params(params);
    /// store.insert("john", params.hash("hello")).unwrap();
    /// let auth: BasicAuth<User> = BasicAuth::verify_password(
    ///     store.map_user(|name| Some(User { name: name.to_owned(), admin: name == "susan" })),
    /// );
    /// ```
    pub fn map_user<U, F>(self, map: F) -> MapUser<Self, F>
    where
        F: Fn(&str) -> Option<U> + Send + Sync + 'static,
    {
        MapUser::new(self, map)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<str>>> {
        self.users.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<str>>> {
        self.users.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for HashedPasswords {
    /// Builds a store from (username, hash) pairs; invalid hashes are logged and skipped.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let store = Self::new();
        for (user, hash) in iter {
            let user = user.into();
            if let Err(err) = store.insert(user.clone(), hash) {
                tracing::warn!(target: "httpauth", user = %user, "httpauth: {err}; user skipped");
            }
        }
        store
    }
}

impl VerifyPassword for HashedPasswords {
    type User = String;

    /// A cache hit answers at once (a ready future: the layer decides inline).
    fn verify_password(&self, username: &str, password: &str) -> AuthFuture<Option<String>> {
        // Look up and consult the cache under the read lock: a hit clones nothing.
        let stored = if username.is_empty() {
            None
        } else {
            match self.read().get(username) {
                Some(hash) => match self.checker.lookup(username, password, hash) {
                    Lookup::Hit => return AuthFuture::ready(Some(username.to_owned())),
                    Lookup::TooLong => return AuthFuture::ready(None),
                    Lookup::Miss => Some(hash.clone()),
                },
                None => None,
            }
        };
        let user = username.to_owned();
        self.checker
            .verify_miss(username, password, stored, self.dummy.clone(), move || user)
    }
}

/// A password store whose verified username is mapped to the application's user type: made by
/// [`HashedPasswords::map_user`] and [`HtpasswdFile::map_user`](crate::password::HtpasswdFile::map_user).
/// A cache hit still answers with a ready future (no boxing).
pub struct MapUser<S, F> {
    store: S,
    map: Arc<F>,
}

impl<S: Clone, F> Clone for MapUser<S, F> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            map: self.map.clone(),
        }
    }
}

impl<S: fmt::Debug, F> fmt::Debug for MapUser<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapUser")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl<S, F> MapUser<S, F> {
    pub(crate) fn new(store: S, map: F) -> Self {
        Self {
            store,
            map: Arc::new(map),
        }
    }

    /// The store inside (to insert users, read statistics, ...).
    pub fn store(&self) -> &S {
        &self.store
    }
}

impl<S, F, U> VerifyPassword for MapUser<S, F>
where
    S: VerifyPassword<User = String>,
    F: Fn(&str) -> Option<U> + Send + Sync + 'static,
    U: Clone + Send + Sync + 'static,
{
    type User = U;

    fn verify_password(&self, username: &str, password: &str) -> AuthFuture<Option<U>> {
        let map = self.map.clone();
        self.store
            .verify_password(username, password)
            .map(move |name| name.and_then(|name| map(&name)))
    }
}
