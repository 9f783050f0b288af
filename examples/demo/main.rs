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
mod serve;
mod users;

use std::io::Write as _;
use std::net::SocketAddr;

fn usage() -> ! {
    eprintln!(
        "usage: demo [--port PORT] [--htpasswd FILE] [--browser-test] [throttle flags]\n  \
         --port PORT      listen on 127.0.0.1:PORT (or PORT=... in the environment; default 3000)\n  \
         --htpasswd FILE  the Basic routes check this Apache htpasswd file's users (no roles)\n  \
         --browser-test   add the browser tests' routes and log (examples/demo/browser.rs)\n  \
         --secret-file PATH  the Digest nonce secrets (one per line, at least 32 bytes; the first issues), shared by several instances\n  \
         --redis URL      Digest replay protection and the throttle's counts in that Redis (the\n                   `redis` feature), shared by every instance pointed at it; without it, in memory\n  \
         --redis-deadline-ms N  the deadline of one Redis call (default 250)\n  \
         --redis-ca-file PATH   trust only this CA (PEM) for rediss:// URLs\n  \
         --redis-cluster URL,URL,...  like --redis, on a Redis Cluster (seed nodes)\n  \
         --max-failures-per-user N   failed attempts per username per window (default 10; 0: off)\n  \
         --max-failures-per-addr N   failed attempts per client address per window (default 100; 0: off)\n  \
         --throttle-window SECS      how long failures are remembered (default 900)\n  \
         --no-throttle               no brute-force throttling\n  \
         --trusted-proxy CIDR        a reverse proxy (range) whose forwarding header is believed (repeatable)\n  \
         --proxy-header NAME         the header they write: x-forwarded-for (default) or forwarded\n  \
         --metrics                   serve the metrics at /metrics (Prometheus text; the `metrics` feature)\n  \
         --log-format text|json      the events on stderr as text (default), or on stdout as JSON lines\n                              (level INFO unless DEMO_LOG says otherwise)\n  \
         --header-read-timeout SECS  close a connection whose request head takes longer (default 10)\n  \
         --idle-timeout SECS         close a connection idle this long while waiting on the client (default 60)\n  \
         --max-connections N         connections open at once; more wait (default 1024)"
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
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    redis_deadline: Option<std::time::Duration>,
    /// `--redis-ca-file`, `--redis-cluster`.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    redis_ca_file: Option<std::path::PathBuf>,
    redis_cluster: Option<String>,
    /// `--metrics`, `--log-format json`.
    metrics: bool,
    json_logs: bool,
    /// `--header-read-timeout`, `--idle-timeout`, `--max-connections`.
    limits: serve::Limits,
}

fn args() -> Args {
    let mut args = std::env::args().skip(1);
    let mut port = std::env::var("PORT").ok();
    let mut htpasswd = None;
    let mut secret_file = None;
    let mut redis = None;
    let mut redis_deadline = None;
    let (mut redis_ca_file, mut redis_cluster) = (None, None);
    let mut throttle = Some(httpauth::Throttle::new());
    let (mut proxies, mut proxy_header) = (Vec::new(), httpauth::ProxyHeader::default());
    let (mut metrics, mut json_logs) = (false, false);
    let mut limits = serve::Limits::default();
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
            "--trusted-proxy" => {
                let range = args
                    .next()
                    .and_then(|r| r.parse().ok())
                    .unwrap_or_else(|| usage());
                proxies.push(range);
            }
            "--proxy-header" => {
                proxy_header = match args.next().as_deref() {
                    Some("x-forwarded-for") => httpauth::ProxyHeader::XForwardedFor,
                    Some("forwarded") => httpauth::ProxyHeader::Forwarded,
                    _ => usage(),
                };
            }
            "--port" => port = Some(args.next().unwrap_or_else(|| usage())),
            "--htpasswd" => htpasswd = Some(args.next().unwrap_or_else(|| usage()).into()),
            "--browser-test" => {} // read in main
            "--secret-file" => secret_file = Some(args.next().unwrap_or_else(|| usage()).into()),
            "--redis" => redis = Some(args.next().unwrap_or_else(|| usage())),
            "--redis-deadline-ms" => {
                let ms = number(&mut args);
                redis_deadline = Some(std::time::Duration::from_millis(ms.into()));
            }
            "--redis-ca-file" => {
                redis_ca_file = Some(args.next().unwrap_or_else(|| usage()).into())
            }
            "--redis-cluster" => redis_cluster = Some(args.next().unwrap_or_else(|| usage())),
            "--metrics" => metrics = true,
            "--log-format" => {
                json_logs = match args.next().as_deref() {
                    Some("json") => true,
                    Some("text") => false,
                    _ => usage(),
                };
            }
            "--header-read-timeout" => {
                let secs = number(&mut args).max(1);
                limits.header_read_timeout = std::time::Duration::from_secs(secs.into());
            }
            "--idle-timeout" => {
                let secs = number(&mut args).max(1);
                limits.idle_timeout = std::time::Duration::from_secs(secs.into());
            }
            "--max-connections" => {
                limits.max_connections = usize::try_from(number(&mut args).max(1)).unwrap_or(1);
            }
            "-h" | "--help" => usage(),
            other => {
                eprintln!("unknown argument {other:?}");
                usage()
            }
        }
    }
    let throttle = throttle.map(|t| t.trusted_proxy_ranges(proxies).proxy_header(proxy_header));
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
        redis_ca_file,
        redis_cluster,
        metrics,
        json_logs,
        limits,
    }
}

/// Where `--redis` / `--redis-cluster` (with `--redis-ca-file`) point, when either is given.
#[cfg(feature = "redis")]
fn redis_target(args: &Args) -> Option<httpauth::redis::RedisTarget> {
    use httpauth::redis::RedisTarget;
    let target = match (&args.redis, &args.redis_cluster) {
        (Some(url), None) => RedisTarget::server(url),
        (None, Some(urls)) => RedisTarget::cluster(urls.split(',')),
        (None, None) => return None,
        (Some(_), Some(_)) => usage(),
    };
    Some(match &args.redis_ca_file {
        None => target,
        Some(path) => target.ca_file(path).unwrap_or_else(|err| {
            eprintln!("cannot read {}: {err}", path.display());
            std::process::exit(1);
        }),
    })
}

/// The Digest routes' shared state from `--secret-file` and `--redis` / `--redis-cluster`.
fn digest_shared(args: &Args) -> digest::Shared {
    #[cfg_attr(not(feature = "redis"), allow(unused_mut))]
    let mut shared = digest::Shared {
        secret_file: args.secret_file.clone(),
        store: None,
        throttle: httpauth::Throttle::new(),
    };
    #[cfg(feature = "redis")]
    if let Some(target) = redis_target(args) {
        match httpauth::redis::RedisNonceStore::connect(&target) {
            Ok(store) => {
                let store = match args.redis_deadline {
                    Some(deadline) => store.deadline(deadline),
                    None => store,
                };
                shared.store = Some(std::sync::Arc::new(store));
            }
            Err(err) => {
                eprintln!("invalid Redis configuration ({:?})", err.kind());
                std::process::exit(1);
            }
        }
    }
    #[cfg(not(feature = "redis"))]
    if args.redis.is_some() || args.redis_cluster.is_some() {
        eprintln!("--redis needs the demo built with the redis feature (cargo run --features redis --example demo)");
        std::process::exit(1);
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

/// The events: text on stderr (level from `DEMO_LOG`, default WARN), or with `--log-format
/// json` one JSON object per line on stdout (default INFO: every decision).
fn logging(json: bool) {
    let level = match std::env::var("DEMO_LOG").as_deref() {
        Ok("debug") => tracing::Level::DEBUG,
        Ok("info") => tracing::Level::INFO,
        Ok("warn") => tracing::Level::WARN,
        _ if json => tracing::Level::INFO,
        _ => tracing::Level::WARN,
    };
    let events = tracing_subscriber::fmt().with_max_level(level);
    if json {
        events
            .json()
            .flatten_event(true)
            .with_writer(std::io::stdout)
            .init();
    } else {
        events.with_writer(std::io::stderr).init();
    }
}

/// `--metrics`: a Prometheus recorder for the process, and its text for `/metrics`.
#[cfg(feature = "metrics")]
fn metrics_route(app: axum::Router) -> axum::Router {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    // Seconds: 1 ms to 10 s (a hash takes tens to hundreds of milliseconds).
    let buckets = [
        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &buckets)
        .and_then(PrometheusBuilder::install_recorder)
        .unwrap_or_else(|err| {
            eprintln!("cannot install the metrics recorder: {err}");
            std::process::exit(1);
        });
    httpauth::metrics::describe();
    // The recorder keeps histogram samples until upkeep folds them in.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    app.route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move { handle.render() }
        }),
    )
}

#[cfg(not(feature = "metrics"))]
fn metrics_route(_app: axum::Router) -> axum::Router {
    eprintln!("--metrics needs the demo built with the metrics feature (cargo run --features metrics --example demo)");
    std::process::exit(1);
}

#[tokio::main]
async fn main() {
    let mut args = args();
    logging(args.json_logs);
    let mut digest = digest_shared(&args);
    #[cfg(feature = "redis")]
    let redis = redis_target(&args);
    let (port, htpasswd) = (args.port, args.htpasswd.take());
    // Every route shares one throttle (no limit with --no-throttle).
    let throttle = args.throttle.take().unwrap_or_else(|| {
        httpauth::Throttle::new()
            .max_failures_per_user(0)
            .max_failures_per_addr(0)
    });
    // With --redis the counts are shared too, their keys salted with the shared secret.
    #[cfg(feature = "redis")]
    let throttle = match &redis {
        Some(target) => {
            // A salt that does not change when the Digest secrets rotate (a deployment keeps
            // its own, the same on every instance).
            let salt = b"httpauth demo throttle keys".to_vec();
            match httpauth::redis::RedisThrottle::connect(target, &salt) {
                Ok(store) => throttle.store(match args.redis_deadline {
                    Some(deadline) => store.deadline(deadline),
                    None => store,
                }),
                Err(err) => {
                    eprintln!("invalid Redis configuration ({:?})", err.kind());
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
    if args.metrics {
        app = metrics_route(app);
    }
    // The peer address reaches the throttle and the events through `ConnectInfo`.
    serve::serve(listener, app, args.limits, shutdown_signal()).await;
}
