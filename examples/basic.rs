//! Basic authentication over hashed passwords (Flask-HTTPAuth's first example).
//!
//! ```text
//! cargo run --example basic                      # PORT=5000 by default
//! curl -u john:hello http://127.0.0.1:5000/      # Hello, john!
//! ```

use std::net::SocketAddr;

use axum::{routing::get, Router};
use httpauth::password::{generate_password_hash, HashedPasswords};
use httpauth::{BasicAuth, CurrentUser};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let users: HashedPasswords = [
        ("john", generate_password_hash("hello")),
        ("susan", generate_password_hash("bye")),
    ]
    .into_iter()
    .collect();
    // The user is the username; `map_user` gives your own type instead.
    let auth = BasicAuth::verify_password(users);

    let app = Router::new().route(
        "/",
        get(|CurrentUser(user): CurrentUser<String>| async move { format!("Hello, {user}!") })
            .route_layer(auth.login_required()),
    );

    let port = std::env::var("PORT")
        .map_or(Ok(5000), |port| port.parse())
        .expect("PORT");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // With the client address, so the throttle also counts failures per address.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
