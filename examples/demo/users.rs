//! The demo's users and the Basic auth over them: argon2id hashes (made at startup) or an
//! Apache htpasswd file (`--htpasswd FILE`), checked through httpauth's verified-credential
//! cache and bounded hashing pool.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use httpauth::password::{generate_password_hash, HtpasswdFile, PasswordChecker};
use httpauth::{AuthFuture, BasicAuth, VerifyPassword};

/// A user of the demo: one shared allocation, so a clone per request is one reference-count
/// increment.
#[derive(Clone, Debug)]
pub(crate) struct User(Arc<UserData>);

/// What the demo knows of a user.
#[derive(Debug)]
pub(crate) struct UserData {
    /// The login name.
    pub(crate) name: Box<str>,
    /// The user's roles.
    pub(crate) roles: Box<[&'static str]>,
}

impl User {
    /// A user with these roles.
    pub(crate) fn new(name: &str, roles: &[&'static str]) -> Self {
        Self(Arc::new(UserData {
            name: name.into(),
            roles: roles.into(),
        }))
    }
}

impl std::ops::Deref for User {
    type Target = UserData;

    fn deref(&self) -> &UserData {
        &self.0
    }
}

/// (user, password, roles, token) per the demo contract.
pub(crate) const USERS: [(&str, &str, &[&str], &str); 3] = [
    ("john", "hello", &["user"], "secret-token-1"),
    ("susan", "bye", &["user", "admin"], "secret-token-2"),
    (
        "ana",
        "olá-ñ",
        &["moderator", "contributor"],
        "secret-token-3",
    ),
];

struct Account {
    user: User,
    /// argon2id PHC string (OWASP parameters); the plain password is not kept.
    hash: Arc<str>,
}

enum Source {
    /// The contract's users, checked through a `PasswordChecker` (the "own user store" path:
    /// cache, bounded pool, dummy check for unknown users).
    BuiltIn {
        accounts: HashMap<String, Account>,
        checker: PasswordChecker,
        /// Checked for unknown users, so they cost what a wrong password costs.
        dummy: Arc<str>,
    },
    /// An htpasswd file's users, without roles.
    File(HtpasswdFile),
}

/// Who may log in with Basic.
pub(crate) struct Users {
    source: Source,
}

impl Users {
    /// The contract's users, hashed with argon2id.
    #[must_use]
    pub(crate) fn new() -> Arc<Self> {
        let accounts = USERS
            .iter()
            .map(|(name, password, roles, _)| {
                let account = Account {
                    user: User::new(name, roles),
                    hash: generate_password_hash(password).into(),
                };
                ((*name).to_owned(), account)
            })
            .collect();
        Arc::new(Self {
            source: Source::BuiltIn {
                accounts,
                checker: PasswordChecker::new(),
                dummy: generate_password_hash("not the password of anyone").into(),
            },
        })
    }

    /// The users of an htpasswd file (reloaded when it changes); they have no roles.
    pub(crate) fn from_htpasswd(path: &Path) -> std::io::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            source: Source::File(HtpasswdFile::open(path)?),
        }))
    }
}

/// The verify-password callback: the store's check (cache hit: no allocation of a future),
/// mapped to the demo's user.
struct Verifier(Arc<Users>);

impl VerifyPassword for Verifier {
    type User = User;

    /// Cache hits answer at once: the layer decides inline, with no allocation of its own.
    fn verify_password_now(&self, username: &str, password: &str) -> Option<Option<User>> {
        match &self.0.source {
            Source::BuiltIn {
                accounts, checker, ..
            } => {
                let account = accounts.get(username)?;
                checker
                    .check_cached(username, password, &account.hash)
                    .then(|| Some(account.user.clone()))
            }
            Source::File(file) => file
                .verify_password_now(username, password)
                .map(|name| name.map(|name| User::new(&name, &[]))),
        }
    }

    fn verify_password<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> AuthFuture<'a, Option<User>> {
        match &self.0.source {
            Source::BuiltIn {
                accounts,
                checker,
                dummy,
            } => match accounts.get(username) {
                // A cache hit: answered at once, no future allocated.
                Some(account) if checker.check_cached(username, password, &account.hash) => {
                    AuthFuture::ready(Some(account.user.clone()))
                }
                Some(account) => AuthFuture::new(async move {
                    checker
                        .verify(username, password, account.hash.clone())
                        .await
                        .then(|| account.user.clone())
                }),
                None => AuthFuture::new(async move {
                    checker
                        .verify_unknown(username, password, dummy.clone())
                        .await;
                    None
                }),
            },
            Source::File(file) => file
                .verify_password(username, password)
                .map(|name| name.map(|name| User::new(&name, &[]))),
        }
    }
}

/// The Basic auth of the demo: the users' hashes through the cache and the bounded pool,
/// returning the user; roles from the user.
pub(crate) fn basic_auth(users: &Arc<Users>) -> BasicAuth<User> {
    BasicAuth::verify_password(Verifier(users.clone()))
        .user_roles_sync(|user: &User| user.roles.to_vec())
}
