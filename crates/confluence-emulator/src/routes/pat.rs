//! `/rest/pat/latest/tokens` (alias `/rest/pat/1.0/tokens`): the caller's personal access
//! tokens as DC lists them — a JSON array of `{id, name, createdAt, expiringAt,
//! lastAccessedAt}`, never the secret. `expiringAt` is absent for a token without expiry;
//! `lastAccessedAt` is set for the token this very request came with (the server has just
//! seen it), absent for the others. Anonymous callers get 401.

use http::Response;
use serde_json::{json, Value};

use super::respond::{error_msg, json_resp};
use super::{OutBody, Req};
use crate::render::format_time;
use crate::spawn::{now_ms, Shared};

pub(super) fn list_tokens(sh: &Shared, r: &Req) -> Response<OutBody> {
    let Some(user) = r.who.name() else {
        return error_msg(401, "Client must be authenticated to access this resource.");
    };
    let bearer = r
        .header("authorization")
        .and_then(|h| h.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string());
    let now = now_ms();
    let list: Vec<Value> = sh
        .users
        .tokens_with_secret_of(user)
        .into_iter()
        .map(|(secret, m)| {
            let mut v = json!({
                "id": m.id,
                "name": m.name,
                "createdAt": format_time(now - 86_400_000),
            });
            if let Some(at) = m.expiring_at_ms {
                v["expiringAt"] = json!(format_time(at));
            }
            if bearer.as_deref() == Some(secret.as_str()) {
                v["lastAccessedAt"] = json!(format_time(now));
            }
            v
        })
        .collect();
    json_resp(200, &Value::Array(list))
}
