//! The audit events: one `tracing` event per decision (target `httpauth`), and the user on
//! the request's span. Field names are stable and documented in docs/deployment.md
//! ("Audit events") and SECURITY.md; never a password, token or hash.

use std::net::IpAddr;

use crate::error::{AuthError, AuthErrorKind};
use crate::scheme::AuthRequest;

/// The longest `url.path` an event carries (longer paths are cut at a character boundary).
const MAX_PATH: usize = 256;

/// Whether the decision events are on: when not, nothing is gathered for them (the check is
/// an atomic load once the callsite is registered).
#[inline]
pub(crate) fn enabled() -> bool {
    tracing::enabled!(target: "httpauth", tracing::Level::INFO)
}

/// The request's path for an event: the target without its query (which may hold a token),
/// at most [`MAX_PATH`] bytes.
pub(crate) fn path(req: &AuthRequest<'_>) -> Box<str> {
    let target = req.target();
    let path = target.split('?').next().unwrap_or(target);
    let mut end = path.len().min(MAX_PATH);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    path[..end].into()
}

/// A success: `authentication succeeded` at INFO with `outcome="allowed"`, the scheme, the
/// user (the canonical username; empty for a token that names none), the client address and
/// the path.
#[cold]
#[inline(never)]
pub(crate) fn allowed(scheme: &str, user: Option<&str>, addr: Option<IpAddr>, path: &str) {
    let user = user.map(bounded);
    let user = user.as_deref().unwrap_or("");
    let client = addr.map(|a| a.to_string());
    let client = client.as_deref().unwrap_or("");
    tracing::info!(
        target: "httpauth",
        scheme,
        user,
        client,
        outcome = "allowed",
        url.path = path,
        "authentication succeeded"
    );
}

/// Records the authenticated user as `enduser.id` on the current span, when the application
/// declared that field (`tracing::info_span!("request", enduser.id = tracing::field::Empty)`).
/// Called only once a subscriber was set and enables `httpauth` events at INFO.
pub(crate) fn record_user(user: Option<&str>) {
    if let Some(user) = user {
        tracing::Span::current().record("enduser.id", user);
    }
}

/// The `outcome` of a refusal.
pub(crate) const fn outcome(kind: AuthErrorKind) -> &'static str {
    match kind {
        AuthErrorKind::Forbidden => "forbidden",
        AuthErrorKind::TooManyAttempts => "throttled",
        AuthErrorKind::Unavailable => "unavailable",
        AuthErrorKind::Overloaded => "overloaded",
        _ => "refused",
    }
}

/// The one event of a refusal: the reason, the scheme, the username the client claimed
/// (escaped, at most 64 characters) and the client address, then the outcome, the error's
/// code and the path. A stable line for fail2ban: `authentication refused status=401
/// reason="invalid credentials" ... user="john" client="203.0.113.9" ...`. Attacker-triggered
/// conditions log at INFO at most; no credentials at all is DEBUG (every browser's first
/// request).
#[cold]
#[inline(never)]
pub(crate) fn refused(err: &AuthError, user: Option<&str>, addr: Option<IpAddr>, path: &str) {
    let user = user.map(bounded);
    let user = user.as_deref().unwrap_or("");
    let client = addr.map(|a| a.to_string());
    let client = client.as_deref().unwrap_or("");
    let outcome = outcome(err.kind());
    if err.kind() == AuthErrorKind::MissingCredentials {
        tracing::debug!(
            target: "httpauth",
            status = err.status().as_u16(),
            reason = err.reason(),
            client,
            outcome,
            error.type = err.kind().code(),
            url.path = path,
            "no credentials"
        );
    } else {
        tracing::info!(
            target: "httpauth",
            status = err.status().as_u16(),
            reason = err.reason(),
            detail = err.detail().unwrap_or(""),
            scheme = err.scheme().unwrap_or(""),
            user,
            client,
            outcome,
            error.type = err.kind().code(),
            url.path = path,
            "authentication refused"
        );
    }
}

/// A username for a log line: control characters, quotes and backslashes escaped, at most 64
/// characters.
fn bounded(name: &str) -> String {
    let mut out: String = name.chars().take(64).flat_map(char::escape_debug).collect();
    if name.chars().nth(64).is_some() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_names_are_escaped_and_bounded() {
        assert_eq!(super::bounded("jo\"hn\n"), "jo\\\"hn\\n");
        let long = "x".repeat(100);
        assert_eq!(super::bounded(&long), format!("{}...", "x".repeat(64)));
    }
}
