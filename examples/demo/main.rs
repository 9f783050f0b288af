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
        "usage: demo [--port PORT] [--htpasswd FILE] [--browser-test] [throttle flags]\n  \
         --port PORT      listen on 127.0.0.1:PORT (or PORT=... in the environment; default 3000)\n  \
         --htpasswd FILE  the Basic routes check this Apache htpasswd file's users (no roles)\n  \
         --browser-test   add the browser tests' routes and log (examples/demo/browser.rs)\n  \
         --secret-file PATH  the Digest nonce secret (at least 32 bytes), shared by several instances\n  \
         --redis URL      Digest replay protection and the throttle's counts in that Redis (the\n                   `redis` feature), shared by every instance pointed at it; without it, in memory\n  \
         --redis-deadline-ms N  the deadline of one Redis call (default 250)\n  \
         --max-failures-per-user N   failed attempts per username per window (default 10; 0: off)\n  \
         --max-failures-per-addr N   failed attempts per client address per window (default 100; 0: off)\n  \
         --throttle-window SECS      how long failures are remembered (default 900)\n  \
         --no-throttle               no brute-force throttling"
    );
    std::process::exit(2);
}

/// The command line.
struct Args {
    port: u16,
    htpasswd: Option<std::path::PathBuf>,
    throttle: Option<httpauth::Throttle>,
    secret_file: Option<std::path::PathBuf>,
    redis: Option<String>,
    /// `--redis-deadline-ms`: the deadline of one Redis call (default 250 ms).
    redis_deadline: Option<std::time::Duration>,
}

fn args() -> Args {
    let mut args = std::env::args().skip(1);
    let mut port = std::env::var("PORT").ok();
    let mut htpasswd = None;
    let mut secret_file = None;
    let mut redis = None;
    let mut redis_deadline = None;
    let mut throttle = Some(httpauth::Throttle::new());
    let number = |args: &mut std::iter::Skip<std::env::Args>| -> u32 {
        args.next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| usage())
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--max-failures-per-user" => {
                let n = number(&mut args);
                throttle = throttle.map(|t| t.max_failures_per_user(n));
            }
            "--max-failures-per-addr" => {
                let n = number(&mut args);
                throttle = throttle.map(|t| t.max_failures_per_addr(n));
            }
            "--throttle-window" => {
                let secs = number(&mut args);
                let window = std::time::Duration::from_secs(secs.into());
                throttle = throttle.map(|t| t.try_window(window).unwrap_or_else(|_| usage()));
            }
            "--no-throttle" => throttle = None,
            "--port" => port = Some(args.next().unwrap_or_else(|| usage())),
            "--htpasswd" => htpasswd = Some(args.next().unwrap_or_else(|| usage()).into()),
            "--browser-test" => {} // read in main
            "--secret-file" => secret_file = Some(args.next().unwrap_or_else(|| usage()).into()),
            "--redis" => redis = Some(args.next().unwrap_or_else(|| usage())),
            "--redis-deadline-ms" => {
                let ms = number(&mut args);
                redis_deadline = Some(std::time::Duration::from_millis(ms.into()));
            }
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
    Args {
        port,
        htpasswd,
        throttle,
        secret_file,
        redis,
        redis_deadline,
    }
}

/// The Digest routes' shared state from `--secret-file` and `--redis`.
fn digest_shared(
    secret_file: Option<&std::path::Path>,
    redis: Option<&str>,
    redis_deadline: Option<std::time::Duration>,
) -> digest::Shared {
    #[cfg_attr(not(feature = "redis"), allow(unused_mut))]
    let mut shared = digest::Shared {
        secret_file: secret_file.map(std::path::Path::to_path_buf),
        store: None,
        throttle: httpauth::Throttle::new(),
    };
    if let Some(url) = redis {
        #[cfg(feature = "redis")]
        match httpauth::redis::RedisNonceStore::open(url) {
            Ok(store) => {
                let store = match redis_deadline {
                    Some(deadline) => store.deadline(deadline),
                    None => store,
                };
                shared.store = Some(std::sync::Arc::new(store));
            }
            Err(err) => {
                eprintln!("invalid --redis URL ({:?})", err.kind());
                std::process::exit(1);
            }
        }
        #[cfg(not(feature = "redis"))]
        {
            let _ = (url, redis_deadline);
            eprintln!("--redis needs the demo built with the redis feature (cargo run --features redis --example demo)");
            std::process::exit(1);
        }
    }
    shared
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

    let Args {
        port,
        htpasswd,
        throttle,
        secret_file,
        redis,
        redis_deadline,
    } = args();
    let mut digest = digest_shared(secret_file.as_deref(), redis.as_deref(), redis_deadline);
    // Every route shares one throttle (no limit with --no-throttle).
    let throttle = throttle.unwrap_or_else(|| {
        httpauth::Throttle::new()
            .max_failures_per_user(0)
            .max_failures_per_addr(0)
    });
    // With --redis the counts are shared too, their keys salted with the shared secret.
    #[cfg(feature = "redis")]
    let throttle = match redis.as_deref() {
        Some(url) => {
            let salt = match secret_file.as_deref().map(std::fs::read) {
                Some(Ok(secret)) => secret,
                _ => b"httpauth demo throttle keys".to_vec(),
            };
            match httpauth::redis::RedisThrottle::open(url, &salt) {
                Ok(store) => throttle.store(match redis_deadline {
                    Some(deadline) => store.deadline(deadline),
                    None => store,
                }),
                Err(err) => {
                    eprintln!("invalid --redis URL ({:?})", err.kind());
                    std::process::exit(2);
                }
            }
        }
        None => throttle,
    };
    digest.throttle = throttle;
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
    let mut app = app::app_with(&users, &digest);
    if std::env::args().any(|arg| arg == "--browser-test") {
        app = browser::with_browser_test_routes(app);
    }
    // The peer address reaches the throttle and the refusal events through `ConnectInfo`.
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(err) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        eprintln!("server error: {err}");
        std::process::exit(1);
    }
}
