//! `/rest/experimental/content/{id}/version…`: an attachment's versions.

use http::Response;
use serde_json::{json, Value};

use super::attachments::upload_notification;
use super::paging::Paging;
use super::respond::{empty, error_msg, error_resp, json_resp};
use super::{OutBody, Req};
use crate::auth::Identity;
use crate::model::{limits, no_content};
use crate::render;
use crate::spawn::{lock, NotificationKind, Shared};

pub(super) fn list_versions(sh: &Shared, r: &Req, id: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    let paging = match Paging::of(r, limits::VERSION_LIST_DEFAULT) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let effective = paging.limit.min(limits::VERSION_LIST_DEFAULT);
    let model = lock(&sh.model);
    let Some(a) = model.attachment(id) else {
        return error_resp(&no_content(id));
    };
    let results: Vec<Value> = a
        .versions
        .iter()
        .rev()
        .skip(paging.start)
        .take(effective)
        .map(|v| render::attachment_version(&sh.links, a, v))
        .collect();
    let path = format!("/rest/experimental/content/{id}/version");
    paging.answer(sh, r, &path, results, effective, a.versions.len())
}

pub(super) fn get_version(sh: &Shared, r: &Req, id: &str, n: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    let model = lock(&sh.model);
    let Some(a) = model.attachment(id) else {
        return error_resp(&no_content(id));
    };
    match n.parse::<u64>().ok().and_then(|n| a.version(n)) {
        Some(v) => {
            let mut out = render::attachment_version(&sh.links, a, v);
            out["_links"]["base"] = json!(sh.links.base);
            out["_links"]["context"] = json!(sh.links.context);
            json_resp(200, &out)
        }
        None => error_msg(
            404,
            &format!("No version: {n} for content with id: ContentId{{id={id}}}"),
        ),
    }
}

pub(super) fn delete_version(sh: &Shared, r: &Req, id: &str, n: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    let Ok(number) = n.parse::<u64>() else {
        return error_msg(400, &format!("Invalid version number: {n}"));
    };
    if !r.who.can_write() {
        return error_msg(
            403,
            &format!("You do not have the permissions to remove the attachment with id: {id}"),
        );
    }
    let mut model = lock(&sh.model);
    let Some((page, title)) = model
        .attachment(id)
        .map(|a| (a.page_id.clone(), a.title.clone()))
    else {
        return error_resp(&no_content(id));
    };
    match model.delete_version(id, number) {
        Ok((freed, _gone)) => {
            sh.persist(&model);
            drop(model);
            sh.store.remove_blobs(&freed);
            sh.notify(upload_notification(
                NotificationKind::AttachmentVersionDeleted,
                &page,
                id,
                &title,
                r.user(),
            ));
            empty(204)
        }
        Err(e) => error_resp(&e),
    }
}
