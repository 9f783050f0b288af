//! Verification, in the order the [module docs](crate::digest) give: the credentials
//! ([`credentials`](Digest::credentials)), everything that needs no callback
//! ([`claim`](Digest::claim)), the response once the callback answered
//! ([`verify`](Digest::verify)), the replay check and the identity
//! ([`finish`](Digest::finish)) with its [`authentication_info`](Digest::authentication_info).

use http::header::HeaderName;
use http::{HeaderValue, Uri};
use subtle::ConstantTimeEq;

use super::algorithm::Hasher;
use super::config::{duration_ms, Digest, Userhash};
use super::nonce::{freshness, ms_to_time, now_ms, NonceRefusal};
use super::{Algorithm, DigestCredentials, Hex, NonceInfo, NonceUse, Qop};
use crate::error::{AuthError, AuthErrorKind};
use crate::scheme::header::{self, Payload};
use crate::scheme::{AuthFuture, AuthRequest, Identity};

/// Digest credentials as the [`Digest`] scheme parsed them: the auth-params, checked against
/// what was offered (realm, algorithm, qop, the request target, the opaque and the nonce's
/// MAC), with a `userhash` resolved. `Debug` shows no response or nonce.
pub struct DigestClaim {
    pub(super) creds: DigestCredentials,
    /// The real username (`None`: a `userhash` that matches nobody).
    pub(super) username: Option<String>,
    /// The username counted for: the real one, or the userhash in lowercase when it matches
    /// nobody (every spelling of one hash is one name).
    pub(super) claimed: String,
    /// The issue time of a default nonce (`None` with a custom verify_nonce).
    pub(super) issued_ms: Option<u64>,
    /// The nonce's canonical spelling for the store, when it differs from the one sent (a
    /// default nonce with uppercase hex digits: one nonce, one record).
    pub(super) canonical_nonce: Option<String>,
}

impl DigestClaim {
    /// The parsed auth-params.
    #[must_use]
    pub fn credentials(&self) -> &DigestCredentials {
        &self.creds
    }

    /// The username the credentials claim (for `userhash=true`, the name the hash stands for,
    /// when it matches a user).
    #[must_use]
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }
}

impl std::fmt::Debug for DigestClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestClaim")
            .field("username", &self.username)
            .field("algorithm", &self.creds.algorithm)
            .field("qop", &self.creds.qop)
            .finish_non_exhaustive()
    }
}

impl<U: Clone + Send + Sync + 'static> Digest<U> {
    /// Step 1: the `Authorization` value, parsed into [`DigestCredentials`].
    pub(super) fn credentials(
        &self,
        req: &AuthRequest<'_>,
    ) -> Result<DigestCredentials, AuthError> {
        let value = req.authorization().ok_or_else(AuthError::missing)?;
        let creds = header::parse(value).map_err(|e| AuthError::malformed(e.as_str()))?;
        if !self.accepts(creds.scheme().as_bytes()) {
            return Err(AuthError::missing());
        }
        match creds.payload() {
            Payload::Params(params) => {
                DigestCredentials::from_params(params).map_err(AuthError::malformed)
            }
            Payload::Empty => Err(AuthError::malformed("no Digest parameters")),
            Payload::Token68(_) => Err(AuthError::malformed(
                "Digest credentials are not an auth-param list",
            )),
        }
    }

    /// What the credentials must match of what was offered: realm, algorithm, qop, userhash,
    /// the request target, then the opaque and the nonce (the issue time of a default nonce).
    /// [`Scheme::body_limit`](crate::scheme::Scheme::body_limit) checks this too, before a body
    /// is read.
    pub(super) fn check_offered(
        &self,
        creds: &DigestCredentials,
        req: &AuthRequest<'_>,
    ) -> Result<Option<u64>, AuthError> {
        if creds.realm != *self.realm {
            return Err(refused("realm is not the one offered"));
        }
        if !self.algorithms.contains(&creds.algorithm) {
            return Err(refused("algorithm is not one offered"));
        }
        match creds.qop {
            None if !self.qops.is_empty() => {
                return Err(refused("qop missing (RFC 2069 downgrade)"));
            }
            Some(q) if !self.qops.contains(&q) => return Err(refused("qop is not one offered")),
            _ => {}
        }
        if creds.userhash && !self.userhash {
            return Err(AuthError::malformed("userhash was not offered"));
        }
        if !uri_matches(&creds.uri, req) {
            return Err(AuthError::new(AuthErrorKind::BadRequest)
                .with_detail("uri does not match the request target"));
        }
        // The default nonce's MAC (under the key its id names). A nonce of a secret no longer
        // configured (a rotation, a restart) is stale: the client retries with the fresh nonce
        // of the challenge, without asking its user; like any nonce not issued here, it never
        // reaches the callback.
        let nonce_check = self
            .verify_nonce
            .is_none()
            .then(|| self.key.verify_nonce(&self.realm, &creds.nonce));
        if let Some(Err(NonceRefusal::Retired)) = nonce_check {
            return Err(AuthError::new(AuthErrorKind::StaleNonce)
                .with_detail("nonce of a secret no longer in use"));
        }
        let opaque = creds.opaque.as_deref();
        let opaque_ok = match &self.verify_opaque {
            Some(verify) => verify(opaque.unwrap_or("")),
            None => opaque.is_some_and(|o| self.key.verify_opaque(&creds.nonce, o)),
        };
        if !opaque_ok {
            return Err(refused("opaque was not issued here"));
        }
        let issued_ms = match (&self.verify_nonce, nonce_check) {
            (_, Some(checked)) => Some(
                checked
                    .map_err(|_| refused("nonce was not issued here"))?
                    .at_ms,
            ),
            (Some(verify), None) => {
                if !verify(&creds.nonce) {
                    return Err(refused("nonce refused"));
                }
                None
            }
            (None, None) => None,
        };
        Ok(issued_ms)
    }

    /// Everything that needs no callback and no secret: steps 1-4 of the module docs.
    pub(super) fn claim(&self, req: &AuthRequest<'_>) -> Result<DigestClaim, AuthError> {
        let creds = self.credentials(req)?;
        let issued_ms = self.check_offered(&creds, req)?;
        let (username, claimed) = if creds.userhash {
            let hash = creds.username.to_ascii_lowercase();
            match self.resolve_userhash(&hash, creds.algorithm) {
                Some(name) => (Some(name.clone()), name),
                None => (None, hash),
            }
        } else {
            (Some(creds.username.clone()), creds.username.clone())
        };
        // A default nonce is hex, verified in either case: the store sees it in lowercase.
        // A custom nonce's string is its identity (its verifier decides which strings are
        // valid; `response` covers the string as sent).
        let canonical_nonce = (issued_ms.is_some()
            && creds.nonce.bytes().any(|b| b.is_ascii_uppercase()))
        .then(|| creds.nonce.to_ascii_lowercase());
        Ok(DigestClaim {
            creds,
            username,
            claimed,
            issued_ms,
            canonical_nonce,
        })
    }

    /// The hash of the body for `qop=auth-int` (the adapter buffered it).
    pub(super) fn body_hash(
        &self,
        claim: &DigestClaim,
        req: &AuthRequest<'_>,
    ) -> Result<Option<Hex>, AuthError> {
        match claim.creds.qop {
            Some(Qop::AuthInt) => {
                let body = req.body().ok_or_else(|| {
                    AuthError::malformed("qop=auth-int but the body was not buffered")
                })?;
                Ok(Some(claim.creds.algorithm.hash(&[body])))
            }
            _ => Ok(None),
        }
    }

    /// The real username behind a `userhash=true` username (in lowercase hex).
    fn resolve_userhash(&self, hash: &str, algorithm: Algorithm) -> Option<String> {
        let hash = hash.to_owned();
        match &self.userhash_source {
            Userhash::None => {
                tracing::warn!(target: "httpauth", "userhash offered but no userhash_users/userhash_resolver configured");
                None
            }
            Userhash::Users(_, table) => table.get(&(algorithm.hash_fn(), hash)).cloned(),
            Userhash::Resolver(resolve) => resolve(&hash, algorithm),
        }
    }

    /// Step 5 and the expiry of step 6: the response, with the secret the callback returned.
    fn verify<'c>(
        &self,
        checked: &'c DigestClaim,
        body_hash: Option<&'c Hex>,
        found: Option<(String, U)>,
        method: &str,
    ) -> Result<(U, Responses<'c>), AuthError> {
        let creds = &checked.creds;
        let alg = creds.algorithm;
        // An empty stored secret means no usable account (as Flask-HTTPAuth's falsy password).
        let found = found.filter(|(secret, _)| !secret.is_empty());
        let (ha1, user) = match found {
            Some((secret, user)) if self.use_ha1 => match Hex::parse(&secret, alg.hex_len()) {
                Some(ha1) => (ha1, Some(user)),
                None => {
                    tracing::warn!(target: "httpauth", algorithm = alg.name(), "the get-password callback returned an HA1 that is not hex of the algorithm's length");
                    (Hex::zero(alg.hex_len()), None)
                }
            },
            Some((secret, user)) => {
                let username = checked.username.as_deref().unwrap_or("");
                let ha1 = alg.hash(&[
                    username.as_bytes(),
                    self.realm.as_bytes(),
                    secret.as_bytes(),
                ]);
                (ha1, Some(user))
            }
            // Unknown user: the same hashing as a wrong password.
            None => (Hex::zero(alg.hex_len()), None),
        };
        let responses = Responses::new(creds, &ha1, body_hash);
        let expected = responses.for_method(method);
        // The response as sent, lowercased (hex of the algorithm's length, else no match),
        // compared in constant time.
        let matches = Hex::parse(&creds.response, alg.hex_len())
            .is_some_and(|sent| bool::from(sent.as_bytes().ct_eq(expected.as_bytes())));
        let user = match user {
            Some(user) if matches => user,
            _ => return Err(AuthError::invalid()),
        };
        if let Some(issued) = checked.issued_ms {
            match freshness(issued, self.lifetime, now_ms()) {
                Some(true) => {}
                Some(false) => {
                    return Err(
                        AuthError::new(AuthErrorKind::StaleNonce).with_detail("nonce expired")
                    )
                }
                None => return Err(refused("nonce dated in the future")),
            }
        }
        Ok((user, responses))
    }

    /// The rest of step 5 and step 6, once the callback answered: the response, the nonce's
    /// age, the replay check, then the identity with its `Authentication-Info`.
    pub(super) fn finish(
        &self,
        checked: DigestClaim,
        body_hash: Option<Hex>,
        found: Option<(String, U)>,
        method: &str,
    ) -> AuthFuture<Result<Identity<U>, AuthError>> {
        let (user, responses) = match self.verify(&checked, body_hash.as_ref(), found, method) {
            Ok(verified) => verified,
            Err(err) => return AuthFuture::ready(Err(err)),
        };
        let info = self.authentication_info(&checked, &responses);
        let verdict = self.store.check(self.nonce_info(&checked));
        verdict.map(move |verdict| {
            let identity = identity(verdict, checked, user)?;
            Ok(match info {
                Some(info) => identity.with_response_header(AUTHENTICATION_INFO, info),
                None => identity,
            })
        })
    }

    /// RFC 7616 §3.5: `Authentication-Info` for a verified request with a `qop`: `rspauth`
    /// (the response computed with an empty method, proving the server knows the secret),
    /// `qop`, `nc`, `cnonce`, and `nextnonce` when the nonce is in the last fifth of its
    /// lifetime (default nonces only; the nextnonce keeps the nonce's opaque valid).
    fn authentication_info(
        &self,
        checked: &DigestClaim,
        responses: &Responses<'_>,
    ) -> Option<HeaderValue> {
        let creds = &checked.creds;
        let (qop, (_, nc)) = (creds.qop?, creds.nc.as_ref()?);
        let rspauth = responses.for_method("");
        let cnonce = header::quote(creds.cnonce.as_deref().unwrap_or("")).ok()?;
        let mut value = format!(
            "rspauth=\"{}\", qop={}, nc={nc}, cnonce={cnonce}",
            rspauth.as_str(),
            qop.name()
        );
        if let Some(issued) = checked.issued_ms {
            let lifetime = duration_ms(self.lifetime);
            let now = now_ms();
            if now.saturating_sub(issued).saturating_mul(5) >= lifetime.saturating_mul(4) {
                // The same random part under a new time: the client's opaque still goes.
                if let Some(next) = self.key.next_nonce(&self.realm, &creds.nonce, now) {
                    value.push_str(", nextnonce=\"");
                    value.push_str(&next);
                    value.push('"');
                }
            }
        }
        HeaderValue::from_str(&value).ok()
    }

    /// What the [`NonceStore`](super::NonceStore) is asked about: the canonical nonce, kept
    /// for the longest lifetime among the auths sharing the store; a custom nonce from now.
    fn nonce_info<'c>(&self, checked: &'c DigestClaim) -> NonceInfo<'c> {
        let issued_ms = checked.issued_ms.unwrap_or_else(now_ms);
        let nonce = checked
            .canonical_nonce
            .as_deref()
            .unwrap_or(&checked.creds.nonce);
        NonceInfo::new(
            nonce,
            checked.creds.nc().unwrap_or(1),
            ms_to_time(issued_ms),
            ms_to_time(issued_ms.saturating_add(self.retention_ms())),
        )
        .with_custom(checked.issued_ms.is_none())
    }
}

/// `Authentication-Info` (RFC 9110 §11.6.3).
const AUTHENTICATION_INFO: HeaderName = HeaderName::from_static("authentication-info");

/// The identity, once the store said the `(nonce, nc)` pair is fresh.
fn identity<U>(verdict: NonceUse, checked: DigestClaim, user: U) -> Result<Identity<U>, AuthError> {
    let detail = match verdict {
        NonceUse::Fresh => return Ok(Identity::new(user, checked.username)),
        NonceUse::Replayed => "nonce count already used",
        NonceUse::TooOld => "nonce count below the window",
        NonceUse::Forgotten => "nonce no longer tracked",
        NonceUse::Full => "nonce store full",
        // Fail closed: not a stale nonce (the client's nonce may be fine), a retry shortly.
        NonceUse::Unavailable => {
            return Err(AuthError::new(AuthErrorKind::Unavailable)
                .with_detail("nonce store unavailable")
                .with_retry_after(1))
        }
    };
    Err(AuthError::new(AuthErrorKind::StaleNonce).with_detail(detail))
}

/// The responses of one request's credentials (RFC 7616 §3.4.1:
/// `H(HA1:nonce:nc:cnonce:qop:HA2)`, or RFC 2069's `H(HA1:nonce:HA2)`; the session HA1 for
/// `-sess`) for any method: the part every method shares is hashed once, so the request's
/// response and `rspauth` (the same with an empty method) cost one hash of it.
pub(super) struct Responses<'c> {
    creds: &'c DigestCredentials,
    body_hash: Option<&'c Hex>,
    prefix: Hasher,
}

impl<'c> Responses<'c> {
    pub(super) fn new(creds: &'c DigestCredentials, ha1: &Hex, body_hash: Option<&'c Hex>) -> Self {
        let alg = creds.algorithm;
        let cnonce = creds.cnonce.as_deref().unwrap_or("");
        let session;
        let ha1 = if alg.is_session() {
            session = alg.hash(&[ha1.as_bytes(), creds.nonce.as_bytes(), cnonce.as_bytes()]);
            &session
        } else {
            ha1
        };
        let mut prefix = Hasher::new(alg.hash_fn());
        let mut part = |bytes: &[u8]| {
            prefix.update(bytes);
            prefix.update(b":");
        };
        part(ha1.as_bytes());
        part(creds.nonce.as_bytes());
        if let (Some(qop), Some((_, nc))) = (creds.qop, &creds.nc) {
            part(nc.as_bytes());
            part(cnonce.as_bytes());
            part(qop.name().as_bytes());
        }
        Self {
            creds,
            body_hash,
            prefix,
        }
    }

    /// The response for `method` (`""` for `rspauth`).
    pub(super) fn for_method(&self, method: &str) -> Hex {
        let alg = self.creds.algorithm;
        let uri = self.creds.uri.as_bytes();
        let ha2 = match self.body_hash {
            Some(body) => alg.hash(&[method.as_bytes(), uri, body.as_bytes()]),
            None => alg.hash(&[method.as_bytes(), uri]),
        };
        let mut response = self.prefix.clone();
        response.update(ha2.as_bytes());
        response.finish()
    }
}

/// RFC 7616 §3.4.6: the `uri` must name the request target. Origin-form (`/path?query`) must
/// equal the target's path and query byte for byte; an absolute URI must have the same path
/// and query and the request's authority (or `Host`), compared without case.
fn uri_matches(client: &str, req: &AuthRequest<'_>) -> bool {
    let target = req.target();
    if client.starts_with('/') || client == "*" {
        return client == target;
    }
    let Ok(parsed) = client.parse::<Uri>() else {
        return false;
    };
    let (Some(_), Some(authority)) = (parsed.scheme(), parsed.authority()) else {
        return false;
    };
    let client_target = parsed.path_and_query().map_or("/", |pq| pq.as_str());
    if client_target != target {
        return false;
    }
    req.authority()
        .is_some_and(|a| a.eq_ignore_ascii_case(authority.as_str()))
}

/// A refusal with a correct-looking but wrong credential: 401.
fn refused(detail: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidCredentials).with_detail(detail)
}
