//! gRPC: [`LoginRequired::grpc`] makes a layer ([`GrpcLoginRequired`]) that refuses as a gRPC
//! server does, for tonic (`Server::builder().layer(..)`, or a service in tonic's router).
//!
//! A refusal is a *trailers-only* gRPC response: HTTP `200`, `content-type: application/grpc`,
//! an empty body, and the status in the headers: `grpc-status` from the HTTP status the policy
//! (or your error handler) chose, `grpc-message` the [`AuthError`]'s text, percent-encoded as
//! the gRPC protocol asks. The `WWW-Authenticate` challenge and `Retry-After` stay as headers
//! (a gRPC client ignores them; a proxy or a person with `curl` can read them).
//!
//! | HTTP status | `grpc-status` |
//! |---|---|
//! | 401 (no, malformed or wrong credentials) | `UNAUTHENTICATED` (16) |
//! | 403 (a role is missing) | `PERMISSION_DENIED` (7) |
//! | 429 (throttled) | `RESOURCE_EXHAUSTED` (8) |
//! | 503 (a store is unreachable, the hashing pool is full) | `UNAVAILABLE` (14) |
//! | 400 (several `Authorization` headers, ...) | `INVALID_ARGUMENT` (3) |
//! | 413 | `RESOURCE_EXHAUSTED` (8) |
//! | 408 | `DEADLINE_EXCEEDED` (4) |
//! | 500 | `INTERNAL` (13) |
//! | any other | `UNKNOWN` (2) |
//!
//! The layer asks nothing of the request body type and only [`Default`] of the response body
//! type (a trailers-only response has an empty body), so it fits tonic's `tonic::body::Body`
//! and any other. A scheme that needs the request body (Digest `qop=auth-int`, which gRPC
//! clients do not use) is refused with `INVALID_ARGUMENT`. The error handler's body is not
//! sent (a gRPC client could not read it); its status and headers are.
//!
//! The throttle's per-address limits need the client address: tonic puts its own
//! `TcpConnectInfo` in the request extensions, which
//! [`Throttle::client_addr_fn`](crate::Throttle::client_addr_fn) reads:
//!
//! ```ignore
//! use tonic::transport::server::TcpConnectInfo;
//! let throttle = Throttle::new().client_addr_fn(|ext| {
//!     ext.get::<TcpConnectInfo>()?.remote_addr().map(|a| a.ip())
//! });
//! let auth = TokenAuth::verify_token(..).throttle(throttle);
//! ```
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use httpauth::TokenAuth;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! let auth = TokenAuth::verify_token_sync(|token| (token == "secret-token-1").then(|| "john".to_owned()));
//! let svc = ServiceBuilder::new()
//!     .layer(auth.login_required().grpc())
//!     .service_fn(|_req: Request<Full<Bytes>>| async {
//!         Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("a gRPC answer")))
//!     });
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let call = |token: &str| {
//!     Request::post("/grpc.health.v1.Health/Check")
//!         .header("content-type", "application/grpc")
//!         .header("authorization", format!("Bearer {token}"))
//!         .body(Full::default())
//!         .unwrap()
//! };
//! let res = svc.clone().oneshot(call("wrong")).await.unwrap();
//! assert_eq!(res.status(), 200);
//! assert_eq!(res.headers()["content-type"], "application/grpc");
//! assert_eq!(res.headers()["grpc-status"], "16"); // UNAUTHENTICATED
//! assert_eq!(res.headers()["grpc-message"], "invalid credentials");
//! assert!(res.headers().contains_key("www-authenticate"));
//!
//! let res = svc.oneshot(call("secret-token-1")).await.unwrap();
//! assert!(!res.headers().contains_key("grpc-status"));
//! # });
//! ```

use std::fmt;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::AuthError;
use crate::exchange::{merge_headers, settle, Exchange};
use crate::policy::{BodyFailure, Decision, LoginRequired};
use crate::scheme::{AuthFuture, AuthRequest, Identity};

/// A gRPC status code, as `grpc-status` carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrpcCode {
    /// `UNKNOWN` (2).
    Unknown = 2,
    /// `INVALID_ARGUMENT` (3).
    InvalidArgument = 3,
    /// `DEADLINE_EXCEEDED` (4).
    DeadlineExceeded = 4,
    /// `PERMISSION_DENIED` (7).
    PermissionDenied = 7,
    /// `RESOURCE_EXHAUSTED` (8).
    ResourceExhausted = 8,
    /// `INTERNAL` (13).
    Internal = 13,
    /// `UNAVAILABLE` (14).
    Unavailable = 14,
    /// `UNAUTHENTICATED` (16).
    Unauthenticated = 16,
}

impl GrpcCode {
    /// The code a refusal with this HTTP status answers with (the table in the
    /// [module docs](self)).
    #[must_use]
    pub const fn from_http(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => Self::Unauthenticated,
            403 => Self::PermissionDenied,
            429 | 413 => Self::ResourceExhausted,
            503 => Self::Unavailable,
            400 => Self::InvalidArgument,
            408 => Self::DeadlineExceeded,
            500 => Self::Internal,
            _ => Self::Unknown,
        }
    }

    /// The number `grpc-status` carries.
    #[must_use]
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

impl<U> LoginRequired<U> {
    /// This route's policy as a gRPC layer: refusals are trailers-only gRPC responses (see the
    /// [module docs](crate::grpc)).
    #[must_use]
    pub fn grpc(self) -> GrpcLoginRequired<U> {
        GrpcLoginRequired { policy: self }
    }
}

/// A [`LoginRequired`] that answers refusals as gRPC does: a tower [`Layer`] for tonic. Made
/// by [`LoginRequired::grpc`]; see the [module docs](self).
pub struct GrpcLoginRequired<U> {
    policy: LoginRequired<U>,
}

impl<U> Clone for GrpcLoginRequired<U> {
    fn clone(&self) -> Self {
        Self {
            policy: self.policy.clone(),
        }
    }
}

impl<U> fmt::Debug for GrpcLoginRequired<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GrpcLoginRequired")
            .field(&self.policy)
            .finish()
    }
}

impl<S, U> Layer<S> for GrpcLoginRequired<U> {
    type Service = GrpcAuthService<S, U>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcAuthService {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service [`GrpcLoginRequired`] wraps around a gRPC service.
pub struct GrpcAuthService<S, U> {
    inner: S,
    policy: LoginRequired<U>,
}

impl<S: Clone, U> Clone for GrpcAuthService<S, U> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            policy: self.policy.clone(),
        }
    }
}

impl<S: fmt::Debug, U> fmt::Debug for GrpcAuthService<S, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcAuthService")
            .field("inner", &self.inner)
            .field("policy", &self.policy)
            .finish()
    }
}

impl<S, U> GrpcAuthService<S, U> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, U, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcAuthService<S, U>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    U: Clone + Send + Sync + 'static,
    ReqBody: Send + 'static,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = GrpcResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let decision = self.policy.check(&AuthRequest::new(&req));
        match decision.into_ready() {
            Ok(Decision::Allow { identity, error }) => {
                let headers = crate::tower::allow(req.extensions_mut(), identity, error);
                GrpcResponseFuture::inner(self.inner.call(req), headers)
            }
            Ok(Decision::Deny(response)) => GrpcResponseFuture::ready(refusal(response)),
            // A scheme that needs the body (refused by `GrpcExchange`), or a callback that
            // waits.
            Ok(read_body) => self.boxed(req, AuthFuture::ready(read_body)),
            Err(pending) => self.boxed(req, pending),
        }
    }
}

impl<S, U> GrpcAuthService<S, U> {
    /// The awaited path (the shared driver, [`settle`]), then the inner service.
    #[inline(never)]
    fn boxed<ReqBody, ResBody>(
        &mut self,
        req: Request<ReqBody>,
        pending: AuthFuture<Decision<U>>,
    ) -> GrpcResponseFuture<S::Future, ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        U: Clone + Send + Sync + 'static,
        ReqBody: Send + 'static,
        ResBody: Default,
    {
        // The inner service is called later: take the instance that was driven to readiness
        // and leave a clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let policy = self.policy.clone();
        GrpcResponseFuture::boxed(Box::pin(async move {
            let (parts, body) = req.into_parts();
            let mut exchange = GrpcExchange { parts };
            match settle(&policy, &mut exchange, pending).await {
                Ok(headers) => {
                    let req = Request::from_parts(exchange.parts, body);
                    let mut response = inner.call(req).await?;
                    merge_headers(headers, response.headers_mut());
                    Ok(response)
                }
                Err(response) => Ok(refusal(response)),
            }
        }))
    }
}

/// A gRPC request on the awaited path: the head only (its body is a stream of messages the
/// layer never reads).
struct GrpcExchange {
    parts: http::request::Parts,
}

impl Exchange for GrpcExchange {
    fn head(&self) -> &dyn crate::scheme::RequestHead {
        &self.parts
    }

    async fn read_body(&mut self, _limit: usize) -> Result<Bytes, BodyFailure> {
        Err(BodyFailure::Unreadable)
    }

    fn allow<U: Clone + Send + Sync + 'static>(
        &mut self,
        identity: Option<Identity<U>>,
        error: Option<AuthError>,
    ) -> Option<Box<HeaderMap>> {
        crate::tower::allow(&mut self.parts.extensions, identity, error)
    }
}

/// A refusal as a trailers-only gRPC response: `200`, `application/grpc`, `grpc-status` and
/// `grpc-message` in the headers, an empty body; the other headers (the challenge,
/// `Retry-After`) and the extensions (the [`AuthError`]) kept.
#[cold]
#[inline(never)]
fn refusal<B: Default>(response: Response<Bytes>) -> Response<B> {
    let (mut parts, _body) = response.into_parts();
    let code = GrpcCode::from_http(parts.status);
    let message = match parts.extensions.get::<AuthError>() {
        Some(err) => err.to_string(),
        None => parts
            .status
            .canonical_reason()
            .unwrap_or("refused")
            .to_owned(),
    };
    parts.status = StatusCode::OK;
    let headers = &mut parts.headers;
    headers.remove(CONTENT_LENGTH);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(u16::from(code.as_u8())));
    if let Ok(value) = HeaderValue::from_str(&percent_encode(&message)) {
        headers.insert("grpc-message", value);
    }
    Response::from_parts(parts, B::default())
}

/// `grpc-message` encoding (gRPC over HTTP/2, "Status-Message"): bytes outside printable
/// ASCII, and `%`, as `%XX`.
fn percent_encode(message: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(message.len());
    for &byte in message.as_bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The response future of [`GrpcAuthService`]: the tower adapter's (the inner service's
/// future unboxed when the policy answered at once, a ready refusal, or the awaited path).
pub type GrpcResponseFuture<F, B, E> = crate::tower::ResponseFuture<F, B, E>;

#[cfg(test)]
mod tests {
    use super::{percent_encode, GrpcCode};
    use http::StatusCode;

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(percent_encode("invalid credentials"), "invalid credentials");
        assert_eq!(percent_encode("100% é\n"), "100%25 %C3%A9%0A");
    }

    #[test]
    fn statuses_map_to_grpc_codes() {
        let code = |s: u16| GrpcCode::from_http(StatusCode::from_u16(s).unwrap()).as_u8();
        assert_eq!(
            [401, 403, 429, 503, 400, 413, 408, 500, 418].map(code),
            [16, 7, 8, 14, 3, 8, 4, 13, 2]
        );
    }
}
