//! The demo's users: argon2id hashes made at startup, verified off the reactor, and the Basic
//! auth over them.

use std::collections::HashMap;
use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use httpauth::BasicAuth;

/// A user of the demo.
#[derive(Clone, Debug)]
pub(crate) struct User {
    /// The login name.
    pub(crate) name: Arc<str>,
    /// The user's roles.
    pub(crate) roles: Arc<[&'static str]>,
}

struct Account {
    user: User,
    /// argon2id PHC string; the plain password is never kept.
    hash: String,
}

/// The demo's user table: argon2id hashes, made at startup.
pub(crate) struct Users {
    accounts: HashMap<String, Account>,
    /// Verified against for unknown users, so they cost the same as a wrong password.
    dummy_hash: String,
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

fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    // Argon2::default() is argon2id with OWASP's parameters (m=19456 KiB, t=2, p=1).
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

impl Users {
    /// The contract's users, hashed with argon2id.
    #[must_use]
    pub(crate) fn new() -> Arc<Self> {
        let accounts = USERS
            .iter()
            .map(|(name, password, roles, _)| {
                let account = Account {
                    user: User {
                        name: Arc::from(*name),
                        roles: Arc::from(*roles),
                    },
                    hash: hash(password),
                };
                ((*name).to_owned(), account)
            })
            .collect();
        Arc::new(Self {
            accounts,
            dummy_hash: hash("not a password of anyone"),
        })
    }

    /// Verifies a password (slow: call it off the reactor).
    fn verify(&self, username: &str, password: &str) -> Option<User> {
        let account = self.accounts.get(username);
        let stored = account.map_or(self.dummy_hash.as_str(), |a| a.hash.as_str());
        let ok = PasswordHash::new(stored).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
        account.filter(|_| ok).map(|a| a.user.clone())
    }
}

/// The Basic auth of the demo: a verify-password callback over argon2id hashes, run on the
/// blocking pool, returning the user; roles from the user.
pub(crate) fn basic_auth(users: &Arc<Users>) -> BasicAuth<User> {
    let users = users.clone();
    BasicAuth::verify_password(move |username: String, password: String| {
        let users = users.clone();
        async move {
            tokio::task::spawn_blocking(move || users.verify(&username, &password))
                .await
                .ok()
                .flatten()
        }
    })
    .user_roles_sync(|user: &User| user.roles.to_vec())
}
