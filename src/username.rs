//! [`Usernames`]: how an application's usernames compare. One rule, set on the auth object,
//! makes every spelling of a name one user everywhere the library looks at names: the
//! throttle's per-username counts, the name the verify callback and the stores are asked
//! about, the verified-credential cache and [`Username`](crate::Username).
//!
//! A store is asked about the canonical name only, so it keeps its users under their canonical
//! names (with [`Usernames::case_insensitive`], insert `john`, not `John`; a database can
//! store a lowercased column, or compare with `lower(name) = ?`).
//!
//! ```
//! use httpauth::{BasicAuth, Usernames};
//! use httpauth::scheme::AuthRequest;
//! use httpauth::policy::Decision;
//!
//! // The callback is asked about the canonical name only: "john", whatever the spelling.
//! let auth = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then(|| u.to_owned()))
//!     .usernames(Usernames::case_insensitive());
//! let route = auth.login_required();
//!
//! let req = http::Request::get("/").header("authorization", "Basic Sk9ITjpoZWxsbw==").body(()).unwrap(); // JOHN:hello
//! match route.check(&AuthRequest::new(&req)).into_ready() {
//!     Ok(Decision::Allow { identity: Some(id), .. }) => assert_eq!(id.username(), Some("john")),
//!     _ => panic!("JOHN is john"),
//! }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use unicode_normalization::UnicodeNormalization;

/// How usernames compare: the canonical form of a name the client sent. See the
/// [module docs](self).
#[derive(Clone, Default)]
pub struct Usernames(Rule);

type Canonical = Arc<dyn Fn(&str) -> String + Send + Sync>;

#[derive(Clone, Default)]
enum Rule {
    #[default]
    Exact,
    CaseInsensitive,
    Nfkc,
    NfkcCaseInsensitive,
    Custom(Canonical),
}

impl Usernames {
    /// Names compare byte for byte (the default, as Flask-HTTPAuth).
    #[must_use]
    pub fn exact() -> Self {
        Self(Rule::Exact)
    }

    /// Names compare ignoring case (Unicode lowercase): `John`, `JOHN` and `john` are one user.
    /// The usual rule for e-mail addresses and directory (LDAP) logins.
    #[must_use]
    pub fn case_insensitive() -> Self {
        Self(Rule::CaseInsensitive)
    }

    /// Names compare after Unicode NFKC normalization (UAX #15), so compatibility forms
    /// (full-width letters, ligatures, composed and decomposed accents) are one name.
    #[must_use]
    pub fn nfkc() -> Self {
        Self(Rule::Nfkc)
    }

    /// NFKC, then lowercase: the rule of [`nfkc`](Self::nfkc) and of
    /// [`case_insensitive`](Self::case_insensitive) together.
    #[must_use]
    pub fn nfkc_case_insensitive() -> Self {
        Self(Rule::NfkcCaseInsensitive)
    }

    /// Your own rule: a function from a name to its canonical form. It should be idempotent
    /// (a canonical name maps to itself).
    #[must_use]
    pub fn custom<F>(canonical: F) -> Self
    where
        F: Fn(&str) -> String + Send + Sync + 'static,
    {
        Self(Rule::Custom(Arc::new(canonical)))
    }

    /// The canonical form of `name` (borrowed when it already is).
    #[must_use]
    #[inline]
    pub fn canonical<'a>(&self, name: &'a str) -> Cow<'a, str> {
        match &self.0 {
            Rule::Exact => Cow::Borrowed(name),
            Rule::CaseInsensitive => lowercase(Cow::Borrowed(name)),
            Rule::Nfkc => nfkc(name),
            Rule::NfkcCaseInsensitive => nfkc_lowercase(name),
            Rule::Custom(f) => Cow::Owned(f(name)),
        }
    }

    /// Whether two names are one user under this rule.
    #[must_use]
    pub fn same(&self, a: &str, b: &str) -> bool {
        self.canonical(a) == self.canonical(b)
    }
}

fn lowercase(name: Cow<'_, str>) -> Cow<'_, str> {
    if name.chars().any(char::is_uppercase) {
        Cow::Owned(name.to_lowercase())
    } else {
        name
    }
}

/// NFKC and lowercase until neither changes the name (a lowercase letter's NFKC form can be
/// uppercase: `ℌ` is `H`); at most a few rounds.
fn nfkc_lowercase(name: &str) -> Cow<'_, str> {
    let mut current = lowercase(nfkc(name));
    for _ in 0..4 {
        let next = lowercase(nfkc(&current)).into_owned();
        if next == *current {
            break;
        }
        current = Cow::Owned(next);
    }
    current
}

fn nfkc(name: &str) -> Cow<'_, str> {
    if name.is_ascii()
        || unicode_normalization::is_nfkc_quick(name.chars())
            == unicode_normalization::IsNormalized::Yes
    {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.nfkc().collect())
    }
}

impl fmt::Debug for Usernames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Rule::Exact => "Usernames::exact",
            Rule::CaseInsensitive => "Usernames::case_insensitive",
            Rule::Nfkc => "Usernames::nfkc",
            Rule::NfkcCaseInsensitive => "Usernames::nfkc_case_insensitive",
            Rule::Custom(_) => "Usernames::custom",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rules() {
        assert_eq!(Usernames::exact().canonical("John"), "John");
        assert_eq!(Usernames::case_insensitive().canonical("JoHN"), "john");
        assert_eq!(Usernames::case_insensitive().canonical("ÉLODIE"), "élodie");
        // Full-width letters and the "fi" ligature are their ASCII forms under NFKC.
        assert_eq!(Usernames::nfkc().canonical("ｊｏｈｎ"), "john");
        assert_eq!(Usernames::nfkc().canonical("ﬁona"), "fiona");
        assert_eq!(
            Usernames::nfkc_case_insensitive().canonical("ＪＯＨＮ"),
            "john"
        );
        assert_eq!(Usernames::nfkc_case_insensitive().canonical("ℌi"), "hi");
        let custom = Usernames::custom(|n| n.trim().to_ascii_lowercase());
        assert!(custom.same(" John ", "john"));
        assert!(matches!(
            Usernames::case_insensitive().canonical("john"),
            Cow::Borrowed(_)
        ));
    }

    proptest! {
        #[test]
        fn canonical_forms_are_fixed_points(name in "\\PC{0,12}") {
            for rule in [Usernames::exact(), Usernames::case_insensitive(), Usernames::nfkc(), Usernames::nfkc_case_insensitive()] {
                let once = rule.canonical(&name).into_owned();
                let twice = rule.canonical(&once).into_owned();
                prop_assert_eq!(&once, &twice, "{:?}", rule);
            }
        }
    }
}
