//! Server-side HTTP authentication for Rust web services: the
//! [Flask-HTTPAuth](https://flask-httpauth.readthedocs.io/) feature set, as tower middleware
//! with axum extractors.
//!
//! - **Basic** ([`BasicAuth`]): a verify-password callback (or a password store, mapped to
//!   your user type) returns your user; or the older get-password / hash-password callbacks.
//! - **Digest** ([`DigestAuth`]): RFC 7616 with stateless MAC nonces, replay protection and
//!   `Authentication-Info`.
//! - **Token** ([`TokenAuth`]): `Bearer` or any scheme name, or a token in a custom header
//!   (`X-API-Key`); RFC 6750 error attributes on request.
//! - **Several schemes on one route** ([`MultiAuth`]), chosen by the credentials sent.
//! - **User roles**: one role, any-of, all-of ([`RoleRequirement`]), from an async or sync
//!   get-user-roles callback; 403 when they fail.
//! - **Optional auth**, custom realms and scheme names, custom error responses (JSON, ...)
//!   that keep the challenge, async or sync callbacks.
//! - **Guides** ([`docs`]): Flask-HTTPAuth compatibility, Digest, passwords, performance, browsers,
//!   migrating from tower-http or actix-web-httpauth.
//!
//! Flask-HTTPAuth's Basic example, over hashed passwords, with your own user type, roles and JSON
//! errors:
//!
//! ```
//! use std::collections::HashMap;
//! use axum::{routing::get, Json, Router};
//! use httpauth::password::{generate_password_hash, HashedPasswords};
//! use httpauth::{AuthError, BasicAuth, CurrentUser, IntoResponseHandler};
//! # use tower::ServiceExt;
//!
//! #[derive(Clone)]
//! struct User { name: String, roles: Vec<&'static str> }
//!
//! let hashes: HashedPasswords = [("john", generate_password_hash("hello")), ("susan", generate_password_hash("bye"))]
//!     .into_iter()
//!     .collect();
//! let users = HashMap::from([
//!     ("john", User { name: "john".into(), roles: vec!["user"] }),
//!     ("susan", User { name: "susan".into(), roles: vec!["user", "admin"] }),
//! ]);
//! let auth = BasicAuth::verify_password(hashes.map_user(move |name| users.get(name).cloned()))
//!     .user_roles_sync(|user: &User| user.roles.clone())
//!     .error_handler(IntoResponseHandler(|err: &AuthError| {
//!         (err.status(), Json(serde_json::json!({ "error": err.status().canonical_reason() })))
//!     }));
//!
//! let app: Router = Router::new()
//!     .route("/", get(|CurrentUser(user): CurrentUser<User>| async move { format!("Hello, {}!", user.name) })
//!         .route_layer(auth.login_required()))
//!     .route("/admin", get(|| async { "admin" }).route_layer(auth.login_required().role("admin")));
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let get = |path: &str| http::Request::get(path)
//!     .header("authorization", "Basic am9objpoZWxsbw==") // john:hello
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! assert_eq!(app.clone().oneshot(get("/")).await.unwrap().status(), 200);
//! let res = app.oneshot(get("/admin")).await.unwrap();
//! assert_eq!(res.status(), 403);
//! assert_eq!(res.headers()["content-type"], "application/json");
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
//! | `tower` | [`LoginRequired`] is a tower `Layer` ([`AuthService`](crate::tower::AuthService)); [`grpc`]: the same as a gRPC layer (tonic) | yes |
//! | `axum` | [`CurrentUser`], `Option<CurrentUser<U>>` and [`Username`] are axum extractors | yes |
//! | `actix` | [`LoginRequired`] is an actix-web middleware; the same extractors for actix-web | no |
//! | `password` | [`password`]: hash generation and checks (argon2, scrypt, pbkdf2, bcrypt, werkzeug, Apache formats), the verified-credential cache, htpasswd/htdigest files | yes |
//! | `redis` | `httpauth::redis`: Digest replay protection and throttle counts shared by several instances | no |
//! | `metrics` | `httpauth::metrics`: decisions, verification time, hashing pool, cache and throttle through the `metrics` facade ([`docs::metrics`]) | no |
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
mod audit;
pub mod auth;
pub mod basic;
pub mod callback;
pub mod client;
pub mod digest;
pub mod docs;
pub mod error;
#[cfg(any(feature = "tower", feature = "actix"))]
mod exchange;
pub mod extract;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod grpc;
mod hex;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
#[cfg(not(feature = "metrics"))]
mod metrics;
pub mod multi;
pub mod password;
pub mod policy;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
pub mod roles;
pub mod scheme;
pub mod throttle;
mod timer;
pub mod token;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;
pub mod username;

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub use crate::actix::HttpResponseHandler;
pub use crate::auth::Auth;
pub use crate::basic::BasicAuth;
pub use crate::callback::{
    ErrorHandler, GetDigestUser, GetPassword, UserRoles, VerifyPassword, VerifyToken,
};
pub use crate::client::{IpRange, ProxyHeader};
pub use crate::digest::{Algorithm, DigestAuth, Qop};
pub use crate::error::{AuthError, AuthErrorKind, ConfigError};
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use crate::extract::IntoResponseHandler;
pub use crate::extract::{CurrentUser, MissingAuthLayer, Username};
pub use crate::multi::MultiAuth;
#[cfg(feature = "password")]
#[cfg_attr(docsrs, doc(cfg(feature = "password")))]
pub use crate::password::{
    check_password_hash, generate_password_hash, HashedPasswords, HtdigestFile, HtpasswdFile,
};
pub use crate::policy::LoginRequired;
pub use crate::roles::{RoleRequirement, Roles};
pub use crate::scheme::{default_error_response, DEFAULT_REALM};
pub use crate::throttle::Throttle;
pub use crate::token::TokenAuth;
pub use crate::username::Usernames;
