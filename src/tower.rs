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
use std::task::{Context, Poll};

use bytes::Buf as _;
use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::exchange::{collect, merge_headers, settle, Chunks, Exchange};
use crate::extract::insert_identity;
use crate::policy::{BodyFailure, Decision, LoginRequired};
use crate::scheme::{AuthFuture, AuthRequest, BoxFuture, Identity};

impl<S, U: Clone + Send + Sync + 'static> Layer<S> for LoginRequired<U> {
    type Service = AuthService<S, U>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            policy: self.clone(),
        }
    }
}

/// The service [`LoginRequired`] wraps around an inner service.
pub struct AuthService<S, U> {
    inner: S,
    policy: LoginRequired<U>,
}

impl<S: Clone, U> Clone for AuthService<S, U> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            policy: self.policy.clone(),
        }
    }
}

impl<S: fmt::Debug, U> fmt::Debug for AuthService<S, U> {
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
    ReqBody: http_body::Body + Send + 'static,
    ReqBody::Data: Send,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let decision = self.policy.check(&AuthRequest::new(&req));
        match decision.into_ready() {
            // The policy answered at once (sync callbacks, cache hits, malformed or missing
            // credentials): the inner service is called now, on the instance `poll_ready`
            // prepared, and its future is returned as is, unboxed.
            Ok(Decision::Allow { identity, error }) => {
                let headers = allow(req.extensions_mut(), identity, error);
                ResponseFuture::inner(self.inner.call(req), headers)
            }
            Ok(Decision::Deny(response)) => ResponseFuture::ready(refusal(response)),
            // Digest `auth-int` (the body first), or a callback that waits.
            Ok(read_body) => self.boxed(req, AuthFuture::ready(read_body)),
            Err(pending) => self.boxed(req, pending),
        }
    }
}

impl<S, U> AuthService<S, U> {
    /// The awaited path ([`settle`]), then the inner service. Out of line, so the path of a
    /// request answered at once stays short (it is the normal path of an application whose
    /// callbacks wait, so it is not `#[cold]`).
    #[inline(never)]
    fn boxed<ReqBody, ResBody>(
        &mut self,
        req: Request<ReqBody>,
        first: AuthFuture<Decision<U>>,
    ) -> ResponseFuture<S::Future, ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        U: Clone + Send + Sync + 'static,
        ReqBody: http_body::Body + Send + 'static,
        ReqBody::Data: Send,
        ResBody: From<Bytes>,
    {
        // The inner service is called later: take the instance that was driven to readiness
        // and leave a clone behind (tower's advice for middleware that awaits).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let policy = self.policy.clone();
        ResponseFuture::boxed(Box::pin(async move {
            let (parts, body) = req.into_parts();
            let mut exchange = HttpExchange {
                parts,
                body: Some(body),
            };
            match settle(&policy, &mut exchange, first).await {
                Ok(headers) => {
                    let HttpExchange { parts, body } = exchange;
                    let Some(body) = body else {
                        // A body that was read is put back; unreachable.
                        let head = AuthRequest::new(&parts);
                        let response = policy.reject_body(&head, BodyFailure::Unreadable);
                        return Ok(response.map(ResBody::from));
                    };
                    let mut response = inner.call(Request::from_parts(parts, body)).await?;
                    add_headers(&mut response, headers);
                    Ok(response)
                }
                Err(response) => Ok(response.map(ResBody::from)),
            }
        }))
    }
}

/// An `http` request on the awaited path.
struct HttpExchange<B> {
    parts: http::request::Parts,
    /// `None` only while it is read.
    body: Option<B>,
}

impl<B> Exchange for HttpExchange<B>
where
    B: http_body::Body + Send + 'static,
{
    fn head(&self) -> &dyn crate::scheme::RequestHead {
        &self.parts
    }

    async fn read_body(&mut self, limit: usize) -> Result<Bytes, BodyFailure> {
        let Some(body) = self.body.take() else {
            return Err(BodyFailure::Unreadable);
        };
        let frames = std::pin::pin!(Frames { body });
        let bytes = collect(frames, limit).await?;
        match rebuild::<B>(bytes.clone()) {
            Some(again) => {
                self.body = Some(again);
                Ok(bytes)
            }
            None => {
                tracing::error!(
                    target: "httpauth",
                    body = std::any::type_name::<B>(),
                    "a scheme needs the request body, and this body type cannot carry it on to the handler"
                );
                Err(BodyFailure::Unsupported)
            }
        }
    }

    fn allow<U: Clone + Send + Sync + 'static>(
        &mut self,
        identity: Option<Identity<U>>,
        error: Option<crate::AuthError>,
    ) -> Option<Box<HeaderMap>> {
        allow(&mut self.parts.extensions, identity, error)
    }
}

pin_project! {
    /// An `http_body` body as [`Chunks`] (data frames; trailers are skipped).
    struct Frames<B> {
        #[pin]
        body: B,
    }
}

impl<B: http_body::Body> Chunks for Frames<B> {
    fn poll_chunk(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ()>>> {
        let mut body = self.project().body;
        loop {
            return match std::task::ready!(body.as_mut().poll_frame(cx)) {
                None => Poll::Ready(None),
                Some(Err(_)) => Poll::Ready(Some(Err(()))),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(mut data) => Poll::Ready(Some(Ok(data.copy_to_bytes(data.remaining())))),
                    // Trailers: not part of the content.
                    Err(_) => continue,
                },
            };
        }
    }
}

/// The buffered body as the service's own body type, for the body types that can carry it:
/// axum's `Body`, `http_body_util::Full<Bytes>` and `Bytes`. (Routes whose schemes never read
/// the body need nothing of their body type.)
fn rebuild<B: 'static>(bytes: Bytes) -> Option<B> {
    let mut slot: Option<B> = None;
    let any: &mut dyn std::any::Any = &mut slot;
    #[cfg(feature = "axum")]
    if let Some(slot) = any.downcast_mut::<Option<axum_core::body::Body>>() {
        *slot = Some(axum_core::body::Body::from(bytes));
        return take(any);
    }
    if let Some(slot) = any.downcast_mut::<Option<http_body_util::Full<Bytes>>>() {
        *slot = Some(http_body_util::Full::new(bytes));
    } else if let Some(slot) = any.downcast_mut::<Option<Bytes>>() {
        *slot = Some(bytes);
    }
    take(any)
}

fn take<B: 'static>(any: &mut dyn std::any::Any) -> Option<B> {
    any.downcast_mut::<Option<B>>().and_then(Option::take)
}

/// A refusal in the service's body type. Out of line: not the path of a valid request.
#[cold]
#[inline(never)]
fn refusal<B: From<Bytes>>(response: Response<Bytes>) -> Response<B> {
    response.map(B::from)
}

/// Moves what the handler may read into the request extensions; the headers for the response.
pub(crate) fn allow<U: Clone + Send + Sync + 'static>(
    extensions: &mut http::Extensions,
    identity: Option<Identity<U>>,
    error: Option<crate::AuthError>,
) -> Option<Box<HeaderMap>> {
    if let Some(error) = error {
        extensions.insert(error);
    }
    identity.and_then(|identity| insert_identity(extensions, identity))
}

/// The scheme's headers for a successful response, unless the handler set its own.
#[inline]
fn add_headers<B>(response: &mut Response<B>, headers: Option<Box<HeaderMap>>) {
    merge_headers(headers, response.headers_mut());
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
        Inner { #[pin] future: F, headers: Option<Box<HeaderMap>> },
        // Boxed: a refusal is the slow path, and the future stays small for every request
        // that is let through.
        Ready { response: Option<Box<Response<B>>> },
        Boxed { future: BoxFuture<Result<Response<B>, E>> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    pub(crate) fn inner(future: F, headers: Option<Box<HeaderMap>>) -> Self {
        Self {
            kind: Kind::Inner { future, headers },
        }
    }

    pub(crate) fn ready(response: Response<B>) -> Self {
        Self {
            kind: Kind::Ready {
                response: Some(Box::new(response)),
            },
        }
    }

    pub(crate) fn boxed(future: BoxFuture<Result<Response<B>, E>>) -> Self {
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
            KindProj::Inner { future, headers } => {
                let mut response = std::task::ready!(future.poll(cx))?;
                add_headers(&mut response, headers.take());
                Poll::Ready(Ok(response))
            }
            KindProj::Ready { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(*response)),
                None => panic!("ResponseFuture polled after completion"),
            },
            KindProj::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, B, E> fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
