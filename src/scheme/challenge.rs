//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1), rendered once when an auth is configured.
//!
//! Every quoted value goes through [`header::quote`](crate::scheme::header::quote): `"` and `\` are escaped and
//! control characters are refused, so a realm can never inject a header line. Several auths on
//! one route send one challenge per `WWW-Authenticate` line.
//!
//! ```
//! use httpauth::scheme::Challenge;
//!
//! let c = Challenge::builder("Basic")
//!     .unwrap()
//!     .quoted("realm", r#"the "admin" area"#)
//!     .unwrap()
//!     .quoted("charset", "UTF-8")
//!     .unwrap()
//!     .build()
//!     .unwrap();
//! assert_eq!(
//!     c.header_value(),
//!     r#"Basic realm="the \"admin\" area", charset="UTF-8""#
//! );
//! assert!(Challenge::builder("Basic").unwrap().quoted("realm", "a\r\nX: y").is_err());
//! ```

use http::HeaderValue;

use crate::error::ConfigError;
use crate::scheme::header::{is_token, quote};

/// One rendered challenge, ready to be appended as a `WWW-Authenticate` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    value: HeaderValue,
}

impl Challenge {
    /// Starts a challenge for `scheme`, which must be an RFC 9110 token.
    pub fn builder(scheme: &str) -> Result<ChallengeBuilder, ConfigError> {
        if !is_token(scheme) {
            return Err(ConfigError::NotAToken {
                value: scheme.to_owned(),
            });
        }
        Ok(ChallengeBuilder {
            buf: scheme.to_owned(),
            params: 0,
            separator: ", ",
        })
    }

    /// The `scheme realm="..."` challenge every scheme but Digest uses.
    pub fn with_realm(scheme: &str, realm: &str) -> Result<Self, ConfigError> {
        Self::builder(scheme)?.quoted("realm", realm)?.build()
    }

    /// The rendered header value.
    #[must_use]
    pub fn header_value(&self) -> &HeaderValue {
        &self.value
    }
}

/// Builds a [`Challenge`] parameter by parameter.
#[derive(Debug, Clone)]
pub struct ChallengeBuilder {
    buf: String,
    params: usize,
    separator: &'static str,
}

impl ChallengeBuilder {
    /// Separates parameters with a bare `,` instead of `, ` (the format Flask-HTTPAuth's
    /// Digest challenge uses).
    #[must_use]
    pub fn compact(mut self) -> Self {
        self.separator = ",";
        self
    }

    fn push_name(&mut self, name: &str) -> Result<(), ConfigError> {
        if !is_token(name) {
            return Err(ConfigError::NotAToken {
                value: name.to_owned(),
            });
        }
        self.buf.push_str(if self.params == 0 {
            " "
        } else {
            self.separator
        });
        self.params += 1;
        self.buf.push_str(name);
        self.buf.push('=');
        Ok(())
    }

    /// Adds `name="value"` (quoted-string, escaped; control characters refused).
    pub fn quoted(mut self, name: &'static str, value: &str) -> Result<Self, ConfigError> {
        let quoted = quote(value).map_err(|_| ConfigError::ControlCharacter { param: name })?;
        self.push_name(name)?;
        self.buf.push_str(&quoted);
        Ok(self)
    }

    /// Adds `name=value` with `value` as a bare token (e.g. `stale=true`).
    pub fn token(mut self, name: &'static str, value: &str) -> Result<Self, ConfigError> {
        if !is_token(value) {
            return Err(ConfigError::NotAToken {
                value: value.to_owned(),
            });
        }
        self.push_name(name)?;
        self.buf.push_str(value);
        Ok(self)
    }

    /// Finishes the challenge.
    ///
    /// # Errors
    ///
    /// Never for values that went through [`quoted`](Self::quoted) and
    /// [`token`](Self::token) (tokens are visible ASCII, quoted values hold no control
    /// character: exactly what a header value allows); the check is kept so nothing can fall
    /// back to another challenge silently.
    pub fn build(self) -> Result<Challenge, ConfigError> {
        let value = HeaderValue::from_bytes(self.buf.as_bytes())
            .map_err(|_| ConfigError::ControlCharacter { param: "challenge" })?;
        Ok(Challenge { value })
    }
}
