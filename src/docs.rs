//! The project's long-form documentation: the `docs/*.md` pages of the repository, one module
//! per page, so that they render on docs.rs beside the API and their Rust examples run as
//! doctests. The modules hold nothing else.
//!
//! - [`compatibility`]: every point where httpauth differs from Flask-HTTPAuth, with its reason.
//! - [`digest`]: Digest authentication (RFC 7616): design, security notes, costs.
//! - [`passwords`]: password hashes, user files and the verified-credential cache.
//! - [`performance`]: what a request costs, how it was measured, load tests, fuzzing.
//! - [`browsers`]: what real browsers do with Basic and Digest.
//! - [`demo_contract`]: the contract of `cargo run --example demo`.
//! - [`deployment`]: one instance or several (Redis), what is shared, failure modes.
//! - [`migrating_from_tower_http`]: from tower-http's `ValidateRequestHeaderLayer::basic` /
//!   `::bearer`.
//! - `migrating_from_actix_web_httpauth` (feature `actix`): from actix-web-httpauth's
//!   `HttpAuthentication::basic` / `::bearer` and its extractors.
//!
//! A page links to another page with a reference-style link (`[digest.md]`) whose definition at
//! the end of the page (`[digest.md]: digest.md`) works on GitHub. Each module below starts with
//! definitions of the same labels pointing at the modules; in Markdown the first definition of
//! a label wins, so the same link works in rustdoc too.

/// One module per page: the rustdoc-side link definitions, then the page.
macro_rules! page {
    ($name:ident, $file:literal) => {
        page!(@ $name, doc = include_str!($file));
    };
    (@ $name:ident, $page:meta) => {
        #[doc = "[compatibility.md]: crate::docs::compatibility"]
        #[doc = "[digest.md]: crate::docs::digest"]
        #[doc = "[passwords.md]: crate::docs::passwords"]
        #[doc = "[performance.md]: crate::docs::performance"]
        #[doc = "[browsers.md]: crate::docs::browsers"]
        #[doc = "[demo-contract.md]: crate::docs::demo_contract"]
        #[doc = "[deployment.md]: crate::docs::deployment"]
        #[doc = "[migrating-from-tower-http.md]: crate::docs::migrating_from_tower_http"]
        #[doc = ""]
        #[$page]
        pub mod $name {}
    };
}

page!(compatibility, "../docs/compatibility.md");
page!(digest, "../docs/digest.md");
page!(passwords, "../docs/passwords.md");
page!(performance, "../docs/performance.md");
page!(browsers, "../docs/browsers.md");
page!(demo_contract, "../docs/demo-contract.md");
page!(deployment, "../docs/deployment.md");
page!(
    migrating_from_tower_http,
    "../docs/migrating-from-tower-http.md"
);
#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
page!(
    migrating_from_actix_web_httpauth,
    "../docs/migrating-from-actix-web-httpauth.md"
);
