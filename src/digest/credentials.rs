//! The Digest `Authorization` parameters (RFC 7616 §3.4), read from the auth-param list that
//! [`header::parse`](crate::scheme::header::parse) produced.
//!
//! The generic grammar (quoting, escapes, duplicated names, parameters without `=`,
//! unterminated quoted strings, control characters, size) is enforced by the header parser;
//! this module adds the Digest rules: the required parameters, `nc` as exactly 8 hex digits,
//! `cnonce` with a `qop`, a known `algorithm` and `qop`, `username` xor `username*` (RFC 8187),
//! and `userhash`.
//!
//! ```
//! use httpauth::digest::{DigestCredentials, Qop};
//!
//! let creds = DigestCredentials::parse(
//!     br#"Digest username="Mufasa", realm="r", nonce="n", uri="/", qop=auth, nc=00000001, cnonce="c", response="abc""#,
//! )
//! .unwrap();
//! assert_eq!(creds.username(), "Mufasa");
//! assert_eq!(creds.qop(), Some(Qop::Auth));
//! assert_eq!(creds.nc(), Some(1));
//! // Debug never shows the response.
//! assert!(!format!("{creds:?}").contains("abc"));
//! ```

use std::fmt;
use std::str::FromStr;

use crate::scheme::header::{self, Payload};

use super::algorithm::Algorithm;

/// A quality of protection (RFC 7616 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Qop {
    /// `auth`: the method and the `uri` are covered.
    Auth,
    /// `auth-int`: also the request body (which is then buffered, up to a bound).
    AuthInt,
}

impl Qop {
    /// The wire name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::AuthInt => "auth-int",
        }
    }

    /// Parses a name, ignoring ASCII case.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Auth, Self::AuthInt]
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Qop {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or("unknown qop (expected auth or auth-int)")
    }
}

/// Parsed Digest credentials. `Debug` never shows `response` (nor `cnonce`).
#[derive(Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    pub(crate) username: String,
    pub(crate) userhash: bool,
    pub(crate) realm: String,
    pub(crate) nonce: String,
    pub(crate) uri: String,
    pub(crate) response: String,
    pub(crate) algorithm: Algorithm,
    pub(crate) algorithm_sent: bool,
    pub(crate) qop: Option<Qop>,
    pub(crate) nc: Option<(u32, String)>,
    pub(crate) cnonce: Option<String>,
    pub(crate) opaque: Option<String>,
}

impl DigestCredentials {
    /// Parses a whole `Authorization` value. The scheme word is not checked here (the auth
    /// accepts `Digest` and its custom name).
    pub fn parse(value: &[u8]) -> Result<Self, &'static str> {
        let creds = header::parse(value).map_err(header::HeaderError::as_str)?;
        match creds.payload() {
            Payload::Params(params) => Self::from_params(params),
            Payload::Empty => Err("no Digest parameters"),
            Payload::Token68(_) => Err("Digest credentials are not an auth-param list"),
        }
    }

    /// Reads the Digest parameters of an auth-param list.
    pub fn from_params(p: &header::Params<'_>) -> Result<Self, &'static str> {
        let userhash = match p.get("userhash") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(_) => return Err("userhash is neither true nor false"),
        };
        let username = match (p.get("username"), p.get("username*")) {
            (Some(_), Some(_)) => return Err("both username and username*"),
            (None, None) => return Err("missing username"),
            (Some(u), None) => u.to_owned(),
            (None, Some(ext)) => {
                if userhash {
                    return Err("username* with userhash=true");
                }
                decode_ext_value(ext)?
            }
        };
        if username.is_empty() {
            return Err("empty username");
        }
        if username.chars().any(char::is_control) {
            return Err("control character in username");
        }
        let required = |name: &'static str, err: &'static str| -> Result<String, &'static str> {
            match p.get(name) {
                Some(v) if !v.is_empty() => Ok(v.to_owned()),
                _ => Err(err),
            }
        };
        let realm = p.get("realm").ok_or("missing realm")?.to_owned();
        let nonce = required("nonce", "missing nonce")?;
        let uri = required("uri", "missing uri")?;
        let response = required("response", "missing response")?;
        let (algorithm, algorithm_sent) = match p.get("algorithm") {
            None => (Algorithm::Md5, false),
            Some(a) => (Algorithm::from_name(a).ok_or("unknown algorithm")?, true),
        };
        let qop = match p.get("qop") {
            None => None,
            Some(q) => Some(Qop::from_name(q).ok_or("unknown qop")?),
        };
        let cnonce = match p.get("cnonce") {
            Some(c) if !c.is_empty() => Some(c.to_owned()),
            Some(_) => return Err("empty cnonce"),
            None => None,
        };
        let nc = if qop.is_some() {
            let raw = p.get("nc").ok_or("missing nc")?;
            Some((parse_nc(raw)?, raw.to_owned()))
        } else {
            // RFC 2069 mode: nc has no meaning without qop.
            None
        };
        if qop.is_some() && cnonce.is_none() {
            return Err("missing cnonce");
        }
        if algorithm.is_session() && cnonce.is_none() {
            return Err("missing cnonce for a -sess algorithm");
        }
        let opaque = p.get("opaque").map(str::to_owned);
        Ok(Self {
            username,
            userhash,
            realm,
            nonce,
            uri,
            response,
            algorithm,
            algorithm_sent,
            qop,
            nc,
            cnonce,
            opaque,
        })
    }

    /// The username: decoded from `username*` when that was sent; the hex `H(username:realm)`
    /// when [`userhash`](Self::userhash) is set.
    #[must_use]
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Whether the client sent `userhash=true`.
    #[must_use]
    pub const fn userhash(&self) -> bool {
        self.userhash
    }

    /// The realm the client answers.
    #[must_use]
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The server nonce the client answers.
    #[must_use]
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The `uri` parameter.
    #[must_use]
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The algorithm (`MD5` when the client sent none, as RFC 7616 says).
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The quality of protection; `None` for RFC 2069 credentials.
    #[must_use]
    pub const fn qop(&self) -> Option<Qop> {
        self.qop
    }

    /// The nonce count (present exactly when a qop is).
    #[must_use]
    pub fn nc(&self) -> Option<u32> {
        self.nc.as_ref().map(|(n, _)| *n)
    }

    /// The `opaque` parameter.
    #[must_use]
    pub fn opaque(&self) -> Option<&str> {
        self.opaque.as_deref()
    }
}

impl fmt::Debug for DigestCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestCredentials")
            .field("username", &self.username)
            .field("userhash", &self.userhash)
            .field("realm", &self.realm)
            .field("uri", &self.uri)
            .field("algorithm", &self.algorithm)
            .field("qop", &self.qop)
            .field("nc", &self.nc())
            .field("response", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// `nc`: exactly 8 hex digits (RFC 7616 §3.4), not zero (the first request sends 1).
fn parse_nc(raw: &str) -> Result<u32, &'static str> {
    if raw.len() != 8 || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("nc is not 8 hex digits");
    }
    match u32::from_str_radix(raw, 16) {
        Ok(0) | Err(_) => Err("nc is zero"),
        Ok(n) => Ok(n),
    }
}

/// RFC 8187 `ext-value = charset "'" [ language ] "'" value-chars`, UTF-8 only.
pub(crate) fn decode_ext_value(v: &str) -> Result<String, &'static str> {
    const ERR: &str = "invalid username* (expected UTF-8''percent-encoded)";
    let mut parts = v.splitn(3, '\'');
    let (Some(charset), Some(language), Some(value)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(ERR);
    };
    if !charset.eq_ignore_ascii_case("UTF-8") {
        return Err("username* charset is not UTF-8");
    }
    if !language
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(ERR);
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let mut byte = [0_u8; 1];
                crate::hex::decode_into(bytes.get(i + 1..i + 3).ok_or(ERR)?, &mut byte)
                    .ok_or(ERR)?;
                out.push(byte[0]);
                i += 3;
            }
            // attr-char
            b if b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'&'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                ) =>
            {
                out.push(b);
                i += 1;
            }
            _ => return Err(ERR),
        }
    }
    String::from_utf8(out).map_err(|_| "username* is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BASE: &str = r#"username="Mufasa", realm="r", nonce="n", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="c", response="0123", opaque="o""#;

    fn parse(params: &str) -> Result<DigestCredentials, &'static str> {
        DigestCredentials::parse(format!("Digest {params}").as_bytes())
    }

    fn without(name: &str) -> String {
        BASE.split(", ")
            .filter(|p| !p.starts_with(&format!("{name}=")))
            .collect::<Vec<_>>()
            .join(", ")
    }

    #[test]
    fn full() {
        let c = parse(BASE).unwrap();
        assert_eq!(c.username(), "Mufasa");
        assert_eq!(c.realm(), "r");
        assert_eq!(c.nonce(), "n");
        assert_eq!(c.uri(), "/dir/index.html");
        assert_eq!(c.algorithm(), Algorithm::Md5);
        assert!(!c.algorithm_sent);
        assert_eq!(c.qop(), Some(Qop::Auth));
        assert_eq!(c.nc(), Some(1));
        assert_eq!(c.opaque(), Some("o"));
        assert!(!c.userhash());
    }

    #[test]
    fn quoted_and_case_insensitive_tokens() {
        // requests and Postman quote algorithm and qop.
        let c = parse(&format!(
            r#"{}, algorithm="sha-256""#,
            BASE.replace("qop=auth", r#"qop="AUTH""#)
        ))
        .unwrap();
        assert_eq!(c.algorithm(), Algorithm::Sha256);
        assert!(c.algorithm_sent);
        assert_eq!(c.qop(), Some(Qop::Auth));
        let c = parse(&BASE.replace("00000001", "0000000A")).unwrap();
        assert_eq!(c.nc(), Some(10));
    }

    #[test]
    fn missing_fields() {
        for (name, err) in [
            ("username", "missing username"),
            ("realm", "missing realm"),
            ("nonce", "missing nonce"),
            ("uri", "missing uri"),
            ("response", "missing response"),
            ("nc", "missing nc"),
            ("cnonce", "missing cnonce"),
        ] {
            assert_eq!(parse(&without(name)), Err(err), "without {name}");
        }
        // opaque is optional at this level (the auth requires it).
        assert!(parse(&without("opaque")).is_ok());
        // RFC 2069: without qop, nc and cnonce are not needed.
        let c = parse(&without("qop").replace(", nc=00000001", "")).unwrap();
        assert_eq!((c.qop(), c.nc()), (None, None));
        // ...but a -sess algorithm needs the cnonce.
        let no_cnonce = without("qop").replace(", cnonce=\"c\"", "");
        assert!(parse(&no_cnonce).is_ok());
        assert_eq!(
            parse(&format!("{no_cnonce}, algorithm=MD5-sess")),
            Err("missing cnonce for a -sess algorithm")
        );
    }

    #[test]
    fn refusals() {
        for (params, err) in [
            (BASE.replace("00000001", "1"), "nc is not 8 hex digits"),
            (
                BASE.replace("00000001", "0000000g"),
                "nc is not 8 hex digits",
            ),
            (
                BASE.replace("00000001", "+0000001"),
                "nc is not 8 hex digits",
            ),
            (BASE.replace("00000001", "00000000"), "nc is zero"),
            (BASE.replace("qop=auth", "qop=auth-conf"), "unknown qop"),
            (format!("{BASE}, algorithm=SHA-512"), "unknown algorithm"),
            (
                format!("{BASE}, userhash=yes"),
                "userhash is neither true nor false",
            ),
            (BASE.replace("\"Mufasa\"", "\"\""), "empty username"),
            (BASE.replace("\"c\"", "\"\""), "empty cnonce"),
            (BASE.replace("nonce=\"n\"", "nonce=\"\""), "missing nonce"),
            (
                BASE.replace("\"Mufasa\"", "\"a\tb\""),
                "control character in username",
            ),
            (
                format!("{BASE}, username*=UTF-8''x"),
                "both username and username*",
            ),
        ] {
            assert_eq!(parse(&params), Err(err), "{params}");
        }
        // Grammar-level refusals come from the header parser.
        assert_eq!(
            parse(&format!("{BASE}, realm=\"x\"")),
            Err("duplicate auth-param")
        );
        assert_eq!(
            parse(&format!("{BASE}, stray")),
            Err("invalid auth-param list")
        );
        assert_eq!(
            parse(r#"username="Mufasa, realm="r""#.trim_end_matches('"')),
            Err("invalid auth-param list")
        );
        // A lone word is a token68, not an auth-param list.
        assert_eq!(
            parse("username"),
            Err("Digest credentials are not an auth-param list")
        );
        assert_eq!(
            parse("username, realm=\"r\""),
            Err("invalid auth-param list")
        );
        // Unterminated quoted string (Apache CVE-2017-9788's neighbourhood).
        assert_eq!(
            parse(r#"realm="r", username="Mufasa"#),
            Err("invalid auth-param list")
        );
        assert!(DigestCredentials::parse(b"Digest").is_err());
        assert!(DigestCredentials::parse(b"Digest abc==").is_err());
    }

    #[test]
    fn username_star() {
        // RFC 7616 §3.9.2's example: J\u{e4}s\u{f8}n Doe.
        let params =
            without("username").replace("realm=", "username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm=");
        let c = parse(&params).unwrap();
        assert_eq!(c.username(), "J\u{e4}s\u{f8}n Doe");
        let with_lang = params.replace("UTF-8''", "utf-8'en'");
        assert_eq!(parse(&with_lang).unwrap().username(), "J\u{e4}s\u{f8}n Doe");
        for bad in [
            "ISO-8859-1''J%E4son",
            "UTF-8''J%C3",
            "UTF-8''J%zz",
            "UTF-8''%FF",
            "UTF-8''a b",
            "UTF-8'a",
            "UTF-8''%0A",
        ] {
            let p = without("username").replace("realm=", &format!("username*=\"{bad}\", realm="));
            assert!(parse(&p).is_err(), "{bad}");
        }
        let p = params.clone() + ", userhash=true";
        assert_eq!(parse(&p), Err("username* with userhash=true"));
    }

    #[test]
    fn userhash_flag() {
        let c = parse(&format!("{BASE}, userhash=TRUE")).unwrap();
        assert!(c.userhash());
        let c = parse(&format!("{BASE}, userhash=\"false\"")).unwrap();
        assert!(!c.userhash());
    }

    #[test]
    fn debug_redacts() {
        let c = parse(&BASE.replace("0123", "deadbeefsecret")).unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("deadbeefsecret"), "{d}");
        assert!(d.contains("Mufasa"));
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = DigestCredentials::parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_digest_like_input(
            params in proptest::collection::vec(
                (
                    prop_oneof![
                        Just("username"), Just("username*"), Just("realm"), Just("nonce"),
                        Just("uri"), Just("response"), Just("algorithm"), Just("qop"),
                        Just("nc"), Just("cnonce"), Just("opaque"), Just("userhash"), Just("x"),
                    ],
                    r#"("([^"\\]|\\.){0,12}"|[A-Za-z0-9%'*-]{0,12})"#,
                ),
                0..14,
            )
        ) {
            let header = format!(
                "Digest {}",
                params.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join(", ")
            );
            let _ = DigestCredentials::parse(header.as_bytes());
        }

        #[test]
        fn ext_value_roundtrip(name in "\\PC{1,20}") {
            let encoded: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
            prop_assert_eq!(decode_ext_value(&format!("UTF-8''{encoded}")), Ok(name));
        }
    }
}
