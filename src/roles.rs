//! User roles and route role requirements (Flask-HTTPAuth's `login_required(role=...)`).
//!
//! A [`RoleRequirement`] is a list of alternatives; the user passes when they hold **every**
//! role of **any** alternative:
//!
//! | Flask-HTTPAuth | httpauth |
//! |---|---|
//! | `role='admin'` | `RoleRequirement::role("admin")` (or just `"admin"`) |
//! | `role=['admin', 'moderator']` | `RoleRequirement::any_of(["admin", "moderator"])` |
//! | `role=['user', ['moderator', 'contributor']]` | `RoleRequirement::role("user").or(RoleRequirement::all_of(["moderator", "contributor"]))` |
//!
//! ```
//! use httpauth::{RoleRequirement, Roles};
//!
//! let contrib = RoleRequirement::role("admin").or(RoleRequirement::all_of(["moderator", "contributor"]));
//! assert!(contrib.is_satisfied_by(&Roles::from(["contributor", "moderator"])));
//! assert!(!contrib.is_satisfied_by(&Roles::from("moderator")));
//! assert!(!RoleRequirement::role("admin").is_satisfied_by(&Roles::from("administrator")));
//! ```
//!
//! A route that requires roles runs the scheme's get-user-roles callback after authentication
//! and answers 403 (with the challenge) when the requirement is not met; the handler and its
//! extractors never run.

use std::fmt;

/// The roles a user holds. A single string is **one** role, never a list of characters.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Roles(Vec<String>);

impl Roles {
    /// No roles.
    #[must_use]
    pub const fn none() -> Self {
        Self(Vec::new())
    }

    /// Whether the user holds `role` (exact, case-sensitive match).
    #[must_use]
    pub fn contains(&self, role: &str) -> bool {
        self.0.iter().any(|r| r == role)
    }

    /// The roles, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Debug for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(&self.0).finish()
    }
}

impl From<&str> for Roles {
    fn from(role: &str) -> Self {
        Self(vec![role.to_owned()])
    }
}

impl From<String> for Roles {
    fn from(role: String) -> Self {
        Self(vec![role])
    }
}

impl<S: Into<String>> From<Vec<S>> for Roles {
    fn from(roles: Vec<S>) -> Self {
        roles.into_iter().collect()
    }
}

impl<S: Into<String>, const N: usize> From<[S; N]> for Roles {
    fn from(roles: [S; N]) -> Self {
        roles.into_iter().collect()
    }
}

impl<S: Into<String> + Clone> From<&[S]> for Roles {
    fn from(roles: &[S]) -> Self {
        roles.iter().cloned().collect()
    }
}

impl<T: Into<Roles>> From<Option<T>> for Roles {
    /// `None` is no roles (Flask-HTTPAuth: a callback returning `None`).
    fn from(roles: Option<T>) -> Self {
        roles.map(Into::into).unwrap_or_default()
    }
}

impl<S: Into<String>> FromIterator<S> for Roles {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Self(iter.into_iter().map(Into::into).collect())
    }
}

/// What a route requires: any one of several alternatives, each a set of roles that must all
/// be held.
#[derive(Clone, PartialEq, Eq)]
pub struct RoleRequirement {
    alternatives: Vec<Vec<String>>,
}

impl RoleRequirement {
    /// One role.
    pub fn role(role: impl Into<String>) -> Self {
        Self {
            alternatives: vec![vec![role.into()]],
        }
    }

    /// Any one of these roles. An empty list can never be satisfied (403), as in
    /// Flask-HTTPAuth.
    pub fn any_of<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            alternatives: roles.into_iter().map(|r| vec![r.into()]).collect(),
        }
    }

    /// All of these roles. An empty list can never be satisfied: an empty requirement that
    /// granted everyone would be a trap (Flask-HTTPAuth grants it; documented deviation).
    pub fn all_of<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let all: Vec<String> = roles.into_iter().map(Into::into).collect();
        Self {
            alternatives: if all.is_empty() {
                Vec::new()
            } else {
                vec![all]
            },
        }
    }

    /// Either this requirement or `other`.
    #[must_use]
    pub fn or(mut self, other: Self) -> Self {
        self.alternatives.extend(other.alternatives);
        self
    }

    /// Whether a user holding `roles` passes.
    #[must_use]
    pub fn is_satisfied_by(&self, roles: &Roles) -> bool {
        self.alternatives
            .iter()
            .any(|all| all.iter().all(|role| roles.contains(role)))
    }
}

impl fmt::Debug for RoleRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AnyOf").field(&self.alternatives).finish()
    }
}

impl From<&str> for RoleRequirement {
    fn from(role: &str) -> Self {
        Self::role(role)
    }
}

impl From<String> for RoleRequirement {
    fn from(role: String) -> Self {
        Self::role(role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_semantics() {
        let normal = RoleRequirement::role("normal");
        let john = Roles::from("normal");
        let susan = Roles::from(["normal", "special"]);
        let cindy = Roles::from(None::<&str>);
        assert!(normal.is_satisfied_by(&john));
        assert!(normal.is_satisfied_by(&susan));
        assert!(!RoleRequirement::role("special").is_satisfied_by(&john));
        assert!(!RoleRequirement::role("special").is_satisfied_by(&cindy));
        let either = RoleRequirement::any_of(["normal", "special"]);
        assert!(either.is_satisfied_by(&john) && either.is_satisfied_by(&susan));
        let both = RoleRequirement::all_of(["normal", "special"]);
        assert!(both.is_satisfied_by(&susan));
        assert!(!both.is_satisfied_by(&john));
        assert!(!both.is_satisfied_by(&cindy));
        assert!(!RoleRequirement::any_of(Vec::<String>::new()).is_satisfied_by(&susan));
        assert!(!RoleRequirement::all_of(Vec::<String>::new()).is_satisfied_by(&susan));
        assert!(!RoleRequirement::role("admin").is_satisfied_by(&Roles::from("administrator")));
    }
}
