//! Apache's own formats: `$apr1$` (`htpasswd -m`, its default) and the unsalted `{SHA}`
//! (`htpasswd -s`).
//!
//! `$apr1$` is Poul-Henning Kamp's MD5-crypt (FreeBSD, 1994) with the magic string `$apr1$`
//! instead of `$1$`, as Apache's `apr_md5_encode` computes it. No maintained crate implements
//! it over RustCrypto's `md-5` without panicking on short salts, so the construction (about 40
//! lines, no primitive of its own) is written here over `md-5` and checked against published
//! vectors and Apache's own `htpasswd -m` output.

use base64::Engine as _;
use md5::{Digest as _, Md5};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::{malformed, HashAlgorithm, HashError};

const MAGIC: &str = "$apr1$";
const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A parsed `$apr1$salt$checksum`.
pub(super) struct Apr1Hash<'a> {
    salt: &'a str,
    checksum: &'a str,
}

impl<'a> Apr1Hash<'a> {
    /// Salt of 1 to 8 characters, then a 22-character checksum in crypt's base64.
    pub(super) fn parse(hash: &'a str) -> Option<Self> {
        let rest = hash.strip_prefix(MAGIC)?;
        let (salt, checksum) = rest.split_once('$')?;
        let valid = |s: &str| s.bytes().all(|b| ITOA64.contains(&b));
        (!salt.is_empty()
            && salt.len() <= 8
            && valid(salt)
            && checksum.len() == 22
            && valid(checksum))
        .then_some(Self { salt, checksum })
    }

    pub(super) fn verify(&self, password: &[u8]) -> bool {
        let computed = encode(&digest(password, self.salt.as_bytes()));
        bool::from(computed.ct_eq(self.checksum.as_bytes()))
    }
}

/// The 16-byte MD5-crypt result for `password` and `salt` (at most 8 bytes).
fn digest(password: &[u8], salt: &[u8]) -> [u8; 16] {
    let alternate: [u8; 16] = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize()
        .into();

    let mut ctx = Md5::new()
        .chain_update(password)
        .chain_update(MAGIC)
        .chain_update(salt);
    for chunk in password.chunks(16) {
        ctx.update(&alternate[..chunk.len()]);
    }
    // For each bit of the length, lowest first: a NUL byte for a 1, the first byte of the
    // password for a 0 (the C code reads the string's terminator when the password is empty,
    // but the loop does not run then).
    let mut len = password.len();
    while len != 0 {
        if len & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..1]);
        }
        len >>= 1;
    }
    let mut result: [u8; 16] = ctx.finalize().into();

    for round in 0..1000 {
        let mut ctx = Md5::new();
        if round % 2 == 1 {
            ctx.update(password);
        } else {
            ctx.update(result);
        }
        if round % 3 != 0 {
            ctx.update(salt);
        }
        if round % 7 != 0 {
            ctx.update(password);
        }
        if round % 2 == 1 {
            ctx.update(result);
        } else {
            ctx.update(password);
        }
        result = ctx.finalize().into();
    }
    result
}

/// crypt's base64 of the result, in MD5-crypt's byte order: 22 characters.
fn encode(d: &[u8; 16]) -> [u8; 22] {
    let mut out = [0u8; 22];
    let mut pos = 0;
    let mut put = |value: u32, chars: usize| {
        let mut v = value;
        for _ in 0..chars {
            out[pos] = ITOA64[(v & 0x3f) as usize];
            v >>= 6;
            pos += 1;
        }
    };
    let triple = |a: u8, b: u8, c: u8| u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c);
    put(triple(d[0], d[6], d[12]), 4);
    put(triple(d[1], d[7], d[13]), 4);
    put(triple(d[2], d[8], d[14]), 4);
    put(triple(d[3], d[9], d[15]), 4);
    put(triple(d[4], d[10], d[5]), 4);
    put(u32::from(d[11]), 2);
    out
}

/// `{SHA}` + the base64 of the password's SHA-1 digest.
pub(super) struct Sha1Hash([u8; 20]);

impl Sha1Hash {
    pub(super) fn parse(hash: &str) -> Result<Self, HashError> {
        let digest = hash
            .strip_prefix("{SHA}")
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .and_then(|d| <[u8; 20]>::try_from(d).ok())
            .ok_or(malformed(HashAlgorithm::Sha1, "not the base64 of 20 bytes"))?;
        Ok(Self(digest))
    }

    pub(super) fn verify(&self, password: &[u8]) -> bool {
        let digest: [u8; 20] = Sha1::digest(password).into();
        bool::from(digest.ct_eq(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(hash: &str, password: &str) -> bool {
        Apr1Hash::parse(hash)
            .expect("valid")
            .verify(password.as_bytes())
    }

    #[test]
    fn vectors() {
        // Apache's `htpasswd -nbm john hello`.
        assert!(check("$apr1$h2Qw7MH5$LdzoX.1DyXRdSIWwx.eg/0", "hello"));
        assert!(!check("$apr1$h2Qw7MH5$LdzoX.1DyXRdSIWwx.eg/0", "hellO"));
        // Published examples (htpasswd-verify's docs, Apache's test suite style).
        assert!(check("$apr1$lZL6V/ci$eIMz/iKDkbtys/uU7LEK00", "password"));
        assert!(check("$apr1$RandSalt$PgCXHRrkpSt4cbyC2C6bm/", "password"));
    }

    #[test]
    fn sha1_vectors() {
        use super::super::check_password_hash;
        // `htpasswd -nbs john hello`
        assert_eq!(
            check_password_hash("{SHA}qvTGHdzF6KLavt4PO0gs2a6pQ00=", "hello"),
            Ok(true)
        );
        assert_eq!(
            check_password_hash("{SHA}qvTGHdzF6KLavt4PO0gs2a6pQ00=", "hello!"),
            Ok(false)
        );
    }

    #[test]
    fn parse_refusals() {
        for bad in [
            "$apr1$",
            "$apr1$$LdzoX.1DyXRdSIWwx.eg/0",
            "$apr1$123456789$LdzoX.1DyXRdSIWwx.eg/0",
            "$apr1$h2Qw7MH5$LdzoX.1DyXRdSIWwx.eg/",
            "$apr1$h2Qw7MH5$LdzoX.1DyXRdSIWwx.eg/0x",
            "$apr1$h2Qw!MH5$LdzoX.1DyXRdSIWwx.eg/0",
        ] {
            assert!(Apr1Hash::parse(bad).is_none(), "{bad}");
        }
    }
}
