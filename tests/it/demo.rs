//! The demo server against its contract (`docs/demo-contract.md`): the demo's own router over
//! real HTTP with reqwest and curl, and the built demo binary as a black box.

use crate::{app, common, users};

use std::process::Command;
use std::time::{Duration, Instant};

use common::{basic, get as http_get, get_with as with_headers, serve, start_demo};

const DEFAULT: &str = r#"Basic realm="Authentication Required""#;

async fn demo() -> String {
    serve(app::app(&users::Users::new())).await
}

#[tokio::test]
async fn public_needs_nothing() {
    let base = demo().await;
    assert_eq!(
        http_get(&format!("{base}/public"), None).await,
        (200, vec![], "Hello, world!".to_owned())
    );
}

#[tokio::test]
async fn basic_route() {
    let base = demo().await;
    for (u, p) in [("john", "hello"), ("susan", "bye"), ("ana", "olá-ñ")] {
        let (s, _, body) = http_get(&format!("{base}/basic"), Some(&basic(u, p))).await;
        assert_eq!((s, body), (200, format!("Hello, {u}!")));
    }
    let (s, ch, body) = http_get(&format!("{base}/basic"), None).await;
    assert_eq!(
        (s, ch, body.as_str()),
        (401, vec![DEFAULT.to_owned()], "Unauthorized Access")
    );
    let (s, ch, _) = http_get(&format!("{base}/basic"), Some(&basic("john", "bye"))).await;
    assert_eq!((s, ch), (401, vec![DEFAULT.to_owned()]));
    let (s, _, _) = http_get(&format!("{base}/basic"), Some(&basic("nobody", "hello"))).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn reqwest_basic_auth_helper() {
    let base = demo().await;
    let res = common::client()
        .get(format!("{base}/basic"))
        .basic_auth("ana", Some("olá-ñ"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "Hello, ana!");
}

#[tokio::test]
async fn basic_custom_route() {
    let base = demo().await;
    let (s, ch, _) = http_get(&format!("{base}/basic-custom"), None).await;
    assert_eq!(
        (s, ch),
        (401, vec![r#"CustomBasic realm="custom realm""#.to_owned()])
    );
    let token = basic("john", "hello")
        .trim_start_matches("Basic ")
        .to_owned();
    for scheme in ["CustomBasic", "Basic"] {
        let (s, _, body) = http_get(
            &format!("{base}/basic-custom"),
            Some(&format!("{scheme} {token}")),
        )
        .await;
        assert_eq!((s, body.as_str()), (200, "Hello, john!"));
    }
}

#[tokio::test]
async fn role_routes() {
    let base = demo().await;
    let john = basic("john", "hello");
    let susan = basic("susan", "bye");
    let ana = basic("ana", "olá-ñ");
    let cases = [
        ("/admin", &john, 403),
        ("/admin", &susan, 200),
        ("/admin", &ana, 403),
        ("/staff", &john, 403),
        ("/staff", &susan, 200),
        ("/staff", &ana, 200),
        ("/contrib", &john, 403),
        ("/contrib", &susan, 200),
        ("/contrib", &ana, 200),
    ];
    for (path, creds, status) in cases {
        let (s, ch, body) = http_get(&format!("{base}{path}"), Some(creds)).await;
        assert_eq!(s, status, "{path}");
        if status == 403 {
            assert_eq!(
                (ch, body.as_str()),
                (vec![DEFAULT.to_owned()], "Unauthorized Access")
            );
        }
    }
    let (s, ch, _) = http_get(&format!("{base}/admin"), None).await;
    assert_eq!((s, ch), (401, vec![DEFAULT.to_owned()]));
}

#[tokio::test]
async fn optional_route() {
    let base = demo().await;
    assert_eq!(
        http_get(&format!("{base}/optional"), None).await.2,
        "Hello, anonymous!"
    );
    assert_eq!(
        http_get(&format!("{base}/optional"), Some(&basic("john", "hello")))
            .await
            .2,
        "Hello, john!"
    );
    assert_eq!(
        http_get(&format!("{base}/optional"), Some(&basic("john", "bad")))
            .await
            .2,
        "Hello, anonymous!"
    );
}

#[tokio::test]
async fn json_errors_route() {
    let base = demo().await;
    // The contract: the HTTP reason phrase, whatever went wrong.
    for (creds, reason) in [
        (None, "Unauthorized"),
        (Some(basic("john", "bad")), "Unauthorized"),
    ] {
        let res = common::client()
            .get(format!("{base}/json-errors"))
            .headers(
                creds
                    .iter()
                    .map(|c| (http::header::AUTHORIZATION, c.parse().unwrap()))
                    .collect(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()["content-type"], "application/json");
        assert_eq!(res.headers()["www-authenticate"], DEFAULT);
        let body: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
        assert_eq!(body, serde_json::json!({"error": reason, "status": 401}));
    }
    let (s, _, body) = http_get(&format!("{base}/json-errors"), Some(&basic("susan", "bye"))).await;
    assert_eq!((s, body.as_str()), (200, "Hello, susan!"));
}

#[tokio::test]
async fn unknown_path_is_404() {
    let base = demo().await;
    assert_eq!(
        http_get(&format!("{base}/nope"), Some(&basic("john", "hello")))
            .await
            .0,
        404
    );
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl is installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn curl_user_flag() {
    let base = demo().await;
    let b = base.clone();
    let (hello, admin, wrong, anon) = tokio::task::spawn_blocking(move || {
        (
            curl(&["-u", "john:hello", &format!("{b}/basic")]),
            curl(&[
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-u",
                "john:hello",
                &format!("{b}/admin"),
            ]),
            curl(&[
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-u",
                "john:nope",
                &format!("{b}/basic"),
            ]),
            curl(&[&format!("{b}/optional")]),
        )
    })
    .await
    .unwrap();
    assert_eq!(hello, "Hello, john!");
    assert_eq!(admin, "403");
    assert_eq!(wrong, "401");
    assert_eq!(anon, "Hello, anonymous!");
    let utf8 =
        tokio::task::spawn_blocking(move || curl(&["-u", "ana:olá-ñ", &format!("{base}/contrib")]))
            .await
            .unwrap();
    assert_eq!(utf8, "Hello, ana!");
}

#[test]
fn binary_listens_answers_and_stops_on_sigterm() {
    let (mut demo, addr) = start_demo(&[], Some("0"));
    assert_eq!(
        curl(&["-u", "john:hello", &format!("{addr}/basic")]),
        "Hello, john!"
    );
    assert_eq!(
        curl(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-u",
            "john:hello",
            &format!("{addr}/admin")
        ]),
        "403"
    );
    let pid = demo.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let start = Instant::now();
    loop {
        if let Some(status) = demo.0.try_wait().unwrap() {
            assert!(status.success(), "demo exited with {status}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "demo did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn binary_port_flag() {
    // A free port: bind, read it, release.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let (_demo, addr) = start_demo(&["--port", &port], None);
    assert_eq!(addr, format!("http://127.0.0.1:{port}"));
    assert_eq!(curl(&[&format!("{addr}/public")]), "Hello, world!");
}

const BEARER: &str = r#"Bearer realm="Authentication Required""#;

#[tokio::test]
async fn token_route() {
    let base = demo().await;
    let url = format!("{base}/token");
    for (user, token) in [
        ("john", "secret-token-1"),
        ("susan", "secret-token-2"),
        ("ana", "secret-token-3"),
    ] {
        let (s, _, body, _) =
            with_headers(&url, &[("authorization", &format!("Bearer {token}"))]).await;
        assert_eq!((s, body), (200, format!("Hello, {user}!")));
    }
    let (s, ch, _, _) = with_headers(&url, &[]).await;
    assert_eq!((s, ch), (401, vec![BEARER.to_owned()]));
    let (s, ch, _, _) = with_headers(&url, &[("authorization", "Bearer wrong")]).await;
    assert_eq!((s, ch), (401, vec![BEARER.to_owned()]));
    // A Basic credential is not a token.
    assert_eq!(
        with_headers(&url, &[("authorization", &basic("john", "hello"))])
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn apikey_route() {
    let base = demo().await;
    let url = format!("{base}/apikey");
    let (s, _, body, cache) = with_headers(&url, &[("X-API-Key", "secret-token-2")]).await;
    assert_eq!(
        (s, body.as_str(), cache.as_deref()),
        (200, "Hello, susan!", Some("private"))
    );
    let (s, ch, _, _) = with_headers(&url, &[]).await;
    assert_eq!((s, ch), (401, vec![BEARER.to_owned()]));
    // Authorization is ignored on this route.
    let (s, ch, _, _) = with_headers(&url, &[("authorization", "Bearer secret-token-2")]).await;
    assert_eq!((s, ch), (401, vec![BEARER.to_owned()]));
    assert_eq!(with_headers(&url, &[("X-API-Key", "nope")]).await.0, 401);
}

#[tokio::test]
async fn multi_route() {
    let base = demo().await;
    let url = format!("{base}/multi");
    assert_eq!(
        with_headers(&url, &[("authorization", &basic("john", "hello"))])
            .await
            .2,
        "Hello, john!"
    );
    assert_eq!(
        with_headers(&url, &[("authorization", "bearer secret-token-2")])
            .await
            .2,
        "Hello, susan!"
    );
    let (s, ch, _, _) = with_headers(&url, &[]).await;
    assert_eq!((s, ch), (401, vec![DEFAULT.to_owned(), BEARER.to_owned()]));
    let (s, ch, _, _) = with_headers(&url, &[("authorization", "Bearer nope")]).await;
    assert_eq!((s, ch), (401, vec![BEARER.to_owned()]));
    let (s, ch, _, _) = with_headers(&url, &[("authorization", &basic("john", "nope"))]).await;
    assert_eq!((s, ch), (401, vec![DEFAULT.to_owned()]));
}

#[tokio::test]
async fn curl_tokens_and_multi() {
    let base = demo().await;
    let out = tokio::task::spawn_blocking(move || {
        (
            curl(&[
                "-H",
                "Authorization: Bearer secret-token-1",
                &format!("{base}/token"),
            ]),
            curl(&["-H", "X-API-Key: secret-token-2", &format!("{base}/apikey")]),
            curl(&["-u", "john:hello", &format!("{base}/multi")]),
            curl(&[
                "-H",
                "Authorization: bearer secret-token-2",
                &format!("{base}/multi"),
            ]),
            curl(&["-i", &format!("{base}/multi")]),
        )
    })
    .await
    .unwrap();
    assert_eq!(out.0, "Hello, john!");
    assert_eq!(out.1, "Hello, susan!");
    assert_eq!(out.2, "Hello, john!");
    assert_eq!(out.3, "Hello, susan!");
    let head = out.4.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(
        head.contains("www-authenticate: basic realm=\"authentication required\"\r\n"),
        "{head}"
    );
    assert!(
        head.contains("www-authenticate: bearer realm=\"authentication required\"\r\n"),
        "{head}"
    );
}
