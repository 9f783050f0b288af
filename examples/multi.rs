//! Basic or a Bearer token on one route (Flask-HTTPAuth's `MultiAuth` example): the scheme is
//! chosen by the credentials the client sends; without any, the 401 offers both.
//!
//! ```text
//! cargo run --example multi                      # PORT=5000 by default
//! curl -u john:hello http://127.0.0.1:5000/      # Hello, john!
//! curl -H 'Authorization: Bearer secret-token-2' http://127.0.0.1:5000/   # Hello, susan!
//! ```

use std::net::SocketAddr;

use axum::{routing::get, Router};
use httpauth::password::{generate_password_hash, HashedPasswords};
use httpauth::{BasicAuth, CurrentUser, MultiAuth, TokenAuth};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let users: HashedPasswords = [
        ("john", generate_password_hash("hello")),
        ("susan", generate_password_hash("bye")),
    ]
    .into_iter()
    .collect();
    let basic = BasicAuth::verify_password(users);
    let token = TokenAuth::verify_token_sync(|token| match token {
        "secret-token-1" => Some("john".to_owned()),
        "secret-token-2" => Some("susan".to_owned()),
        _ => None,
    });
    // Both give the same user type, so one handler serves both.
    let auth = MultiAuth::new(basic).or(token);

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
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
