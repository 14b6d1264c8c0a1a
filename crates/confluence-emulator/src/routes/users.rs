//! `/rest/api/user/current`.

use http::Response;
use serde_json::json;

use super::respond::json_resp;
use super::{OutBody, Req};
use crate::render;
use crate::spawn::Shared;

pub(super) fn current_user(sh: &Shared, r: &Req) -> Response<OutBody> {
    match r.who.name() {
        Some(name) => {
            let mut v = render::user(&sh.links, name);
            v["_links"]["base"] = json!(sh.links.base);
            v["_links"]["context"] = json!(sh.links.context);
            json_resp(200, &v)
        }
        None => json_resp(200, &render::anonymous(&sh.links)),
    }
}
