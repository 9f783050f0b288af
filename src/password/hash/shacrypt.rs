//! sha-crypt `$5$[rounds=N$]salt$hash` and `$6$...` (`htpasswd -2` / `-5`, glibc `crypt`),
//! computed by the `sha-crypt` crate.

use subtle::ConstantTimeEq;

use super::{malformed, too_expensive, HashAlgorithm, HashError, MAX_ITERATIONS};

/// A parsed sha-crypt string.
pub(super) struct ShaCrypt<'a> {
    sha512: bool,
    rounds: u32,
    salt: &'a str,
    checksum: &'a str,
}

impl<'a> ShaCrypt<'a> {
    /// `algorithm` is [`HashAlgorithm::Sha256Crypt`] or [`HashAlgorithm::Sha512Crypt`].
    pub(super) fn parse(algorithm: HashAlgorithm, hash: &'a str) -> Result<Self, HashError> {
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
        Ok(Self {
            sha512,
            rounds,
            salt,
            checksum,
        })
    }

    pub(super) fn algorithm(&self) -> HashAlgorithm {
        if self.sha512 {
            HashAlgorithm::Sha512Crypt
        } else {
            HashAlgorithm::Sha256Crypt
        }
    }

    pub(super) fn verify(&self, pw: &[u8]) -> Result<bool, HashError> {
        let rounds = self.rounds as usize;
        let salt = self.salt.as_bytes();
        let computed = if self.sha512 {
            sha_crypt::Sha512Params::new(rounds)
                .ok()
                .and_then(|p| sha_crypt::sha512_crypt_b64(pw, salt, &p).ok())
        } else {
            sha_crypt::Sha256Params::new(rounds)
                .ok()
                .and_then(|p| sha_crypt::sha256_crypt_b64(pw, salt, &p).ok())
        };
        let computed = computed.ok_or(malformed(self.algorithm(), "sha-crypt failed"))?;
        Ok(bool::from(
            computed.as_bytes().ct_eq(self.checksum.as_bytes()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::check_password_hash;

    #[test]
    fn sha_crypt_vectors() {
        // `htpasswd -nb2 -r 1000 john hello`
        let h = "$5$rounds=1000$JbBtyBsyWkXwfLB6$COaI10cN.0gy41kWgr0SIdEckmBjSFkhYbCxVJwkxz9";
        assert_eq!(check_password_hash(h, "hello"), Ok(true));
        assert_eq!(check_password_hash(h, "hell"), Ok(false));
    }
}
