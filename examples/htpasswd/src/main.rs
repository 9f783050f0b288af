//! The users of an Apache htpasswd file, reloaded when it changes: add, change or remove a
//! user with Apache's `htpasswd` tool while the server runs, no restart.
//!
//! ```text
//! htpasswd -cbB users.htpasswd john hello
//! cargo run -p example-htpasswd -- --htpasswd users.htpasswd     # PORT=3000 by default
//! curl -u john:hello http://127.0.0.1:3000/                       # Hello, john!
//! htpasswd -bB users.htpasswd susan bye                           # susan can log in now
//! ```
//!
//! Every format `htpasswd` writes except `-d` (crypt) and `-p` (plain text) is accepted:
//! bcrypt (`-B`), apr1 (`-m`), `{SHA}` (`-s`), sha-crypt (`-2`, `-5`). The file's metadata is
//! checked at most once a second; a changed password no longer opens the door with the old
//! one (the verified-credential cache is keyed by the hash).

use std::net::SocketAddr;

use axum::{routing::get, Router};
use httpauth::password::HtpasswdFile;
use httpauth::{BasicAuth, CurrentUser};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = match (args.next().as_deref(), args.next()) {
        (Some("--htpasswd"), Some(path)) => path,
        _ => {
            eprintln!("usage: example-htpasswd --htpasswd FILE");
            std::process::exit(2);
        }
    };
    let users = HtpasswdFile::open(&path)?;
    let auth = BasicAuth::verify_password(users);

    let app = Router::new().route(
        "/",
        get(|CurrentUser(user): CurrentUser<String>| async move { format!("Hello, {user}!") })
            .route_layer(auth.login_required()),
    );

    let port = std::env::var("PORT")
        .map_or(Ok(3000), |port| port.parse())
        .expect("PORT");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
