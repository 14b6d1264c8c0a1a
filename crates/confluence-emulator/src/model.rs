//! Pure state of the emulated Confluence instance: one space, its pages, their attachments
//! (with every version, including trashed ones), content properties and the limits Confluence
//! enforces.
//!
//! Nothing here does I/O or reads a clock: callers pass the time (`now_ms`, epoch milliseconds)
//! and the acting user, and blob *keys* (opaque names the `store` maps to files). Every rule that
//! decides a status code lives here so it can be unit-tested without a socket.
//!
//! Invariants:
//! - every attachment has at least one version, versions are sorted by ascending `number`,
//!   and the last one is the current version;
//! - attachment ids are `att<n>`, property ids `<n>`, both taken from one increasing counter;
//! - at most one *current* attachment per page has a given title (compared case-insensitively).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Key of the single emulated space.
pub const SPACE_KEY: &str = "TST";
/// Numeric id of the single emulated space.
pub const SPACE_ID: u64 = 98305;
/// Display name of the single emulated space.
pub const SPACE_NAME: &str = "Test";

/// Limits Confluence Server/DC enforces (values from its settings and validator classes).
pub mod limits {
    /// Default global "Attachment Maximum Size" (bytes).
    pub const DEFAULT_MAX_ATTACHMENT_SIZE: u64 = 104_857_600;
    /// Whole multipart request limit = this factor × attachment maximum.
    pub const REQUEST_SIZE_FACTOR: u64 = 10;
    /// Default `limit` of an attachment listing.
    pub const ATTACHMENT_LIST_DEFAULT: usize = 50;
    /// Silent cap of `limit` on an attachment listing.
    pub const ATTACHMENT_LIST_CAP: usize = 200;
    /// Default `limit` of a content property listing.
    pub const PROPERTY_LIST_DEFAULT: usize = 10;
    /// Default (and cap) `limit` of a version listing.
    pub const VERSION_LIST_DEFAULT: usize = 200;
    /// Longest serialized content property value (characters).
    pub const PROPERTY_VALUE_MAX_CHARS: usize = 32_768;
    /// Longest content property key (characters).
    pub const PROPERTY_KEY_MAX_CHARS: usize = 255;
    /// Longest attachment version comment (characters).
    pub const COMMENT_MAX_CHARS: usize = 255;
}

/// Why a model operation was refused; each variant maps to one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// 400 Bad Request.
    #[error("{0}")]
    BadRequest(String),
    /// 403 Forbidden.
    #[error("{0}")]
    Forbidden(String),
    /// 404 Not Found.
    #[error("{0}")]
    NotFound(String),
    /// 409 Conflict.
    #[error("{0}")]
    Conflict(String),
    /// 500 Internal Server Error (Confluence lets some validation exceptions escape).
    #[error("{0}")]
    Internal(String),
}

impl ModelError {
    /// The HTTP status Confluence answers with.
    pub fn status(&self) -> u16 {
        match self {
            ModelError::BadRequest(_) => 400,
            ModelError::Forbidden(_) => 403,
            ModelError::NotFound(_) => 404,
            ModelError::Conflict(_) => 409,
            ModelError::Internal(_) => 500,
        }
    }
}

/// `No content found with id: ContentId{id=…}` — Confluence's 404 text for missing content.
pub fn no_content(id: &str) -> ModelError {
    ModelError::NotFound(format!("No content found with id: ContentId{{id={id}}}"))
}

/// Lifecycle status of content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Live.
    Current,
    /// In the space trash (kept, counted, not listed).
    Trashed,
}

impl Status {
    /// The REST spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Current => "current",
            Status::Trashed => "trashed",
        }
    }
}

/// A page of the space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// Numeric string id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Current version number (starts at 1).
    pub version: u64,
    /// Author of the current version.
    pub by: String,
    /// Time of the current version.
    pub when_ms: i64,
    /// Creation time.
    pub created_ms: i64,
    /// Message of the current version.
    pub message: String,
    /// Whether the current version was a minor edit.
    pub minor_edit: bool,
    /// Storage-format body.
    pub body: String,
}

/// One stored version of an attachment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachmentVersion {
    /// Version number (1-based).
    pub number: u64,
    /// Size of the bytes in bytes.
    pub size: u64,
    /// Stored media type.
    pub media_type: String,
    /// Version comment.
    pub comment: String,
    /// Whether this version was a minor edit.
    pub minor_edit: bool,
    /// Author.
    pub by: String,
    /// Creation time of this version.
    pub when_ms: i64,
    /// Key of the blob holding the bytes (several versions may share one).
    pub blob: String,
}

/// An attachment with all its versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// `att<n>`.
    pub id: String,
    /// Id of the page it is attached to.
    pub page_id: String,
    /// File name (shared by all versions).
    pub title: String,
    /// Current or trashed.
    pub status: Status,
    /// Versions, ascending; never empty.
    pub versions: Vec<AttachmentVersion>,
}

impl Attachment {
    /// The latest version.
    pub fn current(&self) -> &AttachmentVersion {
        self.versions
            .last()
            .expect("invariant: an attachment always has a version")
    }

    /// A version by number.
    pub fn version(&self, number: u64) -> Option<&AttachmentVersion> {
        self.versions.iter().find(|v| v.number == number)
    }
}

/// A content property (JSON value on a page with its own version counter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Property {
    /// Numeric string id.
    pub id: String,
    /// Page it belongs to.
    pub page_id: String,
    /// Key.
    pub key: String,
    /// JSON value.
    pub value: serde_json::Value,
    /// Version number (1 on create).
    pub version: u64,
    /// Author of the current version.
    pub by: String,
    /// Time of the current version.
    pub when_ms: i64,
    /// Whether the last write was marked minor.
    pub minor_edit: bool,
}

/// A file to be stored by an upload.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFile {
    /// Name as the attachment title (path components already stripped).
    pub name: String,
    /// Blob key holding the bytes.
    pub blob: String,
    /// Byte count.
    pub size: u64,
    /// Resolved media type.
    pub media_type: String,
    /// Version comment.
    pub comment: String,
    /// Minor edit flag.
    pub minor_edit: bool,
}

/// What storing one uploaded file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Attachment id.
    pub id: String,
    /// True when a new attachment was created, false when a version was added.
    pub created: bool,
}

/// Fields a metadata PUT may change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetadataUpdate {
    /// Attachment id from the body (required).
    pub id: Option<String>,
    /// `version.number` from the body (required).
    pub version: Option<u64>,
    /// New title when non-blank.
    pub title: Option<String>,
    /// New comment.
    pub comment: Option<String>,
    /// New media type.
    pub media_type: Option<String>,
    /// Target page (moves the attachment when different).
    pub container_id: Option<String>,
    /// Minor edit flag of the change.
    pub minor_edit: bool,
}

/// The whole state; serialised as the metadata file of a persistent data dir.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Pages by id.
    pub pages: BTreeMap<String, Page>,
    /// Attachments by id (current and trashed).
    pub attachments: BTreeMap<String, Attachment>,
    /// Properties by page id, then key.
    pub properties: BTreeMap<String, BTreeMap<String, Property>>,
    /// Last id handed out for attachments and properties.
    pub last_id: u64,
    /// Content restrictions by page id (pages without any are absent).
    #[serde(default)]
    pub restrictions: BTreeMap<String, crate::restrictions::PageRestrictions>,
}

/// Numeric part of an `att<n>` id, for creation-order sorting.
fn id_number(id: &str) -> u64 {
    id.trim_start_matches("att").parse().unwrap_or(u64::MAX)
}

/// The part of an uploaded filename Confluence keeps: everything after the last `/` or `\`.
pub fn strip_path(name: &str) -> String {
    name.rsplit(['/', '\\']).next().unwrap_or(name).to_string()
}

/// Confluence-like media type resolution from the file name, falling back to the part's type.
pub fn resolve_media_type(name: &str, part_type: Option<&str>) -> String {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let by_ext = match ext.as_deref() {
        Some("txt") | Some("log") => Some("text/plain"),
        Some("json") => Some("application/json"),
        Some("xml") => Some("application/xml"),
        Some("html") | Some("htm") => Some("text/html"),
        Some("png") => Some("image/png"),
        Some("jpg") | Some("jpeg") => Some("image/jpeg"),
        Some("gif") => Some("image/gif"),
        Some("pdf") => Some("application/pdf"),
        Some("zip") => Some("application/zip"),
        Some("gz") => Some("application/gzip"),
        _ => None,
    };
    match (by_ext, part_type) {
        (Some(t), _) => t.to_string(),
        (None, Some(t)) if !t.trim().is_empty() => t.trim().to_string(),
        _ => "application/octet-stream".to_string(),
    }
}

impl Model {
    /// Adds (or replaces) a page at version 1.
    pub fn add_page(&mut self, id: &str, title: &str, by: &str, now_ms: i64) {
        self.pages.insert(
            id.to_string(),
            Page {
                id: id.to_string(),
                title: title.to_string(),
                version: 1,
                by: by.to_string(),
                when_ms: now_ms,
                created_ms: now_ms,
                message: String::new(),
                minor_edit: false,
                body: String::new(),
            },
        );
    }

    /// Restores the invariants on a model read from disk: versions sorted, attachments without
    /// versions dropped, the id counter above every id in use. Returns how many were dropped.
    pub fn repair(&mut self) -> usize {
        let before = self.attachments.len();
        self.attachments.retain(|_, a| !a.versions.is_empty());
        let mut max_id = self.last_id;
        for a in self.attachments.values_mut() {
            a.versions.sort_by_key(|v| v.number);
            max_id = max_id.max(id_number(&a.id).min(u64::MAX - 1));
        }
        for p in self.properties.values().flat_map(|m| m.values()) {
            max_id = max_id.max(p.id.parse().unwrap_or(0));
        }
        self.last_id = max_id;
        before - self.attachments.len()
    }

    fn next_id(&mut self) -> u64 {
        // Start in the range real instances use so ids look familiar.
        if self.last_id < 4_065_729 {
            self.last_id = 4_065_729;
        }
        self.last_id += 1;
        self.last_id
    }

    /// A page, or Confluence's 404.
    pub fn page(&self, id: &str) -> Result<&Page, ModelError> {
        self.pages.get(id).ok_or_else(|| no_content(id))
    }

    /// Page update with the strict "+1" rule.
    #[allow(clippy::too_many_arguments)]
    pub fn update_page(
        &mut self,
        id: &str,
        title: Option<&str>,
        version: Option<u64>,
        body: Option<&str>,
        minor_edit: bool,
        by: &str,
        now_ms: i64,
    ) -> Result<&Page, ModelError> {
        let page = self.pages.get_mut(id).ok_or_else(|| no_content(id))?;
        let Some(number) = version else {
            return Err(ModelError::BadRequest(
                "Must supply an incremented version when updating Content. No version supplied."
                    .into(),
            ));
        };
        if number != page.version + 1 {
            return Err(ModelError::Conflict(format!(
                "Version must be incremented on update. Current version is: {}",
                page.version
            )));
        }
        if let Some(t) = title.filter(|t| !t.trim().is_empty()) {
            page.title = t.to_string();
        }
        if let Some(b) = body {
            page.body = b.to_string();
        }
        page.version = number;
        page.by = by.to_string();
        page.when_ms = now_ms;
        page.minor_edit = minor_edit;
        Ok(page)
    }

    /// An attachment (current or trashed) by id.
    pub fn attachment(&self, id: &str) -> Option<&Attachment> {
        self.attachments.get(id)
    }

    /// Current attachments of a page in creation order, optionally filtered by file name
    /// (case-insensitive, as `equalsIgnoreCase`) and media type (exact).
    pub fn list_attachments(
        &self,
        page_id: &str,
        filename: Option<&str>,
        media_type: Option<&str>,
    ) -> Vec<&Attachment> {
        let mut out: Vec<&Attachment> = self
            .attachments
            .values()
            .filter(|a| a.page_id == page_id && a.status == Status::Current)
            .filter(|a| filename.is_none_or(|f| a.title.to_lowercase() == f.to_lowercase()))
            .filter(|a| media_type.is_none_or(|m| a.current().media_type == m))
            .collect();
        out.sort_by_key(|a| id_number(&a.id));
        out
    }

    /// The current attachment of a page whose title matches case-insensitively.
    pub fn find_by_name(&self, page_id: &str, name: &str) -> Option<&Attachment> {
        let lower = name.to_lowercase();
        self.attachments.values().find(|a| {
            a.page_id == page_id && a.status == Status::Current && a.title.to_lowercase() == lower
        })
    }

    /// The pre-store checks of a multipart create, in Confluence's order. `names` are the
    /// stripped names of the file parts; `comments`/`minor_edits` the counts of those parts.
    pub fn check_create(
        &self,
        page_id: &str,
        names: &[String],
        comments: &[String],
        minor_edits: usize,
        allow_duplicated: bool,
    ) -> Result<(), ModelError> {
        self.page(page_id)?;
        if names.is_empty() {
            return Err(ModelError::BadRequest(
                "At least one attachment file must be included.".into(),
            ));
        }
        if !comments.is_empty() && comments.len() != names.len() {
            return Err(ModelError::BadRequest(
                "Must be same number of attachment files and comments.".into(),
            ));
        }
        if minor_edits != 0 && minor_edits != names.len() {
            return Err(ModelError::BadRequest(
                "Must be same number of attachment files and minorEdit flags.".into(),
            ));
        }
        if let Some(c) = comments
            .iter()
            .find(|c| c.chars().count() > limits::COMMENT_MAX_CHARS)
        {
            return Err(comment_too_long(c));
        }
        if !allow_duplicated {
            let mut seen = BTreeSet::new();
            for n in names {
                if !seen.insert(n.as_str()) {
                    return Err(ModelError::BadRequest(format!(
                        "Cannot add new attachments with duplicate file name: {n}"
                    )));
                }
            }
            // The REST pre-check compares exact titles (case-sensitive); the later lookup
            // is case-insensitive, so `A.bin` next to `a.bin` becomes a new version of `a.bin`.
            for n in names {
                let exists = self
                    .attachments
                    .values()
                    .any(|a| a.page_id == page_id && a.status == Status::Current && &a.title == n);
                if exists {
                    return Err(ModelError::BadRequest(format!(
                        "Cannot add a new attachment with same file name as an existing attachment: {n}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Stores one uploaded file: a new version of the case-insensitively matching current
    /// attachment (keeping its name), or a new attachment.
    pub fn store_file(&mut self, page_id: &str, file: NewFile, by: &str, now_ms: i64) -> Stored {
        if let Some(id) = self.find_by_name(page_id, &file.name).map(|a| a.id.clone()) {
            let att = self
                .attachments
                .get_mut(&id)
                .expect("invariant: id was just found");
            push_version(att, &file, by, now_ms);
            return Stored { id, created: false };
        }
        let id = format!("att{}", self.next_id());
        self.attachments.insert(
            id.clone(),
            Attachment {
                id: id.clone(),
                page_id: page_id.to_string(),
                title: file.name.clone(),
                status: Status::Current,
                versions: vec![AttachmentVersion {
                    number: 1,
                    size: file.size,
                    media_type: file.media_type,
                    comment: file.comment,
                    minor_edit: file.minor_edit,
                    by: by.to_string(),
                    when_ms: now_ms,
                    blob: file.blob,
                }],
            },
        );
        Stored { id, created: true }
    }

    /// Checks a `/data` upload before its bytes are kept.
    pub fn check_data(
        &self,
        att_id: &str,
        comment: Option<&str>,
    ) -> Result<&Attachment, ModelError> {
        if att_id.trim().is_empty() {
            return Err(ModelError::BadRequest(
                "Can't update attachment without an id".into(),
            ));
        }
        let att = self.attachments.get(att_id).ok_or_else(|| {
            ModelError::NotFound(format!("Can't find attachment with id: {att_id}"))
        })?;
        if let Some(c) = comment.filter(|c| c.chars().count() > limits::COMMENT_MAX_CHARS) {
            return Err(comment_too_long(c));
        }
        Ok(att)
    }

    /// `/data`: adds a version; a different file name renames the attachment (all versions).
    pub fn add_data_version(
        &mut self,
        att_id: &str,
        file: NewFile,
        by: &str,
        now_ms: i64,
    ) -> Result<&Attachment, ModelError> {
        self.check_data(att_id, Some(&file.comment))?;
        let att = self
            .attachments
            .get_mut(att_id)
            .expect("invariant: checked above");
        if att.title != file.name && !file.name.is_empty() {
            att.title = file.name.clone();
        }
        push_version(att, &file, by, now_ms);
        Ok(att)
    }

    /// Metadata PUT with the "equal or +1" rule. `may_restore` says whether the caller may
    /// restore trashed content (space admin). Returns the attachment after the change.
    pub fn update_metadata(
        &mut self,
        upd: MetadataUpdate,
        may_restore: bool,
        by: &str,
        now_ms: i64,
    ) -> Result<&Attachment, ModelError> {
        let Some(id) = upd.id.clone().filter(|i| !i.trim().is_empty()) else {
            return Err(ModelError::BadRequest(
                "Updated attachment must include an id".into(),
            ));
        };
        let att = self
            .attachments
            .get(&id)
            .ok_or_else(|| ModelError::NotFound(format!("Can't find attachment with id: {id}")))?;
        let Some(number) = upd.version else {
            return Err(ModelError::BadRequest(
                "Updated attachment must include a Version property with a version number".into(),
            ));
        };
        let latest = att.current().number;
        if number != latest && number != latest + 1 {
            let numeric = id.trim_start_matches("att");
            return Err(ModelError::Conflict(format!(
                "You're trying to edit the wrong version of that Attachment. Latest version is {latest}{numeric}"
            )));
        }
        let target_page = upd
            .container_id
            .clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| att.page_id.clone());
        self.page(&target_page)?;
        let new_title = upd
            .title
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| att.title.clone());
        let restoring = att.status == Status::Trashed;
        if restoring && !may_restore {
            return Err(ModelError::Forbidden(format!(
                "You do not have permission to restore content from trash in space: {SPACE_KEY}"
            )));
        }
        if restoring || new_title != att.title || target_page != att.page_id {
            if let Some(other) = self.find_by_name(&target_page, &new_title) {
                if other.id != id {
                    return Err(ModelError::Conflict(format!(
                        "Cannot add a new attachment with same file name as an existing attachment: {new_title}"
                    )));
                }
            }
        }
        if let Some(c) = upd
            .comment
            .as_deref()
            .filter(|c| c.chars().count() > limits::COMMENT_MAX_CHARS)
        {
            return Err(comment_too_long(c));
        }
        let att = self
            .attachments
            .get_mut(&id)
            .expect("invariant: looked up above");
        att.title = new_title;
        att.page_id = target_page;
        att.status = Status::Current;
        if number == latest + 1 {
            let mut v = att.current().clone();
            v.number = number;
            v.by = by.to_string();
            v.when_ms = now_ms;
            v.minor_edit = upd.minor_edit;
            att.versions.push(v);
        }
        let cur = att
            .versions
            .last_mut()
            .expect("invariant: an attachment always has a version");
        if let Some(c) = upd.comment {
            cur.comment = c;
        }
        if let Some(m) = upd.media_type.filter(|m| !m.trim().is_empty()) {
            cur.media_type = m;
        }
        Ok(att)
    }

    /// DELETE without status: moves a current attachment to the trash.
    pub fn trash_attachment(&mut self, id: &str) -> Result<&Attachment, ModelError> {
        match self.attachments.get_mut(id) {
            Some(a) if a.status == Status::Current => {
                a.status = Status::Trashed;
                Ok(a)
            }
            _ => Err(ModelError::NotFound(format!(
                "Can't find attachment with id: {id}"
            ))),
        }
    }

    /// DELETE `?status=trashed`: removes a trashed attachment with all versions. Returns the
    /// blob keys no longer referenced.
    pub fn purge_attachment(
        &mut self,
        id: &str,
        is_space_admin: bool,
    ) -> Result<Vec<String>, ModelError> {
        let att = self
            .attachments
            .get(id)
            .ok_or_else(|| ModelError::NotFound(format!("Can't find attachment with id: {id}")))?;
        if !is_space_admin {
            return Err(ModelError::Forbidden(format!(
                "You do not have permission to purge content from trash in space: {SPACE_KEY}"
            )));
        }
        if att.status != Status::Trashed {
            return Err(ModelError::BadRequest(
                "Trashable Content must be trashed before it can be purged".into(),
            ));
        }
        let removed = self
            .attachments
            .remove(id)
            .expect("invariant: looked up above");
        Ok(self.unreferenced(removed.versions.iter().map(|v| v.blob.clone())))
    }

    /// Deletes one version; deleting the only version removes the attachment entirely.
    /// Returns the blob keys no longer referenced and whether the attachment is gone.
    pub fn delete_version(
        &mut self,
        id: &str,
        number: u64,
    ) -> Result<(Vec<String>, bool), ModelError> {
        let att = self.attachments.get_mut(id).ok_or_else(|| no_content(id))?;
        let pos = att
            .versions
            .iter()
            .position(|v| v.number == number)
            .ok_or_else(|| {
                ModelError::NotFound(format!(
                    "No version: {number} for content with id: ContentId{{id={id}}}"
                ))
            })?;
        let removed = att.versions.remove(pos);
        let gone = att.versions.is_empty();
        if gone {
            self.attachments.remove(id);
        }
        Ok((self.unreferenced([removed.blob]), gone))
    }

    /// The subset of `blobs` that no version of any attachment references any more.
    fn unreferenced(&self, blobs: impl IntoIterator<Item = String>) -> Vec<String> {
        let used: BTreeSet<&str> = self
            .attachments
            .values()
            .flat_map(|a| a.versions.iter().map(|v| v.blob.as_str()))
            .collect();
        let mut out: Vec<String> = blobs
            .into_iter()
            .filter(|b| !used.contains(b.as_str()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every blob key referenced by some version.
    pub fn blobs(&self) -> BTreeSet<String> {
        self.attachments
            .values()
            .flat_map(|a| a.versions.iter().map(|v| v.blob.clone()))
            .collect()
    }

    /// Properties of a page in key order.
    pub fn properties_of(&self, page_id: &str) -> Result<Vec<&Property>, ModelError> {
        self.page(page_id)?;
        Ok(self
            .properties
            .get(page_id)
            .map(|m| m.values().collect())
            .unwrap_or_default())
    }

    /// One property.
    pub fn property(&self, page_id: &str, key: &str) -> Result<&Property, ModelError> {
        self.page(page_id)?;
        self.properties
            .get(page_id)
            .and_then(|m| m.get(key))
            .ok_or_else(|| {
                ModelError::NotFound(format!("No content property found with key: {key}"))
            })
    }

    /// Creates a property; 409 when the key exists.
    pub fn create_property(
        &mut self,
        page_id: &str,
        key: &str,
        value: Option<serde_json::Value>,
        by: &str,
        now_ms: i64,
    ) -> Result<&Property, ModelError> {
        self.page(page_id)?;
        validate_key(key)?;
        let value = validate_value(value)?;
        if self
            .properties
            .get(page_id)
            .is_some_and(|m| m.contains_key(key))
        {
            return Err(ModelError::Conflict(format!(
                "Cannot create a content property with key '{key}' on content with id ContentId{{id={page_id}}}: a property with that key already exists"
            )));
        }
        let id = self.next_id().to_string();
        let map = self.properties.entry(page_id.to_string()).or_default();
        map.insert(
            key.to_string(),
            Property {
                id,
                page_id: page_id.to_string(),
                key: key.to_string(),
                value,
                version: 1,
                by: by.to_string(),
                when_ms: now_ms,
                minor_edit: false,
            },
        );
        Ok(map.get(key).expect("invariant: just inserted"))
    }

    /// PUT of a property: version 1 creates, otherwise strict `current + 1`.
    #[allow(clippy::too_many_arguments)]
    pub fn put_property(
        &mut self,
        page_id: &str,
        path_key: &str,
        body_key: Option<&str>,
        value: Option<serde_json::Value>,
        version: Option<u64>,
        minor_edit: bool,
        by: &str,
        now_ms: i64,
    ) -> Result<&Property, ModelError> {
        self.page(page_id)?;
        if body_key.is_some_and(|k| k != path_key) {
            return Err(ModelError::BadRequest("Path/value mismatch on key".into()));
        }
        let Some(number) = version else {
            return Err(ModelError::BadRequest(
                "Version is required to update a content property".into(),
            ));
        };
        if number == 1 {
            return self.create_property(page_id, path_key, value, by, now_ms);
        }
        validate_key(path_key)?;
        let value = validate_value(value)?;
        let prop = self
            .properties
            .get_mut(page_id)
            .and_then(|m| m.get_mut(path_key))
            .ok_or_else(|| ModelError::NotFound("Could not find Property to update.".into()))?;
        if number != prop.version + 1 {
            return Err(ModelError::Conflict(format!(
                "You're trying to edit an outdated version of that ContentProperty. Latest version is {}",
                prop.version
            )));
        }
        prop.value = value;
        prop.version = number;
        prop.by = by.to_string();
        prop.when_ms = now_ms;
        prop.minor_edit = minor_edit;
        Ok(prop)
    }

    /// Deletes a property.
    pub fn delete_property(&mut self, page_id: &str, key: &str) -> Result<(), ModelError> {
        self.page(page_id)?;
        self.properties
            .get_mut(page_id)
            .and_then(|m| m.remove(key))
            .map(|_| ())
            .ok_or_else(|| {
                ModelError::NotFound(format!("No content property found with key: {key}"))
            })
    }
}

fn push_version(att: &mut Attachment, file: &NewFile, by: &str, now_ms: i64) {
    let number = att.current().number + 1;
    att.versions.push(AttachmentVersion {
        number,
        size: file.size,
        media_type: file.media_type.clone(),
        comment: file.comment.clone(),
        minor_edit: file.minor_edit,
        by: by.to_string(),
        when_ms: now_ms,
        blob: file.blob.clone(),
    });
}

fn comment_too_long(c: &str) -> ModelError {
    ModelError::Internal(format!(
        "java.lang.IllegalArgumentException: Comment must be at most {} characters but was {}",
        limits::COMMENT_MAX_CHARS,
        c.chars().count()
    ))
}

fn validate_key(key: &str) -> Result<(), ModelError> {
    if key.trim().is_empty() {
        return Err(ModelError::BadRequest(
            "Property key cannot be blank".into(),
        ));
    }
    if key.chars().count() > limits::PROPERTY_KEY_MAX_CHARS {
        return Err(ModelError::BadRequest(format!(
            "Property key cannot be longer than {} characters",
            limits::PROPERTY_KEY_MAX_CHARS
        )));
    }
    if key.contains('/') {
        return Err(ModelError::BadRequest(
            "Property key cannot contain the '/' character".into(),
        ));
    }
    Ok(())
}

fn validate_value(value: Option<serde_json::Value>) -> Result<serde_json::Value, ModelError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Err(ModelError::BadRequest(
            "Property value cannot be null".into(),
        ));
    };
    let chars = value.to_string().chars().count();
    if chars > limits::PROPERTY_VALUE_MAX_CHARS {
        return Err(ModelError::BadRequest(format!(
            "Property value cannot be longer than {} characters (was {chars})",
            limits::PROPERTY_VALUE_MAX_CHARS
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model() -> Model {
        let mut m = Model::default();
        m.add_page("1", "Page 1", "alice", 0);
        m.add_page("2", "Page 2", "alice", 0);
        m
    }

    fn file(name: &str, blob: &str) -> NewFile {
        NewFile {
            name: name.into(),
            blob: blob.into(),
            size: 3,
            media_type: "application/octet-stream".into(),
            comment: String::new(),
            minor_edit: true,
        }
    }

    #[test]
    fn page_update_requires_exactly_plus_one() {
        let mut m = model();
        let e = m
            .update_page("1", None, None, None, true, "a", 1)
            .unwrap_err();
        assert_eq!(e.status(), 400, "missing version is a bad request");
        let e = m
            .update_page("1", None, Some(3), None, true, "a", 1)
            .unwrap_err();
        assert_eq!(
            e,
            ModelError::Conflict(
                "Version must be incremented on update. Current version is: 1".into()
            )
        );
        assert_eq!(
            m.update_page("1", Some("T"), Some(2), None, true, "a", 1)
                .unwrap()
                .version,
            2
        );
        assert_eq!(
            m.update_page("9", None, Some(2), None, true, "a", 1)
                .unwrap_err(),
            no_content("9")
        );
    }

    #[test]
    fn create_checks_follow_confluence_order_and_texts() {
        let mut m = model();
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            m.check_create("1", &[], &[], 0, false)
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(
            m.check_create("1", &names(&["a", "b"]), &names(&["c"]), 0, false)
                .unwrap_err(),
            ModelError::BadRequest("Must be same number of attachment files and comments.".into())
        );
        assert_eq!(
            m.check_create("1", &names(&["a", "a"]), &[], 0, false)
                .unwrap_err(),
            ModelError::BadRequest("Cannot add new attachments with duplicate file name: a".into())
        );
        m.store_file("1", file("a.bin", "b1"), "alice", 0);
        assert!(matches!(
            m.check_create("1", &names(&["a.bin"]), &[], 0, false),
            Err(ModelError::BadRequest(t)) if t.contains("same file name as an existing attachment: a.bin")
        ));
        // The pre-check is case-sensitive; storing then matches case-insensitively.
        m.check_create("1", &names(&["A.BIN"]), &[], 0, false)
            .unwrap();
        let s = m.store_file("1", file("A.BIN", "b2"), "alice", 0);
        assert!(!s.created, "a case-insensitive match adds a version");
        let a = m.attachment(&s.id).unwrap();
        assert_eq!((a.title.as_str(), a.current().number), ("a.bin", 2));
        // Other pages do not collide; missing pages are 404.
        m.check_create("2", &names(&["a.bin"]), &[], 0, false)
            .unwrap();
        assert_eq!(
            m.check_create("7", &names(&["x"]), &[], 0, false)
                .unwrap_err()
                .status(),
            404
        );
        let long = "x".repeat(256);
        assert_eq!(
            m.check_create("1", &names(&["z"]), &[long], 0, false)
                .unwrap_err()
                .status(),
            500
        );
    }

    #[test]
    fn listing_is_filtered_case_insensitively_and_hides_trash() {
        let mut m = model();
        let a = m.store_file("1", file("Report.BIN", "b1"), "alice", 0).id;
        m.store_file("1", file("other", "b2"), "alice", 0);
        assert_eq!(m.list_attachments("1", Some("report.bin"), None).len(), 1);
        assert_eq!(m.list_attachments("1", None, None).len(), 2);
        m.trash_attachment(&a).unwrap();
        assert_eq!(
            m.list_attachments("1", None, None).len(),
            1,
            "trashed items are not listed"
        );
        assert!(
            m.trash_attachment(&a).is_err(),
            "a trashed attachment cannot be trashed again"
        );
    }

    #[test]
    fn data_renames_and_metadata_accepts_equal_or_plus_one() {
        let mut m = model();
        let id = m.store_file("1", file("a.bin", "b1"), "alice", 0).id;
        let att = m
            .add_data_version(&id, file("b.bin", "b2"), "alice", 1)
            .unwrap();
        assert_eq!(
            (att.title.as_str(), att.versions.len()),
            ("b.bin", 2),
            "rename trap"
        );
        let upd = |v| MetadataUpdate {
            id: Some(id.clone()),
            version: Some(v),
            comment: Some("c".into()),
            ..Default::default()
        };
        assert_eq!(
            m.update_metadata(upd(2), false, "a", 2)
                .unwrap()
                .versions
                .len(),
            2
        );
        assert_eq!(
            m.update_metadata(upd(3), false, "a", 2)
                .unwrap()
                .versions
                .len(),
            3
        );
        let e = m.update_metadata(upd(5), false, "a", 2).unwrap_err();
        assert_eq!(e.status(), 409);
        assert!(e.to_string().contains("Latest version is 3"), "{e}");
        assert_eq!(
            m.add_data_version("att1", file("x", "y"), "a", 0)
                .unwrap_err()
                .status(),
            404
        );
    }

    #[test]
    fn purge_needs_admin_and_trash_and_frees_blobs() {
        let mut m = model();
        let id = m.store_file("1", file("a", "b1"), "alice", 0).id;
        assert_eq!(m.purge_attachment(&id, true).unwrap_err().status(), 400);
        m.trash_attachment(&id).unwrap();
        assert_eq!(m.purge_attachment(&id, false).unwrap_err().status(), 403);
        assert_eq!(
            m.purge_attachment(&id, true).unwrap(),
            vec!["b1".to_string()]
        );
        assert!(m.attachment(&id).is_none());
    }

    #[test]
    fn deleting_versions_keeps_shared_blobs_and_last_delete_removes() {
        let mut m = model();
        let id = m.store_file("1", file("a", "b1"), "alice", 0).id;
        let upd = MetadataUpdate {
            id: Some(id.clone()),
            version: Some(2),
            ..Default::default()
        };
        m.update_metadata(upd, false, "a", 0).unwrap();
        let (freed, gone) = m.delete_version(&id, 1).unwrap();
        assert!(freed.is_empty() && !gone, "version 2 still shares blob b1");
        let (freed, gone) = m.delete_version(&id, 2).unwrap();
        assert_eq!((freed, gone), (vec!["b1".to_string()], true));
    }

    #[test]
    fn property_cas_is_strict() {
        let mut m = model();
        assert_eq!(m.property("1", "k").unwrap_err().status(), 404);
        m.put_property("1", "k", None, Some(json!({"a":1})), Some(1), false, "a", 0)
            .unwrap();
        let e = m
            .put_property("1", "k", None, Some(json!(1)), Some(1), false, "a", 0)
            .unwrap_err();
        assert_eq!(e.status(), 409, "version 1 means create");
        let e = m
            .put_property("1", "k", None, Some(json!(1)), Some(3), false, "a", 0)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "You're trying to edit an outdated version of that ContentProperty. Latest version is 1"
        );
        assert_eq!(
            m.put_property("1", "k", None, Some(json!(2)), Some(2), false, "a", 0)
                .unwrap()
                .version,
            2
        );
        assert_eq!(
            m.put_property("1", "zz", None, Some(json!(2)), Some(2), false, "a", 0)
                .unwrap_err(),
            ModelError::NotFound("Could not find Property to update.".into())
        );
        assert_eq!(
            m.put_property("1", "k", Some("x"), Some(json!(2)), Some(3), false, "a", 0)
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(
            m.put_property("1", "k", None, Some(json!(2)), None, false, "a", 0)
                .unwrap_err()
                .status(),
            400
        );
        let big = json!("x".repeat(limits::PROPERTY_VALUE_MAX_CHARS));
        assert_eq!(
            m.create_property("1", "big", Some(big), "a", 0)
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(
            m.create_property("1", "a/b", Some(json!(1)), "a", 0)
                .unwrap_err()
                .status(),
            400
        );
        m.delete_property("1", "k").unwrap();
        assert_eq!(m.delete_property("1", "k").unwrap_err().status(), 404);
    }

    #[test]
    fn repair_drops_versionless_attachments_and_lifts_the_counter() {
        let mut m = model();
        let id = m.store_file("1", file("a", "b1"), "alice", 0).id;
        m.attachments.get_mut(&id).unwrap().id = "att9000000".into();
        let broken = Attachment {
            id: "att5".into(),
            page_id: "1".into(),
            title: "x".into(),
            status: Status::Current,
            versions: vec![],
        };
        m.attachments.insert("att5".into(), broken);
        m.last_id = 0;
        assert_eq!(m.repair(), 1);
        assert!(
            m.last_id >= 9_000_000,
            "new ids cannot collide with loaded ones"
        );
    }

    #[test]
    fn strip_path_and_media_types() {
        assert_eq!(strip_path("dir/sub\\a.png"), "a.png");
        assert_eq!(
            resolve_media_type("a.png", Some("application/octet-stream")),
            "image/png"
        );
        assert_eq!(
            resolve_media_type("a.bin", None),
            "application/octet-stream"
        );
    }
}
