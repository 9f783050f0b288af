//! The demo's Digest routes (`/digest`, `/digest-sha256`, `/digest-ha1`), as Flask-HTTPAuth's Digest
//! example: a get-password callback (or one returning the stored HA1), the username for the
//! handler.
//!
//! ```text
//! curl --digest -u john:hello http://127.0.0.1:3000/digest          # Hello, john!
//! curl --digest -u john:hello http://127.0.0.1:3000/digest-sha256   # Hello, john!
//! curl --digest -u john:hello http://127.0.0.1:3000/digest-ha1      # Hello, john!
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use httpauth::digest::{generate_ha1, Algorithm, DigestAuth, NonceStore};
use httpauth::{Username, DEFAULT_REALM};

use crate::users::USERS;

async fn hello(Username(name): Username) -> String {
    format!("Hello, {name}!")
}

/// Flask-HTTPAuth's get-password callback: the plain password of a user, `None` for strangers.
fn password_of(username: &str) -> Option<String> {
    USERS
        .iter()
        .find(|(name, ..)| *name == username)
        .map(|(_, password, ..)| (*password).to_owned())
}

/// What several instances share (`--secret-file`, `--redis`); the default is one instance's:
/// a random secret and in-memory replay protection per route.
#[derive(Clone, Default)]
pub(crate) struct Shared {
    /// The file of the nonce secrets, one per line, the first issuing (`--secret-file`; never
    /// printed).
    pub(crate) secret_file: Option<std::path::PathBuf>,
    /// The store of every Digest route (`--redis`).
    pub(crate) store: Option<Arc<dyn NonceStore>>,
    /// The throttle every route of the demo shares, so a guesser cannot spread attempts over
    /// routes (`--no-throttle` and the limits; with `--redis`, counted in Redis).
    pub(crate) throttle: httpauth::Throttle,
}

impl Shared {
    fn apply(&self, mut auth: DigestAuth) -> DigestAuth {
        auth = auth.throttle(self.throttle.clone());
        if let Some(path) = &self.secret_file {
            auth = auth.secrets_from_file(path).unwrap_or_else(|err| {
                eprintln!("cannot use the secret file {}: {err}", path.display());
                std::process::exit(1);
            });
        }
        if let Some(store) = &self.store {
            auth = auth.nonce_store(store.clone());
        }
        auth
    }
}

/// The Digest routes.
pub(crate) fn routes(shared: &Shared) -> Router {
    // `/digest`: Flask-HTTPAuth's defaults (MD5, qop="auth"), an async get-password callback.
    let md5 = shared.apply(DigestAuth::get_password(|username: String| async move {
        password_of(&username)
    }));
    // `/digest-sha256`: the recommended algorithm.
    let sha256 =
        shared.apply(DigestAuth::get_password_sync(password_of).algorithm(Algorithm::Sha256));
    // `/digest-ha1`: only HA1 = MD5(user:realm:password) is stored, never the password.
    let ha1s: Arc<HashMap<&'static str, String>> = Arc::new(
        USERS
            .iter()
            .map(|(name, password, ..)| {
                (
                    *name,
                    generate_ha1(Algorithm::Md5, name, DEFAULT_REALM, password),
                )
            })
            .collect(),
    );
    let ha1 = shared.apply(
        DigestAuth::get_password_sync(move |username| ha1s.get(username).cloned()).use_ha1(true),
    );
    // `/digest-userhash`: SHA-256 with `userhash=true`: the client may send H(user:realm)
    // instead of its name; the demo's users are the names it can stand for.
    let userhash = shared.apply(
        DigestAuth::get_password_sync(password_of)
            .algorithm(Algorithm::Sha256)
            .userhash_users(USERS.iter().map(|(name, ..)| *name)),
    );
    Router::new()
        .route("/digest", get(hello).route_layer(md5.login_required()))
        .route(
            "/digest-userhash",
            get(hello).route_layer(userhash.login_required()),
        )
        .route(
            "/digest-sha256",
            get(hello).route_layer(sha256.login_required()),
        )
        .route("/digest-ha1", get(hello).route_layer(ha1.login_required()))
}
