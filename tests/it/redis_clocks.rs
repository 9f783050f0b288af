//! The throttle over Redis whatever Redis's clock says: its counts expire relative to Redis's
//! own clock, so a Redis clock ahead of (or behind) the instances neither forgets failures nor
//! keeps them past their window.

use std::collections::HashMap;

use crate::common;
use crate::redis_two_instances::{demo_args, free_port, redis_cli, Redis, Scratch};

/// `n` wrong Basic guesses for `user` on `base`, one after the other, each from its own
/// address: the statuses.
async fn wrong_in_sequence(base: &str, user: &str, from: u32, n: u32) -> HashMap<u16, usize> {
    let mut seen = HashMap::new();
    for i in 0..n {
        let http = common::client_from(common::loopback(from + i));
        let status = http
            .get(format!("{base}/basic"))
            .header("authorization", common::basic(user, "wrong"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        *seen.entry(status).or_insert(0) += 1;
    }
    seen
}

/// The status of `user`'s right password on `base`, from a fresh address.
async fn right_once(base: &str, user: &str, password: &str, from: u32) -> u16 {
    common::client_from(common::loopback(from))
        .get(format!("{base}/basic"))
        .header("authorization", common::basic(user, password))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Two demo instances sharing `url`, with a 60 s window, their clocks `skew` (libfaketime's
/// `FAKETIME`, e.g. `-100s`) from the machine's (and Redis's); `None`: the machine's.
fn skewed_pair(scratch: &Scratch, url: &str, skew: Option<&str>) -> [common::LoggedDemo; 2] {
    let args = demo_args(scratch, &["--redis", url], &["--throttle-window", "60"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = match skew {
        Some(skew) => vec![
            ("FAKETIME", skew),
            ("DONT_FAKE_MONOTONIC", "1"),
            (
                "LD_PRELOAD",
                "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
            ),
        ],
        None => Vec::new(),
    };
    [
        common::LoggedDemo::start(&args, &env),
        common::LoggedDemo::start(&args, &env),
    ]
}

/// The instances agree on the time, Redis's clock is 100 s ahead of theirs (a host without
/// NTP, a VM resumed from a snapshot): the sketch's slots are given an absolute expiry
/// (`PEXPIREAT`, the instance's clock) that Redis, by its own clock, finds past, so every
/// failure counted there is deleted as it is written. Ten wrong guesses on A, and B lets the
/// right password through as if none had been made. (The nonce store gives relative expiries
/// with a margin, and is not affected.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_clock_ahead_of_the_instances_forgets_no_failure() {
    assert!(
        std::path::Path::new("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1").exists(),
        "apt-get install faketime"
    );
    let scratch = Scratch::new("review-clock");
    let port = free_port();
    let _redis = Redis::start(port);
    let url = format!("redis://127.0.0.1:{port}/");

    // The same clocks: ten wrong guesses on A block john's right password on B.
    let [a, b] = skewed_pair(&scratch, &url, None);
    let seen = wrong_in_sequence(&a.base, "john", 17_000, 10).await;
    assert_eq!(seen.get(&401).copied(), Some(10), "{seen:?}");
    assert_eq!(right_once(&b.base, "john", "hello", 17_100).await, 429);
    drop((a, b));

    // Redis 100 s ahead of the instances: the same for susan.
    let [a, b] = skewed_pair(&scratch, &url, Some("-100s"));
    let seen = wrong_in_sequence(&a.base, "susan", 17_200, 10).await;
    assert_eq!(seen.get(&401).copied(), Some(10), "{seen:?}");
    eprintln!(
        "sketch slots in Redis after susan's guesses: {:?}",
        redis_cli(port, &["--scan", "--pattern", "*{throttle}:s:*"])
    );
    assert_eq!(
        right_once(&b.base, "susan", "bye", 17_300).await,
        429,
        "susan's ten failures on A were forgotten by Redis"
    );
}
