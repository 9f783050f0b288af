//! The actix-web adapter (feature `actix`): [`LoginRequired`] is an actix-web middleware
//! (`wrap` it on a resource, a scope or the app), and [`CurrentUser<U>`], `Option<CurrentUser<U>>`
//! and [`Username`] are extractors. The policy, the schemes, the challenges and the error
//! responses are the same objects as with tower/axum, so both frameworks answer alike (the
//! `actix_parity` test sends one battery of requests to both and compares the answers).
//!
//! ```
//! use actix_web::{test, web, App};
//! use httpauth::{BasicAuth, CurrentUser};
//!
//! let auth = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then(|| u.to_owned()));
//! # actix_web::rt::System::new().block_on(async {
//! let app = test::init_service(App::new().service(
//!     web::resource("/")
//!         .wrap(auth.login_required())
//!         .to(|CurrentUser(user): CurrentUser<String>| async move { format!("Hello, {user}!") }),
//! ))
//! .await;
//!
//! let res = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
//! assert_eq!(res.status(), 401);
//! assert_eq!(
//!     res.headers().get("www-authenticate").unwrap(),
//!     r#"Basic realm="Authentication Required""#
//! );
//!
//! let req = test::TestRequest::get()
//!     .uri("/")
//!     .insert_header(("authorization", "Basic am9objpoZWxsbw=="))
//!     .to_request();
//! assert_eq!(test::call_and_read_body(&app, req).await, "Hello, john!");
//! # });
//! ```
//!
//! actix-web 4 is built on `http` 0.2; the adapter copies the request head into `http` 1 types
//! for the policy (a few small allocations per request) and the rejection back into an
//! `HttpResponse`. A body needed by Digest `auth-int` is read (bounded) and put back.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use bytes::{Bytes, BytesMut};
use futures_core::Stream;

use crate::error::AuthError;
use crate::extract::{CurrentUser, MissingAuthLayer, Username};
use crate::guard::{Decision, LoginRequired};
use crate::scheme::AuthRequest;

impl<S, B, U> Transform<S, ServiceRequest> for LoginRequired<U>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    U: Clone + Send + Sync + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = ActixAuth<S, U>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ActixAuth {
            service: Rc::new(service),
            policy: Arc::new(self.clone()),
        }))
    }
}

/// The actix-web service [`LoginRequired`] wraps around a resource, scope or app.
pub struct ActixAuth<S, U> {
    service: Rc<S>,
    policy: Arc<LoginRequired<U>>,
}

impl<S, U: Clone + Send + Sync + 'static> std::fmt::Debug for ActixAuth<S, U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActixAuth")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The response future of [`ActixAuth`].
pub type ActixResponseFuture<B> =
    Pin<Box<dyn Future<Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>>>;

impl<S, B, U> Service<ServiceRequest> for ActixAuth<S, U>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    U: Clone + Send + Sync + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = ActixResponseFuture<B>;

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.service.poll_ready(cx)
    }

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let policy = self.policy.clone();
        Box::pin(async move {
            let (method, uri, headers) = head_of(&req);
            let mut buffered = None;
            if let Some(limit) = policy.body_limit(AuthRequest::new(&method, &uri, &headers)) {
                let mut payload = req.take_payload();
                match read_bounded(&mut payload, limit).await {
                    Ok(bytes) => {
                        req.set_payload(Payload::from(bytes.clone()));
                        buffered = Some(bytes);
                    }
                    Err(too_large) => {
                        let head = AuthRequest::new(&method, &uri, &headers);
                        let response = to_actix(policy.reject_body(head, too_large));
                        return Ok(req.into_response(response).map_into_right_body());
                    }
                }
            }
            let head = AuthRequest::new(&method, &uri, &headers).with_body(buffered.as_ref());
            match policy.check(head).await {
                Decision::Allow { identity, error } => {
                    let private = identity.as_ref().is_some_and(|id| id.private_cache);
                    {
                        let mut extensions = req.extensions_mut();
                        if let Some(identity) = identity {
                            extensions.insert(CurrentUser(identity.user));
                            if let Some(name) = identity.username {
                                extensions.insert(Username(name));
                            }
                        }
                        if let Some(error) = error {
                            extensions.insert(error);
                        }
                    }
                    let mut response = service.call(req).await?;
                    let cache_control = actix_web::http::header::CACHE_CONTROL;
                    if private && !response.headers().contains_key(&cache_control) {
                        response.headers_mut().insert(
                            cache_control,
                            actix_web::http::header::HeaderValue::from_static("private"),
                        );
                    }
                    Ok(response.map_into_left_body())
                }
                Decision::Deny(response) => {
                    Ok(req.into_response(to_actix(response)).map_into_right_body())
                }
            }
        })
    }
}

/// The request head in `http` 1 types.
fn head_of(req: &ServiceRequest) -> (http::Method, http::Uri, http::HeaderMap) {
    let method = http::Method::from_bytes(req.method().as_str().as_bytes()).unwrap_or_default();
    let uri = http::Uri::try_from(req.uri().to_string()).unwrap_or_default();
    let mut headers = http::HeaderMap::with_capacity(req.headers().len());
    for (name, value) in req.headers() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    (method, uri, headers)
}

/// Reads the payload up to `limit` bytes: `Err(true)` when larger, `Err(false)` on a read error.
async fn read_bounded(payload: &mut Payload, limit: usize) -> Result<Bytes, bool> {
    let mut body = BytesMut::new();
    loop {
        let chunk = std::future::poll_fn(|cx| Pin::new(&mut *payload).poll_next(cx)).await;
        match chunk {
            None => return Ok(body.freeze()),
            Some(Ok(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(true);
                }
                body.extend_from_slice(&chunk);
            }
            Some(Err(_)) => return Err(false),
        }
    }
}

/// A rejection built by the policy, as an actix-web response (status, headers, body, and the
/// [`AuthError`] in its extensions).
fn to_actix(response: http::Response<Bytes>) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(response.status().as_u16())
        .unwrap_or(actix_web::http::StatusCode::UNAUTHORIZED);
    let mut builder = HttpResponse::build(status);
    for (name, value) in response.headers() {
        builder.append_header((name.as_str(), value.as_bytes()));
    }
    let error = response.extensions().get::<AuthError>().cloned();
    let mut actix = builder.body(response.into_body());
    if let Some(error) = error {
        actix.extensions_mut().insert(error);
    }
    actix
}

impl ResponseError for MissingAuthLayer {
    fn status_code(&self) -> actix_web::http::StatusCode {
        tracing::error!(target: "httpauth", "{self}");
        actix_web::http::StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::InternalServerError().body("Internal Server Error")
    }
}

/// `FromRequest` from the request extensions: missing is a 500 (the route has no auth
/// middleware); `Option<T>` turns that into `None` for optional routes.
macro_rules! extension_extractor {
    ([$($generics:tt)*] $ty:ty) => {
        impl<$($generics)*> FromRequest for $ty {
            type Error = actix_web::Error;
            type Future = Ready<Result<Self, Self::Error>>;

            fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
                ready(
                    req.extensions()
                        .get::<Self>()
                        .cloned()
                        .ok_or_else(|| MissingAuthLayer.into()),
                )
            }
        }
    };
}

extension_extractor!([U: Clone + 'static] CurrentUser<U>);
extension_extractor!([] Username);
