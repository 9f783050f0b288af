//! Two demo instances sharing `--secret-file` and `--redis` against a real `redis-server`:
//! replays across instances refused, nonces shared, Redis killed → 503 with
//! `Retry-After` on both (never a 200 for a replay, never a hang), Redis restarted → both
//! recover without a restart. The scenarios are shared with `redis_tls_cluster` (the same over
//! TLS and on a cluster).

use crate::{common, digest_client};

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use digest_client::{challenge, parse_challenge, Client};

const REDIS: &str = "/usr/bin/redis-server";

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What `redis-cli -p port ARGS` prints.
pub(crate) fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli (scripts/test.sh installs redis-tools)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A redis-server on `port`, without persistence, killed when dropped.
pub(crate) struct Redis(Child);

impl Redis {
    pub(crate) fn start(port: u16) -> Self {
        Self::with_args(port, &["--port", &port.to_string()])
    }

    /// A redis-server with these arguments (besides loopback and no persistence), ready once
    /// `ready_port` accepts connections.
    pub(crate) fn with_args(ready_port: u16, args: &[&str]) -> Self {
        let child = Command::new(REDIS)
            .args(args)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("{REDIS}: {err} (scripts/test.sh installs it)"));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", ready_port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self(child)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A scratch directory with the shared Digest secret (`secret`), removed when dropped.
pub(crate) struct Scratch(pub(crate) std::path::PathBuf);

impl Scratch {
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("httpauth-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("secret"),
            "an instance-shared secret of 32+ bytes, for the test\n",
        )
        .unwrap();
        Self(dir)
    }

    pub(crate) fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The demo's arguments for an instance sharing `scratch`'s secret and the Redis of `redis`
/// (e.g. `["--redis", url]`), with a generous deadline (the suite runs tests in parallel on
/// two shared cores), then `extra`.
pub(crate) fn demo_args(scratch: &Scratch, redis: &[&str], extra: &[&str]) -> Vec<String> {
    ["--port", "0", "--secret-file", &scratch.path("secret")]
        .iter()
        .chain(redis)
        .chain(&["--redis-deadline-ms", "2000"])
        .chain(extra)
        .map(|a| (*a).to_owned())
        .collect()
}

/// Two demo instances with the same arguments: (their processes, their base URLs).
pub(crate) fn two_demos(args: &[String]) -> ([common::Running; 2], [String; 2]) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (a, a_url) = common::start_demo(&args, None);
    let (b, b_url) = common::start_demo(&args, None);
    ([a, b], [a_url, b_url])
}

/// GET with an `Authorization` header: (status, WWW-Authenticate, Retry-After), within a
/// bound (no hang).
pub(crate) async fn send(url: &str, authorization: &str) -> (u16, Vec<String>, Option<String>) {
    let started = Instant::now();
    let res = common::client()
        .get(url)
        .header("authorization", authorization)
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered after {:?}",
        started.elapsed()
    );
    let challenges = header_values(&res, "www-authenticate");
    let retry = header_values(&res, "retry-after").into_iter().next();
    (res.status().as_u16(), challenges, retry)
}

/// Every value of the response's header `name`, as text.
pub(crate) fn header_values(res: &reqwest::Response, name: &str) -> Vec<String> {
    res.headers()
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

pub(crate) fn stale(challenges: &[String]) -> bool {
    challenges
        .first()
        .is_some_and(|l| parse_challenge(l).get("stale").map(String::as_str) == Some("true"))
}

/// A nonce of `base` accepted with `nc=1` (retried: right after Redis starts empty, nonces
/// issued in the last second are refused as forgotten), as (nonce, opaque).
pub(crate) async fn accepted_nonce(base: &str, client: &Client) -> (String, String) {
    let url = format!("{base}/digest");
    let started = Instant::now();
    loop {
        let (_, ch) = challenge(&url).await;
        let (status, _, _) = send(&url, &client.answer(&ch, "00000001")).await;
        if status == 200 {
            return (ch["nonce"].clone(), ch["opaque"].clone());
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no recovery: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A header accepted on `a` is refused as a replay on `b` (and on `a`); the nonce goes on
/// across the instances with the next counts, each accepted once. Returns John's client, the
/// nonce, its opaque and the first header.
pub(crate) async fn replays_are_refused_across(
    a: &str,
    b: &str,
) -> (Client, String, String, String) {
    let (a_url, b_url) = (format!("{a}/digest"), format!("{b}/digest"));
    let john = Client::new("john", "hello", "/digest");
    let (nonce, opaque) = accepted_nonce(a, &john).await;
    let first = john.header(&nonce, &opaque, "00000001");
    let (status, ch, _) = send(&b_url, &first).await;
    assert_eq!(status, 401);
    assert!(stale(&ch), "{ch:?}");
    assert_eq!(send(&a_url, &first).await.0, 401);

    // A's nonce on B with the next count; then that header is a replay on A.
    let second = john.header(&nonce, &opaque, "00000002");
    assert_eq!(send(&b_url, &second).await.0, 200);
    let (status, ch, _) = send(&a_url, &second).await;
    assert_eq!((status, stale(&ch)), (401, true));

    // Out of order within the window, once, across instances.
    for (url, nc, expected) in [
        (&a_url, "00000005", 200),
        (&b_url, "00000004", 200),
        (&a_url, "00000004", 401),
    ] {
        assert_eq!(
            send(url, &john.header(&nonce, &opaque, nc)).await.0,
            expected,
            "{url} nc={nc}"
        );
    }
    (john, nonce, opaque, first)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_share_replay_protection_and_fail_closed() {
    let scratch = Scratch::new("redis");
    let port = free_port();
    let mut redis = Redis::start(port);
    let url = format!("redis://127.0.0.1:{port}/");
    let (_demos, [a, b]) = two_demos(&demo_args(&scratch, &["--redis", &url], &[]));
    let (a_url, b_url) = (format!("{a}/digest"), format!("{b}/digest"));
    let (john, nonce, opaque, first) = replays_are_refused_across(&a, &b).await;

    // Redis killed: fail closed on both, quickly, even for a replay and for a fresh count.
    let _ = redis.0.kill();
    let _ = redis.0.wait();
    for base in [&a_url, &b_url] {
        for nc in ["00000001", "00000006"] {
            let (status, ch, retry) = send(base, &john.header(&nonce, &opaque, nc)).await;
            assert_eq!(status, 503, "{base} nc={nc}");
            assert_eq!(retry.as_deref(), Some("1"));
            assert!(ch.is_empty(), "no challenge on 503: {ch:?}");
        }
    }

    // Redis back on the same port, empty: both recover without a restart, and the headers
    // accepted before are not fresh again (the nonce predates Redis's data: stale=true).
    redis = Redis::start(port);
    let (nonce2, opaque2) = accepted_nonce(&a, &john).await;
    assert_eq!(
        send(&b_url, &john.header(&nonce2, &opaque2, "00000002"))
            .await
            .0,
        200
    );
    let (_, _) = accepted_nonce(&b, &john).await;
    for base in [&a_url, &b_url] {
        let (status, ch, _) = send(base, &first).await;
        assert_eq!((status, stale(&ch)), (401, true), "{base}");
    }
    drop(redis);
}

/// Basic GET through `reqwest` (status, Retry-After).
pub(crate) async fn basic_get(url: &str, user: &str, password: &str) -> (u16, Option<String>) {
    let res = common::client()
        .get(url)
        .header("authorization", common::basic(user, password))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (res.status().as_u16(), retry)
}

/// The per-user limit of [`THROTTLE_ARGS`].
pub(crate) const LIMIT: usize = 6;

/// The throttle flags of the instances [`a_flood_trips_the_shared_throttle`] expects.
pub(crate) const THROTTLE_ARGS: [&str; 4] = [
    "--max-failures-per-user",
    "6",
    "--max-failures-per-addr",
    "0",
];

/// Wrong passwords for john alternate between `a` and `b` (started with [`THROTTLE_ARGS`]):
/// the shared count refuses them past the limit on both, susan is not affected, and john's
/// right password waits too.
pub(crate) async fn a_flood_trips_the_shared_throttle(a: &str, b: &str) {
    let mut checked = 0;
    let mut throttled = 0;
    for i in 0..(LIMIT * 3) {
        let base = if i % 2 == 0 { a } else { b };
        let (status, retry) = basic_get(&format!("{base}/basic"), "john", "wrong").await;
        match status {
            401 => checked += 1,
            429 => {
                assert!(retry.is_some());
                throttled += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    // Every guess is admitted against the shared count before it is checked: the limit over
    // both instances (not `2 × LIMIT`).
    assert!(
        (LIMIT..=LIMIT + 1).contains(&checked),
        "{checked} guesses checked over two instances (limit {LIMIT})"
    );
    assert_eq!(checked + throttled, LIMIT * 3);
    for base in [a, b] {
        // Susan is not affected, on either instance.
        assert_eq!(
            basic_get(&format!("{base}/basic"), "susan", "bye").await.0,
            200
        );
        // A success resets john's shared count: here it is blocked, so even the right
        // password waits on both instances.
        assert_eq!(
            basic_get(&format!("{base}/basic"), "john", "hello").await.0,
            429
        );
    }
}

#[tokio::test]
async fn a_flood_spread_over_two_instances_trips_the_shared_throttle() {
    let scratch = Scratch::new("redis-throttle");
    let port = free_port();
    let redis = Redis::start(port);
    let url = format!("redis://127.0.0.1:{port}/");
    let (_demos, [a, b]) = two_demos(&demo_args(&scratch, &["--redis", &url], &THROTTLE_ARGS));
    a_flood_trips_the_shared_throttle(&a, &b).await;
    // Redis down: the throttle fails open (documented): logins go on, failures are counted
    // locally, and nothing hangs.
    drop(redis);
    assert_eq!(
        basic_get(&format!("{a}/basic"), "susan", "bye").await.0,
        200
    );
    let started = Instant::now();
    assert_eq!(
        basic_get(&format!("{a}/basic"), "ana", "wrong").await.0,
        401
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a Redis outage must not hang"
    );
}
