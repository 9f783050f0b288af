//! The RFC 7616 §6.1 algorithms, the `H` function of each, and [`generate_ha1`].
//!
//! ```
//! use httpauth::digest::{generate_ha1, Algorithm};
//!
//! // Flask-HTTPAuth's `generate_ha1('john', 'bye')` with the default realm:
//! assert_eq!(
//!     generate_ha1(Algorithm::Md5, "john", "Authentication Required", "bye"),
//!     "437b14a7fd1620c6d686c1888e5cb312"
//! );
//! assert_eq!("sha-256".parse::<Algorithm>(), Ok(Algorithm::Sha256));
//! assert_eq!(Algorithm::Sha512_256Sess.to_string(), "SHA-512-256-sess");
//! ```

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use sha2::digest::Digest as _;
use sha2::{Sha256, Sha512_256};

/// A Digest algorithm of the IANA registry (RFC 7616 §6.1).
///
/// SHA-256 is the one RFC 7616 makes mandatory and the one to choose; MD5 is kept for old
/// clients (and is this crate's default, as in Flask-HTTPAuth). `SHA-512-256` is the real FIPS
/// 180-4 SHA-512/256 (its own initial values), not SHA-512 cut to 256 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// `MD5` (RFC 2617; NOT RECOMMENDED by RFC 7616, kept for compatibility).
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`, the recommended choice.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256` (FIPS 180-4 SHA-512/256).
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

/// Every algorithm, in RFC 7616 order.
pub(crate) const ALL: [Algorithm; 6] = [
    Algorithm::Md5,
    Algorithm::Md5Sess,
    Algorithm::Sha256,
    Algorithm::Sha256Sess,
    Algorithm::Sha512_256,
    Algorithm::Sha512_256Sess,
];

/// The hash function behind an algorithm (a `-sess` variant uses the same one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum HashFn {
    Md5,
    Sha256,
    Sha512_256,
}

impl Algorithm {
    /// The name as sent on the wire (`MD5`, `MD5-sess`, `SHA-256`, ...).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
            Self::Sha512_256 => "SHA-512-256",
            Self::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// Parses a name, ignoring ASCII case (`md5-sess`, `SHA-256`, ...).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        ALL.into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// Whether this is a `-sess` variant (HA1 also covers the nonce and cnonce).
    #[must_use]
    pub const fn is_session(self) -> bool {
        matches!(
            self,
            Self::Md5Sess | Self::Sha256Sess | Self::Sha512_256Sess
        )
    }

    /// The length of this algorithm's lowercase-hex output: 32 for MD5, 64 otherwise.
    #[must_use]
    pub const fn hex_len(self) -> usize {
        match self.hash_fn() {
            HashFn::Md5 => 32,
            HashFn::Sha256 | HashFn::Sha512_256 => 64,
        }
    }

    pub(crate) const fn hash_fn(self) -> HashFn {
        match self {
            Self::Md5 | Self::Md5Sess => HashFn::Md5,
            Self::Sha256 | Self::Sha256Sess => HashFn::Sha256,
            Self::Sha512_256 | Self::Sha512_256Sess => HashFn::Sha512_256,
        }
    }

    /// `H(part1 ":" part2 ":" ...)` as lowercase hex (RFC 7616 §3.4: `KD` and `H` are both
    /// this with the parts joined by colons).
    #[must_use]
    pub fn hash(self, parts: &[&[u8]]) -> Hex {
        let mut h = Hasher::new(self.hash_fn());
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                h.update(b":");
            }
            h.update(part);
        }
        h.finish()
    }

    /// The `username` a client sends with `userhash=true` (RFC 7616 §3.4.4):
    /// `H(username ":" realm)`.
    #[must_use]
    pub fn userhash(self, username: &str, realm: &str) -> String {
        self.hash(&[username.as_bytes(), realm.as_bytes()])
            .as_str()
            .to_owned()
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing an unknown algorithm name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownAlgorithm;

impl fmt::Display for UnknownAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown Digest algorithm (expected MD5, MD5-sess, SHA-256, SHA-256-sess, SHA-512-256 or SHA-512-256-sess)")
    }
}

impl std::error::Error for UnknownAlgorithm {}

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or(UnknownAlgorithm)
    }
}

/// `HA1 = H(username ":" realm ":" password)` as lowercase hex: what to store instead of the
/// password for [`DigestAuth::use_ha1`](crate::digest::DigestAuth::use_ha1) (Flask-HTTPAuth's
/// `generate_ha1`, for any algorithm; a `-sess` algorithm stores the same HA1 as its base).
#[must_use]
pub fn generate_ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm
        .hash(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()])
        .as_str()
        .to_owned()
}

/// A hash in lowercase hex, on the stack (at most 64 characters).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hex {
    buf: [u8; 64],
    len: u8,
}

impl Hex {
    /// The hex text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// The hex text as bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// Hex text of exactly `len` digits (either case), lowercased.
    pub(crate) fn parse(s: &str, len: usize) -> Option<Self> {
        if s.len() != len || len > 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut buf = [0_u8; 64];
        buf[..len].copy_from_slice(s.as_bytes());
        buf[..len].make_ascii_lowercase();
        Some(Self {
            buf,
            len: u8::try_from(len).ok()?,
        })
    }

    /// `len` zeros: the stand-in HA1 of an unknown user.
    pub(crate) fn zero(len: usize) -> Self {
        Self {
            buf: [b'0'; 64],
            len: u8::try_from(len.min(64)).unwrap_or(64),
        }
    }

    fn from_digest(bytes: &[u8]) -> Self {
        let mut buf = [0_u8; 64];
        let len = crate::hex::encode_into(bytes, &mut buf);
        Self {
            buf,
            len: u8::try_from(len).unwrap_or(0),
        }
    }
}

impl fmt::Debug for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A Hex is often a secret (HA1, an expected response): never print it.
        f.write_str("Hex(<redacted>)")
    }
}

/// An incremental `H`.
#[derive(Clone)]
pub(crate) enum Hasher {
    Md5(Md5),
    Sha256(Sha256),
    Sha512_256(Sha512_256),
}

impl Hasher {
    pub(crate) fn new(f: HashFn) -> Self {
        match f {
            HashFn::Md5 => Self::Md5(Md5::new()),
            HashFn::Sha256 => Self::Sha256(Sha256::new()),
            HashFn::Sha512_256 => Self::Sha512_256(Sha512_256::new()),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Self::Md5(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Sha512_256(h) => h.update(data),
        }
    }

    pub(crate) fn finish(self) -> Hex {
        match self {
            Self::Md5(h) => Hex::from_digest(&h.finalize()),
            Self::Sha256(h) => Hex::from_digest(&h.finalize()),
            Self::Sha512_256(h) => Hex::from_digest(&h.finalize()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip() {
        for a in ALL {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
            assert_eq!(Algorithm::from_name(&a.name().to_lowercase()), Some(a));
            assert_eq!(Algorithm::from_name(&a.name().to_uppercase()), Some(a));
        }
        assert_eq!(Algorithm::from_name("MD5-Sess"), Some(Algorithm::Md5Sess));
        assert_eq!(Algorithm::from_name("SHA-512"), None);
        assert_eq!(Algorithm::from_name("SHA"), None);
        assert_eq!("foo".parse::<Algorithm>(), Err(UnknownAlgorithm));
    }

    #[test]
    fn known_digests() {
        // Well-known test vectors of the bare hash functions (FIPS 180-4 examples for "abc").
        assert_eq!(
            Algorithm::Md5.hash(&[b"abc"]).as_str(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            Algorithm::Sha256.hash(&[b"abc"]).as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // SHA-512/256 has its own IV: not the first half of SHA-512("abc") (ddaf35a1...).
        assert_eq!(
            Algorithm::Sha512_256.hash(&[b"abc"]).as_str(),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
        );
        // Parts are joined with colons.
        assert_eq!(
            Algorithm::Md5.hash(&[b"a", b"b"]),
            Algorithm::Md5.hash(&[b"a:b"])
        );
    }

    #[test]
    fn seed_generate_ha1() {
        // Flask-HTTPAuth: generate_ha1('john', 'bye') with the default realm.
        assert_eq!(
            generate_ha1(Algorithm::Md5, "john", "Authentication Required", "bye"),
            "437b14a7fd1620c6d686c1888e5cb312"
        );
    }

    #[test]
    fn hex_is_redacted_in_debug() {
        assert_eq!(
            format!("{:?}", Algorithm::Md5.hash(&[b"x"])),
            "Hex(<redacted>)"
        );
    }
}
