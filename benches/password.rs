//! The cost of a Basic password check: a verified-credential cache hit against a miss (a real
//! argon2id verification at OWASP's parameters, and bcrypt cost 10 for comparison).
//!
//! `cargo bench --bench password` prints criterion's figures, then the hit/miss ratio measured
//! in the same run.
//!
//! Instructions per hit under callgrind (deterministic): `HTTPAUTH_BENCH_CALLGRIND=store` (hits
//! through `HashedPasswords::verify_password`) or `=checker` (`PasswordChecker::check_cached`)
//! runs `HTTPAUTH_BENCH_N` hits (default 1000) and nothing else; run it for N and 2N under
//! `valgrind --tool=callgrind` and take (I(2N) − I(N)) / N so the setup cancels out.

#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use httpauth::password::{
    check_password_hash, generate_password_hash, HashedPasswords, PasswordChecker,
};
use httpauth::VerifyPassword;

fn hit(users: &HashedPasswords) -> Option<String> {
    match users.verify_password("john", "hello").into_ready() {
        Ok(user) => user.ok().flatten(),
        Err(_) => panic!("not a cache hit"),
    }
}

fn benches(c: &mut Criterion) {
    let hash = generate_password_hash("hello");
    let bcrypt10 = bcrypt_hash();
    let users = HashedPasswords::new();
    users.insert("john", hash.clone()).unwrap();
    // Fill the cache.
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert!(rt
        .block_on(users.verify_password("john", "hello"))
        .is_ok_and(|u| u.is_some()));

    c.bench_function(
        "cache hit (HashedPasswords: the SipHash key + lookup)",
        |b| b.iter(|| hit(std::hint::black_box(&users))),
    );
    let checker = PasswordChecker::new();
    let stored: std::sync::Arc<str> = hash.clone().into();
    assert!(rt.block_on(checker.verify("john", "hello", stored.clone())));
    c.bench_function("PasswordChecker::check_cached (own store)", |b| {
        b.iter(|| checker.check_cached("john", std::hint::black_box("hello"), &stored))
    });
    let mut slow = c.benchmark_group("miss");
    slow.sample_size(10)
        .measurement_time(Duration::from_secs(5));
    slow.bench_function("argon2id m=19456 t=2 p=1", |b| {
        b.iter(|| check_password_hash(&hash, std::hint::black_box("hello")))
    });
    slow.bench_function("bcrypt cost 10", |b| {
        b.iter(|| check_password_hash(&bcrypt10, std::hint::black_box("hello")))
    });
    slow.finish();

    // The ratio, measured here with plain timers.
    let n = 100_000u32;
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(hit(&users));
    }
    let hit_time = start.elapsed() / n;
    let start = Instant::now();
    for _ in 0..5 {
        let _ = std::hint::black_box(check_password_hash(&hash, "hello"));
    }
    let miss_time = start.elapsed() / 5;
    println!(
        "\ncache hit {hit_time:?} vs argon2id miss {miss_time:?}: a hit is {:.0}x cheaper",
        miss_time.as_secs_f64() / hit_time.as_secs_f64()
    );
}

/// A bcrypt cost-10 hash of "hello" (Apache's `htpasswd -nbB -C 10` writes the same format).
fn bcrypt_hash() -> String {
    "$2y$10$u2cawjrC.UHU7w61JdfMIeCo8atvFG3jEb9qksAwLVseLimDOF5OS".to_owned()
}

criterion_group!(password, benches);

/// `HTTPAUTH_BENCH_CALLGRIND=store|checker`: fill the cache with a cheap argon2id hash, then
/// `HTTPAUTH_BENCH_N` hits.
fn callgrind_mode(case: &str) {
    let n: u32 = std::env::var("HTTPAUTH_BENCH_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    // A hash of OWASP's shape (same string length as m=19456), made cheaply.
    let hash = httpauth::password::Params::new(19_456, 1, 1)
        .unwrap()
        .hash("hello");
    let users = HashedPasswords::new();
    users.insert("john", hash.clone()).unwrap();
    let checker = PasswordChecker::new();
    let stored: std::sync::Arc<str> = hash.into();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    match case {
        "store" => {
            assert!(rt
                .block_on(users.verify_password("john", "hello"))
                .is_ok_and(|u| u.is_some()));
            for _ in 0..n {
                std::hint::black_box(hit(std::hint::black_box(&users)));
            }
        }
        "checker" => {
            assert!(rt.block_on(checker.verify("john", "hello", stored.clone())));
            for _ in 0..n {
                assert!(checker.check_cached("john", std::hint::black_box("hello"), &stored));
            }
        }
        _ => {
            eprintln!("HTTPAUTH_BENCH_CALLGRIND: store or checker");
            std::process::exit(2)
        }
    }
}

fn main() {
    if let Ok(case) = std::env::var("HTTPAUTH_BENCH_CALLGRIND") {
        callgrind_mode(&case);
        return;
    }
    password();
    Criterion::default().configure_from_args().final_summary();
}
