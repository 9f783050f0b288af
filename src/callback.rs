//! The callback traits, in one place: what an application gives the library to verify
//! credentials ([`VerifyPassword`], [`GetPassword`], [`GetDigestUser`], [`VerifyToken`]), to
//! name a user's roles ([`UserRoles`]) and to answer a refusal ([`ErrorHandler`]).
//!
//! Each is implemented for async closures; the builders take plain functions through their
//! `_sync` methods, and a store implements a trait directly (answering with
//! [`AuthFuture::ready`] when it knows at once).
//!
//! ```
//! use httpauth::{BasicAuth, VerifyPassword};
//! use httpauth::scheme::AuthFuture;
//! use httpauth::policy::Decision;
//! use httpauth::scheme::AuthRequest;
//!
//! /// A verifier of one's own, answering at once.
//! struct OnlyJohn;
//!
//! impl VerifyPassword for OnlyJohn {
//!     type User = String;
//!     fn verify_password(&self, username: &str, password: &str) -> AuthFuture<Option<String>> {
//!         AuthFuture::ready((username == "john" && password == "hello").then(|| username.to_owned()))
//!     }
//! }
//!
//! let route = BasicAuth::verify_password(OnlyJohn).login_required();
//! let req = http::Request::get("/").header("authorization", "Basic am9objpoZWxsbw==").body(()).unwrap();
//! assert!(matches!(route.check(&AuthRequest::new(&req)).into_ready(), Ok(Decision::Allow { identity: Some(_), .. })));
//! ```

use std::future::Future;

use bytes::Bytes;
use http::Response;

use crate::digest::algorithm::Algorithm;
use crate::error::AuthError;
use crate::roles::Roles;
use crate::scheme::AuthFuture;

/// The verify-password callback: the user these credentials belong to, or `None`.
///
/// Implemented for async closures `Fn(String, String) -> impl Future<Output = Option<User>>`
/// (username, password); plain functions go through [`BasicAuth::verify_password_sync`](crate::BasicAuth::verify_password_sync); a
/// store ([`HashedPasswords`](crate::password::HashedPasswords), ...) implements it directly,
/// answering a cache hit with a ready future.
pub trait VerifyPassword: Send + Sync + 'static {
    /// The application's user type.
    type User: Clone + Send + Sync + 'static;

    /// The user these credentials belong to, or `None`. Return [`AuthFuture::ready`] when the
    /// answer is known at once; the future owns what it needs.
    fn verify_password(&self, username: &str, password: &str) -> AuthFuture<Option<Self::User>>;

    /// What [`Basic`](crate::basic::Basic) calls: [`verify_password`](Self::verify_password), or an error when the
    /// credentials cannot be checked now (e.g. a 503
    /// [`AuthErrorKind::Overloaded`](crate::AuthErrorKind::Overloaded) with `Retry-After`
    /// when the password stores' hashing queue is full). The default never fails.
    fn check_password(
        &self,
        username: &str,
        password: &str,
    ) -> AuthFuture<Result<Option<Self::User>, AuthError>> {
        self.verify_password(username, password).map(Ok)
    }
}

impl<F, Fut, U> VerifyPassword for F
where
    F: Fn(String, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<U>> + Send + 'static,
    U: Clone + Send + Sync + 'static,
{
    type User = U;

    fn verify_password(&self, username: &str, password: &str) -> AuthFuture<Option<U>> {
        AuthFuture::new(self(username.to_owned(), password.to_owned()))
    }
}

/// A plain function as a [`VerifyPassword`]: answers at once.
pub(crate) struct SyncVerifyPassword<F>(pub(crate) F);

impl<F, U> VerifyPassword for SyncVerifyPassword<F>
where
    F: Fn(&str, &str) -> Option<U> + Send + Sync + 'static,
    U: Clone + Send + Sync + 'static,
{
    type User = U;

    fn verify_password(&self, username: &str, password: &str) -> AuthFuture<Option<U>> {
        AuthFuture::ready((self.0)(username, password))
    }
}

/// The get-password callback: the stored password (or hash) for a username.
///
/// Implemented for async closures `Fn(String) -> impl Future<Output = Option<String>>`; plain
/// functions go through [`BasicAuth::get_password_sync`](crate::BasicAuth::get_password_sync).
pub trait GetPassword: Send + Sync + 'static {
    /// The stored password of `username`, or `None` for an unknown user.
    fn get_password(&self, username: &str) -> AuthFuture<Option<String>>;
}

impl<F, Fut> GetPassword for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<String>> + Send + 'static,
{
    fn get_password(&self, username: &str) -> AuthFuture<Option<String>> {
        AuthFuture::new(self(username.to_owned()))
    }
}

pub(crate) struct SyncGetPassword<F>(pub(crate) F);

impl<F> GetPassword for SyncGetPassword<F>
where
    F: Fn(&str) -> Option<String> + Send + Sync + 'static,
{
    fn get_password(&self, username: &str) -> AuthFuture<Option<String>> {
        AuthFuture::ready((self.0)(username))
    }
}

/// The get-secret callback that also returns the user: for a username and the algorithm the
/// client uses, the password (or HA1 with [`use_ha1`](crate::DigestAuth::use_ha1)) and your user
/// object, or `None` for an unknown user.
///
/// Implemented for async closures `Fn(String, Algorithm) -> impl Future<Output =
/// Option<(String, U)>>`; sync closures go through [`DigestAuth::get_user_sync`](crate::DigestAuth::get_user_sync).
pub trait GetDigestUser: Send + Sync + 'static {
    /// The application's user type.
    type User: Clone + Send + Sync + 'static;

    /// The secret and the user of `username` ([`AuthFuture::ready`] when known at once).
    fn get_digest_user(
        &self,
        username: &str,
        algorithm: Algorithm,
    ) -> AuthFuture<Option<(String, Self::User)>>;
}

impl<F, Fut, U> GetDigestUser for F
where
    F: Fn(String, Algorithm) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<(String, U)>> + Send + 'static,
    U: Clone + Send + Sync + 'static,
{
    type User = U;

    fn get_digest_user(
        &self,
        username: &str,
        algorithm: Algorithm,
    ) -> AuthFuture<Option<(String, U)>> {
        AuthFuture::new(self(username.to_owned(), algorithm))
    }
}

/// A plain function as a [`GetDigestUser`]: answers at once.
pub(crate) struct SyncDigestUser<F>(pub(crate) F);

impl<F, U> GetDigestUser for SyncDigestUser<F>
where
    F: Fn(&str, Algorithm) -> Option<(String, U)> + Send + Sync + 'static,
    U: Clone + Send + Sync + 'static,
{
    type User = U;

    fn get_digest_user(
        &self,
        username: &str,
        algorithm: Algorithm,
    ) -> AuthFuture<Option<(String, U)>> {
        AuthFuture::ready((self.0)(username, algorithm))
    }
}

/// The verify-token callback: the user this token belongs to, or `None`.
///
/// Implemented for async closures `Fn(String) -> impl Future<Output = Option<User>>`; plain
/// functions go through [`TokenAuth::verify_token_sync`](crate::TokenAuth::verify_token_sync).
pub trait VerifyToken: Send + Sync + 'static {
    /// The application's user type.
    type User: Clone + Send + Sync + 'static;

    /// The user this token belongs to, or `None` ([`AuthFuture::ready`] when known at once).
    fn verify_token(&self, token: &str) -> AuthFuture<Option<Self::User>>;
}

impl<F, Fut, U> VerifyToken for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<U>> + Send + 'static,
    U: Clone + Send + Sync + 'static,
{
    type User = U;

    fn verify_token(&self, token: &str) -> AuthFuture<Option<U>> {
        AuthFuture::new(self(token.to_owned()))
    }
}

/// A plain function as a [`VerifyToken`]: answers at once.
pub(crate) struct SyncVerifyToken<F>(pub(crate) F);

impl<F, U> VerifyToken for SyncVerifyToken<F>
where
    F: Fn(&str) -> Option<U> + Send + Sync + 'static,
    U: Clone + Send + Sync + 'static,
{
    type User = U;

    fn verify_token(&self, token: &str) -> AuthFuture<Option<U>> {
        AuthFuture::ready((self.0)(token))
    }
}

/// The get-user-roles callback: the roles of an authenticated user.
///
/// Implemented for async closures `Fn(U) -> impl Future<Output = impl Into<Roles>>` (they get a
/// clone of the user); plain functions of `&U` go through `user_roles_sync` on the builders.
pub trait UserRoles<U>: Send + Sync + 'static {
    /// The roles of `user`.
    fn user_roles(&self, user: &U) -> AuthFuture<Roles>;
}

impl<U, F, Fut, R> UserRoles<U> for F
where
    U: Clone + Send + Sync + 'static,
    F: Fn(U) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: Into<Roles>,
{
    fn user_roles(&self, user: &U) -> AuthFuture<Roles> {
        let fut = self(user.clone());
        AuthFuture::new(async move { fut.await.into() })
    }
}

/// A plain function of the user as a [`UserRoles`] (answers at once).
pub(crate) struct SyncUserRoles<F>(pub(crate) F);

impl<U, F, R> UserRoles<U> for SyncUserRoles<F>
where
    F: Fn(&U) -> R + Send + Sync + 'static,
    R: Into<Roles>,
{
    fn user_roles(&self, user: &U) -> AuthFuture<Roles> {
        AuthFuture::ready((self.0)(user).into())
    }
}

/// The custom error handler: builds the response for a refused request.
///
/// Implemented for closures `Fn(&AuthError) -> R` where `R` is an `http::Response` whose body
/// converts into `Bytes` (`String`, `Vec<u8>`, `&'static str`, `Bytes`). Whatever it returns is
/// sent as is (status included), except that the scheme's challenge is added when the response
/// has no `WWW-Authenticate` header of its own (a 401 must carry one, RFC 9110 §11.6.1), and
/// the [`AuthError`] is attached to its extensions.
pub trait ErrorHandler: Send + Sync + 'static {
    /// The response for `err`.
    fn error_response(&self, err: &AuthError) -> Response<Bytes>;
}

impl<F, B> ErrorHandler for F
where
    F: Fn(&AuthError) -> Response<B> + Send + Sync + 'static,
    B: Into<Bytes>,
{
    fn error_response(&self, err: &AuthError) -> Response<Bytes> {
        self(err).map(Into::into)
    }
}
