//! PHC strings (`$id$params$salt$hash`) for argon2id/argon2i/argon2d, scrypt and
//! PBKDF2-SHA256/512, parsed by `password-hash` and verified by the RustCrypto crates.

use argon2::password_hash::{self, PasswordHash, PasswordVerifier};

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
            _ => return self.verify_argon2(pw),
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

impl Phc<'_> {
    /// argon2 into this thread's reused working memory ([`with_argon2_memory`]): the same
    /// computation and constant-time comparison as `PasswordVerifier::verify_password`, without
    /// allocating (and, with glibc, without retaining) 19 MiB per check.
    fn verify_argon2(&self, pw: &[u8]) -> Result<bool, HashError> {
        let reject = || malformed(self.algorithm, "rejected by the hash implementation");
        let algorithm = match self.algorithm {
            HashAlgorithm::Argon2i => argon2::Algorithm::Argon2i,
            HashAlgorithm::Argon2d => argon2::Algorithm::Argon2d,
            _ => argon2::Algorithm::Argon2id,
        };
        let version = match self.hash.version {
            None => argon2::Version::default(),
            Some(v) => argon2::Version::try_from(v).map_err(|_| reject())?,
        };
        let params = argon2::Params::try_from(&self.hash).map_err(|_| reject())?;
        let (Some(salt), Some(expected)) = (self.hash.salt, self.hash.hash) else {
            return Err(reject());
        };
        let mut salt_buf = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_buf).map_err(|_| reject())?;
        let blocks = params.block_count();
        let hasher = argon2::Argon2::new(algorithm, version, params);
        let mut out = [0u8; password_hash::Output::MAX_LENGTH];
        let out = out.get_mut(..expected.len()).ok_or_else(reject)?;
        with_argon2_memory(blocks, |memory| {
            hasher.hash_password_into_with_memory(pw, salt, &mut *out, memory)
        })
        .map_err(|_| reject())?;
        Ok(bool::from(subtle::ConstantTimeEq::ct_eq(
            &*out,
            expected.as_bytes(),
        )))
    }
}

/// The largest argon2 working memory a thread keeps between checks (64 MiB); a larger one
/// (a hash up to the 1 GiB limit) is allocated for its check and freed after.
const MAX_KEPT_ARGON2_BYTES: usize = 64 << 20;

thread_local! {
    /// This thread's argon2 working memory, reused by every check it runs: a pool thread
    /// keeps one buffer of the largest cost it has seen, instead of allocating and freeing
    /// 19 MiB per check (which glibc keeps in its per-thread arenas, so RSS grew with every
    /// flood).
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
    /// How many times this thread's buffer was (re)allocated, and reused.
    static ARGON2_MEMORY_STATS: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// Runs `f` with `blocks` argon2 blocks of this thread's reused memory.
fn with_argon2_memory<R>(blocks: usize, f: impl FnOnce(&mut [argon2::Block]) -> R) -> R {
    if blocks.saturating_mul(argon2::Block::SIZE) > MAX_KEPT_ARGON2_BYTES {
        let mut memory = vec![argon2::Block::default(); blocks];
        return f(&mut memory);
    }
    ARGON2_MEMORY.with(|cell| {
        let Ok(mut memory) = cell.try_borrow_mut() else {
            // Re-entered on this thread (cannot happen today): a private buffer.
            return f(&mut vec![argon2::Block::default(); blocks]);
        };
        let (allocated, reused) = ARGON2_MEMORY_STATS.get();
        if memory.len() < blocks {
            // Replace, not grow: the old contents are dead and need not be copied.
            *memory = vec![argon2::Block::default(); blocks];
            ARGON2_MEMORY_STATS.set((allocated + 1, reused));
        } else {
            ARGON2_MEMORY_STATS.set((allocated, reused + 1));
        }
        f(&mut memory[..blocks])
    })
}

/// (allocations, reuses) of this thread's argon2 working memory.
#[cfg(test)]
pub(super) fn argon2_memory_stats() -> (u64, u64) {
    ARGON2_MEMORY_STATS.get()
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

#[cfg(test)]
mod tests {
    use super::super::{check_password_hash, Params};
    use super::argon2_memory_stats;

    #[test]
    fn argon2_memory_is_reused_per_thread() {
        // On a fresh thread so the counters are this test's alone.
        std::thread::spawn(|| {
            let small = Params::new(256, 1, 1).unwrap();
            let big = Params::new(1024, 1, 1).unwrap();
            let (h_small, h_big) = (small.hash("pw"), big.hash("pw"));
            let before = argon2_memory_stats();
            assert_eq!(check_password_hash(&h_big, "pw"), Ok(true));
            assert_eq!(check_password_hash(&h_big, "nope"), Ok(false));
            assert_eq!(check_password_hash(&h_small, "pw"), Ok(true));
            assert_eq!(check_password_hash(&h_big, "pw"), Ok(true));
            let (allocated, reused) = argon2_memory_stats();
            // One allocation (the first big check), every later check reused it.
            assert_eq!((allocated - before.0, reused - before.1), (1, 3));
            // Same answers as the allocating hasher, for every argon2 variant and version.
            let salt = argon2::password_hash::SaltString::encode_b64(b"somesaltsalt").unwrap();
            for algorithm in [
                argon2::Algorithm::Argon2i,
                argon2::Algorithm::Argon2d,
                argon2::Algorithm::Argon2id,
            ] {
                for version in [argon2::Version::V0x10, argon2::Version::V0x13] {
                    let params = argon2::Params::new(256, 2, 2, Some(24)).unwrap();
                    let hash = argon2::password_hash::PasswordHasher::hash_password(
                        &argon2::Argon2::new(algorithm, version, params),
                        b"password",
                        &salt,
                    )
                    .unwrap()
                    .to_string();
                    assert_eq!(check_password_hash(&hash, "password"), Ok(true), "{hash}");
                    assert_eq!(check_password_hash(&hash, "passwore"), Ok(false), "{hash}");
                }
            }
        })
        .join()
        .unwrap();
    }
}
