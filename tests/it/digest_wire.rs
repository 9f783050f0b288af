//! Digest over real HTTP with hand-built headers: replays, expiry and `stale=true`, tampered
//! nonces and opaques, wrong `uri`/realm/algorithm/qop, each missing field, broken auth-param
//! lists, `auth-int` bodies, and Digest in the shared pipeline (roles, optional, custom errors,
//! several schemes on one route). Every refusal is a 400/401/413 with a challenge; none is a
//! 500.

use crate::{common, digest_client};

use std::time::Duration;

use axum::body::Bytes;
use axum::routing::{get, post};
use axum::Router;
use httpauth::digest::{Algorithm, DigestAuth, Qop};
use httpauth::{AuthError, BasicAuth, CurrentUser, MultiAuth, Username};

use common::{client, get as http_get, raw_get, raw_request, raw_status, serve};
use digest_client::{challenge, join, parse_challenge, Client};

async fn hello(Username(name): Username) -> String {
    format!("Hello, {name}!")
}

fn password(username: &str) -> Option<String> {
    match username {
        "john" => Some("hello".to_owned()),
        "susan" => Some("bye".to_owned()),
        _ => None,
    }
}

fn auth() -> DigestAuth<String> {
    DigestAuth::get_password_sync(password)
}

async fn serve_auth(auth: DigestAuth<String>) -> String {
    serve(Router::new().route("/digest", get(hello).route_layer(auth.login_required()))).await
}

fn is_stale(lines: &[String]) -> bool {
    lines
        .first()
        .is_some_and(|l| parse_challenge(l).get("stale").map(String::as_str) == Some("true"))
}

#[tokio::test]
async fn nonce_reuse_with_increasing_nc_and_replays() {
    let base = serve_auth(auth()).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let c = Client::new("john", "hello", "/digest");
    for nc in ["00000001", "00000002", "00000003"] {
        let (s, _, body) = http_get(&url, Some(&c.answer(&ch, nc))).await;
        assert_eq!((s, body.as_str()), (200, "Hello, john!"), "{nc}");
    }
    // The same header again: a replay.
    let (s, lines, _) = http_get(&url, Some(&c.answer(&ch, "00000002"))).await;
    assert_eq!(s, 401);
    assert!(is_stale(&lines), "{lines:?}");
    // A late count never used (Chrome's concurrent requests): accepted once.
    let (s, _, _) = http_get(&url, Some(&c.answer(&ch, "00000006"))).await;
    assert_eq!(s, 200);
    let (s, _, _) = http_get(&url, Some(&c.answer(&ch, "00000005"))).await;
    assert_eq!(s, 200);
    let (s, _, _) = http_get(&url, Some(&c.answer(&ch, "00000005"))).await;
    assert_eq!(s, 401);
    // Far below the highest count: refused.
    let (s, _, _) = http_get(&url, Some(&c.answer(&ch, "00000100"))).await;
    assert_eq!(s, 200);
    let (s, lines, _) = http_get(&url, Some(&c.answer(&ch, "00000004"))).await;
    assert_eq!(s, 401);
    assert!(is_stale(&lines));
    // The stale challenge carries a new nonce that works at once.
    let fresh = parse_challenge(&lines[0]);
    assert_ne!(fresh["nonce"], ch["nonce"]);
    let (s, _, _) = http_get(&url, Some(&c.answer(&fresh, "00000001"))).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn concurrent_out_of_order_counts_each_accepted_once() {
    let base = serve_auth(auth()).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let c = Client::new("susan", "bye", "/digest");
    let mut tasks = Vec::new();
    for nc in (1..=40_u32).rev() {
        let (url, header) = (url.clone(), c.answer(&ch, &format!("{nc:08x}")));
        tasks.push(tokio::spawn(async move {
            // Each count twice, at the same time.
            let (a, b) = tokio::join!(http_get(&url, Some(&header)), http_get(&url, Some(&header)));
            (a.0, b.0)
        }));
    }
    for t in tasks {
        let (a, b) = t.await.unwrap();
        let mut pair = [a, b];
        pair.sort_unstable();
        assert_eq!(pair, [200, 401]);
    }
}

#[tokio::test]
async fn expired_nonce_gets_stale_only_with_the_right_password() {
    let base = serve_auth(auth().nonce_lifetime(Duration::from_millis(300))).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let c = Client::new("john", "hello", "/digest");
    let (s, _, _) = http_get(&url, Some(&c.answer(&ch, "00000001"))).await;
    assert_eq!(s, 200);
    tokio::time::sleep(Duration::from_millis(450)).await;
    let (s, lines, _) = http_get(&url, Some(&c.answer(&ch, "00000002"))).await;
    assert_eq!(s, 401);
    assert!(is_stale(&lines), "{lines:?}");
    let wrong = Client::new("john", "nope", "/digest");
    let (s, lines, _) = http_get(&url, Some(&wrong.answer(&ch, "00000003"))).await;
    assert_eq!(s, 401);
    assert!(!is_stale(&lines), "{lines:?}");
    let stranger = Client::new("mallory", "hello", "/digest");
    let (s, lines, _) = http_get(&url, Some(&stranger.answer(&ch, "00000003"))).await;
    assert_eq!(s, 401);
    assert!(!is_stale(&lines));
}

#[tokio::test]
async fn tampered_and_foreign_nonces_and_opaques() {
    let base = serve_auth(auth()).await;
    let other = serve_auth(auth()).await; // same code, another random key
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let (_, foreign) = challenge(&format!("{other}/digest")).await;
    let c = Client::new("john", "hello", "/digest");
    let flip = |s: &str, i: usize| {
        let mut b = s.as_bytes().to_vec();
        b[i] = if b[i] == b'0' { b'1' } else { b'0' };
        String::from_utf8(b).unwrap()
    };
    let (nonce, opaque) = (ch["nonce"].clone(), ch["opaque"].clone());
    let cases = [
        // The response is computed for the tampered value, as an attacker would.
        (flip(&nonce, 3), opaque.clone()),  // timestamp
        (flip(&nonce, 30), opaque.clone()), // random part
        (flip(&nonce, 70), opaque.clone()), // tag
        (nonce.clone(), flip(&opaque, 0)),
        (nonce.clone(), String::new()),
        (nonce.clone(), foreign["opaque"].clone()),
        (format!("{nonce}00"), opaque.clone()),
        (
            "dcd98b7102dd2f0e8b11d0f600bfb0c093".to_owned(),
            opaque.clone(),
        ),
    ];
    for (n, o) in cases {
        let (s, lines, _) = http_get(&url, Some(&c.header(&n, &o, "00000001"))).await;
        assert_eq!(s, 401, "{n} {o}");
        assert!(!is_stale(&lines), "{n} {o}");
    }
    // A nonce of another key (another server's, a restart's, a removed secret's): stale, so
    // the client retries with the fresh nonce without asking its user.
    let (s, lines, _) = http_get(&url, Some(&c.answer(&foreign, "00000001"))).await;
    assert_eq!((s, is_stale(&lines)), (401, true));
    // Untouched, it still works (the refusals used up nothing).
    let (s, _, _) = http_get(&url, Some(&c.answer(&ch, "00000001"))).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn uri_must_be_the_request_target() {
    let base = serve_auth(auth()).await;
    let (_, ch) = challenge(&format!("{base}/digest")).await;
    for (i, (uri, path, status)) in [
        ("/other", "/digest", 400),
        ("/digest", "/digest?a=1", 400),
        ("/digest?a=2", "/digest?a=1", 400),
        ("/digest?a=1", "/digest?a=1", 200),
        ("/digest/", "/digest", 400),
        ("*", "/digest", 400),
        ("//digest", "/digest", 400),
    ]
    .into_iter()
    .enumerate()
    {
        let c = Client::new("john", "hello", uri);
        let nc = format!("{:08x}", i + 1);
        let (s, lines, body) = http_get(&format!("{base}{path}"), Some(&c.answer(&ch, &nc))).await;
        assert_eq!(s, status, "uri {uri} on {path}");
        if status == 400 {
            assert_eq!(lines.len(), 1, "uri {uri} on {path}");
            assert_eq!(body, "Bad Request");
        }
    }
    // An absolute uri naming this server is the same resource.
    let host = base.trim_start_matches("http://");
    let c = Client::new("john", "hello", &format!("http://{host}/digest"));
    let (s, _, _) = http_get(&format!("{base}/digest"), Some(&c.answer(&ch, "00000050"))).await;
    assert_eq!(s, 200);
    let c = Client::new("john", "hello", "http://elsewhere.example/digest");
    let (s, _, _) = http_get(&format!("{base}/digest"), Some(&c.answer(&ch, "00000051"))).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn realm_algorithm_and_qop_must_be_the_offered_ones() {
    let base = serve_auth(auth().algorithm(Algorithm::Sha256)).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let sha = Client::new("john", "hello", "/digest").algorithm(Algorithm::Sha256);
    let cases = [
        (sha.clone(), 200),
        (sha.clone().realm("Other Realm"), 401),
        (sha.clone().algorithm(Algorithm::Md5), 401),
        (sha.clone().algorithm(Algorithm::Sha256Sess), 401),
        (sha.clone().qop(None), 401), // downgrade to RFC 2069
        (sha.clone().qop(Some("auth-int")), 401), // not offered
    ];
    for (i, (c, status)) in cases.into_iter().enumerate() {
        let (s, _, _) = http_get(&url, Some(&c.answer(&ch, &format!("{:08x}", i + 1)))).await;
        assert_eq!(s, status, "{c:?}");
    }
    // The client's realm parameter says "Other Realm" but the response was computed with the
    // right one: refused as well (the realm must be the one offered).
    let mut params = sha.params(&ch["nonce"], &ch["opaque"], "00000010");
    params[1].1 = "\"Other Realm\"".to_owned();
    let (s, _, _) = http_get(&url, Some(&join(&params))).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn each_missing_field_is_401() {
    let base = serve_auth(auth()).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let c = Client::new("john", "hello", "/digest");
    let full = c.params(&ch["nonce"], &ch["opaque"], "00000001");
    for name in [
        "username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce", "opaque",
    ] {
        let without: Vec<_> = full.iter().filter(|(k, _)| k != name).cloned().collect();
        let (s, lines, body) = http_get(&url, Some(&join(&without))).await;
        assert_eq!(
            (s, body.as_str()),
            (401, "Unauthorized Access"),
            "without {name}"
        );
        assert_eq!(lines.len(), 1, "without {name}");
    }
    // Empty values.
    for name in ["username", "nonce", "uri", "response", "cnonce"] {
        let emptied: Vec<_> = full
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    if k == name {
                        "\"\"".to_owned()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect();
        let (s, _, _) = http_get(&url, Some(&join(&emptied))).await;
        assert_eq!(s, 401, "empty {name}");
    }
    // None of this used the nonce up.
    let (s, _, _) = http_get(&url, Some(&join(&full))).await;
    assert_eq!(s, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_auth_param_lists_are_401() {
    let base = serve_auth(auth()).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let c = Client::new("john", "hello", "/digest");
    let good = c.answer(&ch, "00000001");
    let cases = [
        // Duplicated parameters (RFC 9110: each name once), also differing in case.
        format!("{good}, response=\"00000000000000000000000000000000\""),
        format!("{good}, Username=\"susan\""),
        good.replacen("realm=", "realm=\"x\", realm=", 1),
        // A parameter without "=" (Apache CVE-2017-9788).
        good.replacen(", realm=", ", stray, realm=", 1),
        format!("{good}, trailing"),
        "Digest username".to_owned(),
        "Digest username=".to_owned(),
        // Unterminated quoted strings.
        good.replacen("\"/digest\"", "\"/digest", 1),
        format!("{good}, opaque2=\"abc"),
        "Digest username=\"john".to_owned(),
        "Digest username=\"john\\".to_owned(),
        // Junk.
        "Digest ,,,".to_owned(),
        "Digest =x".to_owned(),
        "Digest username=\"john\" realm=\"x\"".to_owned(),
        "Digest am9objpoZWxsbw==".to_owned(),
        "Digest".to_owned(),
        good.replace("nc=00000001", "nc=\"1\""),
        good.replace("algorithm=MD5", "algorithm=SHA-1"),
        good.replace("qop=auth", "qop=auth,auth-int"),
        format!("{good}, username*=UTF-8''john"),
        format!("{good}, userhash=true"),
    ];
    for h in &cases {
        let (s, lines, body) = http_get(&url, Some(h)).await;
        assert_eq!((s, body.as_str()), (401, "Unauthorized Access"), "{h}");
        assert_eq!(lines.len(), 1, "{h}");
    }
    // Bytes no client library sends: non-UTF-8, control characters, a huge value.
    for raw in [
        b"Authorization: Digest username=\"j\xffhn\", realm=\"x\"".to_vec(),
        b"Authorization: Digest username=\"jo\x01hn\"".to_vec(),
        format!("Authorization: Digest username=\"{}\"", "a".repeat(8_500)).into_bytes(),
    ] {
        let response = raw_request(&base, &raw_get("/digest", &[&raw]));
        let status = raw_status(&response);
        assert!(
            status == 401 || status == 400 || status == 431,
            "{status}: {response}"
        );
    }
    // Two Authorization headers: 400, nothing tried.
    let res = client()
        .get(&url)
        .header("authorization", &good)
        .header("authorization", &good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // The good header still works.
    let (s, _, _) = http_get(&url, Some(&good)).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn auth_int_hashes_the_body_and_bounds_it() {
    let auth = auth().qop([Qop::Auth, Qop::AuthInt]).max_body(1024);
    let echo = |Username(name): Username, body: Bytes| async move {
        format!("{name} sent {} bytes", body.len())
    };
    let base =
        serve(Router::new().route("/upload", post(echo).route_layer(auth.login_required()))).await;
    let url = format!("{base}/upload");
    let res = client().post(&url).send().await.unwrap();
    let ch = parse_challenge(res.headers()["www-authenticate"].to_str().unwrap());
    assert_eq!(ch["qop"], "auth,auth-int");
    let body = b"{\"amount\": 100}".to_vec();
    let mut c = Client::new("john", "hello", "/upload").qop(Some("auth-int"));
    c.method = "POST".to_owned();
    c.body = body.clone();
    let send = |header: String, body: Vec<u8>| {
        let url = url.clone();
        async move {
            let res = client()
                .post(&url)
                .header("authorization", header)
                .body(body)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    // The handler still gets the body.
    assert_eq!(
        send(c.answer(&ch, "00000001"), body.clone()).await,
        (200, "john sent 15 bytes".to_owned())
    );
    // The body was changed in transit: refused.
    assert_eq!(
        send(c.answer(&ch, "00000002"), b"{\"amount\": 999}".to_vec())
            .await
            .0,
        401
    );
    // Larger than the bound: 413 before any check.
    let big = vec![b'x'; 2048];
    c.body = big.clone();
    assert_eq!(send(c.answer(&ch, "00000003"), big.clone()).await.0, 413);
    // qop=auth requests are not buffered at all (any size passes through).
    let mut plain = Client::new("john", "hello", "/upload");
    plain.method = "POST".to_owned();
    assert_eq!(
        send(plain.answer(&ch, "00000004"), big).await,
        (200, "john sent 2048 bytes".to_owned())
    );
}

#[tokio::test]
async fn head_is_authenticated_options_is_not() {
    let base = serve_auth(auth()).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let res = client().head(&url).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let mut c = Client::new("john", "hello", "/digest");
    c.method = "HEAD".to_owned();
    let res = client()
        .head(&url)
        .header("authorization", c.answer(&ch, "00000001"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A GET response replayed on HEAD: the method is covered.
    let get = Client::new("john", "hello", "/digest").answer(&ch, "00000002");
    let res = client()
        .head(&url)
        .header("authorization", get)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = client()
        .request(reqwest::Method::OPTIONS, &url)
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 401);
    assert!(res.headers().get("www-authenticate").is_none());
}

#[tokio::test]
async fn roles_optional_custom_errors_and_several_schemes() {
    let digest = auth().user_roles_sync(|user: &String| {
        if user == "susan" {
            vec!["admin"]
        } else {
            vec!["user"]
        }
    });
    let json = digest.clone().error_handler(|err: &AuthError| {
        http::Response::builder()
            .status(err.status())
            .header("content-type", "application/json")
            .body(Bytes::from(format!("{{\"error\":\"{}\"}}", err.reason())))
            .unwrap()
    });
    let basic = BasicAuth::verify_password_sync(|u, p| {
        (password(u).as_deref() == Some(p)).then(|| u.to_owned())
    });
    let multi = MultiAuth::new(basic).or(digest.clone());
    let anon = |user: Option<CurrentUser<String>>| async move {
        user.map_or_else(|| "anonymous".to_owned(), |CurrentUser(u)| u)
    };
    let router = Router::new()
        .route(
            "/admin",
            get(hello).route_layer(digest.login_required().role("admin")),
        )
        .route(
            "/optional",
            get(anon).route_layer(digest.login_required().optional()),
        )
        .route("/json", get(hello).route_layer(json.login_required()))
        .route("/multi", get(hello).route_layer(multi.login_required()));
    let base = serve(router).await;

    let (_, ch) = challenge(&format!("{base}/admin")).await;
    let susan = Client::new("susan", "bye", "/admin");
    let (s, _, body) = http_get(
        &format!("{base}/admin"),
        Some(&susan.answer(&ch, "00000001")),
    )
    .await;
    assert_eq!((s, body.as_str()), (200, "Hello, susan!"));
    let john = Client::new("john", "hello", "/admin");
    let (s, lines, _) = http_get(
        &format!("{base}/admin"),
        Some(&john.answer(&ch, "00000002")),
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(lines.len(), 1);

    let (s, _, body) = http_get(&format!("{base}/optional"), None).await;
    assert_eq!((s, body.as_str()), (200, "anonymous"));
    let c = Client::new("john", "hello", "/optional");
    let (s, _, body) = http_get(
        &format!("{base}/optional"),
        Some(&c.answer(&ch, "00000003")),
    )
    .await;
    assert_eq!((s, body.as_str()), (200, "john"));

    let (s, lines, body) = http_get(&format!("{base}/json"), None).await;
    assert_eq!(
        (s, body.as_str()),
        (401, "{\"error\":\"missing credentials\"}")
    );
    assert!(lines[0].starts_with("Digest realm="));

    // Several schemes: no credentials → both challenges; Basic or Digest both get in.
    let (s, lines, _) = http_get(&format!("{base}/multi"), None).await;
    assert_eq!(s, 401);
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].starts_with("Basic ") && lines[1].starts_with("Digest "),
        "{lines:?}"
    );
    let ch = parse_challenge(&lines[1]);
    let c = Client::new("john", "hello", "/multi");
    let (s, _, body) = http_get(&format!("{base}/multi"), Some(&c.answer(&ch, "00000001"))).await;
    assert_eq!((s, body.as_str()), (200, "Hello, john!"));
    let (s, _, body) = http_get(
        &format!("{base}/multi"),
        Some(&common::basic("susan", "bye")),
    )
    .await;
    assert_eq!((s, body.as_str()), (200, "Hello, susan!"));
    // A failed Digest attempt gets only the Digest challenge.
    let bad = Client::new("john", "x", "/multi");
    let (s, lines, _) =
        http_get(&format!("{base}/multi"), Some(&bad.answer(&ch, "00000002"))).await;
    assert_eq!(s, 401);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with("Digest "));
}

#[tokio::test]
async fn shared_secret_lets_instances_accept_each_others_nonces() {
    let secret = [42_u8; 32];
    let a = serve_auth(auth().secret(&secret)).await;
    let b = serve_auth(auth().secret(&secret)).await;
    let (_, ch) = challenge(&format!("{a}/digest")).await;
    let c = Client::new("john", "hello", "/digest");
    let (s, _, _) = http_get(&format!("{b}/digest"), Some(&c.answer(&ch, "00000001"))).await;
    assert_eq!(s, 200);
    // Another realm with the same secret: the nonce is bound to the realm.
    let other = serve_auth(auth().secret(&secret).realm("Other")).await;
    let c = Client::new("john", "hello", "/digest").realm("Other");
    let (s, _, _) = http_get(&format!("{other}/digest"), Some(&c.answer(&ch, "00000002"))).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn a_trickled_auth_int_body_is_cut_off_with_408() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let auth = auth().qop([Qop::Auth, Qop::AuthInt]).max_body(1024);
    let echo = |body: Bytes| async move { format!("{} bytes", body.len()) };
    let policy = auth
        .login_required()
        .body_timeout(Duration::from_millis(400));
    let base = serve(Router::new().route("/upload", post(echo).route_layer(policy))).await;
    let url = format!("{base}/upload");
    let res = client().post(&url).send().await.unwrap();
    let ch = parse_challenge(res.headers()["www-authenticate"].to_str().unwrap());
    let mut c = Client::new("john", "hello", "/upload").qop(Some("auth-int"));
    c.method = "POST".to_owned();
    c.body = vec![b'x'; 100];
    let header = c.answer(&ch, "00000001");
    let addr = base.trim_start_matches("http://").to_owned();
    // Headers and 10 of the 100 announced bytes, then nothing: the server must not wait.
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let head = format!(
            "POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: {header}\r\nContent-Length: 100\r\n\r\nxxxxxxxxxx"
        );
        stream.write_all(head.as_bytes()).unwrap();
        let start = Instant::now();
        let mut buf = [0_u8; 1024];
        let n = stream.read(&mut buf).unwrap_or(0);
        (String::from_utf8_lossy(&buf[..n]).into_owned(), start.elapsed())
    })
    .await
    .unwrap();
    let (response, waited) = answer;
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    // Not a timing threshold on the server's speed: only that it answered before the client's
    // own 10 s read timeout, i.e. it did not wait for the body forever.
    assert!(waited < Duration::from_secs(10));
}
