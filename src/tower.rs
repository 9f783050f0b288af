//! The tower adapter: [`LoginRequired`] is a [`Layer`], [`AuthService`] the service it makes.
//!
//! Use it per route with axum's `route_layer` (unknown paths stay 404) or around a whole
//! router or any tower service. The response body type only needs `From<Bytes>` (axum's
//! `Body`, `http_body_util::Full<Bytes>`, ...).
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use httpauth::BasicAuth;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! let auth = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then_some(()));
//! let svc = ServiceBuilder::new()
//!     .layer(auth.login_required())
//!     .service_fn(|_req: Request<Full<Bytes>>| async {
//!         Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("hi")))
//!     });
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let res = svc.clone().oneshot(Request::new(Full::default())).await.unwrap();
//! assert_eq!(res.status(), 401);
//! assert_eq!(res.headers()["www-authenticate"], r#"Basic realm="Authentication Required""#);
//! let res = svc
//!     .oneshot(Request::get("/").header("authorization", "Basic am9objpoZWxsbw==").body(Full::default()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(res.status(), 200);
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::CACHE_CONTROL;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::extract::insert_identity;
use crate::guard::{Decision, LoginRequired, Now};
use crate::scheme::{AuthRequest, BoxFuture};

impl<S, U: Clone + Send + Sync + 'static> Layer<S> for LoginRequired<U> {
    type Service = AuthService<S, U>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            policy: Arc::new(self.clone()),
        }
    }
}

/// The service [`LoginRequired`] wraps around an inner service.
pub struct AuthService<S, U> {
    inner: S,
    policy: Arc<LoginRequired<U>>,
}

impl<S: Clone, U> Clone for AuthService<S, U> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            policy: self.policy.clone(),
        }
    }
}

impl<S: fmt::Debug, U: Clone + Send + Sync + 'static> fmt::Debug for AuthService<S, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("inner", &self.inner)
            .field("policy", &self.policy)
            .finish()
    }
}

impl<S, U> AuthService<S, U> {
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

impl<S, U, ReqBody, ResBody> Service<Request<ReqBody>> for AuthService<S, U>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    U: Clone + Send + Sync + 'static,
    ReqBody: http_body::Body + From<Bytes> + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (mut parts, body) = req.into_parts();

        // Fast path: the scheme answered at once (sync callbacks, cache hits, malformed or
        // missing credentials): the inner service is called now, on the instance `poll_ready`
        // prepared, and its future is returned as is, unboxed.
        let policy = self.policy.clone();
        let pending_roles = match policy.check_now(head(&parts)) {
            Now::Decided(decision) => {
                return match decision {
                    Decision::Allow { identity, error } => {
                        let private = allow(&mut parts, identity, error);
                        let future = self.inner.call(Request::from_parts(parts, body));
                        ResponseFuture::inner(future, private)
                    }
                    Decision::Deny(response) => ResponseFuture::ready(response.map(ResBody::from)),
                };
            }
            Now::Roles { index, identity } => Some((index, identity)),
            Now::Defer => None,
        };

        // The inner service will be called later: take the instance that was driven to
        // readiness and leave a clone behind (tower's advice for middleware that awaits).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::boxed(Box::pin(async move {
            let mut body = body;
            let decision = match pending_roles {
                // Authenticated already: only the roles are awaited.
                Some((index, identity)) => policy.finish_roles(index, identity).await,
                None => {
                    let mut buffered = None;
                    if let Some(limit) = policy.body_limit(head(&parts)) {
                        match Limited::new(body, limit).collect().await {
                            Ok(collected) => {
                                let bytes = collected.to_bytes();
                                body = ReqBody::from(bytes.clone());
                                buffered = Some(bytes);
                            }
                            Err(err) => {
                                let too_large = err.is::<LengthLimitError>();
                                let response = policy.reject_body(head(&parts), too_large);
                                return Ok(response.map(ResBody::from));
                            }
                        }
                    }
                    policy
                        .check(head(&parts).with_body(buffered.as_ref()))
                        .await
                }
            };
            match decision {
                Decision::Allow { identity, error } => {
                    let private = allow(&mut parts, identity, error);
                    let mut response = inner.call(Request::from_parts(parts, body)).await?;
                    mark_private(&mut response, private);
                    Ok(response)
                }
                Decision::Deny(response) => Ok(response.map(ResBody::from)),
            }
        }))
    }
}

/// The request head for the policy, with the target the client sent when axum's `nest` rewrote
/// the URI.
fn head(parts: &http::request::Parts) -> AuthRequest<'_> {
    let req = AuthRequest::from_parts(parts);
    #[cfg(feature = "axum")]
    let req = req.with_original_uri(
        parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map(|original| &original.0),
    );
    req
}

/// Moves what the handler may read into the request extensions; whether the response must be
/// marked private.
fn allow<U: Clone + Send + Sync + 'static>(
    parts: &mut http::request::Parts,
    identity: Option<crate::Identity<U>>,
    error: Option<crate::AuthError>,
) -> bool {
    let private = identity.as_ref().is_some_and(|id| id.private_cache);
    if let Some(identity) = identity {
        insert_identity(&mut parts.extensions, identity);
    }
    if let Some(error) = error {
        parts.extensions.insert(error);
    }
    private
}

/// `Cache-Control: private` on a response authenticated by a header shared caches do not
/// know, unless the handler chose its own.
fn mark_private<B>(response: &mut Response<B>, private: bool) {
    if private && !response.headers().contains_key(CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("private"));
    }
}

pin_project! {
    /// The response future of [`AuthService`].
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E> {
        Inner { #[pin] future: F, private: bool },
        Ready { response: Option<Response<B>> },
        Boxed { future: BoxFuture<'static, Result<Response<B>, E>> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    fn inner(future: F, private: bool) -> Self {
        Self {
            kind: Kind::Inner { future, private },
        }
    }

    fn ready(response: Response<B>) -> Self {
        Self {
            kind: Kind::Ready {
                response: Some(response),
            },
        }
    }

    fn boxed(future: BoxFuture<'static, Result<Response<B>, E>>) -> Self {
        Self {
            kind: Kind::Boxed { future },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, private } => {
                let mut response = std::task::ready!(future.poll(cx))?;
                mark_private(&mut response, *private);
                Poll::Ready(Ok(response))
            }
            KindProj::Ready { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            KindProj::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, B, E> fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
