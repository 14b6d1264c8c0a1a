//! Who may view and edit a page: Confluence's content restrictions (`confluence-api.md` §17).
//!
//! Everyone who may view the page may download its attachments, i.e. the user's synced files.
//! [`ConfluenceClient::page_access`] reads the page's own restrictions
//! (`GET /rest/api/content/{id}/restriction/byOperation`), [`PageAccess::viewers`] and
//! [`PageAccess::editors`] say who besides the user that is, and
//! [`ConfluenceClient::make_private`] restricts viewing and editing to the user
//! (`PUT /rest/api/content/{id}/restriction`, which replaces every restriction of the page).
//!
//! Limits, stated where they matter: only the page's own restrictions are read. A read
//! restriction on an ancestor page also narrows who may view (so "everyone with space access"
//! may in truth be fewer people), and space permissions decide who "everyone" is.

use serde::Deserialize;
use serde_json::json;
use tracing::instrument;
use url::Url;

use crate::api::encode_segment;
use crate::client::ConfluenceClient;
use crate::error::Ctx;
use tunnel_core::remote::RemoteError;

/// The users and groups one operation is restricted to; both empty = not restricted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subjects {
    /// User names (DC) or account ids (Cloud).
    pub users: Vec<String>,
    /// Group names.
    pub groups: Vec<String>,
}

impl Subjects {
    /// Whether the operation is not restricted on this page.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }
}

/// The page's own restrictions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageAccess {
    /// Who may view.
    pub read: Subjects,
    /// Who may edit.
    pub update: Subjects,
}

/// Who besides `me` may do something with the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Only `me`.
    OnlyMe,
    /// Not restricted: everyone with access to the space.
    Space,
    /// Restricted to these others (users other than `me`, and groups, which may hold anyone).
    Listed {
        /// Other users.
        users: Vec<String>,
        /// Groups.
        groups: Vec<String>,
    },
}

impl Audience {
    fn of(subjects: &Subjects, me: &str) -> Audience {
        if subjects.is_empty() {
            return Audience::Space;
        }
        let users: Vec<String> = subjects
            .users
            .iter()
            .filter(|u| !u.eq_ignore_ascii_case(me))
            .cloned()
            .collect();
        if users.is_empty() && subjects.groups.is_empty() {
            Audience::OnlyMe
        } else {
            Audience::Listed {
                users,
                groups: subjects.groups.clone(),
            }
        }
    }

    /// Whether someone other than `me` is included.
    pub fn includes_others(&self) -> bool {
        !matches!(self, Audience::OnlyMe)
    }

    /// A plain description for people: "everyone with access to the space", "bob and group
    /// devs", "only you".
    pub fn describe(&self) -> String {
        match self {
            Audience::OnlyMe => "only you".into(),
            Audience::Space => "everyone with access to the space".into(),
            Audience::Listed { users, groups } => {
                let mut parts: Vec<String> = users.clone();
                parts.extend(groups.iter().map(|g| format!("group {g}")));
                match parts.len() {
                    0 => "only you".into(),
                    1 => parts.remove(0),
                    _ => {
                        let last = parts.pop().unwrap_or_default();
                        format!("{} and {last}", parts.join(", "))
                    }
                }
            }
        }
    }
}

impl PageAccess {
    /// Who besides `me` may view the page (and so download every synced file).
    pub fn viewers(&self, me: &str) -> Audience {
        Audience::of(&self.read, me)
    }

    /// Who besides `me` may edit the page (add, change or delete its attachments). Editing
    /// needs viewing, so an unrestricted update operation allows whoever may view.
    pub fn editors(&self, me: &str) -> Audience {
        if self.update.is_empty() {
            self.viewers(me)
        } else {
            Audience::of(&self.update, me)
        }
    }

    /// Whether only `me` may view and edit the page (as far as its own restrictions go).
    pub fn is_private_to(&self, me: &str) -> bool {
        !self.viewers(me).includes_others() && !self.editors(me).includes_others()
    }
}

/// Wire shape of `…/restriction/byOperation`.
#[derive(Debug, Deserialize)]
struct ByOperation {
    #[serde(default)]
    read: Option<OperationRestriction>,
    #[serde(default)]
    update: Option<OperationRestriction>,
}

#[derive(Debug, Deserialize)]
struct OperationRestriction {
    #[serde(default)]
    restrictions: Option<RestrictionLists>,
}

#[derive(Debug, Deserialize)]
struct RestrictionLists {
    #[serde(default)]
    user: Option<Listing<RestrictedUser>>,
    #[serde(default)]
    group: Option<Listing<RestrictedGroup>>,
}

#[derive(Debug, Deserialize)]
struct Listing<T> {
    #[serde(default = "Vec::new")]
    results: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct RestrictedUser {
    #[serde(default)]
    username: Option<String>,
    #[serde(rename = "accountId", default)]
    account_id: Option<String>,
    #[serde(rename = "userKey", default)]
    user_key: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RestrictedGroup {
    #[serde(default)]
    name: Option<String>,
}

fn subjects(op: Option<OperationRestriction>, which: &str) -> Result<Subjects, RemoteError> {
    let Some(op) = op else {
        return Ok(Subjects::default());
    };
    let lists = op.restrictions.ok_or_else(|| {
        RemoteError::Protocol(format!(
            "the server's answer about the page's {which} restriction has no restrictions"
        ))
    })?;
    // Without the lists we cannot tell "nobody listed" from "not expanded": refuse to guess.
    let (Some(users), Some(groups)) = (lists.user, lists.group) else {
        return Err(RemoteError::Protocol(format!(
            "the server did not list the users and groups of the page's {which} restriction"
        )));
    };
    Ok(Subjects {
        users: users
            .results
            .into_iter()
            .filter_map(|u| u.username.or(u.account_id).or(u.user_key))
            .collect(),
        groups: groups.results.into_iter().filter_map(|g| g.name).collect(),
    })
}

impl ConfluenceClient {
    fn restriction_url(&self, page_id: &str, tail: &str) -> Result<Url, RemoteError> {
        let text = format!(
            "{}/rest/api/content/{}/restriction{tail}",
            self.endpoints().base(),
            encode_segment(page_id)
        );
        Url::parse(&text).map_err(|e| RemoteError::Protocol(format!("{text}: {e}")))
    }

    fn restriction_ctx(&self, page_id: &str, forbidden: String) -> Ctx {
        Ctx {
            page_id: page_id.to_string(),
            forbidden: Some(forbidden),
            not_found: Some(format!(
                "page {page_id} does not exist, you may not view it, or this server has no \
                 content restriction API"
            )),
            bearer: self.is_bearer(),
        }
    }

    /// The page's own view and edit restrictions.
    #[instrument(skip_all, fields(page = %page_id), err(level = "debug"))]
    pub async fn page_access(&self, page_id: &str) -> Result<PageAccess, RemoteError> {
        let mut url = self.restriction_url(page_id, "/byOperation")?;
        url.query_pairs_mut()
            .append_pair("expand", "restrictions.user,restrictions.group");
        let ctx = self.restriction_ctx(
            page_id,
            format!("no permission to see who may view page {page_id}"),
        );
        let ok = self
            .call("page_access", &ctx, &url, &[], || Ok(self.get(&url).into()))
            .await?
            .into_success()?;
        let body: ByOperation = ok.json("the page restrictions")?;
        Ok(PageAccess {
            read: subjects(body.read, "view")?,
            update: subjects(body.update, "edit")?,
        })
    }

    /// Restricts viewing and editing of the page to `user` alone (replacing every other
    /// restriction of the page), then reads the restrictions back.
    #[instrument(skip_all, fields(page = %page_id), err(level = "debug"))]
    pub async fn make_private(&self, page_id: &str, user: &str) -> Result<PageAccess, RemoteError> {
        let url = self.restriction_url(page_id, "")?;
        let me = json!([{ "type": "known", "username": user }]);
        let body = json!([
            { "operation": "read", "restrictions": { "user": me, "group": [] } },
            { "operation": "update", "restrictions": { "user": me, "group": [] } },
        ]);
        let ctx = self.restriction_ctx(
            page_id,
            format!(
                "{user} may not change who may view page {page_id} (it needs edit permission \
                 on the page and the space's restrict permission)"
            ),
        );
        self.call("make_private", &ctx, &url, &[], || {
            Ok(self.put(&url).json(&body).into())
        })
        .await?
        .into_success()?;
        let access = self.page_access(page_id).await?;
        if !access.is_private_to(user) {
            return Err(RemoteError::Protocol(format!(
                "the server accepted the restriction of page {page_id}, but others may still \
                 view or edit it"
            )));
        }
        Ok(access)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(users: &[&str], groups: &[&str]) -> Subjects {
        Subjects {
            users: users.iter().map(|u| u.to_string()).collect(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn audiences_name_everyone_but_me() {
        let open = PageAccess::default();
        assert_eq!(open.viewers("alice"), Audience::Space, "no restriction");
        assert_eq!(open.editors("alice"), Audience::Space);
        assert!(!open.is_private_to("alice"));

        let private = PageAccess {
            read: s(&["alice"], &[]),
            update: s(&["Alice"], &[]),
        };
        assert_eq!(private.viewers("alice"), Audience::OnlyMe);
        assert!(
            private.is_private_to("alice"),
            "user names compare without case"
        );
        assert!(!private.is_private_to("bob"), "private to alice, not bob");

        let view_only = PageAccess {
            read: s(&["alice"], &[]),
            update: Subjects::default(),
        };
        assert_eq!(
            view_only.editors("alice"),
            Audience::OnlyMe,
            "editing needs viewing: only alice may view, so only she may edit"
        );
        assert!(view_only.is_private_to("alice"));

        let shared = PageAccess {
            read: s(&["alice", "bob"], &["devs"]),
            update: s(&["alice"], &[]),
        };
        assert_eq!(
            shared.viewers("alice"),
            Audience::Listed {
                users: vec!["bob".into()],
                groups: vec!["devs".into()]
            }
        );
        assert_eq!(shared.editors("alice"), Audience::OnlyMe);
        assert!(!shared.is_private_to("alice"), "bob and devs may view");

        let edit_only = PageAccess {
            read: Subjects::default(),
            update: s(&["alice"], &[]),
        };
        assert_eq!(edit_only.viewers("alice"), Audience::Space);
        assert!(
            !edit_only.is_private_to("alice"),
            "an edit restriction alone leaves the files readable by the space"
        );
        let mine_in_a_group = PageAccess {
            read: s(&["alice"], &["team"]),
            update: s(&["alice"], &[]),
        };
        assert!(
            !mine_in_a_group.is_private_to("alice"),
            "a group may hold anyone, so it counts as others"
        );
    }

    #[test]
    fn descriptions_are_plain() {
        assert_eq!(Audience::OnlyMe.describe(), "only you");
        assert_eq!(
            Audience::Space.describe(),
            "everyone with access to the space"
        );
        let listed = Audience::Listed {
            users: vec!["bob".into(), "carol".into()],
            groups: vec!["devs".into()],
        };
        assert_eq!(listed.describe(), "bob, carol and group devs");
        let one = Audience::Listed {
            users: vec!["bob".into()],
            groups: vec![],
        };
        assert_eq!(one.describe(), "bob");
    }

    #[test]
    fn unexpanded_lists_are_not_read_as_empty() {
        let body: ByOperation = serde_json::from_str(
            r#"{"read":{"operation":"read","restrictions":{"_expandable":{"user":"","group":""}}}}"#,
        )
        .expect("parses");
        assert!(
            subjects(body.read, "view").is_err(),
            "an unexpanded list must not look like 'no restriction'"
        );
        let body: ByOperation = serde_json::from_str(
            r#"{"read":{"operation":"read","restrictions":{"user":{"results":[{"type":"known","username":"alice"}],"size":1},"group":{"results":[],"size":0}}},
                "update":{"operation":"update","restrictions":{"user":{"results":[]},"group":{"results":[{"type":"group","name":"devs"}]}}}}"#,
        )
        .expect("parses");
        assert_eq!(
            subjects(body.read, "view").expect("read"),
            s(&["alice"], &[])
        );
        assert_eq!(
            subjects(body.update, "edit").expect("update"),
            s(&[], &["devs"])
        );
    }
}
