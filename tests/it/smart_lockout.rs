//! Brute-force protection that attackers cannot turn against real users, over real HTTP with
//! distinct loopback source addresses as the attackers: failures from elsewhere do not lock a
//! user out of an address where they logged in before (smart lockout), and a flood of guesses
//! for unknown usernames takes no hashing from real users' first logins.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use httpauth::password::{HashPool, HashedPasswords, Params, PasswordChecker};
use httpauth::{BasicAuth, CurrentUser, Throttle};

use crate::common::{basic, get_from, loopback, serve_with_peer};

async fn hello(CurrentUser(user): CurrentUser<String>) -> String {
    format!("Hello, {user}!")
}

/// The demo, in-process, served with the peer address (its default throttle: 10 failures per
/// username, 100 per address).
async fn demo() -> String {
    serve_with_peer(crate::app::app(&crate::users::Users::new())).await
}

#[tokio::test]
async fn failures_from_elsewhere_do_not_lock_a_user_out_of_a_familiar_address() {
    let base = demo().await;
    let url = format!("{base}/basic");
    let (home, new_place) = (loopback(7_000), loopback(7_001));
    let right = basic("john", "hello");
    let (status, _, _) = get_from(home, &url, &[("authorization", &right)]).await;
    assert_eq!(status, 200, "john logs in from home");
    // 14 wrong guesses for john from 14 other addresses.
    let wrong = basic("john", "guess");
    let mut statuses = Vec::new();
    for i in 0..14 {
        let (status, _, _) = get_from(loopback(i), &url, &[("authorization", &wrong)]).await;
        statuses.push(status);
    }
    assert_eq!(&statuses[..10], &[401; 10]);
    assert_eq!(
        &statuses[10..],
        &[429; 4],
        "john is locked for unfamiliar addresses"
    );
    let (status, _, _) = get_from(home, &url, &[("authorization", &right)]).await;
    assert_eq!(status, 200, "from where he logged in before");
    let (status, _, _) = get_from(new_place, &url, &[("authorization", &right)]).await;
    assert_eq!(status, 429, "from an address he never used");
    // At home, failures made there still count: 10 there lock that pair too.
    for _ in 0..10 {
        let (status, _, _) = get_from(home, &url, &[("authorization", &wrong)]).await;
        assert_eq!(status, 401);
    }
    let (status, _, _) = get_from(home, &url, &[("authorization", &right)]).await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn a_success_elsewhere_does_not_unlock_and_smart_lockout_can_be_turned_off() {
    let auth =
        BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then(|| u.to_owned()));
    let throttle = Throttle::new()
        .max_failures_per_user(3)
        .familiar_for(std::time::Duration::ZERO, 0);
    let base = serve_with_peer(Router::new().route(
        "/",
        get(hello).route_layer(auth.login_required().throttle(throttle)),
    ))
    .await;
    let url = format!("{base}/");
    let home = loopback(100);
    assert_eq!(
        get_from(home, &url, &[("authorization", &basic("john", "hello"))])
            .await
            .0,
        200
    );
    for i in 0..3 {
        assert_eq!(
            get_from(loopback(i), &url, &[("authorization", &basic("john", "x"))])
                .await
                .0,
            401
        );
    }
    // Off: the username's limit holds at home too.
    assert_eq!(
        get_from(home, &url, &[("authorization", &basic("john", "hello"))])
            .await
            .0,
        429
    );
}

/// 300 guesses for unknown usernames, each from its own address, beside 8 real first logins
/// on a one-permit pool: the unknown users cost no verification, every real login is 200.
#[tokio::test]
async fn a_flood_of_unknown_usernames_takes_no_hashing_from_real_users() {
    let checker = PasswordChecker::new().pool(HashPool::new(1).max_waiters(8));
    let users = HashedPasswords::new().with_checker(checker.clone());
    let cheap = Params::new(256, 1, 1).unwrap();
    for i in 0..8 {
        users
            .insert(format!("user{i}"), cheap.hash(&format!("pw{i}")))
            .unwrap();
    }
    let auth = BasicAuth::verify_password(users);
    let base = serve_with_peer(
        Router::new()
            .route("/", get(hello))
            .route_layer(auth.login_required()),
    )
    .await;
    let url = Arc::new(format!("{base}/"));
    let mut flood = Vec::new();
    for i in 0..300 {
        let url = url.clone();
        flood.push(tokio::spawn(async move {
            let creds = basic(&format!("nobody{i}"), "guess");
            get_from(loopback(10_000 + i), &url, &[("authorization", &creds)])
                .await
                .0
        }));
    }
    let mut real = Vec::new();
    for i in 0..8 {
        let url = url.clone();
        real.push(tokio::spawn(async move {
            let creds = basic(&format!("user{i}"), &format!("pw{i}"));
            get_from(loopback(20_000 + i), &url, &[("authorization", &creds)])
                .await
                .0
        }));
    }
    for f in flood {
        assert_eq!(f.await.unwrap(), 401);
    }
    for r in real {
        assert_eq!(r.await.unwrap(), 200);
    }
    let stats = checker.stats();
    assert_eq!(stats.unavailable, 0, "{stats:?}");
    assert!(
        stats.verifications <= 8 + 1,
        "only the real users hashed: {stats:?}"
    );
}
