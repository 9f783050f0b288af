//! Every scheme on one route (Basic, Bearer with RFC 6750 errors, X-API-Key, Digest) with a
//! role requirement, fed arbitrary header bytes through the tower layer: the answer is always
//! 400, 401 or 403 with a challenge, or the request is let through; never a panic or a 5xx.
//! (The same property runs as the `policy` cargo-fuzz target.)

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use httpauth::digest::DigestAuth;
use httpauth::{BasicAuth, MultiAuth, TokenAuth};
use proptest::prelude::*;
use tower::ServiceExt;

fn router() -> Router {
    let roles = |u: &String| if u == "john" { vec!["admin"] } else { vec![] };
    let basic =
        BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then(|| u.to_owned()))
            .user_roles_sync(roles);
    let bearer = TokenAuth::verify_token_sync(|t| (t == "tok").then(|| "john".to_owned()))
        .user_roles_sync(roles)
        .rfc6750_errors();
    let apikey = TokenAuth::verify_token_sync(|t| (t == "key").then(|| "susan".to_owned()))
        .header("X-API-Key")
        .user_roles_sync(roles);
    let digest = DigestAuth::get_password_sync(|u| (u == "john").then(|| "hello".to_owned()))
        .user_roles_sync(roles);
    let multi = MultiAuth::new(basic).or(bearer).or(apikey).or(digest);
    Router::new().route(
        "/",
        get(|| async { "ok" }).route_layer(multi.login_required().role("admin")),
    )
}

/// Header values shaped like credentials, and arbitrary bytes.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        "(Basic|basic|Bearer|Digest|X) [A-Za-z0-9+/=]{0,40}".prop_map(String::into_bytes),
        r#"Digest ([a-z]{1,8}=("[^"\\]{0,12}"|[a-z0-9]{0,8}), ?){0,10}"#
            .prop_map(String::into_bytes),
        Just(b"Basic am9objpoZWxsbw==".to_vec()),
        Just(b"Bearer tok".to_vec()),
        Just(b"key".to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_headers_get_a_clean_answer(
        first in value(),
        second in proptest::option::of(value()),
        api_key in proptest::option::of(value()),
    ) {
        let mut req = http::Request::get("/");
        for (name, bytes) in [("authorization", Some(&first)), ("authorization", second.as_ref()), ("x-api-key", api_key.as_ref())] {
            if let Some(v) = bytes.and_then(|b| http::HeaderValue::from_bytes(b).ok()) {
                req = req.header(name, v);
            }
        }
        let req = req.body(Body::empty()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let res = rt.block_on(router().oneshot(req)).unwrap();
        let status = res.status().as_u16();
        prop_assert!(matches!(status, 200 | 400 | 401 | 403), "status {}", status);
        if status != 200 {
            prop_assert!(res.headers().contains_key("www-authenticate"), "no challenge on {}", status);
        }
    }
}

#[tokio::test]
async fn the_property_is_not_vacuous() {
    // The known-good credentials pass (as admin), a non-admin key is refused with 403.
    let ok = http::Request::get("/")
        .header("authorization", "Bearer tok")
        .body(Body::empty())
        .unwrap();
    assert_eq!(router().oneshot(ok).await.unwrap().status(), 200);
    let forbidden = http::Request::get("/")
        .header("x-api-key", "key")
        .body(Body::empty())
        .unwrap();
    assert_eq!(router().oneshot(forbidden).await.unwrap().status(), 403);
}
