//! The whole policy (Basic, Bearer, X-API-Key and Digest on one route, with roles) on
//! arbitrary header bytes: never panics, only 400/401/403 or an allowed request, and with
//! only synchronous callbacks the decision is ready at once (nothing boxed).
#![no_main]

use std::sync::OnceLock;

use http::{HeaderValue, Method, Request};
use httpauth::policy::Decision;
use httpauth::scheme::AuthRequest;
use httpauth::{BasicAuth, DigestAuth, LoginRequired, MultiAuth, TokenAuth};
use libfuzzer_sys::fuzz_target;

fn policy() -> &'static LoginRequired<String> {
    static POLICY: OnceLock<LoginRequired<String>> = OnceLock::new();
    POLICY.get_or_init(|| {
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
            .login_required()
            .role("admin")
    })
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
    let decision = match policy().check(&AuthRequest::new(&parts)).into_ready() {
        Ok(decision) => decision,
        Err(_) => panic!("synchronous callbacks only, yet the decision is not ready"),
    };
    match decision {
        Decision::Deny(res) => {
            assert!(
                matches!(res.status().as_u16(), 400 | 401 | 403),
                "status {}",
                res.status()
            );
            assert!(res.headers().contains_key("www-authenticate"));
        }
        Decision::Allow { identity, error } => {
            // Not an optional route, not OPTIONS: an allowed request has a user, and it is john
            // (the only user with the role).
            let identity = identity.expect("allowed without an identity");
            assert_eq!(identity.user(), "john");
            assert!(error.is_none());
        }
        _ => panic!("a new kind of decision: teach this target what it may be"),
    }
});
