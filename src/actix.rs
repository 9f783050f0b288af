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
//! actix-web 4 is built on `http` 0.2: the adapter implements the core's
//! [`crate::scheme::RequestHead`] over actix's own request (nothing is copied per
//! request) and turns a rejection into an `HttpResponse`. When the policy answers at once the
//! inner service's future is returned unboxed. A body needed by Digest `auth-int` is read
//! (bounded) and put back.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName as ActixHeaderName, HeaderValue as ActixHeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use bytes::Bytes;
use futures_core::Stream;

use crate::error::AuthError;
use crate::exchange::{collect, merge_headers, settle, Chunks, Exchange, Headers};
use crate::extract::{
    current_user, identity_entry, username, CurrentUser, MissingAuthLayer, Username,
};
use crate::policy::{BodyFailure, Decision, LoginRequired};
use crate::scheme::{AuthFuture, AuthRequest, HeaderLookup, RequestHead};

impl RequestHead for ServiceRequest {
    fn method(&self) -> &str {
        ServiceRequest::method(self).as_str()
    }

    fn target(&self) -> &str {
        match self.uri().path_and_query() {
            Some(pq) if !pq.as_str().is_empty() => pq.as_str(),
            _ => "/",
        }
    }

    fn authority(&self) -> Option<&str> {
        self.uri().authority().map(|a| a.as_str())
    }

    fn header(&self, name: &str) -> HeaderLookup<'_> {
        HeaderLookup::from_values(self.headers().get_all(name).map(ActixHeaderValue::as_bytes))
    }

    fn authorization(&self) -> HeaderLookup<'_> {
        HeaderLookup::from_values(
            self.headers()
                .get_all(actix_web::http::header::AUTHORIZATION)
                .map(ActixHeaderValue::as_bytes),
        )
    }

    fn peer_addr(&self) -> Option<std::net::IpAddr> {
        ServiceRequest::peer_addr(self).map(|a| a.ip())
    }

    fn header_values<'a>(&'a self, name: &str, out: &mut Vec<&'a [u8]>) {
        out.extend(self.headers().get_all(name).map(ActixHeaderValue::as_bytes));
    }
}

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
            policy: self.clone(),
        }))
    }
}

/// The actix-web service [`LoginRequired`] wraps around a resource, scope or app.
pub struct ActixAuth<S, U> {
    service: Rc<S>,
    policy: LoginRequired<U>,
}

impl<S, U> std::fmt::Debug for ActixAuth<S, U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActixAuth")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

type BoxedResponse<B> =
    Pin<Box<dyn Future<Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>>>;

pin_project_lite::pin_project! {
    /// The response future of [`ActixAuth`]: the inner service's future, unboxed (the policy
    /// answered at once), a ready rejection, or the awaited path (boxed).
    pub struct ActixResponseFuture<F, B> {
        #[pin]
        kind: ActixKind<F, B>,
    }
}

pin_project_lite::pin_project! {
    #[project = ActixKindProj]
    enum ActixKind<F, B> {
        Inner { #[pin] future: F, headers: Option<Box<http::HeaderMap>> },
        // Boxed: a refusal is the slow path, and the future stays small for every request
        // that is let through.
        Ready { response: Option<Box<ServiceResponse<EitherBody<B>>>> },
        Boxed { future: BoxedResponse<B> },
    }
}

impl<F, B> std::fmt::Debug for ActixResponseFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActixResponseFuture")
            .finish_non_exhaustive()
    }
}

impl<F, B> Future for ActixResponseFuture<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            ActixKindProj::Inner { future, headers } => {
                let mut response = std::task::ready!(future.poll(cx))?;
                add_headers(&mut response, headers.take());
                Poll::Ready(Ok(response.map_into_left_body()))
            }
            ActixKindProj::Ready { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(*response)),
                None => panic!("ActixResponseFuture polled after completion"),
            },
            ActixKindProj::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}

impl<S, B, U> Service<ServiceRequest> for ActixAuth<S, U>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    U: Clone + Send + Sync + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = ActixResponseFuture<S::Future, B>;

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.service.poll_ready(cx)
    }

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let decision = self.policy.check(&AuthRequest::new(&req));
        let first = match decision.into_ready() {
            Ok(Decision::Allow { identity, error }) => {
                let headers = allow(&req, identity, error);
                return ActixResponseFuture {
                    kind: ActixKind::Inner {
                        future: self.service.call(req),
                        headers,
                    },
                };
            }
            Ok(Decision::Deny(response)) => return refused(req, response),
            // Digest `auth-int` (the body first), or a callback that waits.
            Ok(read_body) => AuthFuture::ready(read_body),
            Err(pending) => pending,
        };
        self.boxed(req, first)
    }
}

/// The refusal as the middleware's response. Out of line: not the path of a valid request.
#[cold]
#[inline(never)]
fn refused<F, B>(
    req: ServiceRequest,
    response: http::Response<Bytes>,
) -> ActixResponseFuture<F, B> {
    let response = req.into_response(to_actix(response)).map_into_right_body();
    ActixResponseFuture {
        kind: ActixKind::Ready {
            response: Some(Box::new(response)),
        },
    }
}

impl<S, U> ActixAuth<S, U> {
    /// The awaited path ([`settle`]), then the inner service; boxed. Out of line, so the path
    /// of a request answered at once stays short (it is the normal path of an application
    /// whose callbacks wait: not `#[cold]`).
    #[inline(never)]
    fn boxed<B>(
        &self,
        mut req: ServiceRequest,
        first: AuthFuture<Decision<U>>,
    ) -> ActixResponseFuture<S::Future, B>
    where
        S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>
            + 'static,
        B: MessageBody + 'static,
        U: Clone + Send + Sync + 'static,
    {
        let service = self.service.clone();
        let policy = self.policy.clone();
        let future = async move {
            match settle(&policy, &mut req, first).await {
                Ok(headers) => {
                    let mut response = service.call(req).await?;
                    add_headers(&mut response, headers);
                    Ok(response.map_into_left_body())
                }
                Err(response) => Ok(req.into_response(to_actix(response)).map_into_right_body()),
            }
        };
        ActixResponseFuture {
            kind: ActixKind::Boxed {
                future: Box::pin(future),
            },
        }
    }
}

impl Exchange for ServiceRequest {
    fn head(&self) -> &dyn RequestHead {
        self
    }

    async fn read_body(&mut self, limit: usize) -> Result<Bytes, BodyFailure> {
        let mut payload = self.take_payload();
        let bytes = collect(std::pin::Pin::new(&mut payload), limit).await?;
        self.set_payload(Payload::from(bytes.clone()));
        Ok(bytes)
    }

    fn allow<U: Clone + Send + Sync + 'static>(
        &mut self,
        identity: Option<crate::scheme::Identity<U>>,
        error: Option<AuthError>,
    ) -> Option<Box<http::HeaderMap>> {
        allow(self, identity, error)
    }
}

impl Chunks for Payload {
    fn poll_chunk(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ()>>> {
        self.poll_next(cx)
            .map(|chunk| chunk.map(|c| c.map_err(|_| ())))
    }
}

/// Moves what the handler may read into the request extensions; the headers for the response.
fn allow<U: Clone + Send + Sync + 'static>(
    req: &ServiceRequest,
    identity: Option<crate::scheme::Identity<U>>,
    error: Option<AuthError>,
) -> Option<Box<http::HeaderMap>> {
    let mut extensions = req.extensions_mut();
    if let Some(error) = error {
        extensions.insert(error);
    }
    let (entry, headers) = identity_entry(identity?);
    extensions.insert(entry);
    headers
}

/// The scheme's headers for a successful response, unless the handler set its own.
#[inline]
fn add_headers<B>(response: &mut ServiceResponse<B>, headers: Option<Box<http::HeaderMap>>) {
    merge_headers(headers, response.headers_mut());
}

/// actix-web's header map (`http` 0.2 types), for [`merge_headers`].
impl Headers for actix_web::http::header::HeaderMap {
    fn has(&self, name: &http::HeaderName) -> bool {
        self.contains_key(name.as_str())
    }

    fn append(&mut self, name: &http::HeaderName, value: &http::HeaderValue) {
        if let (Ok(name), Ok(value)) = (
            ActixHeaderName::from_bytes(name.as_str().as_bytes()),
            ActixHeaderValue::from_bytes(value.as_bytes()),
        ) {
            actix_web::http::header::HeaderMap::append(self, name, value);
        }
    }
}

/// A rejection built by the policy, as an actix-web response (status, headers, body, and the
/// [`AuthError`] in its extensions).
fn to_actix(response: http::Response<Bytes>) -> HttpResponse {
    // Every `http` 1 status (100..=999) is a valid `http` 0.2 status.
    let status = actix_web::http::StatusCode::from_u16(response.status().as_u16())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
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

/// An error handler written with actix-web's types: a closure `Fn(&AuthError) -> HttpResponse`.
/// Pass it to [`error_handler`](crate::Auth::error_handler). The body must be in memory
/// (`HttpResponse::Unauthorized().json(...)`, `.body(...)`); a streamed body is a programming
/// error answered 500 and logged.
///
/// ```
/// use actix_web::{test, web, App, HttpResponse};
/// use httpauth::{AuthError, BasicAuth, HttpResponseHandler};
///
/// let auth = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then_some(()))
///     .error_handler(HttpResponseHandler(|err: &AuthError| {
///         HttpResponse::build(actix_web::http::StatusCode::from_u16(err.status().as_u16()).unwrap())
///             .json(serde_json::json!({ "error": err.status().canonical_reason() }))
///     }));
/// # actix_web::rt::System::new().block_on(async {
/// let app = test::init_service(App::new().service(
///     web::resource("/").wrap(auth.login_required()).to(|| async { "hi" }),
/// ))
/// .await;
/// let res = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
/// assert_eq!(res.status(), 401);
/// assert_eq!(res.headers().get("content-type").unwrap(), "application/json");
/// assert_eq!(res.headers().get("www-authenticate").unwrap(), r#"Basic realm="Authentication Required""#);
/// # });
/// ```
#[derive(Clone, Copy, Debug)]
pub struct HttpResponseHandler<F>(pub F);

impl<F> crate::ErrorHandler for HttpResponseHandler<F>
where
    F: Fn(&AuthError) -> HttpResponse + Send + Sync + 'static,
{
    fn error_response(&self, err: &AuthError) -> http::Response<Bytes> {
        from_actix((self.0)(err))
    }
}

/// An actix-web response as the core's `http` 1 response (its body must be in memory).
fn from_actix(response: HttpResponse) -> http::Response<Bytes> {
    let status = http::StatusCode::from_u16(response.status().as_u16())
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = http::Response::builder().status(status);
    for (name, value) in response.headers() {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    let body = match response.into_body().try_into_bytes() {
        Ok(bytes) => bytes,
        Err(_) => {
            tracing::error!(target: "httpauth", "the error handler's HttpResponse has a streamed body; answering 500");
            return internal_error();
        }
    };
    builder.body(body).unwrap_or_else(|_| internal_error())
}

fn internal_error() -> http::Response<Bytes> {
    let mut response = http::Response::new(Bytes::from_static(b"Internal Server Error"));
    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    response
}

impl ResponseError for MissingAuthLayer {
    fn status_code(&self) -> actix_web::http::StatusCode {
        tracing::error!(target: "httpauth", "{self}");
        actix_web::http::StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::InternalServerError()
            .content_type("text/plain; charset=utf-8")
            .body(self.to_string())
    }
}

impl ResponseError for AuthError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::from_u16(self.status().as_u16())
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The default body (no challenge: for errors raised after the middleware).
    fn error_response(&self) -> HttpResponse {
        let mut response = crate::scheme::default_error_response(self);
        response.extensions_mut().insert(self.clone());
        to_actix(response)
    }
}

impl<U: Clone + Send + Sync + 'static> FromRequest for CurrentUser<U> {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let ext = req.extensions();
        ready(current_user(&*ext).map_err(Into::into))
    }
}

impl FromRequest for Username {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(username(&*req.extensions()).map_err(Into::into))
    }
}
