//! Flask-HTTPAuth's MultiAuth tests (behaviour reference §6.11, sync and async) and its
//! selection table (§4.1), over real HTTP.
//!
//! Flask's token callbacks return `True` (no user object), so `current_user()` is `None` for
//! them; the port mirrors that with the user type `Option<String>`.

use crate::common;

use axum::body::Bytes;
use axum::routing::get;
use axum::Router;
use common::{basic, serve};
use httpauth::{AuthError, BasicAuth, CurrentUser, MultiAuth, TokenAuth};

type User = Option<String>;

const TOKEN: &str = "this-is-the-token"; // Flask: "this-is-the-token!" (`!` is not token68)
const CUSTOM: &str = "this-is-the-custom-token!";
const BASIC_CH: &str = r#"Basic realm="Authentication Required""#;
const MYTOKEN_CH: &str = r#"MyToken realm="Foo""#;
const BEARER_CH: &str = r#"Bearer realm="Authentication Required""#;

async fn multi_app(asynchronous: bool) -> String {
    let basic_auth = if asynchronous {
        BasicAuth::verify_password(|u: String, p: String| async move {
            (u == "john" && p == "hello").then_some(Some(u))
        })
        .user_roles(|_u: User| async { vec!["foo", "bar"] })
    } else {
        BasicAuth::verify_password_sync(|u, p| {
            (u == "john" && p == "hello").then(|| Some(u.to_owned()))
        })
        .user_roles_sync(|_u: &User| vec!["foo", "bar"])
    };
    let token = if asynchronous {
        TokenAuth::verify_token(|t: String| async move { (t == TOKEN).then_some(None) })
    } else {
        TokenAuth::verify_token_sync(|t| (t == TOKEN).then_some(None))
    }
    .scheme("MyToken")
    .user_roles_sync(|_u: &User| "foo")
    .error_handler(|_: &AuthError| {
        http::Response::builder()
            .status(401)
            .header("WWW-Authenticate", MYTOKEN_CH)
            .body(Bytes::from_static(b"error"))
            .unwrap()
    });
    let custom = TokenAuth::verify_token_sync(|t| (t == CUSTOM).then_some(None))
        .header("X-Token")
        .user_roles_sync(|_u: &User| "foo");
    let multi = MultiAuth::new(basic_auth).or(token).or(custom);
    let granted = |CurrentUser(u): CurrentUser<User>| async move {
        format!("access granted:{}", u.as_deref().unwrap_or("None"))
    };
    let app = Router::new()
        .route(
            "/protected",
            get(granted).route_layer(multi.login_required()),
        )
        .route(
            "/protected-with-role",
            get(|| async { "role access granted" }).route_layer(multi.login_required().role("foo")),
        )
        .route(
            "/protected-with-role-baz",
            get(|| async { "nope" }).route_layer(multi.login_required().role("baz")),
        )
        .route(
            "/optional",
            get(|u: Option<CurrentUser<User>>| async move {
                match u {
                    Some(CurrentUser(u)) => format!("user:{}", u.as_deref().unwrap_or("None")),
                    None => "anonymous".to_owned(),
                }
            })
            .route_layer(multi.login_required().optional()),
        );
    serve(app).await
}

async fn call(url: &str, headers: &[(&str, &str)]) -> (u16, Vec<String>, String) {
    let (status, challenges, body, _) = common::get_with(url, headers).await;
    (status, challenges, body)
}

fn all_challenges() -> Vec<String> {
    [
        BASIC_CH,
        r#"MyToken realm="Authentication Required""#,
        BEARER_CH,
    ]
    .map(str::to_owned)
    .to_vec()
}

#[tokio::test]
async fn seed_multi_suite() {
    for asynchronous in [false, true] {
        let base = multi_app(asynchronous).await;
        let p = format!("{base}/protected");
        let john = basic("john", "hello");
        let my_token = format!("MyToken {TOKEN}");
        // test_multi_auth_prompt: deviation, every member's challenge, in order.
        let (s, ch, body) = call(&p, &[]).await;
        assert_eq!(
            (s, ch, body.as_str()),
            (401, all_challenges(), "Unauthorized Access")
        );
        // test_multi_auth_login_valid_basic / _invalid_basic
        assert_eq!(
            call(&p, &[("authorization", &john)]).await.2,
            "access granted:john"
        );
        let (s, ch, _) = call(&p, &[("authorization", &basic("john", "bye"))]).await;
        assert_eq!((s, ch), (401, vec![BASIC_CH.to_owned()]));
        // test_multi_auth_login_valid_token / _invalid_token
        assert_eq!(
            call(&p, &[("authorization", &my_token)]).await.2,
            "access granted:None"
        );
        let (s, ch, body) = call(&p, &[("authorization", "MyToken this-is-not-the-token")]).await;
        assert_eq!(
            (s, ch, body.as_str()),
            (401, vec![MYTOKEN_CH.to_owned()], "error")
        );
        // test_multi_auth_login_valid_custom_token / _invalid_custom_token
        assert_eq!(
            call(&p, &[("x-token", CUSTOM)]).await.2,
            "access granted:None"
        );
        let (s, ch, _) = call(&p, &[("x-token", "this-is-not-the-token!")]).await;
        assert_eq!((s, ch), (401, vec![BEARER_CH.to_owned()]));
        // test_multi_auth_login_invalid_scheme / test_multi_malformed_header: no member claims
        // them, so every challenge (Flask: Basic only).
        for value in [format!("Foo {TOKEN}"), "token-without-scheme".to_owned()] {
            let (s, ch, _) = call(&p, &[("authorization", &value)]).await;
            assert_eq!((s, ch), (401, all_challenges()), "{value}");
        }
        // role tests
        let r = format!("{base}/protected-with-role");
        for headers in [
            vec![("authorization", john.as_str())],
            vec![("authorization", my_token.as_str())],
            vec![("x-token", CUSTOM)],
        ] {
            let (s, _, body) = call(&r, &headers).await;
            assert_eq!(
                (s, body.as_str()),
                (200, "role access granted"),
                "{headers:?}"
            );
        }
        // A 403 carries the selected member's challenge only.
        let (s, ch, _) = call(
            &format!("{base}/protected-with-role-baz"),
            &[("x-token", CUSTOM)],
        )
        .await;
        assert_eq!((s, ch), (403, vec![BEARER_CH.to_owned()]));
    }
}

#[tokio::test]
async fn selection_table() {
    let base = multi_app(false).await;
    let p = format!("{base}/protected");
    let john = basic("john", "hello");
    // Lowercase schemes are matched (Flask: `bearer`/`mytoken` fall through to Basic and fail).
    assert_eq!(
        call(&p, &[("authorization", &format!("mytoken {TOKEN}"))])
            .await
            .2,
        "access granted:None"
    );
    assert_eq!(
        call(&p, &[("authorization", &john.replace("Basic", "basic"))])
            .await
            .2,
        "access granted:john"
    );
    // Order decides when several members could answer.
    assert_eq!(
        call(&p, &[("x-token", CUSTOM), ("authorization", &john)])
            .await
            .2,
        "access granted:john"
    );
    let (s, ch, _) = call(&p, &[("x-token", CUSTOM), ("authorization", "MyToken bad")]).await;
    assert_eq!((s, ch), (401, vec![MYTOKEN_CH.to_owned()]));
    assert_eq!(
        call(&p, &[("x-token", CUSTOM), ("authorization", "Foo x")])
            .await
            .2,
        "access granted:None"
    );
    // "Bearer" is not a member's Authorization scheme here (the Bearer auth reads X-Token).
    let (s, ch, _) = call(&p, &[("authorization", "Bearer x")]).await;
    assert_eq!((s, ch), (401, all_challenges()));
}

#[tokio::test]
async fn optional_through_multi() {
    let base = multi_app(true).await;
    let o = format!("{base}/optional");
    assert_eq!(call(&o, &[]).await.2, "anonymous");
    assert_eq!(
        call(&o, &[("authorization", &basic("john", "bad"))])
            .await
            .2,
        "anonymous"
    );
    assert_eq!(
        call(&o, &[("authorization", &basic("john", "hello"))])
            .await
            .2,
        "user:john"
    );
    assert_eq!(call(&o, &[("x-token", CUSTOM)]).await.2, "user:None");
}
