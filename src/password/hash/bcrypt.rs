//! bcrypt (`$2a$`, `$2b$`, `$2y$`: `htpasswd -B`), verified by the `bcrypt` crate, with its
//! 72-byte limit enforced instead of silently truncating.

use super::{
    malformed, too_expensive, HashAlgorithm, HashError, BCRYPT_MAX_PASSWORD_LEN, MAX_BCRYPT_COST,
};

/// A well-formed bcrypt string of an allowed cost.
pub(super) struct Bcrypt<'a>(&'a str);

impl<'a> Bcrypt<'a> {
    pub(super) fn parse(hash: &'a str) -> Result<Self, HashError> {
        let algorithm = HashAlgorithm::Bcrypt;
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
        Ok(Self(hash))
    }

    pub(super) fn verify(&self, pw: &[u8]) -> Result<bool, HashError> {
        if pw.len() > BCRYPT_MAX_PASSWORD_LEN {
            return Err(HashError::PasswordTooLong {
                max: BCRYPT_MAX_PASSWORD_LEN,
            });
        }
        // C implementations stop at a NUL byte: refuse it rather than differ from them.
        if pw.contains(&0) {
            return Ok(false);
        }
        bcrypt::verify(pw, self.0)
            .map_err(|_| malformed(HashAlgorithm::Bcrypt, "rejected by bcrypt"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check_password_hash, HashError};

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
}
