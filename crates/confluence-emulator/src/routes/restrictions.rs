//! Content restrictions (`confluence-api.md` §17): the DC REST resource that reads and writes
//! them, and [`enforce`], which every request touching a page passes before its handler.
//!
//! Routes (also under `/rest/experimental/…`, the older servers' spelling):
//! - `GET  /rest/api/content/{id}/restriction` — both operations as a list;
//! - `GET  /rest/api/content/{id}/restriction/byOperation` — an object keyed by operation;
//! - `GET  /rest/api/content/{id}/restriction/byOperation/{op}` — one operation;
//! - `PUT  /rest/api/content/{id}/restriction` — replace all restrictions;
//! - `POST /rest/api/content/{id}/restriction` — add to them;
//! - `PUT|DELETE /rest/api/content/{id}/restriction/byOperation/{op}/user?userName=…`;
//! - `PUT|DELETE /rest/api/content/{id}/restriction/byOperation/{op}/group/{name}`.
//!
//! Reading needs view access, writing edit access (both checked by [`enforce`]); a change
//! that would take the caller's own access away is refused
//! ([`crate::restrictions::self_lockout`]).

use http::{Method, Response};
use serde_json::{json, Value};

use super::request_body::read_json;
use super::respond::{empty, error_msg, error_resp, json_resp, not_found_page};
use super::{OutBody, Req};
use crate::model::{no_content, ModelError};
use crate::render::{self, Links};
use crate::restrictions::{Access, Operation, PageRestrictions, Subjects};
use crate::spawn::{lock, Shared};

/// Answers a request the page's restrictions do not allow: 404 (as if the page did not exist)
/// to a caller outside a read restriction, 403 to a viewer outside an update restriction who
/// writes. `None` lets the request through. `s` is the decoded path after the context path.
pub(super) fn enforce(sh: &Shared, r: &Req, s: &[&str]) -> Option<Response<OutBody>> {
    let (ids, servlet): (Vec<&str>, bool) = match s {
        ["rest", "api" | "experimental", "content", id, "child", "attachment", att, ..] => {
            (vec![*id, *att], false)
        }
        ["rest", "api" | "experimental", "content", id, ..] => (vec![*id], false),
        ["download", "attachments", page, ..] => (vec![*page], true),
        _ => return None,
    };
    let model = lock(&sh.model);
    if model.restrictions.is_empty() {
        return None;
    }
    let write = !matches!(r.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let user = r.who.name();
    let groups = sh.users.groups_of(user);
    for id in ids {
        let Some(page) = model.page_of(id) else {
            continue;
        };
        let Some(restrictions) = model.restrictions.get(page) else {
            continue;
        };
        match restrictions.access(user, &groups) {
            Access::None if servlet => return Some(not_found_page()),
            Access::None => return Some(error_resp(&no_content(id))),
            Access::View if write => {
                return Some(error_msg(
                    403,
                    &format!("Not permitted to update content with id: ContentId{{id={id}}}"),
                ))
            }
            Access::View | Access::Edit => {}
        }
    }
    None
}

/// Dispatches `…/content/{id}/restriction[/…]`; `rest` is what follows `restriction`.
pub(super) async fn route(sh: &Shared, r: &mut Req, id: &str, rest: &[&str]) -> Response<OutBody> {
    let get = r.method == Method::GET || r.method == Method::HEAD;
    if r.who.name().is_none() {
        return error_resp(&no_content(id));
    }
    if let Err(e) = lock(&sh.model).page(id) {
        return error_resp(&e);
    }
    if !get && !r.who.can_write() {
        return error_msg(
            403,
            &format!("Not permitted to update content with id: ContentId{{id={id}}}"),
        );
    }
    match (rest, r.method.clone()) {
        ([], _) if get => list(sh, r, id),
        ([], Method::PUT) => write_all(sh, r, id, true).await,
        ([], Method::POST) => write_all(sh, r, id, false).await,
        (["byOperation"], _) if get => by_operation(sh, r, id),
        (["byOperation", op], _) if get => match Operation::parse(op) {
            Some(op) => {
                let model = lock(&sh.model);
                json_resp(
                    200,
                    &render_operation(sh, r, id, op, model.restrictions_of(id).of(op)),
                )
            }
            None => unknown_operation(op),
        },
        (["byOperation", op, "user"], m) if m == Method::PUT || m == Method::DELETE => {
            let Some(op) = Operation::parse(op) else {
                return unknown_operation(op);
            };
            let Some(name) = r.q("userName").or_else(|| r.q("username")) else {
                return error_msg(400, "userName is required");
            };
            if !sh.users.exists(name) {
                return error_msg(400, &format!("No user found with username: {name}"));
            }
            let name = name.to_string();
            change_one(sh, r, id, |all| {
                let users = &mut all.of_mut(op).users;
                if m == Method::PUT {
                    users.insert(name);
                } else {
                    users.remove(&name);
                }
            })
        }
        (["byOperation", op, "group", group], m) if m == Method::PUT || m == Method::DELETE => {
            let Some(op) = Operation::parse(op) else {
                return unknown_operation(op);
            };
            let group = group.to_string();
            change_one(sh, r, id, |all| {
                let groups = &mut all.of_mut(op).groups;
                if m == Method::PUT {
                    groups.insert(group);
                } else {
                    groups.remove(&group);
                }
            })
        }
        _ => empty(405),
    }
}

fn unknown_operation(op: &str) -> Response<OutBody> {
    error_msg(
        400,
        &format!("Unknown operation: {op} (expected read or update)"),
    )
}

fn list(sh: &Shared, r: &Req, id: &str) -> Response<OutBody> {
    let all = lock(&sh.model).restrictions_of(id);
    json_resp(200, &render_list(sh, r, id, &all))
}

fn by_operation(sh: &Shared, r: &Req, id: &str) -> Response<OutBody> {
    let all = lock(&sh.model).restrictions_of(id);
    let mut out = json!({
        "_links": { "base": sh.links.base, "context": sh.links.context }
    });
    for op in Operation::ALL {
        out[op.as_str()] = render_operation(sh, r, id, op, all.of(op));
    }
    json_resp(200, &out)
}

/// Applies `change` to the page's restrictions as the caller (200 with no body, as DC).
fn change_one(
    sh: &Shared,
    r: &Req,
    id: &str,
    change: impl FnOnce(&mut PageRestrictions),
) -> Response<OutBody> {
    let mut model = lock(&sh.model);
    let mut all = model.restrictions_of(id);
    change(&mut all);
    match apply(sh, r, &mut model, id, all) {
        Ok(()) => empty(200),
        Err(e) => error_resp(&e),
    }
}

fn apply(
    sh: &Shared,
    r: &Req,
    model: &mut crate::model::Model,
    id: &str,
    all: PageRestrictions,
) -> Result<(), ModelError> {
    let user = r.who.name().ok_or_else(|| no_content(id))?;
    let groups = sh.users.groups_of(Some(user));
    model.set_restrictions(id, all, user, &groups)?;
    sh.persist(model);
    Ok(())
}

/// `PUT` (replace) or `POST` (add) `/restriction` with an array of operations.
async fn write_all(sh: &Shared, r: &mut Req, id: &str, replace: bool) -> Response<OutBody> {
    let body = match read_json(r).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let given = match parse_operations(sh, &body) {
        Ok(g) => g,
        Err(e) => return error_resp(&e),
    };
    let mut model = lock(&sh.model);
    let mut all = if replace {
        PageRestrictions::default()
    } else {
        model.restrictions_of(id)
    };
    for (op, subjects) in given {
        let target = all.of_mut(op);
        target.users.extend(subjects.users);
        target.groups.extend(subjects.groups);
    }
    match apply(sh, r, &mut model, id, all) {
        Ok(()) => {
            let all = model.restrictions_of(id);
            json_resp(200, &render_list(sh, r, id, &all))
        }
        Err(e) => error_resp(&e),
    }
}

/// The items of `restrictions.user` / `.group`: a bare array or a `{results: [...]}` list.
fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Object(o) => o
            .get("results")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn parse_operations(sh: &Shared, body: &Value) -> Result<Vec<(Operation, Subjects)>, ModelError> {
    let bad = |m: &str| ModelError::BadRequest(m.to_string());
    let list = match body {
        Value::Array(a) => a.clone(),
        Value::Object(_) => items(body),
        _ => return Err(bad("expected an array of content restrictions")),
    };
    let mut out = Vec::new();
    for item in &list {
        let op = item["operation"]
            .as_str()
            .and_then(Operation::parse)
            .ok_or_else(|| bad("each restriction needs an operation: read or update"))?;
        let mut subjects = Subjects::default();
        for u in items(&item["restrictions"]["user"]) {
            let name = u["username"]
                .as_str()
                .or_else(|| u["userName"].as_str())
                .ok_or_else(|| bad("a restricted user needs a username"))?;
            if !sh.users.exists(name) {
                return Err(bad(&format!("No user found with username: {name}")));
            }
            subjects.users.insert(name.to_string());
        }
        for g in items(&item["restrictions"]["group"]) {
            let name = g["name"]
                .as_str()
                .ok_or_else(|| bad("a restricted group needs a name"))?;
            subjects.groups.insert(name.to_string());
        }
        out.push((op, subjects));
    }
    Ok(out)
}

fn expanded(r: &Req, what: &str) -> bool {
    match r.q("expand") {
        // DC expands users and groups of restrictions by default.
        None => true,
        Some(e) => e.split(',').any(|x| x.trim().ends_with(what)),
    }
}

fn render_list(sh: &Shared, r: &Req, id: &str, all: &PageRestrictions) -> Value {
    let results: Vec<Value> = Operation::ALL
        .iter()
        .map(|op| render_operation(sh, r, id, *op, all.of(*op)))
        .collect();
    json!({
        "results": results, "start": 0, "limit": 100, "size": Operation::ALL.len(),
        "_links": { "base": sh.links.base, "context": sh.links.context }
    })
}

fn render_operation(sh: &Shared, r: &Req, id: &str, op: Operation, s: &Subjects) -> Value {
    let l: &Links = &sh.links;
    let mut restrictions = json!({ "_expandable": {} });
    if expanded(r, "restrictions.user") {
        let users: Vec<Value> = s.users.iter().map(|u| render::user(l, u)).collect();
        restrictions["user"] = json!({
            "results": users, "start": 0, "limit": 200, "size": s.users.len()
        });
    } else {
        restrictions["_expandable"]["user"] = json!("");
    }
    if expanded(r, "restrictions.group") {
        let groups: Vec<Value> = s
            .groups
            .iter()
            .map(|g| json!({ "type": "group", "name": g, "_links": { "self": format!("{}/rest/api/group/{g}", l.base) } }))
            .collect();
        restrictions["group"] = json!({
            "results": groups, "start": 0, "limit": 200, "size": s.groups.len()
        });
    } else {
        restrictions["_expandable"]["group"] = json!("");
    }
    json!({
        "operation": op.as_str(),
        "restrictions": restrictions,
        "_expandable": { "content": format!("/rest/api/content/{id}") },
        "_links": { "self": format!("{}/rest/api/content/{id}/restriction/byOperation/{}", l.base, op.as_str()) }
    })
}
