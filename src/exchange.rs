//! What the adapters share: the awaited path of a request ([`settle`]), reading a body a
//! scheme needs (bounded in size and time), and putting a scheme's headers on a successful
//! response ([`merge_headers`]). An adapter only converts its framework's types: it gives the
//! core an [`Exchange`] over its request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Response};

use crate::error::AuthError;
use crate::policy::{BodyFailure, Decision, LoginRequired};
use crate::scheme::{AuthFuture, AuthRequest, Identity, RequestHead};

/// A request on the awaited path, as an adapter holds it.
pub(crate) trait Exchange {
    /// The request head.
    fn head(&self) -> &dyn RequestHead;

    /// Reads the body (at most `limit` bytes, through [`collect`]) and keeps it for the
    /// handler; the bytes for the scheme.
    fn read_body(&mut self, limit: usize) -> impl Future<Output = Result<Bytes, BodyFailure>>;

    /// Puts what the handler may read into the request extensions (the identity, and the
    /// error on an optional route); the scheme's headers for the response.
    fn allow<U: Clone + Send + Sync + 'static>(
        &mut self,
        identity: Option<Identity<U>>,
        error: Option<AuthError>,
    ) -> Option<Box<HeaderMap>>;
}

/// The awaited path: the decision (reading the body first when the credentials need it),
/// then either the headers for the handler's response (the request may go on) or the
/// refusal.
pub(crate) async fn settle<U, E>(
    policy: &LoginRequired<U>,
    exchange: &mut E,
    first: AuthFuture<Decision<U>>,
) -> Result<Option<Box<HeaderMap>>, Response<Bytes>>
where
    U: Clone + Send + Sync + 'static,
    E: Exchange,
{
    let mut decision = first.await;
    let mut body = None;
    loop {
        match decision {
            Decision::Allow { identity, error } => return Ok(exchange.allow(identity, error)),
            Decision::Deny(response) => return Err(response),
            Decision::ReadBody { limit, timeout } => {
                let read = match body {
                    // Asked again with the body there: a scheme's bug; refused.
                    Some(_) => Err(BodyFailure::Unreadable),
                    None => crate::timer::within(timeout, exchange.read_body(limit))
                        .await
                        .unwrap_or(Err(BodyFailure::TimedOut)),
                };
                let bytes = match read {
                    Ok(bytes) => body.insert(bytes),
                    Err(failure) => {
                        let head = AuthRequest::new(exchange.head());
                        return Err(policy.reject_body(&head, failure));
                    }
                };
                let check = policy.check(&AuthRequest::new(exchange.head()).with_body(Some(bytes)));
                decision = check.await;
            }
            Decision::Admit(admission) => {
                decision = match admission.await {
                    Ok(ticket) => {
                        let check = policy.check_admitted(
                            &AuthRequest::new(exchange.head()).with_body(body.as_ref()),
                            &ticket,
                        );
                        // The policy has taken the ticket: the check settles the attempt.
                        drop(ticket);
                        check.await
                    }
                    Err(refused) => refused,
                };
            }
        }
    }
}

/// A body as chunks of bytes (each adapter's body type implements it).
pub(crate) trait Chunks {
    /// The next chunk; `None` at the end; `Err` when the body cannot be read.
    fn poll_chunk(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ()>>>;
}

/// Reads a whole body of at most `limit` bytes.
pub(crate) async fn collect<C: Chunks + ?Sized>(
    mut chunks: Pin<&mut C>,
    limit: usize,
) -> Result<Bytes, BodyFailure> {
    let mut body = BytesMut::new();
    loop {
        match std::future::poll_fn(|cx| chunks.as_mut().poll_chunk(cx)).await {
            None => return Ok(body.freeze()),
            Some(Ok(chunk)) => {
                if body.len().saturating_add(chunk.len()) > limit {
                    return Err(BodyFailure::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Some(Err(())) => return Err(BodyFailure::Unreadable),
        }
    }
}

/// A response's header map, as [`merge_headers`] writes to it (`http`'s, or an adapter's own).
pub(crate) trait Headers {
    /// Whether a header of this name is there.
    fn has(&self, name: &HeaderName) -> bool;
    /// Adds a value.
    fn append(&mut self, name: &HeaderName, value: &HeaderValue);
}

impl Headers for HeaderMap {
    fn has(&self, name: &HeaderName) -> bool {
        self.contains_key(name)
    }

    fn append(&mut self, name: &HeaderName, value: &HeaderValue) {
        HeaderMap::append(self, name.clone(), value.clone());
    }
}

/// Puts a scheme's headers (`Authentication-Info`, `Cache-Control: private`, ...) on a
/// successful response, every value of each, unless the handler set a header of the same
/// name.
#[inline]
pub(crate) fn merge_headers<H: Headers + ?Sized>(
    headers: Option<Box<HeaderMap>>,
    response: &mut H,
) {
    if let Some(headers) = headers {
        merge_now(&headers, response);
    }
}

/// Out of line: most schemes add no headers.
#[inline(never)]
fn merge_now<H: Headers + ?Sized>(headers: &HeaderMap, response: &mut H) {
    for name in headers.keys() {
        if response.has(name) {
            continue;
        }
        for value in headers.get_all(name) {
            response.append(name, value);
        }
    }
}
