//! Digest `Authentication-Info` (RFC 7616 §3.5) over real HTTP, checked the way a client that
//! verifies `rspauth` does (curl and Python requests do not): the right `rspauth`, `qop`, `nc`
//! and `cnonce` on every successful login (MD5, SHA-256, `-sess`, `auth-int`), a wrong one
//! detected, `nextnonce` only in the last fifth of the nonce's lifetime and usable at once,
//! nothing on failures, in RFC 2069 mode, or when the handler sets the header itself.

use crate::{common, digest_client};

use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use httpauth::digest::{Algorithm, DigestAuth, Qop};
use httpauth::Username;

use digest_client::{challenge, send, Client};

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
    common::serve(
        Router::new()
            .route("/digest", get(hello).route_layer(auth.login_required()))
            .route("/upload", post(hello).route_layer(auth.login_required()))
            .route(
                "/own-info",
                get(|| async { ([("authentication-info", "set by the handler")], "mine") })
                    .route_layer(auth.login_required()),
            )
            .route(
                "/optional",
                get(|u: Option<Username>| async move {
                    u.map_or("anonymous".to_owned(), |Username(n)| n)
                })
                .route_layer(auth.login_required().optional()),
            ),
    )
    .await
}

/// One request of `client` answering `ch` with `nc`; returns (status, Authentication-Info
/// values, body).
async fn login(
    url: &str,
    client: &Client,
    ch: &std::collections::HashMap<String, String>,
    nc: &str,
) -> (u16, Vec<String>, String) {
    let authorization = client.answer(ch, nc);
    send(
        &client.method,
        url,
        &[("authorization", &authorization)],
        &client.body,
    )
    .await
}

#[tokio::test]
async fn correct_logins_get_a_verified_authentication_info() {
    let cases = [
        (Algorithm::Md5, "auth"),
        (Algorithm::Sha256, "auth"),
        (Algorithm::Md5Sess, "auth"),
        (Algorithm::Sha256Sess, "auth"),
        (Algorithm::Sha256, "auth-int"),
        (Algorithm::Sha512_256Sess, "auth-int"),
    ];
    for (algorithm, qop) in cases {
        let base = serve_auth(auth().algorithm(algorithm).qop([Qop::Auth, Qop::AuthInt])).await;
        let what = format!("{algorithm} {qop}");
        let (path, method) = if qop == "auth-int" {
            ("/upload", "POST")
        } else {
            ("/digest", "GET")
        };
        let url = format!("{base}{path}");
        let (_, ch) = challenge(&format!("{base}/digest")).await;
        let mut client = Client::new("john", "hello", path)
            .algorithm(algorithm)
            .qop(Some(qop));
        client.method = method.to_owned();
        client.cnonce = "f2/wE4q74E6zIJEt".to_owned();
        client.body = b"name=john&colour=blue".to_vec();
        for nc in ["00000001", "00000002", "0000000a"] {
            let (status, info, body) = login(&url, &client, &ch, nc).await;
            assert_eq!(
                (status, body.as_str()),
                (200, "Hello, john!"),
                "{what} {nc}"
            );
            assert_eq!(info.len(), 1, "{what} {nc}: {info:?}");
            let params = client
                .check_authentication_info(&info[0], &ch["nonce"], nc)
                .unwrap_or_else(|e| panic!("{what} {nc}: {e}"));
            // A fresh nonce (5 minutes) gets no nextnonce.
            assert!(!params.contains_key("nextnonce"), "{what}: {info:?}");
            // rspauth is not the client's own response echoed back.
            assert_ne!(
                params["rspauth"],
                client.response(&ch["nonce"], nc),
                "{what}"
            );
        }
    }
}

#[tokio::test]
async fn a_wrong_rspauth_is_detected() {
    let base = serve_auth(auth().algorithm(Algorithm::Sha256)).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let client = Client::new("john", "hello", "/digest").algorithm(Algorithm::Sha256);
    let (status, info, _) = login(&url, &client, &ch, "00000001").await;
    assert_eq!(status, 200);
    let value = &info[0];
    let nonce = &ch["nonce"];
    client
        .check_authentication_info(value, nonce, "00000001")
        .unwrap();
    // The check can fail: a server that did not know this password, another request (nc, uri,
    // cnonce, nonce), another algorithm, a tampered digit.
    let mut others = vec![
        Client::new("john", "other", "/digest").algorithm(Algorithm::Sha256),
        Client::new("john", "hello", "/other").algorithm(Algorithm::Sha256),
        Client::new("john", "hello", "/digest").algorithm(Algorithm::Sha256Sess),
        Client::new("john", "hello", "/digest").qop(Some("auth-int")),
    ];
    let mut cnonce = client.clone();
    cnonce.cnonce = "deadbeef".to_owned();
    others.push(cnonce);
    for other in &others {
        assert!(
            other
                .check_authentication_info(value, nonce, "00000001")
                .is_err(),
            "{other:?} accepted {value}"
        );
    }
    assert!(client
        .check_authentication_info(value, nonce, "00000002")
        .is_err());
    assert!(client
        .check_authentication_info(value, &format!("{nonce}0"), "00000001")
        .is_err());
    let rspauth = client.rspauth(nonce, "00000001");
    let last = rspauth.chars().last().unwrap();
    let flipped = format!(
        "{}{}",
        &rspauth[..rspauth.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let tampered = value.replace(&rspauth, &flipped);
    assert_ne!(&tampered, value);
    assert!(client
        .check_authentication_info(&tampered, nonce, "00000001")
        .is_err());
    // The response computed with the request's method (not the empty one) is not rspauth.
    let echoed = value.replace(&rspauth, &client.response(nonce, "00000001"));
    assert!(client
        .check_authentication_info(&echoed, nonce, "00000001")
        .is_err());
}

#[tokio::test]
async fn nextnonce_only_in_the_last_fifth_of_the_lifetime_and_it_works() {
    let base = serve_auth(auth().nonce_lifetime(Duration::from_secs(6))).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let client = Client::new("john", "hello", "/digest");
    let (status, info, _) = login(&url, &client, &ch, "00000001").await;
    assert_eq!(status, 200);
    let params = client
        .check_authentication_info(&info[0], &ch["nonce"], "00000001")
        .unwrap();
    assert!(!params.contains_key("nextnonce"), "{info:?}");

    // 5 s into a 6 s lifetime: the last fifth (from 4.8 s), with a second of margin before
    // the expiry for a loaded machine.
    tokio::time::sleep(Duration::from_millis(5000)).await;
    let (status, info, _) = login(&url, &client, &ch, "00000002").await;
    assert_eq!(status, 200, "the nonce is still valid");
    let params = client
        .check_authentication_info(&info[0], &ch["nonce"], "00000002")
        .unwrap();
    let next = params
        .get("nextnonce")
        .unwrap_or_else(|| panic!("no nextnonce at 5 s of 6 s: {info:?}"))
        .clone();
    assert_ne!(next, ch["nonce"]);

    // The next request uses nextnonce with nc=1 and the opaque it already has (RFC 7616
    // §3.5, §3.3: the opaque is returned unchanged).
    let mut next_ch = ch.clone();
    next_ch.insert("nonce".to_owned(), next.clone());
    let (status, info, body) = login(&url, &client, &next_ch, "00000001").await;
    assert_eq!((status, body.as_str()), (200, "Hello, john!"), "{info:?}");
    let params = client
        .check_authentication_info(&info[0], &next, "00000001")
        .unwrap();
    assert!(!params.contains_key("nextnonce"), "a fresh nonce: {info:?}");
    // It is a nonce like any other: a replay of its count is refused.
    let (status, info, _) = login(&url, &client, &next_ch, "00000001").await;
    assert_eq!(status, 401);
    assert!(info.is_empty(), "{info:?}");

    // Once the first nonce has expired (6 s), it is stale; the nextnonce goes on.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (status, info, _) = login(&url, &client, &ch, "00000003").await;
    assert_eq!(status, 401);
    assert!(info.is_empty(), "{info:?}");
    let (status, info, _) = login(&url, &client, &next_ch, "00000002").await;
    assert_eq!(status, 200);
    client
        .check_authentication_info(&info[0], &next, "00000002")
        .unwrap();
}

#[tokio::test]
async fn no_authentication_info_on_failures_rfc2069_or_when_the_handler_sets_it() {
    let base = serve_auth(auth()).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let john = Client::new("john", "hello", "/digest");
    let wrong = Client::new("john", "nope", "/digest");
    let unknown = Client::new("nobody", "hello", "/digest");

    let (status, info, _) = send("GET", &url, &[], b"").await;
    assert_eq!((status, info.len()), (401, 0), "no credentials");
    for (client, what) in [(&wrong, "wrong password"), (&unknown, "unknown user")] {
        let (status, info, _) = login(&url, client, &ch, "00000001").await;
        assert_eq!((status, info.len()), (401, 0), "{what}: {info:?}");
    }
    let (status, info, _) = login(&url, &john, &ch, "00000001").await;
    assert_eq!((status, info.len()), (200, 1));
    let (status, info, _) = login(&url, &john, &ch, "00000001").await;
    assert_eq!((status, info.len()), (401, 0), "replay: {info:?}");
    let (status, info, _) = send(
        "GET",
        &url,
        &[("authorization", &john.clone().qop(None).answer(&ch, ""))],
        b"",
    )
    .await;
    assert_eq!((status, info.len()), (401, 0), "downgrade: {info:?}");

    // An optional route: a failed login goes through as anonymous, without the header.
    let optional = format!("{base}/optional");
    let opt_wrong = Client::new("john", "nope", "/optional");
    let (status, info, body) = login(&optional, &opt_wrong, &ch, "00000002").await;
    assert_eq!((status, body.as_str(), info.len()), (200, "anonymous", 0));
    let opt_john = Client::new("john", "hello", "/optional");
    let (status, info, body) = login(&optional, &opt_john, &ch, "00000003").await;
    assert_eq!((status, body.as_str(), info.len()), (200, "john", 1));
    opt_john
        .check_authentication_info(&info[0], &ch["nonce"], "00000003")
        .unwrap();

    // The handler's own Authentication-Info wins (and is the only one).
    let own = format!("{base}/own-info");
    let own_john = Client::new("john", "hello", "/own-info");
    let (status, info, body) = login(&own, &own_john, &ch, "00000004").await;
    assert_eq!((status, body.as_str()), (200, "mine"));
    assert_eq!(info, ["set by the handler"]);

    // RFC 2069 mode (no qop): the response covers no cnonce or nc, so there is nothing to
    // send (RFC 7616 §3.5 defines Authentication-Info for qop requests).
    let base = serve_auth(auth().no_qop()).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let rfc2069 = Client::new("john", "hello", "/digest").qop(None);
    let (status, info, body) = login(&url, &rfc2069, &ch, "").await;
    assert_eq!((status, body.as_str()), (200, "Hello, john!"));
    assert!(info.is_empty(), "{info:?}");
}

#[tokio::test]
async fn curl_receives_the_header() {
    // curl does not check rspauth, but it sees the header on the authenticated answer.
    let base = serve_auth(auth().algorithm(Algorithm::Sha256)).await;
    let (status, log) =
        digest_client::curl_digest_verbose(&format!("{base}/digest"), "john", "hello").await;
    assert_eq!(status, 200, "{log}");
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("< authentication-info:"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("rspauth=\""), "{log}");
    assert!(
        lines[0].contains("qop=auth, nc=00000001, cnonce=\""),
        "{log}"
    );
}
