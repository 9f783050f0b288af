//! Digest against real clients over real HTTP: the demo's own router (`/digest`,
//! `/digest-sha256`, `/digest-ha1`) and a few extra routes, driven by `curl --digest` (no
//! cookie jar), Python `requests.auth.HTTPDigestAuth` and `httpx.DigestAuth`.

use crate::{app, common, digest_client, users};

use axum::routing::get;
use axum::Router;
use httpauth::digest::{Algorithm, DigestAuth};
use httpauth::Username;

use digest_client::{curl_digest, python};

const ROUTES: [&str; 3] = ["/digest", "/digest-sha256", "/digest-ha1"];

async fn demo() -> String {
    common::serve(app::app(&users::Users::new())).await
}

async fn hello(Username(name): Username) -> String {
    format!("Hello, {name}!")
}

fn password(username: &str) -> Option<String> {
    users::USERS
        .iter()
        .find(|(n, ..)| *n == username)
        .map(|(_, p, ..)| (*p).to_owned())
}

/// Extra routes for what the demo does not configure: -sess, userhash, several challenges.
async fn extras() -> String {
    let base = DigestAuth::get_password_sync(password);
    let route = |auth: DigestAuth<String>| get(hello).route_layer(auth.login_required());
    let router = Router::new()
        .route(
            "/md5-sess",
            route(base.clone().algorithm(Algorithm::Md5Sess)),
        )
        .route(
            "/sha256-sess",
            route(base.clone().algorithm(Algorithm::Sha256Sess)),
        )
        .route(
            "/userhash",
            route(
                base.clone()
                    .algorithm(Algorithm::Sha256)
                    .charset_utf8()
                    .userhash_users(users::USERS.iter().map(|u| u.0)),
            ),
        )
        .route(
            "/sha256-then-md5",
            route(base.clone().algorithms([Algorithm::Sha256, Algorithm::Md5])),
        );
    common::serve(router).await
}

#[tokio::test]
async fn curl_digest_demo_routes() {
    let base = demo().await;
    for route in ROUTES {
        let url = format!("{base}{route}");
        for (user, pass, _, _) in users::USERS {
            assert_eq!(
                curl_digest(&url, user, pass, &[]).await,
                (200, format!("Hello, {user}!")),
                "{route} {user}"
            );
        }
        let (status, body) = curl_digest(&url, "john", "wrong", &[]).await;
        assert_eq!(
            (status, body.as_str()),
            (401, "Unauthorized Access"),
            "{route}"
        );
        let (status, _) = curl_digest(&url, "nobody", "hello", &[]).await;
        assert_eq!(status, 401, "{route}");
    }
}

#[tokio::test]
async fn curl_reuses_a_connection_and_a_nonce() {
    // One curl process, three URLs: curl keeps the nonce and increments nc.
    let base = demo().await;
    let url = format!("{base}/digest-sha256");
    let (status, body) = curl_digest(&url, "susan", "bye", &[&url, &url]).await;
    assert_eq!(status, 200);
    assert_eq!(body.matches("Hello, susan!").count(), 3, "{body}");
}

#[tokio::test]
async fn curl_sess_userhash_and_several_challenges() {
    let base = extras().await;
    for route in ["/md5-sess", "/sha256-sess", "/userhash", "/sha256-then-md5"] {
        let url = format!("{base}{route}");
        assert_eq!(
            curl_digest(&url, "ana", "olá-ñ", &[]).await,
            (200, "Hello, ana!".to_owned()),
            "{route}"
        );
        assert_eq!(curl_digest(&url, "ana", "ola", &[]).await.0, 401, "{route}");
    }
}

#[tokio::test]
async fn curl_sends_userhash_when_offered() {
    let base = extras().await;
    let url = format!("{base}/userhash");
    // curl -v prints the request headers on stderr.
    let out = tokio::process::Command::new("curl")
        .args(["-sv", "--digest", "-u", "john:hello", &url])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("userhash=true"), "{stderr}");
    assert!(!stderr.contains("username=\"john\""), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello, john!");
}

const PY_REQUESTS: &str = r#"
import sys, requests
from requests.auth import HTTPDigestAuth
base, route, user, password = sys.argv[1:5]
s = requests.Session()
s.auth = HTTPDigestAuth(user, password)
out = []
for i in range(4):
    r = s.get(base + route)
    sent = r.request.headers.get("Authorization", "")
    nc = sent.split("nc=")[1][:8] if "nc=" in sent else "-"
    out.append("%d %s %s %d" % (r.status_code, r.text, nc, len(r.history)))
print("\n".join(out))
"#;

const PY_HTTPX: &str = r#"
import sys, httpx
base, route, user, password = sys.argv[1:5]
out = []
with httpx.Client(auth=httpx.DigestAuth(user, password)) as c:
    for i in range(4):
        r = c.get(base + route)
        sent = r.request.headers.get("Authorization", "")
        nc = sent.split("nc=")[1][:8] if "nc=" in sent else "-"
        out.append("%d %s %s %d" % (r.status_code, r.text, nc, len(r.history)))
print("\n".join(out))
"#;

async fn py(script: &str, base: &str, route: &str, user: &str, pass: &str) -> Vec<String> {
    let wrapped =
        format!("import sys\nsys.argv = ['x', {base:?}, {route:?}, {user:?}, {pass:?}]\n{script}");
    let lines: Vec<String> = python(&wrapped).await.lines().map(str::to_owned).collect();
    // Both scripts make four requests: checks over every line need all four.
    assert_eq!(lines.len(), 4, "{route}: {lines:?}");
    lines
}

#[tokio::test]
async fn python_requests_md5_and_sha256() {
    let base = demo().await;
    for route in ROUTES {
        let lines = py(PY_REQUESTS, &base, route, "john", "hello").await;
        // First request: 401 then 200 (one redirect in history); then requests reuses the nonce
        // preemptively with nc 2, 3, 4: each accepted once, no new challenge.
        assert_eq!(
            lines,
            [
                "200 Hello, john! 00000001 1",
                "200 Hello, john! 00000002 0",
                "200 Hello, john! 00000003 0",
                "200 Hello, john! 00000004 0",
            ],
            "{route}"
        );
        let lines = py(PY_REQUESTS, &base, route, "ana", "olá-ñ").await;
        assert!(
            lines.iter().all(|l| l.starts_with("200 Hello, ana!")),
            "{lines:?}"
        );
        let lines = py(PY_REQUESTS, &base, route, "john", "wrong").await;
        assert!(
            lines.iter().all(|l| l.starts_with("401 ")),
            "{route}: {lines:?}"
        );
    }
}

#[tokio::test]
async fn python_httpx_md5_and_sha256() {
    let base = demo().await;
    for route in ROUTES {
        let lines = py(PY_HTTPX, &base, route, "susan", "bye").await;
        assert_eq!(lines[0], "200 Hello, susan! 00000001 1", "{route}");
        for (i, line) in lines.iter().enumerate().skip(1) {
            assert_eq!(
                *line,
                format!("200 Hello, susan! {:08} 0", i + 1),
                "{route}: {lines:?}"
            );
        }
        let lines = py(PY_HTTPX, &base, route, "ana", "olá-ñ").await;
        assert!(
            lines.iter().all(|l| l.starts_with("200 Hello, ana!")),
            "{lines:?}"
        );
        let lines = py(PY_HTTPX, &base, route, "susan", "hello").await;
        assert!(
            lines.iter().all(|l| l.starts_with("401 ")),
            "{route}: {lines:?}"
        );
    }
}

#[tokio::test]
async fn python_clients_sess_and_several_challenges() {
    let base = extras().await;
    // httpx knows MD5-SESS and SHA-256-SESS.
    for route in ["/md5-sess", "/sha256-sess", "/sha256-then-md5"] {
        let lines = py(PY_HTTPX, &base, route, "john", "hello").await;
        assert!(
            lines.iter().all(|l| l.starts_with("200 Hello, john!")),
            "{route}: {lines:?}"
        );
    }
    // requests knows MD5-SESS; with two challenges it reads the joined header as one and
    // keeps the last value of each parameter (here MD5): it still gets in.
    for route in ["/md5-sess", "/sha256-then-md5"] {
        let lines = py(PY_REQUESTS, &base, route, "john", "hello").await;
        assert!(
            lines.iter().all(|l| l.starts_with("200 Hello, john!")),
            "{route}: {lines:?}"
        );
    }
}

#[tokio::test]
async fn requests_replay_of_a_captured_header_is_refused() {
    // A real client's header, captured and sent again by an attacker.
    let base = demo().await;
    let script = r#"
import sys, requests
from requests.auth import HTTPDigestAuth
base = sys.argv[1]
r = requests.get(base + "/digest", auth=HTTPDigestAuth("john", "hello"))
print(r.status_code)
print(r.request.headers["Authorization"])
"#;
    let out = python(&format!("import sys\nsys.argv = ['x', {base:?}]\n{script}")).await;
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("200"));
    let captured = lines.next().unwrap();
    let (status, challenges, _) = common::get(&format!("{base}/digest"), Some(captured)).await;
    assert_eq!(status, 401);
    assert!(challenges[0].ends_with(",stale=true"), "{challenges:?}");
}
