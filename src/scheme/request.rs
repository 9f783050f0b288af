//! The request head as the core reads it: [`RequestHead`] (implemented by each adapter
//! directly over its framework's own types, so no adapter copies the head) and
//! [`AuthRequest`] (the head, its `Authorization` value looked up once, and a body a scheme
//! asked for).

use std::fmt;

use bytes::Bytes;

/// What the core reads of a request: the method, the target and header lookups. Implemented
/// for `http::Request<B>` (the tower adapter's path) and `http::request::Parts`, and by the
/// actix adapter for actix-web's `ServiceRequest`, over actix's own (`http` 0.2) types.
/// Nothing is copied per request.
pub trait RequestHead {
    /// The request method (`GET`, `OPTIONS`, ...).
    fn method(&self) -> &str;

    /// The request target as the client sent it, in origin form (`/path?query`; `/` when
    /// empty). Routers that strip a prefix (axum's `nest`) must answer with the original.
    fn target(&self) -> &str;

    /// The authority of an absolute-form request target, when the client sent one.
    fn authority(&self) -> Option<&str>;

    /// The value of the header `name` (lowercase), and whether it was sent more than once.
    fn header(&self, name: &str) -> HeaderLookup<'_>;

    /// The `Authorization` header (override to look it up by a pre-parsed name).
    fn authorization(&self) -> HeaderLookup<'_> {
        self.header("authorization")
    }

    /// The address of the peer that sent the request, when the framework knows it (axum:
    /// `ConnectInfo<SocketAddr>`, from `into_make_service_with_connect_info`; a `SocketAddr`
    /// or `IpAddr` in the extensions; actix: the peer address). Used by the throttle and in
    /// refusal events.
    fn peer_addr(&self) -> Option<std::net::IpAddr> {
        None
    }

    /// Every value of the header `name` (lowercase), in order, appended to `out` (a list
    /// header sent on several lines is one list). The default reads a header sent once;
    /// override it to read repeated ones.
    fn header_values<'a>(&'a self, name: &str, out: &mut Vec<&'a [u8]>) {
        out.extend(self.header(name).one());
    }

    /// The request extensions, for a stack that is built on `http` (where an application's
    /// [peer function](crate::Throttle::client_addr_fn) looks). Default: `None`.
    fn extensions(&self) -> Option<&http::Extensions> {
        None
    }
}

/// The answer of [`RequestHead::header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderLookup<'a> {
    /// Not sent.
    Absent,
    /// Sent once, with these bytes.
    One(&'a [u8]),
    /// Sent more than once (an ambiguous request for credentials).
    Several,
}

impl<'a> HeaderLookup<'a> {
    /// From an iterator over every value of a header.
    pub fn from_values<I: IntoIterator<Item = &'a [u8]>>(values: I) -> Self {
        let mut values = values.into_iter();
        match (values.next(), values.next()) {
            (None, _) => Self::Absent,
            (Some(value), None) => Self::One(value),
            (Some(_), Some(_)) => Self::Several,
        }
    }

    /// The value, when sent exactly once.
    #[must_use]
    #[inline]
    pub fn one(self) -> Option<&'a [u8]> {
        match self {
            Self::One(value) => Some(value),
            Self::Absent | Self::Several => None,
        }
    }
}

/// The request target of an `http` request, as the client sent it: axum's `OriginalUri` when a
/// router rewrote the URI (`Router::nest`).
fn http_target<'a>(uri: &'a http::Uri, extensions: &'a http::Extensions) -> &'a str {
    #[cfg(feature = "axum")]
    let uri = extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(uri, |original| &original.0);
    #[cfg(not(feature = "axum"))]
    let _ = extensions;
    match uri.path_and_query() {
        Some(pq) if !pq.as_str().is_empty() => pq.as_str(),
        _ => "/",
    }
}

/// The peer address axum recorded (`into_make_service_with_connect_info::<SocketAddr>()`), or
/// the `SocketAddr` or `IpAddr` a hyper server put in the extensions.
fn http_peer(extensions: &http::Extensions) -> Option<std::net::IpAddr> {
    #[cfg(feature = "axum")]
    if let Some(info) = extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>() {
        return Some(info.0.ip());
    }
    extensions
        .get::<std::net::SocketAddr>()
        .map(std::net::SocketAddr::ip)
        .or_else(|| extensions.get::<std::net::IpAddr>().copied())
}

fn http_header_values<'a>(headers: &'a http::HeaderMap, name: &str, out: &mut Vec<&'a [u8]>) {
    out.extend(
        headers
            .get_all(name)
            .iter()
            .map(http::HeaderValue::as_bytes),
    );
}

fn http_header<'a, K: http::header::AsHeaderName>(
    headers: &'a http::HeaderMap,
    name: K,
) -> HeaderLookup<'a> {
    HeaderLookup::from_values(headers.get_all(name).iter().map(|v| v.as_bytes()))
}

impl RequestHead for http::request::Parts {
    fn method(&self) -> &str {
        self.method.as_str()
    }

    fn target(&self) -> &str {
        http_target(&self.uri, &self.extensions)
    }

    fn authority(&self) -> Option<&str> {
        self.uri.authority().map(http::uri::Authority::as_str)
    }

    fn header(&self, name: &str) -> HeaderLookup<'_> {
        http_header(&self.headers, name)
    }

    fn authorization(&self) -> HeaderLookup<'_> {
        http_header(&self.headers, http::header::AUTHORIZATION)
    }

    fn peer_addr(&self) -> Option<std::net::IpAddr> {
        http_peer(&self.extensions)
    }

    fn header_values<'a>(&'a self, name: &str, out: &mut Vec<&'a [u8]>) {
        http_header_values(&self.headers, name, out);
    }

    fn extensions(&self) -> Option<&http::Extensions> {
        Some(&self.extensions)
    }
}

impl<B> RequestHead for http::Request<B> {
    fn method(&self) -> &str {
        self.method().as_str()
    }

    fn target(&self) -> &str {
        http_target(self.uri(), self.extensions())
    }

    fn authority(&self) -> Option<&str> {
        self.uri().authority().map(http::uri::Authority::as_str)
    }

    fn header(&self, name: &str) -> HeaderLookup<'_> {
        http_header(self.headers(), name)
    }

    fn authorization(&self) -> HeaderLookup<'_> {
        http_header(self.headers(), http::header::AUTHORIZATION)
    }

    fn peer_addr(&self) -> Option<std::net::IpAddr> {
        http_peer(self.extensions())
    }

    fn header_values<'a>(&'a self, name: &str, out: &mut Vec<&'a [u8]>) {
        http_header_values(self.headers(), name, out);
    }

    fn extensions(&self) -> Option<&http::Extensions> {
        Some(self.extensions())
    }
}

/// A request as a [`Scheme`](crate::scheme::Scheme) sees it: the head, the `Authorization`
/// value looked up once for every scheme of the route, and the body when the handling scheme
/// asked for it ([`Scheme::body_limit`](crate::scheme::Scheme::body_limit)). Opaque: read it
/// through its methods.
#[derive(Clone, Copy)]
pub struct AuthRequest<'a> {
    head: &'a dyn RequestHead,
    authorization: HeaderLookup<'a>,
    body: Option<&'a Bytes>,
}

impl<'a> AuthRequest<'a> {
    /// The request of a head (any adapter's [`RequestHead`]).
    #[must_use]
    #[inline]
    pub fn new(head: &'a dyn RequestHead) -> Self {
        Self {
            authorization: head.authorization(),
            head,
            body: None,
        }
    }

    /// The same request with its buffered body.
    #[must_use]
    pub fn with_body(mut self, body: Option<&'a Bytes>) -> Self {
        self.body = body;
        self
    }

    /// The request method.
    #[must_use]
    pub fn method(&self) -> &'a str {
        self.head.method()
    }

    /// Whether this is an `OPTIONS` request.
    #[must_use]
    #[inline]
    pub fn is_options(&self) -> bool {
        self.head.method() == "OPTIONS"
    }

    /// The request target as the client sent it (origin form; see
    /// [`RequestHead::target`]).
    #[must_use]
    pub fn target(&self) -> &'a str {
        self.head.target()
    }

    /// The authority of the request: an absolute-form target's, else the `Host` header.
    #[must_use]
    pub fn authority(&self) -> Option<&'a str> {
        self.head.authority().or_else(|| {
            self.head
                .header("host")
                .one()
                .and_then(|v| std::str::from_utf8(v).ok())
        })
    }

    /// A header's value (name in lowercase).
    #[must_use]
    #[inline]
    pub fn header(&self, name: &str) -> HeaderLookup<'a> {
        if name == "authorization" {
            return self.authorization;
        }
        self.head.header(name)
    }

    /// The `Authorization` value, when sent exactly once.
    #[must_use]
    #[inline]
    pub fn authorization(&self) -> Option<&'a [u8]> {
        self.authorization.one()
    }

    /// Whether the request carries more than one `Authorization` header (answered 400 before
    /// any scheme runs).
    #[must_use]
    #[inline]
    pub fn has_several_authorizations(&self) -> bool {
        matches!(self.authorization, HeaderLookup::Several)
    }

    /// The scheme word of the `Authorization` value, without parsing the rest.
    #[must_use]
    pub fn authorization_scheme(&self) -> Option<&'a [u8]> {
        self.authorization().map(crate::scheme::header::scheme_word)
    }

    /// Whether the scheme word of the `Authorization` value is `name`, ignoring ASCII case
    /// (what [`claims`](crate::scheme::Scheme::claims) usually asks): the same answer as
    /// comparing [`authorization_scheme`](Self::authorization_scheme), without looking past
    /// the word in the form clients send.
    #[must_use]
    #[inline]
    pub fn authorization_scheme_is(&self, name: &str) -> bool {
        use crate::scheme::header::{same_scheme, scheme_word};
        let Some(value) = self.authorization() else {
            return false;
        };
        let name = name.as_bytes();
        match (value.get(..name.len()), value.get(name.len())) {
            // `<name>` or `<name> ...`, nothing before it: the word is exactly these bytes.
            (Some(word), None | Some(b' ')) if !matches!(value.first(), Some(b' ' | b'\t')) => {
                same_scheme(word, name)
            }
            _ => same_scheme(scheme_word(value), name),
        }
    }

    /// The address of the peer (see [`RequestHead::peer_addr`]).
    #[must_use]
    pub fn peer_addr(&self) -> Option<std::net::IpAddr> {
        self.head.peer_addr()
    }

    /// Every value of a header, in order (see [`RequestHead::header_values`]).
    pub fn header_values(&self, name: &str, out: &mut Vec<&'a [u8]>) {
        self.head.header_values(name, out);
    }

    /// The request extensions (see [`RequestHead::extensions`]).
    #[must_use]
    pub fn extensions(&self) -> Option<&'a http::Extensions> {
        self.head.extensions()
    }

    /// The buffered body (only when the handling scheme asked for it).
    #[must_use]
    #[inline]
    pub fn body(&self) -> Option<&'a Bytes> {
        self.body
    }
}

impl fmt::Debug for AuthRequest<'_> {
    /// Never the credentials: the method, the target's path, and whether `Authorization` is
    /// there.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = self.target();
        f.debug_struct("AuthRequest")
            .field("method", &self.method())
            .field("path", &target.split('?').next().unwrap_or(target))
            .field(
                "authorization",
                &match self.authorization {
                    HeaderLookup::Absent => "absent",
                    HeaderLookup::One(_) => "present",
                    HeaderLookup::Several => "several",
                },
            )
            .field("body", &self.body.map(Bytes::len))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn scheme_is_agrees_with_the_scheme_word(
            value in r#"[ \t]{0,2}(Basic|basic|Bearer|BEARER|Bear|Digest)[ \t]{0,2}[a-z= ]{0,6}"#,
        ) {
            let req = http::Request::get("/").header("authorization", value.as_str()).body(()).unwrap();
            let req = AuthRequest::new(&req);
            for name in ["Basic", "Bearer", "Digest", "B"] {
                let expected = req
                    .authorization_scheme()
                    .is_some_and(|word| word.eq_ignore_ascii_case(name.as_bytes()));
                prop_assert_eq!(req.authorization_scheme_is(name), expected, "{:?} {}", value, name);
            }
        }
    }
}
