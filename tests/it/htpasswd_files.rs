//! `HtpasswdFile` and `HtdigestFile` over files written by Apache's own `htpasswd` and
//! `htdigest` (Debian `apache2-utils`, installed by `scripts/test.sh`), plus werkzeug lines:
//! every format verifies, wrong passwords fail, malformed lines are skipped, and the files are
//! reloaded when they change.

use crate::common;

use common::{htpasswd, werkzeug};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use httpauth::password::{HtdigestFile, HtpasswdFile, PasswordChecker};
use httpauth::VerifyPassword;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "httpauth-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn append(file: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// (user, password, htpasswd flags) for every format htpasswd writes.
const USERS: [(&str, &str, &[&str]); 6] = [
    ("bcrypt", "pw-bcrypt", &["-B", "-C", "4"]),
    ("md5", "pw-md5 wïth spaces", &["-m"]),
    ("sha1", "pw-sha1", &["-s"]),
    ("sha256", "pw-sha256", &["-2"]),
    ("sha512", "pw-sha512", &["-5"]),
    ("default", "pw-default", &[]),
];

fn write_all_formats(file: &Path) {
    for (i, (user, password, flags)) in USERS.iter().enumerate() {
        htpasswd(file, i == 0, flags, user, password);
    }
    append(
        file,
        &format!(
            "flask:{}\nflask-scrypt:{}\n",
            werkzeug("pbkdf2:sha256:1000", "pw-flask"),
            werkzeug("scrypt:1024:8:1", "pw-scrypt")
        ),
    );
}

#[tokio::test]
async fn every_format_from_the_real_tools() {
    let dir = TempDir::new("formats");
    let path = dir.file("htpasswd");
    write_all_formats(&path);
    let file = HtpasswdFile::open(&path).unwrap();
    assert_eq!(file.len(), 8);
    let mut all: Vec<(&str, &str)> = USERS.iter().map(|(u, p, _)| (*u, *p)).collect();
    all.extend([("flask", "pw-flask"), ("flask-scrypt", "pw-scrypt")]);
    for (user, password) in all {
        assert_eq!(
            file.verify_password(user, password)
                .await
                .unwrap()
                .as_deref(),
            Some(user),
            "{user}"
        );
        assert_eq!(
            file.verify_password(user, "wrong").await.unwrap(),
            None,
            "{user}"
        );
        assert_eq!(
            file.verify_password(user, &format!("{password} "))
                .await
                .unwrap(),
            None,
            "{user}"
        );
        // The same password under another name is refused.
        assert_eq!(
            file.verify_password("nobody", password).await.unwrap(),
            None
        );
    }
}

#[tokio::test]
async fn malformed_lines_are_skipped_not_fatal() {
    let dir = TempDir::new("malformed");
    let path = dir.file("htpasswd");
    htpasswd(&path, true, &["-B", "-C", "4"], "good", "pw");
    append(
        &path,
        "# a comment\n\nno-colon-here\n:$apr1$h2Qw7MH5$LdzoX.1DyXRdSIWwx.eg/0\nplain:hello\n\
         broken:$2y$04$short\ndes:rUFsVlUxnFvkA\ngood:$apr1$h2Qw7MH5$LdzoX.1DyXRdSIWwx.eg/0\n\
         crlf:{SHA}qvTGHdzF6KLavt4PO0gs2a6pQ00=\r\n",
    );
    let file = HtpasswdFile::open(&path).unwrap();
    assert_eq!(file.usernames(), ["crlf", "good"]);
    assert!(file.verify_password("good", "pw").await.unwrap().is_some());
    // The duplicate line did not replace the first one.
    assert!(file
        .verify_password("good", "hello")
        .await
        .unwrap()
        .is_none());
    assert!(file
        .verify_password("crlf", "hello")
        .await
        .unwrap()
        .is_some());
    assert!(file
        .verify_password("plain", "hello")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn reloads_when_the_file_changes() {
    let dir = TempDir::new("reload");
    let path = dir.file("htpasswd");
    htpasswd(&path, true, &["-m"], "john", "one");
    let file = HtpasswdFile::open(&path)
        .unwrap()
        .reload_interval(Duration::ZERO);
    assert!(file.verify_password("john", "one").await.unwrap().is_some());
    assert!(file.verify_password("mary", "two").await.unwrap().is_none());

    // htpasswd rewrites the file: a new user, then a password change.
    htpasswd(&path, false, &["-B", "-C", "4"], "mary", "two");
    assert!(file.verify_password("mary", "two").await.unwrap().is_some());
    htpasswd(&path, false, &["-2"], "john", "changed");
    assert!(
        file.verify_password("john", "one").await.unwrap().is_none(),
        "old password cached?"
    );
    assert!(file
        .verify_password("john", "changed")
        .await
        .unwrap()
        .is_some());

    // Deleted user.
    let out = Command::new("htpasswd")
        .args(["-D"])
        .arg(&path)
        .arg("mary")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(file.verify_password("mary", "two").await.unwrap().is_none());

    // A file that disappears keeps the last version.
    std::fs::remove_file(&path).unwrap();
    assert!(file
        .verify_password("john", "changed")
        .await
        .unwrap()
        .is_some());
    // Atomic replacement (write + rename) is picked up.
    let tmp = dir.file("htpasswd.tmp");
    htpasswd(&tmp, true, &["-s"], "ana", "three");
    std::fs::rename(&tmp, &path).unwrap();
    assert!(file
        .verify_password("ana", "three")
        .await
        .unwrap()
        .is_some());
    assert!(file
        .verify_password("john", "changed")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn same_length_rewrite_within_the_timestamp_granularity() {
    let dir = TempDir::new("racy");
    let path = dir.file("htpasswd");
    htpasswd(&path, true, &["-s"], "john", "one");
    let file = HtpasswdFile::open(&path)
        .unwrap()
        .reload_interval(Duration::ZERO);
    assert!(file.verify_password("john", "one").await.unwrap().is_some());
    // Same length, same inode, possibly the same mtime tick.
    htpasswd(&path, false, &["-s"], "john", "two");
    assert!(file.verify_password("john", "two").await.unwrap().is_some());
    assert!(file.verify_password("john", "one").await.unwrap().is_none());
}

#[tokio::test]
async fn reload_interval_throttles_checks() {
    let dir = TempDir::new("interval");
    let path = dir.file("htpasswd");
    htpasswd(&path, true, &["-s"], "john", "one");
    let file = HtpasswdFile::open(&path)
        .unwrap()
        .reload_interval(Duration::from_secs(3600));
    assert!(file.contains("john"));
    htpasswd(&path, false, &["-s"], "mary", "two");
    // Not checked again within the hour...
    assert!(!file.contains("mary"));
    // ...unless asked.
    file.reload().unwrap();
    assert!(file.contains("mary"));
}

#[tokio::test]
async fn shares_a_checker_and_caches() {
    let dir = TempDir::new("cache");
    let path = dir.file("htpasswd");
    htpasswd(&path, true, &["-B", "-C", "4"], "john", "hello");
    let checker = PasswordChecker::new();
    let file = HtpasswdFile::open(&path)
        .unwrap()
        .with_checker(checker.clone());
    for _ in 0..5 {
        assert!(file
            .verify_password("john", "hello")
            .await
            .unwrap()
            .is_some());
    }
    assert_eq!(checker.stats().verifications, 1);
    assert_eq!(checker.stats().cache_hits, 4);
    // Unknown users cost no verification: they wait what one of the file's hashes costs.
    assert!(file
        .verify_password("nobody", "hello")
        .await
        .unwrap()
        .is_none());
    assert_eq!(checker.stats().verifications, 1);
}

/// `htdigest [-c] file realm user`, answering its two password prompts on stdin.
fn htdigest(file: &Path, create: bool, realm: &str, user: &str, password: &str) {
    let mut cmd = Command::new("htdigest");
    if create {
        cmd.arg("-c");
    }
    let mut child = cmd
        .arg(file)
        .args([realm, user])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("htdigest not found ({e}): apt-get install apache2-utils"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n{password}\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

fn md5_hex(s: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn htdigest_file_from_the_real_tool() {
    let dir = TempDir::new("htdigest");
    let path = dir.file("htdigest");
    htdigest(&path, true, "My Realm", "john", "hello");
    htdigest(&path, false, "My Realm", "susan", "bye");
    htdigest(&path, false, "Other: realm", "john", "other");
    append(&path, "bad line\njohn:x:nothex\n");
    let file = HtdigestFile::open(&path)
        .unwrap()
        .reload_interval(Duration::ZERO);
    assert_eq!(file.len(), 3);
    assert_eq!(
        file.ha1("john", "My Realm"),
        Some(md5_hex("john:My Realm:hello"))
    );
    assert_eq!(
        file.ha1("susan", "My Realm"),
        Some(md5_hex("susan:My Realm:bye"))
    );
    // A realm with a colon.
    assert_eq!(
        file.ha1("john", "Other: realm"),
        Some(md5_hex("john:Other: realm:other"))
    );
    assert_eq!(file.ha1("john", "my realm"), None);
    assert_eq!(file.ha1("nobody", "My Realm"), None);

    // Reloaded when htdigest changes a password.
    htdigest(&path, false, "My Realm", "john", "changed");
    assert_eq!(
        file.ha1("john", "My Realm"),
        Some(md5_hex("john:My Realm:changed"))
    );
}
