//! The whole policy (Basic, Bearer, X-API-Key and Digest on one route, with roles) on
//! arbitrary header bytes: never panics; answers only 400/401/403 with a challenge, 429 with
//! `Retry-After`, or lets john (the only user with the role) through; with only synchronous
//! callbacks the decision is ready at once (nothing boxed).
//!
//! Each input is one fresh route with its own throttle (one failure per username allowed),
//! asked twice with the same request: the second answer exercises the throttle's refusal.
//! Nothing is shared between inputs (no process-wide throttle), so every input is
//! reproducible on its own and the run cannot drift into refusing everything.
#![no_main]

use std::sync::OnceLock;

use http::request::Parts;
use http::{HeaderValue, Method, Request};
use httpauth::policy::Decision;
use httpauth::scheme::AuthRequest;
use httpauth::throttle::MemoryThrottle;
use httpauth::{BasicAuth, DigestAuth, MultiAuth, Throttle, TokenAuth};
use libfuzzer_sys::fuzz_target;

/// The auth objects, built once (a Digest key costs OS randomness); each input makes its own
/// route from them.
fn auth() -> &'static MultiAuth<String> {
    static AUTH: OnceLock<MultiAuth<String>> = OnceLock::new();
    AUTH.get_or_init(|| {
        let roles = |u: &String| if u == "john" { vec!["admin"] } else { vec![] };
        let basic = BasicAuth::verify_password_sync(|u, p| {
            (u == "john" && p == "hello").then(|| u.to_owned())
        });
        let bearer = TokenAuth::verify_token_sync(|t| (t == "tok").then(|| "john".to_owned()))
            .rfc6750_errors()
            .user_roles_sync(roles); // a member's own setting overrides the route's
        let apikey = TokenAuth::verify_token_sync(|t| (t == "key").then(|| "john".to_owned()))
            .header("X-API-Key");
        let digest = DigestAuth::get_password_sync(|u| (u == "john").then(|| "hello".to_owned()));
        // Roles once, on the route's policy (they apply to every scheme on it).
        MultiAuth::new(basic)
            .or(bearer)
            .or(apikey)
            .or(digest)
            .user_roles_sync(roles)
    })
}

/// What one request got: `None` for an allowed request (always john), else the status.
fn decide(route: &httpauth::LoginRequired<String>, parts: &Parts) -> Option<u16> {
    let decision = match route.check(&AuthRequest::new(parts)).into_ready() {
        Ok(decision) => decision,
        Err(_) => panic!("synchronous callbacks only, yet the decision is not ready"),
    };
    match decision {
        Decision::Deny(res) => {
            let status = res.status().as_u16();
            match status {
                400 | 401 | 403 => assert!(
                    res.headers().contains_key("www-authenticate"),
                    "{status} without a challenge"
                ),
                429 => assert!(
                    res.headers().contains_key("retry-after"),
                    "429 without Retry-After"
                ),
                _ => panic!("status {status}"),
            }
            Some(status)
        }
        Decision::Allow { identity, error } => {
            // Not an optional route, not OPTIONS: an allowed request has a user, and it is john
            // (the only user with the role).
            let identity = identity.expect("allowed without an identity");
            assert_eq!(identity.user(), "john");
            assert!(error.is_none());
            None
        }
        _ => panic!("a new kind of decision: teach this target what it may be"),
    }
}

fuzz_target!(|data: &[u8]| {
    // First byte: which headers; the rest split in two values.
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (a, b) = rest.split_at(rest.len() / 2);
    let mut req = Request::builder().method(Method::GET).uri("/x");
    for (bit, name, value) in [
        (1, "authorization", a),
        (2, "authorization", b),
        (4, "x-api-key", b),
    ] {
        if selector & bit != 0 {
            if let Ok(v) = HeaderValue::from_bytes(value) {
                req = req.header(name, v);
            }
        }
    }
    let Ok(req) = req.body(()) else { return };
    let (parts, ()) = req.into_parts();

    let throttle = Throttle::new()
        .max_failures_per_user(1)
        .store(MemoryThrottle::new(16));
    let route = auth().login_required().role("admin").throttle(throttle);
    let first = decide(&route, &parts);
    let second = decide(&route, &parts);
    // A throttle with no record refuses nobody, and a success leaves no record.
    assert_ne!(first, Some(429), "a fresh throttle refused");
    if first.is_none() {
        assert_eq!(second, None, "allowed, then refused");
    }
});
