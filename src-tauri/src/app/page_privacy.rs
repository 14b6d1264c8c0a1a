//! Who may see the files of a page: reading its restrictions as the signed-in user and making
//! it private (issue 17 item 6). Everyone who may view a Confluence page may download its
//! attachments, i.e. the user's synced files, so the command line (`init`, `add`, `page`) and
//! the desktop app (Connection view, wizard) both ask here and show the same words.

use serde::Serialize;
use tunnel_confluence::{Audience, ConfluenceClient, PageAccess};
use tunnel_core::ids::PageId;
use tunnel_core::remote::RemoteError;

use crate::i18n::{Lang, Msg};

/// Who besides the user may view and edit a page, for people and for JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PagePrivacy {
    /// The page.
    pub page_id: String,
    /// The signed-in user the answer is about.
    pub user: String,
    /// Only the user may view and edit the page (as far as its own restrictions go).
    pub private: bool,
    /// Someone else may view the page, and so download every synced file.
    pub visible_to_others: bool,
    /// Someone else may edit the page (change or delete synced files).
    pub editable_by_others: bool,
    /// Who may view, in words: "everyone with access to the space", "bob and group devs",
    /// "only you".
    pub viewers: String,
    /// Who may edit, in words.
    pub editors: String,
    /// Who may view, as read (to word it in another language).
    #[serde(skip)]
    pub viewer_audience: Audience,
    /// Who may edit, as read.
    #[serde(skip)]
    pub editor_audience: Audience,
}

impl PagePrivacy {
    /// The answer for `user` from the page's restrictions.
    pub fn from_access(page_id: &PageId, user: &str, access: &PageAccess) -> Self {
        let viewers = access.viewers(user);
        let editors = access.editors(user);
        PagePrivacy {
            page_id: page_id.to_string(),
            user: user.to_string(),
            private: access.is_private_to(user),
            visible_to_others: viewers.includes_others(),
            editable_by_others: editors.includes_others(),
            viewers: viewers.describe(),
            editors: editors.describe(),
            viewer_audience: viewers,
            editor_audience: editors,
        }
    }

    /// The same answer with `viewers` and `editors` worded in `lang` (what the app shows; the
    /// command line's `--json` keeps the English words).
    #[cfg_attr(not(feature = "gui"), allow(dead_code))] // used by the desktop shell
    pub fn localized(mut self, lang: Lang) -> Self {
        self.viewers = describe_audience(&self.viewer_audience, lang);
        self.editors = describe_audience(&self.editor_audience, lang);
        self
    }

    /// One plain sentence: the warning when others may see the files, else reassurance.
    #[cfg(test)]
    pub fn sentence(&self) -> String {
        self.sentence_in(Lang::En)
    }

    /// [`Self::sentence`] in `lang`.
    pub fn sentence_in(&self, lang: Lang) -> String {
        let page: &dyn std::fmt::Display = &self.page_id;
        let viewers = describe_audience(&self.viewer_audience, lang);
        let editors = describe_audience(&self.editor_audience, lang);
        if self.visible_to_others {
            let also = if self.editable_by_others && self.editor_audience != self.viewer_audience {
                Msg::PrivacyEditorsToo.render(lang, &[("editors", &capitalise(&editors))])
            } else if self.editable_by_others {
                Msg::PrivacyTheyEditToo.text(lang).to_string()
            } else {
                String::new()
            };
            let head = Msg::PrivacyVisible.render(lang, &[("page", page), ("viewers", &viewers)]);
            format!("{head}{also}")
        } else if self.editable_by_others {
            Msg::PrivacyEditable.render(lang, &[("page", page), ("editors", &editors)])
        } else {
            Msg::PrivacyPrivate.render(lang, &[("page", page)])
        }
    }
}

/// Who an audience is, in `lang`: "only you", "everyone with access to the space", "bob and
/// group devs" (English: the client's own words).
pub fn describe_audience(a: &Audience, lang: Lang) -> String {
    match (lang, a) {
        (Lang::En, a) => a.describe(),
        (_, Audience::OnlyMe) => Msg::AudienceOnlyYou.text(lang).to_string(),
        (_, Audience::Space) => Msg::AudienceSpace.text(lang).to_string(),
        (_, Audience::Listed { users, groups }) => {
            let mut parts: Vec<String> = users.clone();
            parts.extend(
                groups
                    .iter()
                    .map(|g| Msg::AudienceGroup.render(lang, &[("name", g)])),
            );
            match parts.len() {
                0 => Msg::AudienceOnlyYou.text(lang).to_string(),
                1 => parts.remove(0),
                _ => {
                    let last = parts.pop().unwrap_or_default();
                    Msg::AudienceAnd.render(lang, &[("list", &parts.join(", ")), ("last", &last)])
                }
            }
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Reads who may view and edit `page_id`, as the client's user.
pub async fn read(client: &ConfluenceClient, page_id: &PageId) -> Result<PagePrivacy, RemoteError> {
    let user = client.current_user().await?;
    let access = client.page_access(page_id.as_str()).await?;
    Ok(PagePrivacy::from_access(page_id, &user, &access))
}

/// Restricts viewing and editing of `page_id` to the client's user; returns the new state.
pub async fn make_private(
    client: &ConfluenceClient,
    page_id: &PageId,
) -> Result<PagePrivacy, RemoteError> {
    let user = client.current_user().await?;
    let access = client.make_private(page_id.as_str(), &user).await?;
    Ok(PagePrivacy::from_access(page_id, &user, &access))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tunnel_confluence::Subjects;

    fn subjects(users: &[&str], groups: &[&str]) -> Subjects {
        Subjects {
            users: users.iter().map(|u| u.to_string()).collect(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn privacy(read: Subjects, update: Subjects) -> PagePrivacy {
        let page = PageId::parse("12345").expect("page id");
        PagePrivacy::from_access(&page, "alice", &PageAccess { read, update })
    }

    #[test]
    fn the_sentence_says_plainly_who_can_see_the_files() {
        let open = privacy(Subjects::default(), Subjects::default());
        assert!(open.visible_to_others && open.editable_by_others && !open.private);
        assert_eq!(
            open.sentence(),
            "Page 12345 is visible to everyone with access to the space: they can download \
             every file you sync through it. They may also change or delete them."
        );
        let read_open_edit_mine = privacy(Subjects::default(), subjects(&["alice"], &[]));
        assert_eq!(
            read_open_edit_mine.sentence(),
            "Page 12345 is visible to everyone with access to the space: they can download \
             every file you sync through it."
        );
        let shared = privacy(
            subjects(&["alice", "bob"], &[]),
            subjects(&["alice"], &["devs"]),
        );
        assert_eq!(
            shared.sentence(),
            "Page 12345 is visible to bob: they can download every file you sync through it. \
             Group devs may also change or delete them."
        );
        let view_mine = privacy(subjects(&["alice"], &[]), subjects(&["bob"], &[]));
        assert!(!view_mine.visible_to_others && view_mine.editable_by_others);
        assert!(view_mine
            .sentence()
            .starts_with("Only you can view page 12345, but bob"));
        let private = privacy(subjects(&["alice"], &[]), subjects(&["alice"], &[]));
        assert!(private.private && !private.visible_to_others);
        assert_eq!(
            private.sentence(),
            "Page 12345 is private: only you can view and edit it."
        );
    }

    #[test]
    fn the_sentence_in_russian_words_who_too() {
        let open = privacy(Subjects::default(), Subjects::default());
        assert_eq!(
            open.sentence_in(Lang::Ru),
            "Страницу 12345 видят все, у кого есть доступ к пространству: они могут скачать \
             любой файл, который вы через неё синхронизируете. Они также могут изменять и \
             удалять их."
        );
        let shared = privacy(
            subjects(&["alice", "bob"], &[]),
            subjects(&["alice"], &["devs", "ops"]),
        );
        assert!(
            shared
                .sentence_in(Lang::Ru)
                .ends_with(" Группа devs и группа ops также могут изменять и удалять их."),
            "{}",
            shared.sentence_in(Lang::Ru)
        );
        let ru = shared.clone().localized(Lang::Ru);
        assert_eq!(ru.editors, "группа devs и группа ops");
        assert_eq!(ru.viewers, "bob");
        assert_eq!(
            shared.editors, "group devs and group ops",
            "English kept for --json"
        );
    }
}
