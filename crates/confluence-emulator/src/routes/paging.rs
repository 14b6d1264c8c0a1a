//! Paging of the listing endpoints (attachments, versions, properties): `start` and `limit`
//! from the query, and the list answer with `next`/`prev` links that keep the other
//! parameters.

use http::Response;
use serde_json::Value;

use super::respond::{error_msg, json_resp};
use super::{OutBody, Req};
use crate::render;
use crate::spawn::Shared;

/// The page a listing request asks for.
pub(super) struct Paging {
    /// Index of the first item.
    pub(super) start: usize,
    /// The `limit` asked for (or the endpoint's default); answered and used in links as is,
    /// even where the endpoint serves fewer.
    pub(super) limit: usize,
}

impl Paging {
    /// `start` (default 0) and `limit` (default `default_limit`) of `r`; a value that is not a
    /// number is answered 400.
    pub(super) fn of(r: &Req, default_limit: usize) -> Result<Paging, Response<OutBody>> {
        Ok(Paging {
            start: parse_usize(r, "start", 0)?,
            limit: parse_usize(r, "limit", default_limit)?,
        })
    }

    /// The list answer: `results`, the items served from `start` on (at most `effective`, the
    /// limit the endpoint applied), out of `total` items at `path`.
    pub(super) fn answer(
        &self,
        sh: &Shared,
        r: &Req,
        path: &str,
        results: Vec<Value>,
        effective: usize,
        total: usize,
    ) -> Response<OutBody> {
        let (next, prev) = self.links(r, path, effective, total);
        json_resp(
            200,
            &render::rest_list(
                &sh.links,
                results,
                Some(self.start),
                Some(self.limit),
                path,
                next,
                prev,
            ),
        )
    }

    /// `next`/`prev` links relative to base, keeping the other query parameters.
    fn links(
        &self,
        r: &Req,
        path: &str,
        effective: usize,
        total: usize,
    ) -> (Option<String>, Option<String>) {
        let keep: Vec<(String, String)> = r
            .query
            .iter()
            .filter(|(k, _)| k != "start" && k != "limit")
            .cloned()
            .collect();
        let link = |s: usize| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &keep {
                q.append_pair(k, v);
            }
            q.append_pair("limit", &self.limit.to_string());
            q.append_pair("start", &s.to_string());
            format!("{path}?{}", q.finish())
        };
        let start = self.start;
        let next = (effective > 0 && start + effective < total).then(|| link(start + effective));
        let prev = (start > 0).then(|| link(start.saturating_sub(effective.max(1))));
        (next, prev)
    }
}

fn parse_usize(r: &Req, name: &str, default: usize) -> Result<usize, Response<OutBody>> {
    match r.q(name) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| error_msg(400, &format!("Invalid value for parameter {name}: {v}"))),
    }
}
