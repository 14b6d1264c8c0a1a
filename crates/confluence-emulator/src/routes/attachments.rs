//! `/rest/api/content/{id}/child/attachment…`: list, create, new data, metadata.

use http::Response;
use serde_json::Value;

use super::multipart::read_multipart;
use super::paging::Paging;
use super::request_body::read_json;
use super::respond::{error_msg, error_resp, json_resp};
use super::{OutBody, Req};
use crate::auth::Identity;
use crate::model::{
    limits, no_content, resolve_media_type, Attachment, MetadataUpdate, Model, NewFile, Status,
};
use crate::render::{self, Expand};
use crate::spawn::{lock, now_ms, Notification, NotificationKind, Shared};

pub(super) fn list_attachments(sh: &Shared, r: &Req, id: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    let paging = match Paging::of(r, limits::ATTACHMENT_LIST_DEFAULT) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let start = paging.start;
    let effective = paging.limit.min(limits::ATTACHMENT_LIST_CAP);
    let expand = Expand::parse(r.q("expand"));
    let model = lock(&sh.model);
    let Some(page) = model.pages.get(id) else {
        return error_resp(&no_content(id));
    };
    let all = model.list_attachments(id, r.q("filename"), r.q("mediaType"));
    let path = format!("/rest/api/content/{id}/child/attachment");
    let bugged = sh.listing_bug_past_200
        && start >= limits::ATTACHMENT_LIST_CAP
        && all.len() > limits::ATTACHMENT_LIST_CAP
        && effective > 0;
    let chosen: Vec<_> = if bugged {
        // CONFSERVER-95396: a full page of (repeating) items, whatever is left.
        all.iter()
            .cycle()
            .skip(start % all.len())
            .take(effective)
            .collect()
    } else {
        all.iter().skip(start).take(effective).collect()
    };
    let results: Vec<Value> = chosen
        .into_iter()
        .map(|a| render::attachment(&sh.links, a, a.current(), Some(page), &expand, false))
        .collect();
    let total = if bugged { usize::MAX } else { all.len() };
    paging.answer(sh, r, &path, results, effective, total)
}

pub(super) fn upload_notification(
    kind: NotificationKind,
    page: &str,
    id: &str,
    title: &str,
    user: &str,
) -> Notification {
    Notification {
        kind,
        page_id: page.to_string(),
        content_id: id.to_string(),
        title: title.to_string(),
        user: user.to_string(),
    }
}

pub(super) async fn create_attachments(
    sh: &Shared,
    r: &mut Req,
    page_id: &str,
) -> Response<OutBody> {
    if r.who == Identity::Anonymous || !lock(&sh.model).pages.contains_key(page_id) {
        return error_resp(&no_content(page_id));
    }
    if !r.who.can_write() {
        return error_msg(
            403,
            &format!(
                "User not permitted to create attachments for content: ContentId{{id={page_id}}}"
            ),
        );
    }
    let allow_duplicated = r
        .q("allowDuplicated")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let up = match read_multipart(sh, r).await {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let names: Vec<String> = up.files.iter().map(|f| f.name.clone()).collect();
    let user = r.user().to_string();
    let mut model = lock(&sh.model);
    if let Err(e) = model.check_create(
        page_id,
        &names,
        &up.comments,
        up.minor_edits.len(),
        allow_duplicated,
    ) {
        let msg = e.to_string();
        return if msg.starts_with("Cannot add a new attachment with same file name") {
            error_msg(
                400,
                &format!("{msg}. Log referral number is {}", uuid::Uuid::new_v4()),
            )
        } else {
            error_resp(&e)
        };
    }
    let now = now_ms();
    let mut stored = Vec::new();
    let mut notes = Vec::new();
    for (i, f) in up.files.iter().enumerate() {
        if let Err(e) = sh.store.commit_upload(&f.tmp, &f.key) {
            tracing::error!(error = %e, "cannot commit upload");
            sh.persist(&model);
            return error_msg(500, &format!("Could not save attachment: {e}"));
        }
        let minor = up.minor(i);
        let s = model.store_file(
            page_id,
            NewFile {
                name: f.name.clone(),
                blob: f.key.clone(),
                size: f.size,
                media_type: resolve_media_type(&f.name, f.part_type.as_deref()),
                comment: up.comment(i),
                minor_edit: minor,
            },
            &user,
            now,
        );
        tracing::debug!(id = %s.id, sent = %f.sent_name, size = f.size, created = s.created, "attachment stored");
        if up.notifies(i) {
            let kind = if s.created {
                NotificationKind::AttachmentCreated
            } else {
                NotificationKind::AttachmentUpdated
            };
            notes.push(upload_notification(kind, page_id, &s.id, &f.name, &user));
        }
        stored.push(s.id);
    }
    sh.persist(&model);
    let page = model.pages.get(page_id);
    let expand = Expand::of(&["version", "container"]);
    let results: Vec<Value> = stored
        .iter()
        .filter_map(|id| model.attachment(id))
        .map(|a| render::attachment(&sh.links, a, a.current(), page, &expand, false))
        .collect();
    drop(model);
    for n in notes {
        sh.notify(n);
    }
    let n = results.len();
    json_resp(
        200,
        &render::rest_list(
            &sh.links,
            results,
            Some(0),
            Some(n),
            &format!("/rest/api/content/{page_id}/child/attachment"),
            None,
            None,
        ),
    )
}

pub(super) async fn post_data(
    sh: &Shared,
    r: &mut Req,
    page_id: &str,
    att_id: &str,
) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(page_id));
    }
    let found = lock(&sh.model)
        .check_data(att_id, None)
        .map(|a| a.status == Status::Current);
    match found {
        Err(e) => return error_resp(&e),
        Ok(false) => return error_msg(404, &format!("Can't find attachment with id: {att_id}")),
        Ok(true) => {}
    }
    if !r.who.can_write() {
        return error_msg(403, "You do not have permission to update this Attachment");
    }
    let up = match read_multipart(sh, r).await {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let Some(f) = up.files.first() else {
        return error_msg(400, "At least one attachment file must be included.");
    };
    if up.files.len() > 1 {
        return error_msg(400, "Only one attachment file can be updated at a time.");
    }
    let user = r.user().to_string();
    let minor = up.minor(0);
    let mut model = lock(&sh.model);
    if let Err(e) = model.check_data(att_id, Some(&up.comment(0))) {
        return error_resp(&e);
    }
    if let Err(e) = sh.store.commit_upload(&f.tmp, &f.key) {
        return error_msg(500, &format!("Could not save attachment: {e}"));
    }
    let file = NewFile {
        name: f.name.clone(),
        blob: f.key.clone(),
        size: f.size,
        media_type: resolve_media_type(&f.name, f.part_type.as_deref()),
        comment: up.comment(0),
        minor_edit: minor,
    };
    let out = match model.add_data_version(att_id, file, &user, now_ms()) {
        Ok(a) => {
            let a = a.clone();
            written(sh, &model, &a)
        }
        Err(e) => {
            sh.store.remove_blobs(std::slice::from_ref(&f.key));
            return error_resp(&e);
        }
    };
    sh.persist(&model);
    let title = out["title"].as_str().unwrap_or_default().to_string();
    let page = model
        .attachment(att_id)
        .map(|a| a.page_id.clone())
        .unwrap_or_default();
    drop(model);
    if up.notifies(0) {
        sh.notify(upload_notification(
            NotificationKind::AttachmentUpdated,
            &page,
            att_id,
            &title,
            &user,
        ));
    }
    json_resp(200, &out)
}

/// The answer's view of an attachment just written: its current version, with its page.
fn written(sh: &Shared, model: &Model, a: &Attachment) -> Value {
    render::attachment(
        &sh.links,
        a,
        a.current(),
        model.pages.get(&a.page_id),
        &Expand::of(&["version", "container"]),
        true,
    )
}

pub(super) async fn put_attachment_metadata(
    sh: &Shared,
    r: &mut Req,
    att_id: &str,
) -> Response<OutBody> {
    let body = match read_json(r).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(att_id));
    }
    if !r.who.can_write() {
        return error_msg(403, "You do not have permission to update this Attachment");
    }
    let upd = MetadataUpdate {
        id: body["id"].as_str().map(str::to_string),
        version: body["version"]["number"].as_u64(),
        title: body["title"].as_str().map(str::to_string),
        comment: body["metadata"]["comment"].as_str().map(str::to_string),
        media_type: body["metadata"]["mediaType"].as_str().map(str::to_string),
        container_id: body["container"]["id"]
            .as_str()
            .map(str::to_string)
            .or_else(|| body["container"]["id"].as_u64().map(|n| n.to_string())),
        minor_edit: body["version"]["minorEdit"].as_bool().unwrap_or(false),
    };
    let mut model = lock(&sh.model);
    let out = match model.update_metadata(upd, r.who.is_space_admin(), r.user(), now_ms()) {
        Ok(a) => {
            let a = a.clone();
            written(sh, &model, &a)
        }
        Err(e) => return error_resp(&e),
    };
    sh.persist(&model);
    json_resp(200, &out)
}
