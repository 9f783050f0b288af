//! werkzeug's (Flask's) `method$salt$hex` hashes: `pbkdf2:sha256:600000$...` (also sha512,
//! sha1) over `pbkdf2` + `sha2`/`sha1`, and `scrypt:N:r:p$...` over `scrypt`.

use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::phc::check_scrypt_cost;
use super::{malformed, too_expensive, HashAlgorithm, HashError, MAX_ITERATIONS};

/// A parsed werkzeug hash.
pub(super) enum Werkzeug<'a> {
    Pbkdf2 {
        digest: Pbkdf2Digest,
        iterations: u32,
        salt: &'a str,
        expected: Vec<u8>,
    },
    Scrypt {
        params: scrypt::Params,
        salt: &'a str,
        expected: Vec<u8>,
    },
}

#[derive(Clone, Copy)]
pub(super) enum Pbkdf2Digest {
    Sha1,
    Sha256,
    Sha512,
}

impl<'a> Werkzeug<'a> {
    /// `pbkdf2:digest:iterations$salt$hex`.
    pub(super) fn parse_pbkdf2(hash: &'a str) -> Result<Self, HashError> {
        let algorithm = HashAlgorithm::WerkzeugPbkdf2;
        let (method, salt, expected) = werkzeug_parts(algorithm, hash)?;
        let mut parts = method.split(':');
        let _pbkdf2 = parts.next();
        let digest = match parts.next() {
            Some("sha256") => Pbkdf2Digest::Sha256,
            Some("sha512") => Pbkdf2Digest::Sha512,
            Some("sha1") => Pbkdf2Digest::Sha1,
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
            Pbkdf2Digest::Sha1 => 20,
            Pbkdf2Digest::Sha256 => 32,
            Pbkdf2Digest::Sha512 => 64,
        };
        if expected.len() != len {
            return Err(malformed(algorithm, "hash length is not the digest size"));
        }
        Ok(Self::Pbkdf2 {
            digest,
            iterations,
            salt,
            expected,
        })
    }

    /// `scrypt:N:r:p$salt$hex`.
    pub(super) fn parse_scrypt(hash: &'a str) -> Result<Self, HashError> {
        let algorithm = HashAlgorithm::WerkzeugScrypt;
        let (method, salt, expected) = werkzeug_parts(algorithm, hash)?;
        let fields: Vec<&str> = method.split(':').collect();
        let [_, n, r, p] = fields[..] else {
            return Err(malformed(algorithm, "method is not scrypt:N:r:p"));
        };
        let (Ok(n), Ok(r), Ok(p)) = (n.parse::<u64>(), r.parse::<u32>(), p.parse::<u32>()) else {
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
        Ok(Self::Scrypt {
            params,
            salt,
            expected,
        })
    }

    pub(super) fn algorithm(&self) -> HashAlgorithm {
        match self {
            Self::Pbkdf2 { .. } => HashAlgorithm::WerkzeugPbkdf2,
            Self::Scrypt { .. } => HashAlgorithm::WerkzeugScrypt,
        }
    }

    pub(super) fn verify(&self, pw: &[u8]) -> Result<bool, HashError> {
        match self {
            Self::Pbkdf2 {
                digest,
                iterations,
                salt,
                expected,
            } => {
                let mut out = [0u8; 64];
                let out = &mut out[..expected.len()];
                match digest {
                    Pbkdf2Digest::Sha1 => {
                        pbkdf2::pbkdf2_hmac::<Sha1>(pw, salt.as_bytes(), *iterations, out);
                    }
                    Pbkdf2Digest::Sha256 => {
                        pbkdf2::pbkdf2_hmac::<Sha256>(pw, salt.as_bytes(), *iterations, out);
                    }
                    Pbkdf2Digest::Sha512 => {
                        pbkdf2::pbkdf2_hmac::<Sha512>(pw, salt.as_bytes(), *iterations, out);
                    }
                }
                Ok(bool::from(out.ct_eq(expected)))
            }
            Self::Scrypt {
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
        }
    }
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

/// Werkzeug writes lowercase hex; anything else is not one of its hashes.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let hex = hex.as_bytes();
    crate::hex::is_lowercase(hex)
        .then(|| crate::hex::decode(hex))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::super::check_password_hash;

    #[test]
    fn werkzeug_vectors() {
        // Generated by werkzeug 3.1 for "hello".
        let pbkdf2 = "pbkdf2:sha512:1000$6RuFDrLOJbvaBktX$bc3deac4978424acef7af40d7989010904e92cc7664345763077fb16a61fee154486f70c910843aa26ca66690c5e02eb5f87e0e747258294ad8ac9c4dd97d7b2";
        assert_eq!(check_password_hash(pbkdf2, "hello"), Ok(true));
        assert_eq!(check_password_hash(pbkdf2, "hellO"), Ok(false));
    }
}
