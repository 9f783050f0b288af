//! Digest authentication (Flask-HTTPAuth's second example): the handler reads the username.
//!
//! ```text
//! cargo run --example digest                              # PORT=5000 by default
//! curl --digest -u john:hello http://127.0.0.1:5000/      # Hello, john!
//! ```

use std::net::SocketAddr;

use axum::{routing::get, Router};
use httpauth::{DigestAuth, Username};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let auth = DigestAuth::get_password_sync(|username| match username {
        "john" => Some("hello".to_owned()),
        "susan" => Some("bye".to_owned()),
        _ => None,
    });
    // Nonces are MACs under a random per-process key: no session store. Several instances
    // share one key with `.secret(..)`.

    let app = Router::new().route(
        "/",
        get(|Username(name): Username| async move { format!("Hello, {name}!") })
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
