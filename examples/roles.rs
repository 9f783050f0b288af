//! User roles (Flask-HTTPAuth's `get_user_roles` and `login_required(role=...)`): any user on
//! `/`, `admin` on `/admin`, `admin` or `moderator` on `/staff`, `user` or both `moderator`
//! and `contributor` on `/contrib`.
//!
//! ```text
//! cargo run --example roles                           # PORT=5000 by default
//! curl -u john:hello http://127.0.0.1:5000/admin      # 403
//! curl -u susan:bye http://127.0.0.1:5000/admin       # Hello susan, you are an admin!
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::{routing::get, Router};
use httpauth::password::{generate_password_hash, HashedPasswords};
use httpauth::{BasicAuth, CurrentUser, RoleRequirement};

/// The application's user.
#[derive(Clone)]
struct User {
    name: String,
    roles: Vec<&'static str>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let hashes: HashedPasswords = [
        ("john", generate_password_hash("hello")),
        ("susan", generate_password_hash("bye")),
        ("ana", generate_password_hash("hola")),
    ]
    .into_iter()
    .collect();
    let users = HashMap::from([
        ("john", vec!["user"]),
        ("susan", vec!["user", "admin"]),
        ("ana", vec!["moderator", "contributor"]),
    ]);
    let auth = BasicAuth::verify_password(hashes.map_user(move |name| {
        let roles = users.get(name)?.clone();
        Some(User {
            name: name.to_owned(),
            roles,
        })
    }))
    .user_roles_sync(|user: &User| user.roles.clone());

    let app = Router::new()
        .route(
            "/",
            get(|CurrentUser(u): CurrentUser<User>| async move { format!("Hello, {}!", u.name) })
                .route_layer(auth.login_required()),
        )
        .route(
            "/admin",
            get(|CurrentUser(u): CurrentUser<User>| async move {
                format!("Hello {}, you are an admin!", u.name)
            })
            .route_layer(auth.login_required().role("admin")),
        )
        .route(
            "/staff",
            get(|CurrentUser(u): CurrentUser<User>| async move {
                format!("Hello {}, you are an admin or a moderator!", u.name)
            })
            .route_layer(auth.login_required().any_role(["admin", "moderator"])),
        )
        .route(
            "/contrib",
            get(|CurrentUser(u): CurrentUser<User>| async move {
                format!(
                    "Hello {}, you are a user or a moderator/contributor!",
                    u.name
                )
            })
            .route_layer(
                auth.login_required().role(
                    RoleRequirement::role("user")
                        .or(RoleRequirement::all_of(["moderator", "contributor"])),
                ),
            ),
        );

    let port = std::env::var("PORT")
        .map_or(Ok(5000), |port| port.parse())
        .expect("PORT");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
