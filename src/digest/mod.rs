//! HTTP Digest authentication (RFC 7616). Work in progress.
