//! The gRPC response mode (`login_required().grpc()`) through tower, in the cases the example
//! server (`examples/grpc`, driven by grpcio and tonic's client) does not reach: a callback
//! that waits, a refused role, the throttle, a custom error handler's status, and a Digest
//! `auth-int` request (its body is never read).

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full};
use httpauth::digest::{DigestAuth, Qop};
use httpauth::{AuthError, CurrentUser, Throttle, TokenAuth};
use tower::{ServiceBuilder, ServiceExt as _};

use crate::digest_client::{parse_challenge, Client};

/// A gRPC call to `/pkg.Service/Method` with this `Authorization` value.
fn call(authorization: Option<&str>) -> Request<Full<Bytes>> {
    let mut req = Request::post("/pkg.Service/Method").header("content-type", "application/grpc");
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    req.body(Full::from("\0\0\0\0\0")).unwrap()
}

/// `(grpc-status, grpc-message, the body's length)` of a refusal (HTTP 200, trailers-only).
async fn refusal(res: Response<Full<Bytes>>) -> (String, String, usize) {
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/grpc");
    let header = |name: &str| res.headers()[name].to_str().unwrap().to_owned();
    let (status, message) = (header("grpc-status"), header("grpc-message"));
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, message, body.len())
}

/// The inner service: answers with the user's name; counts its calls.
fn inner(
    calls: Arc<AtomicUsize>,
) -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    tower::service_fn(move |req: Request<Full<Bytes>>| {
        calls.fetch_add(1, Ordering::SeqCst);
        let user = CurrentUser::<String>::from_extensions(req.extensions())
            .map_or_else(|_| "nobody".to_owned(), |CurrentUser(user)| user);
        async move { Ok::<_, Infallible>(Response::new(Full::from(user))) }
    })
}

#[tokio::test]
async fn an_async_callback_a_role_and_the_throttle() {
    let auth = TokenAuth::verify_token(|token: String| async move {
        tokio::task::yield_now().await;
        match token.as_str() {
            "secret-token-1" => Some("john".to_owned()),
            "secret-token-2" => Some("susan".to_owned()),
            _ => None,
        }
    })
    .user_roles_sync(|user: &String| if user == "susan" { "admin" } else { "user" });
    let calls = Arc::new(AtomicUsize::new(0));
    let throttle = Throttle::new()
        .max_failures_per_addr(0)
        .max_failures_per_user(0);
    let user = ServiceBuilder::new()
        .layer(auth.login_required().throttle(throttle.clone()).grpc())
        .service(inner(calls.clone()));
    let admin = ServiceBuilder::new()
        .layer(
            auth.login_required()
                .throttle(throttle)
                .role("admin")
                .grpc(),
        )
        .service(inner(calls.clone()));

    let res = user
        .clone()
        .oneshot(call(Some("Bearer nope")))
        .await
        .unwrap();
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    assert_eq!(
        refusal(res).await,
        ("16".into(), "invalid credentials".into(), 0)
    );

    let res = user
        .clone()
        .oneshot(call(Some("Bearer secret-token-1")))
        .await
        .unwrap();
    assert!(!res.headers().contains_key("grpc-status"));
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "john");

    let res = admin
        .clone()
        .oneshot(call(Some("Bearer secret-token-1")))
        .await
        .unwrap();
    assert_eq!(
        refusal(res).await,
        ("7".into(), "insufficient role".into(), 0)
    );
    let res = admin
        .oneshot(call(Some("Bearer secret-token-2")))
        .await
        .unwrap();
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "susan");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn throttled_and_unavailable() {
    // Tokens carry no username: the throttle counts the client address.
    let addr: std::net::SocketAddr = "127.0.0.9:4000".parse().unwrap();
    let auth = TokenAuth::verify_token_sync(|t| (t == "secret-token-1").then(|| "john".to_owned()));
    let throttle = Throttle::new().max_failures_per_addr(2);
    let svc = ServiceBuilder::new()
        .map_request(move |mut req: Request<Full<Bytes>>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(addr));
            req
        })
        .layer(auth.login_required().throttle(throttle).grpc())
        .service(inner(Arc::default()));
    for _ in 0..2 {
        let res = svc
            .clone()
            .oneshot(call(Some("Bearer nope")))
            .await
            .unwrap();
        assert_eq!(refusal(res).await.0, "16");
    }
    let res = svc
        .clone()
        .oneshot(call(Some("Bearer nope")))
        .await
        .unwrap();
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(
        refusal(res).await,
        ("8".into(), "too many failed attempts".into(), 0)
    );

    // An error handler's status decides the code; its body is not sent.
    let auth = TokenAuth::verify_token_sync(|_| None::<String>).error_handler(|err: &AuthError| {
        Response::builder()
            .status(503)
            .body(Bytes::from(format!("down: {err}")))
            .unwrap()
    });
    let svc = ServiceBuilder::new()
        .layer(auth.login_required().without_throttle().grpc())
        .service(inner(Arc::default()));
    let res = svc.oneshot(call(Some("Bearer x"))).await.unwrap();
    assert_eq!(
        refusal(res).await,
        ("14".into(), "invalid credentials".into(), 0)
    );
}

#[tokio::test]
async fn digest_auth_int_is_refused_without_reading_the_body() {
    let auth = DigestAuth::get_password_sync(|u| (u == "john").then(|| "hello".to_owned()))
        .qop([Qop::Auth, Qop::AuthInt])
        .secret(&[9; 32]);
    let calls = Arc::new(AtomicUsize::new(0));
    let svc = ServiceBuilder::new()
        .layer(auth.login_required().grpc())
        .service(inner(calls.clone()));
    let res = svc.clone().oneshot(call(None)).await.unwrap();
    let challenge = parse_challenge(res.headers()["www-authenticate"].to_str().unwrap());
    assert_eq!(refusal(res).await.0, "16");

    let mut client = Client::new("john", "hello", "/pkg.Service/Method");
    client.method = "POST".to_owned();
    let plain = client.answer(&challenge, "00000001");
    let res = svc.clone().oneshot(call(Some(&plain))).await.unwrap();
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "john");

    let mut client = client.qop(Some("auth-int"));
    client.body = b"\0\0\0\0\0".to_vec();
    let res = svc
        .oneshot(call(Some(&client.answer(&challenge, "00000002"))))
        .await
        .unwrap();
    let (status, _, body) = refusal(res).await;
    assert_eq!((status.as_str(), body), ("3", 0));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
