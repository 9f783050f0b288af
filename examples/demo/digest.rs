//! The demo's Digest routes (`/digest`, `/digest-sha256`, `/digest-ha1`).

use axum::Router;

/// The Digest routes.
pub(crate) fn routes() -> Router {
    Router::new()
}
