//! Flask-HTTPAuth's token tests (behaviour reference §6.13, 4.8.1 suite incl. the empty-token
//! tests), sync and async, over real HTTP; then hostile tokens and RFC 6750 errors.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::routing::get;
use axum::Router;
use common::{
    client, get as http_get, get_with as request, raw_get, raw_request, raw_status, serve,
};
use httpauth::{AuthError, CurrentUser, TokenAuth};

/// Flask's suite uses `this-is-the-token!`; `!` is not a token68 character, so in
/// `Authorization` we refuse it (see `seed_token_with_bang_is_refused`); the suite runs with the
/// token68 form. The custom-header auth takes the whole value, `!` included.
const GOOD: &str = "this-is-the-token";
const GOOD_BANG: &str = "this-is-the-token!";

fn my_token_error(_: &AuthError) -> http::Response<Bytes> {
    http::Response::builder()
        .status(401)
        .header("WWW-Authenticate", r#"MyToken realm="Foo""#)
        .body(Bytes::from_static(b"error"))
        .unwrap()
}

/// t1 = MyToken with a custom handler, t2 = Token/realm foo refusing all, t3 = X-API-Key.
/// `calls` counts callback invocations; 4.8.1 asserts the callback never sees an empty token.
async fn token_app(asynchronous: bool, calls: Arc<AtomicUsize>) -> String {
    let verify = move |token: &str| -> Option<String> {
        assert!(
            !token.is_empty(),
            "the callback must never get an empty token"
        );
        calls.fetch_add(1, Ordering::SeqCst);
        (token == GOOD || token == GOOD_BANG).then(|| "user".to_owned())
    };
    let base = if asynchronous {
        let verify = Arc::new(verify);
        TokenAuth::verify_token(move |t: String| {
            let verify = verify.clone();
            async move {
                tokio::task::yield_now().await;
                verify(&t)
            }
        })
    } else {
        TokenAuth::verify_token_sync(verify)
    };
    let t1 = base.clone().scheme("MyToken").error_handler(my_token_error);
    let t2 = TokenAuth::verify_token_sync(|_| None::<String>)
        .scheme("Token")
        .realm("foo");
    let t3 = base.header("X-API-Key");
    let app = Router::new()
        .route(
            "/protected",
            get(|CurrentUser(u): CurrentUser<String>| async move { format!("token_auth:{u}") })
                .options(|| async { "options" })
                .route_layer(t1.login_required()),
        )
        .route(
            "/protected-optional",
            get(|u: Option<CurrentUser<String>>| async move {
                format!("token_auth:{}", u.map_or("None".to_owned(), |u| u.0))
            })
            .route_layer(t1.login_required().optional()),
        )
        .route(
            "/protected2",
            get(|| async { "token_auth2" }).route_layer(t2.login_required()),
        )
        .route(
            "/protected3",
            get(|CurrentUser(u): CurrentUser<String>| async move { format!("token_auth3:{u}") })
                .route_layer(t3.login_required()),
        );
    serve(app).await
}

const MYTOKEN: &str = r#"MyToken realm="Foo""#;

#[tokio::test]
async fn seed_token_suite() {
    for asynchronous in [false, true] {
        let calls = Arc::new(AtomicUsize::new(0));
        let base = token_app(asynchronous, calls.clone()).await;
        let p = format!("{base}/protected");
        // test_token_auth_prompt
        let (s, ch, _, _) = request(&p, &[]).await;
        assert_eq!((s, ch), (401, vec![MYTOKEN.to_owned()]));
        // test_token_auth_ignore_options
        let res = client()
            .request(reqwest::Method::OPTIONS, &p)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("www-authenticate").is_none());
        // test_token_auth_login_valid / _different_case
        for scheme in ["MyToken", "mytoken", "MYTOKEN"] {
            let (s, _, body, cache) =
                request(&p, &[("authorization", &format!("{scheme} {GOOD}"))]).await;
            assert_eq!((s, body.as_str(), cache), (200, "token_auth:user", None));
        }
        // test_token_auth_login_optional
        let (s, _, body, _) = request(&format!("{base}/protected-optional"), &[]).await;
        assert_eq!((s, body.as_str()), (200, "token_auth:None"));
        // test_token_auth_login_invalid_token
        let (s, ch, _, _) =
            request(&p, &[("authorization", "MyToken this-is-not-the-token")]).await;
        assert_eq!((s, ch), (401, vec![MYTOKEN.to_owned()]));
        // test_token_auth_login_empty_token (4.8.1)
        let (s, ch, _, _) = request(&p, &[("authorization", "MyToken ")]).await;
        assert_eq!((s, ch), (401, vec![MYTOKEN.to_owned()]));
        // test_token_auth_login_invalid_scheme / _invalid_header
        for value in [format!("Foo {GOOD}"), "this-is-a-bad-header".to_owned()] {
            let (s, ch, _, _) = request(&p, &[("authorization", &value)]).await;
            assert_eq!((s, ch), (401, vec![MYTOKEN.to_owned()]), "{value}");
        }
        // test_token_auth_login_invalid_no_callback (Rust: a callback refusing all)
        let (s, ch, _, _) = request(
            &format!("{base}/protected2"),
            &[("authorization", &format!("Token {GOOD}"))],
        )
        .await;
        assert_eq!((s, ch), (401, vec![r#"Token realm="foo""#.to_owned()]));
        // test_token_auth_custom_header_valid_token (+ Cache-Control: private)
        let p3 = format!("{base}/protected3");
        let (s, _, body, cache) = request(&p3, &[("X-API-Key", GOOD_BANG)]).await;
        assert_eq!(
            (s, body.as_str(), cache.as_deref()),
            (200, "token_auth3:user", Some("private"))
        );
        // test_token_auth_custom_header_invalid_token / _empty_token (4.8.1)
        for value in ["invalid-token-should-fail", ""] {
            let (s, ch, _, _) = request(&p3, &[("X-API-Key", value)]).await;
            assert_eq!((s, ch.len()), (401, 1), "{value:?}");
        }
        // test_token_auth_custom_header_invalid_header
        let (s, ch, _, _) = request(&p3, &[("API-Key", GOOD)]).await;
        assert_eq!(
            (s, ch),
            (
                401,
                vec![r#"Bearer realm="Authentication Required""#.to_owned()]
            )
        );
        // test_token_auth_header_precedence
        let (s, _, body, _) = request(
            &p3,
            &[
                ("authorization", &common::basic("susan", "bye")),
                ("X-API-Key", GOOD),
            ],
        )
        .await;
        assert_eq!((s, body.as_str()), (200, "token_auth3:user"));
        // Authorization alone never reaches a custom-header auth.
        let (s, _, _, _) = request(&p3, &[("authorization", &format!("Bearer {GOOD}"))]).await;
        assert_eq!(s, 401);
        // Callback calls: only non-empty tokens, one per credentialed request above
        // (3 valid + 1 invalid + 1 custom valid + 1 custom invalid + 1 precedence).
        assert_eq!(calls.load(Ordering::SeqCst), 7, "async={asynchronous}");
    }
}

#[tokio::test]
async fn seed_token_with_bang_is_refused() {
    // Deviation: RFC 6750's b64token (= token68) has no `!`; Flask-HTTPAuth accepts it.
    let calls = Arc::new(AtomicUsize::new(0));
    let base = token_app(false, calls.clone()).await;
    let (s, ch, _, _) = request(
        &format!("{base}/protected"),
        &[("authorization", &format!("MyToken {GOOD_BANG}"))],
    )
    .await;
    assert_eq!((s, ch), (401, vec![MYTOKEN.to_owned()]));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn token68_is_enforced_and_padding_allowed() {
    let auth = TokenAuth::verify_token_sync(|t| {
        matches!(t, "abc==" | "a.b-c_d~e+f/g").then(|| t.to_owned())
    });
    let base = serve(
        Router::new().route(
            "/",
            get(|CurrentUser(u): CurrentUser<String>| async move { u })
                .route_layer(auth.login_required()),
        ),
    )
    .await;
    for good in ["Bearer abc==", "Bearer a.b-c_d~e+f/g", "Bearer  abc==  "] {
        assert_eq!(
            http_get(&format!("{base}/"), Some(good)).await.0,
            200,
            "{good}"
        );
    }
    // Flask passes "a b c" to the callback and turns "a=b" into None; we refuse both.
    for bad in [
        "Bearer a b c",
        "Bearer a=b",
        "Bearer abc==x",
        "Bearer a,b",
        "Bearer \"abc\"",
    ] {
        assert_eq!(
            http_get(&format!("{base}/"), Some(bad)).await.0,
            401,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn hostile_tokens_are_400_or_401() {
    let calls = Arc::new(AtomicUsize::new(0));
    let base = token_app(false, calls.clone()).await;
    let big = "A".repeat(8 * 1024 + 1);
    let cases: Vec<(&str, Vec<Vec<u8>>, u16)> = vec![
        (
            "space inside",
            vec![b"Authorization: MyToken this is it".to_vec()],
            401,
        ),
        (
            "= in the middle",
            vec![b"Authorization: MyToken abc=def".to_vec()],
            401,
        ),
        (
            "non-ASCII bytes",
            vec![b"Authorization: MyToken t\xc3\xa9st".to_vec()],
            401,
        ),
        (
            "non-UTF-8 bytes",
            vec![b"Authorization: MyToken \xff\xfe".to_vec()],
            401,
        ),
        (
            "8 KB token",
            vec![format!("Authorization: MyToken {big}").into_bytes()],
            401,
        ),
        (
            "tab separator",
            vec![b"Authorization: MyToken\tthis-is-the-token!".to_vec()],
            401,
        ),
        (
            "duplicated header",
            vec![
                format!("Authorization: MyToken {GOOD}").into_bytes(),
                format!("Authorization: MyToken {GOOD}").into_bytes(),
            ],
            // The 400 goes through t1's custom handler, which always answers 401.
            401,
        ),
        ("quote", vec![b"Authorization: MyToken \"x\"".to_vec()], 401),
    ];
    for (name, lines, expected) in cases {
        let lines: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let head = raw_get("/protected", &lines);
        let b = base.clone();
        let res = tokio::task::spawn_blocking(move || raw_request(&b, &head))
            .await
            .unwrap();
        assert_eq!(raw_status(&res), expected, "{name}: {res}");
        assert!(
            res.to_ascii_lowercase().contains("www-authenticate:"),
            "{name}"
        );
    }
    let api_cases: Vec<(&str, Vec<Vec<u8>>, u16)> = vec![
        (
            "non-ASCII bytes",
            vec![b"X-API-Key: t\xc3\xa9st".to_vec()],
            401,
        ),
        (
            "8 KB value",
            vec![format!("X-API-Key: {big}").into_bytes()],
            401,
        ),
        ("tab inside", vec![b"X-API-Key: a\tb".to_vec()], 401),
        (
            "duplicated header",
            vec![
                format!("X-API-Key: {GOOD}").into_bytes(),
                format!("X-API-Key: {GOOD}").into_bytes(),
            ],
            400,
        ),
    ];
    for (name, lines, expected) in api_cases {
        let lines: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let head = raw_get("/protected3", &lines);
        let b = base.clone();
        let res = tokio::task::spawn_blocking(move || raw_request(&b, &head))
            .await
            .unwrap();
        assert_eq!(raw_status(&res), expected, "X-API-Key {name}: {res}");
        assert!(
            res.contains("www-authenticate: Bearer realm=\"Authentication Required\""),
            "{name}"
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "no hostile token reached the callback"
    );
}

#[tokio::test]
async fn rfc6750_errors_opt_in() {
    let auth =
        TokenAuth::verify_token_sync(|t| (t == "good" || t == "reader").then(|| t.to_owned()))
            .rfc6750_errors()
            .realm("example")
            .scope("admin")
            .user_roles_sync(|u: &String| if u == "good" { vec!["admin"] } else { vec![] });
    let base = serve(
        Router::new()
            .route(
                "/",
                get(|| async { "ok" }).route_layer(auth.login_required()),
            )
            .route(
                "/admin",
                get(|| async { "ok" }).route_layer(auth.login_required().role("admin")),
            ),
    )
    .await;
    let url = format!("{base}/");
    // No credentials: no error attribute.
    assert_eq!(request(&url, &[]).await.1, [r#"Bearer realm="example""#]);
    // Another scheme is no credentials for this auth either.
    assert_eq!(
        request(&url, &[("authorization", "Basic Zm9vOmJhcg==")])
            .await
            .1,
        [r#"Bearer realm="example""#]
    );
    let (s, ch, _, _) = request(&url, &[("authorization", "Bearer bad")]).await;
    assert_eq!(s, 401);
    assert_eq!(
        ch,
        [r#"Bearer realm="example", error="invalid_token", error_description="invalid token""#]
    );
    // A malformed token is a malformed request (RFC 6750 §3.1): 400 invalid_request.
    for malformed in ["Bearer a b", "Bearer a=b", "Bearer"] {
        let (s, ch, _, _) = request(&url, &[("authorization", malformed)]).await;
        assert_eq!(s, 400, "{malformed}");
        assert!(ch[0].contains(r#"error="invalid_request""#), "{ch:?}");
    }
    let (s, ch, _, _) = request(
        &format!("{base}/admin"),
        &[("authorization", "Bearer reader")],
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(
        ch,
        [
            r#"Bearer realm="example", scope="admin", error="insufficient_scope", error_description="insufficient scope""#
        ]
    );
    assert_eq!(
        request(
            &format!("{base}/admin"),
            &[("authorization", "Bearer good")]
        )
        .await
        .0,
        200
    );
    let head = raw_get(
        "/",
        &[b"Authorization: Bearer good", b"Authorization: Bearer good"],
    );
    let b = base.clone();
    let res = tokio::task::spawn_blocking(move || raw_request(&b, &head))
        .await
        .unwrap();
    assert_eq!(raw_status(&res), 400);
    assert!(res.contains(r#"error="invalid_request""#), "{res}");
}

#[tokio::test]
async fn handler_cache_control_is_kept() {
    let auth = TokenAuth::verify_token_sync(|t| (t == "k").then_some(())).header("X-API-Key");
    let base = serve(
        Router::new().route(
            "/",
            get(|| async { ([("cache-control", "no-store")], "ok") })
                .route_layer(auth.login_required()),
        ),
    )
    .await;
    let (s, _, _, cache) = request(&format!("{base}/"), &[("x-api-key", "k")]).await;
    assert_eq!((s, cache.as_deref()), (200, Some("no-store")));
}
