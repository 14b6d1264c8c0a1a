//! `/rest/api/content/{id}/property…`: content properties.

use http::{Method, Response};
use serde_json::Value;

use super::paging::Paging;
use super::request_body::read_json;
use super::respond::{empty, error_msg, error_resp, json_resp};
use super::{OutBody, Req};
use crate::auth::Identity;
use crate::model::{limits, no_content, ModelError};
use crate::render;
use crate::spawn::{lock, now_ms, Shared};

pub(super) fn list_properties(sh: &Shared, r: &Req, id: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    let paging = match Paging::of(r, limits::PROPERTY_LIST_DEFAULT) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let model = lock(&sh.model);
    let props = match model.properties_of(id) {
        Ok(p) => p,
        Err(e) => return error_resp(&e),
    };
    let Some(page) = model.pages.get(id) else {
        return error_resp(&no_content(id));
    };
    let results: Vec<Value> = props
        .iter()
        .skip(paging.start)
        .take(paging.limit)
        .map(|p| render::property(&sh.links, p, page))
        .collect();
    let path = format!("/rest/api/content/{id}/property");
    paging.answer(sh, r, &path, results, paging.limit, props.len())
}

pub(super) fn get_property(sh: &Shared, r: &Req, id: &str, key: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    let model = lock(&sh.model);
    match model.property(id, key) {
        Ok(p) => match model.pages.get(id) {
            Some(page) => json_resp(200, &render::property(&sh.links, p, page)),
            None => error_resp(&no_content(id)),
        },
        Err(e) => error_resp(&e),
    }
}

pub(super) async fn write_property(
    sh: &Shared,
    r: &mut Req,
    id: &str,
    path_key: Option<&str>,
) -> Response<OutBody> {
    let body = match read_json(r).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    if !r.who.can_write() {
        if !lock(&sh.model).pages.contains_key(id) {
            return error_resp(&no_content(id));
        }
        return error_msg(
            403,
            &format!("User not permitted to edit content with id: ContentId{{id={id}}}"),
        );
    }
    let value = body.get("value").cloned();
    let user = r.user().to_string();
    let now = now_ms();
    let mut model = lock(&sh.model);
    let result = match (r.method.clone(), path_key) {
        (Method::PUT, Some(key)) => model.put_property(
            id,
            key,
            body["key"].as_str(),
            value,
            body["version"]["number"].as_u64(),
            body["version"]["minorEdit"].as_bool().unwrap_or(false),
            &user,
            now,
        ),
        (_, Some(key)) => {
            if body["key"].as_str().is_some_and(|k| k != key) {
                Err(ModelError::BadRequest("Path/value mismatch on key".into()))
            } else {
                model.create_property(id, key, value, &user, now)
            }
        }
        (_, None) => match body["key"].as_str() {
            Some(key) => model.create_property(id, key, value, &user, now),
            None => Err(ModelError::BadRequest(
                "Property key cannot be blank".into(),
            )),
        },
    };
    let out = match result {
        Ok(p) => {
            let p = p.clone();
            match model.pages.get(id) {
                Some(page) => render::property(&sh.links, &p, page),
                None => return error_resp(&no_content(id)),
            }
        }
        Err(e) => return error_resp(&e),
    };
    sh.persist(&model);
    json_resp(200, &out)
}

pub(super) fn delete_property(sh: &Shared, r: &Req, id: &str, key: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    if !r.who.can_write() {
        return error_msg(
            403,
            &format!("User not permitted to edit content with id: ContentId{{id={id}}}"),
        );
    }
    let mut model = lock(&sh.model);
    match model.delete_property(id, key) {
        Ok(()) => {
            sh.persist(&model);
            empty(204)
        }
        Err(e) => error_resp(&e),
    }
}
