//! Errors: why a request was refused ([`AuthError`]) and why a configuration was refused
//! ([`ConfigError`]).
//!
//! An [`AuthError`] carries the HTTP status it answers with and is attached to the extensions of
//! every rejection response, so an outer layer (logging, metrics) can inspect it:
//!
//! ```
//! use httpauth::{AuthError, AuthErrorKind};
//! use http::StatusCode;
//!
//! let err = AuthError::new(AuthErrorKind::Forbidden);
//! assert_eq!(err.status(), StatusCode::FORBIDDEN);
//! assert_eq!(err.to_string(), "insufficient role");
//! ```

use std::fmt;
use std::sync::Arc;

use http::StatusCode;

/// What went wrong with a request's authentication or authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// The request carried no credentials for any scheme the route accepts (`401`).
    MissingCredentials,
    /// The credentials could not be parsed: bad base64, no colon, control characters, an
    /// oversized or non-UTF-8 header, broken auth-params (`401`).
    MalformedCredentials,
    /// The credentials were well formed but the verify callback refused them (`401`).
    InvalidCredentials,
    /// The request carried more than one `Authorization` header, or a token in more than one
    /// place (`400`): the request is ambiguous, so no credential is tried.
    DuplicateCredentials,
    /// The user authenticated but does not have the role the route requires (`403`).
    Forbidden,
    /// The credentials were right but the server nonce they answer has expired (`401`, and a
    /// Digest challenge with `stale=true`, so the client retries without asking the user).
    StaleNonce,
    /// The credentials contradict the request itself, e.g. a Digest `uri` that is not the
    /// request target (`400`).
    BadRequest,
    /// The scheme needs the request body (Digest `qop=auth-int`) and it is larger than the
    /// configured bound (`413`).
    BodyTooLarge,
    /// Too many failed attempts from this client or for this username: refused before any
    /// password is hashed (`429`, with `Retry-After`).
    TooManyAttempts,
    /// The server cannot check the credentials now: a shared store (Redis) is unreachable or
    /// slow (`503`, with `Retry-After`). Not counted by the throttle: the client did nothing
    /// wrong.
    Unavailable,
    /// Too many checks are waiting: the hashing queue is full or its wait deadline passed
    /// (`503`, with `Retry-After`; no hash computed). Counted by the throttle, so a flood
    /// cannot keep the queue full.
    Overloaded,
}

impl AuthErrorKind {
    /// The status this kind answers with by default.
    #[must_use]
    pub const fn status(self) -> StatusCode {
        match self {
            Self::MissingCredentials
            | Self::MalformedCredentials
            | Self::InvalidCredentials
            | Self::StaleNonce => StatusCode::UNAUTHORIZED,
            Self::DuplicateCredentials | Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable | Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A short, stable, human readable reason (safe to show to clients and to log).
    #[must_use]
    pub const fn reason(self) -> &'static str {
        match self {
            Self::MissingCredentials => "missing credentials",
            Self::MalformedCredentials => "malformed credentials",
            Self::InvalidCredentials => "invalid credentials",
            Self::DuplicateCredentials => "duplicate credentials",
            Self::Forbidden => "insufficient role",
            Self::StaleNonce => "stale nonce",
            Self::BadRequest => "bad request",
            Self::BodyTooLarge => "body too large",
            Self::TooManyAttempts => "too many failed attempts",
            Self::Unavailable => "credentials cannot be checked now",
            Self::Overloaded => "too many checks waiting",
        }
    }
}

/// Why a request was refused.
///
/// It never contains a password or a token: it is safe to log and to show. The rejection
/// response carries a clone in its extensions; with [`optional`](crate::LoginRequired::optional)
/// routes the request carries it instead, so the handler can tell "anonymous" from "wrong
/// password".
#[derive(Clone, PartialEq, Eq)]
pub struct AuthError {
    kind: AuthErrorKind,
    status: StatusCode,
    detail: Option<&'static str>,
    scheme: Option<Arc<str>>,
    retry_after: Option<u32>,
}

impl AuthError {
    /// An error of this kind with its default status.
    #[must_use]
    pub const fn new(kind: AuthErrorKind) -> Self {
        Self {
            kind,
            status: kind.status(),
            detail: None,
            scheme: None,
            retry_after: None,
        }
    }

    /// Asks the client to wait this many seconds before trying again: the rejection carries
    /// `Retry-After` (RFC 9110 §10.2.3). Used with `429` and `503`.
    #[must_use]
    pub const fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The `Retry-After` delay in seconds, when there is one.
    #[must_use]
    pub const fn retry_after(&self) -> Option<u32> {
        self.retry_after
    }

    /// Adds a short, static explanation (for logs; never contains the credential).
    #[must_use]
    pub const fn with_detail(mut self, detail: &'static str) -> Self {
        self.detail = Some(detail);
        self
    }

    /// Overrides the status (e.g. RFC 6750's `invalid_request` answers 400).
    #[must_use]
    pub const fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Records the name of the scheme that handled the request.
    #[must_use]
    pub fn with_scheme(mut self, scheme: Arc<str>) -> Self {
        self.scheme = Some(scheme);
        self
    }

    /// What went wrong.
    #[must_use]
    pub const fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// The status the default response answers with.
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        self.status
    }

    /// The short reason of [`AuthErrorKind::reason`].
    #[must_use]
    pub const fn reason(&self) -> &'static str {
        self.kind.reason()
    }

    /// A more precise explanation, when the scheme gave one (e.g. `"invalid base64"`).
    #[must_use]
    pub const fn detail(&self) -> Option<&'static str> {
        self.detail
    }

    /// The scheme that handled the request (`None` when no scheme matched the request).
    #[must_use]
    pub fn scheme(&self) -> Option<&str> {
        self.scheme.as_deref()
    }

    /// No credentials for this scheme (`401`).
    #[must_use]
    pub const fn missing() -> Self {
        Self::new(AuthErrorKind::MissingCredentials)
    }

    /// Credentials that could not be parsed, and why (`401`).
    #[must_use]
    pub const fn malformed(detail: &'static str) -> Self {
        Self::new(AuthErrorKind::MalformedCredentials).with_detail(detail)
    }

    /// Credentials the verify callback refused (`401`).
    #[must_use]
    pub const fn invalid() -> Self {
        Self::new(AuthErrorKind::InvalidCredentials)
    }

    /// The credentials cannot be checked now (`503` with `Retry-After: 1`): what a callback
    /// answers when its store is down. Never counted as a failed attempt.
    #[must_use]
    pub const fn unavailable() -> Self {
        Self::new(AuthErrorKind::Unavailable)
            .with_detail("the credential store failed")
            .with_retry_after(1)
    }

    /// A store or backend error in a callback (a database that is down, a timeout): logs it
    /// once (an error event, target `httpauth`, with the error's `Display`) and answers
    /// [`unavailable`](Self::unavailable). For `.map_err(AuthError::backend)?` in a callback
    /// that returns `Result<Option<User>, AuthError>`.
    #[must_use]
    pub fn backend(err: impl fmt::Display) -> Self {
        tracing::error!(target: "httpauth", error = %err, "a callback's store failed; answering 503");
        Self::unavailable()
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthError")
            .field("kind", &self.kind)
            .field("status", &self.status.as_u16())
            .field("detail", &self.detail)
            .field("scheme", &self.scheme)
            .field("retry_after", &self.retry_after)
            .finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.reason())?;
        if let Some(detail) = self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AuthError {}

/// A configuration value was refused when an auth object was built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A realm (or another quoted challenge parameter) contained a control character, which
    /// would allow header injection.
    ControlCharacter {
        /// The parameter that was refused (`"realm"`, ...).
        param: &'static str,
    },
    /// A scheme or parameter name was not an RFC 9110 `token`.
    NotAToken {
        /// The name that was refused.
        value: String,
    },
    /// A header name was not a valid HTTP field name.
    InvalidHeaderName {
        /// The name that was refused.
        value: String,
    },
    /// A route requires roles but a scheme on it has no get-user-roles callback (neither its
    /// own nor the route's): the route could never be entered (Flask-HTTPAuth answers every
    /// request with a 500 then).
    MissingUserRoles {
        /// The scheme without a roles callback.
        scheme: String,
    },
    /// Another invalid value, with what was wrong with it.
    Invalid {
        /// The setting (`"scope"`, `"secret"`, ...).
        setting: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ControlCharacter { param } => {
                write!(f, "the {param} contains a control character")
            }
            Self::NotAToken { value } => write!(f, "{value:?} is not an RFC 9110 token"),
            Self::InvalidHeaderName { value } => write!(f, "{value:?} is not a header name"),
            Self::MissingUserRoles { scheme } => write!(
                f,
                "the {scheme} auth has no user_roles callback (nor has the route), so a route requiring roles could never be entered"
            ),
            Self::Invalid { setting, reason } => write!(f, "invalid {setting}: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {}
