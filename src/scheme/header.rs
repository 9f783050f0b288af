//! The `Authorization` header grammar of RFC 9110 §11, framework-agnostic and total.
//!
//! ```text
//! credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param  = token BWS "=" BWS ( token / quoted-string )
//! token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! ```
//!
//! [`parse`] accepts any bytes and never panics: values longer than [`MAX_CREDENTIALS_LEN`],
//! non-UTF-8 bytes, a scheme that is not a token, a separator other than spaces, duplicate
//! parameter names (compared case-insensitively), parameters without `=`, unterminated quoted
//! strings and control characters are all refused with a [`HeaderError`]. The scheme word is
//! kept as sent; compare it with [`Credentials::scheme_is`], which ignores case.
//!
//! ```
//! use httpauth::scheme::header::{parse, Payload};
//!
//! let creds = parse(b"basic am9objpoZWxsbw==").unwrap();
//! assert!(creds.scheme_is("Basic"));
//! assert!(matches!(creds.payload(), Payload::Token68("am9objpoZWxsbw==")));
//!
//! let creds = parse(br#"Digest username="j\"o", realm=x"#).unwrap();
//! let Payload::Params(params) = creds.payload() else { panic!() };
//! assert_eq!(params.get("USERNAME"), Some("j\"o"));
//! assert_eq!(params.get("realm"), Some("x"));
//!
//! assert!(parse(b"Digest a=1, A=2").is_err()); // duplicate parameter
//! assert!(parse(b"Basic\tabc").is_err()); // only spaces separate scheme and credentials
//! ```

use std::borrow::Cow;
use std::fmt;

/// The largest `Authorization` value that is parsed at all (8 KiB, like nginx's default header
/// line limit). Longer values are refused with [`HeaderError::TooLong`] before any work.
pub const MAX_CREDENTIALS_LEN: usize = 8 * 1024;

/// The most auth-params one header may carry (Digest uses at most 13).
pub const MAX_PARAMS: usize = 32;

/// Why an `Authorization` value does not follow RFC 9110 §11.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// Longer than [`MAX_CREDENTIALS_LEN`].
    TooLong,
    /// Not valid UTF-8.
    NotUtf8,
    /// Empty, or the scheme is not a token.
    BadScheme,
    /// The scheme is followed by something other than a space.
    BadSeparator,
    /// The auth-param list is broken (missing `=`, empty value, stray characters, control
    /// characters, unterminated quoted string).
    BadParams,
    /// A parameter name occurs twice (RFC 9110: each name MUST only occur once).
    DuplicateParam,
    /// More than [`MAX_PARAMS`] parameters.
    TooManyParams,
}

impl HeaderError {
    /// A short static description.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TooLong => "credentials too long",
            Self::NotUtf8 => "credentials are not UTF-8",
            Self::BadScheme => "invalid auth-scheme",
            Self::BadSeparator => "scheme must be followed by a space",
            Self::BadParams => "invalid auth-param list",
            Self::DuplicateParam => "duplicate auth-param",
            Self::TooManyParams => "too many auth-params",
        }
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for HeaderError {}

/// Parsed credentials: a scheme and what follows it. Borrows from the header value.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials<'a> {
    scheme: &'a str,
    payload: Payload<'a>,
}

impl<'a> Credentials<'a> {
    /// The scheme word exactly as sent.
    #[must_use]
    pub const fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// Whether the scheme is `name`, ignoring ASCII case (RFC 9110: schemes are
    /// case-insensitive).
    #[must_use]
    pub fn scheme_is(&self, name: &str) -> bool {
        same_scheme(self.scheme.as_bytes(), name.as_bytes())
    }

    /// What follows the scheme.
    #[must_use]
    pub const fn payload(&self) -> &Payload<'a> {
        &self.payload
    }

    /// Consumes the credentials, returning what follows the scheme.
    #[must_use]
    pub fn into_payload(self) -> Payload<'a> {
        self.payload
    }
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("scheme", &self.scheme)
            .field("payload", &self.payload)
            .finish()
    }
}

/// What follows the scheme word.
#[derive(Clone, PartialEq, Eq)]
pub enum Payload<'a> {
    /// Nothing (`Authorization: Basic`).
    Empty,
    /// A token68 (Basic, Bearer). Never contains whitespace.
    Token68(&'a str),
    /// An auth-param list (Digest).
    Params(Params<'a>),
}

impl fmt::Debug for Payload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("Empty"),
            // A token68 is the secret itself: never print it.
            Self::Token68(_) => f.write_str("Token68(<redacted>)"),
            Self::Params(p) => f.debug_tuple("Params").field(p).finish(),
        }
    }
}

/// An auth-param list with unique, case-insensitive names; values are unescaped.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params<'a> {
    items: Vec<(&'a str, Cow<'a, str>)>,
}

impl<'a> Params<'a> {
    /// The value of parameter `name` (compared ignoring ASCII case), unescaped.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// The parameters in the order they were sent.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &str)> + '_ {
        self.items.iter().map(|(n, v)| (*n, v.as_ref()))
    }

    /// How many parameters there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl fmt::Debug for Params<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets (a Digest response, a token): print the names only.
        f.debug_list()
            .entries(self.items.iter().map(|(n, _)| n))
            .finish()
    }
}

const TCHAR: u8 = 1;
const TOKEN68: u8 = 2;

/// Character classes, one lookup per byte.
static CLASS: [u8; 256] = {
    let mut table = [0_u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let alnum = c.is_ascii_alphanumeric();
        if alnum
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            )
        {
            table[b] |= TCHAR;
        }
        if alnum || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/') {
            table[b] |= TOKEN68;
        }
        b += 1;
    }
    table
};

/// RFC 9110 `tchar`.
#[must_use]
pub const fn is_tchar(b: u8) -> bool {
    CLASS[b as usize] & TCHAR != 0
}

/// Whether `s` is a non-empty RFC 9110 `token`.
#[must_use]
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Whether `s` is a non-empty RFC 9110 `token68`.
#[must_use]
pub fn is_token68(s: &str) -> bool {
    is_token68_bytes(s.as_bytes())
}

#[inline]
fn is_token68_bytes(bytes: &[u8]) -> bool {
    let padding = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    let body = &bytes[..bytes.len() - padding];
    // No early exit: one table lookup per byte, which the compiler unrolls.
    !body.is_empty()
        && body
            .iter()
            .fold(TOKEN68, |class, &b| class & CLASS[b as usize])
            != 0
}

const fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Whether a scheme word as sent is `name`, ignoring ASCII case (RFC 9110). The exact spelling,
/// which clients send, is one comparison.
#[must_use]
#[inline]
pub(crate) fn same_scheme(sent: &[u8], name: &[u8]) -> bool {
    sent == name || sent.eq_ignore_ascii_case(name)
}

/// The scheme word of a raw `Authorization` value (the bytes before the first space), without
/// parsing the rest. Used to choose between several auths cheaply.
#[must_use]
pub fn scheme_word(value: &[u8]) -> &[u8] {
    let value = trim_ows(value);
    let end = value.iter().position(|&b| b == b' ').unwrap_or(value.len());
    &value[..end]
}

pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_ows(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is_ows(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Parses an `Authorization` (or `Proxy-Authorization`) value. Total: never panics, allocates
/// at most once per escaped quoted-string, and refuses anything longer than
/// [`MAX_CREDENTIALS_LEN`] before looking at it.
pub fn parse(value: &[u8]) -> Result<Credentials<'_>, HeaderError> {
    if value.len() > MAX_CREDENTIALS_LEN {
        return Err(HeaderError::TooLong);
    }
    let value = trim_ows(value);
    let scheme_len = value
        .iter()
        .position(|&b| !is_tchar(b))
        .unwrap_or(value.len());
    if scheme_len == 0 {
        return Err(HeaderError::BadScheme);
    }
    let (scheme, rest) = value.split_at(scheme_len);
    // A token is ASCII: this cannot fail, and checks nothing twice.
    let scheme = std::str::from_utf8(scheme).map_err(|_| HeaderError::BadScheme)?;
    let payload = match rest {
        [] => Payload::Empty,
        [b' ', ..] => {
            let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
            let rest = &rest[start..];
            if rest.is_empty() {
                Payload::Empty
            } else if is_token68_bytes(rest) {
                Payload::Token68(std::str::from_utf8(rest).map_err(|_| HeaderError::NotUtf8)?)
            } else {
                let rest = std::str::from_utf8(rest).map_err(|_| HeaderError::NotUtf8)?;
                Payload::Params(parse_params(rest)?)
            }
        }
        _ => {
            return Err(if std::str::from_utf8(rest).is_err() {
                HeaderError::NotUtf8
            } else {
                HeaderError::BadSeparator
            })
        }
    };
    Ok(Credentials { scheme, payload })
}

/// The token68 of `value` when it is `<scheme> <token68>` (`scheme` in any ASCII case, one
/// space, nothing around), the form clients send for Basic and Bearer: read without the
/// general parser. `None` for anything else, which [`parse`] reads (it gives the same answer
/// for this form). The token is ASCII.
#[inline]
pub(crate) fn token68_after<'a>(value: &'a [u8], scheme: &[u8]) -> Option<&'a [u8]> {
    if value.len() > MAX_CREDENTIALS_LEN {
        return None;
    }
    let word = value.get(..scheme.len())?;
    let token = value[scheme.len()..].strip_prefix(b" ")?;
    (same_scheme(word, scheme) && is_token68_bytes(token)).then_some(token)
}

/// Parses a `#auth-param` list (also usable on its own, e.g. for a challenge).
pub fn parse_params(s: &str) -> Result<Params<'_>, HeaderError> {
    let bytes = s.as_bytes();
    let mut items: Vec<(&str, Cow<'_, str>)> = Vec::new();
    let mut i = 0;
    loop {
        // Skip OWS and empty list elements.
        while i < bytes.len() && (is_ows(bytes[i]) || bytes[i] == b',') {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let name_start = i;
        while i < bytes.len() && is_tchar(bytes[i]) {
            i += 1;
        }
        if i == name_start {
            return Err(HeaderError::BadParams);
        }
        let name = &s[name_start..i];
        while i < bytes.len() && is_ows(bytes[i]) {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            return Err(HeaderError::BadParams);
        }
        i += 1;
        while i < bytes.len() && is_ows(bytes[i]) {
            i += 1;
        }
        let value = if i < bytes.len() && bytes[i] == b'"' {
            let (value, next) = parse_quoted(s, i)?;
            i = next;
            value
        } else {
            let start = i;
            while i < bytes.len() && is_tchar(bytes[i]) {
                i += 1;
            }
            if i == start {
                return Err(HeaderError::BadParams);
            }
            Cow::Borrowed(&s[start..i])
        };
        if items.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Err(HeaderError::DuplicateParam);
        }
        if items.len() == MAX_PARAMS {
            return Err(HeaderError::TooManyParams);
        }
        items.push((name, value));
        while i < bytes.len() && is_ows(bytes[i]) {
            i += 1;
        }
        if i < bytes.len() && bytes[i] != b',' {
            return Err(HeaderError::BadParams);
        }
    }
    Ok(Params { items })
}

/// Parses the quoted-string starting at `s[start] == '"'`; returns the unescaped value and the
/// index after the closing quote.
pub(crate) fn parse_quoted(s: &str, start: usize) -> Result<(Cow<'_, str>, usize), HeaderError> {
    let bytes = s.as_bytes();
    let mut i = start + 1;
    let mut owned: Option<String> = None;
    let mut run_start = i;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let value = match owned {
                    None => Cow::Borrowed(&s[run_start..i]),
                    Some(mut o) => {
                        o.push_str(&s[run_start..i]);
                        Cow::Owned(o)
                    }
                };
                return Ok((value, i + 1));
            }
            b'\\' => {
                let o = owned.get_or_insert_with(String::new);
                o.push_str(&s[run_start..i]);
                i += 1;
                // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ): the next character,
                // which may be multi-byte UTF-8.
                let ch = s
                    .get(i..)
                    .and_then(|t| t.chars().next())
                    .ok_or(HeaderError::BadParams)?;
                if ch.is_control() && ch != '\t' {
                    return Err(HeaderError::BadParams);
                }
                o.push(ch);
                i += ch.len_utf8();
                run_start = i;
            }
            b if (b < 0x20 && b != b'\t') || b == 0x7f => return Err(HeaderError::BadParams),
            // C1 controls (U+0080..U+009F, UTF-8 C2 80..C2 9F), refused like the others.
            0xc2 if bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)) => {
                return Err(HeaderError::BadParams)
            }
            _ => i += 1,
        }
    }
    Err(HeaderError::BadParams)
}

/// Renders `value` as an RFC 9110 quoted-string, escaping only `"` and `\`.
///
/// Refuses control characters (other than HTAB), which is what keeps a realm or an
/// `error_description` from injecting header lines.
pub fn quote(value: &str) -> Result<String, HeaderError> {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for ch in value.chars() {
        if ch.is_control() && ch != '\t' {
            return Err(HeaderError::BadParams);
        }
        if ch == '"' || ch == '\\' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params(s: &str) -> Params<'_> {
        match parse(s.as_bytes()).unwrap().into_payload() {
            Payload::Params(p) => p,
            other => panic!("not params: {other:?}"),
        }
    }

    #[test]
    fn token68_and_scheme_case() {
        let c = parse(b"bAsIc  dXNlcjpwYXNz==  ").unwrap();
        assert!(c.scheme_is("Basic"));
        assert_eq!(c.scheme(), "bAsIc");
        assert_eq!(c.payload(), &Payload::Token68("dXNlcjpwYXNz=="));
    }

    #[test]
    fn empty_payloads() {
        assert_eq!(parse(b"Basic").unwrap().payload(), &Payload::Empty);
        assert_eq!(parse(b"Basic    ").unwrap().payload(), &Payload::Empty);
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(b""), Err(HeaderError::BadScheme));
        assert_eq!(parse(b"  "), Err(HeaderError::BadScheme));
        assert_eq!(parse(b"=abc"), Err(HeaderError::BadScheme));
        assert_eq!(parse(b"Basic\tabc"), Err(HeaderError::BadSeparator));
        assert_eq!(parse(b"Basic:abc"), Err(HeaderError::BadSeparator));
        assert_eq!(parse(b"Basic \xff\xfe"), Err(HeaderError::NotUtf8));
        assert_eq!(
            parse(&[b'a'; MAX_CREDENTIALS_LEN + 1]),
            Err(HeaderError::TooLong)
        );
        assert_eq!(parse(b"Bearer a b"), Err(HeaderError::BadParams));
        assert_eq!(parse(b"Bearer a=b=c"), Err(HeaderError::BadParams));
        assert_eq!(parse(b"Digest a, b=1"), Err(HeaderError::BadParams));
        assert!(matches!(
            parse(b"Digest a").unwrap().payload(),
            Payload::Token68("a")
        ));
        assert_eq!(parse(b"Digest a=, b=1"), Err(HeaderError::BadParams));
        assert_eq!(
            parse(b"Digest a=\"unterminated"),
            Err(HeaderError::BadParams)
        );
        assert_eq!(parse(b"Digest a=\"x\\"), Err(HeaderError::BadParams));
        assert_eq!(parse(b"Digest a=\"x\ny\""), Err(HeaderError::BadParams));
        assert_eq!(parse(b"Digest a=b c=d"), Err(HeaderError::BadParams));
        assert_eq!(parse(b"Digest a=1, a=2"), Err(HeaderError::DuplicateParam));
        assert_eq!(
            parse(b"Digest Realm=1, rEALM=2"),
            Err(HeaderError::DuplicateParam)
        );
        let many: String = (0..=MAX_PARAMS).map(|i| format!("p{i}=v,")).collect();
        assert_eq!(
            parse(format!("Digest {many}").as_bytes()),
            Err(HeaderError::TooManyParams)
        );
    }

    #[test]
    fn params_forms() {
        let p = params(r#"Digest username="Mufasa", realm=x ,, qop = auth , nc=00000001,"#);
        assert_eq!(p.get("username"), Some("Mufasa"));
        assert_eq!(p.get("REALM"), Some("x"));
        assert_eq!(p.get("qop"), Some("auth"));
        assert_eq!(p.get("nc"), Some("00000001"));
        assert_eq!(p.len(), 4);
        let p = params(r#"Digest a="x\"y\\z", b="", c="olá""#);
        assert_eq!(p.get("a"), Some(r#"x"y\z"#));
        assert_eq!(p.get("b"), Some(""));
        assert_eq!(p.get("c"), Some("olá"));
    }

    #[test]
    fn debug_redacts_values() {
        let c = parse(b"Bearer secret-token").unwrap();
        assert!(!format!("{c:?}").contains("secret"));
        let c = parse(br#"Digest response="secret""#).unwrap();
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn quoting() {
        assert_eq!(quote(r#"a"b\c"#).unwrap(), r#""a\"b\\c""#);
        assert!(quote("a\r\nSet-Cookie: x").is_err());
        assert!(quote("a\u{7f}").is_err());
        assert_eq!(quote("tab\there").unwrap(), "\"tab\there\"");
    }

    #[test]
    fn scheme_words() {
        assert_eq!(scheme_word(b"  Basic abc"), b"Basic");
        assert_eq!(
            scheme_word(b"token-without-scheme"),
            b"token-without-scheme"
        );
        assert_eq!(scheme_word(b""), b"");
    }

    proptest! {
        #[test]
        fn parse_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn parse_is_total_on_grammar_like_input(s in r#"[A-Za-z]{1,8}( {1,3}([a-z]{1,4} ?= ?("([^"\\]|\\.){0,6}"|[a-z0-9]{0,4}) ?,? ?){0,5})?"#) {
            let _ = parse(s.as_bytes());
        }

        #[test]
        fn quote_roundtrips(value in "[ -~\t\u{a1}-\u{17f}]{0,40}") {
            let header = format!("X k={}", quote(&value).unwrap());
            let creds = parse(header.as_bytes()).unwrap();
            let Payload::Params(p) = creds.payload() else { panic!("not params") };
            prop_assert_eq!(p.get("k"), Some(value.as_str()));
        }

        #[test]
        fn token68_after_agrees_with_parse(
            value in r#"[ \t]?(Basic|basic|BEARER|Bearer|Digest)?[ \t]{0,2}[A-Za-z0-9._~+/=", -]{0,12}[ \t]?"#,
        ) {
            for scheme in ["Basic", "Bearer"] {
                if let Some(token) = token68_after(value.as_bytes(), scheme.as_bytes()) {
                    let creds = parse(value.as_bytes()).unwrap();
                    prop_assert!(creds.scheme_is(scheme));
                    prop_assert_eq!(
                        creds.payload(),
                        &Payload::Token68(std::str::from_utf8(token).unwrap())
                    );
                }
            }
        }

        #[test]
        fn token68_check_agrees_with_its_definition(bytes in proptest::collection::vec(
            prop_oneof![Just(b'='), Just(b'a'), Just(b'-'), Just(b' '), Just(b'"'), any::<u8>()],
            0..12,
        )) {
            // RFC 9110: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
            let body = bytes.iter().position(|&b| !(b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)));
            let body = body.unwrap_or(bytes.len());
            let expected = body > 0 && bytes[body..].iter().all(|&b| b == b'=');
            prop_assert_eq!(is_token68_bytes(&bytes), expected);
        }

        #[test]
        fn token68_roundtrips(tok in "[A-Za-z0-9._~+/-]{1,40}={0,2}") {
            let header = format!("Bearer {tok}");
            let creds = parse(header.as_bytes()).unwrap();
            prop_assert_eq!(creds.payload(), &Payload::Token68(tok.as_str()));
        }
    }
}
