//! `check_password_hash` against hashes written by the real tools: Apache's `htpasswd` (every
//! format it writes) and Python's werkzeug (Flask's `generate_password_hash`).
//!
//! Needs `htpasswd` (Debian `apache2-utils`) and `python3` with werkzeug; `scripts/test.sh`
//! installs both.

use crate::common;

use common::werkzeug;
use std::process::Command;

use httpauth::password::{
    check_password_hash, generate_password_hash, validate_hash, HashAlgorithm, HashError, Params,
};

/// `htpasswd -nb <flags> user password` → the hash.
fn htpasswd(flags: &[&str], password: &str) -> String {
    let out = Command::new("htpasswd")
        .arg("-nb")
        .args(flags)
        .args(["user", password])
        .output()
        .unwrap_or_else(|e| panic!("htpasswd not found ({e}): apt-get install apache2-utils"));
    assert!(
        out.status.success(),
        "htpasswd {flags:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    line.trim()
        .strip_prefix("user:")
        .unwrap_or_else(|| panic!("unexpected htpasswd output {line:?}"))
        .to_owned()
}

/// werkzeug's own check of our hash (cross-check in the other direction where it applies).
fn werkzeug_checks(hash: &str, password: &str) -> bool {
    let script = "import sys; from werkzeug.security import check_password_hash as c; \
                  print(c(sys.argv[1], sys.argv[2]))";
    let out = Command::new("python3")
        .args(["-c", script, hash, password])
        .output()
        .expect("python3");
    String::from_utf8(out.stdout).unwrap().trim() == "True"
}

fn assert_verifies(hash: &str, password: &str, algorithm: HashAlgorithm) {
    assert_eq!(validate_hash(hash), Ok(algorithm), "{hash}");
    assert_eq!(check_password_hash(hash, password), Ok(true), "{hash}");
    assert_eq!(
        check_password_hash(hash, &format!("{password}x")),
        Ok(false),
        "{hash}"
    );
    assert_eq!(check_password_hash(hash, ""), Ok(false), "{hash}");
    let mut wrong = password.to_owned();
    wrong.pop();
    assert_eq!(check_password_hash(hash, &wrong), Ok(false), "{hash}");
}

#[test]
fn htpasswd_bcrypt() {
    for cost in ["4", "5"] {
        let hash = htpasswd(&["-B", "-C", cost], "s3cret pass");
        assert!(hash.starts_with("$2y$0"), "{hash}");
        assert_verifies(&hash, "s3cret pass", HashAlgorithm::Bcrypt);
    }
}

#[test]
fn htpasswd_bcrypt_72_byte_limit() {
    // htpasswd truncates at 72 bytes; we refuse longer passwords instead, so a password that
    // only shares the first 72 bytes never matches.
    let long = "x".repeat(72);
    let hash = htpasswd(&["-B", "-C", "4"], &long);
    assert_eq!(check_password_hash(&hash, &long), Ok(true));
    assert_eq!(
        check_password_hash(&hash, &format!("{long}anything")),
        Err(HashError::PasswordTooLong { max: 72 })
    );
}

#[test]
fn htpasswd_apr1() {
    let hash = htpasswd(&["-m"], "hello wörld");
    assert!(hash.starts_with("$apr1$"), "{hash}");
    assert_verifies(&hash, "hello wörld", HashAlgorithm::Apr1);
    // htpasswd's default is apr1 too.
    let hash = htpasswd(&[], "another");
    assert_verifies(&hash, "another", HashAlgorithm::Apr1);
}

#[test]
fn htpasswd_sha1() {
    let hash = htpasswd(&["-s"], "hello");
    assert!(hash.starts_with("{SHA}"), "{hash}");
    assert_verifies(&hash, "hello", HashAlgorithm::Sha1);
}

#[test]
fn htpasswd_sha256_crypt() {
    let hash = htpasswd(&["-2"], "hello");
    assert!(hash.starts_with("$5$"), "{hash}");
    assert_verifies(&hash, "hello", HashAlgorithm::Sha256Crypt);
    let hash = htpasswd(&["-2", "-r", "1234"], "hello");
    assert!(hash.starts_with("$5$rounds=1234$"), "{hash}");
    assert_verifies(&hash, "hello", HashAlgorithm::Sha256Crypt);
}

#[test]
fn htpasswd_sha512_crypt() {
    let hash = htpasswd(&["-5"], "hello");
    assert!(hash.starts_with("$6$"), "{hash}");
    assert_verifies(&hash, "hello", HashAlgorithm::Sha512Crypt);
    let hash = htpasswd(&["-5", "-r", "2000"], "pässwörd");
    assert!(hash.starts_with("$6$rounds=2000$"), "{hash}");
    assert_verifies(&hash, "pässwörd", HashAlgorithm::Sha512Crypt);
}

#[test]
fn werkzeug_pbkdf2() {
    for method in [
        "pbkdf2:sha256:1000",
        "pbkdf2:sha512:1000",
        "pbkdf2:sha1:1000",
    ] {
        let hash = werkzeug(method, "hello");
        assert!(hash.starts_with(method), "{hash}");
        assert_verifies(&hash, "hello", HashAlgorithm::WerkzeugPbkdf2);
    }
    // Flask's real costs (600 000 iterations; werkzeug's default, which changes between
    // versions): one right and one wrong password each (slow in debug builds).
    for method in ["pbkdf2:sha256:600000", "pbkdf2"] {
        let hash = werkzeug(method, "olá-ñ");
        assert_eq!(validate_hash(&hash), Ok(HashAlgorithm::WerkzeugPbkdf2));
        assert_eq!(check_password_hash(&hash, "olá-ñ"), Ok(true), "{hash}");
        assert_eq!(check_password_hash(&hash, "ola-n"), Ok(false), "{hash}");
    }
}

#[test]
fn werkzeug_scrypt() {
    for method in ["scrypt", "scrypt:16384:8:1"] {
        let hash = werkzeug(method, "hello");
        assert!(hash.starts_with("scrypt:"), "{hash}");
        assert_verifies(&hash, "hello", HashAlgorithm::WerkzeugScrypt);
    }
}

#[test]
fn generated_argon2id_is_phc_and_verifies() {
    let hash = generate_password_hash("hello");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert_verifies(&hash, "hello", HashAlgorithm::Argon2id);
    // Two hashes of one password differ (random salt).
    let cheap = Params::new(512, 1, 1).unwrap();
    assert_ne!(cheap.hash("a"), cheap.hash("a"));
    // werkzeug cannot check argon2 (it only knows its own formats): the formats stay apart.
    assert!(!werkzeug_checks(&cheap.hash("a"), "a"));
}

#[test]
fn phc_formats_from_rustcrypto() {
    use password_hash_phc as phc;
    let scrypt = phc::scrypt("hello");
    assert_verifies(&scrypt, "hello", HashAlgorithm::Scrypt);
    let pbkdf2 = phc::pbkdf2("hello");
    assert_verifies(&pbkdf2, "hello", HashAlgorithm::Pbkdf2Sha256);
    for (variant, alg) in [
        ("argon2i", HashAlgorithm::Argon2i),
        ("argon2d", HashAlgorithm::Argon2d),
    ] {
        let hash = phc::argon2(variant, "hello");
        assert!(hash.starts_with(&format!("${variant}$")), "{hash}");
        assert_verifies(&hash, "hello", alg);
    }
}

/// PHC strings made with the reference Python implementations when present, else with
/// fixed vectors.
mod password_hash_phc {
    use std::process::Command;

    fn python(script: &str, password: &str) -> Option<String> {
        let out = Command::new("python3")
            .args(["-c", script, password])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).ok())
            .flatten()
            .map(|s| s.trim().to_owned())
    }

    /// `$scrypt$ln=..,r=..,p=..$salt$hash` (RustCrypto's PHC encoding, via hashlib).
    pub(super) fn scrypt(password: &str) -> String {
        let script = "import sys, hashlib, base64, os\n\
            b = lambda x: base64.b64encode(x).decode().rstrip('=')\n\
            salt = os.urandom(16)\n\
            h = hashlib.scrypt(sys.argv[1].encode(), salt=salt, n=1024, r=8, p=1, dklen=32)\n\
            print('$scrypt$ln=10,r=8,p=1$' + b(salt) + '$' + b(h))";
        python(script, password).expect("python3 hashlib")
    }

    /// `$pbkdf2-sha256$i=..,l=32$salt$hash` via hashlib.
    pub(super) fn pbkdf2(password: &str) -> String {
        let script = "import sys, hashlib, base64, os\n\
            b = lambda x: base64.b64encode(x).decode().rstrip('=')\n\
            salt = os.urandom(16)\n\
            h = hashlib.pbkdf2_hmac('sha256', sys.argv[1].encode(), salt, 1000)\n\
            print('$pbkdf2-sha256$i=1000,l=32$' + b(salt) + '$' + b(h))";
        python(script, password).expect("python3 hashlib")
    }

    /// argon2i/argon2d via the argon2 crate (dev-dependency).
    pub(super) fn argon2(variant: &str, password: &str) -> String {
        use argon2::password_hash::rand_core::OsRng;
        use argon2::password_hash::{PasswordHasher, SaltString};
        let alg = match variant {
            "argon2i" => argon2::Algorithm::Argon2i,
            _ => argon2::Algorithm::Argon2d,
        };
        let params = argon2::Params::new(256, 1, 1, None).unwrap();
        argon2::Argon2::new(alg, argon2::Version::V0x13, params)
            .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string()
    }
}
