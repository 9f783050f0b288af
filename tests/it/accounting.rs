//! Every failure counted for what it is, over real HTTP, with distinct loopback source
//! addresses as the clients: a wrong secret counts for the username and the address;
//! credentials that verify nothing (malformed, a forged nonce, a foreign realm) for the address
//! only; a right answer on a stale nonce and a store outage for nothing. And every spelling of
//! a name is one user: case under `Usernames::case_insensitive`, hex case of a Digest
//! `userhash`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use httpauth::digest::{Algorithm, NonceInfo, NonceStore, NonceUse};
use httpauth::scheme::AuthFuture;
use httpauth::{BasicAuth, CurrentUser, DigestAuth, Throttle, Usernames};

use crate::common::{basic, get_from, loopback, serve_with_peer};
use crate::digest_client::{parse_challenge, Client};

async fn hello(CurrentUser(user): CurrentUser<String>) -> String {
    format!("Hello, {user}!")
}

/// The demo, in-process, served with the peer address (its default throttle: 10 failures per
/// username, 100 per address, shared by every route).
async fn demo() -> String {
    serve_with_peer(crate::app::app(&crate::users::Users::new())).await
}

/// A Digest challenge from `url`, fetched from `source`.
async fn digest_challenge(
    source: std::net::IpAddr,
    url: &str,
) -> std::collections::HashMap<String, String> {
    let (status, challenges, _) = get_from(source, url, &[]).await;
    assert_eq!(status, 401);
    parse_challenge(&challenges[0])
}

#[tokio::test]
async fn forged_digest_headers_lock_no_one_out() {
    let base = demo().await;
    let attacker = loopback(1);
    // A made-up nonce and opaque, and a foreign realm: nothing is verified, so nothing counts
    // against susan.
    for i in 0..20 {
        let forged = format!(
            r#"Digest username="susan", realm="{}", nonce="{i:032x}", uri="/digest", response="{i:032x}", opaque="x", qop=auth, nc=00000001, cnonce="c""#,
            if i % 2 == 0 {
                "Authentication Required"
            } else {
                "elsewhere"
            }
        );
        let (status, _, _) = get_from(
            attacker,
            &format!("{base}/digest"),
            &[("authorization", &forged)],
        )
        .await;
        assert_eq!(status, 401, "forged header {i}");
    }
    // susan, from an address of her own, on every route.
    let susan = loopback(2);
    let creds = basic("susan", "bye");
    for path in ["/basic", "/admin"] {
        let (status, _, body) = get_from(
            susan,
            &format!("{base}{path}"),
            &[("authorization", &creds)],
        )
        .await;
        assert_eq!((status, body.as_str()), (200, "Hello, susan!"), "{path}");
    }
    let challenge = digest_challenge(susan, &format!("{base}/digest")).await;
    let answer = Client::new("susan", "bye", "/digest").answer(&challenge, "00000001");
    let (status, _, _) = get_from(
        susan,
        &format!("{base}/digest"),
        &[("authorization", &answer)],
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_wrong_secret_counts_for_the_username_from_every_address() {
    let base = demo().await;
    let url = format!("{base}/basic");
    // Ten wrong guesses for john, each from another address; the same for a name nobody has.
    for (n, user) in (0..10)
        .map(|i| (100 + i, "john"))
        .chain((0..10).map(|i| (200 + i, "nobody")))
    {
        let creds = basic(user, "guess");
        let (status, _, _) = get_from(loopback(n), &url, &[("authorization", &creds)]).await;
        assert_eq!(status, 401);
    }
    // john is over his limit from an address never used: 429, the right password unchecked.
    let creds = basic("john", "hello");
    let (status, _, _) = get_from(loopback(300), &url, &[("authorization", &creds)]).await;
    assert_eq!(status, 429);
    let creds = basic("nobody", "guess");
    let (status, _, _) = get_from(loopback(301), &url, &[("authorization", &creds)]).await;
    assert_eq!(status, 429);
    // susan was never counted.
    let creds = basic("susan", "bye");
    let (status, _, _) = get_from(loopback(302), &url, &[("authorization", &creds)]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_right_answer_on_a_stale_nonce_counts_for_nothing() {
    let auth = DigestAuth::get_password_sync(|u| (u == "john").then(|| "hello".to_owned()))
        .nonce_lifetime(Duration::from_secs(1))
        .throttle(
            Throttle::new()
                .max_failures_per_user(1)
                .max_failures_per_addr(1),
        );
    let base = serve_with_peer(
        Router::new().route("/digest", get(hello).route_layer(auth.login_required())),
    )
    .await;
    let url = format!("{base}/digest");
    let client = loopback(400);
    let mut challenges = Vec::new();
    for _ in 0..3 {
        challenges.push(digest_challenge(client, &url).await);
    }
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let john = Client::new("john", "hello", "/digest");
    for challenge in &challenges {
        let answer = john.answer(challenge, "00000001");
        let (status, lines, _) = get_from(client, &url, &[("authorization", &answer)]).await;
        assert_eq!(status, 401);
        assert!(
            lines[0].contains("stale=TRUE") || lines[0].contains("stale=true"),
            "{lines:?}"
        );
    }
    // Three stale answers, a limit of one: nothing was counted.
    let challenge = digest_challenge(client, &url).await;
    let answer = john.answer(&challenge, "00000001");
    let (status, _, body) = get_from(client, &url, &[("authorization", &answer)]).await;
    assert_eq!((status, body.as_str()), (200, "Hello, john!"));
}

/// The application's own nonce store, with an outage it can switch on (a shared store that is
/// down answers `Unavailable`).
struct Outage {
    down: Arc<AtomicBool>,
    inner: httpauth::digest::MemoryNonceStore,
}

impl NonceStore for Outage {
    fn check(&self, info: NonceInfo<'_>) -> AuthFuture<NonceUse> {
        if self.down.load(SeqCst) {
            return AuthFuture::ready(NonceUse::Unavailable);
        }
        self.inner.check(info)
    }
}

#[tokio::test]
async fn a_store_outage_counts_for_nothing() {
    let down = Arc::new(AtomicBool::new(true));
    let auth = DigestAuth::get_password_sync(|u| (u == "john").then(|| "hello".to_owned()))
        .nonce_store(Outage {
            down: down.clone(),
            inner: httpauth::digest::MemoryNonceStore::default(),
        })
        .throttle(
            Throttle::new()
                .max_failures_per_user(1)
                .max_failures_per_addr(1),
        );
    let base = serve_with_peer(
        Router::new().route("/digest", get(hello).route_layer(auth.login_required())),
    )
    .await;
    let url = format!("{base}/digest");
    let client = loopback(500);
    let john = Client::new("john", "hello", "/digest");
    for _ in 0..3 {
        let challenge = digest_challenge(client, &url).await;
        let answer = john.answer(&challenge, "00000001");
        let (status, _, _) = get_from(client, &url, &[("authorization", &answer)]).await;
        assert_eq!(status, 503);
    }
    down.store(false, SeqCst);
    let challenge = digest_challenge(client, &url).await;
    let answer = john.answer(&challenge, "00000001");
    let (status, _, _) = get_from(client, &url, &[("authorization", &answer)]).await;
    assert_eq!(status, 200);
}

/// A spelling of `name` with the case of each letter chosen by the bits of `n`.
fn spelling(name: &str, n: u32) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if n >> (i % 32) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

#[tokio::test]
async fn case_spellings_are_one_user() {
    let checked = Arc::new(AtomicUsize::new(0));
    let counter = checked.clone();
    let auth = BasicAuth::verify_password_sync(move |u, p| {
        counter.fetch_add(1, SeqCst);
        (u == "john" && p == "hello").then(|| u.to_owned())
    })
    .usernames(Usernames::case_insensitive());
    let base =
        serve_with_peer(Router::new().route("/", get(hello).route_layer(auth.login_required())))
            .await;
    let url = format!("{base}/");
    // 16 spellings of john, 11 guesses each, each spelling from an address of its own.
    for n in 0..16 {
        let creds = basic(&spelling("john", n), "guess");
        for _ in 0..11 {
            let (status, _, _) =
                get_from(loopback(600 + n), &url, &[("authorization", &creds)]).await;
            assert!(matches!(status, 401 | 429), "{status}");
        }
    }
    assert_eq!(checked.load(SeqCst), 10, "passwords checked");

    // The demo's /basic-ci: every spelling of a user logs in as that user.
    let base = demo().await;
    for name in ["john", "JOHN", "John"] {
        let creds = basic(name, "hello");
        let (status, _, body) = get_from(
            loopback(700),
            &format!("{base}/basic-ci"),
            &[("authorization", &creds)],
        )
        .await;
        assert_eq!((status, body.as_str()), (200, "Hello, john!"), "{name}");
    }
    // /basic compares exactly, as Flask-HTTPAuth.
    let creds = basic("JOHN", "hello");
    let (status, _, _) = get_from(
        loopback(701),
        &format!("{base}/basic"),
        &[("authorization", &creds)],
    )
    .await;
    assert_eq!(status, 401);
    // On the demo's /basic-ci, 16 spellings × 11 guesses from 16 addresses lock john under
    // every spelling (his budget is one, however he is spelled).
    let url = format!("{base}/basic-ci");
    for n in 0..16 {
        let creds = basic(&spelling("john", n), "guess");
        for _ in 0..11 {
            let (status, _, _) =
                get_from(loopback(720 + n), &url, &[("authorization", &creds)]).await;
            assert!(matches!(status, 401 | 429), "{status}");
        }
    }
    let creds = basic("jOhN", "hello");
    let (status, _, _) = get_from(loopback(750), &url, &[("authorization", &creds)]).await;
    assert_eq!(status, 429);
}

/// A Digest answer that names the user by `userhash` (RFC 7616 §3.4.4), with the hash's hex in
/// the case of `spelling`.
fn userhash_answer(
    client: &Client,
    challenge: &std::collections::HashMap<String, String>,
    spelling_bits: u32,
) -> String {
    let hash = client
        .algorithm
        .hash(&[client.user.as_bytes(), client.realm.as_bytes()])
        .as_str()
        .to_owned();
    let hash = spelling(&hash, spelling_bits);
    let mut params = client.params(&challenge["nonce"], &challenge["opaque"], "00000001");
    params[0].1 = format!("\"{hash}\"");
    params.push(("userhash".to_owned(), "true".to_owned()));
    crate::digest_client::join(&params)
}

#[tokio::test]
async fn userhash_spellings_are_one_user() {
    let checked = Arc::new(AtomicUsize::new(0));
    let counter = checked.clone();
    let auth = DigestAuth::get_password_sync(move |u| {
        counter.fetch_add(1, SeqCst);
        (u == "john").then(|| "hello".to_owned())
    })
    .algorithm(Algorithm::Sha256)
    .userhash_users(["john", "susan"]);
    let base =
        serve_with_peer(Router::new().route("/", get(hello).route_layer(auth.login_required())))
            .await;
    let url = format!("{base}/");
    let guess = Client::new("john", "guess", "/").algorithm(Algorithm::Sha256);
    // 20 hex-case spellings of john's userhash, 11 guesses each, from 20 addresses.
    for n in 0..20 {
        for _ in 0..11 {
            let challenge = digest_challenge(loopback(800 + n), &url).await;
            let answer = userhash_answer(&guess, &challenge, 0x9e37_79b9_u32.wrapping_mul(n + 1));
            let (status, _, _) =
                get_from(loopback(800 + n), &url, &[("authorization", &answer)]).await;
            assert!(matches!(status, 401 | 429), "{status}");
        }
    }
    assert_eq!(checked.load(SeqCst), 10, "passwords checked");
    // Locked under every spelling, the right password included.
    let right = Client::new("john", "hello", "/").algorithm(Algorithm::Sha256);
    let challenge = digest_challenge(loopback(900), &url).await;
    let answer = userhash_answer(&right, &challenge, u32::MAX);
    let (status, _, _) = get_from(loopback(900), &url, &[("authorization", &answer)]).await;
    assert_eq!(status, 429);

    // The demo's /digest-userhash: the demo's users by their userhash.
    let base = demo().await;
    let url = format!("{base}/digest-userhash");
    let challenge = digest_challenge(loopback(901), &url).await;
    assert_eq!(challenge.get("userhash").map(String::as_str), Some("true"));
    let susan = Client::new("susan", "bye", "/digest-userhash").algorithm(Algorithm::Sha256);
    let answer = userhash_answer(&susan, &challenge, 0);
    let (status, _, body) = get_from(loopback(901), &url, &[("authorization", &answer)]).await;
    assert_eq!((status, body.as_str()), (200, "Hello, susan!"));
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_check_leaves_no_count() {
    // A check that takes a while, as a hash on the pool or a remote store does.
    let auth = BasicAuth::verify_password(|u: String, p: String| async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        (u == "john" && p == "hello").then_some(u)
    })
    .throttle(
        Throttle::new()
            .max_failures_per_user(3)
            .max_failures_per_addr(100),
    );
    let base =
        serve_with_peer(Router::new().route("/", get(hello).route_layer(auth.login_required())))
            .await;
    let url = format!("{base}/");
    // Six clients give up after 100 ms, while their checks run: their requests are dropped.
    for n in 0..6 {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(100))
            .local_address(loopback(1400 + n))
            .build()
            .unwrap();
        let sent = client
            .get(&url)
            .header("authorization", basic("john", "hello"))
            .send()
            .await;
        assert!(sent.is_err(), "the client gave up");
    }
    tokio::time::sleep(Duration::from_millis(900)).await;
    // Nothing was left counted against john.
    let creds = basic("john", "hello");
    let (status, _, body) = get_from(loopback(1450), &url, &[("authorization", &creds)]).await;
    assert_eq!((status, body.as_str()), (200, "Hello, john!"));
}

#[tokio::test]
async fn a_full_hashing_queue_counts_for_the_address_only() {
    use httpauth::password::{HashPool, HashedPasswords, Params, PasswordChecker};
    // One hashing permit, no queue: while one check runs, every other is refused with 503.
    // A hash that takes far longer than john's three requests (hundreds of milliseconds).
    let slow = Params::new(64 * 1024, 12, 1).unwrap();
    let users = HashedPasswords::new()
        .with_checker(PasswordChecker::new().pool(HashPool::new(1).max_waiters(0)))
        .dummy_params(slow);
    users.insert("john", slow.hash("hello")).unwrap();
    users.insert("susan", slow.hash("bye")).unwrap();
    let auth = BasicAuth::verify_password(users).throttle(
        Throttle::new()
            .max_failures_per_user(2)
            .max_failures_per_addr(3),
    );
    let base =
        serve_with_peer(Router::new().route("/", get(hello).route_layer(auth.login_required())))
            .await;
    let url = format!("{base}/");
    // susan's wrong guess holds the only permit; john tries three times meanwhile.
    let busy = {
        let url = url.clone();
        tokio::spawn(async move {
            let creds = basic("susan", "guess");
            get_from(loopback(1500), &url, &[("authorization", &creds)])
                .await
                .0
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let john = basic("john", "hello");
    let mut refused = 0;
    for _ in 0..3 {
        let (status, _, _) = get_from(loopback(1501), &url, &[("authorization", &john)]).await;
        assert!(matches!(status, 503 | 200), "{status}");
        refused += usize::from(status == 503);
    }
    assert_eq!(busy.await.unwrap(), 401);
    assert_eq!(refused, 3, "every check of john's met a full hashing queue");
    // john's username was not counted (3 refusals, a limit of 2): he logs in from elsewhere.
    let (status, _, _) = get_from(loopback(1502), &url, &[("authorization", &john)]).await;
    assert_eq!(status, 200);
    // His address was: with a limit of 3, the refusals count there.
    let (status, _, _) = get_from(loopback(1501), &url, &[("authorization", &john)]).await;
    assert_eq!(status, 429);
}
