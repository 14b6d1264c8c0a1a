//! JSON shapes of Confluence DC's REST v1 answers (pages, attachments, versions, properties,
//! users, RestLists, errors), written from the API documentation, never shared with a client.
//!
//! Invariant: `_links.base` is the base URL incl. context path without a trailing slash,
//! `_links.context` the context path alone (`""` when none), relative links (`download`,
//! `webui`, `next`, `prev`) are relative to `base`, `_links.self` is absolute.

use std::collections::BTreeSet;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Map, Value};

use crate::model::{
    Attachment, AttachmentVersion, Page, Property, SPACE_ID, SPACE_KEY, SPACE_NAME,
};

/// Base URL and context path of the instance.
#[derive(Debug, Clone)]
pub struct Links {
    /// `scheme://host:port` + context path.
    pub base: String,
    /// Context path (`""` or `/confluence`).
    pub context: String,
}

/// A parsed `expand` parameter.
#[derive(Debug, Clone, Default)]
pub struct Expand(BTreeSet<String>);

impl Expand {
    /// Parses a comma-separated list (absent → empty).
    pub fn parse(s: Option<&str>) -> Self {
        Expand(
            s.unwrap_or("")
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        )
    }

    /// From a fixed list.
    pub fn of(items: &[&str]) -> Self {
        Expand(items.iter().map(|s| s.to_string()).collect())
    }

    /// Whether `name` (or one of its sub-expansions) is asked for.
    pub fn has(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|e| e == name || e.starts_with(&format!("{name}.")))
    }
}

/// ISO-8601 with millis and offset, as DC writes dates.
pub fn format_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Characters kept as-is by Java's `URLEncoder` (then `+` is written as `%20`).
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'*');

/// UTF-8 form-URL-encoding with spaces as `%20`, as DC's download links use.
pub fn encode_name(name: &str) -> String {
    utf8_percent_encode(name, FORM).to_string()
}

fn user_key(name: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(name.as_bytes());
    format!("ff8080815{}", &hex::encode(d)[..23])
}

/// A known user.
pub fn user(l: &Links, name: &str) -> Value {
    json!({
        "type": "known",
        "username": name,
        "userKey": user_key(name),
        "profilePicture": { "path": "/images/icons/profilepics/default.svg", "width": 48, "height": 48, "isDefault": true },
        "displayName": name,
        "_links": { "self": format!("{}/rest/api/user?key={}", l.base, user_key(name)) },
        "_expandable": { "status": "" }
    })
}

/// The anonymous user (what `user/current` answers without valid credentials).
pub fn anonymous(l: &Links) -> Value {
    json!({
        "type": "anonymous",
        "profilePicture": { "path": "/images/icons/profilepics/anonymous.svg", "width": 48, "height": 48, "isDefault": true },
        "displayName": "Anonymous",
        "_links": { "self": format!("{}/rest/api/user/anonymous", l.base), "base": l.base, "context": l.context },
        "_expandable": {}
    })
}

fn space(l: &Links) -> Value {
    json!({
        "id": SPACE_ID, "key": SPACE_KEY, "name": SPACE_NAME, "type": "global",
        "_links": { "webui": format!("/display/{SPACE_KEY}"), "self": format!("{}/rest/api/space/{SPACE_KEY}", l.base) },
        "_expandable": { "metadata": "", "icon": "", "description": "", "homepage": "" }
    })
}

fn version(
    l: &Links,
    by: &str,
    when_ms: i64,
    message: &str,
    number: u64,
    minor: bool,
    content: &str,
) -> Value {
    json!({
        "by": user(l, by), "when": format_time(when_ms), "message": message,
        "number": number, "minorEdit": minor, "hidden": false,
        "_links": { "self": format!("{}/rest/experimental/content/{content}/version/{number}", l.base) },
        "_expandable": { "content": format!("/rest/api/content/{content}") }
    })
}

/// A page; `expand` decides which of `space`, `history`, `version`, `body` are inlined.
pub fn page(l: &Links, p: &Page, expand: &Expand, with_base: bool) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(p.id));
    o.insert("type".into(), json!("page"));
    o.insert("status".into(), json!("current"));
    o.insert("title".into(), json!(p.title));
    let mut expandable = Map::new();
    if expand.has("space") {
        o.insert("space".into(), space(l));
    } else {
        expandable.insert(
            "space".into(),
            json!(format!("/rest/api/space/{SPACE_KEY}")),
        );
    }
    if expand.has("history") {
        o.insert(
            "history".into(),
            json!({ "latest": true, "createdBy": user(l, &p.by), "createdDate": format_time(p.created_ms),
                    "_links": { "self": format!("{}/rest/api/content/{}/history", l.base, p.id) },
                    "_expandable": { "lastUpdated": "", "previousVersion": "", "contributors": "", "nextVersion": "" } }),
        );
    } else {
        expandable.insert(
            "history".into(),
            json!(format!("/rest/api/content/{}/history", p.id)),
        );
    }
    if expand.has("version") {
        o.insert(
            "version".into(),
            version(
                l,
                &p.by,
                p.when_ms,
                &p.message,
                p.version,
                p.minor_edit,
                &p.id,
            ),
        );
    } else {
        expandable.insert("version".into(), json!(""));
    }
    if expand.has("body") {
        o.insert(
            "body".into(),
            json!({ "storage": { "value": p.body, "representation": "storage",
                                  "_expandable": { "content": format!("/rest/api/content/{}", p.id) } },
                    "_expandable": { "editor": "", "view": "", "export_view": "", "styled_view": "", "anonymous_export_view": "" } }),
        );
    } else {
        expandable.insert("body".into(), json!(""));
    }
    o.insert("extensions".into(), json!({ "position": "none" }));
    let webui = format!(
        "/display/{SPACE_KEY}/{}",
        encode_name(&p.title).replace("%20", "+")
    );
    let mut links = json!({
        "webui": webui,
        "edit": format!("/pages/resumedraft.action?draftId={}", p.id),
        "tinyui": format!("/x/{}", p.id),
        "collection": "/rest/api/content",
        "self": format!("{}/rest/api/content/{}", l.base, p.id),
    });
    if with_base {
        links["base"] = json!(l.base);
        links["context"] = json!(l.context);
    }
    o.insert("_links".into(), links);
    for (k, v) in [
        ("container", json!(format!("/rest/api/space/{SPACE_KEY}"))),
        ("metadata", json!("")),
        ("operations", json!("")),
        (
            "children",
            json!(format!("/rest/api/content/{}/child", p.id)),
        ),
        (
            "restrictions",
            json!(format!(
                "/rest/api/content/{}/restriction/byOperation",
                p.id
            )),
        ),
        ("ancestors", json!("")),
        (
            "descendants",
            json!(format!("/rest/api/content/{}/descendant", p.id)),
        ),
    ] {
        expandable.insert(k.into(), v);
    }
    o.insert("_expandable".into(), Value::Object(expandable));
    Value::Object(o)
}

/// `_links.download` of a version: `/download/attachments/{page}/{name}?version=N&modificationDate=…&api=v2`.
pub fn download_link(a: &Attachment, v: &AttachmentVersion) -> String {
    format!(
        "/download/attachments/{}/{}?version={}&modificationDate={}&api=v2",
        a.page_id,
        encode_name(&a.title),
        v.number,
        v.when_ms
    )
}

/// An attachment at version `v`; `container` is the page when it exists.
pub fn attachment(
    l: &Links,
    a: &Attachment,
    v: &AttachmentVersion,
    container: Option<&Page>,
    expand: &Expand,
    with_base: bool,
) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(a.id));
    o.insert("type".into(), json!("attachment"));
    o.insert("status".into(), json!(a.status.as_str()));
    o.insert("title".into(), json!(a.title));
    let mut expandable = Map::new();
    if expand.has("version") {
        o.insert(
            "version".into(),
            version(
                l,
                &v.by,
                v.when_ms,
                &v.comment,
                v.number,
                v.minor_edit,
                &a.id,
            ),
        );
    } else {
        expandable.insert("version".into(), json!(""));
    }
    match container {
        Some(p) if expand.has("container") => {
            o.insert("container".into(), page(l, p, &Expand::default(), false));
        }
        _ => {
            expandable.insert(
                "container".into(),
                json!(format!("/rest/api/content/{}", a.page_id)),
            );
        }
    }
    o.insert(
        "metadata".into(),
        json!({ "mediaType": v.media_type, "comment": v.comment,
                "labels": { "results": [], "start": 0, "limit": 200, "size": 0,
                            "_links": { "self": format!("{}/rest/api/content/{}/label", l.base, a.id) } },
                "_expandable": { "currentuser": "", "properties": "", "frontend": "", "editorHtml": "" } }),
    );
    o.insert(
        "extensions".into(),
        json!({ "mediaType": v.media_type, "fileSize": v.size, "comment": v.comment }),
    );
    let mut links = json!({
        "webui": format!("/pages/viewpageattachments.action?pageId={}&preview=%2F{}%2F{}%2F{}", a.page_id, a.page_id, a.id.trim_start_matches("att"), encode_name(&a.title)),
        "download": download_link(a, v),
        "self": format!("{}/rest/api/content/{}", l.base, a.id),
    });
    if with_base {
        links["base"] = json!(l.base);
        links["context"] = json!(l.context);
    }
    o.insert("_links".into(), links);
    for (k, val) in [
        ("operations", json!("")),
        (
            "children",
            json!(format!("/rest/api/content/{}/child", a.id)),
        ),
        (
            "restrictions",
            json!(format!(
                "/rest/api/content/{}/restriction/byOperation",
                a.id
            )),
        ),
        (
            "history",
            json!(format!("/rest/api/content/{}/history", a.id)),
        ),
        ("ancestors", json!("")),
        ("body", json!("")),
        (
            "descendants",
            json!(format!("/rest/api/content/{}/descendant", a.id)),
        ),
        ("space", json!(format!("/rest/api/space/{SPACE_KEY}"))),
    ] {
        expandable.insert(k.into(), val);
    }
    o.insert("_expandable".into(), Value::Object(expandable));
    Value::Object(o)
}

/// A `Version` object of the experimental version API.
pub fn attachment_version(l: &Links, a: &Attachment, v: &AttachmentVersion) -> Value {
    version(
        l,
        &v.by,
        v.when_ms,
        &v.comment,
        v.number,
        v.minor_edit,
        &a.id,
    )
}

/// A content property.
pub fn property(l: &Links, p: &Property, container: &Page) -> Value {
    json!({
        "id": p.id,
        "key": p.key,
        "value": p.value,
        "version": { "when": format_time(p.when_ms), "message": "", "number": p.version, "minorEdit": p.minor_edit, "hidden": false,
                     "_links": {}, "_expandable": { "content": format!("/rest/api/content/{}", p.page_id) } },
        "content": page(l, container, &Expand::default(), false),
        "_links": {
            "self": format!("{}/rest/api/content/{}/property/{}", l.base, p.page_id, encode_name(&p.key)),
            "base": l.base,
            "context": l.context
        },
        "_expandable": {}
    })
}

/// A RestList; `next`/`prev` are relative links (or absent).
pub fn rest_list(
    l: &Links,
    results: Vec<Value>,
    start: Option<usize>,
    limit: Option<usize>,
    self_path: &str,
    next: Option<String>,
    prev: Option<String>,
) -> Value {
    let mut links =
        json!({ "self": format!("{}{self_path}", l.base), "base": l.base, "context": l.context });
    if let Some(n) = next {
        links["next"] = json!(n);
    }
    if let Some(p) = prev {
        links["prev"] = json!(p);
    }
    let mut o = Map::new();
    o.insert("size".into(), json!(results.len()));
    o.insert("results".into(), Value::Array(results));
    if let Some(s) = start {
        o.insert("start".into(), json!(s));
    }
    if let Some(li) = limit {
        o.insert("limit".into(), json!(li));
    }
    o.insert("_links".into(), links);
    Value::Object(o)
}

/// HTTP reason phrase.
pub fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown")
}

/// DC's error body.
pub fn error(status: u16, message: &str) -> Value {
    json!({
        "statusCode": status,
        "data": { "authorized": status != 401 && status != 403, "valid": status != 400,
                  "allowedInReadOnlyMode": true, "errors": [], "successful": false },
        "message": message,
        "reason": reason(status)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_and_names_render_like_dc() {
        assert_eq!(
            format_time(1_709_283_600_123),
            "2024-03-01T09:00:00.123+00:00"
        );
        assert_eq!(encode_name("a b+c/ü.bin"), "a%20b%2Bc%2F%C3%BC.bin");
    }
}
