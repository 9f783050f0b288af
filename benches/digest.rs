//! Digest verification cost, and the nonce store under contention.
//!
//! `cargo bench --bench digest`:
//!
//! - `digest_verify/<algorithm>`: one accepted request through `LoginRequired::check`: parse the
//!   `Authorization` header, check realm/algorithm/qop/uri, verify the opaque and nonce MACs, look
//!   the password up (sync callback over a map), compute HA1/HA2/response, compare in constant
//!   time, check expiry and record `(nonce, nc)` in the in-memory store. The client side (making
//!   the header) is in the untimed setup.
//! - `digest_reject/wrong_password_md5`: the same with a wrong response, plus the 401 challenge
//!   (a fresh nonce and opaque).
//! - `nonce_store/threads_N`: `MemoryNonceStore::check` from N threads at once, each use a fresh
//!   `(nonce, nc)` pair; the time is per check (total wall time / total checks).

#![allow(missing_docs)]

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, BatchSize, Criterion};
use http::request::Parts;
use httpauth::digest::{Algorithm, DigestAuth, MemoryNonceStore, NonceInfo, NonceStore};
use httpauth::policy::Decision;
use httpauth::scheme::AuthRequest;
use httpauth::LoginRequired;

const REALM: &str = "Authentication Required";

/// Polls a future that completes without waiting (everything here is synchronous).
fn now<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the benchmark futures never wait"),
    }
}

fn h(alg: Algorithm, parts: &[&str]) -> String {
    let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
    alg.hash(&parts).as_str().to_owned()
}

fn param(challenge: &str, name: &str) -> String {
    challenge
        .split(&format!("{name}=\""))
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

struct Setup {
    policy: LoginRequired<String>,
    nonce: String,
    opaque: String,
}

fn setup(alg: Algorithm) -> Setup {
    let users: Arc<HashMap<String, String>> = Arc::new(
        (0..1000)
            .map(|i| (format!("user{i}"), format!("password{i}")))
            .chain([("john".to_owned(), "hello".to_owned())])
            .collect(),
    );
    let auth = DigestAuth::get_password_sync(move |u| users.get(u).cloned()).algorithm(alg);
    let policy = auth.login_required();
    let (parts, ()) = http::Request::get("/digest").body(()).unwrap().into_parts();
    let Decision::Deny(res) = now(policy.check(&AuthRequest::new(&parts))) else {
        panic!("expected a challenge");
    };
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    Setup {
        policy,
        nonce: param(&challenge, "nonce"),
        opaque: param(&challenge, "opaque"),
    }
}

fn request(alg: Algorithm, s: &Setup, nc: u32, password: &str) -> Parts {
    let nc = format!("{nc:08x}");
    let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv";
    let mut ha1 = h(alg, &["john", REALM, password]);
    if alg.is_session() {
        ha1 = h(alg, &[&ha1, &s.nonce, cnonce]);
    }
    let ha2 = h(alg, &["GET", "/digest"]);
    let response = h(alg, &[&ha1, &s.nonce, &nc, cnonce, "auth", &ha2]);
    let value = format!(
        r#"Digest username="john", realm="{REALM}", nonce="{}", uri="/digest", algorithm={alg}, qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}", opaque="{}""#,
        s.nonce, s.opaque
    );
    http::Request::get("/digest")
        .header("authorization", value)
        .body(())
        .unwrap()
        .into_parts()
        .0
}

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("digest_verify");
    for alg in [
        Algorithm::Md5,
        Algorithm::Md5Sess,
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
        Algorithm::Sha512_256,
        Algorithm::Sha512_256Sess,
    ] {
        let s = setup(alg);
        let mut nc = 0_u32;
        group.bench_function(alg.name(), |b| {
            b.iter_batched(
                || {
                    nc += 1;
                    request(alg, &s, nc, "hello")
                },
                |parts| {
                    let decision = now(s.policy.check(&AuthRequest::new(&parts)));
                    assert!(matches!(
                        decision,
                        Decision::Allow {
                            identity: Some(_),
                            ..
                        }
                    ));
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();

    let mut group = c.benchmark_group("digest_reject");
    let s = setup(Algorithm::Md5);
    let parts = request(Algorithm::Md5, &s, 1, "wrong");
    group.bench_function("wrong_password_md5", |b| {
        b.iter(|| {
            let decision = now(s.policy.check(&AuthRequest::new(&parts)));
            assert!(matches!(decision, Decision::Deny(_)));
        });
    });
    group.finish();
}

fn store(c: &mut Criterion) {
    let mut group = c.benchmark_group("nonce_store");
    let nonces: Arc<Vec<String>> = Arc::new((0..4096).map(|i| format!("{i:072x}")).collect());
    for threads in [1_u32, 2, 4, 8] {
        group.bench_function(format!("threads_{threads}"), |b| {
            b.iter_custom(|iters| {
                // A fresh store per sample, sized so that nothing is evicted.
                let store = Arc::new(MemoryNonceStore::new(8192));
                let per_thread = iters.div_ceil(u64::from(threads));
                let issued = SystemTime::now();
                let expires = issued + Duration::from_secs(300);
                let start = Instant::now();
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let store = store.clone();
                        let nonces = nonces.clone();
                        std::thread::spawn(move || {
                            for i in 0..per_thread {
                                // Each thread its own nonces; counts increase per nonce.
                                let idx = usize::try_from(i).unwrap() % 1024
                                    + 1024 * usize::try_from(t % 4).unwrap();
                                let nc = u32::try_from(i / 1024).unwrap() * 8 + t + 1;
                                let info = NonceInfo::new(&nonces[idx], nc, issued, expires);
                                let _ = now(store.check(info));
                            }
                        })
                    })
                    .collect();
                for h in handles {
                    h.join().unwrap();
                }
                start.elapsed()
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = verify, store
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
