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

/// The largest argon2 working memory kept between checks (64 MiB); a larger one (a hash up to
/// the 1 GiB limit) is allocated for its check and freed after.
const MAX_KEPT_ARGON2_BYTES: usize = 64 << 20;

/// Reusable argon2 working memories: a check takes one (or allocates one, the first times),
/// and gives it back after, up to a bound. So the process holds at most as many buffers as
/// checks ran at once (the hashing pool bounds that), instead of allocating and freeing
/// 19 MiB per check, which glibc keeps in its per-thread arenas (RSS grew with every flood)
/// and which thread-local buffers would multiply by the blocking threads Tokio rotates
/// through.
struct Stash {
    buffers: std::sync::Mutex<Vec<Vec<argon2::Block>>>,
    keep: usize,
    allocated: std::sync::atomic::AtomicU64,
    reused: std::sync::atomic::AtomicU64,
}

impl Stash {
    fn new(keep: usize) -> Self {
        Self {
            buffers: std::sync::Mutex::new(Vec::new()),
            keep,
            allocated: std::sync::atomic::AtomicU64::new(0),
            reused: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The process-wide stash: keeps up to twice the cores' worth of buffers.
    fn shared() -> &'static Self {
        static SHARED: std::sync::OnceLock<Stash> = std::sync::OnceLock::new();
        SHARED.get_or_init(|| {
            Self::new(2 * std::thread::available_parallelism().map_or(1, |n| n.get()))
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<argon2::Block>>> {
        self.buffers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` with `blocks` argon2 blocks of reused memory.
    fn with<R>(&self, blocks: usize, f: impl FnOnce(&mut [argon2::Block]) -> R) -> R {
        use std::sync::atomic::Ordering::Relaxed;
        if blocks.saturating_mul(argon2::Block::SIZE) > MAX_KEPT_ARGON2_BYTES {
            return f(&mut vec![argon2::Block::default(); blocks]);
        }
        // The largest buffer kept (they all end up the size of the dearest hash checked).
        let taken = {
            let mut buffers = self.lock();
            let largest = (0..buffers.len()).max_by_key(|&i| buffers[i].len());
            largest.map(|i| buffers.swap_remove(i))
        };
        let mut memory = match taken {
            Some(memory) if memory.len() >= blocks => {
                self.reused.fetch_add(1, Relaxed);
                memory
            }
            // Replace, not grow: the old contents are dead and need not be copied.
            _ => {
                self.allocated.fetch_add(1, Relaxed);
                vec![argon2::Block::default(); blocks]
            }
        };
        let answer = f(&mut memory[..blocks]);
        let mut buffers = self.lock();
        if buffers.len() < self.keep {
            buffers.push(memory);
        }
        answer
    }
}

/// Runs `f` with `blocks` argon2 blocks of the process's reused memory.
fn with_argon2_memory<R>(blocks: usize, f: impl FnOnce(&mut [argon2::Block]) -> R) -> R {
    Stash::shared().with(blocks, f)
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
    use std::sync::atomic::Ordering::Relaxed;

    use super::super::{check_password_hash, Params};
    use super::Stash;

    #[test]
    fn argon2_memory_is_reused() {
        let stash = Stash::new(2);
        let count = || (stash.allocated.load(Relaxed), stash.reused.load(Relaxed));
        stash.with(512, |m| assert_eq!(m.len(), 512));
        stash.with(256, |m| assert_eq!(m.len(), 256));
        stash.with(512, |m| assert_eq!(m.len(), 512));
        // One allocation, every later check reused it.
        assert_eq!(count(), (1, 2));
        // A larger need replaces the buffer; then it is reused for smaller ones.
        stash.with(1024, |_| ());
        stash.with(8, |_| ());
        assert_eq!(count(), (2, 3));
        // Two at once: two buffers, both kept (up to `keep`).
        stash.with(1024, |_| stash.with(1024, |_| ()));
        assert_eq!(count(), (3, 4));
        assert_eq!(stash.lock().len(), 2);
        stash.with(1024, |_| stash.with(1024, |_| stash.with(1024, |_| ())));
        assert_eq!(stash.lock().len(), 2);
    }

    #[test]
    fn argon2_into_reused_memory_matches_the_crate() {
        let params = Params::new(256, 1, 1).unwrap();
        let hash = params.hash("pw");
        assert_eq!(check_password_hash(&hash, "pw"), Ok(true));
        assert_eq!(check_password_hash(&hash, "nope"), Ok(false));
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
    }
}
