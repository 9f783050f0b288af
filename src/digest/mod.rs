//! HTTP Digest authentication (RFC 7616), Flask-HTTPAuth's `HTTPDigestAuth`, without a session
//! store and with replay protection.
//!
//! The get-password callback returns the user's password (or, with
//! [`use_ha1`](DigestAuth::use_ha1), the stored `HA1`); the handler gets the username through
//! [`Username`](crate::Username) or `CurrentUser<String>`. Defaults are Flask-HTTPAuth's: one
//! challenge, `MD5`, `qop="auth"`. **Prefer SHA-256** (`.algorithm(Algorithm::Sha256)`, or
//! `.algorithms([Algorithm::Sha256, Algorithm::Md5])` to keep MD5-only clients working): RFC
//! 7616 makes it mandatory and calls MD5 NOT RECOMMENDED.
//!
//! ```
//! use axum::{routing::get, Router};
//! use httpauth::digest::{Algorithm, DigestAuth};
//! use httpauth::Username;
//! # use tower::ServiceExt;
//!
//! let auth = DigestAuth::get_password_sync(|username| (username == "john").then(|| "hello".to_owned()));
//! let app: Router = Router::new().route(
//!     "/private",
//!     get(|Username(name): Username| async move { format!("Hello, {name}!") })
//!         .route_layer(auth.login_required()),
//! );
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // No credentials: 401 and Flask-HTTPAuth's challenge (a fresh nonce and opaque every time).
//! let res = app.clone().oneshot(http::Request::get("/private").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 401);
//! let challenge = res.headers()["www-authenticate"].to_str().unwrap().to_owned();
//! assert!(challenge.starts_with(r#"Digest realm="Authentication Required",nonce=""#));
//! assert!(challenge.ends_with(r#"",algorithm="MD5",qop="auth""#));
//!
//! // What a client computes (RFC 7616 §3.4.1).
//! let param = |name: &str| challenge.split(&format!("{name}=\"")).nth(1).unwrap().split('"').next().unwrap().to_owned();
//! let (nonce, opaque) = (param("nonce"), param("opaque"));
//! let h = |parts: &[&str]| Algorithm::Md5.hash(&parts.iter().map(|p| p.as_bytes()).collect::<Vec<_>>()).as_str().to_owned();
//! let ha1 = h(&["john", "Authentication Required", "hello"]);
//! let ha2 = h(&["GET", "/private"]);
//! let response = h(&[&ha1, &nonce, "00000001", "0a4f113b", "auth", &ha2]);
//! let authorization = format!(
//!     r#"Digest username="john", realm="Authentication Required", nonce="{nonce}", uri="/private", qop=auth, nc=00000001, cnonce="0a4f113b", response="{response}", opaque="{opaque}""#
//! );
//! let req = || http::Request::get("/private").header("authorization", &authorization).body(axum::body::Body::empty()).unwrap();
//! let ok = app.clone().oneshot(req()).await.unwrap();
//! assert_eq!(ok.status(), 200);
//! // The server proves it knows the password too: rspauth is the response with an empty method.
//! let rspauth = h(&[&ha1, &nonce, "00000001", "0a4f113b", "auth", &h(&["", "/private"])]);
//! assert_eq!(
//!     ok.headers()["authentication-info"],
//!     format!(r#"rspauth="{rspauth}", qop=auth, nc=00000001, cnonce="0a4f113b""#).as_str()
//! );
//! // The same header again is a replay: refused.
//! assert_eq!(app.oneshot(req()).await.unwrap().status(), 401);
//! # });
//! ```
//!
//! # What is verified, in order
//!
//! 1. The `Authorization` value parses ([`header::parse`](crate::scheme::header::parse): duplicated
//!    parameters, parameters without `=`, unterminated quoted strings, control characters are
//!    refused) and carries every parameter RFC 7616 requires ([`DigestCredentials`]); else 401.
//! 2. `realm`, `algorithm` and `qop` are ones this auth offered (no qop downgrade to RFC 2069,
//!    no other realm); `userhash=true` only when offered; else 401.
//! 3. `uri` is the request target (path and query, or the same absolute URI); else **400**
//!    (RFC 7616 §3.4.6).
//! 4. `opaque` and `nonce` were issued by this auth (their MACs, or your
//!    [`verify_opaque`](DigestAuth::verify_opaque)/[`verify_nonce`](DigestAuth::verify_nonce));
//!    else 401. Nothing else is looked up for a forged nonce.
//! 5. The get-password callback, then the expected `response`, compared in constant time
//!    (hex in either case); an unknown user costs the same hashing as a wrong password. 401.
//! 6. Only now, with a correct response: the nonce's age (expired: 401 with **`stale=true`**,
//!    so the client retries without asking the user), then the [`NonceStore`]: a `(nonce, nc)`
//!    pair already accepted is a replay, answered 401 `stale=true` as well.
//! 7. Accepted: the response gets `Authentication-Info` (below).
//!
//! # Nonces, opaque and replays
//!
//! By default a nonce is `hex(issue time ‖ 12 random bytes ‖ tag)`, the tag an HMAC-SHA-256
//! over the issue time, the random part and the realm, under a key from the OS CSPRNG (or
//! [`secret`](DigestAuth::secret), to share it between instances); it lives
//! [`nonce_lifetime`](DigestAuth::nonce_lifetime) (5 minutes). The opaque is a MAC of the
//! nonce's random part. Nothing is stored when a challenge is sent. A nonce serves many requests
//! with increasing `nc`; each `(nonce, nc)` is accepted once, whatever the hex case the nonce
//! is spelled in (a 64-count window accepts out-of-order counts once), and the record is kept
//! for the longest lifetime among the clones sharing the [`NonceStore`]. RFC 2069 credentials (no `qop`, only when you configure
//! [`no_qop`](DigestAuth::no_qop)) have no `nc`: each nonce is then good for one request. The
//! Flask-HTTPAuth's four callbacks [`generate_nonce`](DigestAuth::generate_nonce),
//! [`verify_nonce`](DigestAuth::verify_nonce), [`generate_opaque`](DigestAuth::generate_opaque),
//! [`verify_opaque`](DigestAuth::verify_opaque) replace the defaults (set them in pairs).
//!
//! # `Authentication-Info`
//!
//! A request accepted with a `qop` gets `Authentication-Info` (RFC 7616 §3.5): `rspauth` (the
//! response computed with an empty method, so the client can check that the server knows its
//! secret), `qop`, `nc` and `cnonce`; and, when the nonce is in the last fifth of its lifetime,
//! `nextnonce`: a new default nonce, valid with the opaque the client already has, to use with
//! `nc=00000001` instead of running into `stale=true`. Nothing is sent on refusals, in RFC 2069
//! mode, or when the handler sets its own `Authentication-Info`.
//!
//! # `auth-int`
//!
//! With [`Qop::AuthInt`] offered, a request whose credentials say `qop=auth-int` has its body
//! buffered by the tower layer, up to [`max_body`](DigestAuth::max_body) (1 MiB; larger: 413),
//! and hashed into `A2`. Requests with `qop=auth` are not buffered.
//!
//! `docs/digest.md` lists every difference from Flask-HTTPAuth with its reason.

pub(crate) mod algorithm;
mod config;
mod credentials;
mod nonce;
#[cfg(test)]
mod tests;
mod verify;

use std::sync::Arc;

use http::header::WWW_AUTHENTICATE;
use http::HeaderMap;

pub use self::algorithm::{generate_ha1, Algorithm, Hex, UnknownAlgorithm};
pub use self::config::{
    Digest, DigestAuth, GetDigestUser, DEFAULT_MAX_BODY, DEFAULT_NONCE_LIFETIME,
};
pub use self::credentials::{DigestCredentials, Qop};
pub use self::nonce::{
    MemoryNonceStore, NcWindow, NonceInfo, NonceStore, NonceUse, MAX_SECRETS, MIN_SECRET_LEN,
};
pub use self::verify::DigestClaim;

use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::scheme::{AuthFuture, AuthRequest, Identity, Scheme};

impl<U: Clone + Send + Sync + 'static> Scheme for Digest<U> {
    type User = U;
    type Credentials = DigestClaim;

    fn name(&self) -> &str {
        &self.scheme
    }

    fn claims(&self, req: &AuthRequest<'_>) -> bool {
        req.authorization_scheme().is_some_and(|s| self.accepts(s))
    }

    fn parse(&self, req: &AuthRequest<'_>) -> Result<DigestClaim, AuthError> {
        self.claim(req)
    }

    fn username<'c>(&self, claim: &'c DigestClaim) -> Option<&'c str> {
        Some(&claim.claimed)
    }

    fn body_limit(&self, claim: &DigestClaim) -> Option<usize> {
        (claim.creds.qop == Some(Qop::AuthInt)).then_some(self.max_body)
    }

    fn verify(
        &self,
        claim: DigestClaim,
        username: Option<&str>,
        req: &AuthRequest<'_>,
    ) -> AuthFuture<Result<Identity<U>, AuthError>> {
        let body_hash = match self.body_hash(&claim, req) {
            Ok(hash) => hash,
            Err(err) => return AuthFuture::ready(Err(err)),
        };
        // Looked up by the canonical name; a userhash that matches nobody is an unknown user
        // (the same hashing as a wrong password).
        let found = match (&claim.username, username) {
            (Some(_), Some(canonical)) => self
                .lookup
                .get_digest_user(canonical, claim.creds.algorithm),
            _ => AuthFuture::ready(Ok(None)),
        };
        match found.into_ready() {
            Ok(Ok(found)) => self.finish(claim, body_hash, found, req.method()),
            Ok(Err(err)) => AuthFuture::ready(Err(err)),
            Err(pending) => {
                let this = self.clone();
                let method = req.method().to_owned();
                AuthFuture::new(async move {
                    let found = pending.await?;
                    this.finish(claim, body_hash, found, &method).await
                })
            }
        }
    }

    fn set_realm(&mut self, realm: &str) -> Result<(), ConfigError> {
        let previous = std::mem::replace(&mut self.realm, Arc::from(realm));
        if let Err(err) = self.render(self.algorithms[0], "n", "o", false, None) {
            self.realm = previous;
            return Err(err);
        }
        self.refresh();
        Ok(())
    }

    fn challenge(&self, err: &AuthError, headers: &mut HeaderMap) {
        let stale = err.kind() == AuthErrorKind::StaleNonce;
        let (nonce, opaque) = self.fresh_nonce_and_opaque();
        for &algorithm in self.algorithms.iter() {
            match self.render(algorithm, &nonce, &opaque, stale, None) {
                Ok(challenge) => {
                    headers.append(WWW_AUTHENTICATE, challenge.header_value().clone());
                }
                Err(err) => {
                    tracing::error!(target: "httpauth", %err, "cannot render the Digest challenge");
                }
            }
        }
    }
}
