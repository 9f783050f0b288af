//! [`HashedPasswords`]: an in-memory username → hash map usable as the verify-password callback.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use super::cache::{EntryKey, EntryKeys, Stored};
use super::checker::{Dummy, Lookup, Miss, PasswordChecker};
use super::hash::{validate_hash, HashError, Params};
use super::UserMap;
use crate::basic::VerifyPassword;
use crate::callback::Answer;
use crate::error::AuthError;
use crate::scheme::AuthFuture;

/// Usernames and their stored hashes (any format of
/// [`check_password_hash`](super::check_password_hash)), checked through a
/// [`PasswordChecker`]: cached, on the bounded pool, unknown users costing a dummy check.
///
/// It is a [`VerifyPassword`] callback: pass it to
/// [`BasicAuth::verify_password`](crate::BasicAuth::verify_password). Its user is the username
/// (`HashedPasswords`, i.e. `HashedPasswords<String>`, filled with [`insert`](Self::insert)),
/// or your own type stored beside each hash (`HashedPasswords<User>`, filled with
/// [`insert_user`](Self::insert_user)); [`map_user`](Self::map_user) maps the username to
/// your type instead. Clones share the map, so users can be added or removed while the auth
/// serves requests.
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
/// assert_eq!(users.verify_password("john", "hello").await, Ok(Some("john".to_owned())));
/// assert_eq!(users.verify_password("john", "bye").await, Ok(None));
/// assert_eq!(users.verify_password("nobody", "hello").await, Ok(None));
/// # });
/// ```
pub struct HashedPasswords<U = String> {
    users: Arc<RwLock<UserMap<Entry<U>>>>,
    checker: PasswordChecker,
    dummy: Dummy,
    /// The seed of the entries' cache keys.
    keys: EntryKeys,
}

/// A user's stored hash, its cache key (derived once here) and the user.
struct Entry<U> {
    hash: Arc<str>,
    key: EntryKey,
    user: U,
}

impl<U> Clone for HashedPasswords<U> {
    fn clone(&self) -> Self {
        Self {
            users: self.users.clone(),
            checker: self.checker.clone(),
            dummy: self.dummy.clone(),
            keys: self.keys,
        }
    }
}

impl<U> fmt::Debug for HashedPasswords<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashedPasswords")
            .field("users", &self.len())
            .field("checker", &self.checker)
            .finish_non_exhaustive()
    }
}

impl<U> Default for HashedPasswords<U> {
    /// An empty store with a default [`PasswordChecker`]; `HashedPasswords::<User>::default()`
    /// makes a store of your own user type.
    fn default() -> Self {
        Self {
            users: Arc::default(),
            checker: PasswordChecker::new(),
            dummy: Dummy::lazy(Params::OWASP),
            keys: EntryKeys::new(),
        }
    }
}

impl HashedPasswords {
    /// An empty store whose user is the username, with a default [`PasswordChecker`]. For a
    /// store of your own user type: `HashedPasswords::<User>::default()`.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
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
        let username = username.into();
        self.insert_user(username.clone(), hash, username)
    }

    /// Returns your user type instead of the username: `map` gets the verified username and
    /// returns the user (`None` refuses the login). It is called only after the password was
    /// verified; a cache hit still answers with a ready future. To keep the user beside the
    /// hash instead, use a `HashedPasswords<User>` ([`insert_user`](Self::insert_user)).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use std::sync::Arc;
    /// use httpauth::password::{HashedPasswords, Params};
    /// use httpauth::BasicAuth;
    ///
    /// #[derive(Clone)]
    /// struct User { name: String, admin: bool }
    ///
    /// // The application's own table, e.g. loaded from its database.
    /// let admins: Arc<HashMap<&str, bool>> = Arc::new([("john", false), ("susan", true)].into());
    ///
    /// let params = Params::new(8, 1, 1).unwrap(); // cheap, for the example
    /// let store = HashedPasswords::new().dummy_params(params);
    /// store.insert("john", params.hash("hello")).unwrap();
    /// store.insert("susan", params.hash("bye")).unwrap();
    /// let auth: BasicAuth<User> = BasicAuth::verify_password(store.map_user(move |name| {
    ///     let admin = *admins.get(name)?;
    ///     Some(User { name: name.to_owned(), admin })
    /// }));
    /// ```
    pub fn map_user<U, F>(self, map: F) -> MapUser<Self, F>
    where
        F: Fn(&str) -> Option<U> + Send + Sync + 'static,
    {
        MapUser::new(self, map)
    }
}

impl<U> HashedPasswords<U> {
    /// Checks through this checker (its cache, pool and counters) instead of a default one.
    #[must_use]
    pub fn with_checker(mut self, checker: PasswordChecker) -> Self {
        for entry in self.read().values() {
            checker.register_arc(&entry.hash);
        }
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

    /// Adds or replaces a user with the value a verified login answers (a clone of `user`).
    /// The old password stops working at once (the cache key covers the hash).
    ///
    /// ```
    /// use httpauth::password::{HashedPasswords, Params};
    /// use httpauth::VerifyPassword;
    ///
    /// #[derive(Clone, Debug, PartialEq)]
    /// struct User { id: u32, admin: bool }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let params = Params::new(1024, 1, 1).unwrap(); // cheap, for the example
    /// let users = HashedPasswords::<User>::default().dummy_params(params);
    /// users.insert_user("susan", params.hash("bye"), User { id: 7, admin: true }).unwrap();
    /// assert_eq!(
    ///     users.verify_password("susan", "bye").await,
    ///     Ok(Some(User { id: 7, admin: true }))
    /// );
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// When `hash` is not a valid hash; the store is then unchanged.
    pub fn insert_user(
        &self,
        username: impl Into<String>,
        hash: impl Into<String>,
        user: U,
    ) -> Result<(), HashError> {
        let hash = hash.into();
        validate_hash(&hash)?;
        let key = self.keys.of(&hash);
        let hash: Arc<str> = hash.into();
        self.checker.register_arc(&hash);
        let entry = Entry { hash, key, user };
        self.write().insert(username.into(), entry);
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
        self.read().get(username).map(|e| e.hash.clone())
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

    fn read(&self) -> std::sync::RwLockReadGuard<'_, UserMap<Entry<U>>> {
        self.users.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, UserMap<Entry<U>>> {
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

impl<U: Clone + Send + Sync + 'static> VerifyPassword for HashedPasswords<U> {
    type User = U;

    /// A cache hit answers at once (a ready future: the layer decides inline). A check the
    /// hashing pool refuses answers 503 ([`AuthErrorKind::Overloaded`](crate::AuthErrorKind::Overloaded)).
    fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> AuthFuture<Result<Option<U>, AuthError>> {
        // Look up and consult the cache under the read lock: a hit clones only the user.
        let (miss, user) = match self.read().get(username).filter(|_| !username.is_empty()) {
            Some(entry) => {
                match self
                    .checker
                    .lookup(username, password, Stored::Entry(&entry.key))
                {
                    Lookup::Hit => return AuthFuture::ready(Ok(Some(entry.user.clone()))),
                    Lookup::TooLong => return AuthFuture::ready(Ok(None)),
                    Lookup::Miss(key) => (
                        Miss::Known(entry.hash.clone(), key),
                        Some(entry.user.clone()),
                    ),
                }
            }
            None => (Miss::Unknown(self.dummy.clone()), None),
        };
        // `user` is `Some` exactly for a known user, the only case `verify_miss` calls this for.
        self.checker
            .verify_miss(username, password, miss, move || user)
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

impl<S, F, A> VerifyPassword for MapUser<S, F>
where
    S: VerifyPassword<User = String>,
    F: Fn(&str) -> A + Send + Sync + 'static,
    A: Answer,
    A::Value: Clone + Send + Sync + 'static,
{
    type User = A::Value;

    fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> AuthFuture<Result<Option<A::Value>, AuthError>> {
        let map = self.map.clone();
        self.store
            .verify_password(username, password)
            .map(move |name| match name? {
                Some(name) => map(&name).into_answer(),
                None => Ok(None),
            })
    }
}
