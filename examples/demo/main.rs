//! The httpauth demo server: every Flask-HTTPAuth "Getting Started" example on its own path.
//!
//! Run with `cargo run --example demo` (port 3000), `PORT=8080 cargo run --example demo` or
//! `cargo run --example demo -- --port 8080`; `--htpasswd FILE` makes the Basic routes check an
//! Apache htpasswd file's users instead of the built-in ones. Then:
//!
//! ```text
//! curl -u john:hello http://127.0.0.1:3000/basic     # Hello, john!
//! curl -u john:hello http://127.0.0.1:3000/admin     # 403
//! ```

mod app;
mod browser;
mod digest;
mod users;

use std::io::Write as _;
use std::net::SocketAddr;

fn usage() -> ! {
    eprintln!(
        "usage: demo [--port PORT] [--htpasswd FILE] [--browser-test]\n  \
         --port PORT      listen on 127.0.0.1:PORT (or PORT=... in the environment; default 3000)\n  \
         --htpasswd FILE  the Basic routes check this Apache htpasswd file's users (no roles)\n  \
         --browser-test   add the browser tests' routes and log (examples/demo/browser.rs)"
    );
    std::process::exit(2);
}

/// The command line.
struct Args {
    port: u16,
    htpasswd: Option<std::path::PathBuf>,
}

fn args() -> Args {
    let mut args = std::env::args().skip(1);
    let mut port = std::env::var("PORT").ok();
    let mut htpasswd = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = Some(args.next().unwrap_or_else(|| usage())),
            "--htpasswd" => htpasswd = Some(args.next().unwrap_or_else(|| usage()).into()),
            "--browser-test" => {} // read in main
            "-h" | "--help" => usage(),
            other => {
                eprintln!("unknown argument {other:?}");
                usage()
            }
        }
    }
    let port = match port {
        None => 3000,
        Some(p) => p.parse().unwrap_or_else(|_| usage()),
    };
    Args { port, htpasswd }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[tokio::main]
async fn main() {
    let level = match std::env::var("DEMO_LOG").as_deref() {
        Ok("debug") => tracing::Level::DEBUG,
        Ok("info") => tracing::Level::INFO,
        _ => tracing::Level::WARN,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();

    let Args { port, htpasswd } = args();
    let users = match htpasswd {
        None => users::Users::new(),
        Some(path) => users::Users::from_htpasswd(&path).unwrap_or_else(|err| {
            eprintln!("cannot read {}: {err}", path.display());
            std::process::exit(1);
        }),
    };
    let listener =
        match tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await {
            Ok(l) => l,
            Err(err) => {
                eprintln!("cannot listen on 127.0.0.1:{port}: {err}");
                std::process::exit(1);
            }
        };
    let addr = listener
        .local_addr()
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], port)));
    println!("listening on http://{addr}");
    let _ = std::io::stdout().flush();
    let mut app = app::app(&users);
    if std::env::args().any(|arg| arg == "--browser-test") {
        app = browser::with_browser_test_routes(app);
    }
    if let Err(err) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        eprintln!("server error: {err}");
        std::process::exit(1);
    }
}
