//! [`AuthFuture`]: what every callback returns, an answer that is already there or real
//! waiting.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A boxed, `Send`, `'static` future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The future every callback and scheme returns. It owns what it needs (`'static`), so the
/// caller can hold it past the request borrow.
///
/// An answer known at once ([`AuthFuture::ready`]) is not boxed: the adapters take it with
/// [`into_ready`](Self::into_ready) and decide inline. Only real waiting
/// ([`AuthFuture::new`]) allocates. There is no synchronous twin of any callback: a ready
/// future *is* the fast path.
#[must_use = "futures do nothing unless polled"]
pub struct AuthFuture<T> {
    inner: Inner<T>,
}

enum Inner<T> {
    Ready(Option<T>),
    Boxed(BoxFuture<T>),
}

impl<T> AuthFuture<T> {
    /// An answer available now (no allocation).
    pub fn ready(value: T) -> Self {
        Self {
            inner: Inner::Ready(Some(value)),
        }
    }

    /// Wraps real async work (boxes it).
    pub fn new<F>(future: F) -> Self
    where
        F: Future<Output = T> + Send + 'static,
    {
        Self {
            inner: Inner::Boxed(Box::pin(future)),
        }
    }

    /// The answer when it is already there; the future otherwise.
    ///
    /// # Errors
    ///
    /// Gives the future back when it must be awaited.
    pub fn into_ready(self) -> Result<T, Self> {
        match self.inner {
            Inner::Ready(Some(value)) => Ok(value),
            inner => Err(Self { inner }),
        }
    }

    /// Whether the answer is already there.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        matches!(self.inner, Inner::Ready(Some(_)))
    }

    /// Maps the output; stays unboxed when the answer is already there.
    pub fn map<V, F>(self, f: F) -> AuthFuture<V>
    where
        F: FnOnce(T) -> V + Send + 'static,
        T: Send + 'static,
        V: 'static,
    {
        match self.into_ready() {
            Ok(value) => AuthFuture::ready(f(value)),
            Err(fut) => AuthFuture::new(async move { f(fut.await) }),
        }
    }

    /// Chains another step that may itself wait; stays unboxed when both answer at once.
    pub fn and_then<V, F>(self, f: F) -> AuthFuture<V>
    where
        F: FnOnce(T) -> AuthFuture<V> + Send + 'static,
        T: Send + 'static,
        V: Send + 'static,
    {
        match self.into_ready() {
            Ok(value) => f(value),
            Err(fut) => AuthFuture::new(async move { f(fut.await).await }),
        }
    }
}

impl<T> Unpin for AuthFuture<T> {}

impl<T> Future for AuthFuture<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match &mut self.get_mut().inner {
            Inner::Ready(value) => match value.take() {
                Some(value) => Poll::Ready(value),
                None => panic!("AuthFuture polled after completion"),
            },
            Inner::Boxed(fut) => fut.as_mut().poll(cx),
        }
    }
}

impl<T> fmt::Debug for AuthFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.inner {
            Inner::Ready(_) => "AuthFuture::Ready",
            Inner::Boxed(_) => "AuthFuture::Boxed",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_stays_unboxed_through_map_and_then() {
        let fut = AuthFuture::ready(2)
            .map(|x| x * 3)
            .and_then(|x| AuthFuture::ready(x + 1));
        assert!(fut.is_ready());
        assert_eq!(fut.into_ready().ok(), Some(7));
    }

    #[test]
    fn boxed_is_awaited() {
        let fut = AuthFuture::new(async { 5 }).map(|x| x + 1);
        assert!(!fut.is_ready());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(fut), 6);
    }
}
