//! An attacker's review of the shared admission (`RedisThrottle::admit`): what goes wrong for
//! legitimate users and for the counts, over real HTTP against the demo and a real
//! redis-server.

use std::collections::HashMap;

use crate::common;
use crate::redis_two_instances::{demo_args, free_port, Redis, Scratch};

/// `n` concurrent requests for `/basic` with susan's right password, from one source address:
/// the statuses.
async fn right_burst(base: &str, from: u32, n: usize) -> HashMap<u16, usize> {
    let http = common::client_from(common::loopback(from));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let http = http.clone();
        let url = format!("{base}/basic");
        tasks.push(tokio::spawn(async move {
            http.get(&url)
                .header("authorization", common::basic("susan", "bye"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut seen = HashMap::new();
    for task in tasks {
        *seen.entry(task.await.unwrap()).or_insert(0) += 1;
    }
    seen
}

/// A client making more concurrent requests than the per-username limit, every one with the
/// right password, is answered 200 by an instance counting in memory. The same instance
/// counting in Redis counts each of them in flight as a possible failure before verifying it,
/// and answers some of them 429: a user is throttled without a single wrong secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn right_passwords_in_parallel_are_never_throttled_with_redis() {
    let scratch = Scratch::new("review-parallel");
    // In memory: a cached right password answers at once and counts nothing.
    let args = demo_args(&scratch, &[], &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_memory, base) = common::start_demo(&args, None);
    let (status, _, _) = common::get(
        &format!("{base}/basic"),
        Some(&common::basic("susan", "bye")),
    )
    .await;
    assert_eq!(status, 200);
    let seen = right_burst(&base, 16_000, 60).await;
    eprintln!("60 concurrent right passwords, memory: {seen:?}");
    assert_eq!(seen.get(&200).copied(), Some(60), "memory: {seen:?}");

    let port = free_port();
    let _redis = Redis::start(port);
    let url = format!("redis://127.0.0.1:{port}/");
    let args = demo_args(&scratch, &["--redis", &url], &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_shared, base) = common::start_demo(&args, None);
    let (status, _, _) = common::get(
        &format!("{base}/basic"),
        Some(&common::basic("susan", "bye")),
    )
    .await;
    assert_eq!(status, 200);
    let seen = right_burst(&base, 16_001, 60).await;
    eprintln!("60 concurrent right passwords, Redis: {seen:?}");
    assert_eq!(seen.get(&200).copied(), Some(60), "Redis: {seen:?}");
}
