//! Unit tests of the Digest auth as a whole: RFC 7616 §3.9 vectors, the verification order,
//! `username*`, `userhash`, redaction.

#![allow(clippy::result_large_err)]

use std::sync::atomic::{AtomicUsize, Ordering};

use std::time::Duration;

use super::nonce::{now_ms, NonceKey};
use super::verify::Responses;
use super::*;
use bytes::Bytes;

use crate::policy::{Decision, LoginRequired};

const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

fn rfc_creds(header: &str) -> DigestCredentials {
    DigestCredentials::parse(header.as_bytes()).unwrap()
}

#[test]
fn rfc7616_md5_and_sha256_vectors() {
    // RFC 7616 §3.9.1.
    for (alg, response) in [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        (
            "SHA-256",
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
    ] {
        let creds = rfc_creds(&format!(
            r#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm={alg}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="{response}", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
        ));
        let a = creds.algorithm();
        let ha1 = a.hash(&[b"Mufasa", b"http-auth@example.org", b"Circle of Life"]);
        assert_eq!(
            ha1.as_str(),
            generate_ha1(a, "Mufasa", "http-auth@example.org", "Circle of Life")
        );
        let expected = Responses::new(&creds, &ha1, None).for_method("GET");
        assert_eq!(expected.as_str(), response, "{alg}");
    }
}

#[test]
fn sha512_256_vector() {
    // RFC 7616 §3.9.2's inputs. The RFC's printed userhash and response are wrong (they are
    // not SHA-512/256 of those inputs; see the RFC errata); these values come from OpenSSL's
    // SHA-512/256 (Python hashlib.new("sha512_256")).
    let username = "J\u{e4}s\u{f8}n Doe";
    let a = Algorithm::Sha512_256;
    assert_eq!(
        a.userhash(username, "api@example.org"),
        "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
    );
    let creds = rfc_creds(
        r#"Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm="api@example.org", uri="/doe.json", algorithm=SHA-512-256, nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", nc=00000001, cnonce="NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v", qop=auth, response="x", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS""#,
    );
    assert_eq!(creds.username(), username);
    let ha1 = a.hash(&[username.as_bytes(), b"api@example.org", b"Secret, or not?"]);
    assert_eq!(
        Responses::new(&creds, &ha1, None)
            .for_method("GET")
            .as_str(),
        "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"
    );
}

/// A test client: answers challenges the way RFC 7616 clients do.
struct Client<'a> {
    user: &'a str,
    password: &'a str,
    realm: &'a str,
    algorithm: Algorithm,
    qop: Option<&'a str>,
    uri: &'a str,
    method: &'a str,
    cnonce: &'a str,
    body: &'a [u8],
}

impl Default for Client<'_> {
    fn default() -> Self {
        Self {
            user: "john",
            password: "hello",
            realm: crate::DEFAULT_REALM,
            algorithm: Algorithm::Md5,
            qop: Some("auth"),
            uri: "/digest",
            method: "GET",
            cnonce: "0a4f113b",
            body: b"",
        }
    }
}

impl Client<'_> {
    fn response(&self, nonce: &str, nc: &str) -> String {
        let a = self.algorithm;
        let mut ha1 = a.hash(&[
            self.user.as_bytes(),
            self.realm.as_bytes(),
            self.password.as_bytes(),
        ]);
        if a.is_session() {
            ha1 = a.hash(&[ha1.as_bytes(), nonce.as_bytes(), self.cnonce.as_bytes()]);
        }
        let ha2 = if self.qop == Some("auth-int") {
            let body = a.hash(&[self.body]);
            a.hash(&[self.method.as_bytes(), self.uri.as_bytes(), body.as_bytes()])
        } else {
            a.hash(&[self.method.as_bytes(), self.uri.as_bytes()])
        };
        match self.qop {
            Some(q) => a.hash(&[
                ha1.as_bytes(),
                nonce.as_bytes(),
                nc.as_bytes(),
                self.cnonce.as_bytes(),
                q.as_bytes(),
                ha2.as_bytes(),
            ]),
            None => a.hash(&[ha1.as_bytes(), nonce.as_bytes(), ha2.as_bytes()]),
        }
        .as_str()
        .to_owned()
    }

    fn header(&self, nonce: &str, opaque: &str, nc: &str) -> String {
        let response = self.response(nonce, nc);
        let qop = match self.qop {
            Some(q) => format!(", qop={q}, nc={nc}, cnonce=\"{}\"", self.cnonce),
            None if self.algorithm.is_session() => format!(", cnonce=\"{}\"", self.cnonce),
            None => String::new(),
        };
        format!(
            r#"Digest username="{}", realm="{}", nonce="{nonce}", uri="{}", algorithm={}{qop}, response="{response}", opaque="{opaque}""#,
            self.user, self.realm, self.uri, self.algorithm
        )
    }
}

fn auth() -> DigestAuth<String> {
    DigestAuth::get_password_sync(|u| match u {
        "john" => Some("hello".to_owned()),
        "J\u{e4}s\u{f8}n Doe" => Some("Secret, or not?".to_owned()),
        _ => None,
    })
    .secret(SECRET)
}

fn challenge_of<U: Clone + Send + Sync + 'static>(auth: &DigestAuth<U>) -> (String, String) {
    let (nonce, opaque) = auth.get_ref().fresh_nonce_and_opaque();
    (nonce, opaque)
}

fn check<U: Clone + Send + Sync + 'static>(
    policy: &LoginRequired<U>,
    method: &str,
    uri: &str,
    authorization: Option<&str>,
    body: Option<&[u8]>,
) -> Result<Identity<U>, http::Response<Bytes>> {
    let mut req = http::Request::builder().method(method).uri(uri);
    if let Some(a) = authorization {
        req = req.header(
            "authorization",
            http::HeaderValue::from_bytes(a.as_bytes()).unwrap(),
        );
    }
    let (parts, ()) = req.body(()).unwrap().into_parts();
    let body = body.map(Bytes::copy_from_slice);
    let head = AuthRequest::new(&parts).with_body(body.as_ref());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    match rt.block_on(policy.check(&head)) {
        Decision::Allow {
            identity: Some(identity),
            ..
        } => Ok(identity),
        Decision::Deny(res) => Err(res),
        Decision::Allow { .. } => panic!("unexpected anonymous allow"),
        Decision::ReadBody { limit, .. } => panic!("the policy asks for the body ({limit} bytes)"),
        Decision::Admit(_) => panic!("no shared throttle store here"),
    }
}

fn status(r: &Result<Identity<String>, http::Response<Bytes>>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(res) => res.status().as_u16(),
    }
}

fn kind(r: &Result<Identity<String>, http::Response<Bytes>>) -> Option<AuthErrorKind> {
    r.as_ref()
        .err()
        .and_then(|res| res.extensions().get::<AuthError>())
        .map(AuthError::kind)
}

fn challenges(r: &Result<Identity<String>, http::Response<Bytes>>) -> Vec<String> {
    r.as_ref()
        .err()
        .map(|res| {
            res.headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn default_challenge_is_the_seeds() {
    let policy = auth().login_required();
    let r = check(&policy, "GET", "/digest", None, None);
    let c = challenges(&r);
    assert_eq!(c.len(), 1);
    let (head, rest) = c[0].split_once(",nonce=\"").unwrap();
    assert_eq!(head, r#"Digest realm="Authentication Required""#);
    let (nonce, rest) = rest.split_once("\",opaque=\"").unwrap();
    let (opaque, tail) = rest.split_once('"').unwrap();
    assert_eq!(tail, r#",algorithm="MD5",qop="auth""#);
    assert_eq!(nonce.len(), 72);
    assert_eq!(opaque.len(), 32);
    assert!(nonce
        .bytes()
        .chain(opaque.bytes())
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
}

#[test]
fn valid_then_replay_then_next_nc() {
    let auth = auth();
    let policy = auth.login_required();
    let (nonce, opaque) = challenge_of(&auth);
    let client = Client::default();
    let h1 = client.header(&nonce, &opaque, "00000001");
    let ok = check(&policy, "GET", "/digest", Some(&h1), None).unwrap();
    assert_eq!(ok.user, "john");
    assert_eq!(ok.username.as_deref(), Some("john"));
    let replay = check(&policy, "GET", "/digest", Some(&h1), None);
    assert_eq!(status(&replay), 401);
    assert_eq!(kind(&replay), Some(AuthErrorKind::StaleNonce));
    assert!(challenges(&replay)[0].ends_with(",stale=true"));
    // Out of order: 3 then 2, each once.
    for nc in ["00000003", "00000002"] {
        let h = client.header(&nonce, &opaque, nc);
        assert_eq!(
            status(&check(&policy, "GET", "/digest", Some(&h), None)),
            200
        );
        assert_eq!(
            status(&check(&policy, "GET", "/digest", Some(&h), None)),
            401
        );
    }
}

#[test]
fn every_algorithm_and_qop() {
    for alg in algorithm::ALL {
        for qop in [Some(Qop::Auth), Some(Qop::AuthInt), None] {
            let auth = auth().algorithm(alg).qop(qop);
            let policy = auth.login_required();
            let (nonce, opaque) = challenge_of(&auth);
            let client = Client {
                algorithm: alg,
                qop: qop.map(Qop::name),
                method: "POST",
                body: b"{\"a\":1}",
                ..Client::default()
            };
            let h = client.header(&nonce, &opaque, "00000001");
            let r = check(&policy, "POST", "/digest", Some(&h), Some(b"{\"a\":1}"));
            assert_eq!(status(&r), 200, "{alg} {qop:?}");
            if qop == Some(Qop::AuthInt) {
                // Another body: refused.
                let h = client.header(&nonce, &opaque, "00000002");
                let r = check(&policy, "POST", "/digest", Some(&h), Some(b"{\"a\":2}"));
                assert_eq!(status(&r), 401, "{alg} body swap");
            }
            // Wrong password: 401, not stale.
            let bad = Client {
                password: "nope",
                ..client
            };
            let h = bad.header(&nonce, &opaque, "00000009");
            let r = check(&policy, "POST", "/digest", Some(&h), Some(b"{\"a\":1}"));
            assert_eq!(
                kind(&r),
                Some(AuthErrorKind::InvalidCredentials),
                "{alg} {qop:?}"
            );
        }
    }
}

#[test]
fn body_limit_only_for_auth_int() {
    let auth = auth().qop([Qop::Auth, Qop::AuthInt]).max_body(10);
    let req = |a: &str| {
        let (parts, ()) = http::Request::post("/x")
            .header("authorization", a)
            .body(())
            .unwrap()
            .into_parts();
        parts
    };
    let (nonce, opaque) = challenge_of(&auth);
    let valid = |qop: &'static str| {
        Client {
            qop: Some(qop),
            uri: "/x",
            method: "POST",
            ..Client::default()
        }
        .header(&nonce, &opaque, "00000001")
    };
    // What the policy answers: whether it asks for the body first (and its limit).
    let body_limit = |auth: &DigestAuth, parts: &http::request::Parts| match auth
        .login_required()
        .check(&AuthRequest::new(parts))
        .into_ready()
    {
        Ok(Decision::ReadBody { limit, .. }) => Some(limit),
        _ => None,
    };
    let parts = req(&valid("auth-int"));
    assert_eq!(body_limit(&auth, &parts), Some(10));
    let parts = req(&valid("auth-int").replace("qop=auth-int", r#"qop="AUTH-INT""#));
    assert_eq!(body_limit(&auth, &parts), Some(10));
    let parts = req(&valid("auth"));
    assert_eq!(body_limit(&auth, &parts), None);
    // Credentials refused before any callback (no nonce, wrong realm, wrong uri...) read no
    // body: a forged header cannot make the server buffer.
    let parts = req(r#"Digest username="a", qop=auth-int"#);
    assert_eq!(body_limit(&auth, &parts), None);
    let parts = req(&valid("auth-int").replace("uri=\"/x\"", "uri=\"/y\""));
    assert_eq!(body_limit(&auth, &parts), None);
    let parts = req(r#"Basic abc="#);
    assert_eq!(body_limit(&auth, &parts), None);
    // Deciding to read the body calls no verify callback; the userhash is resolved while
    // parsing (once per pass).
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let hashed = auth.clone().userhash_resolver(move |_, _| {
        counted.fetch_add(1, Ordering::Relaxed);
        None
    });
    let parts =
        req(&valid("auth-int").replace("username=\"john\"", "username=\"ab12\", userhash=true"));
    assert_eq!(body_limit(&hashed, &parts), Some(10));
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    // Not offered: never buffered.
    let parts = req(&valid("auth-int"));
    assert_eq!(body_limit(&auth.clone().qop([Qop::Auth]), &parts), None);
    // auth-int without a buffered body (used outside the tower layer): refused, not a panic.
    let auth = auth.qop([Qop::AuthInt]);
    let policy = auth.login_required();
    let (nonce, opaque) = challenge_of(&auth);
    let h = Client {
        qop: Some("auth-int"),
        ..Client::default()
    }
    .header(&nonce, &opaque, "00000001");
    // Through the policy: it asks for the body first.
    let (parts, ()) = http::Request::get("/digest")
        .header("authorization", &h)
        .body(())
        .unwrap()
        .into_parts();
    let decision = policy.check(&AuthRequest::new(&parts)).into_ready();
    assert!(matches!(decision, Ok(Decision::ReadBody { limit: 10, .. })));
    // The scheme itself, without the body: refused, not a panic.
    let req = AuthRequest::new(&parts);
    let claim = auth.get_ref().parse(&req).unwrap();
    let r = auth
        .get_ref()
        .verify(claim, Some("john"), &req)
        .into_ready();
    assert!(matches!(r, Ok(Err(e)) if e.kind() == AuthErrorKind::MalformedCredentials));
}

#[test]
fn stale_only_with_a_correct_response() {
    let auth = auth().nonce_lifetime(Duration::from_secs(60));
    let policy = auth.login_required();
    let old = auth
        .get_ref()
        .key
        .nonce_at(crate::DEFAULT_REALM, now_ms() - 61_000);
    let opaque = auth.get_ref().key.opaque(&old);
    let good = Client::default().header(&old, &opaque, "00000001");
    let r = check(&policy, "GET", "/digest", Some(&good), None);
    assert_eq!(kind(&r), Some(AuthErrorKind::StaleNonce));
    let c = challenges(&r);
    assert!(c[0].ends_with(r#",qop="auth",stale=true"#), "{c:?}");
    // The fresh challenge works at once.
    let bad = Client {
        password: "wrong",
        ..Client::default()
    }
    .header(&old, &opaque, "00000001");
    let r = check(&policy, "GET", "/digest", Some(&bad), None);
    assert_eq!(kind(&r), Some(AuthErrorKind::InvalidCredentials));
    assert!(!challenges(&r)[0].contains("stale"));
    // Unknown user, expired nonce: no stale either.
    let unknown = Client {
        user: "nobody",
        ..Client::default()
    }
    .header(&old, &opaque, "00000001");
    let r = check(&policy, "GET", "/digest", Some(&unknown), None);
    assert_eq!(kind(&r), Some(AuthErrorKind::InvalidCredentials));
    // A nonce from the future (forged time cannot happen without the key; clock skew can).
    let future = auth
        .get_ref()
        .key
        .nonce_at(crate::DEFAULT_REALM, now_ms() + 60_000);
    let h = Client::default().header(&future, &auth.get_ref().key.opaque(&future), "00000001");
    let r = check(&policy, "GET", "/digest", Some(&h), None);
    assert_eq!(kind(&r), Some(AuthErrorKind::InvalidCredentials));
}

#[test]
fn foreign_and_tampered_nonces_never_reach_the_callback() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let auth = DigestAuth::get_password_sync(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        Some("hello".to_owned())
    })
    .secret(SECRET);
    let policy = auth.login_required();
    let (nonce, opaque) = challenge_of(&auth);
    let client = Client::default();
    // Another key, another realm.
    let other = DigestAuth::get_password_sync(|_| None).secret(&[9; 32]);
    let (n2, o2) = challenge_of(&other);
    let realm2 = auth.clone().realm("elsewhere");
    let (n3, o3) = challenge_of(&realm2);
    let mut tampered = nonce.clone().into_bytes();
    tampered[20] = if tampered[20] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    // A nonce of a secret this auth does not hold: stale (a rotation's removed secret, or a
    // restart's), so the client retries without asking its user; the callback is not asked.
    let h = client.header(&n2, &o2, "00000001");
    let r = check(&policy, "GET", "/digest", Some(&h), None);
    assert_eq!(kind(&r), Some(AuthErrorKind::StaleNonce));
    for (n, o) in [
        (n3.as_str(), o3.as_str()),
        (
            tampered.as_str(),
            auth.get_ref().key.opaque(&tampered).leak(),
        ),
        (nonce.as_str(), "00000000000000000000000000000000"),
        (nonce.as_str(), o2.as_str()),
        ("dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque.as_str()),
    ] {
        let h = client.header(n, o, "00000001");
        let r = check(&policy, "GET", "/digest", Some(&h), None);
        assert_eq!(kind(&r), Some(AuthErrorKind::InvalidCredentials), "{n} {o}");
    }
    // Missing opaque.
    let h = client
        .header(&nonce, &opaque, "00000001")
        .replace(&format!(r#", opaque="{opaque}""#), "");
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&h), None)),
        401
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let h = client.header(&nonce, &opaque, "00000001");
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&h), None)),
        200
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn offered_realm_algorithm_qop_and_uri_are_enforced() {
    let auth = auth().algorithms([Algorithm::Sha256, Algorithm::Md5]);
    let policy = auth.login_required();
    let (nonce, opaque) = challenge_of(&auth);
    let cases: Vec<(Client<'_>, &str, u16)> = vec![
        (Client::default(), "/digest", 200),
        (
            Client {
                algorithm: Algorithm::Sha256,
                ..Client::default()
            },
            "/digest",
            200,
        ),
        (
            Client {
                algorithm: Algorithm::Md5Sess,
                ..Client::default()
            },
            "/digest",
            401,
        ),
        (
            Client {
                realm: "Other",
                ..Client::default()
            },
            "/digest",
            401,
        ),
        (
            Client {
                qop: None,
                ..Client::default()
            },
            "/digest",
            401,
        ),
        (
            Client {
                qop: Some("auth-int"),
                ..Client::default()
            },
            "/digest",
            401,
        ),
        (
            Client {
                uri: "/other",
                ..Client::default()
            },
            "/digest",
            400,
        ),
        (
            Client {
                uri: "/digest",
                ..Client::default()
            },
            "/digest?x=1",
            400,
        ),
        (
            Client {
                uri: "/digest?x=1",
                ..Client::default()
            },
            "/digest?x=1",
            200,
        ),
        (
            Client {
                uri: "/digest?x=1",
                ..Client::default()
            },
            "/digest?x=2",
            400,
        ),
        (
            Client {
                uri: "/Digest",
                ..Client::default()
            },
            "/digest",
            400,
        ),
        (
            Client {
                uri: "http://example.com/digest",
                ..Client::default()
            },
            "http://example.com/digest",
            200,
        ),
        (
            Client {
                uri: "http://EXAMPLE.com/digest",
                ..Client::default()
            },
            "http://example.com/digest",
            200,
        ),
        (
            Client {
                uri: "http://evil.com/digest",
                ..Client::default()
            },
            "http://example.com/digest",
            400,
        ),
        (
            Client {
                uri: "http://example.com/digest",
                ..Client::default()
            },
            "/digest",
            400,
        ),
        (
            Client {
                method: "POST",
                ..Client::default()
            },
            "/digest",
            401,
        ),
    ];
    for (i, (client, target, expected)) in cases.into_iter().enumerate() {
        let nc = format!("{:08x}", i + 1);
        let h = client.header(&nonce, &opaque, &nc);
        let r = check(&policy, "GET", target, Some(&h), None);
        assert_eq!(status(&r), expected, "case {i}: {h} on {target}");
    }
    // Without the algorithm parameter the client means MD5 (offered here).
    let h = Client::default()
        .header(&nonce, &opaque, "00000100")
        .replace(", algorithm=MD5", "");
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&h), None)),
        200
    );
    // ...which a SHA-256-only auth refuses.
    let sha = auth.clone().algorithm(Algorithm::Sha256);
    let h = Client::default()
        .header(&nonce, &opaque, "00000101")
        .replace(", algorithm=MD5", "");
    let r = check(&sha.login_required(), "GET", "/digest", Some(&h), None);
    assert_eq!(status(&r), 401);
    // Several challenges, one per line, in order, sharing one nonce.
    let r = check(&policy, "GET", "/digest", None, None);
    let c = challenges(&r);
    assert_eq!(c.len(), 2);
    assert!(c[0].contains(r#"algorithm="SHA-256""#));
    assert!(c[1].contains(r#"algorithm="MD5""#));
}

#[test]
fn response_hex_is_case_insensitive_and_length_checked() {
    let auth = auth();
    let policy = auth.login_required();
    let (nonce, opaque) = challenge_of(&auth);
    let client = Client::default();
    let h = client.header(&nonce, &opaque, "00000001");
    let resp = client.response(&nonce, "00000001");
    let upper = h.replace(&resp, &resp.to_uppercase());
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&upper), None)),
        200
    );
    let h = client.header(&nonce, &opaque, "00000002");
    let resp = client.response(&nonce, "00000002");
    for bad in [&resp[..31], &format!("{resp}0"), ""] {
        let b = h.replace(&resp, bad);
        assert_eq!(
            status(&check(&policy, "GET", "/digest", Some(&b), None)),
            401
        );
    }
    // The nonce and opaque are hex too: either case.
    let h = client
        .header(&nonce.to_uppercase(), &opaque.to_uppercase(), "00000002")
        .to_owned();
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&h), None)),
        200
    );
}

#[test]
fn rfc2069_mode_is_once_per_nonce() {
    let auth = auth().no_qop();
    let policy = auth.login_required();
    let r = check(&policy, "GET", "/digest", None, None);
    let c = &challenges(&r)[0];
    assert!(!c.contains("qop") && !c.contains("algorithm"), "{c}");
    let (nonce, opaque) = challenge_of(&auth);
    let client = Client {
        qop: None,
        ..Client::default()
    };
    let h = client.header(&nonce, &opaque, "");
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&h), None)),
        200
    );
    let again = check(&policy, "GET", "/digest", Some(&h), None);
    assert_eq!(kind(&again), Some(AuthErrorKind::StaleNonce));
    // A client sending qop to an RFC 2069 server: 401 (Flask-HTTPAuth: 500).
    let h = Client::default().header(&nonce, &opaque, "00000001");
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&h), None)),
        401
    );
    // MD5-sess without qop still announces its algorithm.
    let sess = auth.algorithm(Algorithm::Md5Sess).login_required();
    let c = challenges(&check(&sess, "GET", "/digest", None, None));
    assert!(c[0].ends_with(r#",algorithm="MD5-sess""#), "{c:?}");
}

#[test]
fn username_star_and_charset() {
    let auth = auth().charset_utf8();
    let policy = auth.login_required();
    let c = challenges(&check(&policy, "GET", "/digest", None, None));
    assert!(c[0].ends_with(r#",qop="auth",charset=UTF-8"#), "{c:?}");
    let (nonce, opaque) = challenge_of(&auth);
    let client = Client {
        user: "J\u{e4}s\u{f8}n Doe",
        password: "Secret, or not?",
        ..Client::default()
    };
    let h = client.header(&nonce, &opaque, "00000001").replace(
        "username=\"J\u{e4}s\u{f8}n Doe\"",
        "username*=UTF-8''J%C3%A4s%C3%B8n%20Doe",
    );
    assert!(h.is_ascii());
    let id = check(&policy, "GET", "/digest", Some(&h), None).unwrap();
    assert_eq!(id.user, "J\u{e4}s\u{f8}n Doe");
    // Raw UTF-8 in the quoted username works too.
    let h = client.header(&nonce, &opaque, "00000002");
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&h), None)),
        200
    );
    // Both forms at once: refused.
    let both = client
        .header(&nonce, &opaque, "00000003")
        .replace("realm=", "username*=UTF-8''x, realm=");
    let r = check(&policy, "GET", "/digest", Some(&both), None);
    assert_eq!(kind(&r), Some(AuthErrorKind::MalformedCredentials));
}

#[test]
fn userhash() {
    let auth = auth()
        .algorithms([Algorithm::Sha512_256, Algorithm::Md5])
        .userhash_users(["john", "J\u{e4}s\u{f8}n Doe"])
        .realm("api@example.org");
    let policy = auth.login_required();
    let c = challenges(&check(&policy, "GET", "/doe.json", None, None));
    assert!(
        c[0].ends_with(r#",algorithm="SHA-512-256",qop="auth",userhash=true"#),
        "{c:?}"
    );
    let (nonce, opaque) = challenge_of(&auth);
    for (i, alg) in [Algorithm::Sha512_256, Algorithm::Md5]
        .into_iter()
        .enumerate()
    {
        let user = "J\u{e4}s\u{f8}n Doe";
        let client = Client {
            user,
            password: "Secret, or not?",
            realm: "api@example.org",
            algorithm: alg,
            uri: "/doe.json",
            ..Client::default()
        };
        let nc = format!("0000000{}", i + 1);
        let hashed = alg.userhash(user, "api@example.org");
        let h = client.header(&nonce, &opaque, &nc).replace(
            &format!("username=\"{user}\""),
            &format!("username=\"{hashed}\", userhash=true"),
        );
        let id = check(&policy, "GET", "/doe.json", Some(&h), None).unwrap();
        assert_eq!(id.user, user);
        assert_eq!(id.username.as_deref(), Some(user));
    }
    // An unknown hash, and a plain username that happens to be sent with userhash=true.
    let client = Client {
        realm: "api@example.org",
        uri: "/doe.json",
        ..Client::default()
    };
    let h = client
        .header(&nonce, &opaque, "00000010")
        .replace("username=\"john\"", "username=\"john\", userhash=true");
    assert_eq!(
        status(&check(&policy, "GET", "/doe.json", Some(&h), None)),
        401
    );
    // Plain usernames stay accepted.
    let h = client.header(&nonce, &opaque, "00000011");
    assert_eq!(
        status(&check(&policy, "GET", "/doe.json", Some(&h), None)),
        200
    );
    // userhash=true to an auth that did not offer it: refused.
    let plain = auth.clone().userhash(false);
    let h = client.header(&nonce, &opaque, "00000012").replace(
        "username=\"john\"",
        &format!(
            "username=\"{}\", userhash=true",
            Algorithm::Md5.userhash("john", "api@example.org")
        ),
    );
    let r = check(&plain.login_required(), "GET", "/doe.json", Some(&h), None);
    assert_eq!(kind(&r), Some(AuthErrorKind::MalformedCredentials));
    // A resolver works as well.
    let resolved = auth.clone().userhash_resolver(|hash, alg| {
        (hash == alg.userhash("john", "api@example.org")).then(|| "john".to_owned())
    });
    let h = client.header(&nonce, &opaque, "00000013").replace(
        "username=\"john\"",
        &format!(
            "username=\"{}\", userhash=true",
            Algorithm::Md5
                .userhash("john", "api@example.org")
                .to_uppercase()
        ),
    );
    assert_eq!(
        status(&check(
            &resolved.login_required(),
            "GET",
            "/doe.json",
            Some(&h),
            None
        )),
        200
    );
}

#[test]
fn ha1_mode_and_get_user() {
    let ha1 = generate_ha1(Algorithm::Md5, "john", crate::DEFAULT_REALM, "hello");
    let stored = ha1.clone();
    let auth = DigestAuth::get_password_sync(move |u| (u == "john").then(|| stored.to_uppercase()))
        .use_ha1(true)
        .secret(SECRET);
    assert_eq!(auth.generate_ha1("john", "hello"), ha1);
    let policy = auth.login_required();
    let (nonce, opaque) = challenge_of(&auth);
    let h = Client::default().header(&nonce, &opaque, "00000001");
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&h), None)),
        200
    );
    // A password where an HA1 is expected never matches.
    let wrong = DigestAuth::get_password_sync(|_| Some("hello".to_owned()))
        .use_ha1(true)
        .secret(SECRET);
    let h = Client::default().header(&nonce, &opaque, "00000001");
    assert_eq!(
        status(&check(
            &wrong.login_required(),
            "GET",
            "/digest",
            Some(&h),
            None
        )),
        401
    );

    // get_user: per-algorithm HA1 and a user object.
    #[derive(Clone, Debug, PartialEq)]
    struct User {
        id: u32,
    }
    let auth = DigestAuth::get_user(|username: String, alg: Algorithm| async move {
        (username == "john").then(|| {
            (
                generate_ha1(alg, "john", crate::DEFAULT_REALM, "hello"),
                User { id: 7 },
            )
        })
    })
    .use_ha1(true)
    .algorithms([Algorithm::Sha256, Algorithm::Md5Sess])
    .secret(SECRET);
    let policy: LoginRequired<User> = auth.login_required();
    let (nonce, opaque) = challenge_of(&auth);
    for (i, alg) in [Algorithm::Sha256, Algorithm::Md5Sess]
        .into_iter()
        .enumerate()
    {
        let h = Client {
            algorithm: alg,
            ..Client::default()
        }
        .header(&nonce, &opaque, &format!("0000000{}", i + 1));
        let mut req = http::Request::get("/digest");
        req = req.header("authorization", h);
        let (parts, ()) = req.body(()).unwrap().into_parts();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        match rt.block_on(policy.check(&AuthRequest::new(&parts))) {
            Decision::Allow {
                identity: Some(id), ..
            } => {
                assert_eq!(id.user, User { id: 7 });
                assert_eq!(id.username.as_deref(), Some("john"));
            }
            other => panic!("{alg}: {other:?}"),
        }
    }
}

#[test]
fn empty_stored_password_is_no_account() {
    let auth = DigestAuth::get_password_sync(|_| Some(String::new())).secret(SECRET);
    let policy = auth.login_required();
    let (nonce, opaque) = challenge_of(&auth);
    let h = Client {
        password: "",
        ..Client::default()
    }
    .header(&nonce, &opaque, "00000001");
    let r = check(&policy, "GET", "/digest", Some(&h), None);
    assert_eq!(kind(&r), Some(AuthErrorKind::InvalidCredentials));
}

#[test]
#[should_panic(expected = "one hash function")]
fn ha1_with_get_password_and_two_hash_functions_panics() {
    let _ = auth()
        .use_ha1(true)
        .algorithms([Algorithm::Sha256, Algorithm::Md5]);
}

#[test]
#[should_panic(expected = "at least 32 bytes")]
fn short_secret_panics() {
    let _ = auth().secret(b"short");
}

#[test]
fn config_errors() {
    assert!(auth().try_scheme("Bad Scheme").is_err());
    assert!(auth().try_realm("a\r\nb").is_err());
    let a = auth().scheme("MyDigest").realm("My Realm");
    let policy = a.login_required();
    let c = challenges(&check(&policy, "GET", "/digest", None, None));
    assert!(
        c[0].starts_with(r#"MyDigest realm="My Realm",nonce=""#),
        "{c:?}"
    );
    // Credentials under either name are claimed.
    let (nonce, opaque) = challenge_of(&a);
    let h = Client {
        realm: "My Realm",
        ..Client::default()
    }
    .header(&nonce, &opaque, "00000001");
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&h), None)),
        200
    );
    let h = Client {
        realm: "My Realm",
        ..Client::default()
    }
    .header(&nonce, &opaque, "00000002")
    .replacen("Digest", "mydigest", 1);
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&h), None)),
        200
    );
    // A custom nonce with control characters cannot inject a header line.
    let a = auth()
        .generate_nonce(|| "a\r\nSet-Cookie: x".to_owned())
        .verify_nonce(|_| true);
    let c = challenges(&check(&a.login_required(), "GET", "/digest", None, None));
    assert!(c[0].contains(r#"nonce="aSet-Cookie: x""#), "{c:?}");
}

#[test]
fn malformed_headers_are_401_never_500() {
    let auth = auth();
    let policy = auth.login_required();
    let (nonce, opaque) = challenge_of(&auth);
    let good = Client::default().header(&nonce, &opaque, "00000001");
    let mut cases: Vec<String> = vec![
        "Digest".into(),
        "Digest ".into(),
        "Digest abc".into(),
        "Digest a".into(),
        "Digest username".into(),
        "Digest username=".into(),
        r#"Digest username="john"#.into(),
        r#"Digest username="john", realm"#.into(),
        format!("{good}, realm=\"x\""),
        format!("{good}, nonce=\"{nonce}\""),
        good.replace("nc=00000001", "nc=1"),
        good.replace("nc=00000001", "nc=00000000"),
        good.replace("algorithm=MD5", "algorithm=FOO"),
        good.replace("qop=auth", "qop=auth-conf"),
        good.replace("\"john\"", "\"\""),
        good.replace("cnonce=\"0a4f113b\"", "cnonce=\"\""),
        good.replace("uri=\"/digest\"", "uri=\"\""),
        good.replace(", uri=\"/digest\"", ""),
        good.replace(", cnonce=\"0a4f113b\"", ""),
        good.replace(", nc=00000001", ""),
        good.replace(", realm=\"Authentication Required\"", ""),
        good.replace("response=\"", "response=\"x"),
        good.replace("response=\"", "response=\"\u{e9}"),
        good.replace("nonce=\"", "nonce=\"\u{e9}"),
    ];
    for field in ["username", "nonce", "response"] {
        cases.push(
            good.split(", ")
                .filter(|p| {
                    !p.starts_with(&format!("{field}="))
                        && !p.starts_with(&format!("Digest {field}="))
                })
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    for h in &cases {
        let r = check(&policy, "GET", "/digest", Some(h), None);
        let s = status(&r);
        assert!(s == 401 || s == 400, "{h}: {s}");
        assert!(!challenges(&r).is_empty(), "{h}");
    }
    // And the good one still works (none of the above used up its nc).
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&good), None)),
        200
    );
}

#[test]
fn custom_nonce_callbacks() {
    let nonces = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let opaques = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (n, o) = (nonces.clone(), opaques.clone());
    let auth = auth()
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
    let policy = auth.login_required();
    let c = challenges(&check(&policy, "GET", "/digest", None, None));
    assert!(
        c[0].contains(r#"nonce="not a good nonce",opaque="some opaque""#),
        "{c:?}"
    );
    let h = Client::default().header("not a good nonce", "some opaque", "00000001");
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&h), None)),
        200
    );
    assert_eq!(*nonces.lock().unwrap(), ["not a good nonce"]);
    assert_eq!(*opaques.lock().unwrap(), ["some opaque"]);
    // Replays of custom nonces are still refused.
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&h), None)),
        401
    );
}

#[test]
fn debug_never_shows_secrets() {
    let auth = DigestAuth::get_password_sync(|_| Some("hunter2-password".to_owned()))
        .secret(b"very-secret-key-material-0123456789");
    let d = format!("{auth:?}");
    assert!(
        !d.contains("hunter2") && !d.contains("very-secret") && !d.contains("NonceKey"),
        "{d}"
    );
    let key = NonceKey::from_secret(b"very-secret-key-material-0123456789");
    assert_eq!(format!("{key:?}"), "NonceKey(<redacted>)");
    // The error of a wrong password carries no credential.
    let policy = auth.login_required();
    let (nonce, opaque) = challenge_of(&auth);
    let client = Client {
        password: "my-wrong-password",
        ..Client::default()
    };
    let h = client.header(&nonce, &opaque, "00000001");
    let response = client.response(&nonce, "00000001");
    let r = check(&policy, "GET", "/digest", Some(&h), None);
    let err = r
        .as_ref()
        .err()
        .unwrap()
        .extensions()
        .get::<AuthError>()
        .unwrap();
    let shown = format!("{err:?} {err}");
    assert!(
        !shown.contains(&response) && !shown.contains("my-wrong"),
        "{shown}"
    );
    let creds = DigestCredentials::parse(h.as_bytes()).unwrap();
    assert!(!format!("{creds:?}").contains(&response));
}

#[test]
fn flask_constructor_defaults() {
    // Flask-HTTPAuth's test_constructor, in this API.
    let a = auth();
    assert_eq!(a.offered_qop(), [Qop::Auth]);
    assert_eq!(a.offered_algorithms(), [Algorithm::Md5]);
    assert!(a.clone().no_qop().offered_qop().is_empty());
    assert_eq!(
        a.clone()
            .qop([Qop::Auth, Qop::AuthInt, Qop::Auth])
            .offered_qop(),
        [Qop::Auth, Qop::AuthInt]
    );
    assert_eq!("md5".parse::<Algorithm>(), Ok(Algorithm::Md5));
    assert_eq!("md5-sess".parse::<Algorithm>(), Ok(Algorithm::Md5Sess));
    assert!("foo".parse::<Algorithm>().is_err());
}

#[test]
fn sync_callbacks_decide_without_suspending() {
    struct SlowStore;
    impl NonceStore for SlowStore {
        fn check(&self, _info: NonceInfo<'_>) -> AuthFuture<NonceUse> {
            AuthFuture::new(async { NonceUse::Fresh })
        }
    }
    let sync = auth();
    // The whole success path answers at once (the tower layer then decides inline).
    let (nonce, opaque) = challenge_of(&sync);
    let h = Client::default().header(&nonce, &opaque, "00000001");
    let (parts, ()) = http::Request::get("/digest")
        .header("authorization", h)
        .body(())
        .unwrap()
        .into_parts();
    let req = AuthRequest::new(&parts);
    let claim = sync.get_ref().parse(&req).unwrap();
    let Ok(result) = sync
        .get_ref()
        .verify(claim, Some("john"), &req)
        .into_ready()
    else {
        panic!("the sync path suspended");
    };
    assert_eq!(result.unwrap().user, "john");
    // With a store that suspends, it still works (through a boxed future).
    let slow = sync.nonce_store(SlowStore);
    let (nonce, opaque) = challenge_of(&slow);
    let h = Client::default().header(&nonce, &opaque, "00000001");
    assert_eq!(
        status(&check(
            &slow.login_required(),
            "GET",
            "/digest",
            Some(&h),
            None
        )),
        200
    );
}

/// Two users, a small shared store the test can look into.
fn small_store_auth(capacity: usize) -> (DigestAuth<String>, Arc<MemoryNonceStore>) {
    let store = Arc::new(MemoryNonceStore::new(capacity));
    let auth = DigestAuth::get_password_sync(|u| match u {
        "john" => Some("hello".to_owned()),
        "susan" => Some("bye".to_owned()),
        _ => None,
    })
    .secret(SECRET)
    .nonce_store(store.clone());
    (auth, store)
}

/// `nonce` with the hex letters whose index bit is set in `mask` in uppercase.
fn respell(nonce: &str, mask: u64) -> String {
    let mut bit = 0;
    nonce
        .chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                bit += 1;
                if mask & (1 << (bit - 1)) != 0 {
                    return c.to_ascii_uppercase();
                }
            }
            c
        })
        .collect()
}

#[test]
fn one_nonce_one_record_whatever_its_spelling() {
    let (auth, store) = small_store_auth(1_000);
    let policy = auth.login_required();
    let (nonce, opaque) = challenge_of(&auth);
    let client = Client::default();
    let h = client.header(&nonce, &opaque, "00000001");
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&h), None)),
        200
    );
    // The same count with the nonce in uppercase (a correct response for that spelling, so
    // only someone with the password can send it): a replay.
    let upper = client.header(&nonce.to_uppercase(), &opaque, "00000001");
    let r = check(&policy, "GET", "/digest", Some(&upper), None);
    assert_eq!(kind(&r), Some(AuthErrorKind::StaleNonce));
    // Mixed spellings too; a new count in any spelling is fresh, once.
    for mask in 1..64 {
        let h = client.header(&respell(&nonce, mask), &opaque, "00000001");
        assert_eq!(
            status(&check(&policy, "GET", "/digest", Some(&h), None)),
            401,
            "{mask}"
        );
    }
    let h2 = client.header(&respell(&nonce, 5), &opaque, "00000002");
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&h2), None)),
        200
    );
    let h2 = client.header(&nonce, &opaque, "00000002");
    assert_eq!(
        kind(&check(&policy, "GET", "/digest", Some(&h2), None)),
        Some(AuthErrorKind::StaleNonce)
    );
    assert_eq!(store.len(), 1);
}

#[test]
fn many_spellings_by_one_user_do_not_evict_a_victims_record() {
    // One nonce per shard: anything more in the victim's shard would evict it.
    let (auth, store) = small_store_auth(16);
    let policy = auth.login_required();
    let key = &auth.get_ref().key;
    let realm = crate::DEFAULT_REALM;
    // The victim's nonce is the older one, so it is what an eviction would drop.
    let victim_nonce = key.nonce_at(realm, now_ms() - 2_000);
    let victim_opaque = key.opaque(&victim_nonce);
    let victim = Client::default();
    let h = victim.header(&victim_nonce, &victim_opaque, "00000001");
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&h), None)),
        200
    );
    // Another valid user answers one nonce of their own in 300 spellings (each a correct
    // response): one record, whatever the shards of the spellings. The nonce is random: one
    // in another shard than the victim's (in the same one, its one record would rightly
    // evict the older).
    let shard = |n: &str| super::nonce::shard_of(&super::nonce::store_key(n));
    let nonce = std::iter::repeat_with(|| key.nonce_at(realm, now_ms() - 1_000))
        .find(|n| shard(n) != shard(&victim_nonce))
        .expect("a nonce in another shard");
    let opaque = key.opaque(&nonce);
    let attacker = Client {
        user: "susan",
        password: "bye",
        ..Client::default()
    };
    let mut accepted = 0;
    for mask in 0..300 {
        let h = attacker.header(&respell(&nonce, mask), &opaque, "00000001");
        if status(&check(&policy, "GET", "/digest", Some(&h), None)) == 200 {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 1);
    assert!(store.len() <= 2, "{}", store.len());
    // The victim's record is intact: its replay is a replay (not forgotten), its next count
    // goes through without a stale round trip.
    let replay = check(&policy, "GET", "/digest", Some(&h), None);
    assert_eq!(kind(&replay), Some(AuthErrorKind::StaleNonce));
    let h2 = victim.header(&victim_nonce, &victim_opaque, "00000002");
    let res = check(&policy, "GET", "/digest", Some(&h2), None);
    assert_eq!(status(&res), 200, "{:?}", kind(&res));
}

#[test]
fn custom_nonces_are_not_replayable_after_the_store_fills() {
    let counter = Arc::new(AtomicUsize::new(0));
    let (auth, store) = small_store_auth(16);
    let auth = auth
        .generate_nonce(move || format!("custom-{}", counter.fetch_add(1, Ordering::Relaxed)))
        .verify_nonce(|n| n.starts_with("custom-"))
        .generate_opaque(|| "op".to_owned())
        .verify_opaque(|o| o == "op");
    let policy = auth.login_required();
    let victim = Client::default();
    let captured = victim.header("custom-victim", "op", "00000001");
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&captured), None)),
        200
    );
    // Another valid user fills every shard (one nonce each) and then some.
    let attacker = Client {
        user: "susan",
        password: "bye",
        ..Client::default()
    };
    let mut refused = 0;
    for i in 0..200 {
        let h = attacker.header(&format!("custom-a{i}"), "op", "00000001");
        let r = check(&policy, "GET", "/digest", Some(&h), None);
        if status(&r) != 200 {
            assert_eq!(kind(&r), Some(AuthErrorKind::StaleNonce));
            assert!(challenges(&r)[0].ends_with(",stale=true"));
            refused += 1;
        }
    }
    assert!(refused > 0);
    assert!(store.len() <= 16);
    // The captured header is still a replay (before: its entry was evicted, then it was
    // accepted again), and the victim's next count still works.
    let r = check(&policy, "GET", "/digest", Some(&captured), None);
    assert_eq!(kind(&r), Some(AuthErrorKind::StaleNonce));
    let next = victim.header("custom-victim", "op", "00000002");
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&next), None)),
        200
    );
}

#[test]
fn custom_nonce_clients_recover_from_a_full_shard() {
    // Only the shard of the first nonce is full: a client refused there (stale=true) gets a
    // new nonce, in another shard, and goes through.
    let counter = Arc::new(AtomicUsize::new(0));
    let (auth, _store) = small_store_auth(16);
    let auth = auth
        .generate_nonce(move || format!("custom-{}", counter.fetch_add(1, Ordering::Relaxed)))
        .verify_nonce(|n| n.starts_with("custom-"))
        .generate_opaque(|| "op".to_owned())
        .verify_opaque(|o| o == "op");
    let policy = auth.login_required();
    let nonce_of = |r: &Result<Identity<String>, http::Response<Bytes>>| {
        let c = &challenges(r)[0];
        c.split("nonce=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    let client = Client::default();
    let first = nonce_of(&check(&policy, "GET", "/digest", None, None));
    let h = client.header(&first, "op", "00000001");
    assert_eq!(
        status(&check(&policy, "GET", "/digest", Some(&h), None)),
        200
    );
    // Clients keep asking for nonces; whichever lands in the full shard gets stale=true and
    // then succeeds with the nonce that came with it.
    let mut stale_then_ok = 0;
    for _ in 0..64 {
        let n = nonce_of(&check(&policy, "GET", "/digest", None, None));
        let mut r = check(
            &policy,
            "GET",
            "/digest",
            Some(&client.header(&n, "op", "00000001")),
            None,
        );
        let mut tries = 0;
        while status(&r) != 200 {
            assert!(
                challenges(&r)[0].ends_with(",stale=true"),
                "{:?}",
                challenges(&r)
            );
            let n = nonce_of(&r);
            r = check(
                &policy,
                "GET",
                "/digest",
                Some(&client.header(&n, "op", "00000001")),
                None,
            );
            tries += 1;
            stale_then_ok += 1;
            assert!(tries < 16, "no recovery");
        }
        if tries > 0 {
            break;
        }
    }
    assert!(stale_then_ok > 0);
}

#[test]
fn clones_with_different_lifetimes_keep_entries_for_the_longest() {
    let (base, store) = small_store_auth(1_000);
    let short = base.nonce_lifetime(Duration::from_millis(200));
    assert_eq!(short.get_ref().retention_ms(), 200);
    let long = short.clone().nonce_lifetime(Duration::from_secs(60));
    assert_eq!(short.get_ref().retention_ms(), 60_000);
    let (short_p, long_p) = (short.login_required(), long.login_required());
    // A nonce of the short-lived route, used there, then the same header at the long-lived
    // one (the same path: another virtual host, a second router): a replay.
    let (nonce, opaque) = challenge_of(&short);
    let client = Client::default();
    let h = client.header(&nonce, &opaque, "00000001");
    assert_eq!(
        status(&check(&short_p, "GET", "/digest", Some(&h), None)),
        200
    );
    let h2 = client.header(&nonce, &opaque, "00000002");
    assert_eq!(
        status(&check(&long_p, "GET", "/digest", Some(&h2), None)),
        200
    );
    // Past the short lifetime, and past a sweep: the short route says stale, the long one
    // still knows both uses.
    std::thread::sleep(Duration::from_millis(1_100));
    assert_eq!(
        kind(&check(&short_p, "GET", "/digest", Some(&h), None)),
        Some(AuthErrorKind::StaleNonce)
    );
    for h in [&h, &h2] {
        let r = check(&long_p, "GET", "/digest", Some(h), None);
        assert_eq!(kind(&r), Some(AuthErrorKind::StaleNonce));
    }
    assert_eq!(store.len(), 1);
    let h3 = client.header(&nonce, &opaque, "00000003");
    assert_eq!(
        status(&check(&long_p, "GET", "/digest", Some(&h3), None)),
        200
    );
    // An auth whose store no clone shares keeps entries for its own lifetime.
    let alone = small_store_auth(16)
        .0
        .nonce_lifetime(Duration::from_secs(1));
    assert_eq!(alone.get_ref().retention_ms(), 1_000);
    // A new store starts from the auth's own lifetime.
    let moved = long.nonce_store(MemoryNonceStore::new(16));
    assert_eq!(moved.get_ref().retention_ms(), 60_000);
    let moved = moved.nonce_lifetime(Duration::from_secs(2));
    assert_eq!(moved.get_ref().retention_ms(), 2_000);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            r#""([^"\\]|\\.){0,16}""#,
            "[A-Za-z0-9%'*/.-]{0,16}",
            Just("\"john\"".to_owned()),
            Just("\"Authentication Required\"".to_owned()),
            Just("\"/digest\"".to_owned()),
            Just("00000001".to_owned()),
            Just("auth".to_owned()),
            Just("auth-int".to_owned()),
            Just("MD5-sess".to_owned()),
            Just("true".to_owned()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever Digest-shaped header arrives, the answer is 400 or 401 with a challenge:
        /// never a panic, never a 500, never a success.
        #[test]
        fn any_header_is_refused_cleanly(
            params in proptest::collection::vec(
                (
                    prop_oneof![
                        Just("username"), Just("username*"), Just("realm"), Just("nonce"),
                        Just("uri"), Just("response"), Just("algorithm"), Just("qop"),
                        Just("nc"), Just("cnonce"), Just("opaque"), Just("userhash"),
                    ],
                    value(),
                ),
                0..14,
            ),
            scheme in prop_oneof![Just("Digest"), Just("digest"), Just("DIGEST")],
        ) {
            let auth = super::auth().qop([Qop::Auth, Qop::AuthInt]).userhash(true);
            let policy = auth.login_required();
            let header = format!(
                "{scheme} {}",
                params.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join(", ")
            );
            // Bytes a header cannot carry never reach a scheme.
            prop_assume!(http::HeaderValue::from_bytes(header.as_bytes()).is_ok());
            let r = check(&policy, "GET", "/digest", Some(&header), Some(b""));
            let s = status(&r);
            prop_assert!(s == 400 || s == 401, "{header}: {s}");
            prop_assert!(!challenges(&r).is_empty());
        }
    }
}

#[test]
fn try_setters_refuse_without_panicking() {
    let a = DigestAuth::get_password_sync(|_| None);
    assert!(matches!(
        a.clone().try_algorithms([]),
        Err(ConfigError::Invalid {
            setting: "Digest algorithms",
            ..
        })
    ));
    let ha1 = a.clone().use_ha1(true);
    assert!(matches!(
        ha1.clone()
            .try_algorithms([Algorithm::Md5, Algorithm::Sha256]),
        Err(ConfigError::Invalid {
            setting: "use_ha1",
            ..
        })
    ));
    // Refused: the auth is unchanged (still MD5 only).
    assert_eq!(ha1.get_ref().algorithms.len(), 1);
    let two = a.algorithms([Algorithm::Md5, Algorithm::Sha256]);
    assert!(two.clone().try_use_ha1(true).is_err());
    assert!(two.try_use_ha1(false).is_ok());
}
