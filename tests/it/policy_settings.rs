//! Settings owned by the route's policy, over real HTTP: a `MultiAuth`'s roles callback and
//! error handler serve every member without its own (a member's own setting still wins);
//! handlers written with the framework's own types; `try_` setters instead of panics;
//! `MissingAuthLayer` naming the type asked for and the one the route has; `AuthError` as an
//! axum response.

use axum::routing::get;
use axum::{Json, Router};
use httpauth::{
    AuthError, BasicAuth, ConfigError, CurrentUser, DigestAuth, IntoResponseHandler, MultiAuth,
    TokenAuth, Username,
};

use crate::common::{basic, get as http_get, serve};

fn basic_auth() -> BasicAuth<String> {
    BasicAuth::verify_password_sync(|u, p| {
        matches!((u, p), ("john", "hello") | ("susan", "bye")).then(|| u.to_owned())
    })
}

fn token_auth() -> TokenAuth<String> {
    TokenAuth::verify_token_sync(|t| match t {
        "t-john" => Some("john".to_owned()),
        "t-susan" => Some("susan".to_owned()),
        _ => None,
    })
}

fn json_error(err: &AuthError) -> (http::StatusCode, Json<serde_json::Value>) {
    let status = err.status();
    (
        status,
        Json(serde_json::json!({ "error": status.canonical_reason(), "status": status.as_u16() })),
    )
}

async fn hello(CurrentUser(user): CurrentUser<String>) -> String {
    format!("Hello, {user}!")
}

#[tokio::test]
async fn multi_auth_roles_and_error_handler_serve_every_member() {
    // Set once on the MultiAuth: no member has its own.
    let multi = MultiAuth::new(basic_auth())
        .or(token_auth())
        .user_roles_sync(|user: &String| if user == "susan" { "admin" } else { "user" })
        .error_handler(IntoResponseHandler(json_error));
    let base = serve(
        Router::new()
            .route("/", get(hello).route_layer(multi.login_required()))
            .route(
                "/admin",
                get(hello).route_layer(multi.login_required().role("admin")),
            ),
    )
    .await;
    let json = |status: u16, reason: &str| {
        serde_json::json!({ "error": reason, "status": status }).to_string()
    };
    // Both members answer wrong credentials with the route's JSON, each with its challenge.
    let (s, c, body) = http_get(&format!("{base}/"), Some(&basic("john", "no"))).await;
    assert_eq!((s, body), (401, json(401, "Unauthorized")));
    assert_eq!(c, [r#"Basic realm="Authentication Required""#]);
    let (s, c, body) = http_get(&format!("{base}/"), Some("Bearer nope")).await;
    assert_eq!((s, body), (401, json(401, "Unauthorized")));
    assert_eq!(c, [r#"Bearer realm="Authentication Required""#]);
    // No credentials: the route's handler, every challenge.
    let (s, c, body) = http_get(&format!("{base}/"), None).await;
    assert_eq!((s, body), (401, json(401, "Unauthorized")));
    assert_eq!(c.len(), 2);
    // The route's roles callback serves both members.
    let (s, _, body) = http_get(&format!("{base}/admin"), Some(&basic("susan", "bye"))).await;
    assert_eq!((s, body.as_str()), (200, "Hello, susan!"));
    let (s, _, body) = http_get(&format!("{base}/admin"), Some("Bearer t-susan")).await;
    assert_eq!((s, body.as_str()), (200, "Hello, susan!"));
    let (s, _, body) = http_get(&format!("{base}/admin"), Some("Bearer t-john")).await;
    assert_eq!((s, body), (403, json(403, "Forbidden")));
}

#[tokio::test]
async fn a_members_own_settings_win() {
    // The token member keeps its own roles and its own plain-text handler (Flask-HTTPAuth
    // style); the MultiAuth's serve the Basic member.
    let token = token_auth()
        .user_roles_sync(|_user: &String| "admin")
        .error_handler(|_err: &AuthError| {
            http::Response::builder()
                .status(401)
                .body("token says no")
                .unwrap()
        });
    let multi = MultiAuth::new(basic_auth())
        .or(token)
        .user_roles_sync(|_user: &String| "user")
        .error_handler(IntoResponseHandler(json_error));
    let base = serve(Router::new().route(
        "/admin",
        get(hello).route_layer(multi.login_required().role("admin")),
    ))
    .await;
    let (s, _, _) = http_get(&format!("{base}/admin"), Some(&basic("susan", "bye"))).await;
    assert_eq!(s, 403, "the route's roles: susan is a user there");
    let (s, _, body) = http_get(&format!("{base}/admin"), Some("Bearer t-john")).await;
    assert_eq!(
        (s, body.as_str()),
        (200, "Hello, john!"),
        "the token's own roles"
    );
    let (s, c, body) = http_get(&format!("{base}/admin"), Some("Bearer nope")).await;
    assert_eq!((s, body.as_str()), (401, "token says no"));
    assert_eq!(c, [r#"Bearer realm="Authentication Required""#]);
    let (s, _, body) = http_get(&format!("{base}/admin"), Some(&basic("john", "no"))).await;
    assert_eq!(s, 401);
    assert!(body.starts_with("{\"error\""), "{body}");
}

#[test]
fn try_setters_return_config_errors() {
    // A role route without any roles callback.
    let err = basic_auth().login_required().try_role("admin").unwrap_err();
    assert!(matches!(err, ConfigError::MissingUserRoles { .. }), "{err}");
    // ... but the MultiAuth's callback is enough.
    let multi = MultiAuth::new(basic_auth())
        .or(token_auth())
        .user_roles_sync(|_: &String| "admin");
    assert!(multi.login_required().try_role("admin").is_ok());
    // A member with none while the route has none either.
    let multi = MultiAuth::new(basic_auth().user_roles_sync(|_: &String| "admin")).or(token_auth());
    let err = multi.login_required().try_role("admin").unwrap_err();
    assert_eq!(
        err,
        ConfigError::MissingUserRoles {
            scheme: "Bearer".to_owned()
        }
    );
    assert!(matches!(
        basic_auth().try_realm("a\r\nb"),
        Err(ConfigError::ControlCharacter { param: "realm" })
    ));
    assert!(matches!(
        basic_auth().try_scheme("two words"),
        Err(ConfigError::NotAToken { .. })
    ));
    assert!(matches!(
        token_auth().try_header("bad header"),
        Err(ConfigError::InvalidHeaderName { .. })
    ));
    assert!(matches!(
        token_auth().try_scope("a\"b"),
        Err(ConfigError::Invalid {
            setting: "scope",
            ..
        })
    ));
    assert!(matches!(
        DigestAuth::get_password_sync(|_| None).try_secret(b"short"),
        Err(ConfigError::Invalid { .. })
    ));
    assert!(matches!(
        basic_auth().try_scheme("Custom").map(|a| a.realm_name().to_owned()),
        Ok(realm) if realm == "Authentication Required"
    ));
    assert!(BasicAuth::get_password_sync(|_| None)
        .try_hash_password(|p| p.to_owned())
        .is_ok());
    // hash_password on an auth without get_password: an error, not a panic.
    assert!(matches!(
        basic_auth().try_hash_password(|p| p.to_owned()),
        Err(ConfigError::Invalid {
            setting: "hash_password",
            ..
        })
    ));
}

#[tokio::test]
async fn missing_auth_layer_names_the_types() {
    let auth = basic_auth();
    let token = token_auth();
    let base = serve(
        Router::new()
            // Asks for another user type than the layer's.
            .route(
                "/wrong-type",
                get(|CurrentUser(n): CurrentUser<u64>| async move { n.to_string() })
                    .route_layer(auth.login_required()),
            )
            // Asks for a username on a token route.
            .route(
                "/no-username",
                get(|Username(n): Username| async move { n }).route_layer(token.login_required()),
            )
            // No layer at all.
            .route("/bare", get(hello)),
    )
    .await;
    for (path, creds) in [
        ("wrong-type", basic("john", "hello")),
        ("no-username", "Bearer t-john".to_owned()),
        ("bare", basic("john", "hello")),
    ] {
        let (s, _, body) = http_get(&format!("{base}/{path}"), Some(&creds)).await;
        assert_eq!(s, 500, "{path}");
        assert_eq!(body, MISSING[path], "{path}");
    }
}

/// What a handler asking for the wrong thing answers, by route: the 500's body.
static MISSING: std::sync::LazyLock<std::collections::HashMap<&str, &str>> =
    std::sync::LazyLock::new(|| {
        std::collections::HashMap::from([
            (
                "wrong-type",
                "the handler asked for CurrentUser<u64>, but the route's httpauth layer \
                 authenticates CurrentUser<alloc::string::String>",
            ),
            (
                "no-username",
                "the handler asked for the Username, but the request was authenticated by a \
                 scheme without usernames (user type alloc::string::String)",
            ),
            (
                "bare",
                "the handler asked for CurrentUser<alloc::string::String>, but no httpauth \
                 layer authenticated this request: none protects the route, or it is optional or an OPTIONS \
                 request (use Option<CurrentUser<U>>)",
            ),
        ])
    });

/// The same diagnostics from actix-web's extractors, over real HTTP.
#[cfg(feature = "actix")]
#[tokio::test]
async fn missing_auth_layer_names_the_types_on_actix() {
    use actix_web::{web, App, HttpServer};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let (auth, token) = (basic_auth(), token_auth());
            let server = HttpServer::new(move || {
                App::new()
                    .service(
                        web::resource("/wrong-type")
                            .wrap(auth.login_required())
                            .to(|CurrentUser(n): CurrentUser<u64>| async move { n.to_string() }),
                    )
                    .service(
                        web::resource("/no-username")
                            .wrap(token.login_required())
                            .to(|Username(n): Username| async move { n }),
                    )
                    .route("/bare", web::get().to(hello))
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
            tx.send(server.handle()).unwrap();
            server.await.unwrap();
        });
    });
    let handle = rx.recv().unwrap();
    for (path, creds) in [
        ("wrong-type", basic("john", "hello")),
        ("no-username", "Bearer t-john".to_owned()),
        ("bare", basic("john", "hello")),
    ] {
        let (s, _, body) = http_get(&format!("{base}/{path}"), Some(&creds)).await;
        assert_eq!(s, 500, "{path}");
        assert_eq!(body, MISSING[path], "{path}");
    }
    handle.stop(false).await;
}

#[test]
fn missing_auth_layer_messages() {
    use axum::extract::FromRequestParts;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let auth = basic_auth();
    let policy = auth.login_required();
    // Authenticate a request through the layer, then ask the extractors for other things.
    let svc = tower::ServiceBuilder::new().layer(policy).service_fn(
        |req: http::Request<axum::body::Body>| async move {
            let (mut parts, _) = req.into_parts();
            let wrong = CurrentUser::<u64>::from_request_parts(&mut parts, &())
                .await
                .unwrap_err()
                .to_string();
            let right = CurrentUser::<String>::from_request_parts(&mut parts, &())
                .await
                .unwrap()
                .0;
            Ok::<_, std::convert::Infallible>(http::Response::new(axum::body::Body::from(format!(
                "{wrong}|{right}"
            ))))
        },
    );
    let req = http::Request::get("/")
        .header("authorization", basic("john", "hello"))
        .body(axum::body::Body::empty())
        .unwrap();
    let body = rt.block_on(async {
        use tower::ServiceExt;
        let res = svc.oneshot(req).await.unwrap();
        let bytes = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    });
    let (wrong, right) = body.split_once('|').unwrap();
    assert_eq!(right, "john");
    assert!(wrong.contains("CurrentUser<u64>"), "{wrong}");
    assert!(
        wrong.contains("CurrentUser<alloc::string::String>"),
        "{wrong}"
    );
    // Without any layer: says so.
    let (mut parts, ()) = http::Request::get("/").body(()).unwrap().into_parts();
    let err = rt
        .block_on(Username::from_request_parts(&mut parts, &()))
        .unwrap_err();
    assert!(err.to_string().contains("no httpauth layer"), "{err}");
    assert_eq!(err.found(), None);
}

#[tokio::test]
async fn auth_error_is_an_axum_response() {
    let base = serve(Router::new().route(
        "/",
        get(|| async { Err::<String, _>(AuthError::new(httpauth::AuthErrorKind::Forbidden)) }),
    ))
    .await;
    let (s, _, body) = http_get(&format!("{base}/"), None).await;
    assert_eq!((s, body.as_str()), (403, "Unauthorized Access"));
}
