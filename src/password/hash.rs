//! Hash formats: recognising a stored hash, parsing it, verifying a password against it, and
//! making new argon2id hashes.

use std::fmt;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use sha1::Sha1;
use sha2::{Digest as _, Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::apr1;

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

/// Checks that a stored hash is in a known format and well-formed, without hashing anything.
///
/// # Errors
///
/// As [`check_password_hash`], except [`HashError::PasswordTooLong`].
pub fn validate_hash(hash: &str) -> Result<HashAlgorithm, HashError> {
    parse(hash).map(|p| p.algorithm())
}

/// A parsed stored hash.
enum Parsed<'a> {
    Phc(HashAlgorithm, PasswordHash<'a>),
    Bcrypt(&'a str),
    WerkzeugPbkdf2 {
        digest: WerkzeugDigest,
        iterations: u32,
        salt: &'a str,
        expected: Vec<u8>,
    },
    WerkzeugScrypt {
        params: scrypt::Params,
        salt: &'a str,
        expected: Vec<u8>,
    },
    Apr1(apr1::Apr1Hash<'a>),
    Sha1([u8; 20]),
    ShaCrypt {
        sha512: bool,
        rounds: u32,
        salt: &'a str,
        checksum: &'a str,
    },
}

#[derive(Clone, Copy)]
enum WerkzeugDigest {
    Sha1,
    Sha256,
    Sha512,
}

fn malformed(algorithm: HashAlgorithm, reason: &'static str) -> HashError {
    HashError::Malformed { algorithm, reason }
}

fn too_expensive(algorithm: HashAlgorithm) -> HashError {
    HashError::TooExpensive { algorithm }
}

fn decimal(hash: &PasswordHash<'_>, name: &str) -> Option<u32> {
    hash.params.get_decimal(name)
}

fn parse(hash: &str) -> Result<Parsed<'_>, HashError> {
    let algorithm = HashAlgorithm::detect(hash).ok_or(HashError::UnknownFormat)?;
    match algorithm {
        HashAlgorithm::Argon2id | HashAlgorithm::Argon2i | HashAlgorithm::Argon2d => {
            let phc =
                PasswordHash::new(hash).map_err(|_| malformed(algorithm, "invalid PHC string"))?;
            let params = argon2::Params::try_from(&phc)
                .map_err(|_| malformed(algorithm, "invalid argon2 parameters"))?;
            if u64::from(params.m_cost()) * 1024 > MAX_MEMORY_BYTES
                || params.t_cost() > MAX_ARGON2_T
            {
                return Err(too_expensive(algorithm));
            }
            if phc.hash.is_none() || phc.salt.is_none() {
                return Err(malformed(algorithm, "no salt or no hash"));
            }
            Ok(Parsed::Phc(algorithm, phc))
        }
        HashAlgorithm::Scrypt => {
            let phc =
                PasswordHash::new(hash).map_err(|_| malformed(algorithm, "invalid PHC string"))?;
            let (Some(ln), Some(r), Some(p)) =
                (decimal(&phc, "ln"), decimal(&phc, "r"), decimal(&phc, "p"))
            else {
                return Err(malformed(algorithm, "missing ln, r or p"));
            };
            check_scrypt_cost(algorithm, ln, r, p)?;
            scrypt::Params::try_from(&phc)
                .map_err(|_| malformed(algorithm, "invalid scrypt parameters"))?;
            if phc.hash.is_none() || phc.salt.is_none() {
                return Err(malformed(algorithm, "no salt or no hash"));
            }
            Ok(Parsed::Phc(algorithm, phc))
        }
        HashAlgorithm::Pbkdf2Sha256 | HashAlgorithm::Pbkdf2Sha512 => {
            let phc =
                PasswordHash::new(hash).map_err(|_| malformed(algorithm, "invalid PHC string"))?;
            let iterations =
                decimal(&phc, "i").ok_or(malformed(algorithm, "missing iteration count i"))?;
            if iterations == 0 {
                return Err(malformed(algorithm, "zero iterations"));
            }
            if iterations > MAX_ITERATIONS {
                return Err(too_expensive(algorithm));
            }
            if phc.hash.is_none() || phc.salt.is_none() {
                return Err(malformed(algorithm, "no salt or no hash"));
            }
            Ok(Parsed::Phc(algorithm, phc))
        }
        HashAlgorithm::Bcrypt => {
            // $2y$NN$ + 22 salt chars + 31 hash chars
            let bytes = hash.as_bytes();
            if bytes.len() != 60 || bytes[6] != b'$' {
                return Err(malformed(algorithm, "not 60 characters"));
            }
            let cost: u32 = hash[4..6]
                .parse()
                .map_err(|_| malformed(algorithm, "cost is not two digits"))?;
            if !(4..=31).contains(&cost) {
                return Err(malformed(algorithm, "cost outside 4..=31"));
            }
            if cost > MAX_BCRYPT_COST {
                return Err(too_expensive(algorithm));
            }
            if !hash[7..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
            {
                return Err(malformed(algorithm, "invalid character"));
            }
            Ok(Parsed::Bcrypt(hash))
        }
        HashAlgorithm::WerkzeugPbkdf2 => {
            let (method, salt, expected) = werkzeug_parts(algorithm, hash)?;
            let mut parts = method.split(':');
            let _pbkdf2 = parts.next();
            let digest = match parts.next() {
                Some("sha256") => WerkzeugDigest::Sha256,
                Some("sha512") => WerkzeugDigest::Sha512,
                Some("sha1") => WerkzeugDigest::Sha1,
                _ => return Err(malformed(algorithm, "digest is not sha256, sha512 or sha1")),
            };
            let iterations: u32 = parts
                .next()
                .and_then(|n| n.parse().ok())
                .filter(|&n| n > 0)
                .ok_or(malformed(algorithm, "missing or invalid iteration count"))?;
            if parts.next().is_some() {
                return Err(malformed(algorithm, "too many method fields"));
            }
            if iterations > MAX_ITERATIONS {
                return Err(too_expensive(algorithm));
            }
            let len = match digest {
                WerkzeugDigest::Sha1 => 20,
                WerkzeugDigest::Sha256 => 32,
                WerkzeugDigest::Sha512 => 64,
            };
            if expected.len() != len {
                return Err(malformed(algorithm, "hash length is not the digest size"));
            }
            Ok(Parsed::WerkzeugPbkdf2 {
                digest,
                iterations,
                salt,
                expected,
            })
        }
        HashAlgorithm::WerkzeugScrypt => {
            let (method, salt, expected) = werkzeug_parts(algorithm, hash)?;
            let fields: Vec<&str> = method.split(':').collect();
            let [_, n, r, p] = fields[..] else {
                return Err(malformed(algorithm, "method is not scrypt:N:r:p"));
            };
            let (Ok(n), Ok(r), Ok(p)) = (n.parse::<u64>(), r.parse::<u32>(), p.parse::<u32>())
            else {
                return Err(malformed(algorithm, "N, r or p is not a number"));
            };
            if n < 2 || !n.is_power_of_two() {
                return Err(malformed(algorithm, "N is not a power of two"));
            }
            let ln = n.trailing_zeros();
            check_scrypt_cost(algorithm, ln, r, p)?;
            let ln = u8::try_from(ln).map_err(|_| too_expensive(algorithm))?;
            let params = scrypt::Params::new(ln, r, p, expected.len())
                .map_err(|_| malformed(algorithm, "invalid scrypt parameters"))?;
            Ok(Parsed::WerkzeugScrypt {
                params,
                salt,
                expected,
            })
        }
        HashAlgorithm::Apr1 => apr1::Apr1Hash::parse(hash)
            .map(Parsed::Apr1)
            .ok_or(malformed(algorithm, "not $apr1$salt$22-character-hash")),
        HashAlgorithm::Sha1 => {
            let digest = base64::engine::general_purpose::STANDARD
                .decode(&hash[5..])
                .ok()
                .and_then(|d| <[u8; 20]>::try_from(d).ok())
                .ok_or(malformed(algorithm, "not the base64 of 20 bytes"))?;
            Ok(Parsed::Sha1(digest))
        }
        HashAlgorithm::Sha256Crypt | HashAlgorithm::Sha512Crypt => {
            let sha512 = algorithm == HashAlgorithm::Sha512Crypt;
            let rest = &hash[3..];
            let (rounds, rest) = match rest.strip_prefix("rounds=") {
                Some(r) => {
                    let (n, rest) = r
                        .split_once('$')
                        .ok_or(malformed(algorithm, "no salt after rounds"))?;
                    let n: u64 = n
                        .parse()
                        .map_err(|_| malformed(algorithm, "rounds is not a number"))?;
                    // As glibc: fewer than 1000 rounds means 1000.
                    let n = n.max(1000);
                    if n > u64::from(MAX_ITERATIONS) {
                        return Err(too_expensive(algorithm));
                    }
                    (
                        u32::try_from(n).map_err(|_| too_expensive(algorithm))?,
                        rest,
                    )
                }
                None => (5000, rest),
            };
            let (salt, checksum) = rest
                .split_once('$')
                .ok_or(malformed(algorithm, "no hash after the salt"))?;
            let expected_len = if sha512 { 86 } else { 43 };
            if checksum.len() != expected_len
                || !checksum
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
            {
                return Err(malformed(
                    algorithm,
                    "hash is not crypt-base64 of the digest",
                ));
            }
            if salt.len() > 16 || salt.contains('$') {
                return Err(malformed(algorithm, "salt longer than 16 characters"));
            }
            Ok(Parsed::ShaCrypt {
                sha512,
                rounds,
                salt,
                checksum,
            })
        }
    }
}

fn check_scrypt_cost(algorithm: HashAlgorithm, ln: u32, r: u32, p: u32) -> Result<(), HashError> {
    if ln >= 64 || r == 0 || p == 0 {
        return Err(malformed(algorithm, "invalid scrypt parameters"));
    }
    let memory = 128u128 * u128::from(r) * (1u128 << ln);
    if memory > u128::from(MAX_MEMORY_BYTES) || p > MAX_SCRYPT_P {
        return Err(too_expensive(algorithm));
    }
    Ok(())
}

/// `method$salt$hex` → (method, salt, decoded hex).
fn werkzeug_parts(
    algorithm: HashAlgorithm,
    hash: &str,
) -> Result<(&str, &str, Vec<u8>), HashError> {
    let mut parts = hash.split('$');
    let (Some(method), Some(salt), Some(hex), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(algorithm, "not method$salt$hash"));
    };
    if salt.is_empty() {
        return Err(malformed(algorithm, "empty salt"));
    }
    let expected = decode_hex(hex).ok_or(malformed(algorithm, "hash is not lowercase hex"))?;
    if expected.is_empty() || expected.len() > 64 {
        return Err(malformed(algorithm, "hash length out of range"));
    }
    Ok((method, salt, expected))
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    if hex.len() % 2 != 0 {
        return None;
    }
    hex.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

impl Parsed<'_> {
    fn algorithm(&self) -> HashAlgorithm {
        match self {
            Self::Phc(alg, _) => *alg,
            Self::Bcrypt(_) => HashAlgorithm::Bcrypt,
            Self::WerkzeugPbkdf2 { .. } => HashAlgorithm::WerkzeugPbkdf2,
            Self::WerkzeugScrypt { .. } => HashAlgorithm::WerkzeugScrypt,
            Self::Apr1(_) => HashAlgorithm::Apr1,
            Self::Sha1(_) => HashAlgorithm::Sha1,
            Self::ShaCrypt { sha512: false, .. } => HashAlgorithm::Sha256Crypt,
            Self::ShaCrypt { sha512: true, .. } => HashAlgorithm::Sha512Crypt,
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
            Self::Phc(alg, phc) => {
                let result = match alg {
                    HashAlgorithm::Scrypt => scrypt::Scrypt.verify_password(pw, phc),
                    HashAlgorithm::Pbkdf2Sha256 | HashAlgorithm::Pbkdf2Sha512 => {
                        pbkdf2::Pbkdf2.verify_password(pw, phc)
                    }
                    _ => argon2::Argon2::default().verify_password(pw, phc),
                };
                match result {
                    Ok(()) => Ok(true),
                    Err(argon2::password_hash::Error::Password) => Ok(false),
                    Err(_) => Err(malformed(*alg, "rejected by the hash implementation")),
                }
            }
            Self::Bcrypt(hash) => {
                if pw.len() > BCRYPT_MAX_PASSWORD_LEN {
                    return Err(HashError::PasswordTooLong {
                        max: BCRYPT_MAX_PASSWORD_LEN,
                    });
                }
                // C implementations stop at a NUL byte: refuse it rather than differ from them.
                if pw.contains(&0) {
                    return Ok(false);
                }
                bcrypt::verify(pw, hash)
                    .map_err(|_| malformed(HashAlgorithm::Bcrypt, "rejected by bcrypt"))
            }
            Self::WerkzeugPbkdf2 {
                digest,
                iterations,
                salt,
                expected,
            } => {
                let mut out = [0u8; 64];
                let out = &mut out[..expected.len()];
                match digest {
                    WerkzeugDigest::Sha1 => {
                        pbkdf2::pbkdf2_hmac::<Sha1>(pw, salt.as_bytes(), *iterations, out);
                    }
                    WerkzeugDigest::Sha256 => {
                        pbkdf2::pbkdf2_hmac::<Sha256>(pw, salt.as_bytes(), *iterations, out);
                    }
                    WerkzeugDigest::Sha512 => {
                        pbkdf2::pbkdf2_hmac::<Sha512>(pw, salt.as_bytes(), *iterations, out);
                    }
                }
                Ok(bool::from(out.ct_eq(expected)))
            }
            Self::WerkzeugScrypt {
                params,
                salt,
                expected,
            } => {
                let mut out = [0u8; 64];
                let out = &mut out[..expected.len()];
                scrypt::scrypt(pw, salt.as_bytes(), params, out).map_err(|_| {
                    malformed(HashAlgorithm::WerkzeugScrypt, "invalid output length")
                })?;
                Ok(bool::from(out.ct_eq(expected)))
            }
            Self::Apr1(hash) => Ok(hash.verify(pw)),
            Self::Sha1(expected) => {
                let digest: [u8; 20] = Sha1::digest(pw).into();
                Ok(bool::from(digest.ct_eq(expected)))
            }
            Self::ShaCrypt {
                sha512,
                rounds,
                salt,
                checksum,
            } => {
                let rounds = *rounds as usize;
                let computed = if *sha512 {
                    sha_crypt::Sha512Params::new(rounds)
                        .ok()
                        .and_then(|p| sha_crypt::sha512_crypt_b64(pw, salt.as_bytes(), &p).ok())
                } else {
                    sha_crypt::Sha256Params::new(rounds)
                        .ok()
                        .and_then(|p| sha_crypt::sha256_crypt_b64(pw, salt.as_bytes(), &p).ok())
                };
                let computed = computed.ok_or(malformed(self.algorithm(), "sha-crypt failed"))?;
                Ok(bool::from(computed.as_bytes().ct_eq(checksum.as_bytes())))
            }
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
    fn werkzeug_vectors() {
        // Generated by werkzeug 3.1 for "hello".
        let pbkdf2 = "pbkdf2:sha512:1000$6RuFDrLOJbvaBktX$bc3deac4978424acef7af40d7989010904e92cc7664345763077fb16a61fee154486f70c910843aa26ca66690c5e02eb5f87e0e747258294ad8ac9c4dd97d7b2";
        assert_eq!(check_password_hash(pbkdf2, "hello"), Ok(true));
        assert_eq!(check_password_hash(pbkdf2, "hellO"), Ok(false));
    }

    #[test]
    fn sha1_and_sha_crypt_vectors() {
        // `htpasswd -nbs john hello`, `htpasswd -nb2 -r 1000 john hello`
        assert_eq!(
            check_password_hash("{SHA}qvTGHdzF6KLavt4PO0gs2a6pQ00=", "hello"),
            Ok(true)
        );
        assert_eq!(
            check_password_hash("{SHA}qvTGHdzF6KLavt4PO0gs2a6pQ00=", "hello!"),
            Ok(false)
        );
        let h = "$5$rounds=1000$JbBtyBsyWkXwfLB6$COaI10cN.0gy41kWgr0SIdEckmBjSFkhYbCxVJwkxz9";
        assert_eq!(check_password_hash(h, "hello"), Ok(true));
        assert_eq!(check_password_hash(h, "hell"), Ok(false));
    }

    #[test]
    fn bcrypt_72_bytes() {
        // `htpasswd -nbB -C 4 john hello`
        let h = "$2y$04$SG4ebB37TMYrqIwGEcG/QOplCDXq4odjjfxBqqWBGP9pAwx4fdHMC";
        assert_eq!(check_password_hash(h, "hello"), Ok(true));
        assert_eq!(check_password_hash(h, "hello\0"), Ok(false));
        let long = "a".repeat(72);
        let h72 = bcrypt::hash(&long, 4).unwrap();
        assert_eq!(check_password_hash(&h72, &long), Ok(true));
        // A 73-byte password sharing the first 72 bytes is refused, not truncated.
        assert_eq!(
            check_password_hash(&h72, &format!("{long}b")),
            Err(HashError::PasswordTooLong { max: 72 })
        );
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
