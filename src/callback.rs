//! The callback traits, in one place: what an application gives the library to verify
//! credentials ([`VerifyPassword`], [`GetPassword`], [`GetDigestUser`], [`VerifyToken`]), to
//! name a user's roles ([`UserRoles`]) and to answer a refusal ([`ErrorHandler`]).
//!
//! Each is implemented for async closures; the builders take plain functions through their
//! `_sync` methods, and a store implements a trait directly (answering with
//! [`AuthFuture::ready`] when it knows at once).
//!
//! ```
//! use httpauth::{AuthError, BasicAuth, VerifyPassword};
//! use httpauth::scheme::AuthFuture;
//! use httpauth::policy::Decision;
//! use httpauth::scheme::AuthRequest;
//!
//! /// A verifier of one's own, answering at once.
//! struct OnlyJohn;
//!
//! impl VerifyPassword for OnlyJohn {
//!     type User = String;
//!     fn verify_password(&self, username: &str, password: &str) -> AuthFuture<Result<Option<String>, AuthError>> {
//!         AuthFuture::ready(Ok((username == "john" && password == "hello").then(|| username.to_owned())))
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

/// What a verify or lookup callback answers: found (`Some`), not found (`None`), or an error
/// that answers the request itself.
///
/// Implemented for `Option<T>` (a callback that cannot fail) and `Result<Option<T>, E>` with
/// `E: Into<AuthError>` (one that can). An error is never counted as a failed attempt: a
/// store that is down gives [`AuthError::backend`] (503 with `Retry-After`, logged once); a
/// token that is expired or revoked gives `AuthError::invalid().with_detail("token expired")`
/// (401, with RFC 6750's `error_description` when the token auth sends RFC 6750 errors).
pub trait Answer: Send + 'static {
    /// What is found.
    type Value;

    /// The answer as the library reads it.
    ///
    /// # Errors
    ///
    /// The callback's error, as an [`AuthError`].
    fn into_answer(self) -> Result<Option<Self::Value>, AuthError>;
}

impl<T: Send + 'static> Answer for Option<T> {
    type Value = T;

    #[inline]
    fn into_answer(self) -> Result<Option<T>, AuthError> {
        Ok(self)
    }
}

impl<T: Send + 'static, E: Into<AuthError> + Send + 'static> Answer for Result<Option<T>, E> {
    type Value = T;

    #[inline]
    fn into_answer(self) -> Result<Option<T>, AuthError> {
        self.map_err(Into::into)
    }
}

/// What a roles callback answers: roles (anything `Into<Roles>`), or `Result<R, E>` with
/// `E: Into<AuthError>` when looking them up can fail (the request is then answered with the
/// error, 503 for [`AuthError::backend`]).
pub trait RolesAnswer: Send + 'static {
    /// The answer as the library reads it.
    ///
    /// # Errors
    ///
    /// The callback's error, as an [`AuthError`].
    fn into_roles(self) -> Result<Roles, AuthError>;
}

impl<R: Into<Roles> + Send + 'static> RolesAnswer for R {
    #[inline]
    fn into_roles(self) -> Result<Roles, AuthError> {
        Ok(self.into())
    }
}

impl<R: Into<Roles> + Send + 'static, E: Into<AuthError> + Send + 'static> RolesAnswer
    for Result<R, E>
{
    fn into_roles(self) -> Result<Roles, AuthError> {
        self.map(Into::into).map_err(Into::into)
    }
}

/// The verify-password callback: the user these credentials belong to, `None`, or an error.
///
/// Implemented for async closures `Fn(String, String) -> impl Future<Output = A>` (username,
/// password) where `A` is an [`Answer`]: `Option<User>`, or `Result<Option<User>, E>` for a
/// callback that can fail; plain functions go through
/// [`BasicAuth::verify_password_sync`](crate::BasicAuth::verify_password_sync); a store
/// ([`HashedPasswords`](crate::password::HashedPasswords), ...) implements it directly,
/// answering a cache hit with a ready future. The username is the canonical one (see
/// [`Usernames`](crate::Usernames)).
pub trait VerifyPassword: Send + Sync + 'static {
    /// The application's user type.
    type User: Clone + Send + Sync + 'static;

    /// The user these credentials belong to, `None`, or why they cannot be checked now (a 503
    /// [`AuthErrorKind::Overloaded`](crate::AuthErrorKind::Overloaded) when the hashing queue
    /// is full, [`AuthError::backend`] when a store failed). Return [`AuthFuture::ready`] when
    /// the answer is known at once; the future owns what it needs.
    fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> AuthFuture<Result<Option<Self::User>, AuthError>>;
}

impl<F, Fut, A> VerifyPassword for F
where
    F: Fn(String, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = A> + Send + 'static,
    A: Answer,
    A::Value: Clone + Send + Sync + 'static,
{
    type User = A::Value;

    fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> AuthFuture<Result<Option<A::Value>, AuthError>> {
        let fut = self(username.to_owned(), password.to_owned());
        AuthFuture::new(async move { fut.await.into_answer() })
    }
}

/// A plain function as a [`VerifyPassword`]: answers at once.
pub(crate) struct SyncVerifyPassword<F>(pub(crate) F);

impl<F, A> VerifyPassword for SyncVerifyPassword<F>
where
    F: Fn(&str, &str) -> A + Send + Sync + 'static,
    A: Answer,
    A::Value: Clone + Send + Sync + 'static,
{
    type User = A::Value;

    #[inline]
    fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> AuthFuture<Result<Option<A::Value>, AuthError>> {
        AuthFuture::ready((self.0)(username, password).into_answer())
    }
}

/// The get-password callback: the stored password (or hash) for a username, `None`, or an
/// error.
///
/// Implemented for async closures `Fn(String) -> impl Future<Output = A>` where `A` is an
/// [`Answer`] of `String` (`Option<String>`, or `Result<Option<String>, E>`); plain functions
/// go through [`BasicAuth::get_password_sync`](crate::BasicAuth::get_password_sync).
pub trait GetPassword: Send + Sync + 'static {
    /// The stored password of `username`, `None` for an unknown user, or why it cannot be
    /// looked up now.
    fn get_password(&self, username: &str) -> AuthFuture<Result<Option<String>, AuthError>>;
}

impl<F, Fut, A> GetPassword for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = A> + Send + 'static,
    A: Answer<Value = String>,
{
    fn get_password(&self, username: &str) -> AuthFuture<Result<Option<String>, AuthError>> {
        let fut = self(username.to_owned());
        AuthFuture::new(async move { fut.await.into_answer() })
    }
}

pub(crate) struct SyncGetPassword<F>(pub(crate) F);

impl<F, A> GetPassword for SyncGetPassword<F>
where
    F: Fn(&str) -> A + Send + Sync + 'static,
    A: Answer<Value = String>,
{
    fn get_password(&self, username: &str) -> AuthFuture<Result<Option<String>, AuthError>> {
        AuthFuture::ready((self.0)(username).into_answer())
    }
}

/// The get-secret callback that also returns the user: for a username and the algorithm the
/// client uses, the password (or HA1 with [`use_ha1`](crate::DigestAuth::use_ha1)) and your
/// user object, `None` for an unknown user, or an error.
///
/// Implemented for async closures `Fn(String, Algorithm) -> impl Future<Output = A>` where `A`
/// is an [`Answer`] of `(String, U)`; sync closures go through
/// [`DigestAuth::get_user_sync`](crate::DigestAuth::get_user_sync).
#[allow(clippy::type_complexity)]
pub trait GetDigestUser: Send + Sync + 'static {
    /// The application's user type.
    type User: Clone + Send + Sync + 'static;

    /// The secret and the user of `username` ([`AuthFuture::ready`] when known at once).
    fn get_digest_user(
        &self,
        username: &str,
        algorithm: Algorithm,
    ) -> AuthFuture<Result<Option<(String, Self::User)>, AuthError>>;
}

impl<F, Fut, A, U> GetDigestUser for F
where
    F: Fn(String, Algorithm) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = A> + Send + 'static,
    A: Answer<Value = (String, U)>,
    U: Clone + Send + Sync + 'static,
{
    type User = U;

    fn get_digest_user(
        &self,
        username: &str,
        algorithm: Algorithm,
    ) -> AuthFuture<Result<Option<(String, U)>, AuthError>> {
        let fut = self(username.to_owned(), algorithm);
        AuthFuture::new(async move { fut.await.into_answer() })
    }
}

/// A plain function as a [`GetDigestUser`]: answers at once.
pub(crate) struct SyncDigestUser<F>(pub(crate) F);

impl<F, A, U> GetDigestUser for SyncDigestUser<F>
where
    F: Fn(&str, Algorithm) -> A + Send + Sync + 'static,
    A: Answer<Value = (String, U)>,
    U: Clone + Send + Sync + 'static,
{
    type User = U;

    fn get_digest_user(
        &self,
        username: &str,
        algorithm: Algorithm,
    ) -> AuthFuture<Result<Option<(String, U)>, AuthError>> {
        AuthFuture::ready((self.0)(username, algorithm).into_answer())
    }
}

/// The verify-token callback: the user this token belongs to, `None`, or an error (an expired
/// or revoked token: `AuthError::invalid().with_detail("token expired")`, whose detail RFC
/// 6750's `error_description` carries).
///
/// Implemented for async closures `Fn(String) -> impl Future<Output = A>` where `A` is an
/// [`Answer`]; plain functions go through
/// [`TokenAuth::verify_token_sync`](crate::TokenAuth::verify_token_sync).
pub trait VerifyToken: Send + Sync + 'static {
    /// The application's user type.
    type User: Clone + Send + Sync + 'static;

    /// The user this token belongs to ([`AuthFuture::ready`] when known at once).
    fn verify_token(&self, token: &str) -> AuthFuture<Result<Option<Self::User>, AuthError>>;
}

impl<F, Fut, A> VerifyToken for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = A> + Send + 'static,
    A: Answer,
    A::Value: Clone + Send + Sync + 'static,
{
    type User = A::Value;

    fn verify_token(&self, token: &str) -> AuthFuture<Result<Option<A::Value>, AuthError>> {
        let fut = self(token.to_owned());
        AuthFuture::new(async move { fut.await.into_answer() })
    }
}

/// A plain function as a [`VerifyToken`]: answers at once.
pub(crate) struct SyncVerifyToken<F>(pub(crate) F);

impl<F, A> VerifyToken for SyncVerifyToken<F>
where
    F: Fn(&str) -> A + Send + Sync + 'static,
    A: Answer,
    A::Value: Clone + Send + Sync + 'static,
{
    type User = A::Value;

    #[inline]
    fn verify_token(&self, token: &str) -> AuthFuture<Result<Option<A::Value>, AuthError>> {
        AuthFuture::ready((self.0)(token).into_answer())
    }
}

/// The get-user-roles callback: the roles of an authenticated user, or an error.
///
/// Implemented for async closures `Fn(U) -> impl Future<Output = R>` (they get a clone of the
/// user) where `R` is a [`RolesAnswer`] (`impl Into<Roles>`, or `Result<_, E>`); plain
/// functions of `&U` go through `user_roles_sync` on the builders.
pub trait UserRoles<U>: Send + Sync + 'static {
    /// The roles of `user`.
    fn user_roles(&self, user: &U) -> AuthFuture<Result<Roles, AuthError>>;
}

impl<U, F, Fut, R> UserRoles<U> for F
where
    U: Clone + Send + Sync + 'static,
    F: Fn(U) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: RolesAnswer,
{
    fn user_roles(&self, user: &U) -> AuthFuture<Result<Roles, AuthError>> {
        let fut = self(user.clone());
        AuthFuture::new(async move { fut.await.into_roles() })
    }
}

/// A plain function of the user as a [`UserRoles`] (answers at once).
pub(crate) struct SyncUserRoles<F>(pub(crate) F);

impl<U, F, R> UserRoles<U> for SyncUserRoles<F>
where
    F: Fn(&U) -> R + Send + Sync + 'static,
    R: RolesAnswer,
{
    fn user_roles(&self, user: &U) -> AuthFuture<Result<Roles, AuthError>> {
        AuthFuture::ready((self.0)(user).into_roles())
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
