//! Failure-only throttling over real HTTP: refused with 429 and `Retry-After` before the
//! verify callback runs; only failures count and a success resets the username's count; the
//! per-address limit over rotating usernames (the peer address from axum's `ConnectInfo`);
//! `X-Forwarded-For` believed only from a trusted proxy; Digest and tokens too; the refusal
//! event names the user and the client; the same on actix.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use httpauth::{BasicAuth, CurrentUser, Throttle, TokenAuth};

use crate::common::{basic, client, serve_with_peer};

async fn send(url: &str, headers: &[(&str, &str)]) -> (u16, Option<String>, bool) {
    let mut req = client().get(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.unwrap();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let challenge = res.headers().contains_key("www-authenticate");
    (res.status().as_u16(), retry, challenge)
}

fn counted_basic(calls: Arc<AtomicUsize>) -> BasicAuth<String> {
    BasicAuth::verify_password_sync(move |u, p| {
        calls.fetch_add(1, SeqCst);
        matches!((u, p), ("john", "hello") | ("susan", "bye")).then(|| u.to_owned())
    })
}

async fn hello(CurrentUser(user): CurrentUser<String>) -> String {
    format!("Hello, {user}!")
}

#[tokio::test]
async fn over_the_limit_is_429_before_the_callback() {
    let calls = Arc::new(AtomicUsize::new(0));
    let throttle = Throttle::new()
        .max_failures_per_user(3)
        .window(Duration::from_secs(60));
    let auth = counted_basic(calls.clone());
    let base = serve_with_peer(Router::new().route(
        "/",
        get(hello).route_layer(auth.login_required().throttle(throttle)),
    ))
    .await;
    let url = format!("{base}/");
    let wrong = basic("john", "nope");
    for _ in 0..3 {
        let (status, retry, challenge) = send(&url, &[("authorization", &wrong)]).await;
        assert_eq!((status, retry, challenge), (401, None, true));
    }
    assert_eq!(calls.load(SeqCst), 3);
    // Now refused before the callback, also with the right password.
    for creds in [wrong.clone(), basic("john", "hello")] {
        let (status, retry, challenge) = send(&url, &[("authorization", &creds)]).await;
        assert_eq!(status, 429);
        let retry: u64 = retry.expect("Retry-After").parse().unwrap();
        // The window is 60 s; a failure counts for 60 s at least, 90 s at most.
        assert!((1..=90).contains(&retry), "{retry}");
        assert!(!challenge, "no challenge on 429: a browser would ask again");
    }
    assert_eq!(calls.load(SeqCst), 3, "no callback ran over the limit");
    // Another user from the same address is not blocked by john's count.
    let (status, _, _) = send(&url, &[("authorization", &basic("susan", "bye"))]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn only_failures_count_and_a_success_resets_the_username() {
    // 10 typos stay under the address limit; requests without credentials count for nothing;
    // two malformed ones (they verified nothing, so they count for the address) cross it.
    let throttle = Throttle::new()
        .max_failures_per_user(3)
        .max_failures_per_addr(12);
    let auth = counted_basic(Arc::default());
    let base = serve_with_peer(Router::new().route(
        "/",
        get(hello).route_layer(auth.login_required().throttle(throttle)),
    ))
    .await;
    let url = format!("{base}/");
    // Two typos, a success, two typos, a success...: never blocked.
    for _ in 0..5 {
        for _ in 0..2 {
            let (s, _, _) = send(&url, &[("authorization", &basic("john", "typo"))]).await;
            assert_eq!(s, 401);
        }
        let (s, _, _) = send(&url, &[("authorization", &basic("john", "hello"))]).await;
        assert_eq!(s, 200);
    }
    // Many successes from one address never block it.
    for _ in 0..50 {
        let (s, _, _) = send(&url, &[("authorization", &basic("susan", "bye"))]).await;
        assert_eq!(s, 200);
    }
    // No credentials: nothing is counted.
    for _ in 0..20 {
        assert_eq!(send(&url, &[]).await.0, 401);
    }
    let (s, _, _) = send(&url, &[("authorization", &basic("john", "hello"))]).await;
    assert_eq!(s, 200);
    // Malformed credentials count against the address: the 11th and 12th failures.
    for _ in 0..2 {
        assert_eq!(send(&url, &[("authorization", "Basic !!!")]).await.0, 401);
    }
    let (s, _, _) = send(&url, &[("authorization", &basic("john", "hello"))]).await;
    assert_eq!(s, 429);
}

#[tokio::test]
async fn rotating_usernames_trip_the_address_limit() {
    let calls = Arc::new(AtomicUsize::new(0));
    let throttle = Throttle::new().max_failures_per_addr(5);
    let auth = counted_basic(calls.clone());
    let base = serve_with_peer(Router::new().route(
        "/",
        get(hello).route_layer(auth.login_required().throttle(throttle)),
    ))
    .await;
    let url = format!("{base}/");
    for i in 0..5 {
        let creds = basic(&format!("user{i}"), "guess");
        assert_eq!(send(&url, &[("authorization", &creds)]).await.0, 401);
    }
    let (s, retry, _) = send(&url, &[("authorization", &basic("user9", "guess"))]).await;
    assert_eq!(s, 429);
    assert!(retry.is_some());
    // Credentials that do not even decode have no username, but the address is over its
    // limit: 429 too, not 400.
    for malformed in ["Basic !!!", "Basic", "basic am9obg=="] {
        let (s, _, _) = send(&url, &[("authorization", malformed)]).await;
        assert_eq!(s, 429, "{malformed}");
    }
    assert_eq!(calls.load(SeqCst), 5);
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let loopback = "127.0.0.1".parse().unwrap();
    // Behind a trusted proxy (the test client, on loopback): each forwarded client counts
    // on its own.
    let trusted = Throttle::new()
        .max_failures_per_addr(2)
        .max_failures_per_user(0)
        .trusted_proxies([loopback]);
    // Without it, the header is the client's to forge: ignored, the peer counts.
    let untrusted = Throttle::new()
        .max_failures_per_addr(2)
        .max_failures_per_user(0);
    let auth = counted_basic(Arc::default());
    let base = serve_with_peer(
        Router::new()
            .route(
                "/trusted",
                get(hello).route_layer(auth.login_required().throttle(trusted)),
            )
            .route(
                "/untrusted",
                get(hello).route_layer(auth.login_required().throttle(untrusted)),
            ),
    )
    .await;
    let wrong = basic("x", "y");
    for client_ip in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        for _ in 0..2 {
            let h = [
                ("authorization", wrong.as_str()),
                ("x-forwarded-for", client_ip),
            ];
            assert_eq!(send(&format!("{base}/trusted"), &h).await.0, 401);
        }
    }
    let h = [
        ("authorization", wrong.as_str()),
        ("x-forwarded-for", "192.0.2.1"),
    ];
    assert_eq!(send(&format!("{base}/trusted"), &h).await.0, 429);
    for (i, client_ip) in ["192.0.2.1", "192.0.2.2"].iter().enumerate() {
        let h = [
            ("authorization", wrong.as_str()),
            ("x-forwarded-for", client_ip),
        ];
        assert_eq!(send(&format!("{base}/untrusted"), &h).await.0, 401, "{i}");
    }
    let h = [
        ("authorization", wrong.as_str()),
        ("x-forwarded-for", "192.0.2.99"),
    ];
    assert_eq!(send(&format!("{base}/untrusted"), &h).await.0, 429);
}

#[tokio::test]
async fn tokens_count_per_address() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let token = TokenAuth::verify_token_sync(move |t| {
        counter.fetch_add(1, SeqCst);
        (t == "good").then(|| "john".to_owned())
    });
    let throttle = Throttle::new().max_failures_per_addr(3);
    let base = serve_with_peer(Router::new().route(
        "/",
        get(hello).route_layer(token.login_required().throttle(throttle)),
    ))
    .await;
    let url = format!("{base}/");
    for i in 0..3 {
        let h = format!("Bearer guess{i}");
        assert_eq!(send(&url, &[("authorization", &h)]).await.0, 401);
    }
    assert_eq!(send(&url, &[("authorization", "Bearer good")]).await.0, 429);
    assert_eq!(calls.load(SeqCst), 3);
}

#[tokio::test]
async fn digest_wrong_passwords_count_per_username() {
    use crate::digest_client::{challenge, Client};
    let throttle = Throttle::new().max_failures_per_user(2);
    let auth =
        httpauth::DigestAuth::get_password_sync(|u| (u == "john").then(|| "hello".to_owned()));
    let base = serve_with_peer(Router::new().route(
        "/digest",
        get(hello).route_layer(auth.login_required().throttle(throttle)),
    ))
    .await;
    let url = format!("{base}/digest");
    for nc in ["00000001", "00000002"] {
        let (_, ch) = challenge(&url).await;
        let h = Client::new("john", "wrong", "/digest").header(&ch["nonce"], &ch["opaque"], nc);
        assert_eq!(send(&url, &[("authorization", &h)]).await.0, 401);
    }
    let (_, ch) = challenge(&url).await;
    let h = Client::new("john", "hello", "/digest").header(&ch["nonce"], &ch["opaque"], "00000001");
    assert_eq!(send(&url, &[("authorization", &h)]).await.0, 429);
}

#[tokio::test]
async fn the_refusal_event_names_the_user_and_the_client() {
    use std::io::Write;
    #[derive(Clone, Default)]
    struct Buf(Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let auth = counted_basic(Arc::default());
    let policy = auth.login_required().throttle(Throttle::new());
    let svc = tower::ServiceBuilder::new().layer(policy).service_fn(
        |_req: http::Request<axum::body::Body>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(axum::body::Body::empty()))
        },
    );
    let mut req = http::Request::get("/")
        .header("authorization", basic("mallory", "bad"))
        .body(axum::body::Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(SocketAddr::from((
            [203, 0, 113, 9],
            4242,
        ))));
    use tower::ServiceExt;
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 401);
    let log = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("authentication refused"), "{log}");
    assert!(log.contains("client=\"203.0.113.9\""), "{log}");
    assert!(log.contains("reason=\"invalid credentials\""), "{log}");
    assert!(log.contains("user=\"mallory\""), "{log}");
    assert!(!log.contains("bad"), "the password leaked: {log}");
    assert!(
        !log.contains(&basic("mallory", "bad")),
        "the credentials leaked: {log}"
    );
}

#[tokio::test]
async fn the_demo_binary_throttles_with_its_flags() {
    use crate::common::start_demo;
    // The defaults (10 per username): the 11th wrong password is a 429.
    let (_demo, base) = start_demo(&["--port", "0"], None);
    let url = format!("{base}/basic");
    let wrong = basic("john", "wrong");
    for _ in 0..10 {
        assert_eq!(send(&url, &[("authorization", &wrong)]).await.0, 401);
    }
    let (s, retry, _) = send(&url, &[("authorization", &wrong)]).await;
    assert_eq!(s, 429);
    // A failure counts for a window (900 s) at least, a window and a half at most.
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((900..=1350).contains(&retry), "{retry}");
    // Susan, from the same address, is not bothered.
    let (s, _, _) = send(&url, &[("authorization", &basic("susan", "bye"))]).await;
    assert_eq!(s, 200);

    // Flags change the limits, or turn the throttle off.
    let (_demo, base) = start_demo(
        &[
            "--port",
            "0",
            "--max-failures-per-user",
            "2",
            "--throttle-window",
            "30",
        ],
        None,
    );
    let url = format!("{base}/digest");
    let (_, ch) = crate::digest_client::challenge(&url).await;
    let bad = crate::digest_client::Client::new("john", "x", "/digest");
    for nc in ["00000001", "00000002"] {
        let h = bad.header(&ch["nonce"], &ch["opaque"], nc);
        assert_eq!(send(&url, &[("authorization", &h)]).await.0, 401);
    }
    let h = bad.header(&ch["nonce"], &ch["opaque"], "00000003");
    let (s, retry, _) = send(&url, &[("authorization", &h)]).await;
    assert_eq!(s, 429);
    // A window of 30 s: a failure counts for 45 s at most.
    assert!(retry.unwrap().parse::<u32>().unwrap() <= 45);

    let (_demo, base) = start_demo(&["--port", "0", "--no-throttle"], None);
    let url = format!("{base}/basic");
    for _ in 0..25 {
        assert_eq!(send(&url, &[("authorization", &wrong)]).await.0, 401);
    }
}

#[cfg(feature = "actix")]
#[tokio::test]
async fn actix_throttles_alike_from_its_peer_address() {
    use actix_web::{web, App, HttpServer};
    let calls = Arc::new(AtomicUsize::new(0));
    let auth = counted_basic(calls.clone());
    let policy = auth.login_required().throttle(
        Throttle::new()
            .max_failures_per_user(0)
            .max_failures_per_addr(3),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                App::new().service(
                    web::resource("/").wrap(policy.clone()).route(
                        web::get().to(|CurrentUser(u): CurrentUser<String>| async move { u }),
                    ),
                )
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run()
            .await
            .unwrap();
        });
    });
    let url = format!("http://{addr}/");
    for i in 0..3 {
        let creds = basic(&format!("u{i}"), "guess");
        assert_eq!(send(&url, &[("authorization", &creds)]).await.0, 401);
    }
    let (s, retry, challenge) = send(&url, &[("authorization", &basic("john", "hello"))]).await;
    assert_eq!((s, challenge), (429, false));
    assert!(retry.is_some());
    assert_eq!(calls.load(SeqCst), 3);
}
