//! Callbacks that can fail, over real HTTP: a store that is down answers 503 with
//! `Retry-After`, never 401, and is never counted as a failed attempt (no lockout once the
//! store is back); a token callback can refuse with a reason that reaches RFC 6750's
//! `error_description`.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use httpauth::{AuthError, BasicAuth, CurrentUser, DigestAuth, Throttle, TokenAuth};

use crate::common::{basic, get_from, loopback, serve_with_peer};
use crate::digest_client::{parse_challenge, Client};

async fn hello(CurrentUser(user): CurrentUser<String>) -> String {
    format!("Hello, {user}!")
}

/// A user table that can be down, as a database is during an outage.
#[derive(Clone, Default)]
struct Table {
    down: Arc<AtomicBool>,
}

impl Table {
    fn password_of(&self, user: &str) -> Result<Option<String>, AuthError> {
        if self.down.load(SeqCst) {
            return Err(AuthError::backend("connection refused"));
        }
        Ok((user == "john").then(|| "hello".to_owned()))
    }
}

#[tokio::test]
async fn a_store_outage_answers_503_and_locks_no_one_out() {
    let table = Table::default();
    let throttle = Throttle::new()
        .max_failures_per_user(3)
        .max_failures_per_addr(3);
    let t = table.clone();
    let basic_auth = BasicAuth::verify_password(move |user: String, password: String| {
        let t = t.clone();
        async move {
            let stored = t.password_of(&user)?;
            Ok::<_, AuthError>(stored.filter(|p| *p == password).map(|_| user))
        }
    })
    .throttle(throttle.clone());
    let t = table.clone();
    let digest_auth =
        DigestAuth::get_password_sync(move |user| t.password_of(user)).throttle(throttle.clone());
    let t = table.clone();
    let roles_auth =
        BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then(|| u.to_owned()))
            .user_roles(move |_user: String| {
                let t = t.clone();
                async move {
                    t.password_of("john")?;
                    Ok::<_, AuthError>("admin")
                }
            })
            .throttle(throttle);
    let base = serve_with_peer(
        Router::new()
            .route(
                "/basic",
                get(hello).route_layer(basic_auth.login_required()),
            )
            .route(
                "/digest",
                get(hello).route_layer(digest_auth.login_required()),
            )
            .route(
                "/admin",
                get(hello).route_layer(roles_auth.login_required().role("admin")),
            ),
    )
    .await;
    let client = loopback(1100);
    let john = basic("john", "hello");
    table.down.store(true, SeqCst);
    // Eleven tries through the outage, a limit of three: every one 503, none 429.
    for _ in 0..11 {
        let res = crate::common::client_from(client)
            .get(format!("{base}/basic"))
            .header("authorization", &john)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["retry-after"], "1");
        assert!(res.headers().get("www-authenticate").is_none());
    }
    let (status, _, _) = get_from(
        client,
        &format!("{base}/admin"),
        &[("authorization", &john)],
    )
    .await;
    assert_eq!(status, 503, "the roles callback failed");
    let (_, challenges, _) = get_from(client, &format!("{base}/digest"), &[]).await;
    let answer = Client::new("john", "hello", "/digest")
        .answer(&parse_challenge(&challenges[0]), "00000001");
    let (status, _, _) = get_from(
        client,
        &format!("{base}/digest"),
        &[("authorization", &answer)],
    )
    .await;
    assert_eq!(status, 503);
    // The store is back: john logs in at once, everywhere.
    table.down.store(false, SeqCst);
    let (status, _, body) = get_from(
        client,
        &format!("{base}/basic"),
        &[("authorization", &john)],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "Hello, john!"));
    let (status, _, _) = get_from(
        client,
        &format!("{base}/admin"),
        &[("authorization", &john)],
    )
    .await;
    assert_eq!(status, 200);
    let (_, challenges, _) = get_from(client, &format!("{base}/digest"), &[]).await;
    let answer = Client::new("john", "hello", "/digest")
        .answer(&parse_challenge(&challenges[0]), "00000001");
    let (status, _, _) = get_from(
        client,
        &format!("{base}/digest"),
        &[("authorization", &answer)],
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_token_refused_with_a_reason() {
    let auth = TokenAuth::verify_token_sync(|token| match token {
        "fresh" => Ok(Some("john".to_owned())),
        "stale" => Err(AuthError::invalid().with_detail("token expired")),
        "down" => Err(AuthError::backend("token service timed out")),
        _ => Ok(None),
    })
    .rfc6750_errors();
    let base =
        serve_with_peer(Router::new().route("/", get(hello).route_layer(auth.login_required())))
            .await;
    let url = format!("{base}/");
    let client = loopback(1200);
    let (status, _, body) = get_from(client, &url, &[("authorization", "Bearer fresh")]).await;
    assert_eq!((status, body.as_str()), (200, "Hello, john!"));
    let (status, challenges, _) =
        get_from(client, &url, &[("authorization", "Bearer stale")]).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenges,
        [
            r#"Bearer realm="Authentication Required", error="invalid_token", error_description="token expired""#
        ]
    );
    let (status, challenges, _) =
        get_from(client, &url, &[("authorization", "Bearer other")]).await;
    assert_eq!(status, 401);
    assert!(
        challenges[0].contains(r#"error_description="invalid token""#),
        "{challenges:?}"
    );
    let (status, _, _) = get_from(client, &url, &[("authorization", "Bearer down")]).await;
    assert_eq!(status, 503);
}

#[tokio::test]
async fn stored_hashes_in_one_call() {
    use httpauth::password::{HashLookup, Params};
    let params = Params::new(1024, 1, 1).unwrap();
    let table: Arc<std::sync::Mutex<std::collections::HashMap<String, String>>> = Arc::default();
    table
        .lock()
        .unwrap()
        .insert("john".to_owned(), params.hash("hello"));
    let down = Arc::new(AtomicBool::new(false));
    let (t, d) = (table.clone(), down.clone());
    let users = HashLookup::new(move |name: String| {
        let found = t.lock().unwrap().get(&name).cloned();
        let down = d.load(SeqCst);
        async move {
            if down {
                return Err(AuthError::backend("database is down"));
            }
            Ok(found.map(|hash| (hash, name)))
        }
    })
    .dummy_params(params);
    let checker = users.checker_ref().clone();
    let auth = BasicAuth::verify_password(users).throttle(
        Throttle::new()
            .max_failures_per_user(2)
            .max_failures_per_addr(100),
    );
    let base =
        serve_with_peer(Router::new().route("/", get(hello).route_layer(auth.login_required())))
            .await;
    let url = format!("{base}/");
    let client = loopback(1300);
    let ask = |creds: String| {
        let url = url.clone();
        async move { get_from(client, &url, &[("authorization", &creds)]).await.0 }
    };
    assert_eq!(ask(basic("john", "hello")).await, 200);
    assert_eq!(ask(basic("john", "hello")).await, 200);
    let stats = checker.stats();
    assert_eq!((stats.verifications, stats.cache_hits), (1, 1), "{stats:?}");
    // An unknown user is refused without a hash, after the time a wrong password takes.
    assert_eq!(ask(basic("nobody", "hello")).await, 401);
    assert_eq!(checker.stats().verifications, 1);
    assert!(checker.refusal_padding() > std::time::Duration::ZERO);
    // The database is down: 503 without counting, however often john retries.
    down.store(true, SeqCst);
    for _ in 0..5 {
        assert_eq!(ask(basic("john", "hello")).await, 503);
    }
    down.store(false, SeqCst);
    assert_eq!(ask(basic("john", "hello")).await, 200);
}
