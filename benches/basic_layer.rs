//! One request through the Basic auth layer against the same service without it.
//!
//! `cargo bench --bench basic_layer` prints criterion's figures, then the overhead per request
//! and the ratio against the no-auth baseline measured in the same run.

#![allow(missing_docs)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, Criterion};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use httpauth::{BasicAuth, CurrentUser};
use subtle::ConstantTimeEq;
use tower::{service_fn, Layer, Service, ServiceExt};

#[derive(Clone)]
#[allow(dead_code)]
struct User {
    name: Arc<str>,
}

type Body = Full<Bytes>;

async fn handler(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    // Read the user as a handler would (absent in the baseline).
    let name = req
        .extensions()
        .get::<CurrentUser<User>>()
        .map_or(0, |u| u.0.name.len());
    Ok(Response::new(Full::from(if name > 0 {
        "hello"
    } else {
        "hi"
    })))
}

fn request(auth: Option<&'static str>) -> Request<Body> {
    let mut req = Request::get("/").body(Full::default()).unwrap();
    if let Some(a) = auth {
        req.headers_mut()
            .insert(AUTHORIZATION, HeaderValue::from_static(a));
    }
    req
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // A cheap in-memory verify callback returning a user: a map lookup and a constant-time
    // comparison.
    let users: Arc<HashMap<&'static str, (&'static str, User)>> = Arc::new(HashMap::from([
        (
            "john",
            (
                "hello",
                User {
                    name: Arc::from("john"),
                },
            ),
        ),
        (
            "susan",
            (
                "bye",
                User {
                    name: Arc::from("susan"),
                },
            ),
        ),
    ]));
    let auth = BasicAuth::verify_password_sync(move |u, p| {
        let (pw, user) = users.get(u)?;
        bool::from(pw.as_bytes().ct_eq(p.as_bytes())).then(|| user.clone())
    });
    let baseline = service_fn(handler);
    let layered = auth.login_required().layer(service_fn(handler));

    let mut group = c.benchmark_group("basic_layer");
    let cases = [
        ("baseline", false, Some("Basic am9objpoZWxsbw==")),
        ("basic_ok", true, Some("Basic am9objpoZWxsbw==")),
        ("basic_wrong_password", true, Some("Basic am9objpieWU=")),
        ("no_credentials", true, None),
    ];
    for (name, with_auth, authorization) in cases {
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    if with_auth {
                        let mut svc = layered.clone();
                        svc.ready()
                            .await
                            .unwrap()
                            .call(request(authorization))
                            .await
                            .unwrap()
                    } else {
                        let mut svc = baseline;
                        svc.ready()
                            .await
                            .unwrap()
                            .call(request(authorization))
                            .await
                            .unwrap()
                    }
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);

fn mean_ns(function: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_owned());
    let path = format!("{dir}/criterion/basic_layer/{function}/new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if let Some(base) = mean_ns("baseline") {
        println!("\nbaseline (no auth): {base:.0} ns/request");
        for f in ["basic_ok", "basic_wrong_password", "no_credentials"] {
            if let Some(t) = mean_ns(f) {
                println!(
                    "{f:>22}: {t:.0} ns/request, overhead {:+.0} ns, ratio {:.2}x",
                    t - base,
                    t / base
                );
            }
        }
    }
}
