//! User files: Apache's htpasswd (Basic) and htdigest (Digest HA1), reloaded when they change.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use super::cache::{EntryKey, EntryKeys, Stored};
use super::checker::{Dummy, Lookup, Miss, PasswordChecker};
use super::hash::{cost_class, validate_hash, HashAlgorithm, Params};
use super::UserMap;
use crate::basic::VerifyPassword;
use crate::error::AuthError;
use crate::scheme::AuthFuture;

/// Default time between two checks of the file's metadata.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// What identifies a version of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

impl Stamp {
    /// The stamp to remember, `None` when it cannot be trusted: a file modified within the
    /// last 2 seconds could be modified again within the filesystem's timestamp granularity
    /// without changing its length ("racy" timestamps), so it is re-read at the next check.
    fn settled(self) -> Option<Self> {
        let recent = self.modified.is_none_or(|m| {
            SystemTime::now()
                .duration_since(m)
                .map_or(true, |age| age < Duration::from_secs(2))
        });
        (!recent).then_some(self)
    }

    fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt as _;
        Self {
            modified: meta.modified().ok(),
            len: meta.len(),
            #[cfg(unix)]
            inode: meta.ino(),
        }
    }
}

/// A parsed file kept current: on access, at most once per interval, the file's metadata
/// (mtime, length, inode) is compared with the loaded version's, and the file is re-read when
/// they differ, or when the loaded version was modified less than 2 s before it was read (a
/// second write within the timestamp granularity would be invisible otherwise). Readers always see a whole table (an `Arc` swapped under a lock). The stamp is
/// taken before reading, so a write racing with the read makes the next check reload again. A
/// file that disappears or cannot be read keeps the last table (and is logged).
struct Watched<T> {
    path: PathBuf,
    kind: &'static str,
    parse: fn(&[u8], &Path, &EntryKeys) -> T,
    /// The seed of the cache keys of the file's hashes, the same for every version.
    keys: EntryKeys,
    current: RwLock<Arc<T>>,
    /// The loaded version's stamp; `None`: re-read at the next check.
    stamp: Mutex<Option<Stamp>>,
    epoch: Instant,
    next_check: AtomicU64,
    interval_ns: AtomicU64,
}

impl<T> Watched<T> {
    fn open(
        path: &Path,
        kind: &'static str,
        parse: fn(&[u8], &Path, &EntryKeys) -> T,
    ) -> io::Result<Self> {
        let stamp = Stamp::of(&std::fs::metadata(path)?);
        let keys = EntryKeys::new();
        let table = parse(&std::fs::read(path)?, path, &keys);
        Ok(Self {
            path: path.to_owned(),
            kind,
            parse,
            keys,
            current: RwLock::new(Arc::new(table)),
            stamp: Mutex::new(stamp.settled()),
            epoch: Instant::now(),
            next_check: AtomicU64::new(0),
            interval_ns: AtomicU64::new(nanos(DEFAULT_RELOAD_INTERVAL)),
        })
    }

    fn set_interval(&self, interval: Duration) {
        self.interval_ns.store(nanos(interval), Ordering::Relaxed);
        self.next_check.store(0, Ordering::Relaxed);
    }

    fn get(&self) -> Arc<T> {
        let now = nanos(self.epoch.elapsed());
        let next = self.next_check.load(Ordering::Relaxed);
        if now >= next {
            let interval = self.interval_ns.load(Ordering::Relaxed);
            // One caller per interval checks; the others use the current table.
            if self
                .next_check
                .compare_exchange(
                    next,
                    now.saturating_add(interval),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                if let Err(err) = self.reload(false) {
                    tracing::warn!(
                        target: "httpauth",
                        path = %self.path.display(),
                        "httpauth: cannot reload {} file, keeping the last version: {err}",
                        self.kind
                    );
                }
            }
        }
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the file if it changed (or always, with `force`); whether it was re-read.
    fn reload(&self, force: bool) -> io::Result<bool> {
        let mut stamp = self.stamp.lock().unwrap_or_else(PoisonError::into_inner);
        let new = Stamp::of(&std::fs::metadata(&self.path)?);
        if !force && Some(new) == *stamp {
            return Ok(false);
        }
        let table = (self.parse)(&std::fs::read(&self.path)?, &self.path, &self.keys);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(table);
        *stamp = new.settled();
        Ok(true)
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The file's lines: number (from 1) and text, UTF-8 or else Latin-1 (as Basic decodes
/// credentials), without the line ending; blank lines and `#` comments left out.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, String)> + '_ {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let text = match std::str::from_utf8(line) {
                Ok(s) => s.to_owned(),
                Err(_) => line.iter().map(|&b| char::from(b)).collect(),
            };
            let trimmed = text.trim();
            (!trimmed.is_empty() && !trimmed.starts_with('#')).then_some((i + 1, text))
        })
}

fn skip(kind: &str, path: &Path, line: usize, reason: &dyn fmt::Display) {
    tracing::warn!(
        target: "httpauth",
        path = %path.display(),
        line,
        "httpauth: {kind} line {line}: {reason}; line skipped"
    );
}

struct HtpasswdTable {
    /// user → (hash, its cache key).
    users: UserMap<(Arc<str>, EntryKey)>,
    /// A hash of the file's most common format, for unknown users.
    dummy: Option<Arc<str>>,
    /// One hash per cost class in the file, registered with the checker on first use.
    classes: Vec<Arc<str>>,
    registered: std::sync::atomic::AtomicBool,
}

fn parse_htpasswd(bytes: &[u8], path: &Path, keys: &EntryKeys) -> HtpasswdTable {
    let mut users: UserMap<(Arc<str>, EntryKey)> = UserMap::default();
    let mut by_algorithm: HashMap<HashAlgorithm, (usize, Arc<str>)> = HashMap::new();
    let mut classes: HashMap<String, Arc<str>> = HashMap::new();
    for (n, line) in lines(bytes) {
        let Some((user, hash)) = line.split_once(':') else {
            skip("htpasswd", path, n, &"no colon");
            continue;
        };
        let hash = hash.trim_end();
        if user.is_empty() {
            skip("htpasswd", path, n, &"empty username");
            continue;
        }
        let algorithm = match validate_hash(hash) {
            Ok(alg) => alg,
            Err(err) => {
                skip("htpasswd", path, n, &err);
                continue;
            }
        };
        if users.contains_key(user) {
            skip("htpasswd", path, n, &"duplicate user (the first line wins)");
            continue;
        }
        let hash: Arc<str> = hash.into();
        by_algorithm.entry(algorithm).or_insert((0, hash.clone())).0 += 1;
        classes
            .entry(cost_class(&hash).to_owned())
            .or_insert_with(|| hash.clone());
        let key = keys.of(&hash);
        users.insert(user.to_owned(), (hash, key));
    }
    let dummy = by_algorithm
        .into_values()
        .max_by_key(|(count, _)| *count)
        .map(|(_, hash)| hash);
    HtpasswdTable {
        users,
        dummy,
        classes: classes.into_values().collect(),
        registered: std::sync::atomic::AtomicBool::new(false),
    }
}

/// An Apache htpasswd file (`user:hash` lines) as a verify-password callback.
///
/// Every format of [`check_password_hash`](super::check_password_hash) is accepted: what
/// `htpasswd` writes with `-B` (bcrypt), `-m` (apr1, its default), `-s` ({SHA}), `-2`/`-5`
/// (sha-crypt), and werkzeug or PHC hashes. Not accepted: `-d` (DES crypt) and `-p`
/// (plain text).
///
/// - Blank lines and `#` comments are ignored; a malformed line (no colon, unknown or invalid
///   hash, duplicate user) is logged as a `tracing` warning with its line number and skipped.
/// - The file is re-read when it changes: on access, at most once per
///   [`reload_interval`](Self::reload_interval) (default 1 s), its mtime, length and inode are
///   compared with the loaded version's. A failed reload keeps the last version. Replace the
///   file atomically (write a temporary file, then rename) to avoid serving a half-written
///   one for an instant.
/// - Checks go through a [`PasswordChecker`] (cache, bounded pool). An unknown user is checked
///   against a hash of the file's most common format, so it costs what a wrong password costs.
/// - The user is the username.
///
/// ```no_run
/// use httpauth::password::HtpasswdFile;
/// use httpauth::BasicAuth;
///
/// let users = HtpasswdFile::open("/etc/myapp/htpasswd")?;
/// let auth = BasicAuth::verify_password(users);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct HtpasswdFile {
    file: Arc<Watched<HtpasswdTable>>,
    checker: PasswordChecker,
    fallback: Dummy,
}

impl fmt::Debug for HtpasswdFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HtpasswdFile")
            .field("path", &self.file.path)
            .field("checker", &self.checker)
            .finish_non_exhaustive()
    }
}

impl HtpasswdFile {
    /// Reads the file.
    ///
    /// # Errors
    ///
    /// When it cannot be read (a malformed line is not an error: it is skipped).
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self {
            file: Arc::new(Watched::open(path.as_ref(), "htpasswd", parse_htpasswd)?),
            checker: PasswordChecker::new(),
            fallback: Dummy::lazy(Params::OWASP),
        })
    }

    /// Checks through this checker (its cache, pool and counters) instead of a default one.
    #[must_use]
    pub fn with_checker(mut self, checker: PasswordChecker) -> Self {
        self.checker = checker;
        // The new checker has not seen this version's classes.
        self.file.get().registered.store(false, Ordering::Relaxed);
        self
    }

    /// How often, at most, the file's metadata is checked (default 1 s; zero: on every
    /// access).
    #[must_use]
    pub fn reload_interval(self, interval: Duration) -> Self {
        self.file.set_interval(interval);
        self
    }

    /// Re-reads the file now.
    ///
    /// # Errors
    ///
    /// When it cannot be read; the last version stays.
    pub fn reload(&self) -> io::Result<()> {
        self.file.reload(true).map(|_| ())
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// The usernames (sorted).
    #[must_use]
    pub fn usernames(&self) -> Vec<String> {
        let mut names: Vec<String> = self.file.get().users.keys().cloned().collect();
        names.sort();
        names
    }

    /// Whether the user is in the file.
    #[must_use]
    pub fn contains(&self, username: &str) -> bool {
        self.file.get().users.contains_key(username)
    }

    /// How many users.
    #[must_use]
    pub fn len(&self) -> usize {
        self.file.get().users.len()
    }

    /// Whether the file has no valid user.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The checker (cache statistics, clearing).
    #[must_use]
    pub fn checker(&self) -> &PasswordChecker {
        &self.checker
    }

    /// Returns your user type instead of the username (see
    /// [`HashedPasswords::map_user`](crate::password::HashedPasswords::map_user)).
    pub fn map_user<U, F>(self, map: F) -> super::store::MapUser<Self, F>
    where
        F: Fn(&str) -> Option<U> + Send + Sync + 'static,
    {
        super::store::MapUser::new(self, map)
    }
}

impl VerifyPassword for HtpasswdFile {
    type User = String;

    /// A cache hit answers at once (a ready future: the layer decides inline). A check the
    /// hashing pool refuses answers 503 ([`AuthErrorKind::Overloaded`](crate::AuthErrorKind::Overloaded)).
    fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> AuthFuture<Result<Option<String>, AuthError>> {
        let table = self.file.get();
        if !table.registered.load(Ordering::Relaxed)
            && !table.registered.swap(true, Ordering::Relaxed)
        {
            // Each cost class in this version of the file is measured before the next
            // refusal, which is then padded to the most expensive one.
            for hash in &table.classes {
                self.checker.register_arc(hash);
            }
        }
        let miss = match table.users.get(username) {
            Some((hash, key)) => {
                match self.checker.lookup(username, password, Stored::Entry(key)) {
                    Lookup::Hit => return AuthFuture::ready(Ok(Some(username.to_owned()))),
                    Lookup::TooLong => return AuthFuture::ready(Ok(None)),
                    Lookup::Miss(key) => Miss::Known(hash.clone(), key),
                }
            }
            // Unknown users: a hash of this version of the file, else the argon2id fallback.
            None => Miss::Unknown(
                table
                    .dummy
                    .clone()
                    .map_or_else(|| self.fallback.clone(), Dummy::Fixed),
            ),
        };
        let user = username.to_owned();
        self.checker
            .verify_miss(username, password, miss, move || Some(user))
    }
}

struct HtdigestTable {
    /// user → (realm, HA1 in lowercase hex)
    users: HashMap<String, Vec<(String, String)>>,
}

fn parse_htdigest(bytes: &[u8], path: &Path, _keys: &EntryKeys) -> HtdigestTable {
    let mut users: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for (n, line) in lines(bytes) {
        let line = line.trim_end();
        // user:realm:ha1 — the realm may contain colons, the user and HA1 cannot.
        let (Some((user, rest)), Some((_, ha1))) = (line.split_once(':'), line.rsplit_once(':'))
        else {
            skip("htdigest", path, n, &"not user:realm:HA1");
            continue;
        };
        let Some((realm, _)) = rest.rsplit_once(':') else {
            skip("htdigest", path, n, &"not user:realm:HA1");
            continue;
        };
        if user.is_empty() {
            skip("htdigest", path, n, &"empty username");
            continue;
        }
        if !matches!(ha1.len(), 32 | 64) || !ha1.bytes().all(|b| b.is_ascii_hexdigit()) {
            skip(
                "htdigest",
                path,
                n,
                &"HA1 is not 32 (MD5) or 64 (SHA-256) hex digits",
            );
            continue;
        }
        let entries = users.entry(user.to_owned()).or_default();
        if entries.iter().any(|(r, _)| r == realm) {
            skip(
                "htdigest",
                path,
                n,
                &"duplicate user and realm (the first line wins)",
            );
            continue;
        }
        entries.push((realm.to_owned(), ha1.to_ascii_lowercase()));
    }
    HtdigestTable { users }
}

/// An Apache htdigest file (`user:realm:HA1` lines, as written by `htdigest`), for Digest
/// authentication's HA1 mode: [`ha1`](Self::ha1) gives `MD5(user:realm:password)` in hex.
///
/// Same rules as [`HtpasswdFile`]: comments and blank lines ignored, malformed lines logged with
/// their number and skipped, the file re-read when it changes (checked at most once per
/// [`reload_interval`](Self::reload_interval)). A 64-digit HA1 (SHA-256) is accepted too.
///
/// ```no_run
/// use httpauth::password::HtdigestFile;
///
/// let users = HtdigestFile::open("/etc/myapp/htdigest")?;
/// let ha1: Option<String> = users.ha1("john", "My Realm");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct HtdigestFile {
    file: Arc<Watched<HtdigestTable>>,
}

impl fmt::Debug for HtdigestFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HtdigestFile")
            .field("path", &self.file.path)
            .finish_non_exhaustive()
    }
}

impl HtdigestFile {
    /// Reads the file.
    ///
    /// # Errors
    ///
    /// When it cannot be read (a malformed line is not an error: it is skipped).
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self {
            file: Arc::new(Watched::open(path.as_ref(), "htdigest", parse_htdigest)?),
        })
    }

    /// How often, at most, the file's metadata is checked (default 1 s; zero: on every
    /// access).
    #[must_use]
    pub fn reload_interval(self, interval: Duration) -> Self {
        self.file.set_interval(interval);
        self
    }

    /// Re-reads the file now.
    ///
    /// # Errors
    ///
    /// When it cannot be read; the last version stays.
    pub fn reload(&self) -> io::Result<()> {
        self.file.reload(true).map(|_| ())
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// The HA1 (lowercase hex) of `user` in `realm`, or `None`.
    #[must_use]
    pub fn ha1(&self, user: &str, realm: &str) -> Option<String> {
        self.file
            .get()
            .users
            .get(user)?
            .iter()
            .find(|(r, _)| r == realm)
            .map(|(_, ha1)| ha1.clone())
    }

    /// How many (user, realm) entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.file.get().users.values().map(Vec::len).sum()
    }

    /// Whether the file has no valid entry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
