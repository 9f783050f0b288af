//! The demo's users and the Basic auth over them: argon2id hashes (made at startup) or an
//! Apache htpasswd file (`--htpasswd FILE`), checked through httpauth's verified-credential
//! cache and bounded hashing pool.

use std::path::Path;
use std::sync::Arc;

use httpauth::password::{generate_password_hash, HashedPasswords, HtpasswdFile};
use httpauth::BasicAuth;

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

/// Who may log in with Basic: the contract's users (argon2id hashes made at startup, roles
/// from the table above) or an Apache htpasswd file's users (no roles).
pub(crate) enum Users {
    /// The built-in users: each hash stored beside the user a verified login answers.
    BuiltIn(HashedPasswords<User>),
    /// An htpasswd file (reloaded when it changes).
    File(HtpasswdFile),
}

impl Users {
    /// The contract's users, hashed with argon2id; the plain passwords are not kept.
    #[must_use]
    pub(crate) fn new() -> Arc<Self> {
        let hashes = HashedPasswords::<User>::default();
        for (name, password, roles, _) in USERS {
            let hashed = hashes.insert_user(
                name,
                generate_password_hash(password),
                User::new(name, roles),
            );
            hashed.expect("argon2id hashes are valid");
        }
        Arc::new(Self::BuiltIn(hashes))
    }

    /// The users of an htpasswd file.
    pub(crate) fn from_htpasswd(path: &Path) -> std::io::Result<Arc<Self>> {
        Ok(Arc::new(Self::File(HtpasswdFile::open(path)?)))
    }
}

/// The Basic auth of the demo: the store verifies the hash (cache, bounded pool, dummy check
/// for unknown users) and answers the demo's user (an htpasswd file's usernames are mapped to
/// users); roles from the user.
pub(crate) fn basic_auth(users: &Users) -> BasicAuth<User> {
    let auth = match users {
        Users::BuiltIn(hashes) => BasicAuth::verify_password(hashes.clone()),
        Users::File(file) => {
            BasicAuth::verify_password(file.clone().map_user(|name| Some(User::new(name, &[]))))
        }
    };
    auth.user_roles_sync(|user: &User| user.roles.to_vec())
}
