//! The seed library's Digest tests (Flask-HTTPAuth `tests/test_digest_custom_realm.py`,
//! `test_digest_get_password.py`, `test_digest_ha1_password.py`, `test_digest_no_qop.py`),
//! ported over real HTTP. Their client headers are sent exactly as the seed's tests build them
//! (compact commas, `qop` and `nc` unquoted, no `algorithm`). Where this crate is deliberately
//! stricter, the test says so and checks our answer (see `docs/digest.md`).

use crate::{common, digest_client};

use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::Router;
use httpauth::digest::{generate_ha1, Algorithm, DigestAuth, Qop};
use httpauth::Username;

use common::{client, get as http_get, serve};
use digest_client::{challenge, parse_challenge, REALM};

fn md5(s: &str) -> String {
    Algorithm::Md5.hash(&[s.as_bytes()]).as_str().to_owned()
}

/// The seed's users: susan/hello, john/bye.
fn get_password(username: &str) -> Option<String> {
    match username {
        "susan" => Some("hello".to_owned()),
        "john" => Some("bye".to_owned()),
        _ => None,
    }
}

/// `^Digest realm="<realm>",nonce="[0-9a-f]+",opaque="[0-9a-f]+"<tail>$`, without regex.
fn matches_seed_challenge(line: &str, realm: &str, tail: &str) -> bool {
    let Some(rest) = line.strip_prefix(&format!("Digest realm=\"{realm}\",nonce=\"")) else {
        return false;
    };
    let Some((nonce, rest)) = rest.split_once("\",opaque=\"") else {
        return false;
    };
    let Some((opaque, rest)) = rest.split_once('"') else {
        return false;
    };
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    hex(nonce) && hex(opaque) && rest == tail
}

const QOP_TAIL: &str = r#",algorithm="MD5",qop="auth""#;

/// The seed's valid-login header, response computed with `hash_realm` and `hash_user`.
fn seed_header(
    username: &str,
    hash_user: &str,
    password: &str,
    hash_realm: &str,
    ch: &std::collections::HashMap<String, String>,
    uri: &str,
    qop: bool,
) -> String {
    let (realm, nonce, opaque) = (&ch["realm"], &ch["nonce"], &ch["opaque"]);
    let ha1 = md5(&format!("{hash_user}:{hash_realm}:{password}"));
    let ha2 = md5(&format!("GET:{uri}"));
    if qop {
        let response = md5(&format!("{ha1}:{nonce}:00000001:foobar:auth:{ha2}"));
        format!(
            r#"Digest username="{username}",realm="{realm}",nonce="{nonce}",uri="{uri}",qop=auth,nc=00000001,cnonce="foobar",response="{response}",opaque="{opaque}""#
        )
    } else {
        let response = md5(&format!("{ha1}:{nonce}:{ha2}"));
        format!(
            r#"Digest username="{username}",realm="{realm}",nonce="{nonce}",uri="{uri}",response="{response}",opaque="{opaque}""#
        )
    }
}

async fn hello_route(path: &str, prefix: &'static str, auth: DigestAuth<String>) -> String {
    let handler = move |Username(name): Username| async move { format!("{prefix}{name}") };
    // Flask answers OPTIONS itself; here an explicit OPTIONS handler stands in for that.
    let options = || async { "" };
    serve(
        Router::new().route(
            path,
            get(handler)
                .options(options)
                .route_layer(auth.login_required()),
        ),
    )
    .await
}

// --- test_digest_custom_realm.py ---------------------------------------------------------

async fn custom_realm_app() -> String {
    let auth = DigestAuth::get_password_sync(get_password)
        .realm("My Realm")
        .no_qop();
    hello_route("/digest-with-realm", "digest_auth_my_realm:", auth).await
}

#[tokio::test]
async fn seed_digest_auth_prompt_with_custom_realm() {
    let base = custom_realm_app().await;
    let (s, lines, _) = http_get(&format!("{base}/digest-with-realm"), None).await;
    assert_eq!(s, 401);
    assert!(
        matches_seed_challenge(&lines[0], "My Realm", ""),
        "{lines:?}"
    );
}

#[tokio::test]
async fn seed_digest_auth_login_invalid_custom_realm() {
    // A header with a nonce this server never issued (no prior challenge): 401, as in the
    // seed (there because the session holds no nonce; here because the nonce's MAC is wrong).
    let base = custom_realm_app().await;
    let header = r#"Digest username="susan",realm="My Realm",nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",uri="/digest-with-realm",response="ca306c361a9055b968810067a37fb8cb",opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
    let (s, lines, _) = http_get(&format!("{base}/digest-with-realm"), Some(header)).await;
    assert_eq!(s, 401);
    assert!(
        matches_seed_challenge(&lines[0], "My Realm", ""),
        "{lines:?}"
    );
}

// --- test_digest_get_password.py ---------------------------------------------------------

async fn get_password_app(auth: DigestAuth<String>) -> String {
    hello_route("/digest", "digest_auth:", auth).await
}

fn default_auth() -> DigestAuth<String> {
    DigestAuth::get_password_sync(get_password)
}

#[test]
fn seed_constructor() {
    let a = default_auth();
    assert_eq!(a.offered_qop(), [Qop::Auth]);
    assert_eq!(a.offered_algorithms(), [Algorithm::Md5]);
    assert!(default_auth().no_qop().offered_qop().is_empty());
    assert_eq!(default_auth().qop([Qop::Auth]).offered_qop(), [Qop::Auth]);
    // The seed accepts arbitrary qop words ('foo', 'bar'); ours is a closed enum, so an
    // unknown qop is a parse error rather than a configuration that never matches.
    assert_eq!("auth-int".parse::<Qop>(), Ok(Qop::AuthInt));
    assert!("foo".parse::<Qop>().is_err());
    assert_eq!("md5".parse::<Algorithm>(), Ok(Algorithm::Md5));
    // The seed stores 'MD5-Sess'; we parse any case and send RFC 7616's 'MD5-sess'.
    assert_eq!("md5-sess".parse::<Algorithm>(), Ok(Algorithm::Md5Sess));
    assert_eq!(Algorithm::Md5Sess.name(), "MD5-sess");
    assert!("foo".parse::<Algorithm>().is_err());
}

#[tokio::test]
async fn seed_digest_auth_prompt() {
    let base = get_password_app(default_auth()).await;
    let (s, lines, body) = http_get(&format!("{base}/digest"), None).await;
    assert_eq!((s, body.as_str()), (401, "Unauthorized Access"));
    assert_eq!(lines.len(), 1);
    assert!(
        matches_seed_challenge(&lines[0], REALM, QOP_TAIL),
        "{lines:?}"
    );
}

#[tokio::test]
async fn seed_digest_auth_ignore_options() {
    let base = get_password_app(default_auth()).await;
    let res = client()
        .request(reqwest::Method::OPTIONS, format!("{base}/digest"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("www-authenticate").is_none());
}

#[tokio::test]
async fn seed_digest_auth_login_valid() {
    let base = get_password_app(default_auth()).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let h = seed_header("john", "john", "bye", &ch["realm"], &ch, "/digest", true);
    let (s, _, body) = http_get(&url, Some(&h)).await;
    assert_eq!((s, body.as_str()), (200, "digest_auth:john"));
}

#[tokio::test]
async fn seed_digest_auth_md5_sess_login_valid() {
    let base = get_password_app(default_auth().algorithm(Algorithm::Md5Sess)).await;
    let url = format!("{base}/digest");
    let (lines, ch) = challenge(&url).await;
    assert!(
        matches_seed_challenge(&lines[0], REALM, r#",algorithm="MD5-sess",qop="auth""#),
        "{lines:?}"
    );
    let (realm, nonce, opaque) = (&ch["realm"], &ch["nonce"], &ch["opaque"]);
    let ha1 = md5(&format!(
        "{}:{nonce}:foobar",
        md5(&format!("john:{realm}:bye"))
    ));
    let ha2 = md5("GET:/digest");
    let response = md5(&format!("{ha1}:{nonce}:00000001:foobar:auth:{ha2}"));
    let without_algorithm = format!(
        r#"Digest username="john",realm="{realm}",nonce="{nonce}",uri="/digest",qop=auth,nc=00000001,cnonce="foobar",response="{response}",opaque="{opaque}""#
    );
    // Deviation: the seed's header names no algorithm, which RFC 7616 says means MD5, and MD5
    // was not offered: refused (the seed ignores the client's algorithm).
    let (s, _, _) = http_get(&url, Some(&without_algorithm)).await;
    assert_eq!(s, 401);
    // What a client that read the challenge sends (also in the seed's spelling `MD5-Sess`).
    let with_algorithm =
        without_algorithm.replace(",response=", ",algorithm=\"MD5-Sess\",response=");
    let (s, _, body) = http_get(&url, Some(&with_algorithm)).await;
    assert_eq!((s, body.as_str()), (200, "digest_auth:john"));
}

#[tokio::test]
async fn seed_digest_auth_login_bad_realm() {
    let base = get_password_app(default_auth()).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let h = seed_header("john", "john", "bye", "Wrong Realm", &ch, "/digest", true);
    let (s, lines, _) = http_get(&url, Some(&h)).await;
    assert_eq!(s, 401);
    assert!(
        matches_seed_challenge(&lines[0], REALM, QOP_TAIL),
        "{lines:?}"
    );
}

#[tokio::test]
async fn seed_digest_auth_login_invalid2() {
    let base = get_password_app(default_auth()).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let h = seed_header("john", "david", "bye", &ch["realm"], &ch, "/digest", true);
    let (s, lines, _) = http_get(&url, Some(&h)).await;
    assert_eq!(s, 401);
    assert!(
        matches_seed_challenge(&lines[0], REALM, QOP_TAIL),
        "{lines:?}"
    );
}

#[test]
fn seed_digest_generate_ha1() {
    let auth = default_auth();
    assert_eq!(
        auth.generate_ha1("pawel", "test"),
        md5(&format!("pawel:{REALM}:test"))
    );
    assert_eq!(
        generate_ha1(Algorithm::Md5, "john", REALM, "bye"),
        "437b14a7fd1620c6d686c1888e5cb312"
    );
}

async fn custom_nonce_checker(qop: bool) {
    let nonces = Arc::new(Mutex::new(Vec::<String>::new()));
    let opaques = Arc::new(Mutex::new(Vec::<String>::new()));
    let (n, o) = (nonces.clone(), opaques.clone());
    let mut auth = default_auth()
        .generate_nonce(|| "not a good nonce".to_owned())
        .verify_nonce(move |nonce| {
            n.lock().unwrap().push(nonce.to_owned());
            true
        })
        .generate_opaque(|| "some opaque".to_owned())
        .verify_opaque(move |opaque| {
            o.lock().unwrap().push(opaque.to_owned());
            true
        });
    if !qop {
        auth = auth.no_qop();
    }
    let base = get_password_app(auth).await;
    let url = format!("{base}/digest");
    let (lines, ch) = challenge(&url).await;
    assert!(
        lines[0].contains(r#"nonce="not a good nonce",opaque="some opaque""#),
        "{lines:?}"
    );
    let h = seed_header("john", "john", "bye", &ch["realm"], &ch, "/digest", qop);
    let (s, _, body) = http_get(&url, Some(&h)).await;
    assert_eq!((s, body.as_str()), (200, "digest_auth:john"));
    assert_eq!(*nonces.lock().unwrap(), ["not a good nonce"]);
    assert_eq!(*opaques.lock().unwrap(), ["some opaque"]);
}

#[tokio::test]
async fn seed_digest_custom_nonce_checker() {
    custom_nonce_checker(true).await;
}

// --- test_digest_ha1_password.py ---------------------------------------------------------

#[tokio::test]
async fn seed_digest_ha1_pw_auth_login_valid() {
    let ha1_of = |username: &str| {
        get_password(username).map(|p| generate_ha1(Algorithm::Md5, username, REALM, &p))
    };
    let auth = DigestAuth::get_password_sync(ha1_of).use_ha1(true);
    let base = hello_route("/digest_ha1_pw", "digest_auth_ha1_pw:", auth.clone()).await;
    let url = format!("{base}/digest_ha1_pw");
    let (_, ch) = challenge(&url).await;
    // Deviation: the seed's header has no qop although `qop="auth"` was offered (an RFC 2069
    // downgrade, which the seed accepts): refused here.
    let h = seed_header(
        "john",
        "john",
        "bye",
        &ch["realm"],
        &ch,
        "/digest_ha1_pw",
        false,
    );
    let (s, _, _) = http_get(&url, Some(&h)).await;
    assert_eq!(s, 401);
    // With the offered qop it works.
    let h = seed_header(
        "john",
        "john",
        "bye",
        &ch["realm"],
        &ch,
        "/digest_ha1_pw",
        true,
    );
    let (s, _, body) = http_get(&url, Some(&h)).await;
    assert_eq!((s, body.as_str()), (200, "digest_auth_ha1_pw:john"));
    // And the seed's exact header against an RFC 2069 (qop=None) configuration.
    let base = hello_route("/digest_ha1_pw", "digest_auth_ha1_pw:", auth.no_qop()).await;
    let url = format!("{base}/digest_ha1_pw");
    let (_, ch) = challenge(&url).await;
    let h = seed_header(
        "john",
        "john",
        "bye",
        &ch["realm"],
        &ch,
        "/digest_ha1_pw",
        false,
    );
    let (s, _, body) = http_get(&url, Some(&h)).await;
    assert_eq!((s, body.as_str()), (200, "digest_auth_ha1_pw:john"));
}

// --- test_digest_no_qop.py ---------------------------------------------------------------

fn no_qop_auth() -> DigestAuth<String> {
    default_auth().no_qop()
}

#[tokio::test]
async fn seed_no_qop_digest_auth_prompt() {
    let base = get_password_app(no_qop_auth()).await;
    let (s, lines, _) = http_get(&format!("{base}/digest"), None).await;
    assert_eq!(s, 401);
    assert!(matches_seed_challenge(&lines[0], REALM, ""), "{lines:?}");
}

#[tokio::test]
async fn seed_no_qop_digest_auth_ignore_options() {
    let base = get_password_app(no_qop_auth()).await;
    let res = client()
        .request(reqwest::Method::OPTIONS, format!("{base}/digest"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("www-authenticate").is_none());
}

#[tokio::test]
async fn seed_no_qop_digest_auth_login_valid() {
    let base = get_password_app(no_qop_auth()).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let h = seed_header("john", "john", "bye", &ch["realm"], &ch, "/digest", false);
    let (s, _, body) = http_get(&url, Some(&h)).await;
    assert_eq!((s, body.as_str()), (200, "digest_auth:john"));
    // Deviation: without nc, a nonce is good for one request (the seed accepts the same
    // header until the session nonce rotates). The retry gets stale=true and a new nonce.
    let (s, lines, _) = http_get(&url, Some(&h)).await;
    assert_eq!(s, 401);
    assert_eq!(
        parse_challenge(&lines[0]).get("stale").map(String::as_str),
        Some("true")
    );
}

#[tokio::test]
async fn seed_no_qop_digest_auth_login_bad_realm() {
    let base = get_password_app(no_qop_auth()).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let h = seed_header("john", "john", "bye", "Wrong Realm", &ch, "/digest", false);
    let (s, lines, _) = http_get(&url, Some(&h)).await;
    assert_eq!(s, 401);
    assert!(matches_seed_challenge(&lines[0], REALM, ""), "{lines:?}");
}

#[tokio::test]
async fn seed_no_qop_digest_auth_login_invalid2() {
    let base = get_password_app(no_qop_auth()).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let h = seed_header("david", "david", "bye", &ch["realm"], &ch, "/digest", false);
    let (s, lines, _) = http_get(&url, Some(&h)).await;
    assert_eq!(s, 401);
    assert!(matches_seed_challenge(&lines[0], REALM, ""), "{lines:?}");
}

#[test]
fn seed_no_qop_digest_generate_ha1() {
    assert_eq!(
        no_qop_auth().generate_ha1("pawel", "test"),
        md5(&format!("pawel:{REALM}:test"))
    );
}

#[tokio::test]
async fn seed_no_qop_digest_custom_nonce_checker() {
    custom_nonce_checker(false).await;
}

// --- §6.14's suggested extra cases ---------------------------------------------------------

#[tokio::test]
async fn seed_extra_client_realm_uri_method_and_qop_mismatches() {
    let base = get_password_app(default_auth()).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    // A client that consistently uses realm "Other" (the seed accepts it in password mode).
    let mut other = ch.clone();
    other.insert("realm".to_owned(), "Other".to_owned());
    let h = seed_header("john", "john", "bye", "Other", &other, "/digest", true);
    assert_eq!(http_get(&url, Some(&h)).await.0, 401);
    // uri not the request target (the seed never compares it): 400.
    let h = seed_header("john", "john", "bye", REALM, &ch, "/elsewhere", true);
    assert_eq!(http_get(&url, Some(&h)).await.0, 400);
    // The response computed for GET, sent with HEAD (the seed uses the real method too): 401.
    let res = client()
        .head(&url)
        .header(
            "authorization",
            seed_header("john", "john", "bye", REALM, &ch, "/digest", true),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // The client sends a qop to a qop=None server (the seed: 500): 401.
    let base = get_password_app(no_qop_auth()).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let h = seed_header("john", "john", "bye", REALM, &ch, "/digest", true);
    assert_eq!(http_get(&url, Some(&h)).await.0, 401);
    // MD5-sess without a cnonce (the seed: 500): 401.
    let base = get_password_app(no_qop_auth().algorithm(Algorithm::Md5Sess)).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let h = seed_header("john", "john", "bye", REALM, &ch, "/digest", false)
        .replace(",response=", ",algorithm=MD5-sess,response=");
    assert_eq!(http_get(&url, Some(&h)).await.0, 401);
    // Uppercase response hex: accepted (the seed: refused; RFC hex is case-insensitive).
    let base = get_password_app(default_auth()).await;
    let url = format!("{base}/digest");
    let (_, ch) = challenge(&url).await;
    let h = seed_header("john", "john", "bye", REALM, &ch, "/digest", true);
    let response = h
        .split("response=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let upper = h.replace(&response, &response.to_uppercase());
    assert_eq!(http_get(&url, Some(&upper)).await.0, 200);
}
