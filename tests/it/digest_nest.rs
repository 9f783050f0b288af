//! Digest behind axum's `Router::nest`: the nested router sees a shortened URI, the client signs
//! the full one; the tower adapter compares with axum's `OriginalUri`, so real clients work.

use crate::{common, digest_client};

use axum::routing::get;
use axum::Router;
use httpauth::digest::DigestAuth;
use httpauth::Username;

#[tokio::test]
async fn digest_under_nest_with_curl() {
    let auth = DigestAuth::get_password_sync(|u| (u == "john").then(|| "hello".to_owned()));
    let inner = Router::new().route(
        "/private",
        get(|Username(u): Username| async move { format!("Hello, {u}!") })
            .route_layer(auth.login_required()),
    );
    let base = common::serve(Router::new().nest("/api", inner)).await;
    let url = format!("{base}/api/private?x=1");
    let (status, body) = digest_client::curl_digest(&url, "john", "hello", &[]).await;
    assert_eq!((status, body.as_str()), (200, "Hello, john!"));
    let (status, _) = digest_client::curl_digest(&url, "john", "nope", &[]).await;
    assert_eq!(status, 401);
}
