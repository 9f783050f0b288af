//! The demo application: every example of the Flask-HTTPAuth "Getting Started" document on its
//! own path (see `docs/demo-contract.md`). `main.rs` serves it; the integration tests mount
//! the same router.

use std::collections::HashMap;
use std::sync::Arc;

use axum::response::IntoResponse;
use axum::routing::get;
use axum::Json;
use axum::Router;
use httpauth::{
    AuthError, CurrentUser, IntoResponseHandler, MultiAuth, RoleRequirement, TokenAuth, Usernames,
};

use crate::users::{basic_auth, User, Users, USERS};

async fn hello(CurrentUser(user): CurrentUser<User>) -> String {
    greeting(&user.name)
}

async fn hello_optional(user: Option<CurrentUser<User>>) -> String {
    match user {
        Some(CurrentUser(user)) => greeting(&user.name),
        None => greeting("anonymous"),
    }
}

/// `Hello, <name>!`: one allocation of the exact size, which the response body then owns
/// without copying (`format!` would go through the formatting machinery and over-allocate).
fn greeting(name: &str) -> String {
    ["Hello, ", name, "!"].concat()
}

/// Flask-HTTPAuth's token example: a verify-token callback over a token table, returning the user.
fn token_auth() -> TokenAuth<User> {
    let tokens: Arc<HashMap<&'static str, User>> = Arc::new(
        USERS
            .iter()
            .map(|(name, _, roles, token)| {
                let user = User::new(name, roles);
                (*token, user)
            })
            .collect(),
    );
    TokenAuth::verify_token_sync(move |token| tokens.get(token).cloned())
        .user_roles_sync(|user: &User| user.roles.to_vec())
}

/// The contract's JSON errors: `{"error": "<HTTP reason phrase>", "status": <code>}`, written
/// with axum's own `Json`.
fn json_error(err: &AuthError) -> impl IntoResponse {
    let status = err.status();
    let reason = status.canonical_reason().unwrap_or("Error");
    (
        status,
        Json(serde_json::json!({ "error": reason, "status": status.as_u16() })),
    )
}

/// The demo router, with the Digest routes on their defaults (random secret, in-memory
/// replay protection). Used by the integration tests' in-process router.
#[allow(dead_code)]
pub(crate) fn app(users: &Arc<Users>) -> Router {
    app_with(users, &crate::digest::Shared::default())
}

/// The demo router, with the Digest routes' secret and nonce store from `digest`.
pub(crate) fn app_with(users: &Arc<Users>, digest: &crate::digest::Shared) -> Router {
    // One throttle for every route: a guesser cannot spread attempts over them.
    let basic = basic_auth(users).throttle(digest.throttle.clone());
    // `/basic-ci`: usernames compare ignoring case (`JOHN` is john).
    let case_insensitive = basic.clone().usernames(Usernames::case_insensitive());
    let custom = basic.clone().scheme("CustomBasic").realm("custom realm");
    let json = basic.clone().error_handler(IntoResponseHandler(json_error));
    let token = token_auth().throttle(digest.throttle.clone());
    // The whole X-API-Key value is the token; the challenge keeps the default `Bearer` scheme.
    let apikey = token.clone().header("X-API-Key");
    let multi = MultiAuth::new(basic.clone())
        .or(token.clone())
        .throttle(digest.throttle.clone());
    Router::new()
        .route("/public", get(|| async { "Hello, world!" }))
        .route("/basic", get(hello).route_layer(basic.login_required()))
        .route(
            "/basic-ci",
            get(hello).route_layer(case_insensitive.login_required()),
        )
        .route(
            "/basic-custom",
            get(hello).route_layer(custom.login_required()),
        )
        .route(
            "/admin",
            get(hello).route_layer(basic.login_required().role("admin")),
        )
        .route(
            "/staff",
            get(hello).route_layer(basic.login_required().any_role(["admin", "moderator"])),
        )
        .route(
            "/contrib",
            get(hello).route_layer(
                basic.login_required().role(
                    RoleRequirement::role("admin")
                        .or(RoleRequirement::all_of(["moderator", "contributor"])),
                ),
            ),
        )
        .route(
            "/optional",
            get(hello_optional).route_layer(basic.login_required().optional()),
        )
        .route(
            "/json-errors",
            get(hello).route_layer(json.login_required()),
        )
        .route("/token", get(hello).route_layer(token.login_required()))
        .route("/apikey", get(hello).route_layer(apikey.login_required()))
        .route("/multi", get(hello).route_layer(multi.login_required()))
        .merge(crate::digest::routes(digest))
}
