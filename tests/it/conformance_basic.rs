//! Behaviour reference §6.14: the probed edge cases that the upstream suite does not cover,
//! and each deliberate deviation, over real HTTP.

use crate::common;

use axum::body::Bytes;
use axum::routing::get;
use axum::Router;
use common::{basic, basic_bytes, client, get as http_get, serve};
use httpauth::{AuthError, AuthErrorKind, BasicAuth, CurrentUser, RoleRequirement};

const DEFAULT: &str = r#"Basic realm="Authentication Required""#;

/// john:hello, "colon":"a:b", garçon:áéíóú; echoes "user|password-len".
async fn app() -> String {
    let auth = BasicAuth::verify_password_sync(|u, p| {
        matches!(
            (u, p),
            ("john", "hello") | ("colon", "a:b") | ("garçon", "áéíóú") | ("john", "")
        )
        .then(|| format!("{u}|{}", p.chars().count()))
    })
    .user_roles_sync(|u: &String| {
        if u.starts_with("john") {
            vec!["user"]
        } else {
            vec![]
        }
    });
    let hello = |CurrentUser(u): CurrentUser<String>| async move { u };
    let optional = |u: Option<CurrentUser<String>>, err: Option<axum::Extension<AuthError>>| async move {
        format!(
            "{}|{}",
            u.map_or("anonymous".to_owned(), |u| u.0),
            err.map_or("none", |e| e.0.reason())
        )
    };
    let app = Router::new()
        .route("/", get(hello).route_layer(auth.login_required()))
        .route(
            "/explicit-options",
            get(hello)
                .options(|| async { "options reached" })
                .route_layer(auth.login_required()),
        )
        .route(
            "/options-authenticated",
            get(hello)
                .options(|| async { "options reached" })
                .route_layer(auth.login_required().authenticate_options(true)),
        )
        .route(
            "/optional",
            get(optional).route_layer(auth.login_required().optional()),
        )
        .route(
            "/optional-admin",
            get(optional).route_layer(auth.login_required().role("admin").optional()),
        )
        .route(
            "/empty-any",
            get(hello).route_layer(
                auth.login_required()
                    .role(RoleRequirement::any_of(Vec::<String>::new())),
            ),
        )
        .route(
            "/admin",
            get(hello).route_layer(auth.login_required().role("admin")),
        )
        .route(
            "/user-or-admin",
            get(hello).route_layer(auth.login_required().any_role(["admin", "user"])),
        );
    serve(app).await
}

#[tokio::test]
async fn scheme_word_is_checked_and_case_insensitive() {
    let base = app().await;
    let b64 = basic("john", "hello");
    let token = b64.trim_start_matches("Basic ");
    for scheme in ["Basic", "basic", "BASIC", "bAsIc"] {
        let (s, _, body) = http_get(&format!("{base}/"), Some(&format!("{scheme} {token}"))).await;
        assert_eq!((s, body.as_str()), (200, "john|5"), "{scheme}");
    }
    // Deviation: Flask-HTTPAuth ignores the scheme word and admits these.
    for scheme in ["Bearer", "Whatever", "Digest"] {
        let (s, ch, _) = http_get(&format!("{base}/"), Some(&format!("{scheme} {token}"))).await;
        assert_eq!((s, ch), (401, vec![DEFAULT.to_owned()]), "{scheme}");
    }
}

#[tokio::test]
async fn separators() {
    let base = app().await;
    let token = basic("john", "hello")
        .trim_start_matches("Basic ")
        .to_owned();
    // Several spaces and trailing spaces are fine (as Flask-HTTPAuth).
    for value in [format!("Basic  {token}"), format!("Basic {token}   ")] {
        assert_eq!(
            http_get(&format!("{base}/"), Some(&value)).await.0,
            200,
            "{value:?}"
        );
    }
    // A tab is not a separator (RFC 9110; Flask-HTTPAuth also refuses).
    let (s, ch, _) = http_get(&format!("{base}/"), Some(&format!("Basic\t{token}"))).await;
    assert_eq!((s, ch.len()), (401, 1));
}

#[tokio::test]
async fn base64_must_be_canonical() {
    let base = app().await;
    // "john:hello" without padding: refused (as Flask-HTTPAuth).
    let (s, _, _) = http_get(&format!("{base}/"), Some("Basic am9objpoZWxsbw")).await;
    assert_eq!(s, 401);
    // Characters outside the alphabet: Python drops them, we refuse the credentials.
    let (s, _, _) = http_get(&format!("{base}/"), Some("Basic am9objpo!ZWxsbw==")).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn colon_in_password_and_empty_password() {
    let base = app().await;
    let (s, _, body) = http_get(&format!("{base}/"), Some(&basic("colon", "a:b"))).await;
    assert_eq!((s, body.as_str()), (200, "colon|3"));
    let (s, _, body) = http_get(&format!("{base}/"), Some(&basic("john", ""))).await;
    assert_eq!((s, body.as_str()), (200, "john|0"));
}

#[tokio::test]
async fn encodings() {
    let base = app().await;
    let utf8 = basic("garçon", "áéíóú");
    assert_eq!(
        http_get(&format!("{base}/"), Some(&utf8)).await.2,
        "garçon|5"
    );
    let latin1 = basic_bytes(b"gar\xe7on:\xe1\xe9\xed\xf3\xfa");
    assert_eq!(
        http_get(&format!("{base}/"), Some(&latin1)).await.2,
        "garçon|5"
    );
    // Mixed: UTF-8 user + Latin-1 password decodes both as Latin-1 (mojibake user): refused.
    let mixed = basic_bytes(b"gar\xc3\xa7on:\xe1\xe9\xed\xf3\xfa");
    assert_eq!(http_get(&format!("{base}/"), Some(&mixed)).await.0, 401);
}

#[tokio::test]
async fn head_is_authenticated() {
    let base = app().await;
    let res = client().head(format!("{base}/")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], DEFAULT);
    assert_eq!(res.bytes().await.unwrap().len(), 0);
    let res = client()
        .head(format!("{base}/"))
        .header("authorization", basic("john", "hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn options_passes_by_default_and_can_be_authenticated() {
    let base = app().await;
    let res = client()
        .request(reqwest::Method::OPTIONS, format!("{base}/explicit-options"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("www-authenticate").is_none());
    assert_eq!(res.text().await.unwrap(), "options reached");
    let res = client()
        .request(
            reqwest::Method::OPTIONS,
            format!("{base}/options-authenticated"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], DEFAULT);
}

#[tokio::test]
async fn optional_with_bad_credentials_and_role_failure() {
    let base = app().await;
    let (s, _, body) = http_get(&format!("{base}/optional"), None).await;
    assert_eq!((s, body.as_str()), (200, "anonymous|missing credentials"));
    let (s, _, body) = http_get(&format!("{base}/optional"), Some(&basic("john", "bad"))).await;
    assert_eq!((s, body.as_str()), (200, "anonymous|invalid credentials"));
    let (s, _, body) = http_get(&format!("{base}/optional"), Some("Basic !!!")).await;
    assert_eq!((s, body.as_str()), (200, "anonymous|malformed credentials"));
    let (s, _, body) = http_get(&format!("{base}/optional"), Some(&basic("john", "hello"))).await;
    assert_eq!((s, body.as_str()), (200, "john|5|none"));
    // A failed role check on an optional route: the handler runs, with the user (as Flask) and
    // the error.
    let (s, _, body) = http_get(
        &format!("{base}/optional-admin"),
        Some(&basic("john", "hello")),
    )
    .await;
    assert_eq!((s, body.as_str()), (200, "john|5|insufficient role"));
}

#[tokio::test]
async fn roles_edge_cases() {
    let base = app().await;
    let john = basic("john", "hello");
    // A string is one role: "user" does not satisfy "admin"; empty any-of never matches.
    assert_eq!(http_get(&format!("{base}/admin"), Some(&john)).await.0, 403);
    assert_eq!(
        http_get(&format!("{base}/empty-any"), Some(&john)).await.0,
        403
    );
    assert_eq!(
        http_get(&format!("{base}/user-or-admin"), Some(&john))
            .await
            .0,
        200
    );
    // garçon has no roles at all.
    assert_eq!(
        http_get(
            &format!("{base}/user-or-admin"),
            Some(&basic("garçon", "áéíóú"))
        )
        .await
        .0,
        403
    );
    // Wrong password on a role route is 401, not 403: authentication comes first.
    let (s, ch, _) = http_get(&format!("{base}/admin"), Some(&basic("john", "nope"))).await;
    assert_eq!((s, ch), (401, vec![DEFAULT.to_owned()]));
}

#[tokio::test]
async fn realm_with_quotes_is_escaped() {
    // Deviation: Flask-HTTPAuth sends the realm unescaped (realm="R "q"").
    let auth = BasicAuth::verify_password_sync(|_, _| None::<()>).realm(r#"R "q" \ x"#);
    let base =
        serve(Router::new().route("/", get(|| async { "" }).route_layer(auth.login_required())))
            .await;
    let (_, ch, _) = http_get(&format!("{base}/"), None).await;
    assert_eq!(ch, [r#"Basic realm="R \"q\" \\ x""#]);
}

#[test]
fn realm_with_control_characters_is_refused() {
    let auth = BasicAuth::verify_password_sync(|_, _| None::<()>);
    assert!(auth.clone().try_realm("a\r\nSet-Cookie: x=1").is_err());
    assert!(auth.clone().try_realm("a\u{0}").is_err());
    assert!(auth.try_scheme("Bad Scheme").is_err());
}

#[tokio::test]
async fn custom_scheme_accepts_its_name_and_basic_and_charset() {
    let auth = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then_some(()))
        .scheme("CustomBasic")
        .realm("custom realm")
        .charset_utf8();
    let base = serve(Router::new().route(
        "/",
        get(|| async { "ok" }).route_layer(auth.login_required()),
    ))
    .await;
    let (s, ch, _) = http_get(&format!("{base}/"), None).await;
    assert_eq!(
        (s, ch),
        (
            401,
            vec![r#"CustomBasic realm="custom realm", charset="UTF-8""#.to_owned()]
        )
    );
    let token = basic("john", "hello")
        .trim_start_matches("Basic ")
        .to_owned();
    for scheme in ["CustomBasic", "custombasic", "Basic"] {
        assert_eq!(
            http_get(&format!("{base}/"), Some(&format!("{scheme} {token}")))
                .await
                .0,
            200
        );
    }
}

#[tokio::test]
async fn the_error_is_attached_to_the_response_and_handler_sees_it() {
    // The error handler gets the reason; a JSON body keeps the challenge.
    let auth = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then_some(()))
        .error_handler(|err: &AuthError| {
            let body = format!(
                r#"{{"error":"{}","status":{}}}"#,
                err.reason(),
                err.status().as_u16()
            );
            http::Response::builder()
                .status(err.status())
                .header("content-type", "application/json")
                .body(Bytes::from(body))
                .unwrap()
        });
    let base = serve(Router::new().route(
        "/",
        get(|| async { "ok" }).route_layer(auth.login_required()),
    ))
    .await;
    let cases = [
        (None, r#"{"error":"missing credentials","status":401}"#),
        (
            Some(basic("john", "x")),
            r#"{"error":"invalid credentials","status":401}"#,
        ),
        (
            Some("Basic %%%".to_owned()),
            r#"{"error":"malformed credentials","status":401}"#,
        ),
    ];
    for (auth_header, expected) in cases {
        let (s, ch, body) = http_get(&format!("{base}/"), auth_header.as_deref()).await;
        assert_eq!((s, ch.len(), body.as_str()), (401, 1, expected));
    }
}

#[tokio::test]
async fn the_error_is_in_the_rejection_extensions() {
    use tower::ServiceExt;
    let auth = BasicAuth::verify_password_sync(|_, _| None::<()>);
    let app: Router =
        Router::new().route("/", get(|| async { "" }).route_layer(auth.login_required()));
    let req = http::Request::get("/")
        .header("authorization", basic("alice", "s3cret-pw"))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    let err = res.extensions().get::<AuthError>().expect("error attached");
    assert_eq!(err.kind(), AuthErrorKind::InvalidCredentials);
    assert_eq!(err.scheme(), Some("Basic"));
    assert!(!format!("{err:?} {err}").contains("s3cret"));
}

#[tokio::test]
async fn unknown_paths_stay_404_with_route_layer() {
    let base = app().await;
    let (s, ch, _) = http_get(&format!("{base}/nope"), None).await;
    assert_eq!((s, ch.len()), (404, 0));
}

/// A `tracing` writer that keeps what it is given.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn refusals_are_traced_without_the_password() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // The server task runs on this (current-thread) runtime, so the thread default applies.
    let _guard = tracing::subscriber::set_default(subscriber);
    let base = app().await;
    let (s, _, _) = http_get(&format!("{base}/"), Some(&basic("john", "s3cret-pw"))).await;
    assert_eq!(s, 401);
    let (s, _, _) = http_get(&format!("{base}/admin"), Some(&basic("john", "hello"))).await;
    assert_eq!(s, 403);
    let (s, _, _) = http_get(&format!("{base}/"), Some("Basic !!!!")).await;
    assert_eq!(s, 401);
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("authentication refused"), "{log}");
    assert!(log.contains("invalid credentials"), "{log}");
    assert!(log.contains("insufficient role"), "{log}");
    assert!(log.contains("malformed credentials"), "{log}");
    assert!(log.contains("scheme=\"Basic\""), "{log}");
    assert!(
        !log.contains("s3cret"),
        "the password leaked into the log: {log}"
    );
    assert!(
        !log.contains("hello"),
        "the password leaked into the log: {log}"
    );
    assert!(
        !log.contains("am9obj"),
        "the credentials leaked into the log: {log}"
    );
}

/// A store that answers some credentials at once (like a cache hit) and awaits the others,
/// counting calls: `now` for ready answers, `slow` for awaited ones.
struct TwoSpeed {
    now: std::sync::atomic::AtomicUsize,
    slow: std::sync::atomic::AtomicUsize,
}

#[derive(Clone)]
struct Store(Arc<TwoSpeed>);

impl httpauth::VerifyPassword for Store {
    type User = String;

    fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> httpauth::scheme::AuthFuture<Result<Option<String>, httpauth::AuthError>> {
        use std::sync::atomic::Ordering::SeqCst;
        // "Cached": john:hello is answered at once; anything else waits.
        if username == "john" && password == "hello" {
            self.0.now.fetch_add(1, SeqCst);
            return httpauth::scheme::AuthFuture::ready(Ok(Some(username.to_owned())));
        }
        self.0.slow.fetch_add(1, SeqCst);
        let ok = username == "susan" && password == "bye";
        let username = username.to_owned();
        httpauth::scheme::AuthFuture::new(async move {
            tokio::task::yield_now().await;
            Ok(ok.then_some(username))
        })
    }
}

use std::sync::Arc;

#[tokio::test]
async fn fast_path_answers_at_once_and_nothing_runs_twice() {
    use std::sync::atomic::Ordering::SeqCst;
    let store = Arc::new(TwoSpeed {
        now: Default::default(),
        slow: Default::default(),
    });
    let role_calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = role_calls.clone();
    let auth = BasicAuth::verify_password(Store(store.clone())).user_roles(move |u: String| {
        // Counted when the callback is called, before its future runs.
        counter.fetch_add(1, SeqCst);
        async move {
            tokio::task::yield_now().await;
            if u == "john" {
                vec!["admin"]
            } else {
                vec![]
            }
        }
    });
    let base = serve(
        Router::new()
            .route(
                "/",
                get(|CurrentUser(u): CurrentUser<String>| async move { u })
                    .route_layer(auth.login_required()),
            )
            .route(
                "/admin",
                get(|| async { "admin" }).route_layer(auth.login_required().role("admin")),
            ),
    )
    .await;
    // Ready answer: the callback ran once and answered at once.
    assert_eq!(
        http_get(&format!("{base}/"), Some(&basic("john", "hello")))
            .await
            .2,
        "john"
    );
    assert_eq!((store.now.load(SeqCst), store.slow.load(SeqCst)), (1, 0));
    // Awaited answers: the callback runs exactly once per request.
    assert_eq!(
        http_get(&format!("{base}/"), Some(&basic("susan", "bye")))
            .await
            .2,
        "susan"
    );
    assert_eq!(
        http_get(&format!("{base}/"), Some(&basic("susan", "no")))
            .await
            .0,
        401
    );
    assert_eq!(store.slow.load(SeqCst), 2);
    // Authenticated at once, roles awaited: still one verification, the right answers.
    assert_eq!(
        http_get(&format!("{base}/admin"), Some(&basic("john", "hello")))
            .await
            .0,
        200
    );
    assert_eq!(
        http_get(&format!("{base}/admin"), Some(&basic("susan", "bye")))
            .await
            .0,
        403
    );
    assert_eq!(store.slow.load(SeqCst), 3);
    // ... and the async roles callback ran once per role-checked request.
    assert_eq!(role_calls.load(SeqCst), 2);
    // The callback ran once per request: 2 ready (john) + 3 awaited (susan).
    assert_eq!(store.now.load(SeqCst), 2);
}
