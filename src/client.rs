//! The client address a request is counted under: the peer of the connection, found whatever
//! the stack ([`RequestHead::peer_addr`](crate::scheme::RequestHead::peer_addr)), or behind
//! trusted reverse proxies the nearest hop of their forwarding header that is not one of them.
//!
//! - **The peer**: axum's `ConnectInfo<SocketAddr>` (`into_make_service_with_connect_info`), a
//!   `SocketAddr` or an `IpAddr` in the request extensions (what a hyper server inserts),
//!   actix's peer address, or a function the application gives
//!   ([`Throttle::client_addr_fn`](crate::Throttle::client_addr_fn): tonic's
//!   `TcpConnectInfo`, or anything else in the extensions). When the throttle limits failures
//!   per address and no address is found, one warning says so (per throttle).
//! - **Trusted proxies** are ranges ([`IpRange`]: `10.0.0.0/8`, `2001:db8::/32`, or single
//!   addresses), [`Throttle::trusted_proxy_ranges`](crate::Throttle::trusted_proxy_ranges).
//!   Only when the peer is in one is a forwarding header read at all: otherwise the header is
//!   the client's to forge.
//! - **One header**, the one the proxies write ([`ProxyHeader`]: `X-Forwarded-For` by default,
//!   or RFC 7239 `Forwarded`): a proxy appends to the header it knows and passes the other on
//!   as the client wrote it, so reading both would let the client choose its address.
//! - **The walk**: the header's lines are one list (RFC 9110 §5.3), read from the right, the
//!   side the proxies wrote; trusted hops are skipped, and the first untrusted one is the
//!   client. A hop that gives no address (garbage, `unknown`, an obfuscated identifier, a
//!   `Forwarded` element without `for`) ends the walk at the nearest proxy: what lies to its
//!   left is the client's to choose. No header: the peer (the proxy) itself.
//! - **`Connection`** cannot change this: a forwarding header named in the request's
//!   `Connection` header is read like any other (the trusted proxy wrote its part of it; a
//!   server that dropped it would charge the client's attempts to the proxy).
//!
//! ```
//! use httpauth::{BasicAuth, Throttle};
//! use axum::{routing::get, Router};
//! # use tower::ServiceExt;
//!
//! let auth = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then_some(()));
//! let throttle = Throttle::new()
//!     .max_failures_per_addr(1)
//!     .trusted_proxy_ranges(["10.0.0.0/8".parse().unwrap()]);
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hi" }))
//!     .route_layer(auth.login_required().throttle(throttle));
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // A request from the proxy 10.1.2.3 (a hyper server puts the peer in the extensions).
//! let req = |creds: &str, forwarded_for: &str| {
//!     let mut req = http::Request::get("/")
//!         .header("authorization", creds)
//!         .header("x-forwarded-for", forwarded_for)
//!         .body(axum::body::Body::empty())
//!         .unwrap();
//!     req.extensions_mut().insert(std::net::SocketAddr::from(([10, 1, 2, 3], 40000)));
//!     req
//! };
//! let wrong = "Basic am9objpub3Bl"; // john:nope
//! let right = "Basic am9objpoZWxsbw=="; // john:hello
//! assert_eq!(app.clone().oneshot(req(wrong, "203.0.113.9")).await.unwrap().status(), 401);
//! // 203.0.113.9 is over its limit, even behind a client-written hop on its left ...
//! let res = app.clone().oneshot(req(right, "192.0.2.1, 203.0.113.9")).await.unwrap();
//! assert_eq!(res.status(), 429);
//! // ... and another client behind the same proxy is not.
//! assert_eq!(app.oneshot(req(right, "203.0.113.10")).await.unwrap().status(), 200);
//! # });
//! ```

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::ConfigError;
use crate::scheme::AuthRequest;

/// A range of addresses in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`); a single address is
/// a range of one. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, what a dual-stack listener
/// sees) match the IPv4 ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpRange {
    addr: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// The range of `prefix` leading bits of `addr` (the other bits are cleared); `None` when
    /// `prefix` is longer than the address (32 for IPv4, 128 for IPv6).
    #[must_use]
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let addr = addr.to_canonical();
        let addr = match addr {
            IpAddr::V4(v4) if prefix <= 32 => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4((u32::from(v4) & mask).into())
            }
            IpAddr::V6(v6) if prefix <= 128 => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
            _ => return None,
        };
        Some(Self { addr, prefix })
    }

    /// The first address of the range.
    #[must_use]
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The number of leading bits that are fixed.
    #[must_use]
    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in the range.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        Self::new(ip.to_canonical(), self.prefix).is_some_and(|r| r.addr == self.addr)
    }
}

impl From<IpAddr> for IpRange {
    fn from(addr: IpAddr) -> Self {
        let addr = addr.to_canonical();
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        Self { addr, prefix }
    }
}

impl FromStr for IpRange {
    type Err = ConfigError;

    /// `ADDRESS` or `ADDRESS/PREFIX` (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`).
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let invalid = |reason| ConfigError::Invalid {
            setting: "trusted proxy range",
            reason,
        };
        let (addr, prefix) = match s.split_once('/') {
            None => (s, None),
            Some((addr, prefix)) => (addr, Some(prefix)),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| invalid("not an IPv4 or IPv6 address"))?;
        match prefix {
            None => Ok(Self::from(addr)),
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|_| p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| Self::new(addr, p))
                .ok_or(invalid(
                    "the prefix length is not a number within the address",
                )),
        }
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The forwarding header the trusted proxies write (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, cloud load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for="[2001:db8::1]:4711"` (its `for` parameters).
    Forwarded,
}

impl ProxyHeader {
    fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }
}

/// A function that finds the peer address in the request extensions.
type PeerFn = dyn Fn(&http::Extensions) -> Option<IpAddr> + Send + Sync;

/// How a throttle finds the client address: its trusted proxies, their header, the
/// application's peer function. Clones share the one-warning flag.
#[derive(Clone, Default)]
pub(crate) struct Resolver {
    proxies: Arc<[IpRange]>,
    header: ProxyHeader,
    peer_fn: Option<Arc<PeerFn>>,
    warned: Arc<AtomicBool>,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("trusted_proxies", &self.proxies)
            .field("header", &self.header)
            .field("peer_fn", &self.peer_fn.is_some())
            .finish()
    }
}

impl Resolver {
    pub(crate) fn set_proxies(&mut self, proxies: impl IntoIterator<Item = IpRange>) {
        self.proxies = proxies.into_iter().collect();
    }

    pub(crate) fn set_header(&mut self, header: ProxyHeader) {
        self.header = header;
    }

    pub(crate) fn set_peer_fn(&mut self, f: Arc<PeerFn>) {
        self.peer_fn = Some(f);
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.proxies.iter().any(|r| r.contains(ip))
    }

    /// The client address of `req` (see the [module docs](self)); when none is found and
    /// `per_addr_limit` is on, one warning per resolver.
    pub(crate) fn client(&self, req: &AuthRequest<'_>, per_addr_limit: bool) -> Option<IpAddr> {
        let peer = self
            .peer_fn
            .as_ref()
            .and_then(|f| req.extensions().and_then(|ext| f(ext)))
            .or_else(|| req.peer_addr());
        let Some(peer) = peer else {
            if per_addr_limit && !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    target: "httpauth",
                    "no client address: failures are not limited per address. Serve with the \
                     peer address (axum: into_make_service_with_connect_info::<SocketAddr>(); \
                     hyper: a SocketAddr in the request extensions; tonic: \
                     Throttle::client_addr_fn), or set max_failures_per_addr(0)"
                );
            }
            return None;
        };
        let peer = peer.to_canonical();
        if self.proxies.is_empty() || !self.trusted(peer) {
            return Some(peer);
        }
        let mut lines = Vec::new();
        req.header_values(self.header.name(), &mut lines);
        Some(self.walk(peer, self.header, &lines))
    }

    /// The nearest untrusted hop of the header's `lines` (one list), from the right.
    fn walk(&self, peer: IpAddr, header: ProxyHeader, lines: &[&[u8]]) -> IpAddr {
        let mut hops = Vec::new();
        for line in lines {
            match header {
                ProxyHeader::XForwardedFor => {
                    hops.extend(split_list(line).into_iter().map(|e| node(trim(e))));
                }
                ProxyHeader::Forwarded => {
                    hops.extend(split_list(line).into_iter().map(forwarded_for));
                }
            }
        }
        let mut nearest = peer;
        for hop in hops.into_iter().rev() {
            match hop {
                Some(ip) if self.trusted(ip) => nearest = ip,
                Some(ip) => return ip,
                None => break,
            }
        }
        nearest
    }
}

fn trim(s: &[u8]) -> &[u8] {
    crate::scheme::header::trim_ows(s)
}

/// The elements of one header line's comma-separated list (commas inside quoted strings do
/// not split); empty elements are dropped (RFC 9110 §5.6.1). Total: an unterminated quote
/// makes the rest of the line one element.
fn split_list(line: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, &b) in line.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if b == b',' && !quoted {
            out.push(&line[start..i]);
            start = i + 1;
        }
    }
    out.push(&line[start..]);
    out.retain(|e| !trim(e).is_empty());
    out
}

/// A node: `IPv4`, `IPv4:port`, `IPv6`, `[IPv6]`, `[IPv6]:port`; `None` for anything else
/// (`unknown`, obfuscated identifiers, garbage).
fn node(s: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(s).ok()?;
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let (host, port) = match s.strip_prefix('[') {
        Some(rest) => {
            let (v6, after) = rest.split_once(']')?;
            let v6 = v6.parse::<std::net::Ipv6Addr>().ok()?;
            return match after {
                "" => Some(IpAddr::V6(v6).to_canonical()),
                _ => after
                    .strip_prefix(':')
                    .filter(|p| is_port(p))
                    .map(|_| IpAddr::V6(v6).to_canonical()),
            };
        }
        None => s.split_once(':')?,
    };
    let v4 = host.parse::<std::net::Ipv4Addr>().ok()?;
    is_port(port).then_some(IpAddr::V4(v4))
}

/// A port, or an RFC 7239 obfuscated port (`_` and letters, digits, `.`, `_`, `-`).
fn is_port(p: &str) -> bool {
    let b = p.as_bytes();
    (b.iter().all(u8::is_ascii_digit) && p.parse::<u16>().is_ok())
        || (b.first() == Some(&b'_')
            && b.len() > 1
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c)))
}

/// The `for` node of one RFC 7239 `forwarded-element` (`pair *( ";" pair )`, values tokens
/// or quoted strings); `None` when it has none, has it twice, or does not parse.
fn forwarded_for(element: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(element).ok()?;
    let bytes = s.as_bytes();
    let mut found = None;
    let mut i = 0;
    loop {
        while bytes
            .get(i)
            .is_some_and(|&b| b == b' ' || b == b'\t' || b == b';')
        {
            i += 1;
        }
        if i >= bytes.len() {
            return found.flatten();
        }
        let name_start = i;
        while bytes
            .get(i)
            .is_some_and(|&b| crate::scheme::header::is_tchar(b))
        {
            i += 1;
        }
        let name = &s[name_start..i];
        if name.is_empty() || bytes.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        let value: std::borrow::Cow<'_, str> = if bytes.get(i) == Some(&b'"') {
            let (value, next) = crate::scheme::header::parse_quoted(s, i).ok()?;
            i = next;
            value
        } else {
            let start = i;
            while bytes
                .get(i)
                .is_some_and(|&b| crate::scheme::header::is_tchar(b) || b == b':')
            {
                i += 1;
            }
            s[start..i].into()
        };
        while bytes.get(i).is_some_and(|&b| b == b' ' || b == b'\t') {
            i += 1;
        }
        if i < bytes.len() && bytes[i] != b';' {
            return None;
        }
        if name.eq_ignore_ascii_case("for") {
            if found.is_some() {
                return None;
            }
            found = Some(node(value.as_bytes()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn resolver(ranges: &[&str], header: ProxyHeader) -> Resolver {
        let mut r = Resolver::default();
        r.set_proxies(ranges.iter().map(|s| s.parse().unwrap()));
        r.set_header(header);
        r
    }

    fn walk(r: &Resolver, peer: &str, lines: &[&str]) -> IpAddr {
        let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
        r.walk(ip(peer), r.header, &lines)
    }

    #[test]
    fn ranges_parse_and_match() {
        let r: IpRange = "10.0.0.0/8".parse().unwrap();
        assert!(r.contains(ip("10.255.0.1")));
        assert!(r.contains(ip("::ffff:10.1.2.3")));
        assert!(!r.contains(ip("11.0.0.1")));
        assert_eq!("10.1.2.3/8".parse::<IpRange>().unwrap(), r);
        assert_eq!(r.to_string(), "10.0.0.0/8");
        let v6: IpRange = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!("0.0.0.0/0"
            .parse::<IpRange>()
            .unwrap()
            .contains(ip("192.0.2.1")));
        assert!("::/0"
            .parse::<IpRange>()
            .unwrap()
            .contains(ip("2001:db8::1")));
        assert_eq!("192.0.2.7".parse::<IpRange>().unwrap().prefix_len(), 32);
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "x/8",
            "",
            "10.0.0.0/8/8",
        ] {
            assert!(bad.parse::<IpRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client() {
        let r = resolver(&["10.0.0.0/8"], ProxyHeader::XForwardedFor);
        let client = "192.0.2.7";
        assert_eq!(
            walk(&r, "10.0.0.1", &["203.0.113.9, 192.0.2.7, 10.0.0.2"]),
            ip(client)
        );
        // Several lines are one list.
        assert_eq!(
            walk(&r, "10.0.0.1", &["203.0.113.9", "192.0.2.7, 10.0.0.2"]),
            ip(client)
        );
        // Ports and brackets.
        assert_eq!(walk(&r, "10.0.0.1", &["192.0.2.7:443"]), ip(client));
        assert_eq!(
            walk(&r, "10.0.0.1", &["[2001:db8::1]:443"]),
            ip("2001:db8::1")
        );
        // A hop that gives no address ends the walk at the nearest proxy.
        assert_eq!(
            walk(&r, "10.0.0.1", &["203.0.113.9, nonsense, 10.0.0.2"]),
            ip("10.0.0.2")
        );
        assert_eq!(
            walk(&r, "10.0.0.1", &["198.51.100.1, 192.0.2.7:99999"]),
            ip("10.0.0.1")
        );
        assert_eq!(walk(&r, "10.0.0.1", &[]), ip("10.0.0.1"));
        assert_eq!(walk(&r, "10.0.0.1", &["\u{ff}"]), ip("10.0.0.1"));
        // Only proxies: the nearest the walk reached.
        assert_eq!(
            walk(&r, "10.0.0.1", &["10.0.0.3, 10.0.0.2"]),
            ip("10.0.0.3")
        );
    }

    #[test]
    fn forwarded_for_parameters() {
        let r = resolver(&["10.0.0.0/8"], ProxyHeader::Forwarded);
        assert_eq!(
            walk(
                &r,
                "10.0.0.1",
                &["for=192.0.2.60;proto=http;by=203.0.113.43"]
            ),
            ip("192.0.2.60")
        );
        assert_eq!(
            walk(
                &r,
                "10.0.0.1",
                &[r#"for=198.51.100.1, For="[2001:db8:cafe::17]:4711""#]
            ),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            walk(
                &r,
                "10.0.0.1",
                &["for=192.0.2.7", r#"for="10.0.0.9:80";by="x,y""#]
            ),
            ip("192.0.2.7")
        );
        // unknown, obfuscated, no `for`, `for` twice, bad syntax: the nearest proxy.
        for bad in [
            "for=unknown",
            "for=_hidden",
            "proto=https",
            "for=192.0.2.1;for=192.0.2.2",
            "for=\"192.0.2.1",
            "for 192.0.2.1",
            "for=192.0.2.1 x",
        ] {
            assert_eq!(
                walk(&r, "10.0.0.1", &["198.51.100.1", bad]),
                ip("10.0.0.1"),
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn parsers_are_total(line in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = split_list(&line);
            let _ = forwarded_for(&line);
            let _ = node(&line);
            let r = resolver(&["10.0.0.0/8", "2001:db8::/32"], ProxyHeader::Forwarded);
            let _ = r.walk(ip("10.0.0.1"), ProxyHeader::Forwarded, &[&line]);
            let _ = r.walk(ip("10.0.0.1"), ProxyHeader::XForwardedFor, &[&line, &line]);
        }

        #[test]
        fn the_answer_is_a_written_hop_or_the_peer(
            hops in proptest::collection::vec(
                prop_oneof![
                    Just("10.0.0.2".to_owned()),
                    Just("garbage".to_owned()),
                    any::<[u8; 4]>().prop_map(|b| std::net::Ipv4Addr::from(b).to_string()),
                ],
                0..8,
            ),
            left in "[0-9a-f.:, ]{0,20}",
        ) {
            let r = resolver(&["10.0.0.0/8"], ProxyHeader::XForwardedFor);
            let line = format!("{left}, {}", hops.join(", "));
            let got = walk(&r, "10.0.0.1", &[&line]);
            // Whatever the client wrote on the left, the answer is an untrusted hop that
            // only trusted hops follow, or a trusted address (the nearest proxy).
            let trailing: Vec<&String> = hops.iter().rev().take_while(|h| h.parse::<IpAddr>().is_ok()).collect();
            let expected = trailing
                .iter()
                .map(|h| ip(h))
                .find(|h| !r.trusted(*h));
            match expected {
                Some(client) => prop_assert_eq!(got, client),
                None if trailing.len() < hops.len() => prop_assert!(r.trusted(got)),
                None => {}
            }
        }
    }
}
