//! Hash formats: recognising a stored hash, parsing it, verifying a password against it, and
//! making new argon2id hashes.
//!
//! This module holds the public API, the limits and the dispatch on the format; each format
//! family parses and verifies in its own file: `phc` (argon2, scrypt, PBKDF2 PHC strings),
//! `bcrypt`, `werkzeug` (Flask), `apache` (`$apr1$`, `{SHA}`), `shacrypt` (`$5$`,
//! `$6$`).

use std::fmt;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, SaltString};

mod apache;
mod bcrypt;
mod phc;
mod shacrypt;
mod werkzeug;

/// The longest password any check accepts, in bytes (OWASP's "long password DoS": the KDF cost
/// of some formats grows with the password's length). Longer passwords never match.
pub const MAX_PASSWORD_LEN: usize = 4096;

/// bcrypt reads at most 72 bytes of a password. Longer passwords are refused by
/// [`check_password_hash`] instead of being truncated, so two passwords that share their first
/// 72 bytes can never both match one bcrypt hash.
pub const BCRYPT_MAX_PASSWORD_LEN: usize = 72;

/// Most memory a stored hash may ask for (argon2 `m`, scrypt `128·r·N`): 1 GiB.
const MAX_MEMORY_BYTES: u64 = 1 << 30;
/// Most argon2 passes.
const MAX_ARGON2_T: u32 = 64;
/// Most PBKDF2 iterations / sha-crypt rounds.
const MAX_ITERATIONS: u32 = 10_000_000;
/// Highest bcrypt cost (Apache's `htpasswd -C` accepts 4 to 17).
const MAX_BCRYPT_COST: u32 = 17;
/// Most scrypt parallelism.
const MAX_SCRYPT_P: u32 = 16;

/// The password-hash formats [`check_password_hash`] understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// PHC `$argon2id$v=19$m=..,t=..,p=..$salt$hash` (what [`generate_password_hash`] writes).
    Argon2id,
    /// PHC `$argon2i$...`.
    Argon2i,
    /// PHC `$argon2d$...`.
    Argon2d,
    /// PHC `$scrypt$ln=..,r=..,p=..$salt$hash`.
    Scrypt,
    /// PHC `$pbkdf2-sha256$i=..,l=..$salt$hash`.
    Pbkdf2Sha256,
    /// PHC `$pbkdf2-sha512$i=..,l=..$salt$hash`.
    Pbkdf2Sha512,
    /// bcrypt `$2a$`, `$2b$`, `$2y$` (`htpasswd -B`).
    Bcrypt,
    /// werkzeug's `pbkdf2:sha256:600000$salt$hex` (also `sha512`, `sha1`).
    WerkzeugPbkdf2,
    /// werkzeug's `scrypt:32768:8:1$salt$hex`.
    WerkzeugScrypt,
    /// Apache's MD5-based `$apr1$salt$hash` (`htpasswd -m`, its default).
    Apr1,
    /// Apache's unsalted `{SHA}base64` (`htpasswd -s`). Weak: for old files only.
    Sha1,
    /// sha-crypt `$5$[rounds=N$]salt$hash` (`htpasswd -2`).
    Sha256Crypt,
    /// sha-crypt `$6$[rounds=N$]salt$hash` (`htpasswd -5`).
    Sha512Crypt,
}

impl HashAlgorithm {
    /// The format of a stored hash, recognised by its prefix; `None` when unknown. The rest of
    /// the string is not checked: see [`validate_hash`] for that.
    #[must_use]
    pub fn detect(hash: &str) -> Option<Self> {
        const PREFIXES: [(&str, HashAlgorithm); 15] = [
            ("$argon2id$", HashAlgorithm::Argon2id),
            ("$argon2i$", HashAlgorithm::Argon2i),
            ("$argon2d$", HashAlgorithm::Argon2d),
            ("$scrypt$", HashAlgorithm::Scrypt),
            ("$pbkdf2-sha256$", HashAlgorithm::Pbkdf2Sha256),
            ("$pbkdf2-sha512$", HashAlgorithm::Pbkdf2Sha512),
            ("$2a$", HashAlgorithm::Bcrypt),
            ("$2b$", HashAlgorithm::Bcrypt),
            ("$2y$", HashAlgorithm::Bcrypt),
            ("pbkdf2:", HashAlgorithm::WerkzeugPbkdf2),
            ("scrypt:", HashAlgorithm::WerkzeugScrypt),
            ("$apr1$", HashAlgorithm::Apr1),
            ("{SHA}", HashAlgorithm::Sha1),
            ("$5$", HashAlgorithm::Sha256Crypt),
            ("$6$", HashAlgorithm::Sha512Crypt),
        ];
        PREFIXES
            .iter()
            .find(|(prefix, _)| hash.starts_with(prefix))
            .map(|&(_, alg)| alg)
    }

    /// A short name (`argon2id`, `bcrypt`, `werkzeug-pbkdf2`, `apr1`, ...).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Argon2id => "argon2id",
            Self::Argon2i => "argon2i",
            Self::Argon2d => "argon2d",
            Self::Scrypt => "scrypt",
            Self::Pbkdf2Sha256 => "pbkdf2-sha256",
            Self::Pbkdf2Sha512 => "pbkdf2-sha512",
            Self::Bcrypt => "bcrypt",
            Self::WerkzeugPbkdf2 => "werkzeug-pbkdf2",
            Self::WerkzeugScrypt => "werkzeug-scrypt",
            Self::Apr1 => "apr1",
            Self::Sha1 => "sha1",
            Self::Sha256Crypt => "sha256-crypt",
            Self::Sha512Crypt => "sha512-crypt",
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a hash could not be made or checked. A check that fails with an error never matches.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashError {
    /// The stored string is not in any format this crate knows.
    UnknownFormat,
    /// The stored string has a known prefix but is not a valid hash of that format.
    Malformed {
        /// The format its prefix names.
        algorithm: HashAlgorithm,
        /// What is wrong.
        reason: &'static str,
    },
    /// The stored hash asks for more work or memory than this crate allows (more than 1 GiB,
    /// more than 10 million iterations, bcrypt cost above 17, argon2 `t` above 64).
    TooExpensive {
        /// The format of the hash.
        algorithm: HashAlgorithm,
    },
    /// The password is longer than the format (bcrypt: 72 bytes) or this crate
    /// ([`MAX_PASSWORD_LEN`]) accepts.
    PasswordTooLong {
        /// The limit, in bytes.
        max: usize,
    },
    /// Hashing parameters that argon2 refuses.
    InvalidParams(&'static str),
}

impl fmt::Display for HashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownFormat => f.write_str("unknown password-hash format"),
            Self::Malformed { algorithm, reason } => {
                write!(f, "malformed {algorithm} hash: {reason}")
            }
            Self::TooExpensive { algorithm } => {
                write!(f, "{algorithm} hash parameters exceed the allowed cost")
            }
            Self::PasswordTooLong { max } => write!(f, "password longer than {max} bytes"),
            Self::InvalidParams(reason) => write!(f, "invalid argon2 parameters: {reason}"),
        }
    }
}

impl std::error::Error for HashError {}

/// argon2id parameters for new hashes. The default is OWASP's (19 MiB, 2 passes, 1 lane).
///
/// ```
/// use httpauth::password::{check_password_hash, Params};
///
/// // Cheaper parameters, e.g. for tests (don't do this in production).
/// let params = Params::new(1024, 1, 1).unwrap();
/// let hash = params.hash("hello");
/// assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
/// assert_eq!(check_password_hash(&hash, "hello"), Ok(true));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl Params {
    /// OWASP's Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
    pub const OWASP: Self = Self {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    /// argon2id with `memory_kib` KiB of memory, `iterations` passes and `parallelism` lanes.
    ///
    /// # Errors
    ///
    /// [`HashError::InvalidParams`] when argon2 refuses them (memory below 8 KiB per lane,
    /// zero passes or lanes), or [`HashError::TooExpensive`] beyond what
    /// [`check_password_hash`] would verify.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, HashError> {
        argon2::Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|_| HashError::InvalidParams("argon2 refuses these parameters"))?;
        if u64::from(memory_kib) * 1024 > MAX_MEMORY_BYTES || iterations > MAX_ARGON2_T {
            return Err(HashError::TooExpensive {
                algorithm: HashAlgorithm::Argon2id,
            });
        }
        Ok(Self {
            memory_kib,
            iterations,
            parallelism,
        })
    }

    /// Memory, in KiB.
    #[must_use]
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Passes over the memory.
    #[must_use]
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Lanes.
    #[must_use]
    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }

    /// Hashes `password` with a fresh random salt: a PHC string
    /// `$argon2id$v=19$m=..,t=..,p=..$salt$hash`. Slow by design: off the async reactor, call it
    /// from `spawn_blocking`.
    #[must_use]
    pub fn hash(&self, password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        let params = argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .unwrap_or_default();
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            // Cannot fail: the parameters were validated, the salt is well-formed, and argon2
            // takes passwords up to 4 GiB.
            .unwrap_or_else(|err| unreachable!("argon2id hashing failed: {err}"))
    }
}

impl Default for Params {
    fn default() -> Self {
        Self::OWASP
    }
}

/// Hashes a password with argon2id at OWASP's parameters ([`Params::OWASP`]), as a PHC string.
///
/// Slow by design (tens of ms of CPU and 19 MiB of memory): from async code, call it on the
/// blocking pool (`tokio::task::spawn_blocking`). [`Params::hash`] takes other parameters.
#[must_use]
pub fn generate_password_hash(password: &str) -> String {
    Params::OWASP.hash(password)
}

/// Checks a password against a stored hash, choosing the algorithm by the hash's format (see
/// [`HashAlgorithm`]). Comparisons are constant-time.
///
/// Returns `Ok(false)` for a wrong password.
///
/// # Errors
///
/// - [`HashError::UnknownFormat`] / [`HashError::Malformed`]: the stored string is not a hash
///   this crate can check (never a panic, never a match);
/// - [`HashError::TooExpensive`]: its parameters exceed the limits (1 GiB, 10 million
///   iterations, bcrypt cost 17);
/// - [`HashError::PasswordTooLong`]: the password exceeds [`MAX_PASSWORD_LEN`], or 72 bytes for
///   bcrypt ([`BCRYPT_MAX_PASSWORD_LEN`]).
///
/// Slow by design for most formats: from async code, call it on the blocking pool, or use a
/// [`PasswordChecker`](super::PasswordChecker), which does that and caches successes.
pub fn check_password_hash(hash: &str, password: &str) -> Result<bool, HashError> {
    parse(hash)?.verify(password)
}

/// The part of a stored hash that fixes its cost: the format and its parameters, without the
/// salt and the hash (`$2y$12$`, `$argon2id$v=19$m=19456,t=2,p=1`, `$6$rounds=5000`,
/// `pbkdf2:sha256:600000`, `$apr1$`, `{SHA}`); `""` for an unknown format. Checks of one class
/// cost the same.
pub(crate) fn cost_class(hash: &str) -> &str {
    match HashAlgorithm::detect(hash) {
        None => "",
        Some(HashAlgorithm::Bcrypt) => hash.get(..7).unwrap_or(hash),
        Some(HashAlgorithm::Apr1) => "$apr1$",
        Some(HashAlgorithm::Sha1) => "{SHA}",
        Some(HashAlgorithm::WerkzeugPbkdf2 | HashAlgorithm::WerkzeugScrypt) => {
            hash.split('$').next().unwrap_or(hash)
        }
        // PHC and sha-crypt: everything before `$salt$hash`.
        Some(_) => hash.rsplitn(3, '$').nth(2).unwrap_or(hash),
    }
}

/// Checks that a stored hash is in a known format and well-formed, without hashing anything.
///
/// # Errors
///
/// As [`check_password_hash`], except [`HashError::PasswordTooLong`].
pub fn validate_hash(hash: &str) -> Result<HashAlgorithm, HashError> {
    parse(hash).map(|p| p.algorithm())
}

/// A parsed stored hash, one variant per format family.
enum Parsed<'a> {
    Phc(phc::Phc<'a>),
    Bcrypt(bcrypt::Bcrypt<'a>),
    Werkzeug(werkzeug::Werkzeug<'a>),
    Apr1(apache::Apr1Hash<'a>),
    Sha1(apache::Sha1Hash),
    ShaCrypt(shacrypt::ShaCrypt<'a>),
}

fn malformed(algorithm: HashAlgorithm, reason: &'static str) -> HashError {
    HashError::Malformed { algorithm, reason }
}

fn too_expensive(algorithm: HashAlgorithm) -> HashError {
    HashError::TooExpensive { algorithm }
}

fn parse(hash: &str) -> Result<Parsed<'_>, HashError> {
    let algorithm = HashAlgorithm::detect(hash).ok_or(HashError::UnknownFormat)?;
    match algorithm {
        HashAlgorithm::Argon2id
        | HashAlgorithm::Argon2i
        | HashAlgorithm::Argon2d
        | HashAlgorithm::Scrypt
        | HashAlgorithm::Pbkdf2Sha256
        | HashAlgorithm::Pbkdf2Sha512 => phc::Phc::parse(algorithm, hash).map(Parsed::Phc),
        HashAlgorithm::Bcrypt => bcrypt::Bcrypt::parse(hash).map(Parsed::Bcrypt),
        HashAlgorithm::WerkzeugPbkdf2 => {
            werkzeug::Werkzeug::parse_pbkdf2(hash).map(Parsed::Werkzeug)
        }
        HashAlgorithm::WerkzeugScrypt => {
            werkzeug::Werkzeug::parse_scrypt(hash).map(Parsed::Werkzeug)
        }
        HashAlgorithm::Apr1 => apache::Apr1Hash::parse(hash)
            .map(Parsed::Apr1)
            .ok_or(malformed(algorithm, "not $apr1$salt$22-character-hash")),
        HashAlgorithm::Sha1 => apache::Sha1Hash::parse(hash).map(Parsed::Sha1),
        HashAlgorithm::Sha256Crypt | HashAlgorithm::Sha512Crypt => {
            shacrypt::ShaCrypt::parse(algorithm, hash).map(Parsed::ShaCrypt)
        }
    }
}

impl Parsed<'_> {
    fn algorithm(&self) -> HashAlgorithm {
        match self {
            Self::Phc(phc) => phc.algorithm(),
            Self::Bcrypt(_) => HashAlgorithm::Bcrypt,
            Self::Werkzeug(w) => w.algorithm(),
            Self::Apr1(_) => HashAlgorithm::Apr1,
            Self::Sha1(_) => HashAlgorithm::Sha1,
            Self::ShaCrypt(s) => s.algorithm(),
        }
    }

    fn verify(&self, password: &str) -> Result<bool, HashError> {
        if password.len() > MAX_PASSWORD_LEN {
            return Err(HashError::PasswordTooLong {
                max: MAX_PASSWORD_LEN,
            });
        }
        let pw = password.as_bytes();
        match self {
            Self::Phc(phc) => phc.verify(pw),
            Self::Bcrypt(bcrypt) => bcrypt.verify(pw),
            Self::Werkzeug(w) => w.verify(pw),
            Self::Apr1(apr1) => Ok(apr1.verify(pw)),
            Self::Sha1(sha1) => Ok(sha1.verify(pw)),
            Self::ShaCrypt(s) => s.verify(pw),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_and_unknown() {
        assert_eq!(check_password_hash("", "x"), Err(HashError::UnknownFormat));
        assert_eq!(
            check_password_hash("hello", "hello"),
            Err(HashError::UnknownFormat)
        );
        assert_eq!(
            check_password_hash("$1$abc$def", "x"),
            Err(HashError::UnknownFormat)
        );
        assert_eq!(
            HashAlgorithm::detect("$2y$05$x"),
            Some(HashAlgorithm::Bcrypt)
        );
    }

    #[test]
    fn malformed_never_panics_never_matches() {
        let cases = [
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2id$v=19$m=99999999,t=2,p=1$c29tZXNhbHQ$aGFzaA",
            "$scrypt$ln=40,r=8,p=1$c29tZXNhbHQ$aGFzaA",
            "$scrypt$$",
            "$pbkdf2-sha256$i=0$c2FsdA$aGFzaA",
            "$pbkdf2-sha256$i=99999999999$c2FsdA$aGFzaA",
            "$2y$",
            "$2y$99$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "$2y$05$ééééééééééééééééééééééééééé",
            "pbkdf2:",
            "pbkdf2:sha256:600000$salt",
            "pbkdf2:sha256:600000$salt$zz",
            "pbkdf2:md5:1000$salt$00",
            "pbkdf2:sha256:0$salt$00",
            "scrypt:3:8:1$salt$00",
            "scrypt:1099511627776:8:1$salt$0011223344556677889900",
            "$apr1$",
            "$apr1$toolongsalt$abc",
            "$apr1$abc$short",
            "{SHA}",
            "{SHA}!!!!",
            "$5$",
            "$5$rounds=x$salt$abc",
            "$5$rounds=999999999999$salt$abc",
            "$6$salt$short",
        ];
        for hash in cases {
            let res = check_password_hash(hash, "x");
            assert!(res.is_err(), "{hash:?} gave {res:?}");
            assert!(validate_hash(hash).is_err(), "{hash:?}");
        }
    }

    #[test]
    fn cost_classes() {
        let cases = [
            (
                "$2y$12$SG4ebB37TMYrqIwGEcG/QOplCDXq4odjjfxBqqWBGP9pAwx4fdHMC",
                "$2y$12$",
            ),
            (
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
                "$argon2id$v=19$m=19456,t=2,p=1",
            ),
            ("$6$rounds=5000$salt$hash", "$6$rounds=5000"),
            ("$6$salt$hash", "$6"),
            ("pbkdf2:sha256:600000$salt$00", "pbkdf2:sha256:600000"),
            ("$apr1$abc$def", "$apr1$"),
            ("{SHA}abc=", "{SHA}"),
            ("nonsense", ""),
        ];
        for (hash, class) in cases {
            assert_eq!(cost_class(hash), class, "{hash}");
        }
    }

    #[test]
    fn argon2_roundtrip_and_cap() {
        let params = Params::new(64, 1, 1).unwrap();
        let h = params.hash("pw");
        assert_eq!(validate_hash(&h), Ok(HashAlgorithm::Argon2id));
        assert_eq!(check_password_hash(&h, "pw"), Ok(true));
        assert_eq!(check_password_hash(&h, "pW"), Ok(false));
        assert_eq!(
            check_password_hash(&h, &"x".repeat(MAX_PASSWORD_LEN + 1)),
            Err(HashError::PasswordTooLong {
                max: MAX_PASSWORD_LEN
            })
        );
        assert!(Params::new(0, 1, 1).is_err());
    }
}
