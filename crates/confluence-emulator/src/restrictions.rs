//! Content restrictions of pages (`confluence-api.md` §17): who may view (`read`) and who may
//! edit (`update`) one page, and the access decision every route takes from them.
//!
//! Pure state and rules; no I/O. The routes in `routes/restrictions.rs` read and write these
//! through the REST API, and `routes/mod.rs` asks [`PageRestrictions::access`] before serving
//! any request that touches a page or one of its attachments, properties, versions or downloads.
//!
//! Rules (Confluence Server/DC):
//! - an operation without users and groups is not restricted: the space permissions decide
//!   (in the emulator, every user of the one space may view, and write unless read-only);
//! - a read restriction lists who may view; everyone else gets **404** as if the page did not
//!   exist (Confluence hides it);
//! - an update restriction lists who may edit; a viewer outside it gets **403** on writes;
//!   editing needs viewing too;
//! - a change that would take the acting user's own view or edit access away is refused.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::model::{Model, ModelError};

/// A restrictable operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Viewing the page (and so its attachments).
    Read,
    /// Editing the page (and adding or changing its attachments and properties).
    Update,
}

impl Operation {
    /// Both operations, in the order Confluence lists them.
    pub const ALL: [Operation; 2] = [Operation::Read, Operation::Update];

    /// The REST spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Update => "update",
        }
    }

    /// Parses the REST spelling.
    pub fn parse(s: &str) -> Option<Operation> {
        match s {
            "read" => Some(Operation::Read),
            "update" => Some(Operation::Update),
            _ => None,
        }
    }
}

/// Users and groups one operation is restricted to (both empty = not restricted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subjects {
    /// User names.
    #[serde(default)]
    pub users: BTreeSet<String>,
    /// Group names.
    #[serde(default)]
    pub groups: BTreeSet<String>,
}

impl Subjects {
    /// Whether nobody is listed (the operation is not restricted).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    /// Whether `user` (a member of `groups`) passes this restriction.
    fn admits(&self, user: Option<&str>, groups: &BTreeSet<String>) -> bool {
        if self.is_empty() {
            return true;
        }
        let Some(user) = user else {
            return false;
        };
        self.users.contains(user) || self.groups.iter().any(|g| groups.contains(g))
    }
}

/// The restrictions of one page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRestrictions {
    /// Who may view.
    #[serde(default)]
    pub read: Subjects,
    /// Who may edit.
    #[serde(default)]
    pub update: Subjects,
}

/// What a caller may do with a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Not even see it: answer 404.
    None,
    /// View, not edit: writes get 403.
    View,
    /// View and edit.
    Edit,
}

impl PageRestrictions {
    /// The subjects of one operation.
    pub fn of(&self, op: Operation) -> &Subjects {
        match op {
            Operation::Read => &self.read,
            Operation::Update => &self.update,
        }
    }

    /// The subjects of one operation, to change.
    pub fn of_mut(&mut self, op: Operation) -> &mut Subjects {
        match op {
            Operation::Read => &mut self.read,
            Operation::Update => &mut self.update,
        }
    }

    /// Whether neither operation is restricted.
    pub fn is_empty(&self) -> bool {
        self.read.is_empty() && self.update.is_empty()
    }

    /// What `user` (anonymous when `None`; a member of `groups`) may do with the page as far as
    /// its restrictions go (space permissions such as read-only users are checked elsewhere).
    pub fn access(&self, user: Option<&str>, groups: &BTreeSet<String>) -> Access {
        if !self.read.admits(user, groups) {
            Access::None
        } else if !self.update.admits(user, groups) {
            Access::View
        } else {
            Access::Edit
        }
    }
}

/// Confluence's refusal of a change that takes the acting user's own access away. The exact
/// status and text of real Confluence are unconfirmed; 400 with this message is the emulator's.
pub fn self_lockout(user: &str) -> ModelError {
    ModelError::BadRequest(format!(
        "Cannot remove your own permission: {user} would no longer be able to view and edit \
         this content"
    ))
}

impl Model {
    /// The restrictions of a page (empty when it has none).
    pub fn restrictions_of(&self, page_id: &str) -> PageRestrictions {
        self.restrictions.get(page_id).cloned().unwrap_or_default()
    }

    /// The page a content id belongs to: the page itself, or an attachment's page.
    pub fn page_of(&self, content_id: &str) -> Option<&str> {
        if let Some(p) = self.pages.get(content_id) {
            return Some(&p.id);
        }
        self.attachment(content_id).map(|a| a.page_id.as_str())
    }

    /// Replaces a page's restrictions as `user` (a member of `groups`), refusing a change
    /// that would leave `user` unable to view and edit the page.
    pub fn set_restrictions(
        &mut self,
        page_id: &str,
        new: PageRestrictions,
        user: &str,
        groups: &BTreeSet<String>,
    ) -> Result<(), ModelError> {
        self.page(page_id)?;
        if new.access(Some(user), groups) != Access::Edit {
            return Err(self_lockout(user));
        }
        if new.is_empty() {
            self.restrictions.remove(page_id);
        } else {
            self.restrictions.insert(page_id.to_string(), new);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn subjects(users: &[&str], groups: &[&str]) -> Subjects {
        Subjects {
            users: set(users),
            groups: set(groups),
        }
    }

    /// (restrictions, user, their groups, expected access, why).
    type Case<'a> = (
        &'a PageRestrictions,
        Option<&'a str>,
        &'a BTreeSet<String>,
        Access,
        &'a str,
    );

    #[test]
    fn access_follows_read_then_update_restrictions() {
        let none = set(&[]);
        let devs = set(&["devs"]);
        let open = PageRestrictions::default();
        let read_alice = PageRestrictions {
            read: subjects(&["alice"], &[]),
            update: Subjects::default(),
        };
        let edit_alice = PageRestrictions {
            read: Subjects::default(),
            update: subjects(&["alice"], &[]),
        };
        let read_devs = PageRestrictions {
            read: subjects(&[], &["devs"]),
            update: subjects(&["alice"], &[]),
        };
        // (restrictions, user, groups, expected, why)
        let cases: [Case; 10] = [
            (
                &open,
                Some("bob"),
                &none,
                Access::Edit,
                "no restriction: space permissions decide",
            ),
            (
                &open,
                None,
                &none,
                Access::Edit,
                "no restriction applies to anonymous too",
            ),
            (
                &read_alice,
                Some("alice"),
                &none,
                Access::Edit,
                "listed viewer, no update restriction",
            ),
            (
                &read_alice,
                Some("bob"),
                &none,
                Access::None,
                "a read restriction hides the page",
            ),
            (
                &read_alice,
                None,
                &none,
                Access::None,
                "anonymous is never in a restriction",
            ),
            (
                &edit_alice,
                Some("bob"),
                &none,
                Access::View,
                "update restriction only stops writes",
            ),
            (
                &edit_alice,
                Some("alice"),
                &none,
                Access::Edit,
                "listed editor",
            ),
            (
                &read_devs,
                Some("bob"),
                &devs,
                Access::View,
                "group member may view, not edit",
            ),
            (
                &read_devs,
                Some("carol"),
                &none,
                Access::None,
                "not in the group: hidden",
            ),
            (
                &read_devs,
                Some("alice"),
                &none,
                Access::None,
                "an editor outside the read restriction cannot even view",
            ),
        ];
        for (r, user, groups, want, why) in cases {
            assert_eq!(r.access(user, groups), want, "{why}");
        }
    }

    #[test]
    fn a_change_that_locks_out_its_author_is_refused() {
        let mut m = Model::default();
        m.add_page("1", "P", "admin", 0);
        let groups = set(&[]);
        let only_bob = PageRestrictions {
            read: subjects(&["bob"], &[]),
            update: subjects(&["bob"], &[]),
        };
        assert_eq!(
            m.set_restrictions("1", only_bob, "alice", &groups),
            Err(self_lockout("alice")),
            "alice may not restrict the page to bob alone"
        );
        let view_only = PageRestrictions {
            read: subjects(&["alice"], &[]),
            update: subjects(&["bob"], &[]),
        };
        assert!(
            m.set_restrictions("1", view_only, "alice", &groups)
                .is_err(),
            "losing edit access is refused too"
        );
        assert!(
            m.restrictions_of("1").is_empty(),
            "refused changes change nothing"
        );
        let private = PageRestrictions {
            read: subjects(&["alice"], &[]),
            update: subjects(&["alice"], &[]),
        };
        m.set_restrictions("1", private.clone(), "alice", &groups)
            .expect("restricting to oneself is allowed");
        assert_eq!(m.restrictions_of("1"), private);
        m.set_restrictions("1", PageRestrictions::default(), "alice", &groups)
            .expect("lifting every restriction is allowed");
        assert!(
            !m.restrictions.contains_key("1"),
            "empty restrictions are not stored"
        );
        assert_eq!(
            m.set_restrictions("2", PageRestrictions::default(), "alice", &groups)
                .map_err(|e| e.status()),
            Err(404),
            "unknown page"
        );
    }

    #[test]
    fn operations_round_trip_their_rest_spelling() {
        for op in Operation::ALL {
            assert_eq!(Operation::parse(op.as_str()), Some(op));
        }
        assert_eq!(Operation::parse("administer"), None);
    }
}
