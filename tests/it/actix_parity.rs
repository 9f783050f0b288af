//! The same auth objects on axum and on actix-web, the same battery of requests over real HTTP
//! to both servers: every answer (status, challenges, body of rejections, content type, cache
//! control, the shape of `Authentication-Info`) must be the same; a Digest login on each gets an
//! `Authentication-Info` the Digest client verifies. Then real clients (curl --digest) against
//! the actix server.

use crate::{common, digest_client};

use actix_web::{web, App, HttpServer};
use axum::body::Bytes;
use axum::routing::get;
use axum::Router;
use common::basic;
use httpauth::digest::{Algorithm, DigestAuth};
use httpauth::{
    AuthError, BasicAuth, CurrentUser, MultiAuth, RoleRequirement, TokenAuth, Username,
};

#[derive(Clone)]
struct Auths {
    basic: BasicAuth<String>,
    custom: BasicAuth<String>,
    json: BasicAuth<String>,
    token: TokenAuth<String>,
    apikey: TokenAuth<String>,
    multi: MultiAuth<String>,
    digest: DigestAuth<String>,
    digest_sha256: DigestAuth<String>,
}

fn roles(user: &str) -> Vec<&'static str> {
    match user {
        "susan" => vec!["user", "admin"],
        "ana" => vec!["moderator", "contributor"],
        _ => vec!["user"],
    }
}

fn json_error(err: &AuthError) -> http::Response<Bytes> {
    http::Response::builder()
        .status(err.status())
        .header("content-type", "application/json")
        .body(Bytes::from(format!(
            r#"{{"error":"{}","status":{}}}"#,
            err.reason(),
            err.status().as_u16()
        )))
        .unwrap()
}

fn auths() -> Auths {
    let users = |u: &str, p: &str| {
        matches!(
            (u, p),
            ("john", "hello") | ("susan", "bye") | ("ana", "olá-ñ")
        )
        .then(|| u.to_owned())
    };
    let basic = BasicAuth::verify_password_sync(users).user_roles_sync(|u: &String| roles(u));
    let token = TokenAuth::verify_token_sync(|t| match t {
        "secret-token-1" => Some("john".to_owned()),
        "secret-token-2" => Some("susan".to_owned()),
        _ => None,
    })
    .user_roles_sync(|u: &String| roles(u));
    let password = |u: &str| match u {
        "john" => Some("hello".to_owned()),
        "susan" => Some("bye".to_owned()),
        _ => None,
    };
    Auths {
        custom: basic.clone().scheme("CustomBasic").realm("custom realm"),
        json: basic.clone().error_handler(json_error),
        apikey: token.clone().header("X-API-Key"),
        multi: MultiAuth::new(basic.clone()).or(token.clone()),
        digest: DigestAuth::get_password_sync(password).secret(&[7; 32]),
        digest_sha256: DigestAuth::get_password_sync(password)
            .algorithm(Algorithm::Sha256)
            .secret(&[7; 32]),
        basic,
        token,
    }
}

fn contrib() -> RoleRequirement {
    RoleRequirement::role("admin").or(RoleRequirement::all_of(["moderator", "contributor"]))
}

async fn axum_server(a: Auths) -> String {
    let hello = |CurrentUser(u): CurrentUser<String>| async move { format!("Hello, {u}!") };
    let optional = |u: Option<CurrentUser<String>>| async move {
        u.map_or("Hello, anonymous!".to_owned(), |u| {
            format!("Hello, {}!", u.0)
        })
    };
    let digest_hello = |Username(u): Username| async move { format!("Hello, {u}!") };
    let app = Router::new()
        .route("/public", get(|| async { "Hello, world!" }))
        .route("/basic", get(hello).route_layer(a.basic.login_required()))
        .route(
            "/basic-custom",
            get(hello).route_layer(a.custom.login_required()),
        )
        .route(
            "/admin",
            get(hello).route_layer(a.basic.login_required().role("admin")),
        )
        .route(
            "/staff",
            get(hello).route_layer(a.basic.login_required().any_role(["admin", "moderator"])),
        )
        .route(
            "/contrib",
            get(hello).route_layer(a.basic.login_required().role(contrib())),
        )
        .route(
            "/optional",
            get(optional).route_layer(a.basic.login_required().optional()),
        )
        .route(
            "/json-errors",
            get(hello).route_layer(a.json.login_required()),
        )
        .route("/token", get(hello).route_layer(a.token.login_required()))
        .route("/apikey", get(hello).route_layer(a.apikey.login_required()))
        .route("/multi", get(hello).route_layer(a.multi.login_required()))
        .route(
            "/digest",
            get(digest_hello).route_layer(a.digest.login_required()),
        )
        .route(
            "/digest-sha256",
            get(digest_hello).route_layer(a.digest_sha256.login_required()),
        )
        .route(
            "/digest-own-info",
            get(|| async { ([("authentication-info", "set by the handler")], "mine") })
                .route_layer(a.digest.login_required()),
        );
    common::serve(app).await
}

fn actix_server(a: Auths) -> String {
    async fn hello(CurrentUser(u): CurrentUser<String>) -> String {
        format!("Hello, {u}!")
    }
    async fn optional(u: Option<CurrentUser<String>>) -> String {
        u.map_or("Hello, anonymous!".to_owned(), |u| {
            format!("Hello, {}!", u.0)
        })
    }
    async fn digest_hello(Username(u): Username) -> String {
        format!("Hello, {u}!")
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                let a = a.clone();
                App::new()
                    .route("/public", web::get().to(|| async { "Hello, world!" }))
                    .service(
                        web::resource("/basic")
                            .wrap(a.basic.login_required())
                            .route(web::get().to(hello))
                            .route(web::head().to(hello)),
                    )
                    .service(
                        web::resource("/basic-custom")
                            .wrap(a.custom.login_required())
                            .route(web::get().to(hello))
                            .route(web::head().to(hello)),
                    )
                    .service(
                        web::resource("/admin")
                            .wrap(a.basic.login_required().role("admin"))
                            .route(web::get().to(hello))
                            .route(web::head().to(hello)),
                    )
                    .service(
                        web::resource("/staff")
                            .wrap(a.basic.login_required().any_role(["admin", "moderator"]))
                            .route(web::get().to(hello))
                            .route(web::head().to(hello)),
                    )
                    .service(
                        web::resource("/contrib")
                            .wrap(a.basic.login_required().role(contrib()))
                            .route(web::get().to(hello))
                            .route(web::head().to(hello)),
                    )
                    .service(
                        web::resource("/optional")
                            .wrap(a.basic.login_required().optional())
                            .route(web::get().to(optional))
                            .route(web::head().to(optional)),
                    )
                    .service(
                        web::resource("/json-errors")
                            .wrap(a.json.login_required())
                            .route(web::get().to(hello))
                            .route(web::head().to(hello)),
                    )
                    .service(
                        web::resource("/token")
                            .wrap(a.token.login_required())
                            .route(web::get().to(hello))
                            .route(web::head().to(hello)),
                    )
                    .service(
                        web::resource("/apikey")
                            .wrap(a.apikey.login_required())
                            .route(web::get().to(hello))
                            .route(web::head().to(hello)),
                    )
                    .service(
                        web::resource("/multi")
                            .wrap(a.multi.login_required())
                            .route(web::get().to(hello))
                            .route(web::head().to(hello)),
                    )
                    .service(
                        web::resource("/digest")
                            .wrap(a.digest.login_required())
                            .route(web::get().to(digest_hello))
                            .route(web::head().to(digest_hello)),
                    )
                    .service(
                        web::resource("/digest-sha256")
                            .wrap(a.digest_sha256.login_required())
                            .route(web::get().to(digest_hello))
                            .route(web::head().to(digest_hello)),
                    )
                    .service(
                        web::resource("/digest-own-info")
                            .wrap(a.digest.login_required())
                            .route(web::get().to(|| async {
                                actix_web::HttpResponse::Ok()
                                    .insert_header(("authentication-info", "set by the handler"))
                                    .body("mine")
                            })),
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
    format!("http://{addr}")
}

/// (method, path, headers) of one request of the battery.
type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a [u8])>);

/// What must be equal between the two frameworks.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    challenges: Vec<String>,
    body: String,
    content_type: Option<String>,
    cache_control: Option<String>,
    /// Its shape: `rspauth` hex replaced (the values are checked by the Digest client).
    authentication_info: Vec<String>,
}

/// Digest nonces and opaques are fresh per response: compare their shape, not their value.
fn normalize(challenge: &str) -> String {
    let mut out = String::new();
    let mut rest = challenge;
    while let Some(i) = rest.find("nonce=\"").or_else(|| rest.find("opaque=\"")) {
        let key_len = if rest[i..].starts_with("nonce") { 7 } else { 8 };
        out.push_str(&rest[..i + key_len]);
        let after = &rest[i + key_len..];
        let end = after.find('"').unwrap_or(after.len());
        out.push_str(if after[..end].bytes().all(|b| b.is_ascii_hexdigit()) {
            "<hex>"
        } else {
            "<?>"
        });
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// `Authentication-Info` with its hashes and nonces replaced by their shape.
fn normalize_info(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest
        .find("rspauth=\"")
        .or_else(|| rest.find("nextnonce=\""))
    {
        let key_len = rest[i..].find('"').unwrap_or(0) + 1;
        out.push_str(&rest[..i + key_len]);
        let after = &rest[i + key_len..];
        let end = after.find('"').unwrap_or(after.len());
        out.push_str(if after[..end].bytes().all(|b| b.is_ascii_hexdigit()) {
            "<hex>"
        } else {
            "<?>"
        });
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

async fn ask(base: &str, method: &str, path: &str, headers: &[(&str, &[u8])]) -> Answer {
    let mut req = common::client().request(method.parse().unwrap(), format!("{base}{path}"));
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        map.append(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            reqwest::header::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    req = req.headers(map);
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let header = |n: &str| {
        res.headers()
            .get(n)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let challenges = res
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| normalize(&String::from_utf8_lossy(v.as_bytes())))
        .collect();
    let content_type = if status >= 400 {
        header("content-type")
    } else {
        None
    };
    let cache_control = header("cache-control");
    let authentication_info = res
        .headers()
        .get_all("authentication-info")
        .iter()
        .map(|v| normalize_info(&String::from_utf8_lossy(v.as_bytes())))
        .collect();
    Answer {
        status,
        challenges,
        body: res.text().await.unwrap(),
        content_type,
        cache_control,
        authentication_info,
    }
}

#[tokio::test]
async fn axum_and_actix_answer_alike() {
    let a = auths();
    let axum = axum_server(a.clone()).await;
    let actix = actix_server(a);
    let john = basic("john", "hello");
    let susan = basic("susan", "bye");
    let ana = basic("ana", "olá-ñ");
    let wrong = basic("john", "nope");
    let custom = john.replace("Basic", "CustomBasic");
    let cases: Vec<Case<'_>> = vec![
        ("GET", "/public", vec![]),
        ("GET", "/basic", vec![]),
        ("GET", "/basic", vec![("authorization", john.as_bytes())]),
        ("GET", "/basic", vec![("authorization", ana.as_bytes())]),
        ("GET", "/basic", vec![("authorization", wrong.as_bytes())]),
        ("GET", "/basic", vec![("authorization", b"Basic !!!")]),
        (
            "GET",
            "/basic",
            vec![("authorization", b"Bearer am9objpoZWxsbw==")],
        ),
        ("GET", "/basic", vec![("authorization", b"Basic \xff\xfe")]),
        (
            "GET",
            "/basic",
            vec![
                ("authorization", john.as_bytes()),
                ("authorization", john.as_bytes()),
            ],
        ),
        ("HEAD", "/basic", vec![]),
        ("OPTIONS", "/basic", vec![]),
        ("GET", "/basic-custom", vec![]),
        (
            "GET",
            "/basic-custom",
            vec![("authorization", custom.as_bytes())],
        ),
        ("GET", "/admin", vec![("authorization", john.as_bytes())]),
        ("GET", "/admin", vec![("authorization", susan.as_bytes())]),
        ("GET", "/staff", vec![("authorization", ana.as_bytes())]),
        ("GET", "/contrib", vec![("authorization", ana.as_bytes())]),
        ("GET", "/contrib", vec![("authorization", john.as_bytes())]),
        ("GET", "/optional", vec![]),
        (
            "GET",
            "/optional",
            vec![("authorization", wrong.as_bytes())],
        ),
        ("GET", "/optional", vec![("authorization", john.as_bytes())]),
        ("GET", "/json-errors", vec![]),
        (
            "GET",
            "/json-errors",
            vec![("authorization", wrong.as_bytes())],
        ),
        (
            "GET",
            "/token",
            vec![("authorization", b"Bearer secret-token-1")],
        ),
        (
            "GET",
            "/token",
            vec![("authorization", b"bearer secret-token-2")],
        ),
        ("GET", "/token", vec![("authorization", b"Bearer nope")]),
        ("GET", "/token", vec![("authorization", b"Bearer a b")]),
        ("GET", "/apikey", vec![("x-api-key", b"secret-token-2")]),
        ("GET", "/apikey", vec![("x-api-key", b"nope")]),
        (
            "GET",
            "/apikey",
            vec![("authorization", b"Bearer secret-token-2")],
        ),
        ("GET", "/multi", vec![]),
        ("GET", "/multi", vec![("authorization", john.as_bytes())]),
        (
            "GET",
            "/multi",
            vec![("authorization", b"Bearer secret-token-2")],
        ),
        ("GET", "/multi", vec![("authorization", b"Bearer nope")]),
        ("GET", "/multi", vec![("authorization", b"Foo bar")]),
        ("GET", "/digest", vec![]),
        ("GET", "/digest-sha256", vec![]),
        (
            "GET",
            "/digest",
            vec![("authorization", b"Digest username=\"john\"")],
        ),
        (
            "GET",
            "/digest",
            vec![("authorization", b"Digest a=1, a=2")],
        ),
    ];
    for (method, path, headers) in &cases {
        let on_axum = ask(&axum, method, path, headers).await;
        let on_actix = ask(&actix, method, path, headers).await;
        assert_eq!(on_axum, on_actix, "{method} {path} {headers:?}");
    }
    // The battery is not vacuous: it covers 200, 400, 401 and 403.
    let mut statuses = Vec::new();
    for (method, path, headers) in &cases {
        statuses.push(ask(&actix, method, path, headers).await.status);
    }
    for status in [200, 400, 401, 403] {
        assert!(statuses.contains(&status), "no {status} in the battery");
    }
}

#[tokio::test]
async fn real_digest_clients_against_actix() {
    let actix = actix_server(auths());
    for path in ["/digest", "/digest-sha256"] {
        let url = format!("{actix}{path}");
        let (status, body) = digest_client::curl_digest(&url, "john", "hello", &[]).await;
        assert_eq!((status, body.as_str()), (200, "Hello, john!"), "{path}");
        let (status, _) = digest_client::curl_digest(&url, "john", "wrong", &[]).await;
        assert_eq!(status, 401, "{path}");
    }
}

#[tokio::test]
async fn authentication_info_alike() {
    let a = auths();
    let axum = axum_server(a.clone()).await;
    let actix = actix_server(a);
    let mut shapes = Vec::new();
    for base in [&axum, &actix] {
        for (path, algorithm) in [
            ("/digest", Algorithm::Md5),
            ("/digest-sha256", Algorithm::Sha256),
        ] {
            let url = format!("{base}{path}");
            let (_, ch) = digest_client::challenge(&url).await;
            let john = digest_client::Client::new("john", "hello", path).algorithm(algorithm);
            for nc in ["00000001", "00000002"] {
                let auth = john.answer(&ch, nc);
                let (status, info, body) =
                    digest_client::send("GET", &url, &[("authorization", &auth)], b"").await;
                assert_eq!((status, body.as_str()), (200, "Hello, john!"), "{url}");
                assert_eq!(info.len(), 1, "{url}: {info:?}");
                john.check_authentication_info(&info[0], &ch["nonce"], nc)
                    .unwrap_or_else(|e| panic!("{url}: {e}"));
                shapes.push(normalize_info(&info[0]));
            }
            // Refused: a replay, a wrong password.
            let replay = john.answer(&ch, "00000001");
            let wrong = digest_client::Client::new("john", "nope", path)
                .algorithm(algorithm)
                .answer(&ch, "00000003");
            for auth in [replay, wrong] {
                let (status, info, _) =
                    digest_client::send("GET", &url, &[("authorization", &auth)], b"").await;
                assert_eq!((status, info.len()), (401, 0), "{url}: {info:?}");
            }
        }
        // The handler's own header wins.
        let url = format!("{base}/digest-own-info");
        let (_, ch) = digest_client::challenge(&url).await;
        let auth =
            digest_client::Client::new("john", "hello", "/digest-own-info").answer(&ch, "00000001");
        let (status, info, body) =
            digest_client::send("GET", &url, &[("authorization", &auth)], b"").await;
        assert_eq!((status, body.as_str()), (200, "mine"), "{url}");
        assert_eq!(info, ["set by the handler"], "{url}");
    }
    // The same shape on both (rspauth, qop, nc, cnonce, in that order).
    let (on_axum, on_actix) = shapes.split_at(shapes.len() / 2);
    assert_eq!(on_axum, on_actix);
    assert_eq!(
        on_axum[0],
        r#"rspauth="<hex>", qop=auth, nc=00000001, cnonce="0a4f113b""#
    );
}
