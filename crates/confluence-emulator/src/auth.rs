//! Who is calling: Basic and Bearer (personal access token) authentication as Confluence's
//! Seraph filter does it, plus the XSRF and User-Agent rules of multipart POSTs.
//!
//! Invariants: a wrong Basic login is a 401 (never anonymous); an unknown Bearer token is
//! *anonymous* (Confluence does not answer 401 for it); CAPTCHA users are refused with 401 even
//! with the right password. Secrets never appear in `Debug` output.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;

/// The group every account of the emulated instance belongs to.
pub const DEFAULT_GROUP: &str = "confluence-users";

/// Accounts, tokens and roles of the emulated instance.
#[derive(Clone, Default)]
pub struct Users {
    passwords: BTreeMap<String, String>,
    read_only: BTreeSet<String>,
    tokens: BTreeMap<String, String>,
    /// Token → (its name, creation and expiry, ms since the epoch) for `/rest/pat`.
    token_meta: BTreeMap<String, TokenMeta>,
    space_admins: BTreeSet<String>,
    captcha: BTreeSet<String>,
    groups: BTreeMap<String, BTreeSet<String>>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users")
            .field("users", &self.passwords.keys().collect::<Vec<_>>())
            .field("read_only", &self.read_only)
            .field("tokens", &self.tokens.len())
            .field("space_admins", &self.space_admins)
            .field("captcha", &self.captcha)
            .finish()
    }
}

impl Users {
    /// Adds a user who may read and write.
    pub fn add_user(&mut self, name: &str, password: &str) {
        self.passwords
            .insert(name.to_string(), password.to_string());
        self.read_only.remove(name);
    }

    /// Adds a user who may only read.
    pub fn add_read_only_user(&mut self, name: &str, password: &str) {
        self.passwords
            .insert(name.to_string(), password.to_string());
        self.read_only.insert(name.to_string());
    }

    /// Adds a personal access token for `user`.
    pub fn add_token(&mut self, user: &str, token: &str) {
        self.tokens.insert(token.to_string(), user.to_string());
    }

    /// Adds a personal access token for `user` with a name and an expiry (ms since the
    /// epoch). After the expiry it is ignored like an unknown token (the request is served as
    /// anonymous, `confluence-api.md` §1).
    pub fn add_expiring_token(&mut self, user: &str, token: &str, name: &str, expiring_at_ms: i64) {
        self.add_token(user, token);
        self.token_meta.insert(
            token.to_string(),
            TokenMeta {
                id: self.token_meta.len() as u64 + 1,
                name: name.to_string(),
                expiring_at_ms: Some(expiring_at_ms),
            },
        );
    }

    /// The tokens of `user` with their secrets (to tell which one a request used), as
    /// `/rest/pat/latest/tokens` lists them (the secret itself is never rendered).
    pub(crate) fn tokens_with_secret_of(&self, user: &str) -> Vec<(String, TokenMeta)> {
        let mut next_id = self.token_meta.len() as u64;
        self.tokens
            .iter()
            .filter(|(_, u)| u.as_str() == user)
            .map(|(t, _)| {
                let meta = self.token_meta.get(t).cloned().unwrap_or_else(|| {
                    next_id += 1;
                    TokenMeta {
                        id: next_id,
                        name: format!("token {next_id}"),
                        expiring_at_ms: None,
                    }
                });
                (t.clone(), meta)
            })
            .collect()
    }

    /// Makes `user` a space admin (may purge the trash, restore).
    pub fn add_space_admin(&mut self, user: &str) {
        self.space_admins.insert(user.to_string());
    }

    /// Makes every Basic login of `user` fail with the CAPTCHA 401.
    pub fn add_captcha_user(&mut self, user: &str) {
        self.captcha.insert(user.to_string());
    }

    /// Puts `user` in `group` (for content restrictions that name groups).
    pub fn add_to_group(&mut self, user: &str, group: &str) {
        self.groups
            .entry(user.to_string())
            .or_default()
            .insert(group.to_string());
    }

    /// Whether `user` is an account of this instance.
    pub fn exists(&self, user: &str) -> bool {
        self.passwords.contains_key(user) || self.tokens.values().any(|u| u == user)
    }

    /// The groups of `user`: those given with [`Users::add_to_group`] plus
    /// [`DEFAULT_GROUP`], which every account is in (as on a real instance).
    pub fn groups_of(&self, user: Option<&str>) -> BTreeSet<String> {
        let Some(user) = user else {
            return BTreeSet::new();
        };
        let mut groups = self.groups.get(user).cloned().unwrap_or_default();
        groups.insert(DEFAULT_GROUP.to_string());
        groups
    }

    /// Decides who sent a request from its `Authorization` header.
    pub fn authenticate(&self, authorization: Option<&str>) -> AuthOutcome {
        let Some(header) = authorization.map(str::trim) else {
            return AuthOutcome::Identified(Identity::Anonymous);
        };
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
                return AuthOutcome::Failed;
            };
            if self.captcha.contains(user) {
                return AuthOutcome::Captcha;
            }
            match self.passwords.get(user) {
                Some(p) if p == password => AuthOutcome::Identified(self.identity(user)),
                _ => AuthOutcome::Failed,
            }
        } else if scheme.eq_ignore_ascii_case("bearer") {
            let token = rest.trim();
            let expired = self
                .token_meta
                .get(token)
                .and_then(|m| m.expiring_at_ms)
                .is_some_and(|at| at <= crate::spawn::now_ms());
            match self.tokens.get(token).filter(|_| !expired) {
                Some(user) => AuthOutcome::Identified(self.identity(user)),
                None => AuthOutcome::Identified(Identity::Anonymous),
            }
        } else {
            AuthOutcome::Identified(Identity::Anonymous)
        }
    }

    fn identity(&self, user: &str) -> Identity {
        Identity::User {
            name: user.to_string(),
            can_write: !self.read_only.contains(user),
            space_admin: self.space_admins.contains(user),
        }
    }
}

/// What `/rest/pat/latest/tokens` tells about one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenMeta {
    /// Token id.
    pub id: u64,
    /// The name its owner gave it.
    pub name: String,
    /// Expiry, ms since the epoch (`None`: never expires).
    pub expiring_at_ms: Option<i64>,
}

/// The caller of a request that passed authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// No (or an unknown Bearer) credential.
    Anonymous,
    /// A known user.
    User {
        /// User name.
        name: String,
        /// May add attachments, properties and edit pages.
        can_write: bool,
        /// Space admin: may purge the trash and restore.
        space_admin: bool,
    },
}

impl Identity {
    /// User name, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            Identity::Anonymous => None,
            Identity::User { name, .. } => Some(name),
        }
    }

    /// Whether the caller may write.
    pub fn can_write(&self) -> bool {
        matches!(
            self,
            Identity::User {
                can_write: true,
                ..
            }
        )
    }

    /// Whether the caller is a space admin.
    pub fn is_space_admin(&self) -> bool {
        matches!(
            self,
            Identity::User {
                space_admin: true,
                ..
            }
        )
    }
}

/// Result of authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Proceed as this identity.
    Identified(Identity),
    /// Wrong Basic credentials → 401 `AUTHENTICATION_FAILED`.
    Failed,
    /// CAPTCHA required → 401 `AUTHENTICATION_DENIED` (HTML).
    Captcha,
}

/// Whether the `X-Atlassian-Token` value disables the XSRF check (`no-check` or `nocheck`).
pub fn xsrf_header_ok(value: Option<&str>) -> bool {
    matches!(value.map(str::trim), Some("no-check") | Some("nocheck"))
}

/// Whether a User-Agent looks like a browser (DC 7.19.6 rejects their POSTs as XSRF).
pub fn is_browser_agent(ua: Option<&str>) -> bool {
    ua.is_some_and(|u| u.trim_start().starts_with("Mozilla/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(u: &str, p: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    }

    #[test]
    fn basic_bearer_and_captcha() {
        let mut users = Users::default();
        users.add_user("alice", "secret");
        users.add_read_only_user("bob", "pw");
        users.add_token("alice", "PAT");
        users.add_captcha_user("carol");
        users.add_user("carol", "pw");
        let alice = users.authenticate(Some(&basic("alice", "secret")));
        assert!(matches!(alice, AuthOutcome::Identified(ref i) if i.can_write()));
        assert_eq!(
            users.authenticate(Some(&basic("alice", "x"))),
            AuthOutcome::Failed
        );
        assert_eq!(
            users.authenticate(Some(&basic("carol", "pw"))),
            AuthOutcome::Captcha
        );
        assert!(
            matches!(users.authenticate(Some(&basic("bob", "pw"))), AuthOutcome::Identified(ref i) if !i.can_write())
        );
        assert!(
            matches!(users.authenticate(Some("Bearer PAT")), AuthOutcome::Identified(ref i) if i.name() == Some("alice"))
        );
        assert_eq!(
            users.authenticate(Some("Bearer nope")),
            AuthOutcome::Identified(Identity::Anonymous),
            "unknown tokens are anonymous, not 401"
        );
        assert!(!format!("{users:?}").contains("secret"));
    }

    #[test]
    fn xsrf_and_agent() {
        assert!(xsrf_header_ok(Some("no-check")) && xsrf_header_ok(Some("nocheck")));
        assert!(!xsrf_header_ok(Some("check")) && !xsrf_header_ok(None));
        assert!(is_browser_agent(Some("Mozilla/5.0 (X11)")));
        assert!(!is_browser_agent(Some("sber-tunnel/0.1")));
    }
}
