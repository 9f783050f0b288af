//! PHC strings (`$id$params$salt$hash`) for argon2id/argon2i/argon2d, scrypt and
//! PBKDF2-SHA256/512, parsed by `password-hash` and verified by the RustCrypto crates.

use argon2::password_hash::{PasswordHash, PasswordVerifier};

use super::{
    malformed, too_expensive, HashAlgorithm, HashError, MAX_ARGON2_T, MAX_ITERATIONS,
    MAX_MEMORY_BYTES, MAX_SCRYPT_P,
};

/// A parsed PHC string whose parameters are within the limits.
pub(super) struct Phc<'a> {
    algorithm: HashAlgorithm,
    hash: PasswordHash<'a>,
}

fn decimal(hash: &PasswordHash<'_>, name: &str) -> Option<u32> {
    hash.params.get_decimal(name)
}

impl<'a> Phc<'a> {
    /// `algorithm` is one of the PHC formats, detected from `hash`'s prefix.
    pub(super) fn parse(algorithm: HashAlgorithm, hash: &'a str) -> Result<Self, HashError> {
        let phc =
            PasswordHash::new(hash).map_err(|_| malformed(algorithm, "invalid PHC string"))?;
        match algorithm {
            HashAlgorithm::Argon2id | HashAlgorithm::Argon2i | HashAlgorithm::Argon2d => {
                let params = argon2::Params::try_from(&phc)
                    .map_err(|_| malformed(algorithm, "invalid argon2 parameters"))?;
                if u64::from(params.m_cost()) * 1024 > MAX_MEMORY_BYTES
                    || params.t_cost() > MAX_ARGON2_T
                {
                    return Err(too_expensive(algorithm));
                }
            }
            HashAlgorithm::Scrypt => {
                let (Some(ln), Some(r), Some(p)) =
                    (decimal(&phc, "ln"), decimal(&phc, "r"), decimal(&phc, "p"))
                else {
                    return Err(malformed(algorithm, "missing ln, r or p"));
                };
                check_scrypt_cost(algorithm, ln, r, p)?;
                scrypt::Params::try_from(&phc)
                    .map_err(|_| malformed(algorithm, "invalid scrypt parameters"))?;
            }
            HashAlgorithm::Pbkdf2Sha256 | HashAlgorithm::Pbkdf2Sha512 => {
                let iterations =
                    decimal(&phc, "i").ok_or(malformed(algorithm, "missing iteration count i"))?;
                if iterations == 0 {
                    return Err(malformed(algorithm, "zero iterations"));
                }
                if iterations > MAX_ITERATIONS {
                    return Err(too_expensive(algorithm));
                }
            }
            _ => unreachable!("not a PHC format: {algorithm}"),
        }
        if phc.hash.is_none() || phc.salt.is_none() {
            return Err(malformed(algorithm, "no salt or no hash"));
        }
        Ok(Self {
            algorithm,
            hash: phc,
        })
    }

    pub(super) fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    pub(super) fn verify(&self, pw: &[u8]) -> Result<bool, HashError> {
        let result = match self.algorithm {
            HashAlgorithm::Scrypt => scrypt::Scrypt.verify_password(pw, &self.hash),
            HashAlgorithm::Pbkdf2Sha256 | HashAlgorithm::Pbkdf2Sha512 => {
                pbkdf2::Pbkdf2.verify_password(pw, &self.hash)
            }
            _ => argon2::Argon2::default().verify_password(pw, &self.hash),
        };
        match result {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::Password) => Ok(false),
            Err(_) => Err(malformed(
                self.algorithm,
                "rejected by the hash implementation",
            )),
        }
    }
}

/// scrypt's limits (PHC and werkzeug): at most 1 GiB (`128·r·2^ln`) and `p` ≤ 16.
pub(super) fn check_scrypt_cost(
    algorithm: HashAlgorithm,
    ln: u32,
    r: u32,
    p: u32,
) -> Result<(), HashError> {
    if ln >= 64 || r == 0 || p == 0 {
        return Err(malformed(algorithm, "invalid scrypt parameters"));
    }
    let memory = 128u128 * u128::from(r) * (1u128 << ln);
    if memory > u128::from(MAX_MEMORY_BYTES) || p > MAX_SCRYPT_P {
        return Err(too_expensive(algorithm));
    }
    Ok(())
}
