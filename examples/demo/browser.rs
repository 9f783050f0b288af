//! Test-only additions for the browser tests (`tests/browser/`, `scripts/browser-tests.sh`),
//! mounted only with `--browser-test`; without the flag the demo is exactly the contract's.
//!
//! - `/digest-short`: Digest as `/digest` (MD5, `qop="auth"`) with a 2-second nonce lifetime,
//!   so a browser meets `stale=true` within a test.
//! - An authentication log: for every request, the path, the status, what the client put in
//!   its `Authorization` header (for Digest: username, realm, uri, algorithm, qop, nonce, nc,
//!   cnonce, never the response; for Basic: only whether the decoded credentials are UTF-8
//!   and whether they are ASCII, never the user or password) and the challenges of the
//!   response (scheme; for Digest also nonce, algorithm, qop, stale). `GET /__test/auth-log`
//!   returns it as a JSON array, `POST /__test/auth-log/clear` empties it. It keeps the last
//!   [`MAX_ENTRIES`] entries.
//!
//! ```text
//! cargo run --example demo -- --port 3000 --browser-test
//! curl --digest -u john:hello http://127.0.0.1:3000/digest-short   # Hello, john!
//! curl http://127.0.0.1:3000/__test/auth-log                       # [{"path":"/digest-short",...}]
//! ```

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use httpauth::digest::DigestAuth;
use httpauth::Username;
use serde_json::{json, Map, Value};

use crate::users::USERS;

/// The nonce lifetime of `/digest-short`.
pub(crate) const SHORT_NONCE_LIFETIME: Duration = Duration::from_secs(2);

/// How many log entries are kept (the oldest are dropped first).
pub(crate) const MAX_ENTRIES: usize = 10_000;

#[derive(Clone, Default)]
struct AuthLog(Arc<Mutex<VecDeque<Value>>>);

impl AuthLog {
    fn push(&self, entry: Value) {
        let mut log = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if log.len() == MAX_ENTRIES {
            log.pop_front();
        }
        log.push_back(entry);
    }

    fn snapshot(&self) -> Vec<Value> {
        let log = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        log.iter().cloned().collect()
    }

    fn clear(&self) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

async fn hello(Username(name): Username) -> String {
    format!("Hello, {name}!")
}

/// Adds the test-only routes and the authentication log to the demo's router.
pub(crate) fn with_browser_test_routes(app: Router) -> Router {
    let log = AuthLog::default();
    let short = DigestAuth::get_password_sync(|username: &str| {
        USERS
            .iter()
            .find(|(name, ..)| *name == username)
            .map(|(_, password, ..)| (*password).to_owned())
    })
    .nonce_lifetime(SHORT_NONCE_LIFETIME);
    let test_routes = Router::new()
        .route(
            "/__test/auth-log",
            get(|State(log): State<AuthLog>| async move { Json(log.snapshot()) }),
        )
        .route(
            "/__test/auth-log/clear",
            post(|State(log): State<AuthLog>| async move {
                log.clear();
                "cleared"
            }),
        )
        .with_state(log.clone());
    app.route(
        "/digest-short",
        get(hello).route_layer(short.login_required()),
    )
    .merge(test_routes)
    .layer(middleware::from_fn_with_state(log, record))
}

/// The log middleware: one entry per request outside `/__test/`.
async fn record(State(log): State<AuthLog>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with("/__test/") {
        return next.run(req).await;
    }
    let authorization = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .map(|value| describe_authorization(value.as_bytes()));
    let response = next.run(req).await;
    let challenges: Vec<Value> = response
        .headers()
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(describe_challenge)
        .collect();
    log.push(json!({
        "path": path,
        "status": response.status().as_u16(),
        "authorization": authorization,
        "challenges": challenges,
    }));
    response
}

/// What the log keeps of an `Authorization` header (no secrets).
fn describe_authorization(value: &[u8]) -> Value {
    let text = String::from_utf8_lossy(value);
    let (scheme, rest) = text.split_once(' ').unwrap_or((&text, ""));
    let mut entry = Map::new();
    entry.insert("scheme".into(), scheme.into());
    if scheme.eq_ignore_ascii_case("digest") {
        for (name, value) in params(rest) {
            let name = name.to_ascii_lowercase();
            if matches!(
                name.as_str(),
                "username" | "realm" | "uri" | "algorithm" | "qop" | "nonce" | "nc" | "cnonce"
            ) {
                entry.insert(name, value.into());
            }
        }
    } else if scheme.eq_ignore_ascii_case("basic") || scheme.eq_ignore_ascii_case("custombasic") {
        if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest.trim()) {
            entry.insert(
                "credentials_utf8".into(),
                std::str::from_utf8(&decoded).is_ok().into(),
            );
            entry.insert("credentials_ascii".into(), decoded.is_ascii().into());
        }
    }
    Value::Object(entry)
}

/// What the log keeps of a challenge: its scheme, and for Digest its nonce, algorithm, qop and
/// stale.
fn describe_challenge(value: &str) -> Value {
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let mut entry = Map::new();
    entry.insert("scheme".into(), scheme.into());
    if !scheme.eq_ignore_ascii_case("digest") {
        return Value::Object(entry);
    }
    for (name, value) in params(rest) {
        let name = name.to_ascii_lowercase();
        if matches!(name.as_str(), "nonce" | "algorithm" | "stale" | "qop") {
            entry.insert(name, value.into());
        }
    }
    Value::Object(entry)
}

/// `name=token` / `name="quoted string"` pairs, comma-separated; enough for a log.
fn params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            name.push(c);
            chars.next();
        }
        if name.is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => value.extend(chars.next()),
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.push((name.trim().to_owned(), value.trim().to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_digest_params() {
        let p = params(r#"username="john", nc=00000001, qop=auth, uri="/a,b", x="q\"d""#);
        assert_eq!(p[0], ("username".into(), "john".into()));
        assert_eq!(p[1], ("nc".into(), "00000001".into()));
        assert_eq!(p[2], ("qop".into(), "auth".into()));
        assert_eq!(p[3], ("uri".into(), "/a,b".into()));
        assert_eq!(p[4], ("x".into(), "q\"d".into()));
    }

    #[test]
    fn basic_is_described_without_secrets() {
        let v = describe_authorization(b"Basic am9objpoZWxsbw==");
        assert_eq!(
            v,
            json!({"scheme": "Basic", "credentials_utf8": true, "credentials_ascii": true})
        );
    }
}
