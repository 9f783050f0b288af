//! Server-side HTTP authentication for Rust web services: the
//! [Flask-HTTPAuth](https://flask-httpauth.readthedocs.io/) feature set, as tower middleware
//! with axum extractors.
//!
//! - **Basic** ([`BasicAuth`]): a verify-password callback returns your user type; or the
//!   older get-password / hash-password callbacks.
//! - **Token** ([`TokenAuth`]): `Bearer` or any scheme name, or a token in a custom header
//!   (`X-API-Key`); RFC 6750 error attributes on request.
//! - **Several schemes on one route** ([`MultiAuth`]), chosen by the credentials sent.
//! - **User roles**: one role, any-of, all-of ([`RoleRequirement`]), from an async or sync
//!   get-user-roles callback; 403 when they fail.
//! - **Optional auth**, custom realms and scheme names, custom error responses (JSON, ...)
//!   that keep the challenge, async or sync callbacks.
//!
//! ```
//! use axum::{routing::get, Router};
//! use httpauth::{BasicAuth, CurrentUser};
//! # use tower::ServiceExt;
//!
//! let auth = BasicAuth::verify_password(|username: String, password: String| async move {
//!     // Look the user up, verify the password hash (off the reactor for slow hashes).
//!     (username == "john" && password == "hello").then_some(username)
//! })
//! .user_roles_sync(|user: &String| if user == "john" { vec!["user"] } else { vec![] });
//!
//! let app: Router = Router::new()
//!     .route("/", get(|CurrentUser(user): CurrentUser<String>| async move { format!("Hello, {user}!") }))
//!     .route_layer(auth.login_required())
//!     .merge(Router::new().route("/admin", get(|| async { "admin" }).route_layer(auth.login_required().role("admin"))));
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let get = |path: &str| http::Request::get(path)
//!     .header("authorization", "Basic am9objpoZWxsbw==")
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! assert_eq!(app.clone().oneshot(get("/")).await.unwrap().status(), 200);
//! assert_eq!(app.oneshot(get("/admin")).await.unwrap().status(), 403);
//! # });
//! ```
//!
//! # How a request flows
//!
//! request → [`LoginRequired`] (the route's policy: the tower layer or actix middleware) → the
//! [`Scheme`](scheme::Scheme) that claims the request parses the credentials and calls your
//! verify callback once → roles → the user goes into the request extensions
//! ([`CurrentUser`]) → your handler; or → the error response with the challenge and the
//! [`AuthError`] in its extensions. A callback that answers at once is used inline (nothing
//! boxed); only real waiting is boxed.
//!
//! # Two tiers
//!
//! What an application uses is at the crate root: the builders ([`BasicAuth`],
//! [`DigestAuth`], [`TokenAuth`], [`MultiAuth`], all [`Auth`]), [`LoginRequired`], the
//! extractors, errors, roles and the callback traits, and [`password`] for hashes and user
//! stores. What a scheme author (or a custom adapter) uses is under [`scheme`]: the
//! [`Scheme`](scheme::Scheme) trait, [`AuthRequest`](scheme::AuthRequest),
//! [`RequestHead`](scheme::RequestHead), [`AuthFuture`](scheme::AuthFuture),
//! [`Identity`](scheme::Identity), challenges and the header grammar.
//!
//! # Feature flags
//!
//! | Name | Description | Default? |
//! |---|---|---|
//! | `tower` | [`LoginRequired`] is a tower `Layer` ([`AuthService`](crate::tower::AuthService)) | yes |
//! | `axum` | [`CurrentUser`], `Option<CurrentUser<U>>` and [`Username`] are axum extractors | yes |
//! | `actix` | [`LoginRequired`] is an actix-web middleware; the same extractors for actix-web | no |
//! | `password` | [`password`]: hash generation and checks (argon2, scrypt, pbkdf2, bcrypt, werkzeug, Apache formats), the verified-credential cache, htpasswd/htdigest files | yes |
//!
//! # Differences from Flask-HTTPAuth
//!
//! Where this crate is stricter than Flask-HTTPAuth, it says so where the behaviour lives, and
//! `docs/compatibility.md` lists every point with its reason.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;
pub mod auth;
pub mod basic;
pub mod digest;
pub mod error;
pub mod extract;
mod hex;
pub mod multi;
pub mod password;
pub mod policy;
pub mod roles;
pub mod scheme;
pub mod token;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

pub use crate::auth::Auth;
pub use crate::basic::{BasicAuth, GetPassword, VerifyPassword};
pub use crate::digest::{Algorithm, DigestAuth, GetDigestUser, Qop};
pub use crate::error::{AuthError, AuthErrorKind, ConfigError};
pub use crate::extract::{CurrentUser, MissingAuthLayer, Username};
pub use crate::multi::MultiAuth;
#[cfg(feature = "password")]
#[cfg_attr(docsrs, doc(cfg(feature = "password")))]
pub use crate::password::{
    check_password_hash, generate_password_hash, HashedPasswords, HtdigestFile, HtpasswdFile,
};
pub use crate::policy::LoginRequired;
pub use crate::roles::{RoleRequirement, Roles};
pub use crate::scheme::{default_error_response, ErrorHandler, UserRoles, DEFAULT_REALM};
pub use crate::token::{TokenAuth, VerifyToken};
