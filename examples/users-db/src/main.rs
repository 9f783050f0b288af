//! Users in a database: axum + sqlx (SQLite). Basic over the hashes in
//! `users(username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, roles TEXT NOT NULL DEFAULT '')`
//! (any format httpauth verifies, e.g. bcrypt from `htpasswd -nbB`; roles space-separated).
//!
//! `cargo run -p example-users-db -- --db users.sqlite` serves on `127.0.0.1:$PORT` (default
//! 3000): `/me` answers `Hello, <user>!`, `/admin` needs the role `admin`. A database error
//! answers 503, never 401, and never counts against anyone.

use std::net::SocketAddr;

// README: the first example, from here to the end of `app` (kept identical by a test).
use axum::{routing::get, Router};
use httpauth::{AuthError, BasicAuth, CurrentUser};
use sqlx::SqlitePool;

#[derive(Clone)]
struct User {
    name: String,
    roles: Vec<String>,
}

fn app(db: SqlitePool) -> Router {
    let auth = BasicAuth::lookup_hash(move |name: String| {
        let db = db.clone();
        async move {
            let row: Option<(String, String)> =
                sqlx::query_as("SELECT password_hash, roles FROM users WHERE username = ?")
                    .bind(&name)
                    .fetch_optional(&db)
                    .await
                    .map_err(AuthError::backend)?;
            Ok::<_, AuthError>(row.map(|(hash, roles)| {
                let roles = roles.split_whitespace().map(str::to_owned).collect();
                (hash, User { name, roles })
            }))
        }
    })
    .user_roles_sync(|user: &User| user.roles.clone());

    let hello =
        |CurrentUser(user): CurrentUser<User>| async move { format!("Hello, {}!", user.name) };
    Router::new()
        .route("/me", get(hello).route_layer(auth.login_required()))
        .route(
            "/admin",
            get(hello).route_layer(auth.login_required().role("admin")),
        )
}
// README: end.

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut db_path = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--db" => db_path = args.next(),
            other => {
                eprintln!("unknown argument {other:?}; usage: example-users-db --db FILE");
                std::process::exit(2);
            }
        }
    }
    let Some(db_path) = db_path else {
        eprintln!("usage: example-users-db --db FILE");
        std::process::exit(2);
    };
    let db = match SqlitePool::connect(&format!("sqlite:{db_path}")).await {
        Ok(db) => db,
        Err(err) => {
            eprintln!("cannot open {db_path}: {err}");
            std::process::exit(1);
        }
    };
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener =
        match tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("cannot listen on 127.0.0.1:{port}: {err}");
                std::process::exit(1);
            }
        };
    let addr = listener
        .local_addr()
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], port)));
    println!("listening on http://{addr}");
    // The client address reaches the throttle through `ConnectInfo`.
    let app = app(db).into_make_service_with_connect_info::<SocketAddr>();
    if let Err(err) = axum::serve(listener, app).await {
        eprintln!("server error: {err}");
        std::process::exit(1);
    }
}
