//! Password hashing, user files and the verified-credential cache. Work in progress.
