//! Bearer tokens (Flask-HTTPAuth's token example).
//!
//! ```text
//! cargo run --example token                      # PORT=5000 by default
//! curl -H 'Authorization: Bearer secret-token-1' http://127.0.0.1:5000/   # Hello, john!
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::{routing::get, Router};
use httpauth::{CurrentUser, TokenAuth};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let tokens = HashMap::from([("secret-token-1", "john"), ("secret-token-2", "susan")]);
    // Compare secrets in constant time in real code (a digest of the token as the key, or
    // `subtle`); a map lookup is fine for an example.
    let auth =
        TokenAuth::verify_token_sync(move |token| tokens.get(token).map(|user| user.to_string()));

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
