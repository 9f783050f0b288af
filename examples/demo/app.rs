//! The demo application: every example of the Flask-HTTPAuth "Getting Started" document on its
//! own path (see `shared/demo-contract.md`). `main.rs` serves it; the integration tests mount
//! the same router.

use std::sync::Arc;

use axum::body::Bytes;
use axum::routing::get;
use axum::Router;
use httpauth::{AuthError, CurrentUser, RoleRequirement};

use crate::users::{basic_auth, User, Users};

async fn hello(CurrentUser(user): CurrentUser<User>) -> String {
    format!("Hello, {}!", user.name)
}

async fn hello_optional(user: Option<CurrentUser<User>>) -> String {
    match user {
        Some(CurrentUser(user)) => format!("Hello, {}!", user.name),
        None => "Hello, anonymous!".to_owned(),
    }
}

fn json_error(err: &AuthError) -> http::Response<Bytes> {
    let body = serde_json::json!({ "error": err.reason(), "status": err.status().as_u16() });
    http::Response::builder()
        .status(err.status())
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(body.to_string()))
        .unwrap_or_default()
}

/// The demo router.
pub(crate) fn app(users: &Arc<Users>) -> Router {
    let basic = basic_auth(users);
    let custom = basic.clone().scheme("CustomBasic").realm("custom realm");
    let json = basic.clone().error_handler(json_error);
    Router::new()
        .route("/public", get(|| async { "Hello, world!" }))
        .route("/basic", get(hello).route_layer(basic.login_required()))
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
        .merge(crate::digest::routes())
}
