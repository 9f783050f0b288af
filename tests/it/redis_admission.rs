//! The throttle over Redis against an attacker with many addresses and several instances:
//! every attempt is admitted against the shared count before it is verified, each instance
//! still enforces the limits while Redis is down, and the counts take fixed memory in Redis.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use httpauth::digest::Algorithm;

use crate::common;
use crate::digest_client::{challenge, Client};
use crate::redis_two_instances::{
    demo_args, free_port, header_values, redis_cli, send, stale, two_demos, Redis, Scratch,
};

/// The demo's default per-username limit.
const LIMIT: usize = 10;

/// A nonce and opaque of `url`, fetched from `source`.
async fn nonce_from(http: &reqwest::Client, url: &str) -> (String, String) {
    let res = http.get(url).send().await.unwrap();
    let line = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    let ch = crate::digest_client::parse_challenge(&line);
    (ch["nonce"].clone(), ch["opaque"].clone())
}

/// The status of a Digest login of `client` on `url`, with a fresh nonce; a nonce refused as
/// stale (issued within a second of Redis's data start) is retried, for at most 10 s.
async fn digest_login(url: &str, client: &Client) -> u16 {
    let started = Instant::now();
    loop {
        let (_, ch) = challenge(url).await;
        let (status, challenges, _) = send(url, &client.answer(&ch, "00000001")).await;
        if !(status == 401 && stale(&challenges)) || started.elapsed() > Duration::from_secs(10) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends `guesses` concurrent wrong Digest answers for susan on `/digest-sha256`, spread over
/// `bases` and over `addresses` loopback source addresses (one nonce each, counts in
/// sequence): the statuses seen, stale refusals apart.
async fn digest_burst(bases: &[String], addresses: u32, guesses: usize) -> HashMap<String, usize> {
    let wrong =
        Client::new("susan", "not-her-password", "/digest-sha256").algorithm(Algorithm::Sha256);
    let mut clients = Vec::new();
    for a in 0..addresses {
        let http = common::client_from(common::loopback(9_000 + a));
        let base = &bases[a as usize % bases.len()];
        let url = format!("{base}/digest-sha256");
        let (nonce, opaque) = nonce_from(&http, &url).await;
        clients.push((http, nonce, opaque));
    }
    let mut tasks = Vec::new();
    for i in 0..guesses {
        let (http, nonce, opaque) = clients[i % clients.len()].clone();
        let nc = format!("{:08x}", i / clients.len() + 1);
        let header = wrong.header(&nonce, &opaque, &nc);
        // Every other guess on the other instance.
        let url = format!("{}/digest-sha256", bases[(i / clients.len()) % bases.len()]);
        tasks.push(tokio::spawn(async move {
            let res = http
                .get(&url)
                .header("authorization", header)
                .send()
                .await
                .unwrap();
            let challenges = header_values(&res, "www-authenticate");
            match (res.status().as_u16(), stale(&challenges)) {
                (401, true) => "stale".to_owned(),
                (status, _) => status.to_string(),
            }
        }));
    }
    let mut seen = HashMap::new();
    for task in tasks {
        *seen.entry(task.await.unwrap()).or_insert(0) += 1;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_concurrent_burst_over_two_instances_meets_the_shared_limit() {
    let scratch = Scratch::new("redis-admission");
    let port = free_port();
    let _redis = Redis::start(port);
    let url = format!("redis://127.0.0.1:{port}/");
    let (_demos, bases) = two_demos(&demo_args(&scratch, &["--redis", &url], &[]));
    let seen = digest_burst(&bases, 50, 1_000).await;
    eprintln!("1 000 concurrent wrong guesses over two instances: {seen:?}");
    let checked = seen.get("401").copied().unwrap_or(0);
    // Each guess was admitted against the shared count before it was checked: the limit,
    // not 2 × the limit (and not hundreds, as when each instance judged from its own view).
    assert!(
        checked <= LIMIT + 2,
        "{checked} wrong guesses checked over two instances (limit {LIMIT}): {seen:?}"
    );
    assert!(checked >= 1, "{seen:?}");
    assert_eq!(
        seen.get("429").copied().unwrap_or(0) + checked + seen.get("stale").copied().unwrap_or(0),
        1_000,
        "{seen:?}"
    );
    // Susan's right password waits too, on both instances; john is not affected.
    let susan = Client::new("susan", "bye", "/digest-sha256").algorithm(Algorithm::Sha256);
    let john = Client::new("john", "hello", "/digest-sha256").algorithm(Algorithm::Sha256);
    for base in &bases {
        let url = format!("{base}/digest-sha256");
        assert_eq!(digest_login(&url, &susan).await, 429, "{base}");
        assert_eq!(digest_login(&url, &john).await, 200, "{base}");
    }
}

/// Sends every request at once, each `(client, url, Authorization)`: the statuses seen.
async fn burst(requests: Vec<(reqwest::Client, String, String)>) -> HashMap<u16, usize> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(http, url, header)| {
            tokio::spawn(async move {
                let res = http.get(&url).header("authorization", header).send().await;
                res.unwrap().status().as_u16()
            })
        })
        .collect();
    let mut seen = HashMap::new();
    for task in tasks {
        *seen.entry(task.await.unwrap()).or_insert(0) += 1;
    }
    seen
}

/// Wrong Basic guesses for john, `n` at once from `addresses` source addresses: the statuses.
async fn basic_burst(base: &str, addresses: u32, n: usize) -> HashMap<u16, usize> {
    let clients: Vec<reqwest::Client> = (0..addresses)
        .map(|a| common::client_from(common::loopback(12_000 + a)))
        .collect();
    burst(
        (0..n)
            .map(|i| {
                let http = clients[i % clients.len()].clone();
                (
                    http,
                    format!("{base}/basic"),
                    common::basic("john", &format!("guess{i}")),
                )
            })
            .collect(),
    )
    .await
}

/// A redis-server and one demo instance on it (the test's generous deadline), with susan
/// logged in once (so the connection to Redis is up): (Redis, the demo, its base URL, Redis's
/// port).
async fn demo_on_redis(scratch: &Scratch) -> (Redis, common::Running, String, u16) {
    let port = free_port();
    let redis = Redis::start(port);
    let url = format!("redis://127.0.0.1:{port}/");
    let args = demo_args(scratch, &["--redis", &url], &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (demo, base) = common::start_demo(&args, None);
    assert_eq!(
        crate::redis_two_instances::basic_get(&format!("{base}/basic"), "susan", "bye")
            .await
            .0,
        200
    );
    (redis, demo, base, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_redis_stopped_each_instance_still_enforces_the_limit() {
    let scratch = Scratch::new("redis-admission-down");
    let (redis, _demo, base, _) = demo_on_redis(&scratch).await;
    drop(redis);
    let started = Instant::now();
    let seen = basic_burst(&base, 30, 300).await;
    eprintln!("300 concurrent wrong guesses, Redis down: {seen:?}");
    let checked = seen.get(&401).copied().unwrap_or(0);
    assert!(
        checked <= LIMIT,
        "{checked} wrong guesses checked with Redis down (limit {LIMIT}): {seen:?}"
    );
    assert_eq!(
        seen.get(&429).copied().unwrap_or(0) + checked,
        300,
        "{seen:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    // Logins of others go on (fail open).
    assert_eq!(
        crate::redis_two_instances::basic_get(&format!("{base}/basic"), "susan", "bye")
            .await
            .0,
        200
    );
}

/// `used_memory` of the Redis on `port`, in bytes.
fn used_memory(port: u16) -> u64 {
    redis_cli(port, &["info", "memory"])
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// The number of the throttle's current slot in Redis: half of the demo's default window
/// (`--throttle-window 900`), counted in wall-clock milliseconds, as `RedisThrottle` counts.
fn throttle_slot() -> u128 {
    const SLOT_MS: u128 = 900 * 1000 / 2;
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        / SLOT_MS
}

/// Wrong Basic answers for `n` unknown usernames, `concurrency` at a time, from one address
/// (address limits off): the statuses.
async fn spray(bases: &[String], from: u32, n: usize, concurrency: usize) -> HashMap<u16, usize> {
    let http = common::client_from(common::loopback(from));
    let mut seen = HashMap::new();
    let mut i = 0;
    while i < n {
        let batch: Vec<_> = (i..(i + concurrency).min(n))
            .map(|j| {
                let http = http.clone();
                let url = format!("{}/digest", bases[j % bases.len()]);
                tokio::spawn(async move {
                    let wrong = Client::new(&format!("nobody{j}"), "x", "/digest");
                    let (nonce, opaque) = nonce_from(&http, &url).await;
                    http.get(&url)
                        .header("authorization", wrong.header(&nonce, &opaque, "00000001"))
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        i += batch.len();
        for task in batch {
            *seen.entry(task.await.unwrap()).or_insert(0) += 1;
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_spray_cannot_fill_a_size_capped_redis() {
    let scratch = Scratch::new("redis-admission-capped");
    let port = free_port();
    let port_arg = port.to_string();
    let _redis = Redis::with_args(
        port,
        &[
            "--port",
            &port_arg,
            "--maxmemory",
            "8mb",
            "--maxmemory-policy",
            "noeviction",
        ],
    );
    let url = format!("redis://127.0.0.1:{port}/");
    let (_demos, bases) = two_demos(&demo_args(
        &scratch,
        &["--redis", &url],
        &["--max-failures-per-addr", "0"],
    ));
    // The counts live in half-window slots (a fixed-size sketch each): both sprays must fall
    // in one slot for the second to add nothing, so a slot that begins between them means
    // once more (the new slot is there by then).
    let mut tries = 0;
    let (after_first, after_more) = loop {
        let slot = throttle_slot();
        let seen = spray(&bases, 20_000, 4_000, 64).await;
        assert_eq!(seen.get(&401).copied(), Some(4_000), "{seen:?}");
        let after_first = used_memory(port);
        let seen = spray(&bases, 20_001, 8_000, 64).await;
        assert_eq!(seen.get(&401).copied(), Some(8_000), "{seen:?}");
        let after_more = used_memory(port);
        tries += 1;
        if throttle_slot() == slot || tries == 2 {
            break (after_first, after_more);
        }
    };
    eprintln!("Redis used_memory after 4 000 failures: {after_first}; after 12 000: {after_more}");
    // The counts take fixed memory: twice as many more failures add (almost) nothing.
    assert!(
        after_more < after_first + 256 * 1024,
        "Redis grew from {after_first} to {after_more} bytes"
    );
    // Correct Digest logins go on, on both instances (the nonce store can still write).
    let john = Client::new("john", "hello", "/digest");
    for base in &bases {
        assert_eq!(
            digest_login(&format!("{base}/digest"), &john).await,
            200,
            "{base}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guesses_dropped_while_redis_stalls_leave_no_count() {
    let scratch = Scratch::new("redis-admission-stall");
    let (_redis, _demo, base, port) = demo_on_redis(&scratch).await;
    let login = |user: &'static str, password: &'static str| {
        let url = format!("{base}/basic");
        async move {
            crate::redis_two_instances::basic_get(&url, user, password)
                .await
                .0
        }
    };
    // Redis stalls for 2 s (`CLIENT PAUSE`, within the instances' 2 s deadline) while 15 wrong
    // guesses for john wait for their admission, and their clients hang up.
    let stall = std::thread::spawn(move || {
        redis_cli(port, &["client", "pause", "2000", "all"]);
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut guesses = Vec::new();
    for i in 0..15 {
        let http = reqwest::Client::builder()
            .local_address(common::loopback(15_000 + i))
            .timeout(Duration::from_millis(400))
            .build()
            .unwrap();
        let url = format!("{base}/basic");
        guesses.push(tokio::spawn(async move {
            http.get(&url)
                .header("authorization", common::basic("john", "wrong"))
                .send()
                .await
                .map(|res| res.status().as_u16())
                .ok()
        }));
    }
    let mut dropped = 0;
    for guess in guesses {
        match guess.await.unwrap() {
            None => dropped += 1,
            // Over the limit of this instance's own counts (its attempts in flight): none is
            // checked without Redis's answer.
            Some(status) => assert_eq!(status, 429),
        }
    }
    assert!(dropped >= LIMIT, "{dropped} guesses waited for Redis");
    stall.join().unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    // None of them is left counted, in this instance or in Redis: john logs in.
    assert_eq!(login("john", "hello").await, 200);
    let left = redis_cli(port, &["--scan", "--pattern", "*{throttle}:f:*"])
        .lines()
        .count();
    assert_eq!(left, 0, "attempts left in flight in Redis");
}

/// `n` concurrent requests with a right answer from one source address: the statuses. Basic
/// on `/basic`, or Digest on `/digest` (an async password callback: every request waits, so
/// each is counted in flight while it is checked), one nonce with counts in sequence.
async fn right_burst(base: &str, from: u32, n: usize, digest: bool) -> HashMap<u16, usize> {
    let http = common::client_from(common::loopback(from));
    let john = Client::new("john", "hello", "/digest");
    let (nonce, opaque) = nonce_from(&http, &format!("{base}/digest")).await;
    burst(
        (0..n)
            .map(|i| {
                let (url, header) = if digest {
                    let nc = format!("{:08x}", i + 1);
                    (format!("{base}/digest"), john.header(&nonce, &opaque, &nc))
                } else {
                    (format!("{base}/basic"), common::basic("susan", "bye"))
                };
                (http.clone(), url, header)
            })
            .collect(),
    )
    .await
}

/// A client making more concurrent requests than the per-username limit, every one with the
/// right answer, is never throttled: an attempt blocked only by attempts still being checked
/// waits for them to settle instead of being refused. In memory with a callback that waits,
/// and with Redis (where every attempt is counted in flight before it is checked).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_right_answers_are_never_throttled() {
    let scratch = Scratch::new("redis-admission-parallel");
    let args = demo_args(&scratch, &[], &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_memory, base) = common::start_demo(&args, None);
    let seen = right_burst(&base, 17_000, 40, true).await;
    assert_eq!(
        seen.get(&200).copied(),
        Some(40),
        "memory, Digest: {seen:?}"
    );

    let (_redis, _shared, base, _) = demo_on_redis(&scratch).await;
    let seen = right_burst(&base, 17_001, 60, false).await;
    assert_eq!(seen.get(&200).copied(), Some(60), "Redis, Basic: {seen:?}");
}

/// The calls Redis has answered that run a script (the throttle's admission, counts and
/// settlements all do).
fn script_calls(port: u16) -> u64 {
    redis_cli(port, &["info", "commandstats"])
        .lines()
        .filter(|l| l.starts_with("cmdstat_eval") || l.starts_with("cmdstat_script"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// An attempt with neither a username nor a client address (a token, on a server that does
/// not record the peer address) has nothing to count: it is answered without a round trip to
/// Redis, wrong or right.
#[tokio::test]
async fn an_attempt_with_nothing_to_count_makes_no_redis_call() {
    use axum::routing::get;
    use httpauth::redis::RedisThrottle;
    use httpauth::{Throttle, TokenAuth};

    let port = free_port();
    let _redis = Redis::start(port);
    let store = RedisThrottle::open(&format!("redis://127.0.0.1:{port}/"), b"test salt").unwrap();
    let auth = TokenAuth::verify_token_sync(|token: &str| (token == "right").then_some(()))
        .throttle(Throttle::new().store(store));
    let app = axum::Router::new()
        .route("/", get(|| async { "ok" }))
        .route_layer(auth.login_required());
    // The same routes, served without and with the peer address.
    let (anonymous, addressed) = (
        common::serve(app.clone()).await,
        common::serve_with_peer(app).await,
    );
    let http = reqwest::Client::new();
    let send = |base: String, token: &'static str| {
        let http = http.clone();
        async move {
            let res = http.get(&base).bearer_auth(token).send().await.unwrap();
            res.status().as_u16()
        }
    };
    let before = script_calls(port);
    for (token, expected) in [("wrong", 401), ("right", 200), ("wrong", 401)] {
        assert_eq!(send(anonymous.clone(), token).await, expected, "{token}");
    }
    assert_eq!(script_calls(port), before, "no call to Redis");
    // With the address there is something to count: the same requests are admitted in Redis.
    for (token, expected) in [("wrong", 401), ("right", 200)] {
        assert_eq!(send(addressed.clone(), token).await, expected, "{token}");
    }
    assert!(script_calls(port) >= before + 2, "admitted in Redis");
}
