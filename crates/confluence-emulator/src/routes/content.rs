//! `/rest/api/content/{id}`: pages and attachments read, a page updated, content deleted.

use http::Response;

use super::request_body::read_json;
use super::respond::{empty, error_msg, error_resp, json_resp};
use super::{OutBody, Req};
use crate::auth::Identity;
use crate::model::{no_content, Status};
use crate::render::{self, Expand};
use crate::spawn::{lock, now_ms, Notification, NotificationKind, Shared};

pub(super) fn get_content(sh: &Shared, r: &Req, id: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    let expand = Expand::parse(Some(r.q("expand").unwrap_or("history,space,version")));
    let model = lock(&sh.model);
    if let Some(p) = model.pages.get(id) {
        return json_resp(200, &render::page(&sh.links, p, &expand, true));
    }
    let Some(a) = model.attachment(id) else {
        return error_resp(&no_content(id));
    };
    let status_ok = match r.q("status") {
        Some("any") | Some("trashed") => true,
        _ => a.status == Status::Current,
    };
    if !status_ok {
        return error_resp(&no_content(id));
    }
    let v = match r.q("version").map(str::parse::<u64>) {
        Some(Ok(n)) => match a.version(n) {
            Some(v) => v,
            None => return error_resp(&no_content(id)),
        },
        _ => a.current(),
    };
    json_resp(
        200,
        &render::attachment(&sh.links, a, v, model.pages.get(&a.page_id), &expand, true),
    )
}

pub(super) async fn put_page(sh: &Shared, r: &mut Req, id: &str) -> Response<OutBody> {
    let body = match read_json(r).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    if !r.who.can_write() {
        return error_msg(
            403,
            &format!("Not permitted to update content with id: ContentId{{id={id}}}"),
        );
    }
    let mut model = lock(&sh.model);
    let minor = body["version"]["minorEdit"].as_bool().unwrap_or(false);
    let result = model.update_page(
        id,
        body["title"].as_str(),
        body["version"]["number"].as_u64(),
        body["body"]["storage"]["value"].as_str(),
        minor,
        r.user(),
        now_ms(),
    );
    match result {
        Ok(p) => {
            let out = render::page(
                &sh.links,
                p,
                &Expand::of(&["history", "space", "version"]),
                true,
            );
            let title = p.title.clone();
            sh.persist(&model);
            drop(model);
            if !minor {
                sh.notify(Notification {
                    kind: NotificationKind::PageUpdated,
                    page_id: id.to_string(),
                    content_id: id.to_string(),
                    title,
                    user: r.user().to_string(),
                });
            }
            json_resp(200, &out)
        }
        Err(e) => error_resp(&e),
    }
}

pub(super) fn delete_content(sh: &Shared, r: &Req, id: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    let mut model = lock(&sh.model);
    if model.pages.contains_key(id) {
        return error_msg(
            403,
            &format!("Not permitted to delete content with id: ContentId{{id={id}}}"),
        );
    }
    match r.q("status") {
        None | Some("current") => {
            if !r.who.can_write() {
                return error_msg(
                    403,
                    &format!(
                        "You do not have the permissions to remove the attachment with id: {id}"
                    ),
                );
            }
            match model.trash_attachment(id) {
                Ok(a) => {
                    let n = Notification {
                        kind: NotificationKind::AttachmentTrashed,
                        page_id: a.page_id.clone(),
                        content_id: id.to_string(),
                        title: a.title.clone(),
                        user: r.user().to_string(),
                    };
                    sh.persist(&model);
                    drop(model);
                    sh.notify(n);
                    empty(204)
                }
                Err(e) => error_resp(&e),
            }
        }
        Some("trashed") => match model.purge_attachment(id, r.who.is_space_admin()) {
            Ok(freed) => {
                sh.persist(&model);
                drop(model);
                sh.store.remove_blobs(&freed);
                empty(204)
            }
            Err(e) => error_resp(&e),
        },
        Some("draft") => error_resp(&no_content(id)),
        Some(_) => error_msg(
            400,
            "Specified status for Content DELETE can only be 'current', 'draft' or 'trashed'",
        ),
    }
}
