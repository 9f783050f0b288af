//! The whole policy (Basic, Bearer, X-API-Key and Digest on one route, with roles) on
//! arbitrary header bytes: never panics, only 400/401/403 or an allowed request.
#![no_main]

use std::sync::OnceLock;

use http::{HeaderValue, Method, Request};
use httpauth::{
    AuthRequest, BasicAuth, Decision, DigestAuth, LoginRequired, MultiAuth, TokenAuth,
};
use libfuzzer_sys::fuzz_target;

fn policy() -> &'static LoginRequired<String> {
    static POLICY: OnceLock<LoginRequired<String>> = OnceLock::new();
    POLICY.get_or_init(|| {
        let roles = |u: &String| if u == "john" { vec!["admin"] } else { vec![] };
        let basic = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then(|| u.to_owned()))
            .user_roles_sync(roles);
        let bearer = TokenAuth::verify_token_sync(|t| (t == "tok").then(|| "john".to_owned()))
            .user_roles_sync(roles)
            .rfc6750_errors();
        let apikey = TokenAuth::verify_token_sync(|t| (t == "key").then(|| "john".to_owned()))
            .header("X-API-Key")
            .user_roles_sync(roles);
        let digest = DigestAuth::get_password_sync(|u| (u == "john").then(|| "hello".to_owned()))
            .user_roles_sync(roles);
        MultiAuth::new(basic).or(bearer).or(apikey).or(digest).login_required().role("admin")
    })
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // First byte: which headers; the rest split in two values.
    let Some((&selector, rest)) = data.split_first() else { return };
    let (a, b) = rest.split_at(rest.len() / 2);
    let mut req = Request::builder().method(Method::GET).uri("/x");
    for (bit, name, value) in [(1, "authorization", a), (2, "authorization", b), (4, "x-api-key", b)] {
        if selector & bit != 0 {
            if let Ok(v) = HeaderValue::from_bytes(value) {
                req = req.header(name, v);
            }
        }
    }
    let Ok(req) = req.body(()) else { return };
    let (parts, ()) = req.into_parts();
    match block_on(policy().check(AuthRequest::from_parts(&parts))) {
        Decision::Deny(res) => {
            assert!(matches!(res.status().as_u16(), 400 | 401 | 403), "status {}", res.status());
            assert!(res.headers().contains_key("www-authenticate"));
        }
        _ => {}
    }
});
